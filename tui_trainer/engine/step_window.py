"""The reporting window beside the training loop: which steps report, and the `step` event for the ones since the last.

Per-step losses stay on the device (`add` keeps the tensor); `flush` reads them back with one sync, so the GPU
is not stalled by `.item()` each step and a NaN is still pinned to its exact step (`first_nonfinite`). The loop
asks `due(step, now)` before a step's forward pass, so a reported step can also take its per-layer readings.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from tui_trainer.engine.events import Step

ADAPTIVE_EVERY_STEP = 20  # the first steps of a run are all reported: that is when things go wrong
ADAPTIVE_INTERVAL_S = (
    0.1  # then at most ~10 step events a second (the UI redraws at most four times a second)
)
DIST_LOG_EVERY = 10  # under torchrun, step events (and rank agreement) at fixed steps
CONTROL_INTERVAL_S = 0.1  # how often commands (pause/stop/checkpoint) are read between step events
# Device losses held between step events; a huge `train.log_every` must not grow the list without bound.
MAX_WINDOW = 4096


def adaptive_due(n: int, now: float, last: float) -> bool:
    """The adaptive cadence: the `n`-th step (1-based) reports if it is one of the first ADAPTIVE_EVERY_STEP,
    or ADAPTIVE_INTERVAL_S has passed since `last`. Also the per-layer readings' own cadence (layer_stats)."""
    return n <= ADAPTIVE_EVERY_STEP or now - last >= ADAPTIVE_INTERVAL_S


class StepWindow:
    """The steps trained since the last `step` event: their device losses, samples and timings.

    `log_every` > 0 reports at fixed steps (the same steps on every rank when `fixed`); 0 is adaptive: every
    step for the first ADAPTIVE_EVERY_STEP steps of this process, then about every ADAPTIVE_INTERVAL_S.
    The window also sums each epoch's losses, so `end_epoch()` gives the epoch's mean training loss.
    """

    def __init__(
        self,
        log_every: int,
        start_step: int,
        fixed: bool = False,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.clock = clock  # the loop's `now` comes from it too (a benchmark gives each loop its own)
        self.log_every = log_every or (DIST_LOG_EVERY if fixed else 0)
        self.fixed = fixed
        self.start_step = start_step
        self._losses: list[Any] = []
        self._values: list[float] | None = None
        self._samples = 0
        self._wait = 0.0
        self._compute = 0.0
        self._opened = clock()
        self._last_flush = self._opened
        self._last_control = self._opened
        self._epoch_sum = 0.0
        self._epoch_n = 0
        self._counted = 0  # leading window steps already counted in the previous epoch's mean

    def __len__(self) -> int:
        return len(self._losses)

    # -- which steps report ------------------------------------------------------------------------------

    def due(self, step: int, now: float) -> bool:
        """Whether `step` (about to be trained) reports by the cadence alone."""
        if self.log_every:
            return step % self.log_every == 0 or (len(self._losses) >= MAX_WINDOW and not self.fixed)
        return adaptive_due(step - self.start_step, now, self._last_flush)

    def report_due(self, step: int, now: float, last_batch: bool, eval_every: int) -> bool:
        """Whether `step`, about to be trained, reports: by the cadence, or because an evaluation follows it.

        The step before an evaluation always reports (the last batch of an epoch, or the step before a
        `train.eval_every` eval), so every eval has the training loss beside it (overfitting compares the
        two) and curves reach each epoch's end.
        """
        return self.due(step, now) or last_batch or bool(eval_every and step % eval_every == 0)

    def control_due(self, now: float) -> bool:
        """Whether commands should be read now although the step does not report (sparse `log_every`)."""
        if self.fixed or now - self._last_control < CONTROL_INTERVAL_S:
            return False
        self._last_control = now
        return True

    # -- recording ---------------------------------------------------------------------------------------

    def add(self, loss: Any, samples: int, wait_s: float, compute_s: float = 0.0) -> None:
        """One trained step: its loss (a device tensor is fine), batch size, time waiting for data and computing."""
        self._losses.append(loss)
        self._values = None
        self._samples += samples
        self._wait += wait_s
        self._compute += compute_s

    def add_compute(self, seconds: float) -> None:
        """Compute time of the step just added, when it is known only after `add`."""
        self._compute += seconds

    def losses(self) -> list[float]:
        """The window's losses as floats: one device read, cached until the next `add`."""
        if self._values is None:
            if not self._losses:
                self._values = []
            elif hasattr(self._losses[0], "detach"):
                import torch

                self._values = torch.stack(self._losses).float().tolist()
            else:
                self._values = [float(v) for v in self._losses]
        return self._values

    def first_nonfinite(self) -> int | None:
        """Offset in the window of the first step whose loss is NaN/inf (step = last step - len + 1 + offset)."""
        return next((i for i, v in enumerate(self.losses()) if not math.isfinite(v)), None)

    def flush(self, step: int, epoch: int, world_size: int = 1, **fields: Any) -> Step:
        """The `step` event for the window (mean of its finite losses, rate, timings); empties the window.

        `fields` are the other Step fields known at the report (lr, grad_norm, layer_grad_norms, dead_units).
        """
        values = self.losses()
        finite = [v for v in values if math.isfinite(v)]
        counted = [v for v in values[self._counted :] if math.isfinite(v)]
        self._epoch_sum += sum(counted)
        self._epoch_n += len(counted)
        now = self.clock()
        elapsed = max(now - self._opened, 1e-9)
        event = Step(
            step=step,
            epoch=epoch,
            loss=sum(finite) / len(finite) if finite else math.nan,
            samples_per_s=round(self._samples * world_size / elapsed, 3),
            data_wait_s=round(self._wait, 6),
            compute_s=round(self._compute, 6),
            **fields,
        )
        self.reset()
        return event

    def reset(self) -> None:
        """Empty the window and restart its clock (also after a pause, so paused time is not a slow step)."""
        self._losses, self._values = [], None
        self._samples, self._wait, self._compute, self._counted = 0, 0.0, 0.0, 0
        self._opened = self._last_flush = self.clock()

    def end_epoch(self) -> float | None:
        """The epoch's mean training loss (steps not yet reported included); starts the next epoch's sum."""
        pending = [v for v in self.losses()[self._counted :] if math.isfinite(v)]
        total, n = self._epoch_sum + sum(pending), self._epoch_n + len(pending)
        # Counted now: the step event that reports them later must not count them again.
        self._counted = len(self._losses)
        self._epoch_sum, self._epoch_n = 0.0, 0
        return total / n if n else None
