# ruff: noqa: E402
"""Per-step cost of the training diagnostics (per-layer grad norms and dead units included) against a bare loop.

    python benchmarks/diagnostics.py [--epochs 100] [--rounds 7] [--hidden 32 32] [--batch 16] [--no-events]

The model is the sample MLP (sample_data/configs/tabular.toml: penguins, hidden [32, 32], batch 16, one
evaluation per epoch, i.e. every 17 steps); the data are the penguins table as the engine encodes it. Each loop
below is the same forward, loss, backward and Adam step over the same batches; what they add is the engine's
own code, imported from the engine (not a copy of it):

- bare: nothing else; a plain evaluation (val loss, accuracy) each epoch;
- logging: the engine's `StepWindow` (each step's loss kept on the device, `report_due` picks the reports:
  every step of the first 20, then about ten a second, and the step before each evaluation), one `Step` per
  report, and every event written to events.jsonl by the engine's `EventLog`: the loss curve any monitored
  loop pays for;
- engine: logging plus the diagnostics as `epochs.py` runs them: `StepReadings` (its `ReadingSchedule`
  picks the reports that read the per-layer grad norms, the global norm with them, and arm the dead-unit
  probe: every report of the first 20, then one every ~0.1 s within a 1 % time budget), `Diagnostics.feed`
  of every `Step`, and each epoch's evaluation through `build.evaluate_split` (class counts) fed as an
  `Eval`;
- every step: the per-layer readings and a report on every step (for scale: the most a user can ask for).

Not in any loop: what the engine does whatever the diagnostics (reading the command queue at each report,
`epoch_end` events, checkpoints). No clipping or LR schedule in any loop (the sample config clips, and the
engine then has the global norm for free), so every grad norm is charged to the diagnostics.

The loops run side by side, one epoch each in turn (the order rotating every epoch), so load from other
processes hits them alike; each has its own clock (`LoopClock`: its own running time, which its ten-a-second
cadence and reading budget follow as in a process on its own) and is timed in CPU time of this thread. Rates
are taken after the first 2 epochs (the start of a run, whose first 20 steps all report and read, is printed
apart); the ratios are medians of the per-round ratios. Also prints the cost of one reading in microseconds,
so a bigger model's overhead can be estimated. Target (issue 10): engine ratio >= 0.97. About 30 s.
"""

from __future__ import annotations

import os
import sys

# Run as a script, this folder is sys.path[0], and benchmarks/inspect.py would shadow the standard
# library's `inspect` (which numpy and torch import); drop it before importing them.
if sys.path and os.path.realpath(sys.path[0] or ".") == os.path.dirname(os.path.realpath(__file__)):
    sys.path.pop(0)

import argparse
import math
import statistics
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.nn as nn

from tui_trainer.engine.build import evaluate_split
from tui_trainer.engine.config import load_config
from tui_trainer.engine.datasets import load_training_data
from tui_trainer.engine.diagnostics import Diagnostics
from tui_trainer.engine.eventlog import EventLog
from tui_trainer.engine.events import Eval
from tui_trainer.engine.layer_stats import (
    READINGS_SHARE,
    DeadUnitProbe,
    GradNorms,
    StepReadings,
)
from tui_trainer.engine.models import build_mlp
from tui_trainer.engine.step_window import StepWindow

CONFIG = Path(__file__).resolve().parent.parent / "sample_data" / "configs" / "tabular.toml"
MODES = ("bare", "logging", "engine", "every")
START_EPOCHS = 2  # the start of a run, timed apart from the steady state the ratios are measured on
WRITE_EVENTS = True
NAMES = {
    "bare": "bare loop",
    "logging": "loss curve only (StepWindow)",
    "engine": "diagnostics as the engine runs them",
    "every": "readings and a report on every step",
}


class NoEvents:
    """--no-events: the events are made but not written."""

    def write(self, event: object) -> None:
        pass

    def close(self) -> None:
        pass


class LoopClock:
    """One loop's own time: the loops run an epoch each in turn, and each sees only its own time pass.

    Called, it is the wall time (perf_counter, as cheap as the engine's clock) this loop has been running, so
    its reports and readings (the ten-a-second cadence, the reading budget) follow it as in a process on
    its own; `cpu` is this thread's CPU time while it ran, the measure of its speed.
    """

    def __init__(self) -> None:
        self.total = 0.0
        self.cpu = 0.0
        self._resumed: float | None = None
        self._cpu_resumed = 0.0

    def __call__(self) -> float:
        return self.total + (time.perf_counter() - self._resumed if self._resumed is not None else 0.0)

    def resume(self) -> None:
        self._cpu_resumed = time.thread_time()
        self._resumed = time.perf_counter()

    def pause(self) -> None:
        self.total = self()
        self._resumed = None
        self.cpu += time.thread_time() - self._cpu_resumed


def loop(mode: str, data, hidden: list[int], batch: int, folder: Path, clock: LoopClock, out: dict):
    """One loop (mode is one of MODES), a generator that yields after each epoch; fills `out` with counts."""
    torch.manual_seed(0)
    model = build_mlp(tuple(data.input_shape), data.num_classes, hidden)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = nn.CrossEntropyLoss()
    x, y, xv, yv = data.x_train, data.y_train, data.x_val, data.y_val
    n = int(x.shape[0])
    n_batches = n // batch
    logging = mode != "bare"
    diagnose = mode in ("engine", "every")
    every = mode == "every"
    window = StepWindow(1 if every else 0, start_step=0, clock=clock)
    diags = Diagnostics()
    diags.set_task("classification", data.num_classes, torch.bincount(y, minlength=data.num_classes).tolist())
    readings = StepReadings(
        model, share=math.inf if every else READINGS_SHARE, clock=clock, every=1 if every else 0
    )
    # The engine writes each event to events.jsonl (--no-events: not, to compare with a loop that keeps them).
    writer = (EventLog(folder / mode) if WRITE_EVENTS else NoEvents()) if logging else None
    step = epoch = 0
    gen = torch.Generator().manual_seed(0)
    try:
        while True:
            order = torch.randperm(n, generator=gen)
            for b in range(n_batches):
                t0 = clock()
                idx = order[b * batch : (b + 1) * batch]
                xb, yb = x[idx], y[idx]
                t1 = clock()
                # epochs.py, step for step: report_due, then readings.start before the forward pass
                due = logging and window.report_due(step + 1, t0, b + 1 == n_batches, 0)
                read = due and diagnose and readings.start()
                loss = loss_fn(model(xb), yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                grad_norm = layers = None
                if read:  # no clipping: the global norm is the layers' together, on reading steps only
                    layers = readings.grad_norms()
                    grad_norm = math.sqrt(sum(v * v for v in layers.values()))
                step += 1
                if logging:
                    window.add(loss.detach(), int(yb.shape[0]), t1 - t0)
                dead = readings.finish() if due else {}
                opt.step()
                if logging:
                    window.add_compute(clock() - t1)
                if due:
                    first_bad = window.first_nonfinite()  # the engine's NaN check on each report
                    event = window.flush(
                        step,
                        epoch,
                        lr=opt.param_groups[0]["lr"],
                        grad_norm=grad_norm,
                        layer_grad_norms=layers or {},
                        dead_units=dead,
                    )
                    writer.write(event)  # type: ignore[union-attr]
                    if diagnose and first_bad is None:
                        for diag in diags.feed(event):
                            writer.write(diag)  # type: ignore[union-attr]
            model.eval()
            if diagnose:  # the engine's evaluation: loss, accuracy, class counts; fed to the diagnostics
                val_loss, metrics, pred, labels = evaluate_split(
                    model, xv, yv, loss_fn, nullcontext(), "classification", data.num_classes, max(batch, 256)
                )
                ev = Eval(
                    step=step,
                    val_loss=val_loss,
                    epoch=epoch,
                    metrics=metrics,
                    pred_counts=pred,
                    label_counts=labels,
                )
                writer.write(ev)  # type: ignore[union-attr]
                for diag in diags.feed(ev):
                    writer.write(diag)  # type: ignore[union-attr]
            else:  # what any loop evaluates
                with torch.no_grad():
                    logits = model(xv)
                    val_loss = float(loss_fn(logits, yv))
                    accuracy = int((logits.argmax(1) == yv).sum()) / int(yv.shape[0])
                if writer is not None:
                    writer.write(
                        Eval(step=step, val_loss=val_loss, epoch=epoch, metrics={"accuracy": accuracy})
                    )
            model.train()
            epoch += 1
            out.update(steps=step, reports=readings.schedule.reports, read=readings.schedule.taken)
            out["diagnostics"] = sorted(diags.raised)
            yield
    finally:
        readings.close()
        if writer is not None:
            writer.close()


def round_rates(data, hidden: list[int], batch: int, epochs: int, folder: Path) -> dict[str, dict]:
    """One round: the loops of MODES side by side, an epoch each in turn (the order rotating every epoch).

    Per loop: `rate`, steps per CPU-second after the first START_EPOCHS epochs (the steady state: the first
    20 steps, which all report and read, fall in the start), and `start_s`, the CPU time of those epochs.
    """
    clocks = {mode: LoopClock() for mode in MODES}
    outs: dict[str, dict] = {mode: {} for mode in MODES}
    loops = {mode: loop(mode, data, hidden, batch, folder, clocks[mode], outs[mode]) for mode in MODES}
    mark: dict[str, tuple[int, float]] = {}
    for epoch in range(START_EPOCHS + epochs):
        if epoch == START_EPOCHS:
            mark = {mode: (outs[mode]["steps"], clocks[mode].cpu) for mode in MODES}
        for i in range(len(MODES)):
            mode = MODES[(epoch + i) % len(MODES)]
            clocks[mode].resume()
            next(loops[mode])
            clocks[mode].pause()
    for gen in loops.values():
        gen.close()
    for mode in MODES:
        steps, cpu = mark[mode]
        outs[mode].update(
            rate=(outs[mode]["steps"] - steps) / (clocks[mode].cpu - cpu),
            start_s=cpu,
            measured_steps=outs[mode]["steps"] - steps,
        )
    return outs


def reading_cost_us(data, hidden: list[int], batch: int, repeats: int = 300) -> dict[str, float]:
    """Microseconds (CPU) for one reading of each kind on the same model."""
    from tui_trainer.engine.events import Step

    model = build_mlp(tuple(data.input_shape), data.num_classes, hidden)
    xb, yb = data.x_train[:batch], data.y_train[:batch]
    nn.CrossEntropyLoss()(model(xb), yb).backward()
    probe = DeadUnitProbe(model)
    norms_of = GradNorms(model)
    diags = Diagnostics()
    out: dict[str, float] = {}
    clock = time.thread_time
    t = clock()
    for _ in range(repeats):
        norms = norms_of()
    out["per-layer grad norms (GradNorms)"] = (clock() - t) / repeats * 1e6
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
        out["dead-unit probe (extra per forward)"] = (clock() - t - plain) / repeats * 1e6
    t = clock()
    for i in range(repeats):
        diags.feed(Step(step=i + 1, epoch=0, loss=1.0, grad_norm=1.0, layer_grad_norms=norms))
    out["Diagnostics.feed(Step)"] = (clock() - t) / repeats * 1e6
    probe.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds; the ratios are medians")
    parser.add_argument("--hidden", type=int, nargs="+", default=None, help="default: the sample config's")
    parser.add_argument("--batch", type=int, default=None, help="default: the sample config's")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-events", action="store_true", help="make the events but do not write them")
    args = parser.parse_args()
    global WRITE_EVENTS
    WRITE_EVENTS = not args.no_events
    torch.set_num_threads(args.threads)
    config = load_config(CONFIG)
    hidden = args.hidden or list(config.model.hidden)
    batch = args.batch or config.train.batch_size
    data = load_training_data(config)
    print(f"sample MLP {list(data.input_shape)} -> {hidden} -> {data.num_classes}, batch {batch}, "
          f"{int(data.x_train.shape[0])} rows, {args.epochs} epochs, {args.rounds} interleaved rounds, "
          f"{args.threads} thread(s), events {'written' if WRITE_EVENTS else 'not written'}, "
          f"load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    rates: dict[str, list[float]] = {mode: [] for mode in MODES}
    starts: dict[str, list[float]] = {mode: [] for mode in MODES}
    outs: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        round_rates(data, hidden, batch, 2, Path(tmp) / "warm-up")  # allocator, lazy init
        for r in range(args.rounds):
            for mode, out in round_rates(data, hidden, batch, args.epochs, Path(tmp) / str(r)).items():
                rates[mode].append(out["rate"])
                starts[mode].append(out["start_s"])
                outs[mode] = out
    steps = outs["bare"]["measured_steps"]
    ratios = {
        m: statistics.median(r / b for r, b in zip(rates[m], rates["bare"], strict=True)) for m in MODES
    }
    print(f"{'loop':<40} {'steps/cpu-s':>12} {'ratio':>7}  (median rate, median per-round ratio)")
    for mode in MODES:
        print(f"{NAMES[mode]:<40} {statistics.median(rates[mode]):>12.0f} {ratios[mode]:>7.3f}")
    spread = sorted(r / b for r, b in zip(rates["engine"], rates["bare"], strict=True))
    print(
        f"({steps} steps per loop after the first {START_EPOCHS} epochs; engine ratio per round: "
        f"{', '.join(f'{r:.3f}' for r in spread)})"
    )
    extra = statistics.median(e - b for e, b in zip(starts["engine"], starts["bare"], strict=True))
    print(
        f"start of a run (first {START_EPOCHS} epochs, {outs['bare']['steps'] - steps} steps, the first 20 all "
        f"read): engine {extra * 1e3:+.1f} ms of CPU against the bare loop, once per run"
    )
    eng = outs["engine"]
    print(
        f"engine: {eng['reports']} reports of {eng['steps']} steps, {eng['read']} with per-layer readings; "
        f"diagnostics raised: {', '.join(eng['diagnostics']) or 'none'}"
    )
    for what, us in reading_cost_us(data, hidden, batch).items():
        print(f"  one {what}: {us:.1f} us")
    own = statistics.median(e / lg for e, lg in zip(rates["engine"], rates["logging"], strict=True))
    ratio = ratios["engine"]
    print(f"the diagnostics' own share (engine against the loss curve only): {own:.3f}")
    print(f"target: engine ratio >= 0.97: {'ok' if ratio >= 0.97 else 'BELOW TARGET'} ({ratio:.3f})")


if __name__ == "__main__":
    main()
