"""Checkpoints: atomic writes, weights_only loading, corrupt/truncated files skipped for the previous one."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from tui_trainer.engine import checkpoint as ckpt


def state(step: int) -> dict:
    return {
        "model": {"w": torch.full((3,), float(step))},
        "optimizer": {"state": {}, "param_groups": [{"lr": 0.1}]},
        "epoch": 1,
        "batch_in_epoch": step,
        "rng": ckpt.capture_rng(),
    }


def test_save_writes_named_file_and_prunes(tmp_path):
    for step in (10, 20, 30, 40):
        ckpt.save_checkpoint(tmp_path, step, state(step), keep=2)
    names = [p.name for _, p in ckpt.list_checkpoints(tmp_path)]
    assert names == ["step-00000030.pt", "step-00000040.pt"]
    assert not [p for p in (tmp_path / "checkpoints").iterdir() if p.name.endswith(".tmp")]
    loaded = ckpt.load_checkpoint_file(tmp_path / "checkpoints" / "step-00000040.pt")
    assert loaded["step"] == 40 and torch.equal(loaded["model"]["w"], torch.full((3,), 40.0))


def test_failed_write_leaves_no_file(tmp_path, monkeypatch):
    def boom(obj, fh):
        fh.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError):
        ckpt.save_checkpoint(tmp_path, 5, state(5))
    assert list((tmp_path / "checkpoints").iterdir()) == []


def test_truncated_newest_falls_back_to_previous(tmp_path):
    ckpt.save_checkpoint(tmp_path, 10, state(10))
    newest = ckpt.save_checkpoint(tmp_path, 20, state(20))
    data = newest.read_bytes()
    newest.write_bytes(data[: len(data) // 2])
    loaded = ckpt.load_latest_checkpoint(tmp_path)
    assert loaded is not None and loaded.state["step"] == 10
    assert len(loaded.skipped) == 1 and "step-00000020.pt cannot be read" in loaded.skipped[0]


def test_garbage_and_wrong_content_are_skipped(tmp_path):
    ckpt.save_checkpoint(tmp_path, 10, state(10))
    folder = tmp_path / "checkpoints"
    (folder / "step-00000030.pt").write_bytes(b"not a checkpoint at all")
    torch.save({"model": {}}, folder / "step-00000020.pt")  # loads, but is missing keys
    loaded = ckpt.load_latest_checkpoint(tmp_path)
    assert loaded.state["step"] == 10
    assert len(loaded.skipped) == 2 and "missing" in loaded.skipped[1]


def test_no_checkpoints_is_none(tmp_path):
    assert ckpt.load_latest_checkpoint(tmp_path) is None


def test_rng_round_trip_restores_every_generator(tmp_path):
    gen = torch.Generator().manual_seed(3)
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(4)
    path = ckpt.save_checkpoint(tmp_path, 1, {**state(1), "rng": ckpt.capture_rng(gen)})
    expected = (random.random(), np.random.rand(), torch.rand(1).item(), torch.rand(1, generator=gen).item())
    restored = ckpt.load_checkpoint_file(path)  # weights_only=True inside
    ckpt.restore_rng(restored["rng"], gen)
    assert (
        random.random(),
        np.random.rand(),
        torch.rand(1).item(),
        torch.rand(1, generator=gen).item(),
    ) == expected
