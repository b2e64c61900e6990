"""Follow a run's `events.jsonl` as it grows: new complete lines become events, a partial last line waits."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from tui_trainer.engine.events import MAX_LINE_BYTES, Event, EventParseError, parse_line

log = logging.getLogger("tui_trainer.engine.follow")

EVENTS_FILE = "events.jsonl"
# Warnings for skipped lines are rate-limited: a file of a million garbage lines must not log a million times.
MAX_WARNINGS = 20


class EventFollower:
    """Reads `RUN_DIR/events.jsonl` incrementally, like `tail -f`, but in events.

    The writer may be mid-line when we read (it flushes per event, not per byte), so bytes after the last
    newline are kept and completed by a later poll. A malformed line (torn, garbage, wrongly typed, longer
    than MAX_LINE_BYTES) is skipped and counted in `skipped` rather than stopping the follow: one bad line
    must not hide the rest of a run. An over-long line is dropped as it is read, never held whole in memory.
    If the file is replaced by a new one (shorter than what we have read, or a different inode), we start
    again from its beginning.
    """

    def __init__(self, run_dir: Path, max_bytes_per_poll: int = 8 * 1024 * 1024) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / EVENTS_FILE
        self._offset = 0
        self._partial = b""
        self._oversize = False  # inside a line already known to be too long: drop up to its newline
        self._inode: int | None = None
        self._line_no = 0
        self._max_bytes = max_bytes_per_poll
        self._size = 0
        self._warned = False  # "cannot be read" said once
        self.skipped = 0

    @property
    def offset(self) -> int:
        """Bytes consumed so far (complete lines plus the pending partial line)."""
        return self._offset

    @property
    def behind_bytes(self) -> int:
        """Bytes in the file, as of the last poll, not read yet (how far a follow is behind the writer)."""
        return max(0, self._size - self._offset)

    def _skip(self, why: object) -> None:
        self.skipped += 1
        if self.skipped <= MAX_WARNINGS:
            log.warning("%s line %d skipped: %s", self.path, self._line_no, why)
        elif self.skipped == MAX_WARNINGS + 1:
            log.warning("%s: more malformed lines; no more warnings for this file", self.path)

    def _cannot_read(self, why: object) -> None:
        if not self._warned:
            log.warning("%s cannot be read: %s", self.path, why)
            self._warned = True

    def poll(self) -> list[Event]:
        """Events from complete lines appended since the last poll ([] when there is nothing new)."""
        try:
            # O_NONBLOCK: a FIFO named events.jsonl must not block the reader (it is refused just below).
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:  # unreadable now (permissions, a folder): nothing to read, say why once
            self._cannot_read(exc)
            return []
        with open(fd, "rb", closefd=True) as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                self._cannot_read("not a regular file")
                return []
            if self._inode is not None and (st.st_ino != self._inode or st.st_size < self._offset):
                log.info("%s was replaced or truncated; reading it again from the start", self.path)
                self._offset, self._partial, self._line_no, self._oversize = 0, b"", 0, False
            self._inode = st.st_ino
            self._size = st.st_size
            if st.st_size <= self._offset:
                return []
            fh.seek(self._offset)
            chunk = fh.read(self._max_bytes)
        self._offset += len(chunk)
        return self._parse(chunk)

    def _parse(self, chunk: bytes) -> list[Event]:
        data = self._partial + chunk if self._partial else chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            self._keep_partial(data)
            return []
        rest = data[cut + 1 :]
        lines = data[:cut].split(b"\n")
        events: list[Event] = []
        append = events.append
        if self._oversize:
            # The first line is the end of one already dropped for its length: skip it, count it once.
            self._line_no += 1
            self._oversize = False
            self._skip(f"longer than {MAX_LINE_BYTES} bytes")
            lines = lines[1:]
        for raw in lines:
            self._line_no += 1
            if not raw or raw.isspace():
                continue
            try:
                append(parse_line(raw))
            except EventParseError as exc:
                self._skip(exc)
        self._keep_partial(rest)
        return events

    def _keep_partial(self, data: bytes) -> None:
        if len(data) > MAX_LINE_BYTES:
            self._partial, self._oversize = b"", True
        elif self._oversize:
            self._partial = b""  # still inside the dropped line
        else:
            self._partial = data

    def at_end(self) -> bool:
        """Whether everything in the file now has been read (a trailing partial line stays pending)."""
        try:
            return self.path.stat().st_size <= self._offset
        except OSError:
            return True

    def iter_all(self):
        """Every event in the file now, batch by batch (bounded memory per batch, however big the file)."""
        while True:
            events = self.poll()
            if events:
                yield events
            if self.at_end():
                return

    def read_all(self) -> list[Event]:
        """Every event in the file now (polls until the end; a trailing partial line stays pending)."""
        out: list[Event] = []
        for batch in self.iter_all():
            out.extend(batch)
        return out
