"""Every pane's main states at 80×24, 120×40 and 200×60: nothing that takes focus is off-screen, and no
table holding rows is zero-height (tests/panes/layout.py). One app per state, resized through the sizes."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SAMPLE_DATA
from tests.panes.fakes_engine import FakeEngine, scripted_run
from tests.panes.layout import layout_problems
from tests.panes.test_train_pane import write_events
from tui_trainer.app import make_app
from tui_trainer.panes import train as train_module

SIZES = ((80, 24), (120, 40), (200, 60))
PENGUINS = SAMPLE_DATA / "penguins.csv"


async def _settle(app, pilot, pause: float = 0.0) -> None:
    for _ in range(3):
        await app.workers.wait_for_complete()
        await pilot.pause()
    if pause:
        await pilot.pause(pause)


async def _until(pilot, condition, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("condition not met in time")


def _tone(path: Path) -> Path:
    t = np.arange(4000) / 8000
    pcm = (0.4 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16)
    with wave.open(str(path), "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(8000)
        fh.writeframes(pcm.tobytes())
    return path


async def _data(app, pilot, tmp_path, view: str) -> None:
    app.query_one("#data").open_path(PENGUINS)
    await _settle(app, pilot, 0.3)
    if view == "table":
        await pilot.press("t")
    elif view == "filter":
        await pilot.press("slash", *"sex is null", "enter", "slash")
    await _settle(app, pilot)


async def _augment(app, pilot, tmp_path, kind: str) -> None:
    pane = app.query_one("#augment")
    await _settle(app, pilot)
    path = {
        "image": None,
        "text": SAMPLE_DATA / "text" / "sentences.csv",
        "audio": _tone(tmp_path / "t.wav"),
    }[kind]
    if path is not None:
        pane.open_path(path)
    await _settle(app, pilot, 0.2)
    assert pane.kind == kind


async def _train(app, pilot, tmp_path, state: str) -> None:
    pane = app.query_one("#train")
    if state == "live":
        pane.start_run(Path("cfg.toml"))
        await _until(pilot, lambda: pane.primary and pane.runs[pane.primary].history.step == 60)
    elif state == "overlaid":
        for name, scale in (("baseline", 1.0), ("wider", 0.7)):
            (tmp_path / name).mkdir()
            write_events(tmp_path / name, scripted_run(80, run_id=name, loss_scale=scale, finish=True))
        pane.attach(tmp_path / "baseline")
        pane.overlay(tmp_path / "wider")
        await _until(
            pilot,
            lambda: len(pane.runs) == 2 and all(s.history.status == "completed" for s in pane.runs.values()),
        )
    else:  # the collapse lab, before and after a small run
        await pilot.press("v")
        await pilot.pause()
        if state == "lab-after":
            for field, value in (("generations", "4"), ("repeats", "5"), ("samples", "40")):
                app.query_one(f"#collapse-{field}").value = value
            await pilot.press("r")
            await _settle(app, pilot)
    await pilot.pause(0.3)


STATES = {
    "env-audited": ("env", None),
    "data-findings": ("data", lambda a, p, t: _data(a, p, t, "profile")),
    "data-table": ("data", lambda a, p, t: _data(a, p, t, "table")),
    "data-filter": ("data", lambda a, p, t: _data(a, p, t, "filter")),
    "augment-image": ("augment", lambda a, p, t: _augment(a, p, t, "image")),
    "augment-text": ("augment", lambda a, p, t: _augment(a, p, t, "text")),
    "augment-audio": ("augment", lambda a, p, t: _augment(a, p, t, "audio")),
    "train-live": ("train", lambda a, p, t: _train(a, p, t, "live")),
    "train-overlaid": ("train", lambda a, p, t: _train(a, p, t, "overlaid")),
    "lab-before": ("train", lambda a, p, t: _train(a, p, t, "lab-before")),
    "lab-after": ("train", lambda a, p, t: _train(a, p, t, "lab-after")),
}


@pytest.mark.parametrize("state", list(STATES))
async def test_no_control_off_screen_and_no_empty_table_at_three_sizes(state, tmp_path, monkeypatch):
    monkeypatch.setattr(
        train_module, "launch_engine", lambda *_a: (FakeEngine(scripted_run()), tmp_path / "run-live")
    )
    pane_id, setup = STATES[state]
    app = make_app(initial_pane=pane_id)
    async with app.run_test(size=SIZES[1]) as pilot:
        await _settle(app, pilot)
        if setup is not None:
            await setup(app, pilot, tmp_path)
        found = {}
        for size in SIZES:
            await pilot.resize_terminal(*size)
            await pilot.pause(0.1)
            await pilot.pause()
            if problems := layout_problems(app):
                found[size] = problems
        assert found == {}, f"{state}: {found}"
