"""The append-only `RUN_DIR/events.jsonl` writer: one JSON line per event, flushed per event, fsynced on demand.

The engine emits a bounded number of events (step events are coalesced before they get here), so a flush
per event is cheap and means a killed process loses at most the event being written. fsync is the
expensive part (milliseconds on a busy disk, several percent of a fast epoch): `sync_soon()` (epoch ends)
hands it to a background thread, since os.fsync releases the GIL and training need not wait for the disk;
`sync()` (checkpoints, the end of a run) waits for it. A lock lets the telemetry thread write alongside the
training loop.

The writer holds an exclusive `flock` on the file while it is open: that lock is how `engine.runs` tells a
run that is still being written (a second writer would interleave its lines) from one whose process is gone
(the kernel drops the lock when the process dies, SIGKILL included). Lines are written whole: a write that
fails half-way (disk full, I/O error) is cut back to the last complete line before the error is raised, so
the file never ends in a torn line.
"""

from __future__ import annotations

import errno
import os
import threading
import time
import weakref
from dataclasses import replace
from pathlib import Path

from tui_trainer.engine.events import Event, Failed, to_json
from tui_trainer.engine.follow import EVENTS_FILE

# A reader probing the lock holds it for microseconds; a writer waits this long before calling it a second writer.
LOCK_WAIT_S = 2.0


class RunLockedError(OSError):
    """Another live process holds `events.jsonl` open for writing."""


def _flock(fd: int, exclusive: bool) -> bool:
    """Try to take the lock without blocking; True when taken (or locks are not supported here)."""
    try:
        import fcntl
    except ImportError:  # Windows: no flock; the pid rule in engine.runs still applies
        return True
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        return True  # ENOLCK / EINVAL: this filesystem has no locks; do not block the run on that


def is_being_written(run_dir: Path) -> bool | None:
    """Whether a live process holds RUN_DIR/events.jsonl open as its writer (None: no file, or no locks here)."""
    path = Path(run_dir) / EVENTS_FILE
    try:
        import fcntl
    except ImportError:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return True
            return None
        return False
    finally:
        os.close(fd)  # closing drops the probe's shared lock


def _named(exc: OSError, path: Path) -> OSError:
    """`exc` with the events file as its filename, so the message a user sees names the path."""
    if exc.filename:
        return exc
    return type(exc)(exc.errno, exc.strerror or str(exc), str(path))


_OPEN_LOGS: weakref.WeakSet[EventLog] = weakref.WeakSet()


def _drop_inherited_logs() -> None:
    # A forked child (DataLoader workers fork by default) inherits the writer's descriptor and with it a share
    # of the flock: the lock would outlive a SIGKILLed writer until every worker noticed. The child points
    # its copy at /dev/null (never LOCK_UN: that would release the parent's lock too).
    for log_ in list(_OPEN_LOGS):
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, log_._fh.fileno())
            os.close(null)
        except (OSError, ValueError):
            pass


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_inherited_logs)


class EventLog:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.run_dir / EVENTS_FILE
        if self.path.is_dir():
            raise IsADirectoryError(errno.EISDIR, "is a folder, not an events file", str(self.path))
        self._fh = open(self.path, "ab", buffering=0)  # noqa: SIM115 - closed in close()
        try:
            self._take_lock()
            self._size = os.fstat(self._fh.fileno()).st_size
            self._repair_partial_tail()
        except BaseException:
            self._fh.close()
            raise
        self._lock = threading.Lock()
        self._sync_wanted = threading.Event()
        self._syncer: threading.Thread | None = None
        self.error: OSError | None = None  # the first write/fsync failure (disk full, I/O error)
        _OPEN_LOGS.add(self)

    def _take_lock(self) -> None:
        deadline = time.monotonic() + LOCK_WAIT_S
        while not _flock(self._fh.fileno(), exclusive=True):
            if time.monotonic() > deadline:
                raise RunLockedError(
                    errno.EBUSY,
                    "another process is writing this run (two writers would interleave it)",
                    str(self.path),
                )
            time.sleep(0.01)

    def _repair_partial_tail(self) -> None:
        # A process killed mid-write can leave a line without its newline; a resumed run must not glue its
        # first event onto it (the follower would then drop both), so end that fragment first.
        if self._size:
            with open(self.path, "rb") as fh:
                fh.seek(self._size - 1)
                if fh.read(1) != b"\n":
                    self._write_all(b"\n")

    def _write_all(self, data: bytes) -> None:
        """Append `data` whole, or not at all: on an error the file is cut back to where it was."""
        fd = self._fh.fileno()
        view = memoryview(data)
        try:
            while view:
                written = os.write(fd, view)  # O_APPEND: each write lands at the end
                view = view[written:]
        except OSError:
            try:
                os.ftruncate(fd, self._size)
            except OSError:
                pass
            raise
        self._size += len(data)

    def write(self, event: Event) -> None:
        """Append one event. An OSError (disk full, I/O error) is raised, so the run ends on it, except for
        a `failed` event: that is the run's last word, written if at all possible and never an error itself."""
        try:
            self.write_lines([to_json(event)])
        except OSError:
            if not isinstance(event, Failed):
                raise
            # A full disk may still take a short line where the long traceback did not fit.
            short = replace(event, traceback="", error=event.error[:500])
            try:
                self.write_lines([to_json(short)])
            except OSError:
                pass

    def write_lines(self, lines: list[str]) -> None:
        if not lines:
            return
        data = ("\n".join(lines) + "\n").encode("utf-8")
        with self._lock:
            if self._fh.closed:
                return
            try:
                self._write_all(data)  # unbuffered: the bytes reach the OS now
            except OSError as exc:
                self.error = self.error or _named(exc, self.path)
                raise self.error from None

    def sync(self) -> None:
        """fsync now and wait for it. Raises the first failure; after a failure it only tries."""
        with self._lock:
            if self._fh.closed:
                return
            try:
                os.fsync(self._fh.fileno())
            except OSError as exc:
                if self.error is not None:
                    return  # the run is already ending on an I/O error; this is its last attempt
                self.error = _named(exc, self.path)
                raise self.error from None

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
                except OSError:
                    pass  # the lines are written; a failing fsync at close must not hide the run's own error
                finally:
                    self._fh.close()

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
