"""RunHistory: the plain-Python store every training event lands in first, with memory bounded over millions of steps.

The UI never keeps raw events. Each numeric series is a `Series` of at most `capacity` buckets; when it is full,
neighbouring buckets merge pairwise and the bucket width doubles. Each bucket keeps count, sum, min and max, so the
mean stays exact, a one-step loss spike survives as a bucket's max however far it is downsampled, and a run of two
million steps costs the same memory as one of a thousand.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

from tui_trainer.engine.events import (
    Checkpoint,
    Diagnostic,
    EpochEnd,
    Eval,
    Event,
    Failed,
    Finished,
    Log,
    Paused,
    Resumed,
    RunStarted,
    Step,
    System,
)
from tui_trainer.findings import Finding, Severity
from tui_trainer.formatting import format_duration  # noqa: F401 - the Train pane, headless and attach import it here

DEFAULT_CAPACITY = 512
# A run that logs a new metric name every step must not grow without bound.
MAX_METRIC_SERIES = 32
LOG_TAIL = 200
# Steps/s is measured over this many recent samples, so it follows a change in speed within a few seconds.
RATE_WINDOW = 64

# Bucket fields, as list indices: lists are the cheapest mutable record in CPython, and `add` is the hot path.
_FIRST, _LAST, _N, _SUM, _MIN, _MAX = range(6)


@dataclass(frozen=True)
class Point:
    """One bucket of a series: the steps it covers and the mean, min and max of the values in it."""

    first_step: int
    last_step: int
    count: int
    mean: float
    min: float
    max: float

    @property
    def step(self) -> float:
        """Where to draw the bucket on a step axis: the middle of the steps it covers."""
        return (self.first_step + self.last_step) / 2


class Series:
    """A downsampled (step, value) series with at most `capacity` buckets.

    Non-finite values (NaN loss, inf grad norm) are not averaged in, which would poison every later mean; they
    are counted and the step of the last one is kept, so the UI can still say that they happened.
    """

    __slots__ = (
        "capacity",
        "width",
        "_buckets",
        "total",
        "nonfinite",
        "last_nonfinite_step",
        "latest",
        "latest_step",
    )

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 2:
            raise ValueError(f"Series capacity must be at least 2, got {capacity}")
        self.capacity = capacity
        self.width = 1  # values per bucket before a new bucket starts
        self._buckets: list[list] = []
        self.total = 0
        self.nonfinite = 0
        self.last_nonfinite_step: int | None = None
        self.latest: float | None = None
        self.latest_step: int | None = None

    def __len__(self) -> int:
        return len(self._buckets)

    def add(self, step: int, value: float) -> None:
        self.add_many([(step, value)])

    def add_many(self, pairs: list[tuple[int, float]]) -> None:
        """`add` for each (step, value) in order, with the same result: the follower's hot path, in one loop."""
        if not pairs:
            return
        buckets, width, capacity = self._buckets, self.width, self.capacity
        total, inf, ninf = self.total, math.inf, -math.inf
        for step, value in pairs:
            value = float(value)
            if value != value or value == inf or value == ninf:
                self.nonfinite += 1
                self.last_nonfinite_step = step
                continue
            total += 1
            if buckets:
                last = buckets[-1]
                if last[_N] < width:
                    last[_LAST] = step
                    last[_N] += 1
                    last[_SUM] += value
                    if value < last[_MIN]:
                        last[_MIN] = value
                    if value > last[_MAX]:
                        last[_MAX] = value
                    continue
            buckets.append([step, step, 1, value, value, value])
            if len(buckets) > capacity:
                self._halve()
                buckets, width = self._buckets, self.width
        self.total = total
        step, value = pairs[-1]
        self.latest, self.latest_step = float(value), step

    def _halve(self) -> None:
        old = self._buckets
        merged: list[list] = []
        for i in range(0, len(old) - 1, 2):
            a, b = old[i], old[i + 1]
            merged.append(
                [
                    a[_FIRST],
                    b[_LAST],
                    a[_N] + b[_N],
                    a[_SUM] + b[_SUM],
                    min(a[_MIN], b[_MIN]),
                    max(a[_MAX], b[_MAX]),
                ]
            )
        if len(old) % 2:
            merged.append(old[-1])
        self._buckets = merged
        self.width *= 2

    def truncate_after(self, step: int) -> None:
        """Forget values logged after `step` (a resumed run repeats them from its checkpoint).

        A bucket that straddles `step` is kept whole: buckets cannot be split, and it is at most one bucket.
        """
        buckets = self._buckets
        while buckets and buckets[-1][_FIRST] > step:
            dropped = buckets.pop()
            self.total -= dropped[_N]
        if buckets:
            self.latest = buckets[-1][_SUM] / buckets[-1][_N]
            self.latest_step = buckets[-1][_LAST]
        else:
            self.latest = self.latest_step = None

    def points(self) -> list[Point]:
        return [Point(b[_FIRST], b[_LAST], b[_N], b[_SUM] / b[_N], b[_MIN], b[_MAX]) for b in self._buckets]

    def mean(self) -> float | None:
        """Mean of every finite value ever added (exact: sums are kept, not re-averaged)."""
        if not self.total:
            return None
        return sum(b[_SUM] for b in self._buckets) / self.total

    def bounds(self) -> tuple[float, float] | None:
        if not self._buckets:
            return None
        return min(b[_MIN] for b in self._buckets), max(b[_MAX] for b in self._buckets)


# Status names as a run moves through its life; `finished` carries its own status (completed/stopped/...).
WAITING = "waiting"
RUNNING = "running"
PAUSED = "paused"
FAILED = "failed"


class RunHistory:
    """Everything the monitor shows about one run, fed one event at a time with `add(event)`."""

    def __init__(self, label: str = "", capacity: int = DEFAULT_CAPACITY, log_tail: int = LOG_TAIL) -> None:
        self.label = label
        self.capacity = capacity
        self.series: dict[str, Series] = {
            "train_loss": Series(capacity),
            "val_loss": Series(capacity),
            "lr": Series(capacity),
            "grad_norm": Series(capacity),
            "samples_per_s": Series(capacity),
        }
        self.status = WAITING
        self.run_id: str | None = None
        self.run_dir: str | None = None
        self.device: str | None = None
        self.config: dict[str, Any] = {}
        self.total_steps: int | None = None
        self.epochs: int | None = None  # train.epochs of the config, when it says
        self.batch_size: int | None = None  # samples per step: train.batch_size of the config x world_size
        self.resumed_from_step: int | None = None
        self.pid: int | None = None
        self.host: str | None = None
        self.started_at: float | None = (
            None  # time of the latest run_started (the writer's start, for liveness)
        )
        self.step: int | None = None
        self.epoch: int | None = None  # 0-based as in the events; shown 1-based by `epoch_text`
        self.last_step: Step | None = None
        self.last_eval: Eval | None = None
        self.last_checkpoint: Checkpoint | None = None
        self.failure: Failed | None = None
        self.finished: Finished | None = None
        self.system: System | None = None
        self.events_seen = 0
        self.steps_seen = 0
        self.logs: deque[str] = deque(maxlen=log_tail)
        self.logs_total = 0  # lines ever added, so a view can append only the new ones from the bounded tail
        # Diagnostics are kept per code (the newest one) with a count, so a diagnostic repeated every eval
        # for a million steps is one row, not a million.
        self.diagnostics: dict[str, Diagnostic] = {}
        self.diagnostic_counts: dict[str, int] = {}
        self._rate: deque[tuple[float, int]] = deque(maxlen=RATE_WINDOW)

    # ----- ingest -------------------------------------------------------------------------
    def add(self, event: Event) -> None:
        self.events_seen += 1
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)

    def extend(self, events) -> None:
        """`add` for each event in order. Runs of step events (most of a run) go through `_on_steps` at once."""
        steps: list[Step] = []
        for event in events:
            if type(event) is Step:
                steps.append(event)
                continue
            if steps:
                self._on_steps(steps)
                steps = []
            self.add(event)
        if steps:
            self._on_steps(steps)

    def _on_steps(self, run: list[Step]) -> None:
        # The same as `_on_step` for each, in order: every series gets its values in step order, and series
        # do not depend on each other, so filling one series at a time gives identical buckets.
        n = len(run)
        self.events_seen += n
        self.steps_seen += n
        last = run[-1]
        self.step, self.epoch, self.last_step = last.step, last.epoch, last
        if self.status == WAITING:
            self.status = RUNNING
        s = self.series
        s["train_loss"].add_many([(e.step, e.loss) for e in run])
        s["lr"].add_many([(e.step, e.lr) for e in run if e.lr is not None])
        s["grad_norm"].add_many([(e.step, e.grad_norm) for e in run if e.grad_norm is not None])
        s["samples_per_s"].add_many([(e.step, e.samples_per_s) for e in run if e.samples_per_s is not None])
        for e in run:
            if e.metrics:
                for name, value in e.metrics.items():
                    self._metric(f"train/{name}", e.step, value)
        self._rate.extend([(e.time, e.step) for e in run])

    def _on_run_started(self, e: RunStarted) -> None:
        self.status = RUNNING
        self.run_id = e.run_id
        self.run_dir = e.run_dir
        self.device = e.device
        self.config = dict(e.config)
        self.total_steps = e.total_steps
        epochs = (e.config.get("train") or {}).get("epochs") if isinstance(e.config, dict) else None
        self.epochs = epochs if isinstance(epochs, int) and epochs > 0 else None
        batch = (e.config.get("train") or {}).get("batch_size") if isinstance(e.config, dict) else None
        ok = isinstance(batch, int) and not isinstance(batch, bool) and batch > 0
        self.batch_size = batch * max(1, e.world_size or 1) if ok else None  # each process trains a batch
        self.resumed_from_step = e.resumed_from_step
        self.pid = e.pid
        self.host = e.host
        self.started_at = e.time
        # A resumed run continues in the same store; the finish of the earlier attempt no longer applies.
        self.finished = None
        self.failure = None
        self._rate.clear()
        if e.resumed_from_step is not None:
            # Steps after the checkpoint were lost with the old process and are trained again: drop them, so
            # the curves continue from the checkpoint instead of doubling back.
            for series in self.series.values():
                series.truncate_after(e.resumed_from_step)
            self.step = e.resumed_from_step
        if not self.label:
            self.label = e.run_id
        where = f" from step {e.resumed_from_step}" if e.resumed_from_step is not None else ""
        self._log(e.time, f"run {e.run_id} started on {e.device}{where}")

    def _on_step(self, e: Step) -> None:
        self.steps_seen += 1
        self.step = e.step
        self.epoch = e.epoch
        self.last_step = e
        if self.status in (WAITING,):
            self.status = RUNNING
        s = self.series
        s["train_loss"].add(e.step, e.loss)
        if e.lr is not None:
            s["lr"].add(e.step, e.lr)
        if e.grad_norm is not None:
            s["grad_norm"].add(e.step, e.grad_norm)
        if e.samples_per_s is not None:
            s["samples_per_s"].add(e.step, e.samples_per_s)
        if e.metrics:
            for name, value in e.metrics.items():
                self._metric(f"train/{name}", e.step, value)
        self._rate.append((e.time, e.step))

    def _on_eval(self, e: Eval) -> None:
        self.last_eval = e
        self.series["val_loss"].add(e.step, e.val_loss)
        for name, value in e.metrics.items():
            self._metric(f"val/{name}", e.step, value)

    def _metric(self, key: str, step: int, value: Any) -> None:
        series = self.series.get(key)
        if series is None:
            if len(self.series) >= 5 + MAX_METRIC_SERIES or not isinstance(value, int | float):
                return
            series = self.series[key] = Series(self.capacity)
        try:
            series.add(step, float(value))
        except (TypeError, ValueError):
            pass

    def _on_epoch_end(self, e: EpochEnd) -> None:
        self.epoch = e.epoch
        loss = f", train loss {e.train_loss:.4g}" if e.train_loss is not None else ""
        self._log(e.time, f"{epoch_text(e.epoch, self.epochs)} ended at step {e.step}{loss}")

    def _on_checkpoint(self, e: Checkpoint) -> None:
        self.last_checkpoint = e
        self._log(e.time, f"checkpoint at step {e.step} ({e.reason}): {e.path}")

    def _on_diagnostic(self, e: Diagnostic) -> None:
        self.diagnostics[e.code] = e
        self.diagnostic_counts[e.code] = self.diagnostic_counts.get(e.code, 0) + 1
        at = f" at step {e.step}" if e.step is not None else ""
        self._log(e.time, f"{e.severity} {e.code}{at}: {e.message}")

    def _on_system(self, e: System) -> None:
        self.system = e

    def _on_log(self, e: Log) -> None:
        self._log(e.time, e.message if e.level == "info" else f"{e.level}: {e.message}")

    def _on_paused(self, e: Paused) -> None:
        if self.status == RUNNING:
            self.status = PAUSED
        self._log(e.time, f"paused at step {e.step}")

    def _on_resumed(self, e: Resumed) -> None:
        if self.status == PAUSED:
            self.status = RUNNING
        self._log(e.time, f"resumed at step {e.step}")

    def _on_failed(self, e: Failed) -> None:
        from tui_trainer.engine.runs import end_status

        self.failure = e
        self.status = end_status(e)[0]  # failed, or killed: the rule `runs` uses
        at = f" at step {e.step}" if e.step is not None else ""
        self._log(e.time, f"FAILED{at}: {e.error}")

    def _on_finished(self, e: Finished) -> None:
        self.finished = e
        self.status = e.status
        self.step = e.step if self.step is None or e.step >= self.step else self.step
        self._log(e.time, f"finished ({e.status}) at step {e.step}")

    def _log(self, when: float, message: str) -> None:
        self.logs.append(message)
        self.logs_total += 1

    # ----- derived ------------------------------------------------------------------------
    @property
    def is_over(self) -> bool:
        return self.status not in (WAITING, RUNNING, PAUSED)

    def steps_per_s(self) -> float | None:
        """Steps per second over the recent window, from the events' own timestamps (so attach reads it right)."""
        if len(self._rate) < 2:
            return None
        (t0, s0), (t1, s1) = self._rate[0], self._rate[-1]
        if t1 <= t0 or s1 <= s0:
            return None
        return (s1 - s0) / (t1 - t0)

    def samples_per_s(self) -> float | None:
        """Samples per second: steps/s times the batch size the run reported (`train.batch_size` in its
        run_started config, times its world_size); None when either is unknown. The one rule for the pane,
        the headless lines and attach, for engine runs and watched / integration runs alike."""
        rate = self.steps_per_s()
        return rate * self.batch_size if rate and self.batch_size else None

    def eta_s(self) -> float | None:
        """Seconds until `total_steps` at the current rate; None when either is unknown or the run is over."""
        if self.total_steps is None or self.step is None or self.is_over:
            return None
        rate = self.steps_per_s()
        if not rate:
            return None
        return max(0.0, (self.total_steps - self.step) / rate)

    def latest(self, key: str) -> float | None:
        series = self.series.get(key)
        return series.latest if series is not None else None

    def metric_keys(self) -> list[str]:
        return sorted(k for k in self.series if "/" in k)

    def findings(self) -> list[Finding]:
        """The diagnostics as Findings (one per code, the newest), for the shared FindingsTable."""
        out = []
        for code, d in self.diagnostics.items():
            count = self.diagnostic_counts.get(code, 1)
            try:
                severity = Severity.parse(d.severity)
            except ValueError:
                severity = Severity.WARNING
            at = f"step {d.step}" if d.step is not None else "no step"
            times = f", reported {count} times" if count > 1 else ""
            evidence = dict(d.evidence)
            if d.step is not None:
                evidence.setdefault("step", d.step)
            out.append(
                Finding(code, severity, d.message, f"{self.label or 'run'}: {at}{times}", d.fix, evidence)
            )
        if self.failure is not None:
            f = self.failure
            out.append(
                Finding(
                    f.code or "run_failed",
                    Severity.ERROR,
                    f"Run failed: {f.error}",
                    f.traceback.strip().splitlines()[-1] if f.traceback.strip() else "",
                    "Read the log tail and the traceback in events.jsonl; fix the cause and resume with "
                    "`tui-trainer train --resume RUN_DIR`.",
                    {"step": f.step} if f.step is not None else {},
                )
            )
        return out

    def bucket_count(self) -> int:
        """Buckets held across every series: the figure that must stay flat however long the run."""
        return sum(len(s) for s in self.series.values())

    def summary(self) -> dict[str, Any]:
        """A JSON-ready snapshot: what `attach` prints without a terminal."""
        return {
            "run_id": self.run_id,
            "run_dir": self.run_dir,
            "status": self.status,
            "step": self.step,
            "epoch": self.epoch,
            "total_steps": self.total_steps,
            "train_loss": self.latest("train_loss"),
            "val_loss": self.latest("val_loss"),
            "lr": self.latest("lr"),
            "grad_norm": self.latest("grad_norm"),
            "steps_per_s": self.steps_per_s(),
            "samples_per_s": self.samples_per_s(),
            "last_checkpoint": self.last_checkpoint.path if self.last_checkpoint else None,
            "error": self.failure.error if self.failure else None,
            "diagnostics": [
                {
                    "code": d.code,
                    "severity": d.severity,
                    "step": d.step,
                    "message": d.message,
                    "count": self.diagnostic_counts[c],
                }
                for c, d in self.diagnostics.items()
            ],
        }


_HANDLERS = {
    RunStarted: RunHistory._on_run_started,
    Step: RunHistory._on_step,
    Eval: RunHistory._on_eval,
    EpochEnd: RunHistory._on_epoch_end,
    Checkpoint: RunHistory._on_checkpoint,
    Diagnostic: RunHistory._on_diagnostic,
    System: RunHistory._on_system,
    Log: RunHistory._on_log,
    Paused: RunHistory._on_paused,
    Resumed: RunHistory._on_resumed,
    Failed: RunHistory._on_failed,
    Finished: RunHistory._on_finished,
}


def epoch_text(epoch: int | None, epochs: int | None = None) -> str:
    """`epoch 3/10`: epochs are counted from 1 for people (the first is `epoch 1`), from 0 in events and checkpoints."""
    if epoch is None:
        return "epoch —"
    return f"epoch {epoch + 1}/{epochs}" if epochs else f"epoch {epoch + 1}"
