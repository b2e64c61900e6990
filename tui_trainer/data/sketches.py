"""Mergeable summaries of a column read in batches: moments and a KLL quantile sketch.

Each one is updated batch by batch, holds a fixed amount of memory whatever the row count, and can be
merged with another of its kind (two halves of a file summarised apart give the summary of the whole).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

QUANTILE_K = 4096  # items per KLL level: ~15 levels x 32 KB at 100M values
# Hoeffding: a sum of independent zero-mean terms bounded by w_i exceeds 4 * sqrt(sum w_i^2) with
# probability at most 2 exp(-8) = 0.07 %; `rank_error` reports that multiple of the error's spread.
RANK_ERROR_SIGMAS = 4.0


@dataclass
class Moments:
    """Count, mean, sum of squared deviations, min and max of finite values (Chan et al.'s parallel merge)."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0
    min: float = math.inf
    max: float = -math.inf

    def update(self, values: np.ndarray) -> None:
        if values.size:
            mean = float(values.mean())
            self.merge(
                Moments(
                    int(values.size),
                    mean,
                    float(((values - mean) ** 2).sum()),
                    float(values.min()),
                    float(values.max()),
                )
            )

    def merge(self, other: Moments) -> None:
        if other.n == 0:
            return
        n = self.n + other.n
        delta = other.mean - self.mean
        self.m2 += other.m2 + delta * delta * self.n * other.n / n
        self.mean += delta * other.n / n
        self.n = n
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)

    @property
    def std_pop(self) -> float:
        """Standard deviation with ddof=0, as scipy.stats.zscore divides by."""
        return math.sqrt(self.m2 / self.n) if self.n else math.nan


@dataclass
class QuantileSketch:
    """A KLL sketch (Karnin, Lang, Liberty 2016) with equal level capacities `k`.

    Level h holds values standing for 2^h inputs each. A level over capacity is sorted and every other
    value (from a random start) moves up a level. Each such compaction moves any rank by at most its
    weight 2^h, with zero mean, so the rank error is a sum of independent bounded terms: `rank_error`
    is RANK_ERROR_SIGMAS times its standard deviation (as a fraction of n), tracked as the sketch grows.
    """

    k: int = QUANTILE_K
    seed: int = 0
    n: int = 0
    levels: list[np.ndarray] = field(default_factory=list)
    variance: float = 0.0  # sum of squared compaction weights
    _rng: np.random.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng(self.seed)

    def update(self, values: np.ndarray) -> None:
        """Add finite float values (the caller drops NaN and infinities)."""
        if values.size:
            self.n += int(values.size)
            self._add(0, np.asarray(values, dtype=np.float64))

    def merge(self, other: QuantileSketch) -> None:
        self.n += other.n
        self.variance += other.variance
        for h, items in enumerate(other.levels):
            self._add(h, items)

    def _add(self, h: int, items: np.ndarray) -> None:
        while True:
            while len(self.levels) <= h:
                self.levels.append(np.empty(0))
            level = np.concatenate([self.levels[h], items]) if self.levels[h].size else items
            if level.size <= self.k:
                self.levels[h] = level
                return
            level = np.sort(level)
            keep = level[-1:] if level.size % 2 else level[:0]  # an odd one out waits for the next compaction
            even = level[: level.size - keep.size]
            items = even[int(self._rng.integers(2)) :: 2]
            self.levels[h] = keep.copy()
            self.variance += float(4**h)
            h += 1

    @property
    def rank_error(self) -> float:
        """Bound on |estimated rank - true rank| / n, holding with probability >= 99.9 %."""
        return RANK_ERROR_SIGMAS * math.sqrt(self.variance) / self.n if self.n else 0.0

    def quantiles(self, qs: list[float]) -> list[float]:
        """Values at the fractions `qs` (rank (n-1)q, numpy's linear definition, to within `rank_error`)."""
        if not self.n:
            return [math.nan for _ in qs]
        values = np.concatenate(self.levels)
        weights = np.concatenate([np.full(lv.size, 2.0**h) for h, lv in enumerate(self.levels)])
        order = np.argsort(values, kind="stable")
        values, cum = values[order], np.cumsum(weights[order])
        out = []
        for q in qs:
            rank = q * (cum[-1] - 1)
            i = min(int(np.searchsorted(cum, rank, side="right")), values.size - 1)
            # Between two stored values, interpolate linearly by rank, as np.percentile does between neighbours.
            if i + 1 < values.size and cum[i] - 1 < rank:
                frac = min(1.0, rank - (cum[i] - 1))  # the next value's first rank is cum[i]
                out.append(float(values[i] + frac * (values[i + 1] - values[i])))
            else:
                out.append(float(values[i]))
        return out
