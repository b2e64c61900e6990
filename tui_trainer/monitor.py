"""Monitor your own training loop: write the engine's events (and get its diagnostics) from any script.

    from tui_trainer import monitor

    with monitor.start("runs/my-run", config={"optim": {"lr": 1e-3}}) as run:
        for step, (x, y) in enumerate(loader, 1):
            loss = train_step(x, y)
            run.log(step=step, loss=loss, lr=sched.get_last_lr()[0])   # a tensor is fine: read at flush
            if step % 500 == 0:
                run.eval(step=step, val_loss=validate(), accuracy=acc)

Then `tui-trainer attach runs/my-run` shows it live. Calls are buffered and written in one write at most
every `flush_interval_s` (and at every eval/checkpoint/finish), and values are converted to floats only
then, so a loss tensor on a GPU does not force a device sync each step. The context manager ends the run
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

log = logging.getLogger("tui_trainer.monitor")

__all__ = ["MonitorRun", "start"]


def _num(value: Any) -> float | None:
    """float() of a number or a one-element tensor/array; None stays None."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    return float(value)


_NUMERIC_KEYS = ("loss", "lr", "grad_norm", "samples_per_s", "val_loss")


def _read_tensors(pending: list[tuple[str, dict[str, Any]]]) -> None:
    """Replace one-element tensors in `pending` by floats, one device read per device.

    `.item()` per value would be one device-to-host copy (and stream wait) each; stacking them first
    makes a flush of a thousand logged steps cost one copy.
    """
    slots: dict[Any, list[tuple[dict[str, Any], str]]] = {}
    for _, kw in pending:
        for table in (kw, kw.get("metrics") or {}):
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
    ) -> None:
        self.run_dir = Path(run_dir)
        self._log = EventLog(self.run_dir)
        self._pending: list[tuple[str, dict[str, Any]]] = []
        self._flush_interval = flush_interval_s
        self._last_flush = time.monotonic()
        self._diag = Diagnostics(thresholds) if diagnostics else None
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
        **metrics: Any,
    ) -> None:
        """Record one training step (values may be tensors; they are read at flush time)."""
        self._check_open()
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
                    metrics=metrics,
                ),
            )
        )
        self.last_step = step
        if time.monotonic() - self._last_flush >= self._flush_interval:
            self.flush()

    def eval(self, step: int, val_loss: Any, epoch: int | None = None, **metrics: Any) -> None:
        """Record a validation result (`accuracy=` enables the majority-class check); flushes."""
        self._check_open()
        self._pending.append(("eval", dict(step=step, val_loss=val_loss, epoch=epoch, metrics=metrics)))
        self.flush()

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
                event: Event = Step(
                    step=int(kw["step"]),
                    epoch=int(kw["epoch"]),
                    loss=_num(kw["loss"]),  # type: ignore[arg-type]
                    lr=_num(kw["lr"]),
                    grad_norm=_num(kw["grad_norm"]),
                    samples_per_s=_num(kw["samples_per_s"]),
                    metrics={k: _num(v) for k, v in kw["metrics"].items()},  # type: ignore[misc]
                )
            elif kind == "eval":
                event = Eval(
                    step=int(kw["step"]),
                    val_loss=_num(kw["val_loss"]),  # type: ignore[arg-type]
                    epoch=kw["epoch"],
                    metrics={k: _num(v) for k, v in kw["metrics"].items()},  # type: ignore[misc]
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


def start(run_dir: str | Path, config: dict[str, Any] | None = None, **options: Any) -> MonitorRun:
    """Begin a monitored run writing `RUN_DIR/events.jsonl`; options: see MonitorRun."""
    return MonitorRun(Path(run_dir), config, **options)
