"""`attach` and `runs` as a user meets them: status by the one rule, bad lines skipped and counted, no Textual for --json."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO_ROOT
from tests.engine.conftest import write_config
from tests.engine.test_cli import cli, start_endless_run, wait_for
from tui_trainer.engine.config import load_config
from tui_trainer.engine.loop import run_training


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    """A finished real run (tiny MLP, one epoch) whose events.jsonl the tests damage in copies."""
    import torch

    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("attach-src")
    cfg = write_config(folder)
    result = run_training(load_config(cfg, ["train.epochs=1"]), folder / "run", emit=None)
    assert result.status == "completed"
    return (folder / "run" / "events.jsonl").read_bytes()


def make_copy(tmp_path, name, data: bytes):
    run_dir = tmp_path / name
    run_dir.mkdir()
    (run_dir / "events.jsonl").write_bytes(data)
    return run_dir


def test_attach_json_does_not_import_textual(tmp_path, real_run, subprocess_env):
    run_dir = make_copy(tmp_path, "run", real_run)
    code = (
        "import sys; from tui_trainer.cli import main; rc = main(['attach', '--json', sys.argv[1]]);"
        "bad = [m for m in ('textual', 'torch') if m in sys.modules]; assert not bad, bad; sys.exit(rc)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(run_dir)],
        capture_output=True,
        text=True,
        env=subprocess_env,
        cwd=REPO_ROOT,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["status"] == "completed"


def test_a_16mb_garbage_line_does_not_stop_the_summary_of_a_finished_run(tmp_path, real_run, subprocess_env):
    lines = real_run.splitlines(keepends=True)
    garbage = b"\x01garbage" * (2 * 1024 * 1024) + b"\n"  # 16 MiB, one line
    data = b"".join(lines[:-1]) + garbage + lines[-1] + b'{"type":"step","step":"x","epoch":0,"loss":1}\n'
    run_dir = make_copy(tmp_path, "run", data)
    t0 = time.monotonic()
    result = cli("attach", "--summary", str(run_dir), env=subprocess_env)
    assert result.returncode == 0, result.stderr
    assert f"{run_dir}: completed" in result.stdout
    assert "2 malformed line(s)" in result.stdout and "ETA" not in result.stdout
    listing = cli("runs", str(tmp_path), "--json", env=subprocess_env)
    (info,) = json.loads(listing.stdout)
    assert info["status"] == "finished" and info["skipped_lines"] >= 1
    assert time.monotonic() - t0 < 30


def test_one_deeply_nested_line_never_breaks_runs_for_the_others(tmp_path, real_run, subprocess_env):
    make_copy(tmp_path, "good", real_run)
    nested = b'{"type":"log","message":"m","extra":' + b"[" * 200_000 + b"]" * 200_000 + b"}\n"
    make_copy(tmp_path, "bad", real_run[: len(real_run) // 2].rsplit(b"\n", 1)[0] + b"\n" + nested)
    result = cli("runs", str(tmp_path), env=subprocess_env)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert "finished" in rows["good"] and "killed" in rows["bad"]
    summary = cli("attach", "--json", str(tmp_path / "bad"), str(tmp_path / "good"), env=subprocess_env)
    assert summary.returncode == 0, summary.stderr
    bad, good = json.loads(summary.stdout)
    assert bad["skipped_lines"] == 1 and bad["status"] == "killed" and good["status"] == "completed"


def test_a_sigkilled_headless_run_is_killed_in_attach_and_runs(tmp_path, subprocess_env):
    run_dir = tmp_path / "run"
    proc = start_endless_run(tmp_path, run_dir, subprocess_env)
    try:
        wait_for(run_dir, lambda evs: sum(e.type == "step" for e in evs) >= 5)
        live = cli("attach", "--summary", str(run_dir), env=subprocess_env)
        assert f"{run_dir}: running" in live.stdout
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    summary = cli("attach", "--summary", str(run_dir), env=subprocess_env)
    assert summary.returncode == 0, summary.stderr
    assert f"{run_dir}: killed" in summary.stdout and "ETA" not in summary.stdout
    assert "--resume" in summary.stdout
    listing = cli("runs", str(tmp_path), "--json", env=subprocess_env)
    assert json.loads(listing.stdout)[0]["status"] == "killed"


async def test_the_train_pane_shows_an_attached_run_whose_writer_died_as_killed(
    tmp_path, real_run, monkeypatch
):
    from tui_trainer.app import make_app
    from tui_trainer.panes import train_bridge
    from tui_trainer.panes.train import TrainPane

    monkeypatch.setattr(train_bridge.FollowSource, "LIVENESS_INTERVAL_S", 0.2)
    # The real run without its last line: no end event, and nobody holds events.jsonl (its writer is gone).
    run_dir = make_copy(tmp_path, "run", b"".join(real_run.splitlines(keepends=True)[:-1]))

    app = make_app(initial_pane="train")
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(TrainPane)
        pane.attach(run_dir)
        deadline = time.monotonic() + 20
        while not (pane.primary and pane.runs[pane.primary].history.status == "killed"):
            assert time.monotonic() < deadline, "the attached run never became killed"
            await pilot.pause(0.05)
        await pilot.pause(0.4)
        header = str(pane.query_one("#run-header").render())
        assert "[killed]" in header and "ETA" not in header
