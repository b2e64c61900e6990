"""Atomic writes: never replace a device node, FIFO, folder or symlink; umask permissions; --force rules."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading

import pytest

from tui_trainer.atomic import atomic_write, atomic_write_text
from tui_trainer.errors import UserError


@pytest.fixture
def umask():
    """Set a umask for one test and put the old one back."""
    old = os.umask(0o022)
    os.umask(old)
    yield lambda mask: os.umask(mask)
    os.umask(old)


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_new_file_gets_the_umask_permissions(tmp_path, umask, mask, expected):
    umask(mask)
    target = atomic_write_text(tmp_path / "out.toml", "a = 1\n")
    assert stat.S_IMODE(os.stat(target).st_mode) == expected
    assert target.read_text() == "a = 1\n"


def test_replaced_file_keeps_its_own_mode(tmp_path, umask):
    umask(0o022)
    target = tmp_path / "secret.toml"
    target.write_text("old")
    target.chmod(0o640)
    atomic_write_text(target, "new")
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640
    assert target.read_text() == "new"


def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(UserError, match="FIFO") as info:
        atomic_write_text(fifo, "x")
    assert str(fifo) in str(info.value)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["pipe"]  # no temp file left


def test_symlink_is_refused_and_its_target_untouched(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("keep")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    with pytest.raises(UserError, match="symlink"):
        atomic_write_text(link, "x")
    assert link.is_symlink() and real.read_text() == "keep"
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    with pytest.raises(UserError, match="symlink"):
        atomic_write_text(dangling, "x")
    assert not (tmp_path / "nowhere").exists()


def test_folder_is_refused(tmp_path):
    with pytest.raises(UserError, match="folder"):
        atomic_write_text(tmp_path, "x")


def test_parent_that_is_a_file_is_a_user_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="not a folder"):
        atomic_write_text(tmp_path / "file" / "out.txt", "x")


def _char_device(path):
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 7))  # the numbers of /dev/full
    except (PermissionError, OSError) as exc:
        pytest.skip(f"cannot create a device node here: {exc}")


def test_device_node_is_refused(tmp_path):
    dev = tmp_path / "full"
    _char_device(dev)
    with pytest.raises(UserError, match="character device"):
        atomic_write_text(dev, "x")
    assert stat.S_ISCHR(os.lstat(dev).st_mode)


def test_audit_export_to_a_device_node_exits_2_and_keeps_it(tmp_path, subprocess_env):
    # A clone of /dev/full, so a regression cannot destroy the real one on the test machine.
    dev = tmp_path / "full"
    _char_device(dev)
    proc = subprocess.run(
        [sys.executable, "-m", "tui_trainer", "audit", "--no-smoke", "--export", str(dev)],
        capture_output=True,
        text=True,
        env=subprocess_env,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert str(dev) in proc.stderr and "Traceback" not in proc.stderr
    assert stat.S_ISCHR(os.lstat(dev).st_mode)


def test_no_overwrite_refuses_an_existing_file(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")
    with pytest.raises(UserError, match="--force"):
        atomic_write_text(target, "new", overwrite=False)
    assert target.read_text() == "old"
    fresh = atomic_write_text(tmp_path / "new.csv", "new", overwrite=False)
    assert fresh.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.csv", "out.csv"]


def test_no_overwrite_loses_to_a_file_that_appears_during_the_write(tmp_path):
    target = tmp_path / "out.csv"

    def write(fh):
        fh.write(b"mine")
        target.write_text("theirs")  # someone else creates the file while we write

    with pytest.raises(UserError, match="exists"):
        atomic_write(target, write, overwrite=False)
    assert target.read_text() == "theirs"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_concurrent_writers_leave_one_whole_file(tmp_path):
    target = tmp_path / "out.txt"
    bodies = [str(i) * 10_000 for i in range(8)]
    threads = [threading.Thread(target=atomic_write_text, args=(target, body)) for body in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert target.read_text() in bodies
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o077, 0o600)])
def test_files_a_command_writes_follow_the_umask(tmp_path, umask, capsys, mask, expected):
    """`augment` variants and its --save-config, as a teammate on a shared server would read them."""
    import numpy as np
    from PIL import Image

    from tui_trainer.cli import main

    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "img.png")
    umask(mask)
    out = tmp_path / "out"
    code = main(["augment", str(tmp_path / "img.png"), "--n", "2", "--out", str(out),
                 "--save-config", str(tmp_path / "aug.toml"), "--hflip"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    written = [*out.iterdir(), tmp_path / "aug.toml"]
    assert len(written) == 3
    assert {stat.S_IMODE(os.stat(p).st_mode) for p in written} == {expected}
