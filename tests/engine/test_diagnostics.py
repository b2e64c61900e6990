"""Diagnostics mechanics on exact event streams: cadence independence, evidence and first_step, raise once.

Whether each rule catches real broken runs and stays silent on healthy ones is tested on real training runs in
test_diagnostics_runs.py; here the streams are exact so the arithmetic of each rule is pinned down.
"""

from __future__ import annotations

import math

import pytest

from tui_trainer.engine.config import DiagnosticsConfig
from tui_trainer.engine.diagnostics import CODES, Diagnostics
from tui_trainer.engine.events import Diagnostic, Eval, Step
from tui_trainer.engine.loss_levels import chance_loss, label_entropy


def steps(losses, every=1, start=0, **fields):
    """Step events every `every` steps, each carrying the mean of the losses it covers (as the engine does)."""
    out = []
    for i in range(0, len(losses), every):
        chunk = losses[i : i + every]
        out.append(Step(step=start + i + len(chunk), epoch=0, loss=sum(chunk) / len(chunk), **fields))
    return out


def codes(diags):
    return [d.code for d in diags]


def test_codes_are_the_documented_set():
    assert set(CODES) == {
        "overfitting", "underfitting", "plateau", "exploding_gradients", "vanishing_gradients", "dead_units",
        "nan_loss", "lr_too_high", "dataloader_bottleneck", "majority_class", "leakage",
    }  # fmt: skip


def test_chance_loss_is_label_entropy_log_k_or_target_variance():
    assert label_entropy([50, 50]) == pytest.approx(math.log(2))
    assert chance_loss("classification", 3) == pytest.approx(math.log(3))
    assert chance_loss("classification", 2, [90, 10]) == pytest.approx(
        -(0.9 * math.log(0.9) + 0.1 * math.log(0.1))
    )
    assert chance_loss("regression", target_variance=4.0) == 4.0
    assert chance_loss("regression") is None


PER_STEP_ANSWER = 264  # the decline (steps 1-100) has left the older half of the 200-step window


@pytest.mark.parametrize("every", [1, 7, 50, 130])
def test_underfitting_gives_the_same_answer_whatever_the_logging_cadence(every):
    """A run stuck at ln 2 is flagged at the first report at or after the step a per-step run is flagged."""
    d = Diagnostics()
    d.set_task("classification", 2, [500, 500])
    losses = [0.75 - 0.0005 * i for i in range(100)] + [0.69 + 0.01 * math.sin(i) for i in range(500)]
    out = d.feed_all(steps(losses, every))
    assert codes(out) == ["underfitting"]
    diag = out[0]
    assert PER_STEP_ANSWER <= diag.step < PER_STEP_ANSWER + every
    assert diag.evidence["first_step"] == diag.step
    assert diag.evidence["chance_loss"] == pytest.approx(math.log(2))
    assert diag.evidence["share_of_chance"] > 0.9


def test_a_loss_still_falling_at_chance_level_is_not_underfitting():
    d = Diagnostics()
    d.set_task("classification", 2, [500, 500])
    assert d.feed_all(steps([0.69 * 0.999**i for i in range(600)], 5)) == []


def test_plateau_is_info_between_floor_and_chance():
    d = Diagnostics(DiagnosticsConfig(plateau_steps=100))
    d.set_task("classification", 10)
    losses = [2.3 * math.exp(-i / 10) + 0.8 for i in range(60)] + [
        0.8 + 0.005 * math.sin(i) for i in range(200)
    ]
    out = d.feed_all(steps(losses, 3))
    assert codes(out) == ["plateau"] and out[0].severity == "info"
    assert out[0].evidence["relative_improvement"] < 0.01


def _overfit_stream(d, vals, trains, per=10):
    out = []
    for i, (v, t) in enumerate(zip(vals, trains, strict=True)):
        out += d.feed_all(steps([t] * per, per, start=i * per))
        out += d.feed(Eval(step=(i + 1) * per, val_loss=v))
    return out


def test_overfitting_needs_a_rise_a_gap_and_a_falling_train_loss():
    vals = [0.9, 0.7, 0.6, 0.65, 0.72, 0.8, 0.9]
    d = Diagnostics()
    d.set_task("classification", 3)
    out = _overfit_stream(d, vals, [1.0 * 0.8**i for i in range(7)])
    assert codes(out) == ["overfitting"]
    ev = out[0].evidence
    # Means over 3 evals: the best window is 0.7, 0.6, 0.65 (ending at step 40); the last, 0.72-0.9, is 0.807.
    assert (
        ev["best_val_loss"] == pytest.approx(0.65) and ev["best_step"] == 40 and ev["evals_since_best"] == 3
    )
    assert out[0].step == 70 and ev["first_step"] == 70  # rise needed: 0.1 x max(0.65, log 3)
    # Train loss rising with it: divergence, not overfitting.
    d = Diagnostics()
    d.set_task("classification", 3)
    assert _overfit_stream(d, vals, [0.5 + 0.1 * i for i in range(7)]) == []


def test_a_noisy_validation_loss_around_a_level_is_not_overfitting():
    """A small val split: the val loss jumps between 5 and 13 around a flat level (seen on a real regression)."""
    vals = [76.2, 25.5, 9.29, 5.93, 13.97, 8.94, 9.58, 8.08, 6.56, 6.14, 5.2, 6.97, 9.0, 5.39, 5.29, 6.53, 6.5,
            12.72, 7.52, 11.26, 5.8, 7.92, 5.81, 6.16, 8.7, 6.63, 6.67, 6.46, 6.39, 9.14]  # fmt: skip
    trains = [944.2, 40.2, 18.19, 7.62, 7.83, 12.33, 8.97, 6.28, 5.65, 5.22, 4.6, 5.22, 6.77, 6.05, 5.1, 5.55,
              4.99, 6.47, 7.84, 5.14, 5.78, 5.25, 4.52, 4.79, 5.53, 7.6, 4.63, 4.43, 3.89, 4.44]  # fmt: skip
    d = Diagnostics()
    d.set_task("regression", target_variance=30.2)
    assert "overfitting" not in codes(_overfit_stream(d, vals, trains))


def test_a_tiny_rise_at_perfect_accuracy_is_not_overfitting():
    d = Diagnostics()
    d.set_task("classification", 2)
    vals = [0.05, 0.0014, 0.0020, 0.0035, 0.0050, 0.0066]
    assert _overfit_stream(d, vals, [0.3 * 0.5**i for i in range(6)]) == []


def test_exploding_gradients_names_the_largest_layers():
    d = Diagnostics(DiagnosticsConfig(explode_grad_norm=100, grad_patience=3))
    out = []
    for i, gn in enumerate([1, 2, 500, 800, 1200, 3000, 10], 1):
        layers = {"embed": gn * 0.9, "head": gn * 0.1}
        out += d.feed(Step(step=i * 10, epoch=0, loss=1.0, grad_norm=gn, layer_grad_norms=layers))
    assert codes(out) == ["exploding_gradients"]
    assert out[0].step == 50 and out[0].evidence["first_step"] == 30
    assert out[0].evidence["layers"][0] == "embed" and "`embed`" in out[0].message


def test_vanishing_names_the_starved_layers_not_the_global_norm():
    d = Diagnostics()
    d.set_task("classification", 2)
    norms = {f"{i}": 10.0 ** (-18 + i) for i in range(0, 19, 2)}  # first layer 1e-18 ... last 1
    out = []
    for i in range(1, 5):
        out += d.feed(Step(step=i, epoch=0, loss=0.69, grad_norm=1.0, layer_grad_norms=norms))
    assert codes(out) == ["vanishing_gradients"]
    ev = out[0].evidence
    assert ev["layers"][0] == "0" and ev["largest_layer"] == "18" and ev["orders_below_largest"]["0"] == 18
    assert "`0`" in out[0].message


def test_one_gradient_spike_and_small_gradients_after_convergence_are_fine():
    d = Diagnostics(DiagnosticsConfig(explode_grad_norm=100, grad_patience=3))
    d.set_task("classification", 2)
    out = d.feed_all([Step(step=i, epoch=0, loss=1.0, grad_norm=g) for i, g in enumerate([1, 5000, 1, 1], 1)])
    out += d.feed_all([Step(step=10 + i, epoch=0, loss=0.001, grad_norm=1e-9) for i in range(5)])
    assert out == []


def test_nan_after_calm_steps_at_a_small_lr_points_at_numerics_and_the_module():
    d = Diagnostics()
    d.feed_all([Step(step=i, epoch=0, loss=1.0 - 0.01 * i, grad_norm=0.5, lr=1e-4) for i in range(1, 6)])
    d.note_nonfinite(
        {
            "module": "head",
            "module_type": "Linear",
            "input_finite": False,
            "previous": "body",
            "model_input_finite": True,
        }
    )
    out = d.feed(Step(step=6, epoch=0, loss=float("nan"), lr=1e-4))
    assert codes(out) == ["nan_loss"]
    diag = out[0]
    assert diag.severity == "error" and diag.step == 6 and diag.evidence["first_step"] == 6
    assert diag.evidence["likely_cause"] == "numerical" and diag.evidence["first_nonfinite_module"] == "head"
    assert "log_softmax" in diag.fix and "`head`" in diag.message and "`body`" in diag.message


def test_nan_after_a_climbing_loss_is_divergence():
    d = Diagnostics()
    out = d.feed_all(steps([2.3, 2.0, 1.9, 4.0, 20.0, 90.0, 500.0]))
    out += d.feed(Step(step=8, epoch=0, loss=float("nan"), lr=0.5))
    assert "lr_too_high" in codes(out) and "nan_loss" in codes(out)
    assert next(x for x in out if x.code == "nan_loss").evidence["likely_cause"] == "divergence"


def test_bottleneck_skips_warmup_and_needs_windows_in_a_row():
    cfg = DiagnosticsConfig(data_wait_window=10, data_wait_patience=3, data_wait_warmup_steps=20)
    d = Diagnostics(cfg)
    slow_start = [Step(step=i, epoch=0, loss=1.0, data_wait_s=0.9, compute_s=0.1) for i in range(1, 21)]
    assert d.feed_all(slow_start) == []  # warm-up only
    # Hovering around the threshold (0.55-0.65) never clears below 0.5 but is only "on" from the first >0.6.
    hover = [0.55, 0.62, 0.58, 0.65]
    out = []
    for w, share in enumerate(hover):
        out += d.feed(Step(step=30 + w * 10, epoch=0, loss=1.0, data_wait_s=share, compute_s=1 - share))
    assert codes(out) == ["dataloader_bottleneck"]
    assert out[0].evidence["first_step"] == 40 and out[0].step == 60


def test_bottleneck_state_clears_below_the_hysteresis_band():
    d = Diagnostics(DiagnosticsConfig(data_wait_window=10, data_wait_warmup_steps=0))
    out = []
    for w, share in enumerate([0.7, 0.7, 0.3, 0.7, 0.7, 0.3]):
        out += d.feed(Step(step=(w + 1) * 10, epoch=0, loss=1.0, data_wait_s=share, compute_s=1 - share))
    assert out == []


def test_majority_class_from_the_prediction_histogram():
    d = Diagnostics()
    d.set_task("classification", 3, class_names=["a", "b", "c"])
    out = []
    for i, val in enumerate([1.05, 1.04, 1.04, 1.04, 1.04], 1):
        out += d.feed(Eval(step=i * 30, val_loss=val, pred_counts=[0, 0, 50], label_counts=[20, 20, 10]))
    assert codes(out) == ["majority_class"]
    ev = out[0].evidence
    assert ev["predicted_class_name"] == "c" and ev["predicted_share"] == 1.0 and ev["label_share"] == 0.2
    assert ev["per_class_recall_at_most"] == [0.0, 0.0, 1.0] and ev["first_step"] == 30
    assert out[0].step == 150  # 3 evals and majority_min_steps (100) after the first collapsed one
    assert "not the majority" in out[0].message


def test_spread_predictions_near_chance_are_not_one_class():
    d = Diagnostics()
    for i in range(1, 6):
        assert d.feed(Eval(step=i, val_loss=1.09, pred_counts=[30, 45, 25], label_counts=[34, 33, 33])) == []


def test_preflight_leak_upgrades_a_perfect_first_eval_to_a_warning():
    d = Diagnostics()
    d.set_task("classification", 3)
    feats = [{"feature": "code", "metric": "accuracy", "score": 1.0}]
    first = d.note_leaky_features(feats)
    assert codes(first) == ["leakage"] and first[0].severity == "warning" and "`code`" in first[0].message
    assert d.feed(Eval(step=10, val_loss=0.01, epoch=0, metrics={"accuracy": 1.0})) == []  # said once

    d = Diagnostics()
    d.set_task("classification", 3)
    out = d.feed(Eval(step=10, val_loss=0.01, epoch=0, metrics={"accuracy": 1.0}, label_counts=[20, 20, 20]))
    assert codes(out) == ["leakage"] and out[0].severity == "info"


def test_every_diagnostic_carries_first_step():
    d = Diagnostics()
    out = d.feed_all(steps([1.0, 0.9, float("nan")]))
    assert all("first_step" in x.evidence for x in out)


def test_a_diagnostic_seen_in_the_stream_is_not_raised_again():
    d = Diagnostics()
    d.feed(Diagnostic(code="nan_loss", severity="error", step=3, message="before the resume"))
    assert d.feed_all(steps([1.0, float("nan")])) == []


def test_thresholds_come_from_the_config_schema():
    d = Diagnostics(DiagnosticsConfig(overfit_patience=7, explode_grad_norm=5.0))
    assert d.t.overfit_patience == 7 and d.t.explode_grad_norm == 5.0


def test_docs_table_lists_every_code_and_threshold_with_its_default():
    import msgspec

    from tests.conftest import REPO_ROOT

    doc = (REPO_ROOT / "docs" / "diagnostics.md").read_text(encoding="utf-8")
    for code in CODES:
        assert f"| `{code}` |" in doc, code
    for name, default in msgspec.structs.asdict(DiagnosticsConfig()).items():
        if name == "enabled":
            continue
        assert f"`{name}`" in doc, name
        shown = f"`{name}` ({default:g})" if isinstance(default, float) else f"`{name}` ({default})"
        assert shown in doc, f"docs/diagnostics.md should show {shown}"


def test_a_flat_loss_during_lr_warmup_is_not_underfitting():
    d = Diagnostics()
    d.set_task("classification", 2, [500, 500])
    warm = [Step(step=i, epoch=0, loss=0.69, lr=1e-3 * i / 400) for i in range(1, 401)]
    assert d.feed_all(warm) == []


def test_an_unused_module_with_zero_gradients_is_not_vanishing():
    d = Diagnostics()
    d.set_task("classification", 2)
    norms = {"body": 0.5, "head": 0.3, "unused_head": 0.0}
    out = d.feed_all([Step(step=i, epoch=0, loss=0.69, layer_grad_norms=norms) for i in range(1, 6)])
    assert "vanishing_gradients" not in codes(out)


def test_large_gradients_while_the_loss_falls_fast_are_not_exploding():
    d = Diagnostics(DiagnosticsConfig(explode_grad_norm=100, grad_patience=3))
    losses = [4000.0, 2000.0, 900.0, 400.0, 150.0]
    out = d.feed_all([Step(step=i, epoch=0, loss=v, grad_norm=500.0) for i, v in enumerate(losses, 1)])
    assert "exploding_gradients" not in codes(out)
