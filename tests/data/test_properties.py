"""Property tests: counts from the profile and findings equal independent counts in plain Python/numpy/scipy."""

from __future__ import annotations

import math
import warnings
from collections import Counter

import numpy as np
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from tests.data.helpers import by_id, count, inspect_frame
from tui_trainer.data.thresholds import Thresholds

floats = st.one_of(
    st.none(),
    st.just(float("nan")),
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, 1.0, 2.5, 100.0]),  # repeats make duplicates and ties likely
)
ints = st.one_of(
    st.none(), st.integers(min_value=-5, max_value=5), st.integers(min_value=-(10**6), max_value=10**6)
)
texts = st.one_of(st.none(), st.sampled_from(["a", "b", "é", "日本", ""]))


@st.composite
def frames(draw):
    n = draw(st.integers(min_value=1, max_value=40))
    return {
        "f": draw(st.lists(floats, min_size=n, max_size=n)),
        "i": draw(st.lists(ints, min_size=n, max_size=n)),
        "s": draw(st.lists(texts, min_size=n, max_size=n)),
        "y": draw(st.lists(st.sampled_from(["cat", "dog", "bird"]), min_size=n, max_size=n)),
    }


def _missing(values) -> int:
    return sum(1 for v in values if v is None or (isinstance(v, float) and math.isnan(v)))


def _row_key(row):
    # Equality as a user means it: NaN equals NaN, -0.0 equals 0.0, None equals None.
    return tuple(
        "NaN" if isinstance(v, float) and math.isnan(v) else (v + 0.0 if isinstance(v, float) else v)
        for v in row
    )


def _finite(values) -> np.ndarray:
    return np.array(
        [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))], dtype=float
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames())
def test_counts_match_independent_computation(data):
    df = pl.DataFrame(data, schema={"f": pl.Float64, "i": pl.Int64, "s": pl.String, "y": pl.String})
    # categorical=0: every integer column is profiled as numbers here (codes get value counts instead)
    profile, findings = inspect_frame(df, label="y", thresholds=Thresholds(categorical=0))
    rows = list(zip(*data.values(), strict=True))
    # missing per column
    for name, values in data.items():
        assert profile.column(name).missing == _missing(values)
        assert count(findings, "missing", name) == _missing(values)
    # duplicates
    distinct = len({_row_key(r) for r in rows})
    assert profile.duplicates == len(rows) - distinct
    assert count_all(findings, "duplicates") == len(rows) - distinct
    # outliers on each number column
    for name in ("f", "i"):
        x = _finite(data[name])
        if x.size == 0:
            assert count(findings, "outliers_zscore", name) == 0
            continue
        with np.errstate(all="ignore"):
            z = stats.zscore(x)
        expected_z = int(np.sum(np.abs(z) > 3))
        q1, q3 = np.percentile(x, [25, 75])
        expected_iqr = int(np.sum((x < q1 - 1.5 * (q3 - q1)) | (x > q3 + 1.5 * (q3 - q1))))
        assert count(findings, "outliers_zscore", name) == expected_z
        assert count(findings, "outliers_iqr", name) == expected_iqr
        assert profile.column(name).unique == len({v + 0.0 for v in x})
    # class counts
    imb = by_id(findings, "imbalance")[("y",)]
    assert imb.evidence["class_counts"] == dict(Counter(data["y"]))
    counts = Counter(data["y"]).values()
    assert imb.evidence["ratio"] == max(counts) / min(counts)


def count_all(findings, id: str) -> int:
    found = [f for f in findings if f.id == id]
    return found[0].evidence["count"] if found else 0


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(min_value=-1e3, max_value=1e3, allow_nan=False), min_size=2, max_size=60),
    st.floats(1.0, 4.0),
)
def test_zscore_threshold_property(values, threshold):
    from tui_trainer.data.checks import Thresholds

    _, findings = inspect_frame(pl.DataFrame({"v": values}), thresholds=Thresholds(zscore=threshold))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy warns on near-constant data; the count stands
        z = stats.zscore(np.array(values))
    assert count(findings, "outliers_zscore", "v") == int(np.sum(np.abs(z) > threshold))
