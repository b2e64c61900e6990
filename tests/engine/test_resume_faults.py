"""Resume against damaged checkpoints from a real tiny run: each one falls back to the previous with a diagnostic."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import pytest
import torch

from tests.conftest import REPO_ROOT
from tests.engine.conftest import write_config
from tui_trainer.engine.checkpoint import checkpoint_dir, list_checkpoints
from tui_trainer.engine.config import load_config
from tui_trainer.engine.loop import run_training


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A real run (MLP on the tiny table, 2 epochs of 6 steps) with checkpoints at steps 5, 10 and 12."""
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("resume-src")
    cfg = write_config(folder)
    result = run_training(load_config(cfg, ["train.epochs=2"]), folder / "run", emit=None)
    assert result.status == "completed"
    steps = [s for s, _ in list_checkpoints(folder / "run")]
    assert len(steps) == 3
    return folder, steps


def copy_run(finished_run, tmp_path):
    folder, steps = finished_run
    shutil.copy(folder / "data.csv", tmp_path / "data.csv")
    shutil.copy(folder / "cfg.toml", tmp_path / "cfg.toml")
    shutil.copytree(folder / "run", tmp_path / "run")
    return tmp_path / "run", steps


def resume(tmp_path, run_dir, epochs=3):
    events = []

    def timeout(*_):
        raise TimeoutError("resume hung")

    previous = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(60)
    try:
        result = run_training(
            load_config(tmp_path / "cfg.toml", [f"train.epochs={epochs}"]),
            run_dir,
            emit=events.append,
            resume=True,
        )
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return result, events


def _resave(path, change):
    state = torch.load(path, weights_only=True)
    change(state)
    torch.save(state, path)


def _other_architecture(state):
    state["model"] = {k: torch.zeros((v.shape[0] + 3, *v.shape[1:])) for k, v in state["model"].items()}


def _renamed_layers(state):
    state["model"] = {f"encoder.{k}": v for k, v in state["model"].items()}


DAMAGE = {
    "zero_bytes": (lambda p: p.write_bytes(b""), "is empty"),
    "other_architecture": (lambda p: _resave(p, _other_architecture), "another model"),
    "renamed_layers": (lambda p: _resave(p, _renamed_layers), "another model"),
    "empty_rng": (lambda p: _resave(p, lambda s: s.update(rng={})), "RNG"),
    "empty_model": (lambda p: _resave(p, lambda s: s.update(model={})), "model is empty"),
    "string_step": (lambda p: _resave(p, lambda s: s.update(step="12")), "step = '12'"),
    "wrong_format": (lambda p: _resave(p, lambda s: s.update(format=99)), "format 99"),
    "garbage": (lambda p: p.write_bytes(b"\x00" * 4096), "cannot be read"),
}


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_a_damaged_newest_checkpoint_falls_back_to_the_previous_one(finished_run, tmp_path, kind):
    run_dir, steps = copy_run(finished_run, tmp_path)
    damage, reason = DAMAGE[kind]
    newest = checkpoint_dir(run_dir) / f"step-{steps[-1]:08d}.pt"
    damage(newest)
    result, events = resume(tmp_path, run_dir)
    assert result.status == "completed", result.error
    started = [e for e in events if e.type == "run_started"][0]
    assert started.resumed_from_step == steps[-2]
    diags = [e for e in events if e.type == "diagnostic" and e.code == "corrupt_checkpoint"]
    assert len(diags) == 1 and newest.name in diags[0].message and reason in diags[0].message
    # Step numbers continue from the checkpoint used.
    first = [e.step for e in events if e.type == "step"][0]
    assert first == steps[-2] + 1


def test_a_fifo_named_like_the_newest_checkpoint_is_never_opened(finished_run, tmp_path):
    run_dir, steps = copy_run(finished_run, tmp_path)
    fifo = checkpoint_dir(run_dir) / "step-99999999.pt"
    os.mkfifo(fifo)
    result, events = resume(tmp_path, run_dir)  # an open() of the FIFO would block forever
    assert result.status == "completed"
    assert [e for e in events if e.type == "run_started"][0].resumed_from_step == steps[-1]
    diags = [e for e in events if e.type == "diagnostic" and e.code == "corrupt_checkpoint"]
    assert diags and "not a regular file" in diags[0].message


def test_every_checkpoint_unusable_starts_from_step_zero_and_says_why(finished_run, tmp_path):
    run_dir, steps = copy_run(finished_run, tmp_path)
    for _, path in list_checkpoints(run_dir):
        path.write_bytes(b"")
    result, events = resume(tmp_path, run_dir, epochs=1)
    assert result.status == "completed"
    assert [e for e in events if e.type == "run_started"][0].resumed_from_step is None
    assert len([e for e in events if e.type == "diagnostic" and e.code == "corrupt_checkpoint"]) == 3
    assert any(e.type == "log" and "no usable checkpoint" in e.message for e in events)


def test_stale_temp_files_of_a_killed_write_are_removed_at_the_next_start(finished_run, tmp_path):
    run_dir, steps = copy_run(finished_run, tmp_path)
    stale = checkpoint_dir(run_dir) / f".step-{steps[-1] + 1:08d}.pt.0a1b2c3d.tmp"
    stale.write_bytes(b"half a checkpoint")
    keep = checkpoint_dir(run_dir) / "notes.tmp"  # not a checkpoint temp: left alone
    keep.write_text("mine")
    result, _ = resume(tmp_path, run_dir)
    assert result.status == "completed"
    assert not stale.exists() and keep.exists()


def test_cli_resume_with_a_zero_byte_newest_checkpoint_exits_0_and_reports_it(
    finished_run, tmp_path, subprocess_env
):
    run_dir, steps = copy_run(finished_run, tmp_path)
    (checkpoint_dir(run_dir) / f"step-{steps[-1]:08d}.pt").write_bytes(b"")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tui_trainer",
            "train",
            "--resume",
            str(run_dir),
            "--headless",
            "--set",
            "train.epochs=3",
        ],
        capture_output=True,
        text=True,
        env=subprocess_env,
        cwd=REPO_ROOT,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert f"resumed from step {steps[-2]}" in result.stdout
    assert "corrupt_checkpoint" in result.stdout and "is empty" in result.stdout


def test_bad_event_lines_do_not_stop_a_resume(finished_run, tmp_path):
    run_dir, steps = copy_run(finished_run, tmp_path)
    with open(run_dir / "events.jsonl", "ab") as fh:
        fh.write(b'{"type":"step","step":"x","epoch":0,"loss":1}\n')
        fh.write(b'{"type":"eval","step":3,"val_loss":"abc"}\n')
        fh.write(b'{"type":"log","message":"m","x":' + b"[" * 50_000 + b"]" * 50_000 + b"}\n")
        fh.write(b'{"type":"step","step":13,"ep')  # torn by a kill
    result, events = resume(tmp_path, run_dir)
    assert result.status == "completed"
    assert [e for e in events if e.type == "run_started"][0].resumed_from_step == steps[-1]
    from tui_trainer.engine.follow import EventFollower

    follower = EventFollower(run_dir)
    assert follower.read_all()[-1].type == "finished" and follower.skipped == 4  # the torn line was ended
