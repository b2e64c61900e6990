"""The Train pane's run picker lists TensorBoard / CSVLogger log folders beside engine runs, and opens them."""

from __future__ import annotations

import dataclasses
import math
import os
import time

import pytest

from tests.panes.fakes_engine import scripted_run
from tests.panes.test_train_pane import wait_until
from tui_trainer.app import make_app
from tui_trainer.engine.events import to_json
from tui_trainer.panes.train import TrainPane

pytest.importorskip("tensorboard")


def write_tensorboard_log(folder, steps: int, walltime0: float) -> None:
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(folder)) as writer:
        for step in range(1, steps + 1):
            wall = walltime0 + step
            writer.add_scalar("train/loss", 2.0 * math.exp(-step / 40), step, walltime=wall)
            writer.add_scalar("train/lr", 1e-3, step, walltime=wall)
    old = time.time() - 3600  # written an hour ago: a finished run
    for f in folder.glob("events.out.tfevents.*"):
        os.utime(f, (old, old))


async def test_the_picker_lists_log_folders_with_engine_runs_and_attaches_the_one_picked(
    tmp_path, monkeypatch
):
    from textual.widgets import OptionList

    from tui_trainer.widgets.run_picker import RunPicker

    monkeypatch.chdir(tmp_path)  # the runs root is ./runs
    engine_run = tmp_path / "runs" / "engine-run"
    engine_run.mkdir(parents=True)
    events = scripted_run(20, run_id="engine-run", finish=True)
    events[0] = dataclasses.replace(events[0], time=time.time() - 7200)  # started two hours ago
    with open(engine_run / "events.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(to_json(e) + "\n" for e in events)
    newest = time.time() - 1800  # the log's run started after the engine run: listed first
    write_tensorboard_log(tmp_path / "runs" / "Dec01_tb-exp", 120, newest)
    write_tensorboard_log(tmp_path / "runs" / "older_tb", 30, time.time() - 86400)

    app = make_app(initial_pane="train")
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, RunPicker)
        await wait_until(pilot, lambda: len(picker.runs) == 3, timeout=30)
        options = picker.query_one(OptionList)
        lines = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert [line.split()[0] for line in lines] == ["Dec01_tb-exp", "engine-run", "older_tb"]
        log_line = lines[0]
        loss = 2.0 * math.exp(-120 / 40)
        assert "finished" in log_line and "step 120" in log_line and f"loss {loss:.4g}"[:9] in log_line
        assert (
            " 28m" in log_line or " 27m" in log_line
        )  # its last step was logged 28 minutes ago, not listed now
        await pilot.press(*"tb-exp")
        await pilot.pause()
        assert [r.run_id for r in picker.shown] == ["Dec01_tb-exp"]
        await pilot.press("enter")
        p = app.query_one(TrainPane)
        await wait_until(pilot, lambda: p.primary is not None and p.runs[p.primary].history.step == 120, timeout=30)
        history = p.runs[p.primary].history
        assert history.latest("train_loss") == pytest.approx(loss, rel=1e-6)
        assert history.steps_per_s() == pytest.approx(1.0)  # one step a second, as logged
