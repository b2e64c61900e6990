"""Diagnostics on crafted event sequences: each code fires on the run made to show it, and never on a healthy run."""

from __future__ import annotations

import math

import pytest

from tui_trainer.engine.diagnostics import CODES, Diagnostics, Thresholds
from tui_trainer.engine.events import Eval, Step


def steps(losses, grad_norms=None, start=1, wait=None, compute=None):
    out = []
    for i, loss in enumerate(losses):
        out.append(
            Step(
                step=start + i,
                epoch=0,
                loss=loss,
                grad_norm=None if grad_norms is None else grad_norms[i],
                data_wait_s=wait,
                compute_s=compute,
            )
        )
    return out


def codes(diags):
    return [d.code for d in diags]


def healthy_run():
    """Loss decaying towards a floor with noise, sane grads, val loss tracking train loss, accuracy rising."""
    events = []
    step = 0
    for epoch in range(20):
        for _ in range(50):
            step += 1
            base = 2.0 * math.exp(-step / 150) + 0.02
            noise = 0.05 * base * math.sin(step * 1.7)
            events.append(
                Step(
                    step=step,
                    epoch=epoch,
                    loss=base + noise,
                    grad_norm=1.0 + 0.5 * math.cos(step),
                    data_wait_s=0.001,
                    compute_s=0.01,
                )
            )
        val = 2.0 * math.exp(-step / 150) + 0.05
        events.append(Eval(step=step, val_loss=val, metrics={"accuracy": min(0.99, 0.4 + step / 1000)}))
    return events


def test_healthy_run_raises_nothing():
    diags = Diagnostics(majority_share=0.4).feed_all(healthy_run())
    assert diags == []


def test_overfitting_val_rising_while_train_falls():
    d = Diagnostics(Thresholds(overfit_patience=3))
    out = []
    train = 1.0
    for i, val in enumerate([0.9, 0.7, 0.6, 0.65, 0.72, 0.8, 0.9]):
        out += d.feed_all(steps([train, train * 0.95, train * 0.9], start=i * 3 + 1))
        train *= 0.85
        out += d.feed(Eval(step=i * 3 + 3, val_loss=val))
    assert codes(out) == ["overfitting"]
    diag = out[0]
    assert diag.severity == "warning"
    assert diag.evidence["best_val_loss"] == 0.6 and diag.evidence["best_step"] == 9
    assert diag.fix


def test_overfitting_not_raised_when_train_loss_rises_too():
    d = Diagnostics(Thresholds(overfit_patience=3))
    out = []
    for i, val in enumerate([0.9, 0.7, 0.6, 0.65, 0.72, 0.8, 0.9]):
        out += d.feed_all(steps([0.5 + 0.1 * i] * 3, start=i * 3 + 1))
        out += d.feed(Eval(step=i * 3 + 3, val_loss=val))
    assert "overfitting" not in codes(out)


def test_overfitting_ignores_tiny_rises_near_the_minimum():
    d = Diagnostics(Thresholds(overfit_patience=3))
    out = []
    train = 0.01
    for i, val in enumerate([0.00745, 0.00746, 0.00750, 0.00755]):
        out += d.feed_all(steps([train] * 3, start=i * 3 + 1))
        train *= 0.9
        out += d.feed(Eval(step=i * 3 + 3, val_loss=val))
    assert out == []


def test_underfitting_when_loss_stalls_high():
    d = Diagnostics(Thresholds(plateau_steps=100))
    losses = [2.3 - 0.002 * i for i in range(20)] + [2.26 + 0.01 * math.sin(i) for i in range(200)]
    out = d.feed_all(steps(losses))
    assert codes(out) == ["underfitting"]
    assert out[0].evidence["share_of_initial"] > 0.7


def test_plateau_when_loss_stalls_midway():
    d = Diagnostics(Thresholds(plateau_steps=100))
    losses = [2.0 * math.exp(-i / 10) + 0.8 for i in range(60)] + [
        0.8 + 0.005 * math.sin(i) for i in range(200)
    ]
    out = d.feed_all(steps(losses))
    assert codes(out) == ["plateau"]
    assert out[0].severity == "info"


def test_exploding_gradients():
    d = Diagnostics(Thresholds(explode_grad_norm=100, grad_patience=3))
    out = d.feed_all(steps([1.0] * 10, grad_norms=[1, 2, 5, 500, 800, 1200, 3000, 10, 10, 10]))
    assert codes(out) == ["exploding_gradients"]
    assert out[0].step == 6


def test_one_gradient_spike_is_not_exploding():
    d = Diagnostics(Thresholds(explode_grad_norm=100, grad_patience=3))
    assert d.feed_all(steps([1.0] * 6, grad_norms=[1, 2, 5000, 1, 1, 1])) == []


def test_vanishing_gradients_while_loss_is_high():
    d = Diagnostics(Thresholds(vanish_grad_norm=1e-6, grad_patience=3))
    out = d.feed_all(steps([1.0] * 6, grad_norms=[1e-3, 1e-8, 1e-9, 1e-9, 1e-9, 1e-9]))
    assert codes(out) == ["vanishing_gradients"]


def test_small_gradients_after_convergence_are_fine():
    d = Diagnostics(Thresholds(vanish_grad_norm=1e-6, grad_patience=3))
    out = d.feed_all(steps([1.0, 0.01, 0.001, 0.001, 0.001], grad_norms=[1.0, 1e-8, 1e-9, 1e-9, 1e-9]))
    assert out == []


def test_nan_loss_is_an_error_with_the_step():
    d = Diagnostics()
    out = d.feed_all(steps([1.0, 0.9, 0.8, float("nan")]))
    assert codes(out) == ["nan_loss"]
    assert out[0].severity == "error" and out[0].step == 4


def test_infinite_grad_norm_is_nan_loss():
    d = Diagnostics()
    out = d.feed_all(steps([1.0, 0.9], grad_norms=[1.0, float("inf")]))
    assert codes(out) == ["nan_loss"]


def test_lr_too_high_when_loss_diverges():
    d = Diagnostics()
    out = d.feed_all(steps([2.3, 2.0, 1.8, 3.0, 8.0, 40.0, 300.0, 5000.0]))
    assert "lr_too_high" in codes(out)
    diag = out[codes(out).index("lr_too_high")]
    assert diag.severity == "error" and "optim.lr" in diag.fix


def test_nan_after_climbing_loss_is_also_lr_too_high():
    d = Diagnostics()
    out = d.feed_all(steps([2.3, 5.0, 40.0, float("nan")]))
    assert codes(out) == ["nan_loss", "lr_too_high"]


def test_noisy_loss_below_start_is_not_divergence():
    d = Diagnostics()
    losses = [1.0, 0.2, 0.05, 0.01, 0.2, 0.3, 0.25, 0.2]  # spikes far above the best, but below the start
    assert "lr_too_high" not in codes(d.feed_all(steps(losses)))


def test_dataloader_bottleneck():
    d = Diagnostics(Thresholds(data_wait_window=5, data_wait_fraction=0.5))
    out = d.feed_all(steps([1.0 - 0.01 * i for i in range(6)], wait=0.08, compute=0.02))
    assert codes(out) == ["dataloader_bottleneck"]
    assert out[0].evidence["data_wait_share"] == pytest.approx(0.8)


def test_no_bottleneck_when_compute_dominates():
    d = Diagnostics(Thresholds(data_wait_window=5))
    assert d.feed_all(steps([1.0 - 0.01 * i for i in range(10)], wait=0.001, compute=0.02)) == []


def test_majority_class_accuracy_stuck_at_majority_share():
    d = Diagnostics(Thresholds(majority_patience=3), majority_share=0.62)
    out = []
    for i, acc in enumerate([0.55, 0.62, 0.62, 0.615]):
        out += d.feed(Eval(step=i + 1, val_loss=0.7, metrics={"accuracy": acc}))
    assert codes(out) == ["majority_class"]
    assert out[0].evidence["majority_share"] == 0.62


def test_majority_share_can_come_with_the_eval():
    d = Diagnostics(Thresholds(majority_patience=2))
    out = []
    for i in range(3):
        out += d.feed(Eval(step=i, val_loss=0.7, metrics={"accuracy": 0.9, "majority_share": 0.9}))
    assert codes(out) == ["majority_class"]


def test_each_code_is_raised_once():
    d = Diagnostics()
    out = d.feed_all(steps([1.0, float("nan"), float("nan"), float("nan")]))
    assert codes(out) == ["nan_loss"]


def test_thresholds_from_config_section():
    from tui_trainer.engine.config import DiagnosticsConfig

    t = Thresholds.from_config(DiagnosticsConfig(overfit_patience=7, explode_grad_norm=5.0))
    assert t.overfit_patience == 7 and t.explode_grad_norm == 5.0


def test_codes_cover_the_issue_list():
    assert set(CODES) == {
        "overfitting",
        "underfitting",
        "plateau",
        "exploding_gradients",
        "vanishing_gradients",
        "nan_loss",
        "lr_too_high",
        "dataloader_bottleneck",
        "majority_class",
    }


def test_majority_class_not_raised_when_there_is_one_class():
    d = Diagnostics(Thresholds(majority_patience=2), majority_share=1.0)
    out = []
    for i in range(4):
        out += d.feed(Eval(step=i, val_loss=0.01, metrics={"accuracy": 1.0}))
    assert out == []
