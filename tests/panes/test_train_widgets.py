"""Chart rendering, the GPU view without a GPU, and the bridge's batching and end-of-run behaviour."""

from __future__ import annotations

import threading
import time

from textual.app import App, ComposeResult

from tests.panes.fakes_engine import T0, FakeEngine, scripted_run
from tui_trainer.engine.events import Finished, Step, System
from tui_trainer.panes.train_bridge import RunEvents, SourceEnded, TrainBridge
from tui_trainer.widgets.chart import Chart, ChartSeries
from tui_trainer.widgets.gpu_view import GpuView


class ChartApp(App):
    def compose(self) -> ComposeResult:
        yield Chart("Loss", id="chart")
        yield GpuView(id="gpu")


def _braille_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if any(0x2800 <= ord(ch) <= 0x28FF for ch in line)]


async def test_chart_draws_a_falling_line_from_top_left_to_bottom_right():
    app = ChartApp()
    async with app.run_test(size=(60, 14)) as pilot:
        chart = app.query_one(Chart)
        chart.set_series([ChartSeries("train", [(i, 10.0 - i, 10.0 - i, 10.0 - i) for i in range(11)])])
        await pilot.pause()
        rows = _braille_rows(str(chart.render()))
        assert rows, "nothing drawn"
        first_col = [row.index(next(ch for ch in row if 0x2800 < ord(ch) <= 0x28FF)) for row in rows]
        assert first_col == sorted(first_col)  # each lower row starts further right
        text = str(chart.render())
        assert "10" in text.splitlines()[1] and "step 0" in text and "━ train" in text


async def test_chart_keeps_a_spike_visible_through_the_min_max_band():
    app = ChartApp()
    async with app.run_test(size=(60, 14)) as pilot:
        chart = app.query_one(Chart)
        points = [(i, 1.0, 1.0, 100.0 if i == 50 else 1.0) for i in range(100)]
        chart.set_series([ChartSeries("train", points)])
        await pilot.pause()
        rows = _braille_rows(str(chart.render()))
        assert any(ch != " " for ch in rows[0][9:])  # the top row (the spike's max) has ink
        assert "100" in str(chart.render()).splitlines()[1]


async def test_log_scale_changes_the_axis_and_skips_non_positive_values():
    app = ChartApp()
    async with app.run_test(size=(60, 14)) as pilot:
        chart = app.query_one(Chart)
        chart.set_series([ChartSeries("lr", [(0, 0.0, 0.0, 0.0), (1, 1e-4, 1e-4, 1e-4), (2, 1.0, 1.0, 1.0)])])
        chart.log_scale = True
        await pilot.pause()
        text = str(chart.render())
        assert "(log)" in text and "1.00e-04" in text
        assert _braille_rows(text)


async def test_chart_caches_frames_until_data_or_size_changes():
    app = ChartApp()
    async with app.run_test(size=(60, 14)) as pilot:
        chart = app.query_one(Chart)
        chart.set_series([ChartSeries("a", [(0, 1, 1, 1), (1, 2, 2, 2)])])
        await pilot.pause()
        count = chart.render_count
        chart.render()
        chart.render()
        assert chart.render_count == count
        chart.set_series([ChartSeries("a", [(0, 1, 1, 1), (1, 3, 3, 3)])])
        chart.render()
        assert chart.render_count == count + 1


async def test_gpu_view_shows_cpu_and_ram_when_there_is_no_gpu():
    app = ChartApp()
    async with app.run_test(size=(100, 14)):
        view = app.query_one(GpuView)
        view.show(System(cpu_percent=50.0, ram_used_bytes=8 * 1024**3, ram_total_bytes=16 * 1024**3))
        text = str(view.render_text())
        assert "No GPU" in text and "50%" in text and "8.0/16.0 GiB" in text


async def test_gpu_view_reads_either_key_spelling_and_marks_the_training_pid():
    """The engine's telemetry writes `memory_used_bytes`/`training`; older writers `memory_used`/`is_training`."""
    app = ChartApp()
    async with app.run_test(size=(110, 14)):
        view = app.query_one(GpuView)
        gpu = {
            "index": 1,
            "name": "Tesla T4",
            "utilization": 50,
            "memory_used": 4 * 1024**3,
            "memory_total": 16 * 1024**3,
            "temperature": 70,
            "power_w": 35.5,
            "processes": [{"pid": 77, "name": "train.py", "used_memory": 3 * 1024**3}],
        }
        view.show(System(gpus=[gpu], cpu_percent=5.0), training_pid=77)
        text = str(view.render_text())
        assert "GPU1 Tesla T4" in text and "50%" in text and "4.0/16.0 GiB" in text and "70°C" in text
        assert "▶      77 train.py" in text and "3.0 GiB (training)" in text


class Recorder:
    """A stand-in message target: records what the bridge posts, from its thread."""

    def __init__(self) -> None:
        self.messages = []
        self.message_queue_size = 0

    def post_message(self, message) -> bool:
        self.messages.append(message)
        return True


def _run_drain(bridge: TrainBridge) -> None:
    """Run bridge.drain as a Textual worker would (it needs a current worker to check cancellation)."""
    from textual.worker import Worker, active_worker

    class _W:
        is_cancelled = False

    token = active_worker.set(_W())  # type: ignore[arg-type]
    try:
        bridge.drain()
    finally:
        active_worker.reset(token)
    assert Worker  # the real type the stand-in mimics


def test_bridge_batches_events_and_ends_after_the_engine_exits():
    engine = FakeEngine(scripted_run(100, finish=True), chunk=30)
    target = Recorder()
    bridge = TrainBridge.live("k", target, engine)  # type: ignore[arg-type]
    thread = threading.Thread(target=_run_drain, args=(bridge,))
    thread.start()
    thread.join(10)
    assert not thread.is_alive()
    kinds = [type(m) for m in target.messages]
    batches = [m for m in target.messages if isinstance(m, RunEvents)]
    assert sum(len(b.events) for b in batches) == len(scripted_run(100, finish=True))
    assert 3 <= len(batches) <= 6  # chunks of 30, not one message per event
    # One message kind for events: nothing is posted twice, the end comes once inside a batch.
    assert set(kinds) == {RunEvents, SourceEnded}
    events = [e for b in batches for e in b.events]
    assert sum(isinstance(e, Finished) for e in events) == 1
    assert kinds[-1] is SourceEnded and target.messages[-1].exitcode == 0
    steps = [e.step for e in events if isinstance(e, Step)]
    assert steps == sorted(steps) and steps[-1] == 100


def test_bridge_follow_source_reads_a_growing_file(tmp_path):
    from tui_trainer.engine.events import to_json

    target = Recorder()
    bridge = TrainBridge.follow("k", target, tmp_path)  # type: ignore[arg-type]
    assert bridge.source.poll(0.01) == []  # no file yet: nothing, no error
    (tmp_path / "events.jsonl").write_text(to_json(Step(step=1, epoch=0, loss=1.0, time=T0)) + "\n")
    start = time.monotonic()
    events = bridge.source.poll(0.5)
    assert [e.step for e in events] == [1] and time.monotonic() - start < 0.4
    assert not bridge.is_live


def test_commands_on_an_attached_run_are_refused():
    import pytest

    bridge = TrainBridge("k", Recorder(), FakeEngine())  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="attached"):
        bridge.stop()


def test_stop_and_wait_returns_once_the_engine_has_ended():
    engine = FakeEngine(scripted_run(5))
    bridge = TrainBridge.live("k", Recorder(), engine)  # type: ignore[arg-type]
    assert bridge.stop_and_wait(5.0) is True
    assert engine.calls == ["stop"] and not engine.is_alive()
