"""torchrun with two CPU processes (gloo): DDP trains, the data are sharded, only rank 0 writes."""

from __future__ import annotations

import socket
import subprocess
import sys

from tests.conftest import REPO_ROOT
from tests.engine.conftest import write_config
from tui_trainer.engine.follow import EventFollower


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_processes_train_with_one_writer(tmp_path, subprocess_env):
    cfg = write_config(tmp_path)
    run_dir = tmp_path / "run"
    env = dict(subprocess_env, OMP_NUM_THREADS="1")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc-per-node",
            "2",
            "--master-addr",
            "127.0.0.1",
            "--master-port",
            str(free_port()),
            "-m",
            "tui_trainer",
            "train",
            str(cfg),
            "--headless",
            "--run-dir",
            str(run_dir),
            "--set",
            "train.epochs=2",
            "--set",
            "train.checkpoint_every=3",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    events = EventFollower(run_dir).read_all()
    started = [e for e in events if e.type == "run_started"]
    assert len(started) == 1 and started[0].world_size == 2  # one writer
    # 90 training rows: 45 per rank, batches of 16 -> 3 steps per epoch, 2 epochs.
    assert started[0].total_steps == 6
    steps = [e.step for e in events if e.type == "step"]
    assert steps == list(range(1, 7))
    assert events[-1].type == "finished" and events[-1].status == "completed"
    ckpts = sorted(p.name for p in (run_dir / "checkpoints").glob("step-*.pt"))
    assert ckpts == ["step-00000003.pt", "step-00000006.pt"]
    assert result.stdout.count("finished (completed)") == 1  # only rank 0 prints
