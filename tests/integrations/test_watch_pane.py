"""`w` in the Train pane: a typed command line is watched as a live run (a real script, a real watch process)."""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

from tui_trainer.app import make_app
from tui_trainer.panes.train import TrainPane

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
    import time
    from tui_trainer import monitor
    print("hello from the script", flush=True)
    with monitor.start() as run:
        for step in range(1, 31):
            run.log(step=step, loss=1.0 / step)
            time.sleep(0.01)
"""


async def wait_until(pilot, predicate, timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.1)


async def test_w_watches_a_typed_command_as_a_live_run(tmp_path, monkeypatch):
    (tmp_path / "train.py").write_text(textwrap.dedent(SCRIPT))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    app = make_app(initial_pane="train")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("w")
        await pilot.pause()
        from textual.widgets import Input

        prompt = app.screen.query_one(Input)
        assert prompt.value == "python train.py"  # nothing watched yet: the usual command
        await pilot.press("enter")
        pane = app.query_one(TrainPane)
        await wait_until(pilot, lambda: pane.primary and pane.runs[pane.primary].history.is_over)
        slot = pane.runs[pane.primary]
        assert slot.live and slot.history.step == 30 and slot.history.status == "completed"
        assert "hello from the script" in list(slot.history.logs)
        assert slot.run_dir.parent == Path("runs") and slot.run_dir.name.startswith("train-")

    # The command is remembered: the next prompt starts with it.
    from tui_trainer.integrations.watch import last_command

    assert last_command() == "python train.py"


async def test_attach_takes_a_folder_of_tensorboard_runs(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    for name, n in (("first", 30), ("second", 50)):
        with SummaryWriter(str(tmp_path / "logs" / name)) as writer:
            for i in range(1, n + 1):
                writer.add_scalar("train/loss", 1.0 / i, i)
                writer.add_scalar("val_loss", 2.0 / i, i)
    app = make_app(initial_pane="train")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        pane = app.query_one(TrainPane)
        pane.attach(tmp_path / "logs")  # what `a` does with the folder chosen in its picker
        await wait_until(pilot, lambda: sorted(s.history.step or 0 for s in pane.runs.values()) == [30, 50])
        labels = sorted(s.history.run_id for s in pane.runs.values())
        assert labels == ["first", "second"]
        assert all(not s.live for s in pane.runs.values())


async def test_s_interrupts_a_watched_command_and_k_kills_it_after_asking(tmp_path, monkeypatch):
    script = """
        import signal, subprocess, time
        from pathlib import Path
        Path("child.pid").write_text(str(subprocess.Popen(["sleep", "60"]).pid))
        signal.signal(signal.SIGINT, lambda *a: print("SIGINT ignored", flush=True))
        print("running", flush=True)
        while True:
            time.sleep(0.05)
    """
    (tmp_path / "stubborn.py").write_text(textwrap.dedent(script))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    app = make_app(initial_pane="train")
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(TrainPane)
        pane.start_run(None, watch="python stubborn.py")
        await wait_until(
            pilot, lambda: pane.primary and "running" in list(pane.runs[pane.primary].history.logs)
        )
        slot = pane.runs[pane.primary]
        await pilot.press("s")
        await wait_until(pilot, lambda: "SIGINT ignored" in list(slot.history.logs))
        assert slot.bridge.is_alive()
        await pilot.press("k")
        await pilot.pause()
        await pilot.press("n")  # asked first: "no" leaves it running
        await pilot.pause(0.5)
        assert slot.bridge.is_alive()
        await pilot.press("k")
        await pilot.pause()
        await pilot.press("y")
        await wait_until(pilot, lambda: slot.history.is_over)
        assert slot.history.status == "failed" and "killed" in slot.history.failure.error
        import psutil

        grandchild = int((tmp_path / "child.pid").read_text())
        await wait_until(
            pilot,
            lambda: (
                not psutil.pid_exists(grandchild)
                or psutil.Process(grandchild).status() == psutil.STATUS_ZOMBIE
            ),
            10,
        )
