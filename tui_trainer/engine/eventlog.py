"""The append-only `RUN_DIR/events.jsonl` writer: one JSON line per event, flushed per event, fsynced on demand.

The engine emits a bounded number of events (step events are coalesced before they get here), so a flush
per event is cheap and means a killed process loses at most the event being written. fsync is the
expensive part; it happens at epoch ends, checkpoints and the end of a run. A lock lets the telemetry
thread write alongside the training loop.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from tui_trainer.engine.events import Event, to_json
from tui_trainer.engine.follow import EVENTS_FILE


class EventLog:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.run_dir / EVENTS_FILE
        self._fh = open(self.path, "ab", buffering=0)  # noqa: SIM115 - closed in close()
        self._lock = threading.Lock()
        self._repair_partial_tail()

    def _repair_partial_tail(self) -> None:
        # A process killed mid-write can leave a line without its newline; a resumed run must not glue its
        # first event onto it (the follower would then drop both), so end that fragment first.
        size = self.path.stat().st_size
        if size:
            with open(self.path, "rb") as fh:
                fh.seek(size - 1)
                if fh.read(1) != b"\n":
                    self._fh.write(b"\n")

    def write(self, event: Event) -> None:
        self.write_lines([to_json(event)])

    def write_lines(self, lines: list[str]) -> None:
        if not lines:
            return
        data = ("\n".join(lines) + "\n").encode("utf-8")
        with self._lock:
            if self._fh.closed:
                return
            self._fh.write(data)  # unbuffered: one write syscall, so the bytes reach the OS now

    def sync(self) -> None:
        with self._lock:
            if not self._fh.closed:
                os.fsync(self._fh.fileno())

    def close(self) -> None:
        with self._lock:
            if not self._fh.closed:
                try:
                    os.fsync(self._fh.fileno())
                finally:
                    self._fh.close()

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
