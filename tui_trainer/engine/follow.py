"""Follow a run's `events.jsonl` as it grows: new complete lines become events, a partial last line waits."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from tui_trainer.engine.events import Event, EventParseError, parse_line

log = logging.getLogger("tui_trainer.engine.follow")

EVENTS_FILE = "events.jsonl"


class EventFollower:
    """Reads `RUN_DIR/events.jsonl` incrementally, like `tail -f`, but in events.

    The writer may be mid-line when we read (it flushes per event, not per byte), so bytes after the last
    newline are kept and completed by a later poll. A malformed line is skipped with a warning rather than
    stopping the follow: one bad line must not hide the rest of a run. If the file is replaced by a new one
    (shorter than what we have read, or a different inode), we start again from its beginning.
    """

    def __init__(self, run_dir: Path, max_bytes_per_poll: int = 8 * 1024 * 1024) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / EVENTS_FILE
        self._offset = 0
        self._partial = b""
        self._inode: int | None = None
        self._line_no = 0
        self._max_bytes = max_bytes_per_poll
        self.skipped = 0

    @property
    def offset(self) -> int:
        """Bytes consumed so far (complete lines plus the pending partial line)."""
        return self._offset

    def poll(self) -> list[Event]:
        """Events from complete lines appended since the last poll ([] when there is nothing new)."""
        try:
            fh = open(self.path, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            return []
        with fh:
            st = os.fstat(fh.fileno())
            if self._inode is not None and (st.st_ino != self._inode or st.st_size < self._offset):
                log.info("%s was replaced or truncated; reading it again from the start", self.path)
                self._offset, self._partial, self._line_no = 0, b"", 0
            self._inode = st.st_ino
            if st.st_size <= self._offset:
                return []
            fh.seek(self._offset)
            chunk = fh.read(self._max_bytes)
        self._offset += len(chunk)
        data = self._partial + chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            self._partial = data
            return []
        self._partial = data[cut + 1 :]
        events: list[Event] = []
        for raw in data[:cut].split(b"\n"):
            self._line_no += 1
            if not raw.strip():
                continue
            try:
                events.append(parse_line(raw.decode("utf-8")))
            except (EventParseError, UnicodeDecodeError) as exc:
                self.skipped += 1
                log.warning("%s line %d skipped: %s", self.path, self._line_no, exc)
        return events

    def read_all(self) -> list[Event]:
        """Every event in the file now (polls until the end; a trailing partial line stays pending)."""
        out: list[Event] = []
        while True:
            out.extend(self.poll())
            try:
                if self.path.stat().st_size <= self._offset:
                    return out
            except FileNotFoundError:
                return out
