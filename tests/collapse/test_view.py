"""CollapseView in a tiny app: the form, the worker, the charts, errors, and one snapshot."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Input, Select, Static

from tui_trainer.collapse.experiment import CollapseParams
from tui_trainer.panes.collapse_view import CollapseView, lab_runs
from tui_trainer.widgets.chart import Chart


class LabApp(App[None]):
    def compose(self) -> ComposeResult:
        yield CollapseView()


async def _set(app: App, field: str, value: str) -> None:
    app.query_one(f"#collapse-{field}", Input).value = value


def test_lab_runs_put_collapse_beside_the_chosen_fraction_and_accumulate():
    runs = lab_runs(CollapseParams(real_fraction=0.1))
    assert [(r.params.real_fraction, r.params.accumulate) for r in runs] == [
        (0.0, False),
        (0.1, False),
        (0.0, True),
    ]
    assert [r.label for r in runs] == ["F=0", "F=0.1", "F=0 accum."]
    # Choosing "F=0 accum." in the form needs no extra run.
    runs = lab_runs(CollapseParams(real_fraction=0.0, accumulate=True))
    assert len(runs) == 2


async def test_run_key_runs_the_worker_and_fills_both_charts():
    messages = []
    app = LabApp()
    async with app.run_test(size=(140, 40), message_hook=messages.append) as pilot:
        view = app.query_one(CollapseView)
        await _set(app, "generations", "6")
        await _set(app, "repeats", "20")
        view.focus()
        await pilot.press("r")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.pause(0.3)
        assert not view.running
        assert set(view.results) == {"collapse", "chosen", "accumulate"}
        assert all(len(stats) == 6 for stats in view.results.values())
        done = [m for m in messages if isinstance(m, CollapseView.GenerationDone)]
        assert len(done) == 18
        # Generations arrive in order within each run, and the lab reports completion last.
        assert [m.stats.generation for m in done if m.run.key == "collapse"] == list(range(6))
        finished = [i for i, m in enumerate(messages) if isinstance(m, CollapseView.LabFinished)]
        assert finished and finished[-1] > messages.index(done[-1])
        variance = app.query_one("#collapse-variance", Chart)
        w2 = app.query_one("#collapse-w2", Chart)
        assert [s.label for s in variance.series] == ["F=0", "F=0.1", "F=0 accum."]
        assert [len(s.points) for s in w2.series] == [6, 6, 6]
        # The x axis counts generations, not training steps.
        assert "generation 0" in str(variance.render()) and "step" not in str(variance.render())
        # The chart shows the very numbers the experiment produced.
        assert w2.series[0].points[-1][1] == view.results["collapse"][-1].w2_mean
        status = str(app.query_one("#collapse-status", Static).render())
        assert status.startswith("done: gaussian")


async def test_bad_field_notifies_and_runs_nothing():
    app = LabApp()
    async with app.run_test(size=(140, 40)) as pilot:
        view = app.query_one(CollapseView)
        await _set(app, "real-fraction", "1.5")
        view.focus()
        await pilot.press("r")
        await pilot.pause()
        assert not view.running and view.results == {}
        assert any("--real-fraction" in n.message for n in app._notifications)
        await _set(app, "real-fraction", "0.1")
        await _set(app, "samples", "")
        await pilot.press("r")
        await pilot.pause()
        assert any("samples must be a number" in n.message for n in app._notifications)


async def test_choosing_a_model_fills_its_default_sizes():
    app = LabApp()
    async with app.run_test(size=(140, 40)) as pilot:
        app.query_one("#collapse-model", Select).value = "gmm"
        await pilot.pause()
        assert app.query_one("#collapse-samples", Input).value == "200"
        assert app.query_one("#collapse-repeats", Input).value == "10"
        assert app.query_one("#collapse-estimator", Select).disabled


async def test_stop_cancels_a_long_run():
    app = LabApp()
    async with app.run_test(size=(140, 40)) as pilot:
        view = app.query_one(CollapseView)
        app.query_one("#collapse-model", Select).value = "gmm"
        await pilot.pause()
        await _set(app, "generations", "400")
        view.focus()
        await pilot.press("r")
        await pilot.pause(0.3)
        assert view.running and view.busy_reason()
        await pilot.press("s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not view.running
        assert sum(len(v) for v in view.results.values()) < 400
        assert "stopped" in str(app.query_one("#collapse-status", Static).render())


def test_snapshot_after_a_run(snap_compare):
    async def run_before(pilot) -> None:
        app = pilot.app
        app.query_one("#collapse-estimator", Select).value = "mle"
        app.query_one("#collapse-generations", Input).value = "30"
        app.query_one("#collapse-samples", Input).value = "20"
        app.query_one("#collapse-repeats", Input).value = "100"
        await pilot.pause()
        app.query_one(CollapseView).focus()
        await pilot.press("r")
        await app.workers.wait_for_complete()
        await pilot.pause(0.3)

    assert snap_compare(LabApp(), terminal_size=(140, 40), run_before=run_before)


async def test_a_new_press_replaces_a_running_one_without_mixing_numbers():
    app = LabApp()
    async with app.run_test(size=(140, 40)) as pilot:
        view = app.query_one(CollapseView)
        app.query_one("#collapse-model", Select).value = "gmm"
        await pilot.pause()
        await _set(app, "generations", "300")
        view.focus()
        await pilot.press("r")
        await pilot.pause(0.3)
        app.query_one("#collapse-model", Select).value = "gaussian"
        await pilot.pause()
        await _set(app, "generations", "4")
        view.focus()
        await pilot.press("r")
        await app.workers.wait_for_complete()
        await pilot.pause(0.3)
        assert not view.running
        # Only the second press's generations: four per run, all Gaussian, none left over from the mixture.
        assert {k: [s.generation for s in v] for k, v in view.results.items()} == {
            key: [0, 1, 2, 3] for key in ("collapse", "chosen", "accumulate")
        }
        assert all("mu_mean" in s.fitted for v in view.results.values() for s in v)
        assert str(app.query_one("#collapse-status", Static).render()).startswith("done: gaussian")
