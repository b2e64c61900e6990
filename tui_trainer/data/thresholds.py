"""Every data check's knob, with its range: CLI flags and a `[thresholds]` TOML table set them by these names.

The range sits on the field, so the flag, the TOML table and the docs read one definition; a value that is
not a finite number in range is a UserError naming the source and the key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

from tui_trainer.errors import UserError


def _knob(default: float | int, low: float, high: float, *, low_open: bool = False, high_open: bool = False):
    return field(default=default, metadata={"range": (low, high, low_open, high_open)})


@dataclass
class Thresholds:
    """Check thresholds; `describe_range(name)` says what each accepts."""

    zscore: float = _knob(3.0, 0, math.inf, low_open=True)  # |z| above this is an outlier
    iqr: float = _knob(1.5, 0, math.inf, low_open=True)  # outside [Q1 - k*IQR, Q3 + k*IQR]
    imbalance: float = _knob(3.0, 1, math.inf)  # majority/minority ratio above this warns
    missing: float = _knob(0.0, 0, 1)  # report a column whose missing share is above this
    high_cardinality: int = _knob(50, 1, math.inf)  # distinct text values above this
    id_like: float = _knob(0.95, 0, 1, low_open=True)  # distinct share at/above this in a text/integer column
    zeros: float = _knob(0.10, 0, 1)  # share of zeros above this
    skew: float = _knob(2.0, 0, math.inf)  # |skewness| above this
    infinite: float = _knob(0.0, 0, 1)  # share of +-inf above this
    unique: float = _knob(1.0, 0, 1, low_open=True)  # distinct/non-missing share at or above this
    synthetic: float = _knob(
        0.01, 0, 1
    )  # synthetic share above this warns (model collapse reported from ~1%)
    drift_p: float = _knob(0.01, 0, 1, low_open=True, high_open=True)  # p-value below this is drift
    categorical: int = _knob(
        10, 0, math.inf
    )  # integer columns with at most this many distinct values are codes
    correlated: float = _knob(0.9, 0, 1, low_open=True)  # |Pearson|, |Spearman| or Cramér's V at/above this
    predicts_label: float = _knob(
        0.9, 0, 1, low_open=True
    )  # one feature's gain over the baseline at/above this
    feature_imbalance: float = _knob(20.0, 1, math.inf)  # majority/minority ratio of a categorical feature

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def describe_range(cls, name: str) -> str:
        spec = next(f for f in fields(cls) if f.name == name)
        low, high, low_open, high_open = spec.metadata["range"]
        kind = "an integer" if spec.type in ("int", int) else "a number"
        if math.isinf(high):
            return f"{kind} {'>' if low_open else '>='} {low:g}"
        return f"{kind} in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"

    def updated(self, values: dict[str, Any], source: str) -> Thresholds:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        specs = {f.name: f for f in fields(self)}
        for key, value in values.items():
            if key not in data:
                raise UserError(f"{source}: unknown threshold {key!r}; known: {', '.join(self.names())}")
            if value is None:
                continue
            data[key] = _checked(key, value, specs[key], source)
        return Thresholds(**data)


def _checked(key: str, value: Any, spec, source: str) -> float | int:
    expected = Thresholds.describe_range(key)
    integer = spec.type in ("int", int)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise UserError(f"{source}: threshold {key!r} must be {expected}, not {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise UserError(f"{source}: threshold {key!r} must be {expected}, not {value!r}") from None
    low, high, low_open, high_open = spec.metadata["range"]
    ok = math.isfinite(number) and (number > low if low_open else number >= low)
    ok = ok and (number < high if high_open else number <= high)
    if integer and ok and not number.is_integer():
        ok = False
    if not ok:
        raise UserError(f"{source}: threshold {key!r} must be {expected}, not {value!r}")
    return int(number) if integer else number
