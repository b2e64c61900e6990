"""The training loop, callable in-process: `run_training(config, run_dir, emit, commands, resume) -> RunResult`.

`process.py` runs it in a spawned child for the app; `tui-trainer train --headless` and the collapse lab
call it directly. Every event goes to `RUN_DIR/events.jsonl` (rank 0 only) and to `emit`.

The step itself is nanoGPT's: one autocast context (a no-op in fp32), one GradScaler (disabled unless fp16),
forward, backward, step. What makes it cheap to watch lives beside it:
- `StepWindow` (step_window.py) holds each step's loss on the device until a `step` event is due, then reads
  the window back with one sync, so a NaN is still pinned to its exact step and batch;
- the per-layer gradient norms and dead-unit shares (and the global norm with them) are read only on the
  reported steps `layer_stats.ReadingSchedule` picks (the global norm every step when clipping);
- `BatchFeed` (batches.py) feeds a DataLoader whose batch (epoch, b) is fixed by the seed, which makes
  "position in the data" just (epoch, batch) for checkpoints and exact resume.
"""

from __future__ import annotations

import logging
import os
import queue
import random
import socket
import time
import traceback
from collections import deque
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui_trainer.engine import build
from tui_trainer.engine import checkpoint as ckpt
from tui_trainer.engine.config import TrainConfig, config_to_dict, save_config
from tui_trainer.engine.control import Pause, Resume, SaveCheckpoint, Stop
from tui_trainer.engine.devices import autocast_dtype, pick_device, pick_precision
from tui_trainer.engine.diagnostics import Diagnostics
from tui_trainer.engine.epochs import EpochLoop, StopTraining
from tui_trainer.engine.eventlog import EventLog
from tui_trainer.engine.events import (
    Checkpoint,
    Diagnostic,
    Eval,
    Event,
    Failed,
    Finished,
    Log,
    Paused,
    Resumed,
    RunStarted,
    Step,
    System,
)
from tui_trainer.errors import UserError

log = logging.getLogger("tui_trainer.engine.loop")

__all__ = ["RunResult", "pick_device", "pick_precision", "replay_history", "run_training"]


@dataclass
class RunResult:
    status: str  # completed | early_stopped | stopped | failed
    step: int
    epoch: int
    run_dir: Path
    error: str | None = None
    code: str | None = None
    final_loss: float | None = None
    best_val_loss: float | None = None
    last_checkpoint: Path | None = None
    diagnostics: list[str] = field(default_factory=list)
    model: Any = field(default=None, repr=False)  # the trained nn.Module (in-process callers use it)

    @property
    def exit_code(self) -> int:
        return 1 if self.status == "failed" else 0


def _poll(commands: Any) -> list[Any]:
    """Drain a command source: a queue (multiprocessing or queue.Queue), a deque, or None."""
    out: list[Any] = []
    if commands is None:
        return out
    if isinstance(commands, deque):
        while True:
            try:
                out.append(commands.popleft())
            except IndexError:
                return out
    while True:
        try:
            out.append(commands.get_nowait())
        except (queue.Empty, EOFError, OSError):
            return out
        except Exception:  # a closed multiprocessing queue raises ValueError; treat as empty
            return out


def replay_history(diagnostics: Diagnostics, run_dir: Path, upto_step: int) -> None:
    """Feed a resumed run's diagnostics the steps and evals it had up to its checkpoint, silently.

    Without this a resumed run would judge divergence and plateaus against its first loss after the
    resume (already tiny) and repeat what was said before. Steps logged after a checkpoint by a segment
    that was later killed are dropped, as the resume superseded them.
    """
    from tui_trainer.engine.follow import EventFollower

    kept: list[Event] = []
    for event in EventFollower(run_dir).read_all():
        if isinstance(event, RunStarted) and event.resumed_from_step is not None:
            cut = event.resumed_from_step
            kept = [e for e in kept if e.step <= cut]  # type: ignore[attr-defined]
        elif isinstance(event, Step | Eval):
            kept.append(event)
        elif isinstance(event, Diagnostic):
            diagnostics.raised.setdefault(event.code, event)  # said before: not again
    for event in kept:
        if event.step <= upto_step:  # type: ignore[attr-defined]
            diagnostics.feed(event)


class _Emitter:
    """Writes events to events.jsonl and passes them on; feeds diagnostics. Thread-safe enough for telemetry."""

    def __init__(
        self, writer: EventLog | None, sink: Callable[[Event], None] | None, diagnostics: Diagnostics | None
    ):
        self.writer = writer
        self.sink = sink
        self.diagnostics = diagnostics
        self.raised: list[Diagnostic] = []

    def __call__(self, event: Event) -> None:
        if self.writer is not None:
            self.writer.write(event)
        if self.sink is not None:
            try:
                self.sink(event)
            except Exception as exc:  # a broken consumer must not kill training
                log.warning("event sink failed: %s", exc)
        if self.diagnostics is not None and isinstance(event, Step | Eval):
            for diag in self.diagnostics.feed(event):
                self.raised.append(diag)
                self(diag)

    def sync(self) -> None:
        if self.writer is not None:
            self.writer.sync()

    def sync_soon(self) -> None:
        if self.writer is not None:
            self.writer.sync_soon()


def run_training(
    config: TrainConfig,
    run_dir: Path,
    emit: Callable[[Event], None] | None = None,
    commands: Any = None,
    resume: bool = False,
    *,
    data: Any = None,
    telemetry: bool | None = None,
) -> RunResult:
    """Train `config`, writing `RUN_DIR/events.jsonl` and checkpoints; never raises for a failed run.

    `commands`: a queue or deque of control.Pause/Resume/Stop/SaveCheckpoint. `data`: an already loaded
    `datasets.TrainingData` (skips loading `data.path`). A UserError (bad data/model settings) is reported
    as a `failed` event and re-raised, so the CLI can exit 2.
    """
    from tui_trainer.engine import distributed

    run_dir = Path(run_dir)
    import torch

    want_cuda = config.train.device in ("auto", "cuda") and torch.cuda.is_available()
    dist_ctx = distributed.init_from_env(want_cuda)
    writer = EventLog(run_dir) if dist_ctx.is_main else None
    diags = Diagnostics(config.diagnostics) if config.diagnostics.enabled and dist_ctx.is_main else None
    emitter = _Emitter(writer, emit if dist_ctx.is_main else None, diags)
    trainer = _Trainer(config, run_dir, emitter, commands, resume, data, dist_ctx)
    try:
        return trainer.run(telemetry if telemetry is not None else config.telemetry.enabled)
    finally:
        if writer is not None:
            writer.close()
        distributed.shutdown(dist_ctx)


class _Trainer(EpochLoop):
    def __init__(
        self,
        config: TrainConfig,
        run_dir: Path,
        emit: _Emitter,
        commands: Any,
        resume: bool,
        data: Any,
        dist_ctx: Any,
    ):
        self.cfg = config
        self.run_dir = run_dir
        self.emit = emit
        self.commands = commands
        self.resume = resume
        self.data = data
        self.dist = dist_ctx
        self.step = 0
        self.epoch = 0
        self.batch_in_epoch = 0
        self.best_val: float | None = None
        self.evals_since_best = 0
        self.last_loss: float | None = None
        self.last_ckpt: Path | None = None
        self.paused = False
        self.stop_requested: str | None = None
        self.save_requested = False
        self.traced = False  # a non-finite step's batch is re-run once per run
        self.model = None
        self.started = time.time()

    # -- the run -----------------------------------------------------------------------------------------

    def run(self, telemetry: bool) -> RunResult:
        sampler = None
        try:
            self._setup()
            from tui_trainer.engine import distributed

            pids = distributed.all_pids(self.dist)  # a collective: every rank takes part
            if telemetry and self.dist.is_main:
                from tui_trainer.engine.telemetry import TelemetrySampler

                sampler = TelemetrySampler(self.cfg.telemetry.interval_s, training_pids=pids)
                self.emit(sampler.sample())
                sampler.start(self._emit_system)
            status = self._train()
            return self._finish(status)
        except StopTraining as stop:
            if stop.status == "failed":
                return self._fail(stop.error or "failed", stop.code)
            return self._finish(stop.status)
        except UserError as exc:
            self._fail(str(exc), "user_error")
            raise
        except Exception as exc:
            # Memory (GPU or host) and disk failures are coded, not `crash`: one classifier, in engine.process.
            from tui_trainer.engine.process import classify_failure

            known = classify_failure(exc, self.step, self.run_dir)
            if known is not None:
                code, error, fix = known
                return self._fail(error, code, tb=traceback.format_exc(), fix=fix)
            from tui_trainer.engine.preflight import PreflightError

            if isinstance(exc, PreflightError):
                self.emit(
                    Diagnostic(
                        code=exc.code,
                        severity="error",
                        step=0,
                        message=exc.message,
                        evidence=exc.evidence,
                        fix=exc.fix,
                    )
                )
                return self._fail(f"preflight: {exc.message}", exc.code)
            return self._fail(f"{type(exc).__name__}: {exc}", "crash", tb=traceback.format_exc())
        finally:
            if sampler is not None:
                sampler.stop()
            if getattr(self, "feed", None) is not None:
                self.feed.close()

    def _emit_system(self, event: System) -> None:
        self.emit(event)

    def _fail(self, error: str, code: str | None, tb: str = "", fix: str = "") -> RunResult:
        if fix:
            self.emit(
                Diagnostic(code=code or "failed", severity="error", step=self.step, message=error, fix=fix)
            )
        self.emit(Failed(error=error, traceback=tb, step=self.step, code=code))
        self.emit.sync()
        return RunResult(
            status="failed",
            step=self.step,
            epoch=self.epoch,
            run_dir=self.run_dir,
            error=error,
            code=code,
            final_loss=self.last_loss,
            best_val_loss=self.best_val,
            last_checkpoint=self.last_ckpt,
            diagnostics=[d.code for d in self.emit.raised],
            model=self._plain_model(),
        )

    def _finish(self, status: str) -> RunResult:
        if self.model is not None and (
            self.last_ckpt is None or not self.last_ckpt.name.endswith(f"{self.step:08d}.pt")
        ):
            self._save_checkpoint("final" if status == "completed" else status)
        self.emit(
            Finished(
                step=self.step,
                status=status,
                epoch=self.epoch,
                duration_s=round(time.time() - self.started, 3),
                best_val_loss=self.best_val,
            )
        )
        self.emit.sync()
        from tui_trainer.engine import distributed

        distributed.barrier(self.dist)
        return RunResult(
            status=status,
            step=self.step,
            epoch=self.epoch,
            run_dir=self.run_dir,
            final_loss=self.last_loss,
            best_val_loss=self.best_val,
            last_checkpoint=self.last_ckpt,
            diagnostics=[d.code for d in self.emit.raised],
            model=self._plain_model(),
        )

    def _plain_model(self) -> Any:
        model = self.model
        return getattr(model, "module", model)

    # -- setup -------------------------------------------------------------------------------------------

    def _setup(self) -> None:
        import numpy as np
        import torch

        from tui_trainer.engine import distributed
        from tui_trainer.engine.datasets import describe_inputs, load_training_data, save_encoding
        from tui_trainer.engine.models import build_model
        from tui_trainer.engine.preflight import PreflightError, check_inputs, leaky_features, run_preflight

        cfg = self.cfg
        seed = cfg.train.seed
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)

        self.device, notes = pick_device(cfg.train.device, self.dist.local_rank)
        self.precision, more = pick_precision(cfg.train.precision, self.device)
        notes += more
        dtype = autocast_dtype(self.precision)
        # One context for every forward pass (training and evaluation); a no-op in fp32.
        self.ctx = (
            nullcontext() if dtype is None else torch.autocast(device_type=self.device.type, dtype=dtype)
        )
        if self.data is None:
            self.data = load_training_data(cfg)
        data = self.data
        notes += list(data.notes)
        if self.dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            save_encoding(data, self.run_dir)
            # The effective config (overrides included, paths absolute): what a later --resume continues with.
            save_config(cfg, self.run_dir / "config.toml", absolute_paths=True)

        self.loss_fn = build.make_loss(cfg, data, self.device)
        model = build_model(cfg, data.input_shape, data.num_classes)
        check_inputs(data.x_train, f"training data ({cfg.data.path})")
        if data.x_val is not None:
            check_inputs(data.x_val, "validation data")
        self.x_val = data.x_val.to(self.device) if data.x_val is not None else None
        self.y_val = data.y_val.to(self.device) if data.y_val is not None else None
        model = model.to(self.device)
        n = int(data.x_train.shape[0])
        self.batches_per_epoch = build.batches_per_epoch(n, self.dist.world_size, cfg.train.batch_size)
        self.feed = build.make_feed(cfg, data, self.device, self.dist, self.batches_per_epoch, notes)
        xb, yb = self.feed.head(min(cfg.train.batch_size, n))
        try:
            summary = run_preflight(model, xb, yb, self.loss_fn, data.task, data.num_classes)
        except PreflightError as exc:
            inputs = describe_inputs(data.encoding) if data.kind == "table" else None
            if inputs and exc.code == "shape_mismatch":
                # A width the user did not type (one-hot columns) is the usual surprise: say where it comes from.
                exc.message += f" The data give {inputs}; each category of a text column is one input."
                exc.evidence["inputs"] = inputs
            raise

        self.model = distributed.wrap_model(self.dist, model, self.device)
        self.optimizer = build.make_optimizer(cfg, model)
        self.total_steps = cfg.train.epochs * self.batches_per_epoch
        if cfg.train.max_steps:
            self.total_steps = min(self.total_steps, cfg.train.max_steps)
        self.scheduler = build.make_scheduler(cfg, self.optimizer, self.total_steps)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision == "fp16")

        resumed_from = None
        skipped: list[str] = []
        if self.resume:
            # Checked against the live model and optimizer: another architecture falls back like a torn file.
            expected = {"model": self._plain_model().state_dict(), "optimizer": self.optimizer.state_dict()}
            loaded = ckpt.load_latest_checkpoint(
                self.run_dir, map_location=str(self.device), expected=expected
            )
            if loaded is not None:
                skipped = loaded.skipped
            if loaded is not None and loaded.state:
                self._restore(loaded.state)
                resumed_from = self.step
                saved_world = int(loaded.state.get("world_size") or 1)
                if saved_world != self.dist.world_size:
                    notes.append(
                        Log(
                            message=f"the checkpoint was written by {saved_world} process(es), this run has "
                            f"{self.dist.world_size}; the data order from here differs from the original run's",
                            level="warning",
                        )
                    )
                notes.append(
                    Log(
                        message=f"resumed from {loaded.path.name} (step {self.step}, epoch {self.epoch}, "
                        f"batch {self.batch_in_epoch})"
                    )
                )
            else:
                notes.append(
                    Log(
                        message="--resume: no usable checkpoint in the run directory; starting from step 0",
                        level="warning",
                    )
                )

        # One-off setup work, done before the run's clock (run_started) starts: a benchmark times steps only.
        leaky = []
        if self.emit.diagnostics is not None:
            leaky = leaky_features(
                data.x_train, data.y_train, data.task, data.encoding, cfg.diagnostics.leak_feature_gain, seed
            )
        self.emit(
            RunStarted(
                run_id=self.run_dir.name,
                run_dir=str(self.run_dir.resolve()),
                config=config_to_dict(cfg, absolute_paths=True),
                device=str(self.device),
                world_size=self.dist.world_size,
                total_steps=self.total_steps,
                resumed_from_step=resumed_from,
                pid=os.getpid(),
                host=socket.gethostname(),
                model_summary={
                    **summary,
                    "task": data.task,
                    "num_classes": data.num_classes,
                    "classes": data.class_names,
                    "input_shape": list(data.input_shape),
                    "train_samples": n,
                    "val_samples": int(self.x_val.shape[0]) if self.x_val is not None else 0,
                    "majority_share": data.majority_share,
                    "precision": self.precision,
                },
            )
        )
        for reason in skipped:
            self.emit(
                Diagnostic(
                    code="corrupt_checkpoint",
                    severity="warning",
                    step=resumed_from,
                    message=f"checkpoint skipped: {reason}; using the previous one",
                    fix="Nothing to do: the run resumed from the newest readable checkpoint.",
                    evidence={"reason": reason},
                )
            )
        for note in notes:
            self.emit(note)
        if self.emit.diagnostics is not None:
            self._tell_diagnostics(data)
            if resumed_from is not None:
                replay_history(self.emit.diagnostics, self.run_dir, resumed_from)
            # After the replay, so a resumed run does not say again what its first segment said.
            for diag in self.emit.diagnostics.note_leaky_features(leaky, step=self.step):
                self.emit.raised.append(diag)
                self.emit(diag)

    def _tell_diagnostics(self, data: Any) -> None:
        """What the task's chance-level loss is, from the training split."""
        import torch

        diags = self.emit.diagnostics
        if data.task == "classification":
            counts = torch.bincount(
                data.y_train.reshape(-1).long().cpu(), minlength=data.num_classes
            ).tolist()
            diags.set_task("classification", data.num_classes, counts, class_names=data.class_names)
        else:
            diags.set_task("regression", 1, target_variance=float(data.y_train.float().var()))

    # -- checkpoints -------------------------------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        return {
            "model": self._plain_model().state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else None,
            "rng": ckpt.capture_rng(),
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "best_val_loss": self.best_val,
            "evals_since_best": self.evals_since_best,
            "world_size": self.dist.world_size,
        }

    def _restore(self, state: dict[str, Any]) -> None:
        self._plain_model().load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state.get("scheduler"):
            self.scheduler.load_state_dict(state["scheduler"])
        if self.scaler.is_enabled() and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        ckpt.restore_rng(state["rng"])
        self.step = int(state["step"])
        self.epoch = int(state["epoch"])
        self.batch_in_epoch = int(state["batch_in_epoch"])
        self.best_val = state.get("best_val_loss")
        self.evals_since_best = int(state.get("evals_since_best") or 0)

    def _save_checkpoint(self, reason: str) -> None:
        if not self.dist.is_main:
            return
        path = ckpt.save_checkpoint(
            self.run_dir, self.step, self._state(), keep=self.cfg.train.keep_checkpoints
        )
        self.last_ckpt = path
        self.emit(Checkpoint(step=self.step, path=str(path), epoch=self.epoch, reason=reason))
        self.emit.sync()

    # -- commands ----------------------------------------------------------------------------------------

    def _handle_commands(self) -> None:
        for cmd in _poll(self.commands):
            if isinstance(cmd, Stop):
                self.stop_requested = cmd.reason or "user"
            elif isinstance(cmd, Pause):
                self.paused = True
            elif isinstance(cmd, Resume):
                self.paused = False
            elif isinstance(cmd, SaveCheckpoint):
                self.save_requested = True

    def _wait_while_paused(self) -> None:
        if not self.paused:
            return
        self.emit(Paused(step=self.step))
        self.emit.sync()
        while self.paused and self.stop_requested is None:
            time.sleep(0.05)
            self._handle_commands()
            if self.save_requested:
                self.save_requested = False
                self._save_checkpoint("manual")
        if self.stop_requested is None:
            self.emit(Resumed(step=self.step))
