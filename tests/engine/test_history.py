"""RunHistory: bounded memory over millions of steps, exact means, spikes kept, ETA, diagnostics as findings."""

from __future__ import annotations

import math

import pytest

from tui_trainer.engine.events import (
    Checkpoint,
    Diagnostic,
    EpochEnd,
    Eval,
    Failed,
    Finished,
    Log,
    Paused,
    Resumed,
    RunStarted,
    Step,
    System,
)
from tui_trainer.engine.history import RunHistory, Series, format_duration
from tui_trainer.findings import Severity


def test_series_bucket_count_stays_bounded_over_two_million_steps():
    series = Series(capacity=256)
    sizes = []
    for i in range(2_000_000):
        series.add(i, (i % 1000) / 1000)
        if i in (10_000, 100_000, 1_000_000):
            sizes.append(len(series))
    sizes.append(len(series))
    assert all(size <= 256 for size in sizes)
    assert len(series) >= 128  # still detailed: halving never drops below half the capacity
    assert series.total == 2_000_000


def test_series_mean_is_exact_after_downsampling():
    series = Series(capacity=8)
    values = [float(v) for v in range(1, 1001)]
    for step, value in enumerate(values):
        series.add(step, value)
    assert series.mean() == pytest.approx(sum(values) / len(values))
    points = series.points()
    assert sum(p.count for p in points) == 1000
    assert sum(p.mean * p.count for p in points) == pytest.approx(sum(values))
    # Buckets tile the steps in order without gaps.
    assert points[0].first_step == 0 and points[-1].last_step == 999
    for a, b in zip(points, points[1:], strict=False):
        assert b.first_step == a.last_step + 1


def test_series_keeps_a_single_spike_visible_as_a_bucket_max():
    series = Series(capacity=16)
    for step in range(100_000):
        series.add(step, 1000.0 if step == 54_321 else 1.0)
    points = series.points()
    assert max(p.max for p in points) == 1000.0
    spiked = [p for p in points if p.max == 1000.0]
    assert len(spiked) == 1 and spiked[0].first_step <= 54_321 <= spiked[0].last_step
    assert series.bounds() == (1.0, 1000.0)


def test_series_counts_nonfinite_values_without_poisoning_the_mean():
    series = Series()
    series.add(0, 2.0)
    series.add(1, math.nan)
    series.add(2, math.inf)
    series.add(3, 4.0)
    assert series.mean() == 3.0
    assert series.nonfinite == 2 and series.last_nonfinite_step == 2
    assert series.latest == 4.0


def _step(i: int, loss: float = 1.0, t: float | None = None) -> Step:
    return Step(
        step=i,
        epoch=i // 100,
        loss=loss,
        lr=0.1,
        grad_norm=2.0,
        samples_per_s=640.0,
        time=i * 0.01 if t is None else t,
    )


def test_run_history_memory_is_flat_over_two_million_steps():
    history = RunHistory(capacity=128)
    history.add(RunStarted(run_id="r", run_dir="/tmp/r", total_steps=2_000_000, time=0.0))
    event = Step(
        step=0, epoch=0, loss=1.0, lr=0.1, grad_norm=2.0, samples_per_s=640.0, metrics={"acc": 0.5}, time=0.0
    )
    counts = {}
    for i in range(1, 2_000_001):
        # One event object re-numbered: building two million frozen dataclasses would only time the test.
        object.__setattr__(event, "step", i)
        object.__setattr__(event, "loss", 1.0 + (i % 7))
        history.add(event)
        if i in (50_000, 500_000, 2_000_000):
            counts[i] = history.bucket_count()
    assert history.steps_seen == 2_000_000
    # Five filled series (train loss, lr, grad norm, samples/s, train/acc), each at most `capacity` buckets and,
    # once full, never under half of it: the same band at 50k steps as at 2M, not growing with the step count.
    assert all(5 * 64 <= count <= 5 * 128 for count in counts.values()), counts
    assert history.series["train_loss"].mean() == pytest.approx(
        sum(1.0 + (i % 7) for i in range(1, 2_000_001)) / 2_000_000
    )
    assert len(history.logs) <= 200


def test_eta_and_steps_per_second_come_from_event_times():
    history = RunHistory()
    history.add(RunStarted(run_id="r", run_dir="/r", total_steps=1000, time=0.0))
    for i in range(1, 101):
        history.add(_step(i, t=i * 0.5))  # 2 steps per second
    assert history.steps_per_s() == pytest.approx(2.0)
    assert history.eta_s() == pytest.approx((1000 - 100) / 2.0)
    history.add(Finished(step=100, status="stopped", time=60.0))
    assert history.status == "stopped"
    assert history.eta_s() is None


def test_eta_unknown_without_total_steps():
    history = RunHistory()
    history.add(RunStarted(run_id="r", run_dir="/r", time=0.0))
    for i in range(10):
        history.add(_step(i, t=float(i)))
    assert history.steps_per_s() == pytest.approx(1.0)
    assert history.eta_s() is None


def test_metrics_val_loss_and_latest_values():
    history = RunHistory()
    history.add(Step(step=1, epoch=0, loss=0.9, lr=0.01, grad_norm=3.0, metrics={"accuracy": 0.5}, time=1.0))
    history.add(Eval(step=1, val_loss=1.1, metrics={"accuracy": 0.4}, time=1.0))
    assert history.latest("train_loss") == 0.9
    assert history.latest("val_loss") == 1.1
    assert history.latest("lr") == 0.01
    assert history.metric_keys() == ["train/accuracy", "val/accuracy"]
    assert history.status == "running"


def test_diagnostics_dedupe_by_code_and_become_findings():
    history = RunHistory(label="run-a")
    for step in (10, 20, 30):
        history.add(
            Diagnostic(
                code="overfitting",
                severity="warning",
                step=step,
                message="val loss rising",
                fix="stop early",
                evidence={"k": 3},
            )
        )
    history.add(Diagnostic(code="nan_loss", severity="error", step=31, message="loss is NaN", fix="lower lr"))
    findings = {f.id: f for f in history.findings()}
    assert set(findings) == {"overfitting", "nan_loss"}
    assert findings["overfitting"].severity is Severity.WARNING
    assert findings["overfitting"].evidence["step"] == 30
    assert "3 times" in findings["overfitting"].detail
    assert findings["nan_loss"].fix == "lower lr"


def test_failure_is_recorded_and_shown_as_an_error_finding():
    history = RunHistory()
    history.add(RunStarted(run_id="r", run_dir="/r", time=0.0))
    history.add(
        Failed(error="CUDA out of memory", traceback="Traceback...\nRuntimeError: CUDA out of memory", step=7)
    )
    assert history.status == "failed" and history.is_over
    finding = [f for f in history.findings() if f.severity is Severity.ERROR][0]
    assert "CUDA out of memory" in finding.title
    assert any("FAILED at step 7" in line for line in history.logs)


def test_paused_and_resumed_events_move_the_status_and_log_text_does_not():
    history = RunHistory()
    history.add(RunStarted(run_id="r", run_dir="/r", time=0.0))
    history.add(Log(message="paused because the user's data said so"))
    assert history.status == "running"  # state changes are events, never log text parsed back
    history.add(Paused(step=5))
    assert history.status == "paused" and history.logs[-1] == "paused at step 5"
    history.add(Resumed(step=5))
    assert history.status == "running"


def test_killed_failure_is_status_killed_as_runs_says():
    history = RunHistory()
    history.add(RunStarted(run_id="r", run_dir="/r", time=0.0))
    history.add(Failed(error="the engine process was killed", code="killed"))
    assert history.status == "killed" and history.is_over and history.eta_s() is None


def test_epochs_are_shown_from_one():
    from tui_trainer.engine.history import epoch_text

    history = RunHistory()
    history.add(RunStarted(run_id="r", run_dir="/r", config={"train": {"epochs": 4}}, time=0.0))
    history.add(EpochEnd(epoch=0, step=10, train_loss=0.5))
    assert history.epochs == 4 and history.logs[-1].startswith("epoch 1/4 ended at step 10")
    assert epoch_text(0, 4) == "epoch 1/4" and epoch_text(3) == "epoch 4" and epoch_text(None) == "epoch —"


def test_resumed_run_clears_the_earlier_finish():
    history = RunHistory()
    history.add(RunStarted(run_id="r", run_dir="/r", time=0.0))
    history.add(Finished(step=50, status="stopped", time=1.0))
    history.add(RunStarted(run_id="r", run_dir="/r", resumed_from_step=50, time=2.0))
    assert history.status == "running" and history.finished is None


def test_summary_is_json_ready():
    import json

    history = RunHistory()
    history.add(RunStarted(run_id="r", run_dir="/r", total_steps=10, time=0.0))
    history.add(_step(3, loss=0.25))
    history.add(Checkpoint(step=3, path="/r/checkpoints/step_3.pt"))
    history.add(System(cpu_percent=12.0))
    data = json.loads(json.dumps(history.summary()))
    assert data["step"] == 3 and data["train_loss"] == 0.25 and data["last_checkpoint"].endswith("step_3.pt")


def test_format_duration():
    assert format_duration(None) == "—"
    assert format_duration(42) == "42s"
    assert format_duration(185) == "3m05s"
    assert format_duration(3720) == "1h02m"


def test_resume_drops_the_steps_after_the_checkpoint_so_curves_do_not_double_back():
    history = RunHistory(capacity=64)
    history.add(RunStarted(run_id="r", run_dir="/r", total_steps=500, time=0.0))
    for i in range(1, 151):
        history.add(_step(i, loss=1.0 / i))
    # killed at step 150; the newest checkpoint was at step 100
    history.add(RunStarted(run_id="r", run_dir="/r", total_steps=500, resumed_from_step=100, time=10.0))
    assert history.step == 100
    points = history.series["train_loss"].points()
    assert points[-1].first_step <= 100
    for i in range(101, 121):
        history.add(_step(i, loss=0.5 / i, t=10.0 + i * 0.01))
    steps = [p.first_step for p in history.series["train_loss"].points()]
    assert steps == sorted(steps)
    assert history.latest("train_loss") == pytest.approx(0.5 / 120)


def _snapshot(history):
    def series_state(s):
        return (
            [(p.first_step, p.last_step, p.count, p.mean, p.min, p.max) for p in s.points()],
            s.total,
            s.nonfinite,
            s.last_nonfinite_step,
            repr(s.latest),
            s.latest_step,
            s.width,
        )

    return (
        {k: series_state(v) for k, v in history.series.items()},
        history.step,
        history.epoch,
        history.steps_seen,
        history.events_seen,
        history.status,
        list(history._rate),
        history.last_step,
    )


def test_extend_gives_exactly_what_adding_one_event_at_a_time_gives():
    import random

    from hypothesis import given, settings
    from hypothesis import strategies as st

    values = st.one_of(st.floats(-1e6, 1e6), st.just(math.nan), st.just(math.inf))

    @settings(max_examples=60, deadline=None)
    @given(
        st.lists(st.tuples(st.integers(0, 9), values, values), min_size=1, max_size=300),
        st.integers(0, 2**31),
    )
    def check(rows, seed):
        rng = random.Random(seed)
        events = [RunStarted(run_id="r", run_dir="/r", time=0.0)]
        for i, (kind, a, b) in enumerate(rows, start=1):
            if kind == 0:
                events.append(Eval(step=i, val_loss=a, time=float(i)))
            elif kind == 1 and i > 5:
                events.append(RunStarted(run_id="r", run_dir="/r", resumed_from_step=i - 5, time=float(i)))
            else:
                events.append(
                    Step(
                        step=i,
                        epoch=i // 50,
                        loss=a,
                        lr=b if rng.random() < 0.8 else None,
                        grad_norm=a if rng.random() < 0.5 else None,
                        samples_per_s=100.0,
                        metrics={"acc": b} if rng.random() < 0.3 else {},
                        time=i * 0.01,
                    )
                )
        one_by_one, batched = RunHistory(capacity=8), RunHistory(capacity=8)
        for event in events:
            one_by_one.add(event)
        batched.extend(events)
        assert _snapshot(batched) == _snapshot(one_by_one)

    check()
