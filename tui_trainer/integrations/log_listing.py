"""Log folders listed as runs (`tui-trainer runs`, the Train pane's run picker), within a budget of bytes.

A listing brings each log folder's mirror up to date (logdirs.LogMirror) with at most LIST_BUDGET_BYTES of
new log bytes in all, so a folder holding a gigabyte of logs lists at once; a log it leaves unread lists
from its event files' first and last records (`tensorboard.peek`), and says how much is left.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tui_trainer.integrations.csvlogger import METRICS_CSV
from tui_trainer.integrations.logdirs import (
    IDLE_S,
    LogMirror,
    find_log_runs,
    log_files,
    mirror_dir,
    newest_mtime,
    watched_by,
)


def log_run_info(source: Path, tags: dict[str, str] | None = None, max_bytes: int | None = None) -> Any:
    """`engine.runs.RunInfo` of a log folder: its mirror's (read while it is held open, so a log that is still
    growing is running, one idle for IDLE_S finished), named after the folder and dated by the log.

    `max_bytes`: read at most this much of what the log gained (a listing must not stall on a huge log); what
    is left is read next time, and the detail says so.
    """
    from tui_trainer.engine.eventlog import is_being_written
    from tui_trainer.engine.runs import read_run

    source = Path(source)
    m = None
    left = 0
    if not is_being_written(mirror_dir(source)):
        m = LogMirror(source, tags)
        m.update(max_bytes)
        left = m.backlog()
    try:
        info = read_run(mirror_dir(source))
    finally:
        if m is not None:
            m.close()
    state = m.state if m is not None else {}
    info.run_dir, info.run_id = source, source.name
    info.started = state.get("first_time") or info.started
    info.updated = state.get("last_time") or info.updated
    if left:
        info.detail = (
            f"{left / 1e6:.0f} MB of the log not read yet (tui-trainer attach {source} reads it all)"
        )
        _peek_into(info, source, tags)
        if time.time() - newest_mtime(log_files(source)) >= IDLE_S:
            info.status = "finished"  # an old log the listing has not read to its end: not a live run
    info.bytes_read = m.consumed if m is not None else 0  # type: ignore[attr-defined]
    return info


def _peek_into(info: Any, source: Path, tags: dict[str, str] | None) -> None:
    """A log the listing has not read to its end: its start, last step, loss and epoch from the event files'
    first and last records (`tensorboard.peek`), so it lists as it is without being read whole."""
    from tui_trainer.integrations.log_tags import TagMap
    from tui_trainer.integrations.tensorboard import peek

    tag_map = TagMap(dict(tags or {}))
    starts, last = [], None  # last: (step, wall, loss, epoch)
    for path in log_files(source):
        if path.name == METRICS_CSV:
            continue
        first, cols = peek(path)
        if first:
            starts.append(first)
        if not len(cols):
            continue
        kinds = [tag_map.classify(t) for t in cols.tags]
        loss = [i for i in range(len(cols)) if kinds[cols.tag[i]] == ("step", "loss")]
        epoch = [i for i in range(len(cols)) if kinds[cols.tag[i]][0] == "epoch"]
        if loss:
            i = loss[-1]
            found = (int(cols.step[i]), float(cols.wall[i]), float(cols.value[i]))
            e = float(cols.value[epoch[-1]]) if epoch else None
            if last is None or found[0] > last[0]:
                last = (*found, e)
    if starts and not info.started:
        info.started = min(starts)
    elif starts:
        info.started = min(min(starts), info.started)
    if last is not None and (info.last_step is None or last[0] > info.last_step):
        info.last_step, info.last_loss = last[0], last[2]
        if math.isfinite(last[1]):
            info.updated = last[1]
        if last[3] is not None and math.isfinite(last[3]):
            info.epoch = int(last[3])


# How much of the logs' new bytes one `tui-trainer runs` reads in all, so a folder of 1 GB of logs lists at once.
LIST_BUDGET_BYTES = 32 * 1024 * 1024


def list_log_runs(root: Path, skip: Iterable[Path] = (), budget: int = LIST_BUDGET_BYTES) -> list[Any]:
    """RunInfo of each log folder under `root` (for `tui-trainer runs`); logs that cannot be read are left out."""
    skipped = {Path(p).resolve() for p in skip}
    out = []
    for folder in find_log_runs(root):
        if folder.resolve() in skipped or watched_by(folder) is not None:
            continue  # a watch run holds these scalars already, and is listed itself
        try:
            info = log_run_info(folder, max_bytes=max(budget, 0))
        except Exception:  # noqa: BLE001 - one unreadable log must not hide the others
            continue
        out.append(info)
        budget -= info.bytes_read
    return out


def list_log_runs_apart(root: Path, timeout_s: float = 120.0) -> tuple[list[Any], str | None]:
    """`list_log_runs(root)` in a child process (`python -m tui_trainer.integrations.logdirs --list ROOT`), for
    the app: the listing reads the logs (tensorboard's protobuf for some), which the UI process never imports.

    Returns (RunInfo of each log folder, an error sentence or None).
    """
    import subprocess

    from tui_trainer.engine.runs import RunInfo

    root = Path(root)
    if not root.is_dir():
        return [], None
    args = [sys.executable, "-m", "tui_trainer.integrations.logdirs", "--list", str(root)]
    try:
        done = subprocess.run(
            args, capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL
        )
        rows = json.loads(done.stdout) if done.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError) as exc:
        return [], f"{root}: cannot list its log folders ({exc})"
    if rows is None:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return [], f"{root}: cannot list its log folders ({last})"
    out = []
    for row in rows:
        row["run_dir"] = Path(row["run_dir"])
        row["config_path"] = Path(row["config_path"]) if row.get("config_path") else None
        known = {k: v for k, v in row.items() if k in RunInfo.__dataclass_fields__}
        out.append(RunInfo(**known))
    return out, None
