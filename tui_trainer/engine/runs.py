"""Run folders: whether one can be used (`prepare_run_dir`, `check_run_dir`), and what a run is (`RunInfo`, its status).

The one status rule, used by `runs`, `attach` (pane and `--summary`) and the Train pane: the last segment of the
event log (a resumed run appends a new `run_started`) decides. `finished` → finished (`stopped` when its status
is stopped), `failed` → failed (`killed` when its code is killed), no end event → running while a live process
holds events.jsonl as its writer (an flock, dropped by the kernel when the process dies), otherwise killed. Where
locks say nothing (no flock on the filesystem, a run on another host) the writer's pid decides. Big logs are read
head and tail only, in bounded chunks, so listing a hundred long runs stays instant and a 16 MB garbage line
costs nothing.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tui_trainer.engine.events import (
    MAX_LINE_BYTES,
    Eval,
    Event,
    EventParseError,
    Failed,
    Finished,
    RunStarted,
    Step,
    json_safe,
    parse_line,
)
from tui_trainer.engine.follow import EVENTS_FILE

DEFAULT_RUNS_ROOT = Path("runs")
TAIL_BYTES = 256 * 1024
GONE_DETAIL = "no end event and the process is gone; resume with --resume"


@dataclass
class RunInfo:
    run_dir: Path
    run_id: str
    status: str  # running | finished | failed | stopped | killed
    started: float | None = None  # epoch seconds of the first run_started
    updated: float | None = None  # time of the last event
    last_step: int | None = None
    last_loss: float | None = None
    best_val_loss: float | None = None
    total_steps: int | None = None
    epoch: int | None = None  # 0-based, as in the events; shown 1-based ("epoch N/M")
    config_path: Path | None = None
    pid: int | None = None
    host: str | None = None
    device: str | None = None
    detail: str = ""  # finished status (completed/early_stopped/stopped) or the failure message
    resumed: int = 0  # how many times the run was resumed
    skipped_lines: int = 0  # lines of the part read that are not events (torn, garbage, wrongly typed)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["run_dir"] = str(self.run_dir)
        data["config_path"] = str(self.config_path) if self.config_path else None
        return data


# ----- the status rule ----------------------------------------------------------------------------------
def end_status(end: Finished | Failed) -> tuple[str, str]:
    """(status, detail) of a segment that ended with `end`."""
    if isinstance(end, Finished):
        return ("stopped" if end.status == "stopped" else "finished"), end.status
    return ("killed" if end.code == "killed" else "failed"), end.error


def liveness(run_dir: Path, pid: int | None, host: str | None, started: float | None) -> tuple[str, str]:
    """(status, detail) of a segment with no end event: running, or killed when its writer is gone."""
    from tui_trainer.engine.eventlog import is_being_written

    same_host = host in (None, socket.gethostname())
    written = is_being_written(run_dir)
    if written:
        return "running", ""
    if not same_host:
        return "running", f"on {host} (cannot check from here)"
    if written is None and pid is not None and _pid_alive(pid, started):
        return "running", ""  # no lock to ask (no flock here): the writer's pid decides
    return "killed", GONE_DETAIL


def _pid_alive(pid: int, started: float | None = None) -> bool:
    """Whether `pid` is a live process that could be this run's writer.

    A zombie (killed, not yet reaped: common when PID 1 in a container does not reap) is dead, and a
    process created after the run started is another program that reused the pid.
    """
    import psutil

    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return started is None or proc.create_time() <= started + 1.0
    except psutil.NoSuchProcess:  # includes ZombieProcess
        return False
    except psutil.AccessDenied:  # another user's live process
        return True
    except (OSError, ValueError, OverflowError):  # a pid out of range in a damaged log
        return False


# ----- reading a log ------------------------------------------------------------------------------------
def iter_lines(fh, start: int = 0, end: int | None = None, chunk: int = 1024 * 1024):
    """Complete lines of `fh` between byte offsets `start` and `end`, read in bounded chunks.

    Yields each line (without its newline) or None for a line longer than MAX_LINE_BYTES, which is skipped
    without being held in memory. A trailing fragment without a newline at `end` is not yielded.
    """
    fh.seek(start)
    pos, pending, oversize = start, b"", False
    while end is None or pos < end:
        data = fh.read(chunk if end is None else min(chunk, end - pos))
        if not data:
            break
        pos += len(data)
        parts = (pending + data).split(b"\n")
        pending = parts.pop()
        for line in parts:
            if oversize:
                oversize = False
                yield None
            elif len(line) > MAX_LINE_BYTES:
                yield None
            else:
                yield line
        if len(pending) > MAX_LINE_BYTES:
            pending, oversize = b"", True


def parse_lines(lines) -> tuple[list[Event], int]:
    """(events, lines skipped) from iter_lines' output: blank lines are neither, everything else that fails counts."""
    events: list[Event] = []
    skipped = 0
    for line in lines:
        if line is None:
            skipped += 1
            continue
        if not line.strip():
            continue
        try:
            events.append(parse_line(line))
        except EventParseError:
            skipped += 1
    return events, skipped


def _read_events(path: Path) -> tuple[list[Event], list[Event], int]:
    """(events from the head, events from the tail, skipped lines); the same list twice for a small file."""
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size <= 2 * TAIL_BYTES:
            events, skipped = parse_lines(iter_lines(fh, 0, size))
            return events, events, skipped
        head, skipped_head = parse_lines(iter_lines(fh, 0, TAIL_BYTES))
        # Start the tail inside a line: drop its first (partial) line. A tail with no event at all (a garbage
        # line longer than the tail) reaches further back, a tail at a time, so the end event is still found.
        reach = TAIL_BYTES
        while True:
            start = max(TAIL_BYTES, size - reach)
            lines = iter_lines(fh, start, size)
            next(lines, None)
            tail, skipped_tail = parse_lines(lines)
            if tail or start == TAIL_BYTES:
                return head, tail, skipped_head + skipped_tail
            reach *= 4  # each try reads at most 4x the last: bounded by a few times the file


def read_run(run_dir: Path) -> RunInfo:
    """Summarise one run directory; a missing or empty events.jsonl is a run that has not started."""
    run_dir = Path(run_dir)
    info = RunInfo(run_dir=run_dir, run_id=run_dir.name, status="killed")
    config = run_dir / "config.toml"
    info.config_path = config if config.is_file() else None
    path = run_dir / EVENTS_FILE
    if not path.is_file():
        info.detail = "no events.jsonl"
        return info
    try:
        head, tail, info.skipped_lines = _read_events(path)
    except OSError as exc:
        info.detail = f"cannot read {path}: {exc.strerror or exc}"
        return info
    first_start = next((e for e in head if isinstance(e, RunStarted)), None)
    if first_start is not None:
        info.started = first_start.time
    info.resumed = sum(1 for e in tail if isinstance(e, RunStarted) and e.resumed_from_step is not None)
    last_start_idx = max((i for i, e in enumerate(tail) if isinstance(e, RunStarted)), default=None)
    start = tail[last_start_idx] if last_start_idx is not None else first_start
    segment = tail[last_start_idx:] if last_start_idx is not None else tail
    if start is not None:
        info.pid, info.host, info.device, info.total_steps = (
            start.pid,
            start.host,
            start.device,
            start.total_steps,
        )
    if tail:
        info.updated = tail[-1].time
    for event in segment:
        if isinstance(event, Step):
            info.last_step, info.last_loss, info.epoch = event.step, event.loss, event.epoch
        elif isinstance(event, Eval):
            if info.best_val_loss is None or event.val_loss < info.best_val_loss:
                info.best_val_loss = event.val_loss
    end = next((e for e in reversed(segment) if isinstance(e, Finished | Failed)), None)
    if end is not None:
        info.status, info.detail = end_status(end)
        if end.step is not None:
            info.last_step = end.step
        if isinstance(end, Finished) and end.best_val_loss is not None:
            info.best_val_loss = end.best_val_loss
    elif start is None and not segment:
        info.status, info.detail = liveness(run_dir, None, None, None)
        if info.status == "killed":
            info.detail = "no run_started event (the run never started)"
    else:
        info.status, info.detail = liveness(run_dir, info.pid, info.host, start.time if start else None)
    return info


def list_runs(root: Path = DEFAULT_RUNS_ROOT) -> list[RunInfo]:
    """Every run directory directly under `root` (those holding an events.jsonl), newest first.

    One unreadable or damaged run never stops the listing of the others: it is listed with what could be read.
    """
    root = Path(root)
    if not root.is_dir():
        return []
    runs = []
    for p in root.iterdir():
        try:
            if not (p.is_dir() and (p / EVENTS_FILE).is_file()):
                continue
        except OSError:
            continue
        runs.append(read_run(p))
    return sorted(runs, key=lambda r: (r.started or 0.0, r.run_id), reverse=True)


def runs_to_json(runs: list[RunInfo]) -> str:
    return json.dumps(json_safe([r.to_dict() for r in runs]), indent=2, allow_nan=False, default=str)


# ----- whether a folder can be used ---------------------------------------------------------------------
def default_run_dir(config_path: Path | None, root: Path = DEFAULT_RUNS_ROOT) -> Path:
    """`runs/<config stem>-<YYYYmmdd-HHMMSS>`, with `-2`, `-3` ... when that exists already."""
    stem = Path(config_path).stem if config_path else "run"
    base = Path(root) / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = Path(f"{base}-{n}")
    return path


def check_run_dir(run_dir: Path) -> str | None:
    """Why `run_dir` cannot be followed (missing, not a folder, unreadable events.jsonl), or None when it can."""
    run_dir = Path(run_dir)
    if not run_dir.exists():
        return f"{run_dir}: no such run folder"
    if not run_dir.is_dir():
        return f"{run_dir}: not a folder; attach takes a run folder holding events.jsonl"
    events = run_dir / EVENTS_FILE
    if not events.exists():
        return (
            f"{run_dir}: no events.jsonl here; is this a run folder? (runs are listed by `tui-trainer runs`)"
        )
    if not events.is_file():
        return f"{events}: not a regular file (expected the run's event log)"
    try:
        with open(events, "rb"):
            pass
    except OSError as exc:
        return f"{events}: cannot read: {exc.strerror or exc}"
    return None


def resume_config_path(run_dir: Path | None, config_path: Path | None) -> Path:
    """The config a resumed run continues with: the one given, else RUN_DIR/config.toml (UserError if absent)."""
    from tui_trainer.engine.config import ConfigError
    from tui_trainer.errors import UserError

    if run_dir is None or not Path(run_dir).is_dir():
        raise UserError(f"--resume {run_dir}: no such run folder")
    if config_path is not None:
        return Path(config_path)
    path = Path(run_dir) / "config.toml"
    if not path.is_file():
        raise ConfigError(f"--resume {run_dir}: {path} not found; give the CONFIG the run was started with")
    return path


def prepare_run_dir(config: Any, run_dir: Path | None, resume: bool) -> Path:
    """The folder a run (new, or resumed with `resume`) will write, checked; raises UserError saying why not.

    A new run gets `default_run_dir` when `run_dir` is None. It may reuse a folder whose only attempt failed
    before starting (no `run_started`: bad data settings), never one holding a run that started (that is
    `--resume`). Neither a new nor a resumed run may write where a live run is still writing (two writers would
    interleave one file). The folder is created and events.jsonl opened for appending here, so a read-only or
    full disk is a clear error naming the path before any work starts.
    """
    from tui_trainer.errors import UserError

    flag = "--resume" if resume else "--run-dir"
    if run_dir is None:
        if resume:
            raise UserError("--resume needs the RUN_DIR to continue")
        run_dir = default_run_dir(getattr(config, "source", None))
    run_dir = Path(run_dir)
    if resume and not run_dir.is_dir():
        raise UserError(f"--resume {run_dir}: no such run folder")
    if run_dir.exists() and not run_dir.is_dir():
        raise UserError(f"{flag} {run_dir}: exists and is not a folder; give a folder for the run")
    events = run_dir / EVENTS_FILE
    if events.exists() or events.is_symlink():
        if not events.is_file():
            raise UserError(f"{events}: not a regular file; a run folder's events.jsonl must be a file")
        info = read_run(run_dir)
        if info.status == "running" and not (info.pid == os.getpid() and not _held(run_dir)):
            where = f" (pid {info.pid} on {info.host})" if info.pid is not None else ""
            raise UserError(
                f"{flag} {run_dir}: the run is still running{where}; stop it first "
                "(Ctrl-C, or `s` in the Train pane) — two writers would interleave its events"
            )
        if not resume and info.started is not None:
            raise UserError(
                f"--run-dir {run_dir} already holds a run (events.jsonl); continue it with --resume {run_dir} "
                "or choose another --run-dir"
            )
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        with open(events, "ab"):
            pass
    except OSError as exc:
        target = exc.filename or events
        raise UserError(f"{flag} {run_dir}: cannot write {target}: {exc.strerror or exc}") from None
    return run_dir


def _held(run_dir: Path) -> bool:
    from tui_trainer.engine.eventlog import is_being_written

    return bool(is_being_written(run_dir))
