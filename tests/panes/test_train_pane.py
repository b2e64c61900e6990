"""Train pane, driven by a FakeEngine through the real bridge: start, commands, diagnostics, failure, attach, overlay."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.panes.fakes_engine import T0, FakeEngine, scripted_run
from tui_trainer.app import make_app
from tui_trainer.engine.events import Failed, Finished, RunStarted, Step, to_json
from tui_trainer.panes import train as train_module
from tui_trainer.panes.train import TrainPane
from tui_trainer.panes.train_bridge import RunEvents
from tui_trainer.quit_dialog import QuitLiveRunScreen
from tui_trainer.screens import ConfirmScreen
from tui_trainer.widgets.chart import Chart
from tui_trainer.widgets.findings_table import FindingsTable
from tui_trainer.widgets.gpu_view import GpuView


async def wait_until(pilot, condition, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.02)
    # The pane repaints on its timer: wait until it has repainted what made the condition true (a fixed
    # pause was one timer period, which a loaded machine can miss).
    while any(p._dirty for p in pilot.app.query(TrainPane)) and loop.time() < deadline:
        await pilot.pause(0.02)
    await pilot.pause(train_module.REDRAW_INTERVAL_S + 0.05)  # let the redraw timer run once more


@pytest.fixture
def fake_launch(monkeypatch, tmp_path):
    """Replace the engine spawn with a FakeEngine; returns a dict the test fills with the engine to hand out."""
    state: dict = {"engine": FakeEngine(scripted_run()), "launches": []}

    def launch(config_path, overrides, run_dir, resume):
        state["launches"].append((config_path, overrides, run_dir, resume))
        return state["engine"], tmp_path / "run-live"

    monkeypatch.setattr(train_module, "launch_engine", launch)
    return state


def pane(app) -> TrainPane:
    return app.query_one(TrainPane)


async def test_new_run_key_prompts_with_the_default_config_and_shows_the_run(fake_launch):
    app = make_app(initial_pane="train")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("n")
        await pilot.pause()
        from textual.widgets import Input

        assert app.screen.query_one(Input).value == "sample_data/configs/tabular.toml"
        await pilot.press("enter")
        p = pane(app)
        await wait_until(pilot, lambda: p.primary and p.runs[p.primary].history.step == 60)
        assert fake_launch["launches"][0][0] == Path("sample_data/configs/tabular.toml")
        header = str(p.query_one("#run-header").render())
        assert "step 60/200" in header and "running" in header
        assert "10.0 steps/s" in header  # from the scripted event times
        loss = p.query_one("#loss-chart", Chart)
        # The charts catch up on their own (at most every CHART_INTERVAL_S), with no further events.
        await wait_until(pilot, lambda: sum(len(s.points) for s in loss.series) == 60 + 3)
        assert [s.label for s in loss.series] == ["train", "val"]
        assert loss.series[0].points and loss.series[1].points
        assert p.busy_reason() is not None


async def test_pause_resume_stop_and_checkpoint_go_to_the_handle(fake_launch):
    engine = fake_launch["engine"]
    app = make_app(initial_pane="train")
    async with app.run_test(size=(120, 40)) as pilot:
        p = pane(app)
        p.start_run(Path("cfg.toml"))
        await wait_until(pilot, lambda: p.primary and p.runs[p.primary].history.step == 60)
        await pilot.press("p")
        await wait_until(pilot, lambda: p.runs[p.primary].history.status == "paused")
        assert "[paused]" in str(p.query_one("#run-header").render())
        await pilot.press("p")
        await wait_until(pilot, lambda: p.runs[p.primary].history.status == "running")
        await pilot.press("c")
        await wait_until(pilot, lambda: p.runs[p.primary].history.last_checkpoint is not None)
        await pilot.press("s")
        await wait_until(pilot, lambda: p.runs[p.primary].history.status == "stopped")
        assert engine.calls == ["pause", "resume", "checkpoint", "stop"]
        assert p.busy_reason() is None
        assert "stopped" in str(p.query_one("#run-header").render())


async def test_commands_without_a_live_run_warn_instead_of_failing(fake_launch):
    app = make_app(initial_pane="train")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("p", "s", "c")
        await pilot.pause()
        assert fake_launch["engine"].calls == []
        assert any("No live run" in n.message for n in app._notifications)


async def test_diagnostics_and_gpu_processes_are_shown(fake_launch):
    app = make_app(initial_pane="train")
    async with app.run_test(size=(120, 40)) as pilot:
        p = pane(app)
        p.start_run(Path("cfg.toml"))
        await wait_until(pilot, lambda: p.query_one(FindingsTable).findings)
        finding = p.query_one(FindingsTable).findings[0]
        assert finding.id == "overfitting" and "regularisation" in finding.fix
        gpu_text = str(p.query_one(GpuView).render_text())
        assert "NVIDIA H100" in gpu_text and "87%" in gpu_text
        assert "▶    4242 python" in gpu_text and "alice" in gpu_text and "18.0 GiB (training)" in gpu_text
        assert "312 W/700 W" in gpu_text and "61°C" in gpu_text and "20.0/80.0 GiB" in gpu_text
        assert "     999 jupyter" in gpu_text and "2.0 GiB\n" in gpu_text


async def test_failed_run_is_shown_without_crashing_the_app(fake_launch):
    fake_launch["engine"] = FakeEngine(
        scripted_run(5, diagnostics=False)
        + [
            Failed(
                error="CUDA out of memory. Tried to allocate 2.00 GiB",
                traceback="Traceback\nRuntimeError: CUDA out of memory",
                step=5,
                time=T0 + 9,
            )
        ]
    )
    app = make_app(initial_pane="train")
    messages = []
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        p = pane(app)
        p.start_run(Path("cfg.toml"))
        await wait_until(pilot, lambda: p.primary and p.runs[p.primary].history.status == "failed")
        assert "[failed]" in str(p.query_one("#run-header").render())
        ids = [f.id for f in p.query_one(FindingsTable).findings]
        assert ids == ["run_failed"]
        assert any("CUDA out of memory" in n.message for n in app._notifications)
        assert p.busy_reason() is None
        # The app still answers keys.
        await pilot.press("l")
        assert p.query_one("#loss-chart", Chart).log_scale
    # The failure reached the pane once, inside a RunEvents batch (never re-posted as another message).
    failed = [e for m in messages if isinstance(m, RunEvents) for e in m.events if isinstance(e, Failed)]
    assert len(failed) == 1


async def test_engine_dying_without_a_last_event_is_reported(fake_launch):
    engine = FakeEngine(scripted_run(10, diagnostics=False))
    fake_launch["engine"] = engine
    app = make_app(initial_pane="train")
    async with app.run_test(size=(120, 40)) as pilot:
        p = pane(app)
        p.start_run(Path("cfg.toml"))
        await wait_until(pilot, lambda: p.primary and p.runs[p.primary].history.step == 10)
        engine.crash(-9)
        # Worded once, by engine.process (as the live handle does): status killed, as `runs` would say.
        await wait_until(pilot, lambda: p.runs[p.primary].history.status == "killed")
        assert "killed by SIGKILL" in p.runs[p.primary].history.failure.error
        assert any("SIGKILL" in n.message for n in app._notifications)


async def test_launch_error_is_a_notification_naming_the_key(monkeypatch):
    from tui_trainer.engine.config import ConfigError

    def launch(*_args):
        raise ConfigError("cfg.toml: `optim.lr` must be a float, got 'fast'")

    monkeypatch.setattr(train_module, "launch_engine", launch)
    app = make_app(initial_pane="train")
    async with app.run_test(size=(120, 40)) as pilot:
        pane(app).start_run(Path("cfg.toml"))
        await wait_until(pilot, lambda: any("optim.lr" in n.message for n in app._notifications))
        assert pane(app).runs == {}
        assert not pane(app)._launching  # a failed start does not block the next one


async def test_a_second_start_while_one_is_starting_is_refused(monkeypatch, tmp_path):
    import threading

    gate = threading.Event()
    launches = []

    def slow_launch(*args):
        launches.append(args)
        gate.wait(5)
        return FakeEngine(scripted_run(3, finish=True)), tmp_path / "run"

    monkeypatch.setattr(train_module, "launch_engine", slow_launch)
    app = make_app(initial_pane="train")
    async with app.run_test(size=(120, 40)) as pilot:
        p = pane(app)
        p.start_run(Path("cfg.toml"))
        p.start_run(Path("cfg.toml"))
        await pilot.pause()
        assert any("already starting" in n.message for n in app._notifications)
        gate.set()
        await wait_until(pilot, lambda: p.primary and p.runs[p.primary].history.status == "completed")
        assert len(launches) == 1 and len(p.runs) == 1


async def test_quit_asks_while_a_run_is_live(fake_launch):
    fake_launch["engine"] = FakeEngine(scripted_run(5))
    app = make_app(initial_pane="train")
    async with app.run_test(size=(120, 40)) as pilot:
        p = pane(app)
        p.start_run(Path("cfg.toml"))
        await wait_until(pilot, lambda: p.primary and p.runs[p.primary].history.step == 5)
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, QuitLiveRunScreen)  # detach / stop / cancel
        await pilot.press("c")
        await pilot.pause()
        assert not isinstance(app.screen, QuitLiveRunScreen) and app.is_running
        await pilot.press("q")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, QuitLiveRunScreen) and app.is_running
        assert fake_launch["engine"].calls == []  # cancelling neither stops nor detaches the run


@pytest.mark.parametrize(("key", "calls"), [("s", ["stop"]), ("d", [])])
async def test_quitting_with_a_live_run_stops_or_leaves_it_and_exits_at_once(fake_launch, key, calls):
    fake_launch["engine"] = FakeEngine(scripted_run(5))
    app = make_app(initial_pane="train")
    async with app.run_test(size=(120, 40)) as pilot:
        p = pane(app)
        p.start_run(Path("cfg.toml"))
        await wait_until(pilot, lambda: p.primary and p.runs[p.primary].history.step == 5)
        await pilot.press("q")
        await pilot.pause()
        await pilot.press(key)
        await pilot.pause()
        assert fake_launch["engine"].calls == calls  # sent before the app goes; nothing waited on
    assert app.return_code == 0
    assert fake_launch["engine"].calls == calls  # unmounting did not stop a detached run after all


def write_events(path: Path, events) -> None:
    with open(path / "events.jsonl", "a", encoding="utf-8") as fh:
        for event in events:
            fh.write(to_json(event) + "\n")


async def test_attach_follows_a_file_written_while_the_app_runs(tmp_path):
    run_dir = tmp_path / "run-a"
    run_dir.mkdir()
    events = scripted_run(40, finish=True)
    write_events(run_dir, events[:10])
    app = make_app(initial_pane="train")
    async with app.run_test(size=(120, 40)) as pilot:
        p = pane(app)
        p.attach(run_dir)
        await wait_until(pilot, lambda: p.primary and p.runs[p.primary].history.step == 9)
        assert p.busy_reason() is None  # attached runs never block quitting
        write_events(run_dir, events[10:30])
        await wait_until(
            pilot, lambda: p.runs[p.primary].history.step is not None and p.runs[p.primary].history.step >= 28
        )
        # A half-written line waits for its end.
        with open(run_dir / "events.jsonl", "a", encoding="utf-8") as fh:
            rest = "".join(to_json(e) + "\n" for e in events[30:])
            fh.write(rest[:25])
            fh.flush()
            await pilot.pause(0.4)
            assert p.runs[p.primary].history.status == "running"
            fh.write(rest[25:])
        await wait_until(pilot, lambda: p.runs[p.primary].history.status == "completed")
        assert "attached" in str(p.query_one("#run-header").render())
        # Commands are for live runs only.
        await pilot.press("s")
        assert any("No live run" in n.message for n in app._notifications)


async def test_attach_to_a_missing_folder_says_so(tmp_path):
    app = make_app(initial_pane="train")
    async with app.run_test(size=(120, 40)) as pilot:
        pane(app).attach(tmp_path / "nope")
        await pilot.pause()
        assert any("nope: no such run folder" in n.message for n in app._notifications)
        assert pane(app).runs == {}


async def test_overlay_draws_two_runs_on_one_chart(tmp_path):
    a, b = tmp_path / "run-a", tmp_path / "run-b"
    for d, scale in ((a, 1.0), (b, 2.0)):
        d.mkdir()
        write_events(d, scripted_run(40, run_id=d.name, loss_scale=scale, finish=True))
    app = make_app(initial_pane="train")
    async with app.run_test(size=(120, 40)) as pilot:
        p = pane(app)
        p.attach(a)
        await pilot.pause()
        await pilot.press("o")
        await pilot.pause()
        from textual.widgets import Input

        prompt = app.screen.query_one(Input)
        prompt.value = str(b)
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: len(p.runs) == 2 and all(s.history.status == "completed" for s in p.runs.values())
        )
        chart = p.query_one("#loss-chart", Chart)
        await wait_until(pilot, lambda: len(chart.series) == 4 and len(chart.series[2].points) == 40)
        labels = [s.label for s in chart.series]
        assert labels == ["run-a train", "run-a val", "run-b train", "run-b val"]
        colors = {s.label: s.color for s in chart.series}
        assert colors["run-a train"] != colors["run-b train"]
        # The primary run (the header) stays the one attached first.
        assert "run-a" in str(p.query_one("#run-header").render())
        assert max(pt[3] for pt in chart.series[2].points) > max(pt[3] for pt in chart.series[0].points)
        # x takes the overlays off the charts and stops following them.
        overlay = next(s for s in p.runs.values() if s.history.label == "run-b")
        await pilot.press("x")
        await pilot.pause()
        assert [s.label for s in chart.series] == ["train", "val"]
        assert list(p.runs) == [p.primary] and p.runs[p.primary].history.label == "run-a"
        await wait_until(pilot, lambda: overlay.worker.is_finished)


async def test_a_burst_of_ten_thousand_events_costs_a_bounded_number_of_redraws(fake_launch):
    burst = [Step(step=i, epoch=0, loss=1.0 / i, lr=0.01, time=T0 + i * 1e-4) for i in range(1, 10_001)]
    engine = FakeEngine(burst, chunk=500, hold=True)
    fake_launch["engine"] = engine
    app = make_app(initial_pane="train")
    messages = []
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        p = pane(app)
        p.start_run(Path("cfg.toml"))
        await wait_until(pilot, lambda: p.primary is not None)
        chart = p.query_one("#loss-chart", Chart)
        redraws0, renders0 = p.redraws, chart.render_count
        loop = asyncio.get_running_loop()
        started = loop.time()
        engine.release()
        await wait_until(pilot, lambda: p.runs[p.primary].history.step == 10_000, timeout=20)
        elapsed = loop.time() - started
        # ≤ 10 redraws a second of burst (+2 for the timer tick at each end), never one per event or per batch;
        # the chart, most of the screen, at most every CHART_INTERVAL_S.
        assert p.redraws - redraws0 <= 10 * elapsed + 2
        assert chart.render_count - renders0 <= elapsed / train_module.CHART_INTERVAL_S + 2
        await wait_until(pilot, lambda: chart.series and chart.series[0].points[-1][0] > 9_000)
        assert p.runs[p.primary].history.steps_seen == 10_000
    batches = [m for m in messages if isinstance(m, RunEvents)]
    assert sum(len(m.events) for m in batches) == 10_000
    assert len(batches) <= 20 + 1


async def test_event_batches_are_never_coalesced():
    from tui_trainer.engine.events import Checkpoint

    a = RunEvents("k", (Step(step=1, epoch=0, loss=1.0), Checkpoint(step=1, path="a")))
    b = RunEvents("k", (Step(step=2, epoch=0, loss=1.0), Finished(step=2)))
    assert not b.can_replace(a) and not a.can_replace(b)


async def test_log_scale_key_toggles_the_loss_chart_only():
    """Losses span decades; accuracy in [0, 1] (and the collapse lab's charts, with their own `l`) stay linear."""
    app = make_app(initial_pane="train")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("l")
        charts = {c.id: c.log_scale for c in pane(app).query(Chart)}
        assert charts.pop("loss-chart") is True and not any(charts.values())
        await pilot.press("l")
        assert not any(c.log_scale for c in pane(app).query(Chart))


async def test_v_switches_between_monitor_and_collapse_lab():
    from textual.widgets import ContentSwitcher

    app = make_app(initial_pane="train")
    async with app.run_test(size=(120, 40)) as pilot:
        switcher = pane(app).query_one("#train-views", ContentSwitcher)
        assert switcher.current == "train-monitor"
        await pilot.pause()
        await pilot.press("v")
        assert switcher.current == "collapse-lab"
        await pilot.pause()
        await pilot.press("v")
        assert switcher.current == "train-monitor"


async def test_every_train_key_is_in_the_palette_and_help():
    app = make_app(initial_pane="train")
    async with app.run_test(size=(120, 40)):
        sections = dict(app.key_sections())
        keys = {k for k, _ in sections["Train pane"]}
        assert {"n", "p", "s", "c", "a", "o", "x", "l", "e", "v"} <= keys
        titles = [cmd.title for cmd in app.get_system_commands(app.screen)]
        assert "Train: Overlay another run" in titles and "Train: Pause / resume the run" in titles


def test_launch_engine_rejects_a_bad_config_naming_the_key(tmp_path):
    from tui_trainer.engine.config import ConfigError

    config = tmp_path / "bad.toml"
    config.write_text('[data]\npath = "x.csv"\n[optim]\nlr = "fast"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="optim.lr|lr"):
        train_module.launch_engine(config, (), tmp_path / "run", False)
    assert not (tmp_path / "run").exists()  # nothing spawned, nothing written


def test_launch_engine_never_reuses_a_folder_holding_a_run(tmp_path):
    from tui_trainer.errors import UserError

    config = tmp_path / "ok.toml"
    config.write_text('[data]\npath = "x.csv"\n', encoding="utf-8")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    # A folder holding a run that started (the same rule as `train --run-dir`: engine.runs.prepare_run_dir).
    started = RunStarted(run_id="run", run_dir=str(run_dir), pid=2**22 + 12345, time=1.0)
    (run_dir / "events.jsonl").write_text(to_json(started) + "\n", encoding="utf-8")
    with pytest.raises(UserError, match="already holds a run"):
        train_module.launch_engine(config, (), run_dir, False)
    with pytest.raises(UserError, match="no such run folder"):
        train_module.launch_engine(None, (), tmp_path / "missing", True)


async def test_quitting_with_a_live_run_stops_it_with_a_checkpoint(fake_launch):
    engine = FakeEngine(scripted_run(5))
    fake_launch["engine"] = engine
    app = make_app(initial_pane="train")
    async with app.run_test(size=(120, 40)) as pilot:
        p = pane(app)
        p.start_run(Path("cfg.toml"))
        await wait_until(pilot, lambda: p.primary and p.runs[p.primary].history.step == 5)
        await pilot.press("q")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
    assert engine.calls == ["stop"]


TABULAR = """[data]
path = "../penguins.csv"
label = "species"

[optim]
lr = 0.003
"""


async def test_config_editor_validates_and_writes_back(tmp_path):
    from textual.widgets import Label, TextArea

    from tui_trainer.widgets.config_editor import ConfigEditor

    config = tmp_path / "cfg" / "tabular.toml"
    config.parent.mkdir()
    config.write_text(TABULAR, encoding="utf-8")
    app = make_app(initial_pane="train")
    async with app.run_test(size=(120, 40)) as pilot:
        p = pane(app)
        p.config_path = config
        await pilot.pause()
        await pilot.press("e")
        await pilot.pause()
        editor = app.screen
        assert isinstance(editor, ConfigEditor)
        area = editor.query_one(TextArea)
        assert "lr = 0.003" in area.text
        # A wrong type is refused with the engine's message naming the key; the file is untouched.
        area.text = TABULAR.replace("lr = 0.003", 'lr = "fast"')
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, ConfigEditor)
        assert "lr" in str(editor.query_one("#config-error", Label).render())
        assert config.read_text(encoding="utf-8") == TABULAR
        # A valid edit is saved (atomically, through the engine's save_config) and the editor closes.
        area.text = TABULAR.replace("lr = 0.003", "lr = 0.01")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not isinstance(app.screen, ConfigEditor)
        import tomllib

        saved = tomllib.loads(config.read_text(encoding="utf-8"))
        assert saved["optim"]["lr"] == 0.01 and saved["data"]["label"] == "species"
        assert p.config_path == config


async def test_config_editor_escape_asks_before_discarding_edits_and_writes_nothing(tmp_path):
    from tui_trainer.widgets.config_editor import ConfigEditor

    config = tmp_path / "tabular.toml"
    config.write_text(TABULAR, encoding="utf-8")
    app = make_app(initial_pane="train")
    async with app.run_test(size=(120, 40)) as pilot:
        pane(app).config_path = config
        await pilot.pause()
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, ConfigEditor)
        await pilot.press("escape")  # nothing edited: closes at once
        await pilot.pause()
        assert not isinstance(app.screen, ConfigEditor)
        await pilot.press("e")
        await pilot.pause()
        await pilot.press("x", "escape")  # edited: asks before discarding
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")  # keep editing: the edit is still there
        await pilot.pause()
        assert isinstance(app.screen, ConfigEditor) and app.screen.query_one("TextArea").text.startswith("x")
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("y")  # discard
        await pilot.pause()
        assert not isinstance(app.screen, ConfigEditor | ConfirmScreen)
    assert config.read_text(encoding="utf-8") == TABULAR


async def test_quit_asks_while_a_collapse_experiment_runs():
    from tui_trainer.app import make_app
    from tui_trainer.panes.collapse_view import CollapseView
    from tui_trainer.panes.train import TrainPane

    app = make_app(initial_pane="train")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        pane = app.query_one(TrainPane)
        assert pane.busy_reason() is None
        lab = app.query_one(CollapseView)
        lab.running = True  # as while its worker runs; the lab's own tests drive a real run
        assert pane.busy_reason() == "a collapse experiment is running"
        lab.running = False


async def test_header_states_through_a_run_life(fake_launch):
    """No run → starting → running (rates agree) → paused (no rate, no ETA) → running → stopped (not live)."""
    import dataclasses

    from tui_trainer.engine.events import RunStarted

    events = scripted_run()
    started = events[0]
    assert isinstance(started, RunStarted)
    config = {"train": {"batch_size": 32, "epochs": 3}}
    events[0] = dataclasses.replace(started, config=config)
    engine = FakeEngine(events, hold=True)
    fake_launch["engine"] = engine
    app = make_app(initial_pane="train")
    async with app.run_test(size=(120, 40)) as pilot:
        p = pane(app)

        def header() -> str:
            return str(p.query_one("#run-header").render())

        await pilot.pause()
        assert "No run" in header() and "[waiting]" not in header()
        p.start_run(Path("cfg.toml"))
        # The header is redrawn on the pane's timer: wait for the state, not for one timer period.
        await wait_until(pilot, lambda: p.primary is not None and "[starting]" in header())
        assert "[waiting]" not in header()
        assert "no run yet" not in p.query_one("#loss-chart", Chart).empty_text
        engine.release()
        await wait_until(pilot, lambda: p.runs[p.primary].history.step == 60)
        running = header()
        assert "[running]" in running and " live" in running
        assert "10.0 steps/s" in running and "320 samples/s" in running  # 10 steps/s × batch 32
        assert "epoch 3/3" in running  # step 60 is in the third of three epochs (events count from 0)
        await pilot.press("p")
        await wait_until(pilot, lambda: p.runs[p.primary].history.status == "paused")
        paused = header()
        assert (
            "[paused]" in paused
            and "steps/s" not in paused
            and "samples/s" not in paused
            and "ETA" not in paused
        )
        await pilot.press("p")
        await wait_until(pilot, lambda: p.runs[p.primary].history.status == "running")
        await pilot.press("s")
        await wait_until(pilot, lambda: p.runs[p.primary].history.status == "stopped")
        stopped = header()
        assert "[stopped]" in stopped and " live" not in stopped and "ended" in stopped
        assert "steps/s" not in stopped and "ETA" not in stopped


async def test_a_and_o_pick_runs_from_the_runs_root_newest_first_and_filter_as_you_type(
    tmp_path, monkeypatch
):
    import dataclasses

    from textual.widgets import Input, OptionList

    from tui_trainer.widgets.run_picker import RunPicker

    monkeypatch.chdir(tmp_path)  # the runs root is ./runs, as `tui-trainer runs` lists it
    for age, (name, finish) in enumerate([("newest-run", False), ("baseline", True), ("oldest", True)]):
        run_dir = tmp_path / "runs" / name
        run_dir.mkdir(parents=True)
        events = scripted_run(20 + age, run_id=name, finish=finish)
        events[0] = dataclasses.replace(events[0], time=T0 - 3600 * age)
        write_events(run_dir, events)
    app = make_app(initial_pane="train")
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, RunPicker)
        await app.workers.wait_for_complete()
        await pilot.pause()
        options = picker.query_one(OptionList)
        lines = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert [line.split()[0] for line in lines] == ["newest-run", "baseline", "oldest"]
        assert (
            "finished" in lines[1] and "step 21/200" in lines[1] and "loss" in lines[1] and "ago" in lines[1]
        )
        await pilot.press(*"base")
        await pilot.pause()
        assert [r.run_id for r in picker.shown] == ["baseline"]
        await pilot.press("enter")
        p = pane(app)
        await wait_until(pilot, lambda: p.primary and p.runs[p.primary].history.status == "completed")
        assert p.runs[p.primary].history.label == "baseline"
        await pilot.press("o")  # overlay: the same list; ↓ picks the second newest
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, RunPicker) and picker.query_one(Input).has_focus
        await wait_until(
            pilot, lambda: len(picker.shown) == 3
        )  # (the attached run's follower never completes)
        await pilot.press("down", "down", "enter")
        await wait_until(pilot, lambda: len(p.runs) == 2)
        assert sorted(s.history.label for s in p.runs.values()) == ["baseline", "oldest"]
