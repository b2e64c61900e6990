"""The diagnostics in a user's own loop through `tui_trainer.monitor`: run.watch(model), run.log(...) every step,
run.eval(preds=, labels=) each epoch — written as a user writes it, on the same broken and healthy runs."""

from __future__ import annotations

import time

import pytest
import torch
import torch.nn as nn

from tests.engine.diagnostic_runs import mlp, penguins, split, xor_blobs
from tui_trainer import monitor

X, Y, _ = penguins()
X_RAW, _, _ = penguins(standardise=False)


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def user_loop(run_dir, model, data, *, epochs, lr=1e-2, sgd=False, batch=32, delay=0.0, seed=0):
    x, y, xv, yv = data
    torch.manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr) if sgd else torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    step = 0
    with monitor.start(run_dir, echo=False, flush_interval_s=60) as run:
        run.watch(model)
        for epoch in range(epochs):
            order = torch.randperm(len(x))
            for b in range(len(x) // batch):
                t0 = time.perf_counter()
                idx = order[b * batch : (b + 1) * batch]
                xb, yb = x[idx], y[idx]
                if delay:
                    time.sleep(delay)  # a slow loader: decoding, a network filesystem
                t1 = time.perf_counter()
                loss = loss_fn(model(xb), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
                step += 1
                run.log(
                    step=step,
                    loss=loss,
                    lr=lr,
                    epoch=epoch,
                    data_wait_s=t1 - t0,
                    compute_s=time.perf_counter() - t1,
                )
            with torch.no_grad():
                logits = model(xv)
                acc = float((logits.argmax(1) == yv).float().mean())
                run.eval(
                    step=step,
                    val_loss=loss_fn(logits, yv),
                    epoch=epoch,
                    preds=logits,
                    labels=yv,
                    accuracy=acc,
                )
    return run.diagnostics


def codes(diags, serious=False):
    return [d.code for d in diags if not serious or d.severity != "info"]


@pytest.mark.parametrize("seed", [0, 1])
def test_user_loop_linear_on_xor_underfits_and_mlp_is_silent(tmp_path, seed):
    data = split(*xor_blobs(400, seed), seed)
    diags = user_loop(tmp_path / "lin", mlp([2, 2], seed=seed), data, epochs=40, seed=seed)
    diag = next(d for d in diags if d.code == "underfitting")
    assert diag.step <= 300 and diag.evidence["share_of_chance"] >= 0.9
    assert (
        codes(user_loop(tmp_path / "mlp", mlp([2, 16, 16, 2], seed=seed), data, epochs=40, seed=seed), True)
        == []
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_user_loop_deep_sigmoid_names_the_first_layer(tmp_path, seed):
    model = mlp([4] + [16] * 20 + [3], act=nn.Sigmoid, seed=seed)
    diags = user_loop(tmp_path / "sig", model, split(X, Y, seed), epochs=3, lr=1e-3, batch=16, seed=seed)
    diag = next(d for d in diags if d.code == "vanishing_gradients")
    assert diag.evidence["layers"][0] == "0"


@pytest.mark.parametrize("seed", [0, 1])
def test_user_loop_dead_relus_predict_one_class(tmp_path, seed):
    model = mlp([4, 32, 32, 3], seed=seed)
    diags = user_loop(
        tmp_path / "dead", model, split(X_RAW, Y, seed), epochs=12, sgd=True, batch=16, seed=seed
    )
    assert {"dead_units", "majority_class"} <= set(codes(diags))
    assert next(d for d in diags if d.code == "majority_class").evidence["predicted_share"] >= 0.9


@pytest.mark.parametrize("seed", [0, 1])
def test_user_loop_healthy_penguins_is_silent(tmp_path, seed):
    diags = user_loop(
        tmp_path / "ok", mlp([4, 16, 3], seed=seed), split(X, Y, seed), epochs=30, lr=3e-3, batch=16
    )
    assert codes(diags, True) == []


def test_user_loop_slow_loader_is_a_bottleneck(tmp_path):
    data = split(*xor_blobs(400, 0), 0)
    diags = user_loop(tmp_path / "slow", mlp([2, 16, 2]), data, epochs=25, delay=0.002)
    diag = next(d for d in diags if d.code == "dataloader_bottleneck")
    assert diag.evidence["data_wait_share"] > 0.6 and "num_workers" in diag.fix
