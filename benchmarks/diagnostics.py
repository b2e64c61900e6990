# ruff: noqa: E402
"""Per-step cost of the training diagnostics (per-layer grad norms and dead units included) against a bare loop.

    python benchmarks/diagnostics.py [--epochs 100] [--repeats 3] [--hidden 32 32] [--batch 16]

The model is the sample MLP (sample_data/configs/tabular.toml: penguins, hidden [32, 32]); the data are the
penguins table as the engine encodes it. Three loops, interleaved and best-of-N to dampen noise from other
processes, each as a ratio of the bare loop's steps/s:

- bare: forward, loss, backward, optimiser step, nothing else;
- logging: the bare loop plus the loss curve at the engine's cadence (each step's loss kept on the device,
  one `Step` per report), no diagnostics: what any monitored loop pays;
- engine cadence: the bare loop plus what the engine does on a reported step (every step of the first 20,
  then about ten a second): `layer_grad_norms`, a `DeadUnitProbe` forward, one `Step` event fed to
  `Diagnostics`, and an `Eval` with class counts each epoch;
- every step: the same readings on every step (the most a user can ask for; for scale, not a target).

Rates are steps per CPU-second of this thread (`time.thread_time`), so other processes on a shared machine do
not skew the ratios; the engine's ten-a-second cadence still follows the wall clock. Also prints the cost of
one reading in microseconds (CPU time), so a bigger model's overhead can be estimated.
Target (issue 10): engine cadence >= 0.97. Small sizes by default (about 20 s); pass larger values to measure
a bigger model.
"""

from __future__ import annotations

import os
import sys

# Run as a script, this folder is sys.path[0], and benchmarks/inspect.py would shadow the standard
# library's `inspect` (which numpy and torch import); drop it before importing them.
if sys.path and os.path.realpath(sys.path[0] or ".") == os.path.dirname(os.path.realpath(__file__)):
    sys.path.pop(0)

import argparse
import time
from pathlib import Path

import torch
import torch.nn as nn

from tui_trainer.engine.config import load_config
from tui_trainer.engine.datasets import load_training_data
from tui_trainer.engine.diagnostics import Diagnostics
from tui_trainer.engine.events import Eval, Step
from tui_trainer.engine.layer_stats import DeadUnitProbe, class_counts, layer_grad_norms
from tui_trainer.engine.models import build_mlp

CONFIG = Path(__file__).resolve().parent.parent / "sample_data" / "configs" / "tabular.toml"
ADAPTIVE_FIRST = 20  # the engine reports every step of the first 20 ...
ADAPTIVE_INTERVAL_S = 0.1  # ... then about ten a second


def run(mode: str, data, hidden: list[int], batch: int, epochs: int) -> tuple[float, int]:
    """Steps per CPU-second of one loop; mode is bare | logging | cadence | every."""
    torch.manual_seed(0)
    model = build_mlp(tuple(data.input_shape), data.num_classes, hidden)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = nn.CrossEntropyLoss()
    x, y, xv, yv = data.x_train, data.y_train, data.x_val, data.y_val
    n = int(x.shape[0])
    diags = Diagnostics()
    diags.set_task("classification", data.num_classes, torch.bincount(y, minlength=data.num_classes).tolist())
    watch = mode in ("cadence", "every")
    probe = DeadUnitProbe(model) if watch else None
    step = 0
    window: list[torch.Tensor] = []
    last = time.perf_counter()
    start = time.thread_time()
    gen = torch.Generator().manual_seed(0)
    for epoch in range(epochs):
        order = torch.randperm(n, generator=gen)
        for b in range(n // batch):
            idx = order[b * batch : (b + 1) * batch]
            step += 1
            now = time.perf_counter()
            due = mode == "every" or (
                mode in ("logging", "cadence")
                and (step <= ADAPTIVE_FIRST or now - last >= ADAPTIVE_INTERVAL_S)
            )
            if due and watch:
                probe.arm()  # type: ignore[union-attr]
            loss = loss_fn(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if due and watch:
                norms = layer_grad_norms(model)
            opt.step()
            if mode != "bare":
                window.append(loss.detach())
            if due and not watch:  # the loss curve alone: what any monitored loop reports
                values = torch.stack(window).tolist()
                window = []
                last = now
                Step(step=step, epoch=epoch, loss=sum(values) / len(values))
            elif due:
                values = torch.stack(window).tolist()
                window = []
                last = now
                diags.feed(
                    Step(
                        step=step,
                        epoch=epoch,
                        loss=sum(values) / len(values),
                        grad_norm=sum(v * v for v in norms.values()) ** 0.5,
                        layer_grad_norms=norms,
                        dead_units=probe.read(),  # type: ignore[union-attr]
                        data_wait_s=0.0,
                        compute_s=0.001,
                    )
                )
        with torch.no_grad():  # every loop evaluates each epoch; the diagnostics add the class counts
            logits = model(xv)
            val_loss = float(loss_fn(logits, yv))
            accuracy = float((logits.argmax(1) == yv).float().mean())
            if watch:
                pred, labels = class_counts(logits, yv, data.num_classes)
                diags.feed(
                    Eval(
                        step=step,
                        val_loss=val_loss,
                        pred_counts=pred,
                        label_counts=labels,
                        metrics={"accuracy": accuracy},
                    )
                )
    if probe is not None:
        probe.close()
    return step / (time.thread_time() - start), step


def reading_cost_us(data, hidden: list[int], batch: int, repeats: int = 300) -> dict[str, float]:
    """Microseconds for one reading of each kind on the same model."""
    model = build_mlp(tuple(data.input_shape), data.num_classes, hidden)
    xb, yb = data.x_train[:batch], data.y_train[:batch]
    nn.CrossEntropyLoss()(model(xb), yb).backward()
    probe = DeadUnitProbe(model)
    diags = Diagnostics()
    out: dict[str, float] = {}
    clock = time.thread_time
    t = clock()
    for _ in range(repeats):
        norms = layer_grad_norms(model)
    out["layer_grad_norms"] = (clock() - t) / repeats * 1e6
    with torch.no_grad():
        t = clock()
        for _ in range(repeats):
            model(xb)
        plain = clock() - t
        t = clock()
        for _ in range(repeats):
            probe.arm()
            model(xb)
            probe.read()
        out["dead_unit_probe (extra per forward)"] = (clock() - t - plain) / repeats * 1e6
    t = clock()
    for i in range(repeats):
        diags.feed(Step(step=i + 1, epoch=0, loss=1.0, grad_norm=1.0, layer_grad_norms=norms))
    out["Diagnostics.feed(Step)"] = (clock() - t) / repeats * 1e6
    probe.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--hidden", type=int, nargs="+", default=None, help="default: the sample config's")
    parser.add_argument("--batch", type=int, default=None, help="default: the sample config's")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = load_config(CONFIG)
    hidden = args.hidden or list(config.model.hidden)
    batch = args.batch or config.train.batch_size
    data = load_training_data(config)
    print(f"sample MLP {list(data.input_shape)} -> {hidden} -> {data.num_classes}, batch {batch}, "
          f"{int(data.x_train.shape[0])} rows, {args.epochs} epochs, best of {args.repeats}, {args.threads} thread(s)")  # fmt: skip
    best = {"bare": 0.0, "logging": 0.0, "cadence": 0.0, "every": 0.0}
    for mode in best:  # warm-up: allocator, lazy init
        run(mode, data, hidden, batch, 2)
    steps = 0
    for _ in range(args.repeats):
        for mode in best:
            rate, steps = run(mode, data, hidden, batch, args.epochs)
            best[mode] = max(best[mode], rate)
    base = best["bare"]
    print(f"{'loop':<40} {'steps/cpu-s':>12} {'ratio':>7}")
    names = {
        "bare": "bare loop",
        "logging": "loss curve only, engine cadence",
        "cadence": "diagnostics at the engine's cadence",
        "every": "diagnostics on every step",
    }
    for mode, rate in best.items():
        print(f"{names[mode]:<40} {rate:>12.0f} {rate / base:>7.3f}")
    print(f"({steps} steps per loop)")
    for what, us in reading_cost_us(data, hidden, batch).items():
        print(f"  one {what}: {us:.1f} us")
    ratio = best["cadence"] / base
    own = best["cadence"] / best["logging"]
    print(f"the diagnostics' own share (engine cadence against the loss curve only): {own:.3f}")
    print(f"target: engine-cadence ratio >= 0.97: {'ok' if ratio >= 0.97 else 'BELOW TARGET'} ({ratio:.3f})")


if __name__ == "__main__":
    main()
