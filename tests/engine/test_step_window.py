"""StepWindow: which steps report, and the `step` event for the window (mean loss, NaN offset, epoch mean)."""

from __future__ import annotations

import math

import pytest
import torch

from tui_trainer.engine.step_window import ADAPTIVE_EVERY_STEP, MAX_WINDOW, StepWindow


def test_fixed_cadence_reports_every_log_every_steps():
    window = StepWindow(log_every=5, start_step=0)
    assert [s for s in range(1, 21) if window.due(s, now=0.0)] == [5, 10, 15, 20]


def test_adaptive_cadence_reports_the_first_steps_then_by_time():
    window = StepWindow(log_every=0, start_step=100)
    assert all(window.due(100 + s, now=0.0) for s in range(1, ADAPTIVE_EVERY_STEP + 1))
    assert not window.due(100 + ADAPTIVE_EVERY_STEP + 1, now=window._last_flush)
    assert window.due(100 + ADAPTIVE_EVERY_STEP + 1, now=window._last_flush + 0.2)


def test_a_huge_log_every_still_bounds_the_window():
    window = StepWindow(log_every=10**9, start_step=0)
    for _ in range(MAX_WINDOW):
        window.add(torch.tensor(1.0), 1, 0.0)
    assert window.due(MAX_WINDOW + 1, now=0.0)
    assert not StepWindow(log_every=10**9, start_step=0, fixed=True).due(7, now=0.0)


def test_flush_is_the_mean_of_finite_losses_with_rate_and_timings():
    window = StepWindow(log_every=1, start_step=0)
    for loss, wait in (
        (torch.tensor(1.0), 0.01),
        (torch.tensor(float("nan")), 0.02),
        (torch.tensor(3.0), 0.03),
    ):
        window.add(loss, 8, wait)
        window.add_compute(0.5)
    assert window.first_nonfinite() == 1
    event = window.flush(step=3, epoch=0, lr=0.1, grad_norm=2.0)
    assert event.loss == pytest.approx(2.0) and event.step == 3 and event.lr == 0.1 and event.grad_norm == 2.0
    assert event.data_wait_s == pytest.approx(0.06) and event.compute_s == pytest.approx(1.5)
    assert event.samples_per_s > 0
    assert len(window) == 0 and window.first_nonfinite() is None


def test_epoch_mean_counts_every_step_once():
    window = StepWindow(log_every=1, start_step=0)
    for v in (1.0, 2.0):
        window.add(v, 1, 0.0)
    window.flush(step=2, epoch=0)
    window.add(6.0, 1, 0.0)  # not reported before the epoch ends
    assert window.end_epoch() == pytest.approx(3.0)
    window.add(10.0, 1, 0.0)
    event = window.flush(step=4, epoch=1)  # covers the carried 6.0 and the new 10.0
    assert event.loss == pytest.approx(8.0)
    assert window.end_epoch() == pytest.approx(10.0)  # 6.0 belonged to the previous epoch
    assert window.end_epoch() is None
    assert math.isnan(StepWindow(1, 0).flush(step=1, epoch=0).loss)
