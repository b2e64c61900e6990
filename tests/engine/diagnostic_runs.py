"""Real training runs for the diagnostics tests: a user's own loop (real nn.Module, optimiser, data) that
reports exactly what the engine reports (mean loss per report, global and per-layer grad norms, dead units,
data wait / compute time, predicted and true class counts at each eval) and feeds `Diagnostics`.

Data: the Palmer Penguins sample (sample_data/penguins.csv) or small generated problems. Models are tiny so a
run takes well under a second on one thread.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from tui_trainer.engine.config import DiagnosticsConfig
from tui_trainer.engine.diagnostics import Diagnostics
from tui_trainer.engine.events import Diagnostic, Eval, Event, Step
from tui_trainer.engine.layer_stats import DeadUnitProbe, class_counts, layer_grad_norms, nonfinite_trace

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"
NUMERIC = ("bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g")
SPECIES = ("Adelie", "Chinstrap", "Gentoo")


def penguins(standardise: bool = True) -> tuple[torch.Tensor, torch.Tensor, list[dict[str, str]]]:
    """The four measurements (rows with NA dropped) and the species id; the raw rows too."""
    rows = [
        r
        for r in csv.DictReader(open(SAMPLE / "penguins.csv"))
        if all(r[c] not in ("", "NA") for c in NUMERIC)
    ]
    x = torch.tensor([[float(r[c]) for c in NUMERIC] for r in rows])
    if standardise:
        x = (x - x.mean(0)) / x.std(0)
    y = torch.tensor([SPECIES.index(r["species"]) for r in rows])
    return x, y, rows


def split(x: torch.Tensor, y: torch.Tensor, seed: int, val_fraction: float = 0.2):
    """A seeded shuffle split, like the engine's data.val_fraction."""
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(x), generator=g)
    n_val = int(len(x) * val_fraction)
    v, t = order[:n_val], order[n_val:]
    return x[t], y[t], x[v], y[v]


def xor_blobs(n: int, seed: int, noise: float = 0.35) -> tuple[torch.Tensor, torch.Tensor]:
    """Four Gaussian blobs, opposite corners share a class: no line separates them (a linear model sits at ln 2)."""
    g = torch.Generator().manual_seed(seed)
    corner = torch.randint(0, 4, (n,), generator=g)
    centres = torch.tensor([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]])
    x = centres[corner] + noise * torch.randn(n, 2, generator=g)
    return x, (corner >= 2).long()


@dataclass
class RunLog:
    events: list[Event] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    steps: int = 0

    def codes(self) -> list[str]:
        return [d.code for d in self.diagnostics]

    def get(self, code: str) -> Diagnostic:
        return next(d for d in self.diagnostics if d.code == code)

    def warnings(self) -> list[str]:
        return [d.code for d in self.diagnostics if d.severity in ("warning", "error")]


def train(
    model: nn.Module,
    data: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
    *,
    task: str = "classification",
    epochs: int = 20,
    batch_size: int = 32,
    lr: float = 1e-2,
    optimiser: str = "adam",
    weight_decay: float = 0.0,
    loss_fn: nn.Module | Callable[[Any, Any], Any] | None = None,
    log_every: int = 5,
    eval_every: int = 0,
    seed: int = 0,
    config: DiagnosticsConfig | None = None,
    load_delay_s: float = 0.0,
    grad_clip: float = 0.0,
    stop_on_nan: bool = True,
    leaks: list[dict[str, Any]] | None = None,
) -> RunLog:
    """Train like the engine does and return the events and diagnostics (log_every=0: once per epoch)."""
    torch.manual_seed(seed)
    x, y, xv, yv = data
    num_classes = int(max(int(y.max()), int(yv.max())) + 1) if task == "classification" else 1
    if loss_fn is None:
        loss_fn = nn.CrossEntropyLoss() if task == "classification" else nn.MSELoss()
    if optimiser == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(model.parameters(), lr=lr, weight_decay=weight_decay)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    diags = Diagnostics(config)
    if task == "classification":
        diags.set_task(task, num_classes, torch.bincount(y, minlength=num_classes).tolist())
    else:
        diags.set_task(task, target_variance=float(y.float().var()))
    probe = DeadUnitProbe(model)
    out = RunLog()
    if leaks:  # what the engine's preflight found (preflight.leaky_features)
        out.diagnostics.extend(diags.note_leaky_features(leaks))

    def emit(event: Event) -> None:
        out.events.append(event)
        new = diags.feed(event)
        out.events.extend(new)
        out.diagnostics.extend(new)

    g = torch.Generator().manual_seed(seed)
    n = len(x)
    per_epoch = max(1, n // batch_size)
    step = 0
    window: list[float] = []
    wait = compute = 0.0
    for epoch in range(epochs):
        order = torch.randperm(n, generator=g)
        for b in range(per_epoch):
            t0 = time.perf_counter()
            idx = order[b * batch_size : (b + 1) * batch_size]
            xb, yb = x[idx], y[idx]
            if load_delay_s:
                time.sleep(load_delay_s)
            t1 = time.perf_counter()
            step += 1
            due = (log_every and step % log_every == 0) or b == per_epoch - 1
            if eval_every:
                due = due or step % eval_every == 0
            if due:
                probe.arm()
            model.train()
            loss = loss_fn(model(xb), yb)
            if not torch.isfinite(loss):
                trace = nonfinite_trace(model, lambda xb=xb, yb=yb: loss_fn(model(xb), yb))
                diags.note_nonfinite(trace)
                emit(Step(step=step, epoch=epoch, loss=float(loss.detach()), lr=lr))
                if stop_on_nan:
                    out.steps = step
                    probe.close()
                    return out
            opt.zero_grad(set_to_none=True)
            loss.backward()
            gn = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip or float("inf"))
            layers = layer_grad_norms(model) if due else {}
            opt.step()
            window.append(float(loss.detach()))
            t2 = time.perf_counter()
            wait += t1 - t0
            compute += t2 - t1
            if due:
                emit(
                    Step(
                        step=step,
                        epoch=epoch,
                        loss=sum(window) / len(window),
                        lr=lr,
                        grad_norm=float(gn),
                        data_wait_s=wait,
                        compute_s=compute,
                        layer_grad_norms=layers,
                        dead_units=probe.read(),
                    )
                )
                window, wait, compute = [], 0.0, 0.0
            if (eval_every and step % eval_every == 0) or (not eval_every and b == per_epoch - 1):
                emit(evaluate(model, xv, yv, loss_fn, task, num_classes, step, epoch))
    out.steps = step
    probe.close()
    return out


def evaluate(model, xv, yv, loss_fn, task, num_classes, step, epoch) -> Eval:
    model.eval()
    with torch.no_grad():
        logits = model(xv)
        val_loss = float(loss_fn(logits, yv))
    if task != "classification":
        return Eval(
            step=step, val_loss=val_loss, epoch=epoch, metrics={"mae": float((logits - yv).abs().mean())}
        )
    pred, labels = class_counts(logits, yv, num_classes)
    acc = float((logits.argmax(1) == yv).float().mean())
    return Eval(
        step=step,
        val_loss=val_loss,
        epoch=epoch,
        metrics={"accuracy": acc},
        pred_counts=pred,
        label_counts=labels,
    )


def mlp(sizes: list[int], act: type[nn.Module] = nn.ReLU, seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for a, b in zip(sizes, sizes[1:], strict=False):
        layers += [nn.Linear(a, b), act()]
    return nn.Sequential(*layers[:-1])
