"""Each diagnostic on real training runs: the broken run is caught within its rule's patience, over seeds, and
its healthy twin raises no warning or error. Real modules, optimisers and data (the penguins sample or small
generated problems), reported the way the engine reports (see diagnostic_runs.py)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

from tests.engine.diagnostic_runs import mlp, penguins, split, train, xor_blobs
from tui_trainer.engine.config import DiagnosticsConfig
from tui_trainer.engine.diagnostics import Diagnostics
from tui_trainer.engine.preflight import leaky_features

SEEDS = [0, 1, 2, 3, 4]
X, Y, _ = penguins()
X_RAW, _, _ = penguins(standardise=False)  # grams and millimetres, as read from the file
PATIENCE = DiagnosticsConfig()


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def healthy_penguins(seed: int, **kw):
    return train(
        mlp([4, 16, 3], seed=seed), split(X, Y, seed), epochs=30, batch_size=16, lr=3e-3, seed=seed, **kw
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_healthy_penguins_mlp_is_silent(seed):
    run = healthy_penguins(seed)
    assert run.warnings() == [], [d.message for d in run.diagnostics]
    assert "leakage" not in run.codes()


# -- underfitting ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_linear_model_on_xor_underfits_at_any_logging_cadence(seed):
    data = split(*xor_blobs(400, seed), seed)
    answers = []
    for log_every in (1, 10, 0):  # every step, every 10, once an epoch (10 steps)
        run = train(mlp([2, 2], seed=seed), data, epochs=40, seed=seed, log_every=log_every)
        diag = run.get("underfitting")
        assert diag.evidence["chance_loss"] == pytest.approx(math.log(2), abs=0.01)
        assert diag.evidence["share_of_chance"] >= 0.9
        answers.append(diag.step)
    # Within a few hundred steps, and the same answer (to one report) whatever the cadence.
    assert max(answers) <= PATIENCE.plateau_steps + 60
    assert max(answers) - min(answers) <= 20


@pytest.mark.parametrize("seed", SEEDS)
def test_mlp_on_xor_is_silent(seed):
    run = train(mlp([2, 16, 16, 2], seed=seed), split(*xor_blobs(400, seed), seed), epochs=40, seed=seed)
    assert run.warnings() == []


# -- vanishing / exploding / dead units --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_twenty_layer_sigmoid_net_names_its_starved_first_layers(seed):
    model = mlp([4] + [16] * 20 + [3], act=nn.Sigmoid, seed=seed)
    run = train(model, split(X, Y, seed), epochs=4, batch_size=16, lr=1e-3, seed=seed, log_every=1)
    diag = run.get("vanishing_gradients")
    assert diag.evidence["layers"][0] == "0"  # the first Linear starves most
    assert diag.evidence["orders_below_largest"]["0"] >= 5
    assert "`0`" in diag.message
    assert diag.step <= PATIENCE.grad_patience + 2
    if "underfitting" in run.codes():  # the cause is said first, not "use a bigger model"
        assert run.codes().index("vanishing_gradients") < run.codes().index("underfitting")


@pytest.mark.parametrize("seed", SEEDS)
def test_eight_layer_relu_net_is_silent(seed):
    model = mlp([4] + [16] * 8 + [3], seed=seed)
    run = train(model, split(X, Y, seed), epochs=15, batch_size=16, lr=1e-3, seed=seed)
    assert run.warnings() == []


@pytest.mark.parametrize("seed", SEEDS)
def test_unscaled_regression_target_explodes_and_names_layers(seed):
    """Body mass in grams as the target, SGD: gradients in the thousands from the first step."""
    data = split(X[:, :3], X_RAW[:, 3:4], seed)
    run = train(
        mlp([3, 16, 1], seed=seed), data, task="regression", epochs=5, lr=1e-3, optimiser="sgd", seed=seed,
        log_every=1,
    )  # fmt: skip
    diag = run.get("exploding_gradients")
    assert diag.step <= PATIENCE.grad_patience + 1 and diag.evidence["first_step"] == 1
    assert set(diag.evidence["layers"]) <= {"0", "2"} and diag.evidence["layers"]
    assert "nan_loss" not in run.codes() or run.get("nan_loss").evidence["likely_cause"] == "divergence"


@pytest.mark.parametrize("seed", SEEDS)
def test_standardised_regression_target_is_silent(seed):
    mass = X_RAW[:, 3:4]
    data = split(X[:, :3], (mass - mass.mean()) / mass.std(), seed)
    run = train(mlp([3, 16, 1], seed=seed), data, task="regression", epochs=20, lr=1e-2, seed=seed)
    assert run.warnings() == []


@pytest.mark.parametrize("seed", SEEDS)
def test_unnormalised_inputs_kill_relu_units(seed):
    run = train(mlp([4, 32, 32, 3], seed=seed), split(X_RAW, Y, seed), epochs=4, batch_size=16, lr=0.01,
                optimiser="sgd", seed=seed, log_every=1)  # fmt: skip
    diag = run.get("dead_units")
    assert diag.evidence["layers"] and all(
        diag.evidence["dead_units"][k] >= 0.9 for k in diag.evidence["layers"]
    )
    assert diag.step - diag.evidence["first_step"] <= PATIENCE.grad_patience


# -- majority class --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_dead_network_predicting_one_class_is_caught(seed):
    run = train(mlp([4, 32, 32, 3], seed=seed), split(X_RAW, Y, seed), epochs=12, batch_size=16, lr=0.01,
                optimiser="sgd", seed=seed)  # fmt: skip
    diag = run.get("majority_class")
    ev = diag.evidence
    assert ev["predicted_share"] >= 0.9 and ev["label_share"] < 0.6
    assert sum(1 for r in ev["per_class_recall_at_most"] if r == 0) == 2
    steps_per_eval = 16  # raised once the collapse lasted majority_min_steps and the val loss stopped falling
    assert diag.step - ev["first_step"] <= PATIENCE.majority_min_steps + 3 * steps_per_eval


@pytest.mark.parametrize("seed", SEEDS)
def test_model_stuck_on_a_minority_class_is_caught(seed):
    """Hand-set class weights that overweight Chinstrap (20 % of the rows): the model predicts only it."""
    loss = nn.CrossEntropyLoss(weight=torch.tensor([1.0, 10.0, 1.0]))
    run = train(mlp([4, 32, 32, 3], seed=seed), split(X_RAW, Y, seed), epochs=12, batch_size=16, lr=0.01,
                optimiser="sgd", loss_fn=loss, seed=seed)  # fmt: skip
    diag = run.get("majority_class")
    assert diag.evidence["predicted_class"] == 1 and "not the majority" in diag.message


@pytest.mark.parametrize("seed", SEEDS)
def test_near_chance_model_on_balanced_classes_is_not_one_class(seed):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (400,), generator=g)
    x = torch.randn(400, 2, generator=g)
    x[:, 0] += 0.4 * y  # a weak signal: ~45 % accuracy, predictions spread over the classes
    run = train(mlp([2, 3], seed=seed), split(x, y, seed), epochs=20, seed=seed)
    assert "majority_class" not in run.codes()


# -- overfitting -----------------------------------------------------------------------------------------------


def noisy_small(seed: int):
    """150 penguins, 30 % of labels flipped, 10 noise columns, 40 % held out: a wide MLP memorises it."""
    g = torch.Generator().manual_seed(seed)
    y = Y.clone()
    flip = torch.rand(len(y), generator=g) < 0.3
    y[flip] = torch.randint(0, 3, (int(flip.sum()),), generator=g)
    x = torch.cat([X, torch.randn(len(X), 10, generator=g)], 1)
    keep = torch.randperm(len(X), generator=g)[:150]
    return split(x[keep], y[keep], seed, 0.4)


@pytest.mark.parametrize("seed", SEEDS)
def test_wide_mlp_memorising_noisy_labels_overfits(seed):
    run = train(
        mlp([14, 128, 128, 3], seed=seed), noisy_small(seed), epochs=60, batch_size=16, lr=1e-2, seed=seed
    )
    diag = run.get("overfitting")
    ev = diag.evidence
    assert ev["gap"] >= ev["gap_threshold"] and ev["evals_since_best"] >= PATIENCE.overfit_patience
    assert ev["train_losses"][-1] < ev["train_losses"][0]


@pytest.mark.parametrize("seed", SEEDS)
def test_long_training_to_perfect_accuracy_is_not_overfitting(seed):
    """Penguins for 80 epochs: the val loss creeps up from ~0.01 at accuracy ~1.0; no gap worth a warning."""
    run = train(mlp([4, 32, 3], seed=seed), split(X, Y, seed), epochs=80, batch_size=16, lr=1e-2, seed=seed)
    assert "overfitting" not in run.codes()


@pytest.mark.parametrize("seed", SEEDS)
def test_diverged_run_is_not_called_overfitting(seed):
    run = train(
        mlp([4, 16, 16, 3], seed=seed), split(X, Y, seed), epochs=15, batch_size=16, lr=0.5, seed=seed
    )
    assert "overfitting" not in run.codes()


# -- dataloader bottleneck ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_slow_loader_is_a_bottleneck_and_a_fast_one_is_not(seed):
    data = split(*xor_blobs(400, seed), seed)
    slow = train(mlp([2, 16, 2], seed=seed), data, epochs=25, seed=seed, log_every=5, load_delay_s=0.002)
    diag = slow.get("dataloader_bottleneck")
    assert diag.evidence["data_wait_share"] > 0.6
    assert diag.evidence["first_step"] > PATIENCE.data_wait_warmup_steps
    window = PATIENCE.data_wait_window
    assert diag.step <= PATIENCE.data_wait_warmup_steps + window * PATIENCE.data_wait_patience + window
    fast = train(mlp([2, 16, 2], seed=seed), data, epochs=25, seed=seed, log_every=5)
    assert "dataloader_bottleneck" not in fast.codes()


# -- leakage ---------------------------------------------------------------------------------------------------


NAMES = ("bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g")


@pytest.mark.parametrize("seed", SEEDS)
def test_a_function_of_the_label_is_named_at_preflight(seed):
    code = (Y * 7 + 3).float().unsqueeze(1)  # "species_code": a deterministic function of the label, renamed
    x_tr, y_tr, _, _ = split(torch.cat([X, (code - code.mean()) / code.std()], 1), Y, seed)
    enc = {"features": [{"name": n, "type": "number"} for n in (*NAMES, "species_code")]}
    found = leaky_features(x_tr, y_tr, "classification", enc, min_gain=PATIENCE.leak_feature_gain)
    assert [f["feature"] for f in found] == ["species_code"] and found[0]["score"] == 1.0
    d = Diagnostics()
    d.set_task("classification", 3)
    (diag,) = d.note_leaky_features(found)
    assert diag.code == "leakage" and diag.severity == "warning" and "`species_code`" in diag.message
    assert diag.evidence["first_step"] == 0


@pytest.mark.parametrize("seed", SEEDS)
def test_a_one_hot_copy_of_the_label_is_perfect_from_the_first_eval(seed):
    """A text column holding the species under another name, one-hot encoded as the engine does."""
    x = torch.cat([X, nn.functional.one_hot(Y, 3).float()], 1)
    data = split(x, Y, seed)
    enc = {"features": [{"name": n, "type": "number"} for n in NAMES]}
    enc["features"].append({"name": "kind", "type": "one_hot", "categories": ["a", "b", "c"]})
    found = leaky_features(data[0], data[1], "classification", enc, min_gain=PATIENCE.leak_feature_gain)
    assert [f["feature"] for f in found] == ["kind"]
    run = train(mlp([7, 16, 3], seed=seed), data, epochs=3, batch_size=16, lr=3e-2, seed=seed)
    first_eval = next(e for e in run.events if e.type == "eval")
    diag = run.get("leakage")  # without the preflight finding: the eval rule alone, as info
    assert diag.step == first_eval.step and diag.evidence["score"] >= PATIENCE.leak_score
    assert diag.severity == "info"
    warned = train(mlp([7, 16, 3], seed=seed), data, epochs=3, batch_size=16, lr=3e-2, seed=seed, leaks=found)
    assert warned.get("leakage").severity == "warning" and warned.get("leakage").step == 0


@pytest.mark.parametrize("seed", SEEDS)
def test_real_features_are_not_leaks(seed):
    x_tr, y_tr, _, _ = split(X, Y, seed)
    assert leaky_features(x_tr, y_tr, "classification", min_gain=PATIENCE.leak_feature_gain) == []


# -- nan_loss --------------------------------------------------------------------------------------------------


class HandSoftmax(nn.Module):
    """A softmax written by hand: exp overflows to inf on large logits, inf/inf is NaN."""

    def __init__(self, width: int):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(width, 16), nn.ReLU())
        self.head = nn.Linear(16, 3)

    def forward(self, x):
        e = torch.exp(self.head(self.body(x)))
        return e / e.sum(1, keepdim=True)


def nll_of_probs(p, y):
    return -torch.log(p[torch.arange(len(y)), y]).mean()


class LogFeature(nn.Module):
    """log() of a count feature that is sometimes zero (log1p forgotten): -inf on the batch that has a zero."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))

    def forward(self, x):
        return self.net(torch.cat([x[:, :3], torch.log(x[:, 3:])], 1))


@pytest.mark.parametrize("seed", SEEDS)
def test_hand_softmax_overflow_gets_numerical_advice_and_the_module(seed):
    run = train(HandSoftmax(4), split(X_RAW, Y, seed), loss_fn=nll_of_probs, epochs=3, batch_size=16, lr=1e-4,
                seed=seed)  # fmt: skip
    diag = run.get("nan_loss")
    assert diag.evidence["likely_cause"] == "numerical" and "log_softmax" in diag.fix
    assert diag.evidence["first_nonfinite_module"] == "(model)"
    assert "`head`" in diag.message and "forward()" in diag.message


@pytest.mark.parametrize("seed", SEEDS)
def test_log_of_zero_after_calm_steps_is_numerical_not_divergence(seed):
    g = torch.Generator().manual_seed(seed)
    counts = torch.poisson(torch.full((len(X), 1), 6.0), generator=g)
    counts[torch.randperm(len(X), generator=g)[:4]] = 0.0  # four rows with a zero count
    run = train(LogFeature(), split(torch.cat([X[:, :3], counts], 1), Y, seed), epochs=20, batch_size=16, lr=1e-3,
                seed=seed)  # fmt: skip
    diag = run.get("nan_loss")
    assert diag.evidence["likely_cause"] == "numerical"
    assert diag.evidence["first_nonfinite_module"] == "net.0" and "forward()" in diag.message
    assert diag.evidence["nonfinite_trace"]["model_input_finite"] is True


@pytest.mark.parametrize("seed", SEEDS)
def test_nan_after_climbing_loss_says_lower_the_lr(seed):
    data = split(X[:, :3], X_RAW[:, 3:4], seed)
    run = train(
        mlp([3, 16, 1], seed=seed), data, task="regression", epochs=5, lr=1e-2, optimiser="sgd", seed=seed
    )
    diag = run.get("nan_loss")
    assert diag.evidence["likely_cause"] == "divergence" and "optim.lr" in diag.fix


def test_a_measurement_that_separates_the_classes_is_said_as_info_not_a_leak(tmp_path):
    """The engine tests' easy table: x1 = 2 * class + noise separates the classes, with 120 distinct values."""
    import polars as pl

    from tests.engine.conftest import write_table

    frame = pl.read_csv(write_table(tmp_path / "easy.csv"))
    x = torch.tensor(frame.select(["x1", "x2"]).to_numpy()).float()
    y = torch.tensor([int(v[1:]) for v in frame["label"]])
    found = leaky_features(x, y, "classification", min_gain=PATIENCE.leak_feature_gain)
    assert [(f["feature"], f["kind"]) for f in found] == [("x[0]", "strong_feature")]
    d = Diagnostics()
    d.set_task("classification", 3)
    (diag,) = d.note_leaky_features(found)
    assert diag.code == "leakage" and diag.severity == "info"
