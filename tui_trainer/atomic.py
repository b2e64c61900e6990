"""Write files so a crash or a full disk never leaves half a file behind: temp file, fsync, rename.

Rules every writer of the tool shares (docs/hardening.md):
- the destination must be a new path or a regular file; a device node, FIFO, socket, folder or symlink there
  is refused with a `UserError` naming it (so `audit --export /dev/full` never replaces the device node);
- `overwrite=False` (a command without `--force`) refuses an existing file, checked atomically at the rename;
- a new file gets the umask's permissions (0644 under umask 022), a replaced file keeps its own mode;
- data and the folder entry are fsynced before the call returns.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import IO

from tui_trainer.errors import UserError

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISLNK, "a symlink"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def check_destination(path: Path, overwrite: bool = True) -> os.stat_result | None:
    """Raise `UserError` unless `path` is a new path or (with `overwrite`) a regular file; return its lstat."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        raise UserError(f"{path}: cannot write it: a parent of it is not a folder") from None
    if not stat.S_ISREG(st.st_mode):
        raise UserError(
            f"{path}: refusing to write over {_kind(st.st_mode)}; expected a regular file or a new path"
        )
    if not overwrite:
        raise UserError(f"{path}: the file exists; pass --force to overwrite it")
    return st


def _make_parent(parent: Path) -> None:
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UserError(f"{parent}: cannot write into it: it is not a folder") from None
    if not parent.is_dir():
        raise UserError(f"{parent}: cannot write into it: it is not a folder")


def _fsync_dir(parent: Path) -> None:
    try:
        fd = os.open(parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on a directory; the data itself is already on disk
    finally:
        os.close(fd)


def atomic_write(path: Path, write: Callable[[IO[bytes]], None], overwrite: bool = True) -> Path:
    """Call `write(fh)` on a temp file beside `path`, fsync it, then rename it over `path`.

    The temp file lives in the same directory so the rename is atomic on POSIX filesystems.
    """
    path = Path(path)
    existing = check_destination(path, overwrite)
    _make_parent(path.parent)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    # os.open's mode goes through the umask, as for any file a program creates (mkstemp would force 0600).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            if existing is not None:
                os.fchmod(fh.fileno(), stat.S_IMODE(existing.st_mode))
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        # Checked again just before the rename: something may have appeared there while we wrote.
        check_destination(path, overwrite=overwrite or existing is not None)
        if overwrite:
            os.replace(tmp, path)
        else:
            _link_no_clobber(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def _link_no_clobber(tmp: Path, path: Path) -> None:
    """Put `tmp` at `path` only if nothing is there (link(2) fails on an existing name, unlike rename)."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise UserError(f"{path}: the file exists; pass --force to overwrite it") from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV):
            raise
        os.replace(tmp, path)  # a filesystem without hard links: the check above is the best there is
        return
    os.unlink(tmp)


def atomic_write_bytes(path: Path, data: bytes, overwrite: bool = True) -> Path:
    return atomic_write(path, lambda fh: fh.write(data), overwrite=overwrite)


def atomic_write_text(path: Path, text: str, overwrite: bool = True) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"), overwrite=overwrite)
