"""Hugging Face `transformers.Trainer`: `TuiTrainerCallback`, also registered as `report_to=["tui-trainer"]`.

    from tui_trainer.integrations.transformers import TuiTrainerCallback
    trainer = Trainer(model, args, ..., callbacks=[TuiTrainerCallback()])
    # or, once this module is imported: TrainingArguments(..., report_to=["tui-trainer"])

It maps the Trainer's callback hooks onto the engine's events through one `monitor` run: `on_train_begin`
→ run_started (the TrainingArguments, the model's size), `on_log` → a step (loss, learning_rate, grad_norm,
epoch, other numbers as metrics, per-layer gradient norms read in `on_pre_optimizer_step`), `on_evaluate` → an eval (eval_loss and every other eval_* metric),
`on_save` → a checkpoint (`output_dir/checkpoint-STEP`), `on_epoch_end` → epoch_end, `on_train_end` →
finished. Only the main process (`state.is_world_process_zero`) writes.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from tui_trainer.integrations import (
    log_epoch_end,
    log_eval,
    log_step,
    run_dir_for,
    start_run,
    takes_layer_norms,
)

REPORT_TO_NAME = "tui-trainer"
_STEP_KEYS = {"loss": "loss", "learning_rate": "lr", "grad_norm": "grad_norm"}
_SKIP = {"epoch", "total_flos", "step"}


def _config(args: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in args.to_dict().items():
        if isinstance(value, bool | int | float | str) or value is None:
            out[key] = value
    return out


def _samples_per_step(args: Any) -> int | None:
    """Samples in one optimizer step, as the Trainer counts its total train batch size: the batch per
    device x devices x gradient accumulation x processes."""
    try:
        batch = int(args.train_batch_size) * int(args.gradient_accumulation_steps) * int(args.world_size)
    except (AttributeError, TypeError, ValueError):
        return None
    return batch if batch > 0 else None


class TuiTrainerCallback(TrainerCallback):
    """See the module docstring; `run_dir` defaults to `$TUI_TRAINER_RUN_DIR`, else `runs/<model>-<time>`."""

    def __init__(self, run_dir: str | Path | None = None, **monitor_options: Any) -> None:
        self.run_dir = run_dir
        self.monitor_options = monitor_options
        self.run: Any = None
        self._epoch_started = time.monotonic()
        self._norms: dict[str, float] = {}

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        if not state.is_world_process_zero or (self.run is not None and not self.run.closed):
            return
        stem = type(model).__name__ if model is not None else "transformers"
        summary = {}
        if model is not None:
            summary = {
                "class": type(model).__name__,
                "params": sum(p.numel() for p in model.parameters()),
                "trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad),
            }
        config: dict[str, Any] = {"training_args": _config(args)}
        if batch := _samples_per_step(args):
            config["train"] = {"batch_size": batch}  # what steps/s is multiplied by for samples/s
        self.run = start_run(
            run_dir_for(self.run_dir, stem),
            config,
            model_summary=summary,
            total_steps=int(state.max_steps) if state.max_steps else None,
            **self.monitor_options,
        )

    def on_pre_optimizer_step(
        self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any
    ) -> None:
        # Per-layer gradient norms on the steps the Trainer will log (after clipping's unscale, before the
        # update), so the per-layer rules (vanishing / exploding in one layer) work on a Trainer run too.
        if self.run is None or self.run.closed or model is None or not takes_layer_norms(self.run):
            return
        every = max(1, int(args.logging_steps)) if args.logging_steps >= 1 else 1
        if (state.global_step + 1) % every:
            return
        from tui_trainer.engine.layer_stats import layer_grad_norms

        self._norms = layer_grad_norms(model)

    def on_epoch_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._epoch_started = time.monotonic()

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        if self.run is None or self.run.closed or not logs or "loss" not in logs:
            return  # eval logs come through on_evaluate; the end-of-training summary has no "loss"
        fields: dict[str, Any] = {}
        metrics: dict[str, float] = {}
        for key, value in logs.items():
            if not isinstance(value, int | float) or key in _SKIP or key.startswith("eval_"):
                continue
            if key in _STEP_KEYS:
                fields[_STEP_KEYS[key]] = float(value)
            else:
                metrics[key] = float(value)
        epoch = logs.get("epoch", state.epoch or 0.0)
        norms, self._norms = self._norms, {}
        log_step(
            self.run,
            step=int(state.global_step),
            layer_grad_norms=norms,
            epoch=int(math.floor(epoch)) if isinstance(epoch, int | float) and math.isfinite(epoch) else 0,
            metrics=metrics,
            **fields,
        )

    def on_evaluate(
        self, args: Any, state: Any, control: Any, metrics: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        if self.run is None or self.run.closed or not metrics:
            return
        val_loss = metrics.get("eval_loss")
        others = {
            key.removeprefix("eval_"): float(value)
            for key, value in metrics.items()
            if key != "eval_loss" and key != "epoch" and isinstance(value, int | float)
        }
        if val_loss is None:
            self.run.message("evaluation: " + ", ".join(f"{k}={v:.4g}" for k, v in others.items()))
            return
        epoch = int(math.floor(state.epoch)) if state.epoch is not None else None
        log_eval(self.run, step=int(state.global_step), val_loss=float(val_loss), epoch=epoch, metrics=others)

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.run is None or self.run.closed:
            return
        path = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        reason = (
            "best"
            if state.best_model_checkpoint and Path(state.best_model_checkpoint) == path
            else "periodic"
        )
        self.run.checkpoint(
            step=int(state.global_step), path=path, epoch=int(math.floor(state.epoch or 0)), reason=reason
        )

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.run is None or self.run.closed:
            return
        log_epoch_end(
            self.run,
            epoch=max(0, int(round(state.epoch or 0)) - 1),
            step=int(state.global_step),
            train_loss=None,
            duration_s=round(time.monotonic() - self._epoch_started, 3),
        )

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.run is None or self.run.closed:
            return
        self.run.last_step = max(self.run.last_step, int(state.global_step))
        stopped_early = bool(control.should_training_stop) and state.global_step < state.max_steps
        self.run.finish("early_stopped" if stopped_early else "completed")


def register() -> bool:
    """Make `report_to=["tui-trainer"]` name this callback; False when this transformers has no registry."""
    try:
        from transformers.integrations import integration_utils
    except ImportError:  # pragma: no cover - very old or very new transformers
        return False
    registry = getattr(integration_utils, "INTEGRATION_TO_CALLBACK", None)
    if not isinstance(registry, dict):
        return False
    registry[REPORT_TO_NAME] = TuiTrainerCallback
    return True


REGISTERED = register()

__all__ = ["REGISTERED", "TuiTrainerCallback", "register"]
