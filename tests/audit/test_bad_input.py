"""Requirements files and snapshots that would hang, recurse or crash the audit: each a UserError naming it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tui_trainer.audit import packages, snapshot
from tui_trainer.errors import UserError


def _chain(tmp_path: Path, depth: int) -> Path:
    for i in range(depth):
        body = f"-r r{i + 1}.txt\n" if i < depth - 1 else "numpy>=1\n"
        (tmp_path / f"r{i}.txt").write_text(body)
    return tmp_path / "r0.txt"


def test_a_1500_deep_include_chain_names_the_chain(tmp_path):
    with pytest.raises(UserError) as info:
        packages.load_requirements(_chain(tmp_path, 1500))
    message = str(info.value)
    assert f"{tmp_path / 'r0.txt'}:1" in message and "r31.txt:1" in message
    assert f"at most {packages.MAX_INCLUDE_DEPTH - 1} levels" in message


def test_a_chain_within_the_limit_is_read_whole(tmp_path):
    loaded = packages.load_requirements(_chain(tmp_path, packages.MAX_INCLUDE_DEPTH - 1))
    assert [str(r.requirement) for r in loaded.requirements] == ["numpy>=1"]


def test_include_cycles_are_read_once(tmp_path):
    (tmp_path / "a.txt").write_text("-r b.txt\nrich\n")
    (tmp_path / "b.txt").write_text("-r a.txt\nnumpy\n")
    loaded = packages.load_requirements(tmp_path / "a.txt")
    assert sorted(str(r.requirement) for r in loaded.requirements) == ["numpy", "rich"]


def test_fifo_requirements_and_snapshot_do_not_hang(tmp_path):
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    with pytest.raises(UserError, match="not a regular file"):
        packages.load_requirements(fifo)
    with pytest.raises(UserError, match="not a regular file"):
        snapshot.load(fifo)
    (tmp_path / "main.txt").write_text("-r pipe.txt\n")
    with pytest.raises(UserError, match="pipe.txt"):
        packages.load_requirements(tmp_path / "main.txt")


def test_symlink_loops_are_named(tmp_path):
    (tmp_path / "a.txt").symlink_to(tmp_path / "b.txt")
    (tmp_path / "b.txt").symlink_to(tmp_path / "a.txt")
    with pytest.raises(UserError, match="a.txt"):
        packages.load_requirements(tmp_path / "a.txt")
    with pytest.raises(UserError, match="a.txt"):
        snapshot.load(tmp_path / "a.txt")


def test_deeply_nested_toml_is_refused_not_a_recursion_error(tmp_path):
    deep = "a = " + "[" * 5000 + "]" * 5000 + "\n"
    (tmp_path / "pyproject.toml").write_text(deep)
    with pytest.raises(UserError, match="nested too deeply"):
        packages.load_requirements(tmp_path / "pyproject.toml")
    (tmp_path / "snap.toml").write_text(deep)
    with pytest.raises(UserError, match="nested too deeply"):
        snapshot.load(tmp_path / "snap.toml")


def test_byte_order_mark_is_allowed(tmp_path):
    (tmp_path / "req.txt").write_bytes("\ufeffnumpy>=1\n".encode())
    assert [str(r.requirement) for r in packages.load_requirements(tmp_path / "req.txt").requirements] == [
        "numpy>=1"
    ]


def test_oversized_requirements_file_is_refused_unread(tmp_path, monkeypatch):
    monkeypatch.setattr(packages, "MAX_REQUIREMENTS_BYTES", 1000)
    (tmp_path / "req.txt").write_text("numpy\n" * 1000)
    with pytest.raises(UserError, match="larger than"):
        packages.load_requirements(tmp_path / "req.txt")
