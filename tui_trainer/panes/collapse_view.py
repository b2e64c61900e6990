"""The collapse lab view inside the Train pane: parameters, a worker that runs the experiments, two charts.

One press of `r` runs three experiments with the form's model and sizes: real fraction 0 with replacement (the
collapse), the chosen real fraction (default 0.1, and accumulate if ticked), and real fraction 0 with
accumulation. The charts put them side by side (F is the real fraction): the median fitted variance and the mean W₂² per
generation over the repeats; the lines under the charts give the last generation's mean and median. The worker
posts one message per finished generation; handlers keep the numbers and a timer redraws at a bounded rate.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Checkbox, Input, Label, Select, Static
from textual.worker import Worker, WorkerState, get_current_worker

from tui_trainer.collapse.experiment import DEFAULTS, ESTIMATORS, MODELS, CollapseParams, GenerationStats
from tui_trainer.errors import UserError
from tui_trainer.formatting import format_number
from tui_trainer.widgets.chart import Chart, ChartSeries

REDRAW_INTERVAL_S = 0.2
DEFAULT_REAL_FRACTION = 0.1
# Series colours as theme variables, in run order: the collapse, the user's setting, accumulation.
RUN_COLORS = ("error", "primary", "success")


@dataclass(frozen=True)
class LabRun:
    """One experiment of a lab press: a label for the legend and the params it runs."""

    key: str
    label: str
    params: CollapseParams


def lab_runs(chosen: CollapseParams) -> list[LabRun]:
    """The experiments one press runs: F=0 replacing data, the chosen setting, F=0 accumulating data
    (duplicates dropped). F is the real fraction; "accum." marks accumulation, no mark replacement."""
    base = replace(chosen, real_fraction=0.0, accumulate=False)
    # Short labels: three legends must fit beside a chart title in half a 120-column terminal.
    mode = " accum." if chosen.accumulate else ""
    runs = [
        LabRun("collapse", "F=0", base),
        LabRun("chosen", f"F={chosen.real_fraction:g}{mode}", chosen),
        LabRun("accumulate", "F=0 accum.", replace(base, accumulate=True)),
    ]
    unique: list[LabRun] = []
    for run in runs:
        if all(run.params != seen.params for seen in unique):
            unique.append(run)
    return unique


class CollapseView(Vertical):
    """Runs model-collapse experiments in a worker and charts them (issue #7)."""

    DEFAULT_CSS = """
    CollapseView { height: 1fr; }
    CollapseView #collapse-form { layout: grid; grid-size: 8; grid-columns: 16; grid-rows: auto;
        grid-gutter: 0 1; height: auto; padding: 0 1; }
    CollapseView .collapse-field { width: 16; height: auto; }
    CollapseView .collapse-field Label { color: $text-muted; }
    CollapseView .collapse-field Input, CollapseView .collapse-field Select { width: 16; }
    CollapseView #collapse-accumulate { margin-top: 1; }
    CollapseView #collapse-status { height: auto; min-height: 1; padding: 0 1; }
    CollapseView #collapse-charts { height: 1fr; min-height: 8; }
    CollapseView #collapse-charts Chart { width: 1fr; }
    CollapseView #collapse-summary { height: auto; padding: 0 1; color: $text-muted; }
    """

    BINDINGS = [
        Binding("r", "run", "Run collapse experiment"),
        Binding("s", "stop", "Stop collapse experiment"),
        Binding("l", "toggle_log", "Collapse charts: log scale"),
    ]

    @dataclass
    class GenerationDone(Message, bubble=False):
        """One generation of one lab run finished (never coalesced: every point is drawn); only this view
        keeps the numbers, so it does not bubble."""

        press: int  # which press of `r` it belongs to: a replaced press's late messages are dropped
        run: LabRun
        stats: GenerationStats
        index: int
        total: int

    @dataclass
    class LabFinished(Message, bubble=False):
        """Every run of a press finished, or the press was stopped."""

        press: int
        stopped: bool

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.runs: list[LabRun] = []
        self.results: dict[str, list[GenerationStats]] = {}
        self.running = False
        self._dirty = False
        self._press = 0
        self._worker: Worker | None = None

    # ----- layout -------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        defaults = DEFAULTS["gaussian"]
        with Horizontal(id="collapse-form"):
            yield self._field(
                "model",
                Select(
                    [(m, m) for m in MODELS],
                    value="gaussian",
                    allow_blank=False,
                    id="collapse-model",
                    compact=True,
                ),
            )
            yield self._field(
                "estimator",
                Select(
                    [(e, e) for e in ESTIMATORS],
                    value="unbiased",
                    allow_blank=False,
                    id="collapse-estimator",
                    compact=True,
                ),
            )
            yield self._field(
                "generations",
                Input(str(defaults["generations"]), id="collapse-generations", type="integer", compact=True),
            )
            yield self._field(
                "samples",
                Input(str(defaults["samples"]), id="collapse-samples", type="integer", compact=True),
            )
            yield self._field(
                "repeats",
                Input(str(defaults["repeats"]), id="collapse-repeats", type="integer", compact=True),
            )
            yield self._field("seed", Input("0", id="collapse-seed", type="integer", compact=True))
            yield self._field(
                "real fraction",
                Input(str(DEFAULT_REAL_FRACTION), id="collapse-real-fraction", type="number", compact=True),
            )
            yield Checkbox("accumulate", id="collapse-accumulate", compact=True)
        yield Static(
            "Collapse lab: press r to run (model collapse over generations of synthetic data).",
            id="collapse-status",
        )
        with Horizontal(id="collapse-charts"):
            yield Chart("variance", empty_text="press r to run", x_label="generation", id="collapse-variance")
            yield Chart("W₂² to real", empty_text="press r to run", x_label="generation", id="collapse-w2")
        yield Static("", id="collapse-summary")

    @staticmethod
    def _field(label: str, widget) -> Vertical:
        return Vertical(Label(label), widget, classes="collapse-field")

    def on_mount(self) -> None:
        self.set_interval(REDRAW_INTERVAL_S, self._redraw_if_dirty)

    def on_resize(self) -> None:
        # The form wraps onto as many rows as it needs: every field stays on screen at 80 columns.
        self.query_one("#collapse-form").styles.grid_size_columns = max(
            1, min(8, (self.size.width - 2) // 17)
        )

    # ----- form ---------------------------------------------------------------------------
    @on(Select.Changed, "#collapse-model")
    def _model_changed(self, event: Select.Changed) -> None:
        sizes = DEFAULTS.get(str(event.value))
        if sizes is None:
            return
        # Only the Gaussian has an estimator choice; the mixture is fit by EM, the language model by training.
        self.query_one("#collapse-estimator", Select).disabled = event.value != "gaussian"
        for name, value in sizes.items():
            self.query_one(f"#collapse-{name}", Input).value = str(value)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_run()

    def read_params(self) -> CollapseParams:
        """The form as CollapseParams; raises UserError naming the field that does not parse."""

        def number(name: str, kind: type):
            text = self.query_one(f"#collapse-{name}", Input).value.strip()
            try:
                return kind(text)
            except ValueError:
                raise UserError(
                    f"collapse lab: {name.replace('-', ' ')} must be a number, got {text!r}"
                ) from None

        return CollapseParams(
            model=str(self.query_one("#collapse-model", Select).value),
            estimator=str(self.query_one("#collapse-estimator", Select).value),
            generations=number("generations", int),
            samples=number("samples", int),
            repeats=number("repeats", int),
            seed=number("seed", int),
            real_fraction=number("real-fraction", float),
            accumulate=self.query_one("#collapse-accumulate", Checkbox).value,
        ).validate()

    # ----- actions ------------------------------------------------------------------------
    def action_run(self) -> None:
        try:
            params = self.read_params()
        except UserError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        self._press += 1
        self.runs = lab_runs(params)
        self.results = {run.key: [] for run in self.runs}
        self.running = True
        self._dirty = True
        self._set_status(
            f"running {len(self.runs)} experiments: {', '.join(run.label for run in self.runs)} …"
        )
        self._worker = self._run_lab(self._press, self.runs)

    def action_stop(self) -> None:
        if self.running:
            self.workers.cancel_group(self, "collapse")

    def action_toggle_log(self) -> None:
        for chart in self.query(Chart):
            chart.log_scale = not chart.log_scale

    def set_real_fraction(self, value: float) -> None:
        """Fill the real-fraction field (the Data pane's synthetic_share finding sends the user's share)."""
        self.query_one("#collapse-real-fraction", Input).value = f"{value:.4g}"

    def busy_reason(self) -> str | None:
        return "a collapse experiment is running" if self.running else None

    # ----- worker -------------------------------------------------------------------------
    @work(
        thread=True, exclusive=True, exit_on_error=False, group="collapse", description="Collapse experiment"
    )
    def _run_lab(self, press: int, runs: list[LabRun]) -> None:
        from tui_trainer.collapse.experiment import run_experiment

        worker = get_current_worker()
        total = len(runs)
        for index, run in enumerate(runs):
            if worker.is_cancelled:
                break
            run_experiment(
                run.params,
                on_generation=lambda stats, run=run, index=index: self.post_message(
                    self.GenerationDone(press, run, stats, index, total)
                ),
                should_stop=lambda: worker.is_cancelled,
            )
        self.post_message(self.LabFinished(press, stopped=worker.is_cancelled))

    @on(GenerationDone)
    def _generation_done(self, message: GenerationDone) -> None:
        if message.press != self._press:
            return
        self.results[message.run.key].append(message.stats)
        self._dirty = True
        self._set_status(
            f"running {message.index + 1}/{message.total} ({message.run.label}): generation "
            f"{message.stats.generation + 1}/{message.run.params.generations}"
        )

    @on(LabFinished)
    def _lab_finished(self, message: LabFinished) -> None:
        if message.press != self._press:
            return
        self.running = False
        self._dirty = True
        self._redraw_if_dirty()
        self._set_status("stopped" if message.stopped else self._done_text())

    @on(Worker.StateChanged)
    def _worker_state(self, event: Worker.StateChanged) -> None:
        if event.worker is not self._worker:
            return  # another widget's worker, or a press since replaced
        if event.state == WorkerState.ERROR:
            self.running = False
            error = event.worker.error
            text = str(error) if isinstance(error, UserError) else f"collapse experiment failed: {error!r}"
            self._set_status(text)
            self.notify(text, severity="error", markup=False)
        elif event.state == WorkerState.CANCELLED:
            self.running = False
            self._set_status("stopped")

    # ----- drawing ------------------------------------------------------------------------
    def _set_status(self, text: str) -> None:
        self.query_one("#collapse-status", Static).update(text)

    def _done_text(self) -> str:
        if not self.runs:
            return ""
        p = self.runs[0].params
        return (
            f"done: {p.model} ({p.estimator if p.model == 'gaussian' else 'EM' if p.model == 'gmm' else 'engine'}), "
            f"{p.generations} generations × {p.samples} samples × {p.repeats} repeats, seed {p.seed} "
            "(F = real fraction; accum. = earlier data kept)"
        )

    def _redraw_if_dirty(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        variance: list[ChartSeries] = []
        w2: list[ChartSeries] = []
        for run, color in zip(self.runs, RUN_COLORS, strict=False):
            stats = self.results.get(run.key, [])
            # The median is the typical repeat: with `unbiased` the mean stays at σ0² while most fits collapse.
            variance.append(
                ChartSeries(
                    run.label,
                    [(s.generation, s.variance_median, s.variance_median, s.variance_median) for s in stats],
                    color,
                    band=False,
                )
            )
            w2.append(
                ChartSeries(
                    run.label,
                    [(s.generation, s.w2_mean, s.w2_mean, s.w2_mean) for s in stats],
                    color,
                    band=False,
                )
            )
        self.query_one("#collapse-variance", Chart).set_series(variance, title="variance median")
        self.query_one("#collapse-w2", Chart).set_series(w2, title="W₂² mean")
        self.query_one("#collapse-summary", Static).update(self._summary())

    def _summary(self) -> str:
        lines = []
        for run in self.runs:
            stats = self.results.get(run.key) or []
            if not stats:
                continue
            last = stats[-1]
            parts = [
                f"{run.label}: gen {last.generation}",
                f"variance mean {format_number(last.variance_mean)} median {format_number(last.variance_median)}",
                f"W₂² {format_number(last.w2_mean)}",
                f"tail {format_number(last.tail_mass_mean)}",
            ]
            if last.heldout_loss is not None:
                parts.append(f"held-out loss {format_number(last.heldout_loss)}")
            lines.append(" · ".join(parts))
        return "\n".join(lines)
