"""Loss levels for the diagnostics: the chance-level loss of a task, and the training loss as step segments.

A model that ignores its inputs reaches the label entropy (log K for K balanced classes) under cross-entropy,
or the target variance under MSE: the level that tells "stuck" from "learning slowly". `LossSeries` keeps the
reported losses as segments of steps (a report stands for every step since the previous one), so a window
mean is measured in steps, never in events, and the answer does not depend on the reporting cadence.
"""

from __future__ import annotations

import bisect
import math


def finite_number(x: object) -> bool:
    """A real int or float that is not NaN or inf (bools are not numbers here)."""
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def label_entropy(counts: list[int] | None) -> float | None:
    """Cross-entropy (nats) of always predicting the label shares: the loss a model with no signal reaches."""
    if not counts:
        return None
    total = sum(counts)
    if total <= 0:
        return None
    return -sum(c / total * math.log(c / total) for c in counts if c > 0)


def chance_loss(
    task: str | None,
    num_classes: int | None = None,
    label_counts: list[int] | None = None,
    target_variance: float | None = None,
) -> float | None:
    """The loss of a model that ignores its inputs: label entropy (log K when balanced) or target variance."""
    if task == "classification":
        entropy = label_entropy(label_counts)
        if entropy is not None:
            # One class only: predicting it costs nothing, so there is no chance level to judge a loss by
            # (and a ratio to it would divide by zero).
            return entropy if entropy > 0 else None
        return math.log(num_classes) if num_classes and num_classes >= 2 else None
    if task == "regression" and finite_number(target_variance) and target_variance > 0:  # type: ignore[operator]
        return float(target_variance)  # type: ignore[arg-type]
    return None


class LossSeries:
    """The training loss as step segments (each report stands for the steps since the previous one).

    Prefix sums over the segments make a window mean two bisections, whatever the window or the cadence.
    """

    def __init__(self) -> None:
        self.firsts: list[int] = []
        self.lasts: list[int] = []
        self.means: list[float] = []
        self.mass = [0.0]  # loss x steps before segment i
        self.steps = [0]  # steps before segment i
        self.last_step = 0

    def add(self, step: int, loss: float) -> None:
        if step <= self.last_step and self.lasts:
            return  # a repeated or out-of-order step: the series only moves forward
        # The first report stands for its own step only: a run that starts reporting at step 5,000 (a resumed
        # user loop) must not look flat since step 1. Windows reaching before it are then uncovered, not flat.
        first = self.last_step + 1 if self.lasts else step
        self.firsts.append(first)
        self.lasts.append(step)
        self.means.append(loss)
        self.mass.append(self.mass[-1] + (step - first + 1) * loss)
        self.steps.append(self.steps[-1] + (step - first + 1))
        self.last_step = step

    def _upto(self, s: int) -> tuple[float, float]:
        """(loss x steps, steps) covered by steps <= s."""
        i = bisect.bisect_right(self.lasts, s)
        mass, steps = self.mass[i], float(self.steps[i])
        if i < len(self.firsts) and self.firsts[i] <= s:
            part = s - self.firsts[i] + 1
            mass += part * self.means[i]
            steps += part
        return mass, steps

    def mean_over(self, lo: int, hi: int) -> float | None:
        """Mean loss over steps lo+1..hi (a segment straddling an edge counts pro rata); None if uncovered."""
        if hi <= lo or not self.lasts:
            return None
        m_hi, s_hi = self._upto(hi)
        m_lo, s_lo = self._upto(lo)
        covered = s_hi - s_lo
        if covered < 0.9 * (hi - lo):
            return None
        return (m_hi - m_lo) / covered

    def prune(self, keep_from: int) -> None:
        # Drop old segments in chunks (prefix sums stay valid: only differences are used).
        if len(self.lasts) < 4096:
            return
        k = bisect.bisect_left(self.lasts, keep_from)
        if k > 1024:
            self.firsts, self.lasts, self.means = self.firsts[k:], self.lasts[k:], self.means[k:]
            self.mass, self.steps = self.mass[k:], self.steps[k:]
