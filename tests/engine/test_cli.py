"""`tui-trainer train` / `runs` through real subprocesses: exit codes, output modes, SIGKILL + --resume, SIGINT."""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import time

from tests.conftest import REPO_ROOT, SAMPLE_DATA
from tests.engine.conftest import write_config
from tui_trainer.engine.checkpoint import list_checkpoints
from tui_trainer.engine.events import parse_line
from tui_trainer.engine.follow import EventFollower


def cli(*args, env, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "tui_trainer", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def popen(*args, env):
    return subprocess.Popen(
        [sys.executable, "-m", "tui_trainer", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
    )


def wait_for(run_dir, predicate, timeout=60.0):
    follower = EventFollower(run_dir)
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen += follower.poll()
        if predicate(seen):
            return seen
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting; saw {[e.type for e in seen][-10:]}")


def test_sample_tabular_config_headless_json_exit_0(tmp_path, subprocess_env):
    run_dir = tmp_path / "run"
    result = cli(
        "train",
        str(SAMPLE_DATA / "configs" / "tabular.toml"),
        "--headless",
        "--json",
        "--run-dir",
        str(run_dir),
        "--set",
        "train.epochs=4",
        env=subprocess_env,
    )
    assert result.returncode == 0, result.stderr
    stdout_events = [parse_line(line) for line in result.stdout.splitlines()]  # every line is an event
    types = {e.type for e in stdout_events}
    assert {"run_started", "step", "eval", "epoch_end", "checkpoint", "finished", "system"} <= types
    on_disk = EventFollower(run_dir).read_all()
    assert [e.type for e in on_disk] == [e.type for e in stdout_events]
    losses = [e.loss for e in on_disk if e.type == "step"]
    assert all(math.isfinite(v) for v in losses) and losses[-1] < losses[0]
    assert list((run_dir / "checkpoints").glob("step-*.pt"))


def test_plain_output_when_not_a_terminal(tmp_path, subprocess_env):
    cfg = write_config(tmp_path)
    result = cli("train", str(cfg), "--run-dir", str(tmp_path / "run"), env=subprocess_env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("tui-trainer: stdout is not a terminal, so training runs headless")
    assert "\r" not in result.stdout and "\x1b" not in result.stdout
    progress = [line for line in lines if line.startswith("step ")]
    seconds = float(lines[-1].split(" in ")[1].split(" s")[0])
    # Bounded: the first step, then at most one line every 5 s, and one at the end.
    assert 1 <= len(progress) <= 2 + seconds / 5
    assert lines[-1].startswith("finished (completed) at step")


def test_bad_key_exits_2_naming_it(tmp_path, subprocess_env):
    cfg = write_config(tmp_path)
    result = cli("train", str(cfg), "--headless", "--set", "optim.lr=fast", env=subprocess_env)
    assert result.returncode == 2
    assert "optim.lr" in result.stderr and "number" in result.stderr and "Traceback" not in result.stderr
    cfg.write_text(cfg.read_text() + "\n[model2]\nx = 1\n")
    result = cli("train", str(cfg), "--headless", env=subprocess_env)
    assert result.returncode == 2 and "[model2]" in result.stderr and str(cfg) in result.stderr


def test_existing_run_dir_needs_resume(tmp_path, subprocess_env):
    cfg = str(write_config(tmp_path))
    run_dir = tmp_path / "run"
    # A first attempt that failed on its data (no run_started) does not block the folder...
    bad = cli(
        "train", cfg, "--headless", "--run-dir", str(run_dir), "--set", "data.label=nope", env=subprocess_env
    )
    assert bad.returncode == 2 and "data.label" in bad.stderr and "nope" in bad.stderr
    ok = cli(
        "train", cfg, "--headless", "--run-dir", str(run_dir), "--set", "train.epochs=1", env=subprocess_env
    )
    assert ok.returncode == 0, ok.stderr
    # ...but a run that started does.
    again = cli("train", cfg, "--headless", "--run-dir", str(run_dir), env=subprocess_env)
    assert again.returncode == 2 and "--resume" in again.stderr


def test_nan_run_exits_1(tmp_path, subprocess_env):
    (tmp_path / "nanmodel_cli.py").write_text(
        "import torch.nn as nn\n"
        "class M(nn.Module):\n"
        "    def __init__(self, n, k):\n"
        "        super().__init__(); self.lin = nn.Linear(n, k); self.calls = 0\n"
        "    def forward(self, x):\n"
        "        self.calls += 1\n"
        "        return self.lin(x) * (float('nan') if self.calls > 3 else 1.0)\n"
        "def build(input_shape, num_classes):\n"
        "    return M(input_shape[0], num_classes)\n"
    )
    cfg = write_config(tmp_path)
    cfg.write_text(cfg.read_text().replace('name = "mlp"', 'factory = "nanmodel_cli:build"'))
    result = cli("train", str(cfg), "--headless", "--run-dir", str(tmp_path / "run"), env=subprocess_env)
    assert result.returncode == 1
    assert "nan_loss" in result.stdout and "FAILED at step 3" in result.stdout


def test_sigkill_then_resume_continues_step_numbers(tmp_path, subprocess_env):
    cfg = write_config(tmp_path, name="long.toml")
    run_dir = tmp_path / "run"
    args = ("--set", "train.epochs=400", "--set", "train.checkpoint_every=20")
    proc = popen("train", str(cfg), "--headless", "--run-dir", str(run_dir), *args, env=subprocess_env)
    try:
        seen = wait_for(
            run_dir,
            lambda evs: (
                any(e.type == "checkpoint" for e in evs) and evs[-1].type == "step" and evs[-1].step > 25
            ),
        )
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert any(e.type == "checkpoint" for e in seen)
    # The newest checkpoint file is what --resume uses; it may be newer than the events read before the kill.
    last_ckpt = list_checkpoints(run_dir)[-1][0]
    listing = cli("runs", str(tmp_path), "--json", env=subprocess_env)
    assert json.loads(listing.stdout)[0]["status"] == "killed"

    result = cli(
        "train",
        "--resume",
        str(run_dir),
        "--headless",
        "--set",
        f"train.max_steps={last_ckpt + 12}",
        env=subprocess_env,
    )
    assert result.returncode == 0, result.stderr
    assert f"resumed from step {last_ckpt}" in result.stdout
    events = EventFollower(run_dir).read_all()
    starts = [i for i, e in enumerate(events) if e.type == "run_started"]
    assert len(starts) == 2 and events[starts[1]].resumed_from_step == last_ckpt
    after = [e.step for e in events[starts[1] :] if e.type == "step"]
    assert after == list(range(last_ckpt + 1, last_ckpt + 13))
    assert events[-1].type == "finished" and events[-1].status == "completed"
    listing = cli("runs", str(tmp_path), env=subprocess_env)
    assert listing.returncode == 0
    row = [line for line in listing.stdout.splitlines() if line.startswith("run ")][0]
    assert "finished" in row


def start_endless_run(tmp_path, run_dir, env):
    """A headless run that only ends when signalled (no periodic checkpoints, so every one seen is asked for)."""
    cfg = write_config(tmp_path)
    return popen(
        "train",
        str(cfg),
        "--headless",
        "--run-dir",
        str(run_dir),
        "--set",
        "train.epochs=100000",
        "--set",
        "train.checkpoint_every=0",
        env=env,
    )


def test_sigint_stops_gracefully_with_checkpoint(tmp_path, subprocess_env):
    run_dir = tmp_path / "run"
    proc = start_endless_run(tmp_path, run_dir, subprocess_env)
    try:
        wait_for(run_dir, lambda evs: sum(e.type == "step" for e in evs) >= 5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    events = EventFollower(run_dir).read_all()
    assert events[-1].type == "finished" and events[-1].status == "stopped"
    assert [e for e in events if e.type == "checkpoint"][-1].reason == "stopped"
    assert "checkpoint (stopped)" in out


def test_runs_lists_nothing_and_rejects_a_file(tmp_path, subprocess_env):
    result = cli("runs", str(tmp_path), env=subprocess_env)
    assert result.returncode == 0 and "no runs under" in result.stdout
    (tmp_path / "f").write_text("x")
    result = cli("runs", str(tmp_path / "f"), env=subprocess_env)
    assert result.returncode == 2


def test_train_parser_does_not_import_torch():
    code = (
        "import sys; from tui_trainer.cli import build_parser; build_parser();"
        "import tui_trainer.engine.process, tui_trainer.engine.runs, tui_trainer.engine.follow, tui_trainer.monitor;"
        "bad=[m for m in ('torch','textual','polars') if m in sys.modules]; assert not bad, bad"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, env=os.environ
    )
    assert result.returncode == 0, result.stderr


def test_resume_refuses_a_run_that_is_still_running(tmp_path, subprocess_env):
    from tui_trainer.engine.eventlog import EventLog
    from tui_trainer.engine.events import RunStarted

    run_dir = tmp_path / "run"
    write_config(tmp_path)
    with EventLog(run_dir) as log:  # a run whose writer (this test process) is alive and writing
        log.write(RunStarted(run_id="run", run_dir=str(run_dir), pid=os.getpid(), host=socket.gethostname()))
        result = cli(
            "train", str(tmp_path / "cfg.toml"), "--resume", str(run_dir), "--headless", env=subprocess_env
        )
        assert result.returncode == 2 and "still running" in result.stderr and str(run_dir) in result.stderr
        # A new run into the same folder is refused the same way (one policy: engine.runs.prepare_run_dir).
        result = cli(
            "train", str(tmp_path / "cfg.toml"), "--run-dir", str(run_dir), "--headless", env=subprocess_env
        )
        assert result.returncode == 2 and "still running" in result.stderr


def test_sigusr1_checkpoints_and_sigusr2_pauses(tmp_path, subprocess_env):
    run_dir = tmp_path / "run"
    proc = start_endless_run(tmp_path, run_dir, subprocess_env)
    try:
        wait_for(run_dir, lambda evs: sum(e.type == "step" for e in evs) >= 3)
        proc.send_signal(signal.SIGUSR1)
        wait_for(run_dir, lambda evs: any(e.type == "checkpoint" and e.reason == "manual" for e in evs))
        proc.send_signal(signal.SIGUSR2)
        wait_for(run_dir, lambda evs: any(e.type == "paused" for e in evs))
        proc.send_signal(signal.SIGUSR2)
        wait_for(run_dir, lambda evs: any(e.type == "resumed" for e in evs))
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert EventFollower(run_dir).read_all()[-1].status == "stopped"
