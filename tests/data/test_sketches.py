"""Mergeable sketches: measured error against exact numpy answers, and merges that give the same summary."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui_trainer.data.sketches import Moments, QuantileSketch

RNG = np.random.default_rng(7)
COLUMNS = {
    "uniform": RNG.random(400_000),
    "lognormal": RNG.lognormal(0.0, 2.5, 400_000),  # skewed: a long right tail
    "zipf_ints": RNG.zipf(1.5, 400_000).astype(np.float64),  # heavy ties: most values repeat
}


def _rank_errors(x: np.ndarray, sketch: QuantileSketch, qs: list[float]) -> list[float]:
    """How far (as a fraction of n) each estimate's rank range lies from the asked-for rank.

    A value interpolated between two neighbours has the rank range of the upper one; one rank of slack.
    """
    xs = np.sort(x)
    errors = []
    for q, v in zip(qs, sketch.quantiles(qs), strict=True):
        target = q * (x.size - 1)
        lo, hi = np.searchsorted(xs, v, side="left"), np.searchsorted(xs, v, side="right")
        errors.append(max(0.0, lo - 1 - target, target - hi) / x.size)
    return errors


@pytest.mark.parametrize("name", sorted(COLUMNS))
def test_quantile_sketch_rank_error_is_within_its_bound(name):
    x = COLUMNS[name]
    sketch = QuantileSketch()
    for part in np.array_split(x, 13):
        sketch.update(part)
    qs = [0.01, 0.25, 0.5, 0.75, 0.99]
    errors = _rank_errors(x, sketch, qs)
    assert 0 < sketch.rank_error <= 0.002  # the documented bound at k = 4096
    assert max(errors) <= sketch.rank_error, (errors, sketch.rank_error)
    assert sum(level.size for level in sketch.levels) < 20 * sketch.k  # memory: levels, not values


def test_quantile_sketch_is_np_percentile_before_any_compaction():
    x = RNG.normal(size=3_000)
    sketch = QuantileSketch()
    sketch.update(x)
    assert sketch.rank_error == 0.0
    assert sketch.quantiles([0.25, 0.5, 0.75]) == pytest.approx(np.percentile(x, [25, 50, 75]), abs=0)


@settings(max_examples=25, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 30_000), min_size=3, max_size=3),
    seed=st.integers(0, 2**16),
    skewed=st.booleans(),
)
def test_sketch_merges_in_any_grouping_summarise_the_whole(sizes, seed, skewed):
    rng = np.random.default_rng(seed)
    parts = [rng.lognormal(0, 2, n) if skewed else rng.random(n) for n in sizes]
    whole = np.concatenate(parts)

    def sketches():
        out = []
        for i, p in enumerate(parts):
            s, m = QuantileSketch(seed=i), Moments()
            s.update(p)
            m.update(p)
            out.append((s, m))
        return out

    (a, b, c), (x, y, z) = sketches(), sketches()
    for left, right in ((a, b), (a, c)):  # (a + b) + c
        for s, t in zip(left, right, strict=True):
            s.merge(t)
    for left, right in ((y, z), (x, y)):  # a + (b + c)
        for s, t in zip(left, right, strict=True):
            s.merge(t)
    for q_sketch, moments in (a, x):
        assert q_sketch.n == moments.n == whole.size
        if whole.size:
            assert max(_rank_errors(whole, q_sketch, [0.25, 0.5, 0.75])) <= q_sketch.rank_error
            assert moments.mean == pytest.approx(whole.mean(), rel=1e-12, abs=1e-12)
            assert moments.std_pop == pytest.approx(whole.std(), rel=1e-9, abs=1e-12)
            assert (moments.min, moments.max) == (whole.min(), whole.max())
