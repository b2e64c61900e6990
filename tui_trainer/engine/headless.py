"""Headless training for CI, tmux and nohup: the engine in this process, progress on stdout, signals as controls.

Signals: SIGINT/SIGTERM stop gracefully (a second Ctrl-C interrupts at once), SIGUSR1 saves a checkpoint
now, SIGUSR2 pauses / resumes (`kill -USR1 PID` from another shell; the pid is in `run_started`).

Three output modes:
- `--json`: every event as one JSON line (the same line as in events.jsonl);
- a terminal: one status line redrawn in place at most 10 times a second, other news on lines of their own;
- not a terminal (a log file, CI): plain lines, progress at most every `PLAIN_INTERVAL_S`, so a long run
  writes a readable log instead of a flood of carriage returns.
"""

from __future__ import annotations

import collections
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from tui_trainer.engine.control import Pause, Resume, SaveCheckpoint, Stop
from tui_trainer.engine.events import (
    Checkpoint,
    Diagnostic,
    Event,
    Failed,
    Finished,
    Log,
    Paused,
    Resumed,
    RunStarted,
    Step,
    to_json,
)
from tui_trainer.engine.history import RunHistory, epoch_text
from tui_trainer.formatting import format_duration, format_number

PLAIN_INTERVAL_S = 5.0
TTY_INTERVAL_S = 0.1


class ProgressPrinter:
    """Turns events into output lines; `json_lines`, `tty` pick the mode.

    Every event lands in a `RunHistory` first, the store the Train pane and `attach` read: step, epoch, the
    latest losses, steps/s and ETA are its figures, so the three never disagree.
    """

    def __init__(
        self, out: IO[str], json_lines: bool = False, tty: bool | None = None, interval_s: float | None = None
    ):
        self.out = out
        self.json_lines = json_lines
        self.tty = out.isatty() if tty is None else tty
        self.interval = (
            interval_s if interval_s is not None else (TTY_INTERVAL_S if self.tty else PLAIN_INTERVAL_S)
        )
        self.history = RunHistory(capacity=8)  # only the latest values are printed
        self._last_progress = 0.0
        self._lock = threading.Lock()
        self._pending = False
        self._status_shown = False

    def _line(self, text: str) -> None:
        if self.tty and self._status_shown:
            self.out.write("\r\x1b[2K")
            self._status_shown = False
        self.out.write(text + "\n")
        self.out.flush()

    def status_text(self) -> str:
        h = self.history
        total = f"/{h.total_steps}" if h.total_steps else ""
        parts = [f"step {h.step if h.step is not None else 0}{total}"]
        if h.epoch is not None:
            parts.append(epoch_text(h.epoch, h.epochs))
        parts.append(f"loss {format_number(h.latest('train_loss'), missing='-')}")
        if (val := h.latest("val_loss")) is not None:
            parts.append(f"val_loss {format_number(val)}")
        if (acc := h.latest("val/accuracy")) is not None:
            parts.append(f"val_acc {acc:.3f}")
        if (lr := h.latest("lr")) is not None:
            parts.append(f"lr {format_number(lr)}")
        if rate := h.steps_per_s():
            parts.append(f"{rate:.1f} steps/s")
        if samples := h.samples_per_s():
            parts.append(f"{samples:.0f} samples/s")
        if (eta := h.eta_s()) is not None:
            parts.append(f"ETA {format_duration(eta)}")
        return "  ".join(parts)

    def _progress(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_progress < self.interval:
            self._pending = True
            return
        self._last_progress = now
        self._pending = False
        if self.tty:
            self.out.write("\r\x1b[2K" + self.status_text())
            self.out.flush()
            self._status_shown = True
        else:
            self._line(self.status_text())

    def __call__(self, event: Event) -> None:
        # The telemetry thread emits `system` events beside the training loop: one writer at a time.
        with self._lock:
            self._handle(event)

    def _handle(self, event: Event) -> None:
        if self.json_lines:
            self.out.write(to_json(event) + "\n")
            self.out.flush()
            return
        self.history.add(event)
        if isinstance(event, RunStarted):
            summary = event.model_summary or {}
            resumed = (
                f", resumed from step {event.resumed_from_step}"
                if event.resumed_from_step is not None
                else ""
            )
            # A watched script or a user loop knows only some of these: say what is known, never "None steps".
            known = [
                f"{summary['params']:,} parameters" if isinstance(summary.get("params"), int) else "",
                (
                    f"{summary['train_samples']} training / {summary.get('val_samples', '?')} validation samples"
                    if summary.get("train_samples") is not None
                    else ""
                ),
                f"{event.total_steps} steps" if event.total_steps else "",
            ]
            details = ", ".join(part for part in known if part)
            self._line(
                f"run {event.run_id} on {event.device}{resumed}{': ' + details if details else ''} -> {event.run_dir}"
            )
        elif isinstance(event, Step):
            self._progress(force=self._last_progress == 0.0)
        elif event.TYPE in ("eval", "epoch_end"):
            self._progress()
        elif isinstance(event, Checkpoint):
            if event.reason != "periodic":
                self._line(f"checkpoint ({event.reason}) at step {event.step}: {event.path}")
        elif isinstance(event, Diagnostic):
            self._line(f"[{event.severity}] {event.code} at step {event.step}: {event.message}")
            if event.fix:
                self._line(f"    fix: {event.fix}")
        elif isinstance(event, Paused | Resumed):
            self._line(f"{event.TYPE} at step {event.step}")
        elif isinstance(event, Log):
            self._line(f"{event.level}: {event.message}" if event.level != "info" else event.message)
        elif isinstance(event, Failed):
            self._line(f"FAILED at step {event.step}: {event.error}")
        elif isinstance(event, Finished):
            if self._pending or not self._status_shown:
                self._progress(force=True)
            best = (
                f", best val_loss {format_number(event.best_val_loss)}"
                if event.best_val_loss is not None
                else ""
            )
            took = "-" if event.duration_s is None else f"{event.duration_s:.1f}"
            self._line(f"finished ({event.status}) at step {event.step} in {took} s{best}")


def run_headless(
    config: Any, run_dir: Path, resume: bool, json_lines: bool, out: IO[str] | None = None
) -> int:
    """Train in this process; returns the exit status (0 finished, 1 failed or stopped on NaN)."""
    from tui_trainer.engine.loop import run_training

    out = out or sys.stdout
    rank = int(os.environ.get("RANK", "0") or 0)
    printer = ProgressPrinter(out, json_lines=json_lines) if rank == 0 else None
    commands: collections.deque[Any] = collections.deque()
    signals_seen: list[int] = []

    paused = [False]

    def on_signal(signum: int, frame: Any) -> None:
        # deque.append is atomic, so this is safe from a signal handler; the loop acts after the step.
        if signum == getattr(signal, "SIGUSR1", None):
            commands.append(SaveCheckpoint())
            return
        if signum == getattr(signal, "SIGUSR2", None):
            paused[0] = not paused[0]
            commands.append(Pause() if paused[0] else Resume())
            return
        signals_seen.append(signum)
        if len(signals_seen) > 1 and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C means now
        commands.append(Stop(reason=signal.Signals(signum).name))

    previous = {}
    wanted = [signal.SIGINT, signal.SIGTERM]
    wanted += [getattr(signal, name) for name in ("SIGUSR1", "SIGUSR2") if hasattr(signal, name)]
    for sig in wanted:
        try:
            previous[sig] = signal.signal(sig, on_signal)
        except ValueError:  # not the main thread: no handlers, Ctrl-C works as usual
            pass
    try:
        result = run_training(config, run_dir, emit=printer, commands=commands, resume=resume)
    except OSError as exc:
        # The run could not even open its folder (the run ends on later disk errors with a `failed` event).
        from tui_trainer.errors import UserError

        raise UserError(f"{exc.filename or run_dir}: {exc.strerror or exc}") from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if printer is not None and printer.tty and printer._status_shown:
        out.write("\n")
    return result.exit_code
