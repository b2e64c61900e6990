"""PyTorch Lightning: `TuiTrainerCallback` (the run: steps, evals, checkpoints, end) and `TuiTrainerLogger`.

    from tui_trainer.integrations.lightning import TuiTrainerCallback
    trainer = L.Trainer(callbacks=[TuiTrainerCallback()])     # writes runs/<Model>-<time>/events.jsonl

The callback maps Lightning's hooks onto the engine's events through one `monitor` run: `run_started`
(hyperparameters, model summary), a `step` per optimizer step (loss, lr of each optimizer, the global and
per-layer gradient norms read in `on_before_optimizer_step`, samples/s), an `eval` after each validation
(every `val*` metric logged), `epoch_end`, a `checkpoint` for each file `ModelCheckpoint` writes, and
`finished` / `failed`. Only the global-zero rank writes under DDP. `TuiTrainerLogger` is a Lightning
`Logger` for `self.log()` metrics, for code that configures loggers rather than callbacks; used beside the
callback it leaves the run to it. Both work with `lightning` and with the older `pytorch_lightning`
package (`tui_trainer.integrations.pytorch_lightning`).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from tui_trainer.integrations import (
    log_epoch_end,
    log_eval,
    log_step,
    run_dir_for,
    start_run,
    takes_layer_norms,
)
from tui_trainer.integrations.log_tags import ScalarAssembler, TagMap

# Runs a callback writes, by folder: a logger for the same folder leaves the run to the callback.
_CALLBACK_RUNS: dict[str, Any] = {}


def _number(value: Any) -> float | None:
    if value is None:
        return None
    if hasattr(value, "numel"):
        if value.numel() != 1:
            return None
        value = value.detach().float().item()
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _jsonable(params: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in dict(params or {}).items():
        if isinstance(value, bool | int | float | str) or value is None:
            out[str(key)] = value
        elif isinstance(value, dict):
            out[str(key)] = _jsonable(value)
        else:
            out[str(key)] = repr(value)[:200]
    return out


def _model_summary(module: Any) -> dict[str, Any]:
    params = sum(p.numel() for p in module.parameters())
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return {"class": type(module).__name__, "params": params, "trainable_params": trainable}


# Batch-level hooks the callback does not use. Lightning skips a callback's hook that is not callable (no call,
# no profiler context); each one it does call costs about 1.3 us a batch per callback, so these are None on the
# instance. `on_before_optimizer_step` is present only on the steps whose per-layer norms are read.
_UNUSED_BATCH_HOOKS = (
    "on_train_batch_start",
    "on_before_backward",
    "on_after_backward",
    "on_before_zero_grad",
    "on_validation_batch_start",
    "on_validation_batch_end",
)


class _CallbackBody:
    """The hooks; mixed into the `Callback` class of whichever Lightning package is installed."""

    def __init__(
        self, run_dir: str | Path | None = None, report_every: int | None = None, **monitor_options: Any
    ):
        super().__init__()
        self.run_dir = run_dir
        self.report_every = report_every
        self.monitor_options = monitor_options
        self.run: Any = None
        self._tags = TagMap()
        self._norms: dict[str, float] = {}
        self._grad_norm: float | None = None
        self._next_report = 1  # the first reported step at or after the current one
        self._last_report_step = 0
        self._last_report_time: float | None = None
        self._samples_per_step: int | None = None
        self._window: list[Any] = []
        self._epoch_started = time.monotonic()
        self._seen_checkpoints: set[str] = set()
        self._read_norms_here = True
        self._grad_norms: Any = None  # layer_stats.GradNorms of the module, made at the first reading
        self._schedule: Any = None  # layer_stats.ReadingSchedule: the engine's rule for which reports read
        self._asked_for = 0  # the step the schedule was last asked about
        for name in _UNUSED_BATCH_HOOKS:
            setattr(self, name, None)
        self.on_before_optimizer_step = None

    # -- start / end ---------------------------------------------------------------------------------
    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        # On every rank: under DDP estimating the steps loads the dataloader behind a barrier, and a
        # barrier that only rank 0 reaches hangs the job.
        total = trainer.estimated_stepping_batches
        if not trainer.is_global_zero:
            return
        total = int(total) if isinstance(total, int | float) and math.isfinite(total) else None
        folder = run_dir_for(self.run_dir, type(pl_module).__name__)
        config: dict[str, Any] = {
            "hparams": _jsonable(getattr(pl_module, "hparams", {})),
            "trainer": self._trainer_config(trainer),
        }
        # The run's batch size (samples per optimizer step): what steps/s is multiplied by for samples/s.
        self._samples_per_step = _samples_per_step(trainer)
        if self._samples_per_step:
            config["train"] = {"batch_size": self._samples_per_step}
        self.run = start_run(
            folder, config, model_summary=_model_summary(pl_module), total_steps=total, **self.monitor_options
        )
        _CALLBACK_RUNS[str(Path(folder).resolve())] = self.run
        if self.report_every is None:
            self.report_every = max(1, int(getattr(trainer, "log_every_n_steps", 50) or 50))
        self._read_norms_here = takes_layer_norms(self.run)
        from tui_trainer.engine.layer_stats import ReadingSchedule

        self._schedule = ReadingSchedule()
        if not self._read_norms_here:
            # This monitor reads per-layer norms itself, in backward, on the steps it samples.
            self.run.watch(pl_module, every=self.report_every)
        # A second fit with the same callback starts its window afresh; a resumed run reports its first step.
        self._next_report = trainer.global_step + 1
        self._last_report_step, self._last_report_time = trainer.global_step, None
        self._window, self._asked_for, self._grad_norms = [], 0, None
        self._arm_norms(trainer.global_step)

    @staticmethod
    def _trainer_config(trainer: Any) -> dict[str, Any]:
        return {
            "max_epochs": trainer.max_epochs,
            "max_steps": trainer.max_steps,
            "accumulate_grad_batches": trainer.accumulate_grad_batches,
            "precision": str(getattr(trainer, "precision", "")),
            "world_size": trainer.world_size,
        }

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        if self.run is None or self.run.closed:
            return
        self._check_checkpoints(trainer)
        stopped_early = any(
            getattr(cb, "stopped_epoch", 0)
            for cb in trainer.callbacks
            if type(cb).__name__ == "EarlyStopping"
        )
        interrupted = getattr(trainer, "interrupted", False)
        self.run.finish("stopped" if interrupted else ("early_stopped" if stopped_early else "completed"))
        _CALLBACK_RUNS.pop(str(self.run.run_dir.resolve()), None)

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        if self.run is None or self.run.closed:
            return
        if isinstance(exception, KeyboardInterrupt):
            self.run.finish("stopped")
        else:
            import traceback

            tb = "".join(traceback.format_exception(type(exception), exception, exception.__traceback__))
            self.run.fail(f"{type(exception).__name__}: {exception}", tb)
        _CALLBACK_RUNS.pop(str(self.run.run_dir.resolve()), None)

    # -- training ------------------------------------------------------------------------------------
    # Step events at the engine's cadence: every step of the first ADAPTIVE_FIRST, then one per
    # `report_every` steps (the Trainer's log_every_n_steps) with that step's loss, as Lightning's loggers
    # record it (NaN if any step since the last report had a non-finite loss). The losses stay on the device
    # until the run's flush, and the diagnostics, whose cost is per event, see a few events a second.
    # Between reports a batch costs one list append and a comparison: no device read, no dict, no event.
    ADAPTIVE_FIRST = 20

    def _reports(self, step: int) -> bool:
        return step <= self.ADAPTIVE_FIRST or step % (self.report_every or 1) == 0

    def _report_after(self, step: int) -> int:
        """The first reported step after `step`."""
        if step < self.ADAPTIVE_FIRST:
            return step + 1
        every = self.report_every or 1
        return (step // every + 1) * every

    def _arm_norms(self, step: int) -> None:
        # The optimizer step after `step` completes step + 1: read its per-layer norms if that step reports
        # and the engine's reading rule agrees (every one of the first 20, then within 1 % of the wall time).
        if step + 1 != self._next_report or self._asked_for == step + 1 or not self._read_norms_here:
            return
        self._asked_for = step + 1  # once per step, however many batches it accumulates
        if self._schedule.take(cadence=True):
            self.on_before_optimizer_step = self._read_layer_norms

    def _read_layer_norms(self, trainer: Any, pl_module: Any, optimizer: Any) -> None:
        # Called only on the optimizer step of a reported step (after AMP unscaling, before the update).
        self.on_before_optimizer_step = None
        started = time.perf_counter()
        if self._grad_norms is None:  # here, not at fit start: the module is set up (configure_model) by now
            from tui_trainer.engine.layer_stats import GradNorms

            self._grad_norms = GradNorms(pl_module)
        self._norms = self._grad_norms()
        self._grad_norm = math.sqrt(sum(v * v for v in self._norms.values())) if self._norms else None
        self._schedule.charge(time.perf_counter() - started)

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if self.run is None:
            return
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if loss is not None:
            self._window.append(loss.detach() if hasattr(loss, "detach") else loss)
        step = trainer.global_step
        if step >= self._next_report and self._window:  # else accumulating, or not a reported step
            self._report(trainer, step)
        self._arm_norms(step)

    def _report(self, trainer: Any, step: int) -> None:
        self._next_report = self._report_after(step)
        now = time.monotonic()
        samples_per_s = None
        # Steps/s over the window times the run's batch size: the rule the pane and headless lines show.
        if self._samples_per_step and self._last_report_time is not None and now > self._last_report_time:
            steps = step - self._last_report_step
            samples_per_s = steps * self._samples_per_step / (now - self._last_report_time)
        self._last_report_time, self._last_report_step = now, step
        window, self._window = self._window, []
        loss_value = _reported_loss(window)
        lrs = [group["lr"] for opt in trainer.optimizers for group in opt.param_groups]
        metrics: dict[str, Any] = {f"lr_{i}": lr for i, lr in enumerate(lrs[1:], 1)}
        norms, self._norms = self._norms, {}
        grad_norm, self._grad_norm = self._grad_norm, None
        log_step(
            self.run,
            step=step,
            loss=loss_value,
            lr=lrs[0] if lrs else None,
            grad_norm=grad_norm,
            epoch=trainer.current_epoch,
            samples_per_s=samples_per_s,
            layer_grad_norms=norms,
            metrics=metrics,
        )
        self._check_checkpoints(trainer)

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        self._epoch_started = time.monotonic()
        if self.run is not None:
            self._check_checkpoints(trainer)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if self.run is None:
            return
        train_loss = None
        for key, value in trainer.callback_metrics.items():
            kind, name = self._tags.classify(key)
            if kind == "step" and name in ("loss", "loss_epoch"):
                train_loss = _number(value)
        log_epoch_end(
            self.run,
            epoch=trainer.current_epoch,
            step=trainer.global_step,
            train_loss=train_loss,
            duration_s=round(time.monotonic() - self._epoch_started, 3),
        )

    # -- validation ----------------------------------------------------------------------------------
    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if self.run is None or trainer.sanity_checking:
            return
        val_loss = None
        metrics: dict[str, float] = {}
        for key, value in trainer.callback_metrics.items():
            kind, name = self._tags.classify(key)
            number = _number(value)
            if kind != "eval" or number is None:
                continue
            if name == "val_loss":
                val_loss = number
            else:
                metrics[name] = number
        if val_loss is not None:
            log_eval(
                self.run,
                step=trainer.global_step,
                val_loss=val_loss,
                epoch=trainer.current_epoch,
                metrics=metrics,
            )
        elif metrics:
            self.run.message("validation: " + ", ".join(f"{k}={v:.4g}" for k, v in metrics.items()))

    # -- checkpoints ---------------------------------------------------------------------------------
    def _check_checkpoints(self, trainer: Any) -> None:
        for cb in getattr(trainer, "checkpoint_callbacks", []) or []:
            best = getattr(cb, "best_model_path", "") or ""
            for path, reason in ((getattr(cb, "last_model_path", "") or "", "periodic"), (best, "best")):
                if path and path not in self._seen_checkpoints and Path(path).exists():
                    self._seen_checkpoints.add(path)
                    self.run.checkpoint(
                        step=trainer.global_step, path=path, epoch=trainer.current_epoch, reason=reason
                    )

    def on_save_checkpoint(self, trainer: Any, pl_module: Any, checkpoint: dict[str, Any]) -> None:
        return None


def _reported_loss(losses: list[Any]) -> Any:
    """The reported step's own loss (what Lightning's loggers record at that step), or NaN when any step of the
    window had a non-finite loss, so a NaN between two reported steps is never hidden. Stays on the device."""
    last = losses[-1]
    if len(losses) == 1:
        return last
    if hasattr(last, "detach"):
        import torch

        try:
            stacked = torch.stack(losses)  # the usual case: 0-d losses of one dtype, one op for the window
        except (RuntimeError, TypeError):  # losses of mixed shapes or dtypes
            stacked = torch.stack([torch.as_tensor(loss).reshape(()).float() for loss in losses])
        return torch.where(torch.isfinite(stacked).all(), stacked[-1], torch.full_like(stacked[-1], math.nan))
    values = [float(v) for v in losses]
    return values[-1] if all(math.isfinite(v) for v in values) else math.nan


def _samples_per_step(trainer: Any) -> int | None:
    """Samples in one optimizer step: the train loader's batch size x gradient accumulation x processes;
    None when the loader has no fixed batch size (a batch sampler, an iterable dataset that batches itself,
    several train loaders)."""
    batch = getattr(trainer.train_dataloader, "batch_size", None)
    if not isinstance(batch, int) or batch <= 0:
        return None
    accumulate = trainer.accumulate_grad_batches
    accumulate = accumulate if isinstance(accumulate, int) and accumulate > 0 else 1
    return batch * accumulate * max(1, int(trainer.world_size or 1))


class _LoggerBody:
    """`Logger` methods; mixed into the Logger class of whichever Lightning package is installed."""

    def __init__(
        self, run_dir: str | Path | None = None, tag_map: dict[str, str] | None = None, **monitor_options: Any
    ):
        super().__init__()
        self._run_dir = run_dir_for(run_dir, "lightning")
        self._assembler = ScalarAssembler(TagMap(dict(tag_map or {})))
        self._hparams: dict[str, Any] = {}
        self._monitor_options = monitor_options
        self._own_run: Any = None

    @property
    def name(self) -> str:
        return "tui-trainer"

    @property
    def version(self) -> str:
        return self._run_dir.name

    @property
    def root_dir(self) -> str:
        return str(self._run_dir.parent)

    @property
    def log_dir(self) -> str:
        return str(self._run_dir)

    @property
    def save_dir(self) -> str:
        return str(self._run_dir)

    def _callback_run(self) -> Any:
        return _CALLBACK_RUNS.get(str(self._run_dir.resolve()))

    def _run(self) -> Any:
        if self._own_run is None:
            self._own_run = start_run(self._run_dir, {"hparams": self._hparams}, **self._monitor_options)
        return self._own_run

    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        if not isinstance(params, dict):
            params = vars(params) if hasattr(params, "__dict__") else {}
        self._hparams.update(_jsonable(params))

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        if self._callback_run() is not None:
            return  # the callback writes this run's steps and evals
        run = self._run()
        at = int(step) if step is not None else self._assembler.last_step
        for key, value in metrics.items():
            number = _number(value)
            if number is not None:
                self._assembler.add(at, key, number, run)

    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        if self._callback_run() is not None or self._own_run is None:
            return
        path = getattr(checkpoint_callback, "last_model_path", "") or getattr(
            checkpoint_callback, "best_model_path", ""
        )
        if path:
            self._run().checkpoint(step=self._assembler.last_step, path=path)

    def save(self) -> None:
        if self._own_run is not None and not self._own_run.closed:
            self._own_run.flush()

    def finalize(self, status: str) -> None:
        run = self._own_run
        if run is None or run.closed:
            return
        self._assembler.flush(run)
        if status in ("success", "finished"):
            run.finish("completed")
        else:
            run.fail(f"training ended with status {status!r}")


def _build(package: str) -> tuple[type, type]:
    if package == "lightning":
        from lightning.pytorch import Callback
        from lightning.pytorch.loggers import Logger
        from lightning.pytorch.utilities import rank_zero_only
    else:
        from pytorch_lightning import Callback
        from pytorch_lightning.loggers import Logger
        from pytorch_lightning.utilities import rank_zero_only

    callback = type(
        "TuiTrainerCallback",
        (_CallbackBody, Callback),
        {"__doc__": _CallbackBody.__doc__, "__module__": __name__},
    )

    def _zero(method: Any) -> Any:
        return rank_zero_only(method)

    logger = type(
        "TuiTrainerLogger",
        (_LoggerBody, Logger),
        {
            "__module__": __name__,
            "log_hyperparams": _zero(_LoggerBody.log_hyperparams),
            "log_metrics": _zero(_LoggerBody.log_metrics),
            "finalize": _zero(_LoggerBody.finalize),
        },
    )
    return callback, logger


try:
    TuiTrainerCallback, TuiTrainerLogger = _build("lightning")
except ImportError:  # only the older package is installed
    TuiTrainerCallback, TuiTrainerLogger = _build("pytorch_lightning")

__all__ = ["TuiTrainerCallback", "TuiTrainerLogger"]
