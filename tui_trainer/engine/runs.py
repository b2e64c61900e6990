"""Run directories: what a run is (`RunInfo`) read from its `events.jsonl`, and the list under a root (default `./runs`).

Status comes from the last segment of the event log (a resumed run appends a new `run_started`):
`finished` → finished (or stopped / early_stopped says `finished` with that detail), `failed` → failed,
no end event and the writing process alive on this host → running, otherwise → killed. Big logs are
read head and tail only, so listing a hundred long runs stays instant.
"""

from __future__ import annotations

import json
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tui_trainer.engine.events import (
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
STATUSES = ("running", "finished", "failed", "stopped", "killed")


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
    epoch: int | None = None
    config_path: Path | None = None
    pid: int | None = None
    host: str | None = None
    device: str | None = None
    detail: str = ""  # finished status (completed/early_stopped/stopped) or the failure message
    resumed: int = 0  # how many times the run was resumed

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["run_dir"] = str(self.run_dir)
        data["config_path"] = str(self.config_path) if self.config_path else None
        return data


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


def _parse_lines(raw: bytes, skip_first_partial: bool) -> list[Event]:
    lines = raw.split(b"\n")
    if skip_first_partial and lines:
        lines = lines[1:]
    events: list[Event] = []
    for line in lines:
        if not line.strip():
            continue
        try:
            events.append(parse_line(line.decode("utf-8")))
        except (EventParseError, UnicodeDecodeError):
            continue
    return events


def _read_events(path: Path) -> tuple[list[Event], list[Event]]:
    """(events from the head, events from the tail); the same list twice for a small file."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        if size <= 2 * TAIL_BYTES:
            events = _parse_lines(fh.read(), False)
            return events, events
        head = _parse_lines(fh.read(TAIL_BYTES).rsplit(b"\n", 1)[0], False)
        fh.seek(size - TAIL_BYTES)
        tail = _parse_lines(fh.read(), True)
        return head, tail


def read_run(run_dir: Path) -> RunInfo:
    """Summarise one run directory; a missing or empty events.jsonl is a run that has not started."""
    run_dir = Path(run_dir)
    info = RunInfo(run_dir=run_dir, run_id=run_dir.name, status="killed")
    config = run_dir / "config.toml"
    info.config_path = config if config.is_file() else None
    path = run_dir / EVENTS_FILE
    if not path.is_file():
        info.status, info.detail = "killed", "no events.jsonl"
        return info
    head, tail = _read_events(path)
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
    if isinstance(end, Finished):
        info.status = "stopped" if end.status == "stopped" else "finished"
        info.detail = end.status
        info.last_step = end.step
        if end.best_val_loss is not None:
            info.best_val_loss = end.best_val_loss
    elif isinstance(end, Failed):
        info.status = "failed" if end.code != "killed" else "killed"
        info.detail = end.error
        if end.step is not None:
            info.last_step = end.step
    else:
        same_host = info.host in (None, socket.gethostname())
        if info.pid is not None and same_host and _pid_alive(info.pid, start.time if start else None):
            info.status = "running"
        elif info.pid is not None and not same_host:
            info.status, info.detail = "running", f"on {info.host} (cannot check from here)"
        else:
            info.status, info.detail = "killed", "no end event and the process is gone; resume with --resume"
    return info


def list_runs(root: Path = DEFAULT_RUNS_ROOT) -> list[RunInfo]:
    """Every run directory directly under `root` (those holding an events.jsonl), newest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    runs = [read_run(p) for p in root.iterdir() if p.is_dir() and (p / EVENTS_FILE).is_file()]
    return sorted(runs, key=lambda r: (r.started or 0.0, r.run_id), reverse=True)


def runs_to_json(runs: list[RunInfo]) -> str:
    return json.dumps(json_safe([r.to_dict() for r in runs]), indent=2, allow_nan=False, default=str)
