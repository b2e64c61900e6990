"""When per-layer readings are taken (layer_stats.ReadingSchedule, the engine's and run.watch's one rule), what
they cost the engine, and overfitting's running state giving the answer the full scan over the evals gave."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.engine.conftest import write_config
from tui_trainer.engine.config import DiagnosticsConfig, load_config
from tui_trainer.engine.diagnostics import Diagnostics
from tui_trainer.engine.events import Eval, Step
from tui_trainer.engine.layer_stats import READINGS_FREE, READINGS_SHARE, ReadingSchedule, StepReadings
from tui_trainer.engine.loop import run_training
from tui_trainer.engine.step_window import ADAPTIVE_EVERY_STEP, ADAPTIVE_INTERVAL_S


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_schedule_reads_the_first_reports_then_once_per_interval_whatever_the_report_rate():
    clock = Clock()
    schedule = ReadingSchedule(clock=clock)
    assert all(schedule.take() for _ in range(ADAPTIVE_EVERY_STEP))
    # Reports every millisecond (the one before each eval of a fast epoch): one reading per interval.
    taken = []
    for _ in range(1000):
        clock.t += 0.001
        taken.append(schedule.take())
    assert sum(taken) == pytest.approx(1.0 / ADAPTIVE_INTERVAL_S, abs=1)
    assert schedule.reports == ADAPTIVE_EVERY_STEP + 1000 and schedule.skipped == 0


def test_schedule_every_n_and_the_callers_cadence():
    schedule = ReadingSchedule(every=5, clock=Clock())
    assert [i for i in range(1, 21) if schedule.take()] == [5, 10, 15, 20]
    own = ReadingSchedule(clock=Clock())
    assert [own.take(cadence=c) for c in (True, False, True)] == [True, False, True]


def test_budget_skips_readings_that_would_take_more_than_their_share_of_the_time():
    clock = Clock()
    schedule = ReadingSchedule(clock=clock)
    for _ in range(READINGS_FREE):  # the first readings are free, however dear
        assert schedule.take()
        schedule.charge(1.0)
        clock.t += 0.001
    clock.t += 1.0
    assert schedule.take()  # the budget starts here
    schedule.charge(0.05)  # a 50 ms reading: the next one waits until it is READINGS_SHARE of the time
    clock.t += 1.0
    assert not schedule.take() and schedule.skipped == 1
    clock.t += 0.05 / READINGS_SHARE - 1.0 + 0.01
    assert schedule.take()
    assert schedule.taken == READINGS_FREE + 2


def test_step_readings_record_one_armed_step_and_charge_its_time():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    readings = StepReadings(model)
    x, y = torch.randn(32, 4), torch.randint(0, 2, (32,))
    assert readings.start()
    nn.functional.cross_entropy(model(x), y).backward()
    norms = readings.grad_norms()
    dead = readings.finish()
    assert set(norms) == {"0", "2"} and set(dead) == {"1"}
    assert readings.schedule.spent > 0 and not any(m._forward_hooks for m in model.modules())
    assert readings.finish() == {}  # nothing armed: nothing read


def test_engine_reads_per_layer_on_its_own_clock_and_not_on_every_report(tmp_path):
    """A fast epoch (6 steps) reports before every eval; the readings stay at the first 20 and ~10 a second."""
    cfg = write_config(tmp_path)
    overrides = ["train.log_every=0", "train.epochs=250", "train.checkpoint_every=0"]
    events = []
    result = run_training(load_config(cfg, overrides), tmp_path / "run", emit=events.append)
    assert result.status == "completed"
    steps = [e for e in events if e.type == "step"]
    loop_s = sum(e.duration_s for e in events if e.type == "epoch_end")
    read = [s for s in steps if s.layer_grad_norms]
    assert [s.step for s in read[:ADAPTIVE_EVERY_STEP]] == list(range(1, ADAPTIVE_EVERY_STEP + 1))
    # Every reading has the layers, the dead units and the global norm they make up (no clipping here).
    for s in read:
        assert set(s.layer_grad_norms) == {"0", "2"} and set(s.dead_units) == {"1"}
        assert s.grad_norm == pytest.approx(math.sqrt(sum(v * v for v in s.layer_grad_norms.values())))
    late = [s for s in read if s.step > ADAPTIVE_EVERY_STEP]
    assert loop_s > 4 * ADAPTIVE_INTERVAL_S, "lengthen the run: it must outlast a few reading intervals"
    assert 1 <= len(late) <= loop_s / ADAPTIVE_INTERVAL_S + 1
    # The reports before each eval carry the loss only: no per-layer pass, no extra pass for the norm.
    bare = [s for s in steps if not s.layer_grad_norms]
    assert len(bare) > 100 and all(not s.dead_units and s.grad_norm is None for s in bare)


# -- overfitting: the running best window against the scan over every window it replaced ------------------


def scanned_overfitting(
    evals: list[tuple[int, float, float]], t: DiagnosticsConfig, scale: float, initial: float
):
    """The rule as it was first written (a scan over the windows since the best): (step, first_step) or None."""
    k = max(1, t.overfit_patience)
    windows: list[dict] = []
    best_i = -1
    for j in range(k - 1, len(evals)):
        tail = evals[j + 1 - k : j + 1]
        windows.append(
            {"step": evals[j][0], "val": sum(e[1] for e in tail) / k, "train": sum(e[2] for e in tail) / k}
        )
        if best_i < 0 or windows[-1]["val"] < windows[best_i]["val"]:
            best_i = len(windows) - 1
        best, now = windows[best_i], windows[-1]
        if len(windows) - 1 - best_i < k:
            continue
        rise = max(t.overfit_min_delta, t.overfit_min_rise * max(abs(best["val"]), scale))
        gap = t.overfit_min_gap * scale

        def holds(w, best=best, rise=rise, gap=gap):
            return w["val"] - best["val"] > rise and w["val"] - w["train"] >= gap

        first = next((w["step"] for w in windows[best_i + 1 :] if holds(w)), now["step"])
        if now["train"] < best["train"] and now["train"] < initial and holds(now):
            return now["step"], first
    return None


@settings(max_examples=60, deadline=None)
@given(
    vals=st.lists(st.floats(0.05, 1.5), min_size=4, max_size=40),
    drop=st.floats(0.001, 0.05),
)
def test_overfitting_running_state_matches_the_scan(vals, drop):
    t = DiagnosticsConfig()
    d = Diagnostics(t)
    d.set_task("classification", 2, [50, 50])
    trains = [max(0.01, 0.69 - drop * i) for i in range(len(vals))]  # falling: never a divergence
    evals = [(10 * (i + 1), v, tr) for i, (v, tr) in enumerate(zip(vals, trains, strict=True))]
    raised = None
    for step, val, train in evals:
        d.feed(Step(step=step, epoch=0, loss=train))
        for diag in d.feed(Eval(step=step, val_loss=val, metrics={})):
            if diag.code == "overfitting":
                raised = (diag.step, diag.evidence["first_step"])
    assert raised == scanned_overfitting(evals, t, math.log(2), trains[0])


def test_docs_state_the_reading_rule_with_its_numbers():
    from tests.conftest import REPO_ROOT

    doc = (REPO_ROOT / "docs" / "diagnostics.md").read_text(encoding="utf-8")
    assert "`ReadingSchedule`" in doc and "`READINGS_SHARE`" in doc and "`READINGS_FREE`" in doc
    assert f"first {READINGS_FREE}" in doc and f"{READINGS_SHARE * 100:g} %" in doc
    assert f"{ADAPTIVE_INTERVAL_S:g} s" in doc


@settings(max_examples=80, deadline=None)
@given(
    k=st.integers(1, 6),
    pairs=st.lists(st.tuples(st.integers(-2, 8), st.integers(-2, 8)), max_size=60),
)
def test_split_counts_match_counting_by_hand_in_or_out_of_range(k, pairs):
    """The Python count (a small CPU split), the one-bincount path (ids in range) and the general one (ids out
    of range) give the same answer as counting by hand: negative ids count as class 0, lists grow to fit ids
    >= K, right = prediction == label."""
    from unittest import mock

    from tui_trainer.engine import layer_stats
    from tui_trainer.engine.layer_stats import class_counts, split_counts

    preds = [p for p, _ in pairs]
    labels = [t for _, t in pairs]
    size = max([k] + [max(v, 0) + 1 for v in preds + labels])
    want_pred = [sum(1 for v in preds if max(v, 0) == c) for c in range(size)]
    want_true = [sum(1 for v in labels if max(v, 0) == c) for c in range(size)]
    right = sum(p == t for p, t in pairs)
    got = split_counts(torch.tensor(preds, dtype=torch.long), torch.tensor(labels, dtype=torch.long), k)
    assert got == (want_pred, want_true, right)
    with mock.patch.object(layer_stats, "PYTHON_COUNT_MAX_ROWS", 0):  # the bincount paths
        got = split_counts(torch.tensor(preds, dtype=torch.long), torch.tensor(labels, dtype=torch.long), k)
    assert got == (want_pred, want_true, right)
    assert class_counts(torch.tensor(preds, dtype=torch.long), torch.tensor(labels, dtype=torch.long), k) == (
        want_pred,
        want_true,
    )
