"""The append-only `RUN_DIR/events.jsonl` writer: one JSON line per event, flushed per event, fsynced on demand.

The engine emits a bounded number of events (step events are coalesced before they get here), so a flush
per event is cheap and means a killed process loses at most the event being written. fsync is the
expensive part (milliseconds on a busy disk, several percent of a fast epoch): `sync_soon()` (epoch ends)
hands it to a background thread, since os.fsync releases the GIL and training need not wait for the disk;
`sync()` (checkpoints, the end of a run) waits for it. A lock lets the telemetry thread write alongside the
training loop.
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
        self._sync_wanted = threading.Event()
        self._syncer: threading.Thread | None = None

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
        """fsync now and wait for it."""
        with self._lock:
            if not self._fh.closed:
                os.fsync(self._fh.fileno())

    def sync_soon(self) -> None:
        """fsync on the background thread; returns at once."""
        if self._syncer is None:
            self._syncer = threading.Thread(target=self._sync_loop, name="tui-trainer-fsync", daemon=True)
            self._syncer.start()
        self._sync_wanted.set()

    def _sync_loop(self) -> None:
        while True:
            self._sync_wanted.wait()
            self._sync_wanted.clear()
            if self._fh.closed:
                return
            try:
                fd = self._fh.fileno()
                os.fsync(fd)  # outside the lock: writers carry on while the disk catches up
            except (OSError, ValueError):
                return

    def close(self) -> None:
        if self._syncer is not None:
            self._sync_wanted.set()
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
