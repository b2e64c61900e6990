"""Distinct counts: exact up to APPROX_UNIQUE_ROWS rows; beyond it, float columns get an estimate whose documented
bound (3 standard errors, at most 2.1 %) holds against pandas' exact nunique on uniform and skewed columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl

from tui_trainer.data.profile import APPROX_MIN_SAMPLE, HASH_SAMPLE, profile_frame


def test_estimated_distinct_counts_stay_within_the_documented_bound():
    rng = np.random.default_rng(11)
    n = 3_000_000
    # Half of the rows on 100 hot values, half a long tail of values seen once.
    skewed = np.concatenate([rng.choice(rng.normal(size=100), n // 2), rng.random(n - n // 2)])
    frame = pd.DataFrame(
        {
            "uniform": rng.integers(0, 2_000_000, n) / 7.0,  # ~1.4M distinct, each about equally common
            "skewed": rng.permutation(skewed),
            "few": rng.integers(0, 40_000, n) / 3.0,  # too few distinct for the estimate: counted exactly
        }
    )
    profile = profile_frame(pl.from_pandas(frame).lazy(), engine="auto", rows_hint=n)
    for name in ("uniform", "skewed"):
        col = profile.column(name)
        exact = frame[name].nunique()
        assert exact > APPROX_MIN_SAMPLE * HASH_SAMPLE  # the estimate is the one in use
        assert col.unique_approx and col.unique_error is not None and col.unique_error <= 0.0215
        assert abs(col.unique - exact) / exact <= col.unique_error, (name, col.unique, exact)
    few = profile.column("few")
    assert not few.unique_approx and few.unique == frame["few"].nunique()


def test_distinct_counts_are_exact_without_a_row_hint():
    rng = np.random.default_rng(2)
    x = rng.normal(size=50_000).round(2)
    col = profile_frame(pl.DataFrame({"x": x}).lazy(), engine="auto").column("x")
    assert not col.unique_approx and col.unique == pd.Series(x).nunique()
