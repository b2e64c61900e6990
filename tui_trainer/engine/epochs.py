"""The epochs of a run: the training step (nanoGPT's shape), its reports, a non-finite loss, evaluation, early stop.

`EpochLoop` is the half of the engine's `_Trainer` (loop.py) that runs once everything is built: `_setup` there
gives it the model, optimiser, GradScaler, autocast context, loss, `feed` (batches.py) and validation tensors,
and the host's `_handle_commands`, `_wait_while_paused`, `_save_checkpoint` and `_plain_model` act on the
commands a reported step reads.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from tui_trainer.engine import build
from tui_trainer.engine.events import EpochEnd, Eval, Log, Step
from tui_trainer.engine.step_window import StepWindow

log = logging.getLogger("tui_trainer.engine.loop")


class StopTraining(Exception):
    """Raised inside the loop to unwind to the end-of-run handling with a status."""

    def __init__(self, status: str, code: str | None = None, error: str | None = None) -> None:
        super().__init__(error or status)
        self.status, self.code, self.error = status, code, error


class EpochLoop:
    """The training epochs; mixed into loop.py's `_Trainer`, whose state it uses (see the module docstring)."""

    def _train(self) -> str:
        import torch

        from tui_trainer.engine.layer_stats import StepReadings

        cfg = self.cfg.train
        model, opt, scaler, loss_fn, ctx = self.model, self.optimizer, self.scaler, self.loss_fn, self.ctx
        clip = cfg.grad_clip
        params = [p for p in model.parameters() if p.requires_grad]
        per_step_sched = self.cfg.optim.schedule == "cosine"
        max_steps = cfg.max_steps or None
        perf = time.perf_counter
        window = StepWindow(cfg.log_every, start_step=self.step, fixed=self.dist.enabled)
        # Per-layer grad norms and dead units on the reports layer_stats.ReadingSchedule picks (the same rule
        # as run.watch).
        readings = StepReadings(model)
        model.train()

        while self.epoch < cfg.epochs:
            if (
                max_steps is not None
                and self.step >= max_steps
                and self.batch_in_epoch < self.batches_per_epoch
            ):
                break
            epoch_start = time.time()
            n_batches = self.batches_per_epoch
            batches = self.feed.epoch(self.epoch, start=self.batch_in_epoch)
            while max_steps is None or self.step < max_steps:
                t0 = perf()
                xb, yb = next(batches, (None, None))
                if xb is None:
                    break
                t1 = perf()
                b, next_step = self.batch_in_epoch, self.step + 1
                # Same step on every rank; the step before an evaluation always reports (see report_due).
                due = window.report_due(next_step, t0, b + 1 == n_batches, cfg.eval_every)
                if not due and window.control_due(t0):
                    # With a sparse train.log_every, commands are still read ~10 times a second; one that
                    # arrived makes this step report, where pause/stop/checkpoint are acted on.
                    self._handle_commands()
                    due = self.stop_requested is not None or self.paused or self.save_requested
                # Which reports read per-layer (the first 20, then ~10 a second within a time budget) is
                # decided before the forward pass, which a reading step records (dead units).
                read = due and readings.start()

                with ctx:
                    loss = loss_fn(model(xb), yb)
                opt.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                # A report between readings (the one before an eval, say) has a grad norm only with clipping.
                grad_norm = layers = None
                if clip or read:
                    scaler.unscale_(opt)
                    layers = readings.grad_norms() if read else None  # before clipping: as computed
                    if clip:
                        grad_norm = torch.nn.utils.clip_grad_norm_(params, clip)
                    elif layers is not None:  # the layers' together: no second pass over the gradients
                        grad_norm = math.sqrt(sum(v * v for v in layers.values()))
                self.step, self.batch_in_epoch = next_step, b + 1
                window.add(loss.detach(), int(yb.shape[0]), t1 - t0)
                # Read before the update, so a NaN found here is explained with the weights that produced it.
                fields = self._readings(window, grad_norm, layers, readings) if due else None
                scaler.step(opt)
                scaler.update()
                if per_step_sched and self.scheduler is not None:
                    self.scheduler.step()
                window.add_compute(perf() - t1)
                if fields is not None:
                    self._report(window, fields)
                if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0:
                    self._save_checkpoint("periodic")
                if cfg.eval_every and self.step % cfg.eval_every == 0:
                    if self._evaluate():
                        raise StopTraining("early_stopped")
                    model.train()
            if max_steps is not None and self.step >= max_steps and self.batch_in_epoch < n_batches:
                break
            train_loss = window.end_epoch()
            early = False
            if not cfg.eval_every:
                early = self._evaluate(train_loss)
                model.train()
            self.emit(
                EpochEnd(
                    epoch=self.epoch,
                    step=self.step,
                    train_loss=train_loss,
                    duration_s=round(time.time() - epoch_start, 3),
                )
            )
            if self.scheduler is not None and self.cfg.optim.schedule == "step":
                self.scheduler.step()
            self.epoch += 1
            self.batch_in_epoch = 0
            self.emit.sync_soon()
            if early:
                raise StopTraining("early_stopped")
            if max_steps is not None and self.step >= max_steps:
                break
        return "completed"

    def _readings(self, window: StepWindow, grad_norm: Any, layers: Any, readings: Any) -> dict[str, Any]:
        """A reported step's numbers, read in one sync; stops here (before the optimiser step) on a NaN."""
        dead = readings.finish()  # {} unless this step took the per-layer readings
        gn = float(grad_norm) if grad_norm is not None else None
        fields = dict(grad_norm=gn, layer_grad_norms=layers or {}, dead_units=dead)
        bad = self._bad_offset(window, gn)
        if bad is not None and self.cfg.train.stop_on_nan and not self.dist.enabled:
            self._nonfinite(window, bad, gn, dict(lr=self._lr(), **fields))
        return fields

    def _bad_offset(self, window: StepWindow, gn: float | None) -> int | None:
        bad = window.first_nonfinite()
        if bad is None and gn is not None and not math.isfinite(gn) and not self.scaler.is_enabled():
            bad = len(window) - 1  # (with fp16, an inf norm is the scaler's business: it skips the step)
        return bad

    def _report(self, window: StepWindow, readings: dict[str, Any]) -> None:
        """A reported step: stop on a non-finite loss (all ranks agree), emit `step`, act on commands."""
        from tui_trainer.engine import distributed

        values = window.losses()
        bad = self._bad_offset(window, readings["grad_norm"])
        self._handle_commands()
        flags = distributed.agree(
            self.dist, [int(bad is not None), int(self.stop_requested is not None)], self.device
        )
        fields = dict(lr=self._lr(), **readings)
        if bad is not None:
            self._nonfinite(window, bad, readings["grad_norm"], fields)
        elif flags[0] and self.cfg.train.stop_on_nan:
            raise StopTraining(
                "failed", "nan_loss", f"another rank saw a non-finite loss by step {self.step}"
            )
        event = window.flush(self.step, self.epoch, self.dist.world_size, **fields)
        if bad is None:
            self.last_loss = values[-1]
            self.emit(event)
        if flags[1] and self.stop_requested is None:
            self.stop_requested = "another rank"
        if self.save_requested:
            self.save_requested = False
            self._save_checkpoint("manual")
        if self.paused:
            self._wait_while_paused()
            window.reset()
        if self.stop_requested is not None:
            self._save_checkpoint("stopped")
            raise StopTraining("stopped")

    def _nonfinite(self, window: StepWindow, bad: int, gn: float | None, fields: dict) -> None:
        """The step whose loss (or grad norm) went non-finite: re-run its batch once to find the first module
        whose output was NaN/inf, tell the diagnostics, emit that step; stop unless `train.stop_on_nan` is off."""
        s = self.step - len(window) + 1 + bad
        loss = window.losses()[bad]
        e, bi = divmod(s - 1, self.batches_per_epoch)
        trace = self._trace_nonfinite(e, bi)
        if self.emit.diagnostics is not None:
            self.emit.diagnostics.note_nonfinite(trace)
        self.emit(Step(step=s, epoch=e, loss=loss, **fields))
        if self.cfg.train.stop_on_nan:
            self.step, self.epoch = s, e
            what = (
                f"loss became {loss}"
                if not math.isfinite(loss)
                else f"gradient norm became {gn} (loss {loss:.4g})"
            )
            where = (
                f"; first non-finite output: module `{trace['module']}`"
                if trace and trace.get("module")
                else ""
            )
            raise StopTraining(
                "failed", "nan_loss", f"{what} at step {s} (epoch {e}, batch {bi}){where}; stopped"
            )

    def _trace_nonfinite(self, epoch: int, batch: int) -> dict[str, Any] | None:
        from tui_trainer.engine.layer_stats import nonfinite_trace

        if self.traced:
            return None  # once per run: a run that goes on past NaN (stop_on_nan = false) is not re-run each time
        self.traced = True
        try:
            xb, yb = self.feed.batch(epoch, batch)
            model = self._plain_model()

            def forward() -> Any:
                with self.ctx:
                    return self.loss_fn(model(xb), yb)

            trace = nonfinite_trace(model, forward)
        except Exception as exc:  # the report must never hide the NaN it explains
            log.warning("re-running the non-finite batch failed: %s", exc)
            return None
        if trace is not None:
            trace.update(epoch=epoch, batch=batch)
        return trace

    def _lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def _evaluate(self, train_loss: float | None = None) -> bool:
        """One pass over the validation split; returns True when early stopping says stop."""
        cfg = self.cfg.train
        if self.x_val is None or self.x_val.shape[0] == 0:
            if self.scheduler is not None and self.cfg.optim.schedule == "plateau" and train_loss is not None:
                self.scheduler.step(train_loss)
            return False
        model = self._plain_model()
        model.eval()
        val_loss, metrics, pred_counts, label_counts = build.evaluate_split(
            model,
            self.x_val,
            self.y_val,
            self.loss_fn,
            self.ctx,
            self.data.task,
            self.data.num_classes,
            max(cfg.batch_size, 256),
        )
        self.emit(
            Eval(
                step=self.step,
                val_loss=val_loss,
                epoch=self.epoch,
                metrics=metrics,
                pred_counts=pred_counts,
                label_counts=label_counts,
            )
        )
        if self.scheduler is not None and self.cfg.optim.schedule == "plateau":
            self.scheduler.step(val_loss)
        if not math.isfinite(val_loss):
            return False
        if self.best_val is None or val_loss < self.best_val - cfg.early_stopping_min_delta:
            self.best_val = val_loss
            self.evals_since_best = 0
        else:
            self.evals_since_best += 1
        if cfg.early_stopping_patience and self.evals_since_best >= cfg.early_stopping_patience:
            self.emit(
                Log(
                    message=f"early stopping: no validation improvement for {self.evals_since_best} evaluations "
                    f"(best {self.best_val:.4g})"
                )
            )
            return True
        return False
