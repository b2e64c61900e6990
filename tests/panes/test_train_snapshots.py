"""SVG snapshots of the Train pane with scripted runs (fixed times, fake telemetry): one live run, two overlaid."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.panes.fakes_engine import FakeEngine, scripted_run
from tests.panes.test_train_pane import wait_until, write_events
from tui_trainer.app import make_app
from tui_trainer.panes import train as train_module
from tui_trainer.panes.train import TrainPane
from tui_trainer.widgets.findings_table import FindingsTable

SIZE = (120, 40)


def settle(pane: TrainPane) -> None:
    """Fix what depends on timing rather than on the run: toasts (they expire), focus (it picks the footer keys)."""
    pane.app.clear_notifications()
    pane.query_one(FindingsTable).focus()
    pane.screen.refresh_bindings()
    pane.redraw(charts=True)


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)], ids=["80x24", "120x40", "200x60"])
def test_snapshot_live_run(snap_compare, monkeypatch, size):
    monkeypatch.setattr(
        train_module, "launch_engine", lambda *_a: (FakeEngine(scripted_run()), Path("runs/demo"))
    )
    app = make_app(theme="textual-dark", initial_pane="train")

    async def run_before(pilot) -> None:
        pane = app.query_one(TrainPane)
        pane.start_run(Path("sample_data/configs/tabular.toml"))
        await wait_until(pilot, lambda: pane.primary and pane.runs[pane.primary].history.step == 60)
        settle(pane)
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_snapshot_two_runs_overlaid(snap_compare, tmp_path):
    dirs = []
    for name, scale in (("baseline", 1.0), ("wider", 0.7)):
        d = tmp_path / name
        d.mkdir()
        write_events(
            d, scripted_run(80, run_id=name, loss_scale=scale, finish=True, diagnostics=name == "wider")
        )
        dirs.append(d)
    app = make_app(theme="textual-dark", initial_pane="train")

    async def run_before(pilot) -> None:
        pane = app.query_one(TrainPane)
        pane.attach(dirs[0])
        pane.overlay(dirs[1])
        await wait_until(
            pilot,
            lambda: len(pane.runs) == 2 and all(s.history.status == "completed" for s in pane.runs.values()),
        )
        settle(pane)
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_snapshot_collapse_lab_view(snap_compare):
    """`v` shows the collapse lab (issue 7) in place of the monitor, focus inside it so its keys work."""
    app = make_app(theme="textual-dark", initial_pane="train")

    async def run_before(pilot) -> None:
        await pilot.pause()
        await pilot.press("v")
        await pilot.pause(0.3)
        pane = app.query_one(TrainPane)
        assert pane.query_one("#train-views").current == "collapse-lab"
        assert app.focused is not None and pane.query_one("#collapse-lab") in app.focused.ancestors

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
