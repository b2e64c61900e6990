"""How numbers and durations are written for people: one rule for the Train pane, charts, `attach` and `runs`."""

from __future__ import annotations

import math


def format_number(value: float | None, missing: str = "—") -> str:
    """A metric (loss, lr, grad norm, a chart label): 4 significant digits, scientific when tiny or huge.

    `0.5`, `1.235`, `3.00e-04`, `1.20e+05`; `missing` for None; `nan` / `inf` / `-inf` as they are.
    """
    if value is None:
        return missing
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1e5 or magnitude < 1e-3:
        return f"{value:.2e}"
    return f"{value:.4g}"


def format_duration(seconds: float | None) -> str:
    """`1h02m`, `3m05s`, `42s`, or `—` when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"
