"""Quitting with a live run: d leaves the engine training (attachable after the app is gone), s stops it and the
app still quits at once (the engine writes its checkpoint and ends on its own). Real engine, tiny sample run.

The app runs under Pilot in a child interpreter, so its exit is a real one (multiprocessing's exit handler
included) and the test can watch the engine outlive it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, SAMPLE_DATA

DRIVER = r"""
import asyncio, json, sys, time
from pathlib import Path
from tui_trainer.app import make_app
from tui_trainer.panes.train import TrainPane
from tui_trainer.quit_dialog import QuitLiveRunScreen

config, run_dir, choice = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]

async def main():
    app = make_app(initial_pane="train")
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(TrainPane)
        pane.start_run(config, ("train.epochs=100000", "model.hidden=[8]"), run_dir)
        for _ in range(1500):  # until the engine has reported a few steps
            await pilot.pause(0.02)
            slot = pane.live_slot()
            if slot is not None and (slot.history.step or 0) >= 20:
                break
        assert pane.live_slot() is not None, "the run never got going"
        app.set_focus(None)
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, QuitLiveRunScreen), app.screen
        question = str(app.screen.query_one("#confirm-question").render())
        pressed = time.monotonic()
        await pilot.press(choice)
        for _ in range(100):
            if not app.is_running:
                break
            await pilot.pause(0.01)
    print(json.dumps({
        "quit_s": time.monotonic() - pressed, "question": question, "code": app.return_code,
        "farewell": app.farewell,
    }))

asyncio.run(main())
"""


def events(run_dir: Path) -> list[dict]:
    path = run_dir / "events.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return [json.loads(line) for line in lines if line.strip()]


def engine_pid(run_dir: Path) -> int:
    return next(e["pid"] for e in events(run_dir) if e["type"] == "run_started")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    import psutil

    return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE


def quit_with(choice: str, run_dir: Path, env: dict[str, str]) -> dict:
    """Run the driver; wait for its own exit (files, not pipes: the engine it leaves behind would keep a pipe
    open, as multiprocessing's resource tracker does with the terminal)."""
    config = SAMPLE_DATA / "configs" / "tabular.toml"
    out, err = run_dir.parent / "driver.out", run_dir.parent / "driver.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-c", DRIVER, str(config), str(run_dir), choice],
            cwd=REPO_ROOT,
            env={**env, "OMP_NUM_THREADS": "1"},
            stdout=stdout,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
        )
        try:
            code = proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert code == 0, err.read_text()[-3000:]
    return json.loads(out.read_text().strip().splitlines()[-1])


@pytest.fixture
def run_dir(tmp_path):
    path = tmp_path / "run"
    yield path
    try:  # never leave a training process behind
        os.kill(engine_pid(path), signal.SIGKILL)
    except (StopIteration, ProcessLookupError, FileNotFoundError):
        pass


def test_detach_leaves_the_engine_training_and_attach_sees_it_live(run_dir, subprocess_env):
    answer = quit_with("d", run_dir, subprocess_env)
    assert "[d]etach" in answer["question"] and f"tui-trainer attach {run_dir}" in answer["question"]
    assert answer["code"] == 0 and answer["quit_s"] < 2.0  # no wait on the engine
    assert f"tui-trainer attach {run_dir}" in answer["farewell"]  # printed once the terminal is back
    pid = engine_pid(run_dir)
    assert alive(pid), "the detached engine ended with the app"
    # Its own session: a terminal closing (SIGHUP to the app's session) does not reach it.
    assert os.getsid(pid) == pid and os.getsid(pid) != os.getsid(0)
    before = len(events(run_dir))
    deadline = time.monotonic() + 20
    while len(events(run_dir)) <= before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(events(run_dir)) > before, "the detached run stopped writing events"
    summary = subprocess.run(
        [sys.executable, "-m", "tui_trainer", "attach", "--json", str(run_dir)],
        cwd=REPO_ROOT,
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert summary.returncode == 0, summary.stderr
    assert json.loads(summary.stdout)[0]["status"] == "running"


def test_stop_quits_at_once_and_the_engine_checkpoints_and_ends_on_its_own(run_dir, subprocess_env):
    answer = quit_with("s", run_dir, subprocess_env)
    assert answer["code"] == 0 and answer["quit_s"] < 2.0  # the app did not wait for the checkpoint
    pid = engine_pid(run_dir)
    deadline = time.monotonic() + 60
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(pid), "the stopped engine kept running"
    kinds = [e["type"] for e in events(run_dir)]
    finished = [e for e in events(run_dir) if e["type"] == "finished"]
    assert finished and finished[-1]["status"] == "stopped"
    assert "checkpoint" in kinds[kinds.index("run_started") :]
    checkpoint = next(e for e in reversed(events(run_dir)) if e["type"] == "checkpoint")
    assert (run_dir / checkpoint["path"]).exists() or Path(checkpoint["path"]).exists()
