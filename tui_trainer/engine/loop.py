"""The training loop, callable in-process: `run_training(config, run_dir, emit, commands, resume) -> RunResult`.

`process.py` runs it in a spawned child for the app; `tui-trainer train --headless` and the collapse lab
call it directly. Every event goes to `RUN_DIR/events.jsonl` (rank 0 only) and to `emit`.

Keeping within a few percent of a bare PyTorch loop decides most of the shape here:
- per-step losses stay on the device in a list; they are read back with one sync when a `step` event is
  due (every step for the first 20 steps, then at most ~10 a second, or every `train.log_every` steps), so
  the GPU is not stalled by `.item()` each step and a NaN is still pinned to its exact step and batch;
- the global grad norm is computed only on the steps that report it (or every step when clipping);
- data are in-memory tensors indexed per batch, in an order a DistributedSampler fixes from (seed, epoch),
  which also makes "position in the data" just (epoch, batch) for checkpoints and exact resume.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import random
import socket
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui_trainer.engine import checkpoint as ckpt
from tui_trainer.engine.config import TrainConfig, config_to_dict, save_config
from tui_trainer.engine.control import Pause, Resume, SaveCheckpoint, Stop
from tui_trainer.engine.diagnostics import Diagnostics, Thresholds
from tui_trainer.engine.eventlog import EventLog
from tui_trainer.engine.events import (
    Checkpoint,
    Diagnostic,
    EpochEnd,
    Eval,
    Event,
    Failed,
    Finished,
    Log,
    RunStarted,
    Step,
    System,
)
from tui_trainer.errors import UserError

log = logging.getLogger("tui_trainer.engine.loop")

ADAPTIVE_EVERY_STEP = 20  # the first steps of a run are all reported: that is when things go wrong
ADAPTIVE_INTERVAL_S = 0.1  # then at most ~10 step events a second (the UI redraws at most ~10 a second)
DIST_LOG_EVERY = 10  # under torchrun, step events (and rank agreement) at fixed steps
CONTROL_INTERVAL_S = 0.1  # how often commands (pause/stop/checkpoint) are read between step events
# Device losses held between step events; a huge `train.log_every` must not grow the list without bound.
MAX_WINDOW = 4096


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


class StopTraining(Exception):
    """Raised inside the loop to unwind to the end-of-run handling with a status."""

    def __init__(self, status: str, code: str | None = None, error: str | None = None) -> None:
        super().__init__(error or status)
        self.status, self.code, self.error = status, code, error


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


def pick_device(asked: str, local_rank: int = 0) -> tuple[Any, list[str]]:
    import torch

    notes: list[str] = []
    cuda = torch.cuda.is_available()
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    if asked == "auto":
        if cuda:
            return torch.device("cuda", local_rank % max(1, torch.cuda.device_count())), notes
        if mps:
            return torch.device("mps"), notes
        return torch.device("cpu"), notes
    if asked == "cuda":
        if cuda:
            return torch.device("cuda", local_rank % max(1, torch.cuda.device_count())), notes
        build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU-only"
        notes.append(
            f"train.device = 'cuda' but no CUDA device is available (torch {torch.__version__}, {build} build); training on the CPU"
        )
        return torch.device("cpu"), notes
    if asked == "mps":
        if mps:
            return torch.device("mps"), notes
        notes.append("train.device = 'mps' but Apple MPS is not available here; training on the CPU")
        return torch.device("cpu"), notes
    return torch.device("cpu"), notes


def pick_precision(asked: str, device: Any) -> tuple[str, list[str]]:
    import torch

    notes: list[str] = []
    if asked == "fp16" and device.type != "cuda":
        notes.append(
            f"train.precision = 'fp16' needs a CUDA device (GradScaler); on {device.type} training in fp32 instead"
        )
        return "fp32", notes
    if asked == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        notes.append("train.precision = 'bf16' is not supported by this GPU; training in fp32 instead")
        return "fp32", notes
    if asked == "bf16" and device.type == "mps":
        notes.append(
            "train.precision = 'bf16' autocast is not supported on MPS here; training in fp32 instead"
        )
        return "fp32", notes
    return asked, notes


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
    diags = (
        Diagnostics(Thresholds.from_config(config.diagnostics))
        if config.diagnostics.enabled and dist_ctx.is_main
        else None
    )
    emitter = _Emitter(writer, emit if dist_ctx.is_main else None, diags)
    trainer = _Trainer(config, run_dir, emitter, commands, resume, data, dist_ctx)
    try:
        return trainer.run(telemetry if telemetry is not None else config.telemetry.enabled)
    finally:
        if writer is not None:
            writer.close()
        distributed.shutdown(dist_ctx)


class _Trainer:
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
            import torch

            if isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc).lower():
                return self._fail(
                    f"out of memory at step {self.step}: {str(exc).splitlines()[0]}",
                    "out_of_memory",
                    tb=traceback.format_exc(),
                    fix="Lower train.batch_size, use train.precision = 'bf16'/'fp16', or a smaller model.",
                )
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
        from tui_trainer.engine.datasets import load_training_data, save_encoding
        from tui_trainer.engine.models import build_model
        from tui_trainer.engine.preflight import check_inputs, run_preflight

        cfg = self.cfg
        seed = cfg.train.seed
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)

        self.device, notes = pick_device(cfg.train.device, self.dist.local_rank)
        self.precision, more = pick_precision(cfg.train.precision, self.device)
        notes += more
        if self.data is None:
            self.data = load_training_data(cfg)
        data = self.data
        notes += list(data.notes)
        if self.dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            save_encoding(data, self.run_dir)
            # The effective config (overrides included, paths absolute): what a later --resume continues with.
            save_config(cfg, self.run_dir / "config.toml", absolute_paths=True)

        self.loss_fn = torch.nn.CrossEntropyLoss() if data.task == "classification" else torch.nn.MSELoss()
        model = build_model(cfg, data.input_shape, data.num_classes)
        check_inputs(data.x_train, f"training data ({cfg.data.path})")
        if data.x_val is not None:
            check_inputs(data.x_val, "validation data")
        # Keep the data on the device: one copy, then each batch is an index, not a host-to-device copy.
        self.x_train = data.x_train.to(self.device)
        self.y_train = data.y_train.to(self.device)
        self.x_val = data.x_val.to(self.device) if data.x_val is not None else None
        self.y_val = data.y_val.to(self.device) if data.y_val is not None else None
        model = model.to(self.device)
        n = int(self.x_train.shape[0])
        bs = min(cfg.train.batch_size, n)
        first = torch.arange(bs, device=self.device)
        summary = run_preflight(
            model, self.x_train[first], self.y_train[first], self.loss_fn, data.task, data.num_classes
        )

        self.model = distributed.wrap_model(self.dist, model, self.device)
        self.optimizer = self._make_optimizer(model)
        self.batches_per_epoch = self._batches_per_epoch(n)
        self.total_steps = cfg.train.epochs * self.batches_per_epoch
        if cfg.train.max_steps:
            self.total_steps = min(self.total_steps, cfg.train.max_steps)
        self.scheduler = self._make_scheduler()
        self.scaler = torch.amp.GradScaler("cuda") if self.precision == "fp16" else None
        self.augment = None
        self.aug_gen = None
        if cfg.augment.pipeline and data.kind == "images":
            self.augment = self._load_augment()
            self.aug_gen = torch.Generator(device="cpu")
            self.aug_gen.manual_seed(seed + 1)
        elif cfg.augment.pipeline:
            notes.append(
                "augment.pipeline is set but the data are a table; augmentation applies to images only"
            )

        resumed_from = None
        skipped: list[str] = []
        if self.resume:
            loaded = ckpt.load_latest_checkpoint(self.run_dir, map_location=str(self.device))
            if loaded is not None:
                skipped = loaded.skipped
            if loaded is not None and loaded.state:
                self._restore(loaded.state)
                resumed_from = self.step
                saved_world = int(loaded.state.get("world_size") or 1)
                if saved_world != self.dist.world_size:
                    notes.append(
                        f"warning: the checkpoint was written by {saved_world} process(es), this run has "
                        f"{self.dist.world_size}; the data order from here differs from the original run's"
                    )
                notes.append(
                    f"resumed from {loaded.path.name} (step {self.step}, epoch {self.epoch}, batch {self.batch_in_epoch})"
                )
            else:
                notes.append("--resume: no usable checkpoint in the run directory; starting from step 0")

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
            level = (
                "warning"
                if ("instead" in note or "no usable" in note or note.startswith("warning: "))
                else "info"
            )
            self.emit(Log(message=note.removeprefix("warning: "), level=level))
        if self.emit.diagnostics is not None:
            self.emit.diagnostics.majority_share = (
                data.majority_share if data.task == "classification" else None
            )
            if resumed_from is not None:
                replay_history(self.emit.diagnostics, self.run_dir, resumed_from)

    def _make_optimizer(self, model: Any) -> Any:
        import torch

        o = self.cfg.optim
        params = [p for p in model.parameters() if p.requires_grad]
        if o.name == "sgd":
            return torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay)
        if o.name == "adamw":
            return torch.optim.AdamW(params, lr=o.lr, weight_decay=o.weight_decay)
        return torch.optim.Adam(params, lr=o.lr, weight_decay=o.weight_decay)

    def _make_scheduler(self) -> Any:
        import torch

        o = self.cfg.optim
        if o.schedule == "step":
            return torch.optim.lr_scheduler.StepLR(self.optimizer, step_size=o.step_size, gamma=o.gamma)
        if o.schedule == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=max(1, self.total_steps))
        if o.schedule == "plateau":
            return torch.optim.lr_scheduler.ReduceLROnPlateau(
                self.optimizer, factor=o.gamma, patience=o.plateau_patience
            )
        return None

    def _load_augment(self) -> Any:
        path = self.cfg.resolve(self.cfg.augment.pipeline)
        if not path.is_file():
            raise UserError(f"augment.pipeline: {path} does not exist")
        try:
            from tui_trainer.augment.pipeline import load_pipeline
        except ImportError as exc:
            raise UserError(
                f"augment.pipeline is set but the augment module is not available in this version ({exc})"
            ) from None
        return load_pipeline(path)

    def _batches_per_epoch(self, n: int) -> int:
        per_rank = math.ceil(n / self.dist.world_size)
        bs = self.cfg.train.batch_size
        full, rest = divmod(per_rank, bs)
        # A last batch of one sample breaks BatchNorm in training mode and adds noise; drop it.
        return max(1, full + (1 if rest >= 2 else 0))

    def _epoch_order(self, epoch: int) -> Any:
        """This rank's sample order for `epoch`: DistributedSampler's (seed + epoch) permutation."""
        import torch
        from torch.utils.data import DistributedSampler

        n = int(self.x_train.shape[0])
        if not self.dist.enabled:
            # The same permutation DistributedSampler(num_replicas=1) yields, without its round trip through a
            # Python list (milliseconds per epoch for large data, a visible share of a fast epoch).
            gen = torch.Generator()
            gen.manual_seed(self.cfg.train.seed + epoch)
            return torch.randperm(n, generator=gen).to(self.device)
        sampler = DistributedSampler(
            range(n),
            num_replicas=self.dist.world_size,
            rank=self.dist.rank,
            shuffle=True,
            seed=self.cfg.train.seed,
        )
        sampler.set_epoch(epoch)
        return torch.tensor(list(iter(sampler)), dtype=torch.long, device=self.device)

    # -- checkpoints -------------------------------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        return {
            "model": self._plain_model().state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "rng": ckpt.capture_rng(self.aug_gen),
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
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        ckpt.restore_rng(state["rng"], self.aug_gen)
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
        self.emit(Log(message=f"paused at step {self.step}"))
        self.emit.sync()
        while self.paused and self.stop_requested is None:
            time.sleep(0.05)
            self._handle_commands()
            if self.save_requested:
                self.save_requested = False
                self._save_checkpoint("manual")
        if self.stop_requested is None:
            self.emit(Log(message=f"resumed at step {self.step}"))

    # -- training ----------------------------------------------------------------------------------------

    def _train(self) -> str:
        import torch

        cfg = self.cfg.train
        model = self.model
        opt = self.optimizer
        scaler = self.scaler
        loss_fn = self.loss_fn
        device_type = self.device.type
        autocast_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision)
        clip = cfg.grad_clip
        params = [p for p in model.parameters() if p.requires_grad]
        per_step_sched = self.cfg.optim.schedule == "cosine"
        log_every = cfg.log_every or (DIST_LOG_EVERY if self.dist.enabled else 0)
        bs = cfg.batch_size
        perf = time.perf_counter
        max_steps = cfg.max_steps or None
        from tui_trainer.engine import distributed

        # Window of not-yet-reported steps: their losses (still on the device) and timings. A step's epoch and
        # batch follow from its number (every epoch has batches_per_epoch steps), so they are not stored.
        w_losses: list[Any] = []
        bpe = self.batches_per_epoch
        w_samples = 0
        w_wait = 0.0
        w_compute = 0.0
        w_start = perf()
        last_emit = last_control = perf()
        grad_norm = None
        epoch_loss_sum = 0.0
        epoch_loss_n = 0
        carried = 0  # leading window steps already counted in the previous epoch's mean
        start_step = self.step
        model.train()

        while self.epoch < cfg.epochs:
            epoch_start = time.time()
            order = self._epoch_order(self.epoch)
            n_batches = self.batches_per_epoch
            while self.batch_in_epoch < n_batches:
                if max_steps is not None and self.step >= max_steps:
                    break
                t0 = perf()
                b = self.batch_in_epoch
                idx = order[b * bs : (b + 1) * bs]
                xb = self.x_train[idx]
                yb = self.y_train[idx]
                if self.augment is not None:
                    xb = self.augment.apply_batch_torch(xb, self.aug_gen)
                t1 = perf()
                next_step = self.step + 1
                if log_every:
                    due = next_step % log_every == 0 or (
                        len(w_losses) >= MAX_WINDOW and not self.dist.enabled
                    )
                else:
                    due = (next_step - start_step) <= ADAPTIVE_EVERY_STEP or (
                        t0 - last_emit
                    ) >= ADAPTIVE_INTERVAL_S
                # The step before an evaluation always reports, so every eval has the training loss beside it
                # (overfitting compares the two) and curves reach each epoch's end. Same step on every rank.
                due = due or b + 1 == n_batches or bool(cfg.eval_every and next_step % cfg.eval_every == 0)
                if not due and not self.dist.enabled and t0 - last_control >= CONTROL_INTERVAL_S:
                    # With a sparse train.log_every, commands are still read ~10 times a second; one that
                    # arrived makes this step report, where pause/stop/checkpoint are acted on.
                    last_control = t0
                    self._handle_commands()
                    due = self.stop_requested is not None or self.paused or self.save_requested
                if autocast_dtype is not None:
                    with torch.autocast(device_type=device_type, dtype=autocast_dtype):
                        out = model(xb)
                        loss = loss_fn(out, yb)
                else:
                    out = model(xb)
                    loss = loss_fn(out, yb)
                opt.zero_grad(set_to_none=True)
                if scaler is not None:
                    scaler.scale(loss).backward()
                    if clip or due:
                        scaler.unscale_(opt)
                else:
                    loss.backward()
                if clip:
                    grad_norm = torch.nn.utils.clip_grad_norm_(params, clip)
                elif due:
                    grad_norm = torch.nn.utils.clip_grad_norm_(params, float("inf"))
                if scaler is not None:
                    scaler.step(opt)
                    scaler.update()
                else:
                    opt.step()
                if per_step_sched and self.scheduler is not None:
                    self.scheduler.step()
                self.step = next_step
                self.batch_in_epoch = b + 1
                w_losses.append(loss.detach())
                w_samples += idx.shape[0]
                t2 = perf()
                w_wait += t1 - t0
                w_compute += t2 - t1

                if due:
                    now = perf()
                    values = torch.stack(w_losses).float().tolist()
                    gn = float(grad_norm) if grad_norm is not None else None
                    bad = next((i for i, v in enumerate(values) if not math.isfinite(v)), None)
                    if bad is None and gn is not None and not math.isfinite(gn) and scaler is None:
                        bad = len(values) - 1
                    self._handle_commands()
                    flags = distributed.agree(
                        self.dist, [int(bad is not None), int(self.stop_requested is not None)], self.device
                    )
                    if bad is not None:
                        s = self.step - len(values) + 1 + bad
                        e, bi = divmod(s - 1, bpe)
                        self.emit(Step(step=s, epoch=e, loss=values[bad], lr=self._lr(), grad_norm=gn))
                        if cfg.stop_on_nan:
                            self.step, self.epoch = s, e
                            what = (
                                f"loss became {values[bad]}"
                                if not math.isfinite(values[bad])
                                else f"gradient norm became {gn} (loss {values[bad]:.4g})"
                            )
                            raise StopTraining(
                                "failed", "nan_loss", f"{what} at step {s} (epoch {e}, batch {bi}); stopped"
                            )
                    elif flags[0] and cfg.stop_on_nan:
                        raise StopTraining(
                            "failed", "nan_loss", f"another rank saw a non-finite loss by step {self.step}"
                        )
                    finite = [v for v in values if math.isfinite(v)]
                    mean_loss = sum(finite) / len(finite) if finite else float("nan")
                    this_epoch = [v for v in values[carried:] if math.isfinite(v)]
                    epoch_loss_sum += sum(this_epoch)
                    epoch_loss_n += len(this_epoch)
                    carried = 0
                    elapsed = max(now - w_start, 1e-9)
                    if bad is None:
                        self.last_loss = values[-1]
                        self.emit(
                            Step(
                                step=self.step,
                                epoch=self.epoch,
                                loss=mean_loss,
                                lr=self._lr(),
                                grad_norm=gn,
                                samples_per_s=round(w_samples * self.dist.world_size / elapsed, 3),
                                data_wait_s=round(w_wait, 6),
                                compute_s=round(w_compute, 6),
                            )
                        )
                    w_losses, w_samples, w_wait, w_compute = [], 0, 0.0, 0.0
                    w_start = last_emit = perf()
                    grad_norm = None
                    if flags[1] and self.stop_requested is None:
                        self.stop_requested = "another rank"
                    if self.save_requested:
                        self.save_requested = False
                        self._save_checkpoint("manual")
                    if self.paused:
                        self._wait_while_paused()
                        w_start = last_emit = perf()
                    if self.stop_requested is not None:
                        self._save_checkpoint("stopped")
                        raise StopTraining("stopped")
                if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0:
                    self._save_checkpoint("periodic")
                if cfg.eval_every and self.step % cfg.eval_every == 0:
                    if self._evaluate():
                        raise StopTraining("early_stopped")
                    model.train()
            if max_steps is not None and self.step >= max_steps and self.batch_in_epoch < n_batches:
                break
            # End of epoch: the mean training loss includes the steps not yet reported.
            if len(w_losses) > carried:
                pending = [v for v in torch.stack(w_losses[carried:]).float().tolist() if math.isfinite(v)]
                epoch_loss_sum += sum(pending)
                epoch_loss_n += len(pending)
            # Counted now; the step event that reports them later must not count them again.
            carried = len(w_losses)
            train_loss = epoch_loss_sum / epoch_loss_n if epoch_loss_n else None
            epoch_loss_sum, epoch_loss_n = 0.0, 0
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

    def _lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def _evaluate(self, train_loss: float | None = None) -> bool:
        """One pass over the validation split; returns True when early stopping says stop."""
        import torch

        cfg = self.cfg.train
        if self.x_val is None or self.x_val.shape[0] == 0:
            if self.scheduler is not None and self.cfg.optim.schedule == "plateau" and train_loss is not None:
                self.scheduler.step(train_loss)
            return False
        model = self._plain_model()
        model.eval()
        total = 0.0
        correct = 0
        abs_err = 0.0
        n = int(self.x_val.shape[0])
        bs = max(cfg.batch_size, 256)
        autocast_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision)
        with torch.no_grad():
            for start in range(0, n, bs):
                xb = self.x_val[start : start + bs]
                yb = self.y_val[start : start + bs]
                if autocast_dtype is not None:
                    with torch.autocast(device_type=self.device.type, dtype=autocast_dtype):
                        out = model(xb)
                else:
                    out = model(xb)
                out = out.float()
                total += float(self.loss_fn(out, yb)) * int(xb.shape[0])
                if self.data.task == "classification":
                    correct += int((out.argmax(dim=1) == yb).sum())
                else:
                    abs_err += float((out - yb).abs().sum())
        val_loss = total / n
        metrics = {"accuracy": correct / n} if self.data.task == "classification" else {"mae": abs_err / n}
        self.emit(Eval(step=self.step, val_loss=val_loss, epoch=self.epoch, metrics=metrics))
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
