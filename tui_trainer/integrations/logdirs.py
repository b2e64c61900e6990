"""TensorBoard and CSVLogger log folders as runs: tags mapped to the events' fields, mirrored into events.jsonl.

A log folder (one holding `events.out.tfevents.*` files or a Lightning `metrics.csv`) becomes a run by
mirroring its scalars into an `events.jsonl` through `monitor`'s run, so the diagnostics run on it and
`attach`, `runs` and the Train pane read it like any run. The mirror lives in `LOGDIR/.tui-trainer/<name>/`
(or under `$XDG_CACHE_HOME/tui-trainer/logruns/` when the log folder is read-only) and remembers how far
each file was read: opening a grown log reads only what was added. `python -m tui_trainer.integrations.logdirs
--follow LOGDIR` keeps a mirror current while the log grows; the app starts it, so the UI process never
imports tensorboard.

Tags → fields (`TagMap`): `loss`, `train/loss`, `train_loss`, `Loss/train` → loss; `val_loss`, `val/loss`,
`eval/loss`, `Loss/test` → val_loss; `lr`, `lr-Adam`, `learning_rate`, `train/learning_rate` → lr;
`grad_norm` → grad_norm; `epoch` → epoch; other tags → metrics (validation ones on the eval event).
`--map TAG=FIELD` overrides (FIELD: loss, val_loss, lr, grad_norm, samples_per_s, epoch, ignore,
train/NAME or val/NAME).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_trainer.integrations import close_without_end, start_run
from tui_trainer.integrations.csvlogger import METRICS_CSV, MetricsCsvReader

if TYPE_CHECKING:
    from tui_trainer.integrations.tensorboard import ScalarColumns

# The tag rules live in log_tags (numpy-based assembly): imported when used, so the UI process, which asks
# this module whether a folder is a log (`expand_log_dir`) as a key is pressed, does not load numpy for it.
_FROM_LOG_TAGS = ("FIELDS", "MAX_STEP_EVENTS", "ScalarAssembler", "TagMap", "parse_map")
# Listing log folders as runs (`tui-trainer runs`, the run picker) lives in log_listing, built on this module.
_FROM_LOG_LISTING = ("LIST_BUDGET_BYTES", "list_log_runs", "list_log_runs_apart", "log_run_info")


def __getattr__(name: str) -> Any:
    # Part of this module's interface (`from ...logdirs import TagMap, list_log_runs`), loaded when asked for.
    if name in _FROM_LOG_TAGS:
        from tui_trainer.integrations import log_tags

        return getattr(log_tags, name)
    if name in _FROM_LOG_LISTING:
        from tui_trainer.integrations import log_listing

        return getattr(log_listing, name)
    raise AttributeError(name)


IDLE_S = 120.0  # a log not written to for this long is a finished run
FIRST_PASS_BYTES = 8 * 1024 * 1024  # what the app's follower reads before the pane opens on the log
MAX_LIVE_LOGS = 8  # runs of one log folder the app follows live (the newest; `--summary` reads them all)
STATE_FILE = "mirror.json"
MIRROR_SUBDIR = ".tui-trainer"
SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", "site-packages", ".tox", ".mypy_cache"}


def log_files(folder: Path) -> list[Path]:
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    return sorted(
        Path(e.path)
        for e in entries
        if ((e.name.startswith("events.out.") and "tfevents" in e.name) or e.name == METRICS_CSV)
        and _is_regular_file(e)
    )


def _is_regular_file(entry: os.DirEntry) -> bool:
    # A symlink loop or an unreadable entry is not a log file; it must not break the listing of the others.
    try:
        return entry.is_file()
    except OSError:
        return False


def is_log_run(folder: Path) -> bool:
    """A folder holding TensorBoard event files or a metrics.csv, and no events.jsonl of ours."""
    folder = Path(folder)
    return folder.is_dir() and not (folder / "events.jsonl").exists() and bool(log_files(folder))


WATCHED_FILE = "watched-by"


def mark_watched(log_folder: Path, run_dir: Path) -> None:
    """Note in a log folder that a watch run already holds its scalars, so `runs` does not list them twice."""
    try:
        marker = Path(log_folder) / MIRROR_SUBDIR / WATCHED_FILE
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(str(Path(run_dir).resolve()))
    except OSError:
        pass


def watched_by(log_folder: Path) -> Path | None:
    """The watch run that mirrored this log folder, while that run is still there."""
    try:
        run_dir = Path((Path(log_folder) / MIRROR_SUBDIR / WATCHED_FILE).read_text().strip())
    except OSError:
        return None
    return run_dir if (run_dir / "events.jsonl").is_file() else None


def find_log_runs(root: Path, max_depth: int = 6) -> list[Path]:
    """Every log folder at or under `root` (each sub-folder with its own event files is its own run)."""
    root = Path(root)
    found: list[Path] = []

    def walk(folder: Path, depth: int) -> None:
        if is_log_run(folder):
            found.append(folder)
        if depth >= max_depth:
            return
        try:
            subs = sorted(e.path for e in os.scandir(folder) if e.is_dir() and e.name not in SKIP_DIRS)
        except OSError:
            return
        for sub in subs:
            if not Path(sub).name.startswith("."):
                walk(Path(sub), depth + 1)

    if root.is_dir():
        walk(root, 0)
    return found


def _reader(path: Path, state: dict[str, Any] | None = None) -> Any:
    state = state or {}
    if path.name == METRICS_CSV:
        return MetricsCsvReader(path, state.get("offset", 0), state.get("rows", 0), state.get("header"))
    from tui_trainer.integrations.tensorboard import EventFileReader

    return EventFileReader(path, state.get("offset", 0))


def _reader_state(reader: Any) -> dict[str, Any]:
    if isinstance(reader, MetricsCsvReader):
        return {"offset": reader.offset, "rows": reader.rows_done, "header": reader.header}
    return {"offset": reader.offset}


def _distinct_steps(cols: ScalarColumns) -> int:
    """How many steps the scalars cover (counted as changes of step: they come in step order)."""
    import numpy as np

    return int(np.count_nonzero(np.diff(cols.step))) + 1 if len(cols) else 0


def _read_all(reader: Any) -> ScalarColumns:
    from tui_trainer.integrations.tensorboard import ScalarColumns

    out: list[ScalarColumns] = []
    while True:
        before = reader.offset
        out.append(reader.read_columns())
        if reader.offset == before:
            return ScalarColumns.concat(out)


class LogDiscovery:
    """Log files that appear under `root` after `since` (what a watched command writes), mirrored into a run."""

    SCAN_EVERY_S = 2.0

    def __init__(
        self,
        root: Path,
        since: float,
        max_depth: int = 4,
        run_dir: Path | None = None,
    ) -> None:
        self.root = Path(root)
        self.run_dir = Path(run_dir) if run_dir is not None else None  # the watch's run these logs go into
        self.since = since
        self.max_depth = max_depth
        from tui_trainer.integrations.log_tags import ScalarAssembler

        self.readers: dict[Path, Any] = {}
        self.assembler = ScalarAssembler()
        self._last_scan = 0.0

    def _scan(self) -> None:
        budget = [5000]  # entries per scan: a huge working folder costs a bounded time

        def walk(folder: Path, depth: int) -> None:
            try:
                entries = list(os.scandir(folder))
            except OSError:
                return
            for e in entries:
                budget[0] -= 1
                if budget[0] < 0:
                    return
                if e.is_dir(follow_symlinks=False):
                    if depth < self.max_depth and e.name not in SKIP_DIRS and not e.name.startswith("."):
                        walk(Path(e.path), depth + 1)
                elif (e.name.startswith("events.out.") and "tfevents" in e.name) or e.name == METRICS_CSV:
                    path = Path(e.path)
                    if path in self.readers:
                        continue
                    try:
                        if e.stat().st_mtime < self.since:
                            continue
                        self.readers[path] = _reader(path)
                    except Exception:  # tensorboard not installed: CSV logs still work
                        continue
                    if self.run_dir is not None:
                        mark_watched(path.parent, self.run_dir)

        walk(self.root, 0)

    def poll_into(self, run: Any, final: bool = False) -> int:
        """Mirror new scalars into `run` (a MonitorRun); returns how many were read."""
        now = time.monotonic()
        if final or now - self._last_scan >= self.SCAN_EVERY_S:
            self._last_scan = now
            self._scan()
        from tui_trainer.integrations import log_tags
        from tui_trainer.integrations.tensorboard import ScalarColumns

        cols = ScalarColumns.concat([_read_all(reader) for reader in self.readers.values()])
        # A writer that flushes rarely (torch's SummaryWriter: every 120 s) hands over a backlog at once.
        self.assembler.window = max(1, math.ceil(_distinct_steps(cols) / log_tags.MAX_STEP_EVENTS))
        self.assembler.add_columns(cols, run)
        if final:
            self.assembler.flush(run)
        if len(cols):
            run.last_step = max(run.last_step, self.assembler.last_step)
        return len(cols)


# ----- mirrors --------------------------------------------------------------------------------------
def mirror_dir(source: Path) -> Path:
    """Where the events.jsonl mirror of log folder `source` lives: `SOURCE/.tui-trainer/<name>/` (TensorBoard
    skips it: no event files there), or under the cache when the log folder cannot be written to."""
    source = Path(source).resolve()
    name = source.name or "log"
    if os.access(source, os.W_OK):
        return source / MIRROR_SUBDIR / name
    from tui_trainer.paths import cache_dir

    key = hashlib.sha1(str(source).encode()).hexdigest()[:16]
    return cache_dir() / "logruns" / key / name


def newest_mtime(files: list[Path]) -> float:
    times = []
    for f in files:
        try:
            times.append(f.stat().st_mtime)
        except OSError:
            pass
    return max(times, default=0.0)


class LogMirror:
    """Keeps the events.jsonl mirror of one log folder current; `update()` reads what was added."""

    def __init__(self, source: Path, tags: dict[str, str] | None = None, idle_s: float = IDLE_S) -> None:
        self.source = Path(source)
        self.dir = mirror_dir(self.source)
        self.tags = dict(tags or {})
        self.idle_s = idle_s
        self.run: Any = None
        self.state = self._load_state()
        from tui_trainer.integrations.log_tags import ScalarAssembler, TagMap

        self.assembler = ScalarAssembler(TagMap(self.tags))
        self.assembler.last_step = self.state.get("last_step", 0)
        self.assembler.epoch = self.state.get("epoch", 0)
        self.readers: dict[str, Any] = {}
        self.consumed = 0  # bytes the last update() read

    def _load_state(self) -> dict[str, Any]:
        try:
            state = json.loads((self.dir / STATE_FILE).read_text())
        except (OSError, ValueError):
            state = {}
        if state.get("tags", {}) != self.tags or state.get("source") != str(self.source.resolve()):
            # Another --map (or another folder under the same name): the mirror is rebuilt from scratch.
            for name in ("events.jsonl", STATE_FILE):
                try:
                    (self.dir / name).unlink()
                except OSError:
                    pass
            state = {}
        return state

    def _save_state(self) -> None:
        self.state.update(
            source=str(self.source.resolve()),
            tags=self.tags,
            last_step=self.assembler.last_step,
            epoch=self.assembler.epoch,
            files={name: _reader_state(r) for name, r in self.readers.items()},
        )
        tmp = self.dir / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(self.state))
        os.replace(tmp, self.dir / STATE_FILE)

    def _open_run(self) -> Any:
        if self.run is None or self.run.closed:
            resumed = self.state.get("last_step") if self.state.get("started") else None
            self.run = start_run(
                self.dir,
                {"logdir": {"source": str(self.source.resolve()), "map": self.tags}},
                resumed_from_step=resumed,
            )
            self.state["started"] = True
            self.state["finished"] = False
        return self.run

    def _open_readers(self) -> list[Path]:
        files = log_files(self.source)
        saved = self.state.get("files", {})
        for path in files:
            if path.name not in self.readers:
                self.readers[path.name] = _reader(path, saved.get(path.name))
        return files

    def backlog(self) -> int:
        """Bytes of the log not mirrored yet."""
        total = 0
        for path in self._open_readers():
            try:
                total += max(0, path.stat().st_size - self.readers[path.name].offset)
            except OSError:
                pass
        return total

    def update(self, max_bytes: int | None = None) -> int:
        """Mirror what the log gained (at most `max_bytes` of it); finish the run once the log is idle.

        The files are read in chunks, so a 100 MB log never sits in memory as a million scalars. Returns the
        number of scalars read.
        """
        import numpy as np

        from tui_trainer.integrations import log_tags

        self.dir.mkdir(parents=True, exist_ok=True)
        backlog = self.backlog()
        files = log_files(self.source)
        consumed = count = 0
        window_set = False
        for reader in list(self.readers.values()):
            while max_bytes is None or consumed < max_bytes:
                before = reader.offset
                chunk = reader.read_columns()
                step_bytes = reader.offset - before
                if not step_bytes and not len(chunk):
                    break
                consumed += step_bytes
                if not len(chunk):
                    continue
                count += len(chunk)
                times = chunk.wall[np.isfinite(chunk.wall) & (chunk.wall > 0)]
                if len(times):
                    self.state.setdefault("first_time", float(times.min()))
                    self.state["last_time"] = float(times.max())
                run = self._open_run()
                if not window_set:
                    # Steps in the whole backlog, estimated from this first chunk's density.
                    steps = _distinct_steps(chunk) * max(1.0, backlog / max(step_bytes, 1))
                    self.assembler.window = max(1, math.ceil(steps / log_tags.MAX_STEP_EVENTS))
                    window_set = True
                self.assembler.add_columns(chunk, run)
        self.consumed = consumed
        old = time.time() - newest_mtime(files) >= self.idle_s
        untouched = old and consumed == 0 and backlog > 0  # a listing out of budget: nothing to write
        if not self.state.get("finished") and not untouched:
            self._open_run()  # held open while the log may grow: the writer's lock is what says "running"
        idle = old and (max_bytes is None or consumed < max_bytes)
        if self.run is not None and not self.run.closed:
            # The newest step is complete as far as the file tells: a tag of it written later joins the next.
            self.assembler.flush(self.run)
            self.run.last_step = max(self.run.last_step, self.assembler.last_step)
            if idle and not self.state.get("finished"):
                self.assembler.end_epoch(self.run)
                self.run.finish("completed")
                self.state["finished"] = True
            else:
                self.run.flush()
        self._save_state()
        return count

    def close(self) -> None:
        """Leave the mirror as it is (an active log stays unfinished; its status comes from the log's age)."""
        if self.run is not None and not self.run.closed:
            self.assembler.flush(self.run)
            self.run.last_step = max(self.run.last_step, self.assembler.last_step)
            close_without_end(self.run)
        self._save_state()


def mirror(source: Path, tags: dict[str, str] | None = None) -> Path:
    """Bring the mirror of `source` up to date once and return its folder (holding events.jsonl).

    A mirror another process keeps current (an app following the log) is left to it and read as it is.
    """
    from tui_trainer.engine.eventlog import is_being_written

    folder = mirror_dir(source)
    if is_being_written(folder):
        return folder
    m = LogMirror(source, tags)
    m.update()
    m.close()
    return m.dir


def open_log_runs(
    paths: Iterable[Path], map_items: Iterable[str] = (), live: bool = False
) -> tuple[list[Path], Any]:
    """For `attach`: each path that is a log folder (or holds some) becomes its runs' mirror folders.

    Returns (folders to attach, close): with `live` each log is followed by a `MirrorProcess` (the app never
    imports tensorboard), otherwise mirrored here and held open until `close()`, so a growing log reads as
    running. Paths that are run folders pass through unchanged.
    """
    from tui_trainer.integrations.log_tags import parse_map

    tags = parse_map(map_items)
    out: list[Any] = []
    held: list[Any] = []
    for path in paths:
        logs = expand_log_dir(Path(path))
        if not logs:
            out.append(Path(path))
            continue
        if live and len(logs) > MAX_LIVE_LOGS:
            # One follower process per run: a folder of hundreds of runs opens on its newest few.
            logs = sorted(logs, key=lambda f: newest_mtime(log_files(f)), reverse=True)[:MAX_LIVE_LOGS]
        for log in logs:
            if live:
                process = MirrorProcess(log, tags)  # all start at once; their first passes run side by side
                held.append(process)
                out.append(process)
            else:
                m = LogMirror(log, tags)
                m.update()
                held.append(m)
                out.append(m.dir)

    def close() -> None:
        for h in held:
            h.close()

    return [item.dir if isinstance(item, MirrorProcess) else item for item in out], close


def expand_log_dir(path: Path) -> list[Path]:
    """A path given to `attach`: the log runs it holds (itself, or its sub-folders), or [] when it is none."""
    path = Path(path)
    if not path.is_dir() or (path / "events.jsonl").exists():
        return []
    return find_log_runs(path)


# ----- following a growing log in its own process ------------------------------------------------------
class MirrorProcess:
    """`python -m tui_trainer.integrations.logdirs --follow SOURCE`: the app's way to follow a log live.

    The process prints the mirror folder once its first pass is written, then keeps it current; `close()`
    ends it. It exits by itself when its parent goes.
    """

    def __init__(self, source: Path, tags: dict[str, str] | None = None) -> None:
        import subprocess

        args = [sys.executable, "-m", "tui_trainer.integrations.logdirs", "--follow", str(source)]
        for tag, target in (tags or {}).items():
            args += ["--map", f"{tag}={target}"]
        self.source = Path(source)
        self.process = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True
        )
        self._dir: Path | None = None

    @property
    def dir(self) -> Path:
        """The mirror folder, once the first pass is written (waits for it; several start side by side)."""
        if self._dir is None:
            line = self.process.stdout.readline().strip() if self.process.stdout else ""
            if not line:
                from tui_trainer.errors import UserError

                self.process.wait()
                raise UserError(f"{self.source}: cannot read this log folder (is tensorboard installed?)")
            self._dir = Path(line)
        return self._dir

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except Exception:
                self.process.kill()


def follow(source: Path, tags: dict[str, str], interval_s: float = 0.5) -> None:
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    parent = os.getppid()
    m = LogMirror(source, tags)
    m.update(FIRST_PASS_BYTES)  # the app opens on the log's first part; the rest follows within seconds
    print(m.dir, flush=True)
    try:
        while os.getppid() == parent:
            if not m.backlog():
                time.sleep(interval_s)
            m.update(FIRST_PASS_BYTES * 4)
    finally:
        m.close()


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tui_trainer.integrations.logdirs")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--follow", type=Path, metavar="LOGDIR")
    what.add_argument("--list", type=Path, metavar="ROOT", help="print the log folders under ROOT as JSON")
    parser.add_argument("--map", action="append", default=[], metavar="TAG=FIELD")
    args = parser.parse_args(argv)
    if args.list is not None:
        from tui_trainer.engine.runs import runs_to_json
        from tui_trainer.integrations.log_listing import list_log_runs

        print(runs_to_json(list_log_runs(args.list)))
        return 0
    from tui_trainer.integrations.log_tags import parse_map

    follow(args.follow, parse_map(args.map))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
