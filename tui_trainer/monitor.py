"""Monitor your own training loop: write the engine's events (and get its diagnostics) from any script.

    from tui_trainer import monitor

    with monitor.start("runs/my-run", config={"optim": {"lr": 1e-3}}) as run:
        for step, (x, y) in enumerate(loader, 1):
            loss = train_step(x, y)
            run.log(step=step, loss=loss, lr=sched.get_last_lr()[0])   # a tensor is fine: read at flush
            if step % 500 == 0:
                run.eval(step=step, val_loss=validate(), accuracy=acc)

Then `tui-trainer attach runs/my-run` shows it live. `run.watch(model)` adds per-layer gradient norms and
dead-unit shares (vanishing/exploding layers, dead ReLUs); `data_wait_s=`/`compute_s=` in `log()` enable the
data-loading check; `monitor.preflight(model, (x, y), loss_fn)` runs the engine's structure checks on one
batch. Unknown keyword arguments to `log()` are a TypeError; your own numbers go in `metrics={...}`.

Calls are buffered and written in one write at most every `flush_interval_s` (and at every
eval/checkpoint/finish), and values are converted to floats only then, so a loss tensor on a GPU does not
force a device sync each step. The context manager ends the run
as `failed` (with the traceback) if the block raises, `finished` otherwise.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tui_trainer.engine.config import DiagnosticsConfig
from tui_trainer.engine.diagnostics import Diagnostics
from tui_trainer.engine.eventlog import EventLog
from tui_trainer.engine.events import (
    Checkpoint,
    Diagnostic,
    Eval,
    Event,
    Failed,
    Finished,
    Log,
    RunStarted,
    Step,
    to_json,
)
from tui_trainer.engine.layer_stats import MAX_LAYERS
from tui_trainer.engine.layer_stats import _group as group_layer_norms
from tui_trainer.engine.layer_stats import _unwrap as unwrap_model
from tui_trainer.engine.preflight import PreflightError

log = logging.getLogger("tui_trainer.monitor")
from tui_trainer.integrations.tensorboard import SummaryWriter  # noqa: E402,F401 - drop-in for torch's (issue 11)

__all__ = ["MonitorRun", "PreflightError", "preflight", "start"]


def _num(value: Any) -> float | None:
    """float() of a number or a one-element tensor/array; None stays None."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    return float(value)


_NUMERIC_KEYS = ("loss", "lr", "grad_norm", "samples_per_s", "data_wait_s", "compute_s", "val_loss")
_TABLES = ("metrics", "layer_grad_norms")  # dicts of numbers that may hold tensors too


def _read_tensors(pending: list[tuple[str, dict[str, Any]]]) -> None:
    """Replace one-element tensors in `pending` by floats, one device read per device.

    `.item()` per value would be one device-to-host copy (and stream wait) each; stacking them first
    makes a flush of a thousand logged steps cost one copy.
    """
    slots: dict[Any, list[tuple[dict[str, Any], str]]] = {}
    for _, kw in pending:
        for table in (kw, *(kw.get(name) or {} for name in _TABLES)):
            for key, value in table.items():
                if key in _NUMERIC_KEYS or table is not kw:
                    if type(value).__module__.startswith("torch") and hasattr(value, "device"):
                        slots.setdefault(value.device, []).append((table, key))
    if not slots:
        return
    import torch

    for items in slots.values():
        stacked = torch.stack([table[key].detach().reshape(()).float() for table, key in items])
        for (table, key), number in zip(items, stacked.tolist(), strict=True):
            table[key] = number


class _Watch:
    """`run.watch(model)`: on sampled steps, gradient norms per layer (taken in backward) and dead-unit shares.

    `arm()` puts a post-accumulate-grad hook on every parameter and a DeadUnitProbe on the model for the next
    forward/backward; `collect()` (at the next `log()`) takes what they saw and removes them again, so the
    steps between samples run with no hook at all. The norms stay on the device until the run's flush.
    Which steps sample is the engine's rule (layer_stats.ReadingSchedule: cadence, then a time budget).
    """

    def __init__(self, model: Any, every: int = 0) -> None:
        from tui_trainer.engine.layer_stats import DeadUnitProbe, ReadingSchedule

        inner = unwrap_model(model)  # DDP / DataParallel: the names users know
        self.model = inner
        self.every = max(0, int(every))
        self.params = [
            (name or type(inner).__name__, p)
            for name, module in inner.named_modules()
            for p in module.parameters(recurse=False)
            if p.requires_grad
        ]
        self._norms: dict[int, Any] = {}
        self._handles: list[Any] = []
        self._dead_probe = DeadUnitProbe(inner)  # the module walk once; hooks only while armed
        self._probe: Any = None
        self.schedule = ReadingSchedule(every=self.every)
        self._spent = 0.0  # this sample's reading time so far (charged to the schedule at collect)

    def due(self, step: int) -> bool:
        # every=N samples the steps after a log() whose step + 1 is a multiple of N (the user's step numbers).
        return self.schedule.take((step + 1) % self.every == 0 if self.every else None)

    def arm(self) -> None:
        started = time.perf_counter()
        self._norms = {}
        for index, (_, param) in enumerate(self.params):
            self._handles.append(param.register_post_accumulate_grad_hook(self._grad_hook(index)))
        self._probe = self._dead_probe
        self._probe.seconds = 0.0
        self._probe.arm()
        self._spent = time.perf_counter() - started

    def _grad_hook(self, index: int) -> Callable[[Any], None]:
        def hook(param: Any) -> None:
            import torch

            if param.grad is not None:
                started = time.perf_counter()
                self._norms[index] = torch.linalg.vector_norm(param.grad.detach()).float()
                self._spent += time.perf_counter() - started

        return hook

    def collect(self) -> tuple[dict[str, Any], dict[str, float]]:
        """What the forward/backward since `arm()` showed: ({layer: norm tensor}, {layer: dead share})."""
        dead: dict[str, float] = {}
        if self._probe is None:
            return {}, dead  # not armed: nothing to take, nothing to charge
        started = time.perf_counter()
        dead = self._probe.read()
        self._probe.close()
        spent = self._spent + self._probe.seconds
        self._probe = None
        for handle in self._handles:
            handle.remove()
        self._handles = []
        layers: dict[str, Any] = {}
        if self._norms:
            import torch

            squares: dict[str, list[Any]] = {}
            for index, norm in self._norms.items():
                squares.setdefault(self.params[index][0], []).append(norm * norm)
            self._norms = {}
            layers = {name: torch.stack(parts).sum().sqrt() for name, parts in squares.items()}
        self.schedule.charge(spent + time.perf_counter() - started)
        return layers, dead

    def close(self) -> None:
        self.collect()


class MonitorRun:
    """One monitored run; see the module docstring."""

    def __init__(
        self,
        run_dir: Path,
        config: dict[str, Any] | None = None,
        *,
        diagnostics: bool = True,
        thresholds: DiagnosticsConfig | None = None,
        flush_interval_s: float = 0.5,
        total_steps: int | None = None,
        resumed_from_step: int | None = None,
        on_diagnostic: Callable[[Diagnostic], None] | None = None,
        echo: bool = True,
        task: str | None = None,
        num_classes: int | None = None,
        label_counts: list[int] | None = None,
        class_names: list[str] | None = None,
    ) -> None:
        self.run_dir = Path(run_dir)
        self._log = EventLog(self.run_dir)
        self._pending: list[tuple[str, dict[str, Any]]] = []
        self._flush_interval = flush_interval_s
        self._last_flush = time.monotonic()
        self._diag = Diagnostics(thresholds) if diagnostics else None
        if self._diag is not None and (task or label_counts):
            # The task's chance-level loss (log K, the label entropy) is what underfitting is judged against.
            self._diag.set_task(task or "classification", num_classes, label_counts, class_names=class_names)
        self._num_classes = num_classes
        self._watch: _Watch | None = None
        self._on_diagnostic = on_diagnostic
        self._echo = echo
        self.diagnostics: list[Diagnostic] = []
        self.closed = False
        self.last_step = 0
        self._started = time.time()
        self._best_val: float | None = None
        self._write(
            [
                RunStarted(
                    run_id=self.run_dir.name,
                    run_dir=str(self.run_dir.resolve()),
                    config=dict(config or {}),
                    device="user loop",
                    total_steps=total_steps,
                    resumed_from_step=resumed_from_step,
                    pid=os.getpid(),
                    host=socket.gethostname(),
                )
            ]
        )

    # -- recording -------------------------------------------------------------------------------------

    def log(
        self,
        step: int,
        loss: Any,
        lr: Any = None,
        grad_norm: Any = None,
        epoch: int = 0,
        samples_per_s: Any = None,
        data_wait_s: Any = None,
        compute_s: Any = None,
        metrics: dict[str, Any] | None = None,
        layer_grad_norms: dict[str, Any] | None = None,
        **unknown: Any,
    ) -> None:
        """Record one training step (values may be tensors; they are read at flush time).

        `data_wait_s` / `compute_s`: seconds this step waited for its batch / spent in forward+backward+step
        (the dataloader_bottleneck check needs both). `metrics`: your own numbers, by name.
        `layer_grad_norms`: per-layer gradient norms read by the caller (the Lightning callback reads them in
        `on_before_optimizer_step`, after AMP unscaling); `run.watch(model)`'s own readings take precedence.
        """
        if unknown:
            names = ", ".join(sorted(unknown))
            raise TypeError(
                f"run.log() got unknown keyword argument(s): {names}. It takes step, loss, lr, grad_norm, epoch, "
                f"samples_per_s, data_wait_s, compute_s, metrics, layer_grad_norms; put your own numbers in "
                f"metrics={{...}}, e.g. "
                f"run.log(step=step, loss=loss, metrics={{{next(iter(sorted(unknown)))!r}: value}})"
            )
        self._check_open()
        layers: dict[str, Any] = {}
        dead: dict[str, float] = {}
        if self._watch is not None:
            layers, dead = self._watch.collect()
            if self._watch.due(step):
                self._watch.arm()
        self._pending.append(
            (
                "step",
                dict(
                    step=step,
                    epoch=epoch,
                    loss=loss,
                    lr=lr,
                    grad_norm=grad_norm,
                    samples_per_s=samples_per_s,
                    data_wait_s=data_wait_s,
                    compute_s=compute_s,
                    metrics=dict(metrics or {}),
                    layer_grad_norms=layers or dict(layer_grad_norms or {}),
                    dead_units=dead,
                    time=time.time(),  # the step's time is the call's, not the later flush's (steps/s)
                ),
            )
        )
        self.last_step = step
        if time.monotonic() - self._last_flush >= self._flush_interval:
            self.flush()

    def eval(
        self,
        step: int,
        val_loss: Any,
        epoch: int | None = None,
        *,
        preds: Any = None,
        labels: Any = None,
        pred_counts: list[int] | None = None,
        label_counts: list[int] | None = None,
        **metrics: Any,
    ) -> None:
        """Record a validation result; flushes.

        Classification: pass `preds` (logits or class ids over the validation set) and `labels`, or their
        histograms `pred_counts` / `label_counts` (index = class id): the one-class check decides from what
        the model predicts. Other keyword arguments (`accuracy=`, ...) are metrics.
        """
        self._check_open()
        if preds is not None and labels is not None:
            from tui_trainer.engine.layer_stats import class_counts

            pred_counts, label_counts = class_counts(preds, labels, self._num_classes or 0)
        self._pending.append(
            (
                "eval",
                dict(
                    step=step,
                    val_loss=val_loss,
                    epoch=epoch,
                    metrics=metrics,
                    pred_counts=list(pred_counts) if pred_counts is not None else None,
                    label_counts=list(label_counts) if label_counts is not None else None,
                ),
            )
        )
        self.flush()

    def watch(self, model: Any, every: int = 0) -> None:
        """Record per-layer gradient norms and dead-unit shares of `model` on sampled steps (as wandb.watch).

        The norms are taken in backward (so zero_grad before `log()` does not hide them) on the steps after a
        sampled `log()`: every `every` steps, or with 0 the first 20 steps and then about ten a second, and
        after the first 20 samples only while they take at most 1 % of the time (the engine's rule,
        layer_stats.ReadingSchedule). No hook stays on the model between samples. With a GradScaler the
        norms include the loss scale.
        """
        if self._watch is not None:
            self._watch.close()
        self._watch = _Watch(model, every)

    def checkpoint(
        self, step: int, path: str | Path, epoch: int | None = None, reason: str = "periodic"
    ) -> None:
        """Record that your loop saved a checkpoint at `path`; flushes."""
        self._check_open()
        self._pending.append(("checkpoint", dict(step=step, path=str(path), epoch=epoch, reason=reason)))
        self.flush()

    def message(self, text: str, level: str = "info") -> None:
        self._check_open()
        self._pending.append(("log", dict(message=text, level=level)))

    def flush(self) -> None:
        """Write everything pending in one write and run the diagnostics over it."""
        pending, self._pending = self._pending, []
        self._last_flush = time.monotonic()
        _read_tensors(pending)
        events: list[Event] = []
        for kind, kw in pending:
            if kind == "step":
                layers = {k: float(_num(v)) for k, v in kw["layer_grad_norms"].items()}  # type: ignore[arg-type]
                if len(layers) > MAX_LAYERS:
                    layers = group_layer_norms(layers, MAX_LAYERS)
                grad_norm = _num(kw["grad_norm"])
                if grad_norm is None and layers:
                    grad_norm = math.sqrt(sum(v * v for v in layers.values()))
                event: Event = Step(
                    step=int(kw["step"]),
                    epoch=int(kw["epoch"]),
                    loss=_num(kw["loss"]),  # type: ignore[arg-type]
                    lr=_num(kw["lr"]),
                    grad_norm=grad_norm,
                    samples_per_s=_num(kw["samples_per_s"]),
                    data_wait_s=_num(kw["data_wait_s"]),
                    compute_s=_num(kw["compute_s"]),
                    metrics={k: _num(v) for k, v in kw["metrics"].items()},  # type: ignore[misc]
                    layer_grad_norms=layers,
                    dead_units=kw["dead_units"],
                    time=kw["time"],
                )
            elif kind == "eval":
                event = Eval(
                    step=int(kw["step"]),
                    val_loss=_num(kw["val_loss"]),  # type: ignore[arg-type]
                    epoch=kw["epoch"],
                    metrics={k: _num(v) for k, v in kw["metrics"].items()},  # type: ignore[misc]
                    pred_counts=kw["pred_counts"],
                    label_counts=kw["label_counts"],
                )
                if math.isfinite(event.val_loss) and (
                    self._best_val is None or event.val_loss < self._best_val
                ):
                    self._best_val = event.val_loss
            elif kind == "checkpoint":
                event = Checkpoint(**kw)
            else:
                event = Log(**kw)
            events.append(event)
            if self._diag is not None:
                for diag in self._diag.feed(event):
                    events.append(diag)
                    self._raised(diag)
        self._write(events)

    def _raised(self, diag: Diagnostic) -> None:
        self.diagnostics.append(diag)
        if self._echo:
            print(
                f"tui-trainer monitor: [{diag.severity}] {diag.code} at step {diag.step}: {diag.message}",
                file=sys.stderr,
            )
        if self._on_diagnostic is not None:
            self._on_diagnostic(diag)

    def _write(self, events: list[Event]) -> None:
        self._log.write_lines([to_json(e) for e in events])

    def _check_open(self) -> None:
        if self.closed:
            raise RuntimeError(f"monitor run {self.run_dir} is already finished")

    # -- ending ----------------------------------------------------------------------------------------

    def finish(self, status: str = "completed") -> None:
        """Flush and write `finished` (status completed / stopped / early_stopped); idempotent."""
        if self.closed:
            return
        self.flush()
        if self._watch is not None:
            self._watch.close()
        self._write(
            [
                Finished(
                    step=self.last_step,
                    status=status,
                    duration_s=round(time.time() - self._started, 3),
                    best_val_loss=self._best_val,
                )
            ]
        )
        self.closed = True
        self._log.close()

    def fail(self, error: str, tb: str = "") -> None:
        """Flush and write `failed`; idempotent."""
        if self.closed:
            return
        self.flush()
        if self._watch is not None:
            self._watch.close()
        self._write([Failed(error=error, traceback=tb, step=self.last_step)])
        self.closed = True
        self._log.close()

    def __enter__(self) -> MonitorRun:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.finish()
        elif issubclass(exc_type, KeyboardInterrupt):
            self.finish("stopped")
        else:
            self.fail(f"{exc_type.__name__}: {exc}", "".join(traceback.format_exception(exc_type, exc, tb)))

    def __del__(self) -> None:  # pragma: no cover - best effort for scripts that forget finish()
        try:
            if not self.closed:
                self.flush()
                self._log.close()
        except Exception:
            pass


def preflight(
    model: Any, batch: Any, loss_fn: Any, *, task: str | None = None, num_classes: int | None = None
) -> dict[str, Any]:
    """The engine's structure checks on one batch `(inputs, labels)` of your own loop, before you train.

    Forward, loss and backward on the batch with hooks on every layer; model state and RNG are restored, so
    the run is unchanged. Returns the model summary (layers, output shapes, parameters, memory estimate);
    raises `PreflightError` (`.code`, `.message` naming the layer, its definition and the shapes, `.fix`).
    `task` defaults to classification for integer labels, regression otherwise; `num_classes` to the
    model's output width.
    """
    import torch

    from tui_trainer.engine.preflight import run_preflight

    xb, yb = batch
    if task is None:
        task = "regression" if torch.is_floating_point(yb) else "classification"
    if task == "classification" and num_classes is None:
        num_classes = _output_width(model, xb)
    return run_preflight(model, xb, yb, loss_fn, task, num_classes or 1)


def _output_width(model: Any, xb: Any) -> int | None:
    """Classes the model scores, from one no-grad forward in eval mode (no BatchNorm update); None on error."""
    import torch

    was_training = model.training
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            model.eval()
            out = model(xb)
        return int(out.shape[1]) if isinstance(out, torch.Tensor) and out.dim() == 2 else None
    except Exception:
        return None  # the preflight pass itself explains what failed
    finally:
        model.train(was_training)


def start(
    run_dir: str | Path | None = None, config: dict[str, Any] | None = None, **options: Any
) -> MonitorRun:
    """Begin a monitored run writing `RUN_DIR/events.jsonl`; options: see MonitorRun.

    Without a folder: `$TUI_TRAINER_RUN_DIR` (set by `tui-trainer watch`), else a new `runs/run-<time>`.
    """
    if run_dir is None:
        from tui_trainer.integrations import run_dir_for

        run_dir = run_dir_for(None, "run")
    return MonitorRun(Path(run_dir), config, **options)
