"""The streamed profile (files too big for memory) gives the in-memory profile's numbers, in bounded batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tui_trainer.data import profile, report, stream_profile
from tui_trainer.data.profile import profile_frame

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"


def _frame(rows: int = 60_000, seed: int = 3) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    skewed = rng.lognormal(0, 2, rows)
    skewed[rng.random(rows) < 0.02] = np.nan
    skewed[:3] = [np.inf, -np.inf, np.nan]
    frame = pl.DataFrame(
        {
            "skewed": skewed,
            "normal": rng.normal(5, 2, rows),
            "ints": rng.integers(-50, 5_000, rows),
            "constant": np.full(rows, 2.5),
            "city": rng.choice(["a", "b", "c", ""], rows),
            "flag": rng.integers(0, 2, rows),
        }
    ).with_columns(pl.col("city").replace("", None))
    # Rows repeating earlier ones, spread over several batches.
    return pl.concat([frame, frame[rng.integers(0, rows, 400).tolist()]])


def _same(a: dict, b: dict) -> bool:
    """Equal, but for the last digits of the sums Polars' two engines add in different orders (mean, skew)."""
    assert a.keys() == b.keys()
    summed = ("mean", "std", "std_pop", "skew")
    for key in a:
        if key == "top":  # values tied on the smallest count shown may come in either order, or either one
            assert [t["count"] for t in a[key]] == [t["count"] for t in b[key]]
            last = min((t["count"] for t in b[key]), default=0)
            assert {t["value"] for t in a[key] if t["count"] > last} == {
                t["value"] for t in b[key] if t["count"] > last
            }
            continue
        assert a[key] == (pytest.approx(b[key], rel=1e-12) if key in summed and b[key] else b[key]), key
    return True


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(stream_profile, "BATCH_ROWS", 7_000)
    monkeypatch.setattr(stream_profile, "SPILL_PARTITIONS", 16)


def test_streamed_profile_equals_in_memory_profile(tmp_path, small_batches):
    frame = _frame()
    path = tmp_path / "data.parquet"
    frame.write_parquet(path, row_group_size=5_000)
    assert len(list(stream_profile.batches(pl.scan_parquet(path)))) >= 8  # state merged over many batches
    memory = profile_frame(pl.read_parquet(path).lazy(), engine="auto")
    streamed = profile_frame(pl.scan_parquet(path), engine="streaming")
    assert (streamed.rows, streamed.distinct_rows) == (memory.rows, memory.distinct_rows)
    assert streamed.duplicate_examples == memory.duplicate_examples and streamed.duplicates > 0
    for col in memory.columns:
        twin = streamed.column(col.name)
        assert _same(twin.to_dict(memory.rows), col.to_dict(memory.rows)), col.name  # NaN as in the JSON
        assert (twin.zscore_examples, twin.iqr_examples) == (col.zscore_examples, col.iqr_examples)
    skewed = streamed.column("skewed")
    assert skewed.quantile_error is None  # exact: np.percentile's quartiles
    assert skewed.q25 == np.percentile(
        frame["skewed"].to_numpy()[np.isfinite(frame["skewed"].to_numpy())], 25
    )


def test_a_quartile_the_window_misses_keeps_the_sketch_value_within_its_bound(
    tmp_path, small_batches, monkeypatch
):
    monkeypatch.setattr(stream_profile, "WINDOW_SIGMAS", 0.0)  # a window of one value: exactness fails
    frame = _frame()
    path = tmp_path / "data.parquet"
    frame.write_parquet(path)
    col = profile_frame(pl.scan_parquet(path), engine="streaming").column("normal")
    x = np.sort(frame["normal"].to_numpy())
    assert col.quantile_error is not None and 0 < col.quantile_error <= 0.002
    for q, value in ((0.25, col.q25), (0.5, col.median), (0.75, col.q75)):
        rank = np.searchsorted(x, value) / x.size
        assert abs(rank - q) <= col.quantile_error + 1 / x.size


@pytest.mark.parametrize(
    "name", ["penguins.csv", "dirty/seattle_weather.csv", "dirty/auto_mpg_formatted.csv"]
)
def test_inspect_forced_to_stream_reports_what_in_memory_reports(name, monkeypatch, small_batches):
    path = SAMPLE / name
    if not path.exists():
        pytest.skip(f"{path} not in sample_data")
    in_memory = report.to_json(report.inspect_dataset(path))
    monkeypatch.setattr(report, "_fits", lambda _path: False)
    streamed = report.inspect_dataset(path)
    assert streamed.engine == "streaming"
    data = report.to_json(streamed)
    for ours, theirs in zip(data.pop("columns"), in_memory.pop("columns"), strict=True):
        assert _same(ours, theirs), ours["name"]
    assert _rounded(data) == _rounded(in_memory)  # rows, duplicates, class counts, every finding


def _rounded(value):
    """Floats to 12 significant digits: the two engines' sums differ in the last bits (a mean in evidence)."""
    if isinstance(value, float):
        return float(f"{value:.12g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value


def test_streamed_distinct_counts_are_the_in_memory_estimates_and_exact_counts(
    tmp_path, small_batches, monkeypatch
):
    # As for a file of millions of rows: long float columns get the 1/64 hash-sample estimate on both paths.
    monkeypatch.setattr(profile, "APPROX_UNIQUE_ROWS", 1_000)
    monkeypatch.setattr(profile, "APPROX_MIN_SAMPLE", 300)
    frame = _frame()
    path = tmp_path / "data.parquet"
    frame.write_parquet(path)
    memory = profile_frame(frame.lazy(), engine="auto", rows_hint=frame.height)
    streamed = profile_frame(pl.scan_parquet(path), engine="streaming", rows_hint=frame.height)
    for col in memory.columns:
        twin = streamed.column(col.name)
        assert (twin.unique, twin.unique_approx, twin.unique_error) == (
            col.unique,
            col.unique_approx,
            col.unique_error,
        )
    normal = streamed.column("normal")
    assert (
        normal.unique_approx
        and abs(normal.unique - frame["normal"].n_unique()) / normal.unique <= normal.unique_error
    )
    assert not streamed.column("ints").unique_approx and streamed.column("ints").kind == "numeric"


def test_a_column_with_more_distinct_values_than_the_cap_is_estimated_within_its_bound(
    tmp_path, small_batches, monkeypatch
):
    monkeypatch.setattr(stream_profile, "DISTINCT_CAP", 1_000)
    monkeypatch.setattr(profile, "APPROX_MIN_SAMPLE", 10)  # else profile recounts a small sample exactly
    frame = _frame()
    path = tmp_path / "data.parquet"
    frame.write_parquet(path)
    ints = profile_frame(pl.scan_parquet(path), engine="streaming").column("ints")
    exact = frame["ints"].to_pandas().nunique()
    assert ints.unique_approx and ints.unique_error is not None
    assert abs(ints.unique - exact) / exact <= ints.unique_error
    assert profile_frame(pl.scan_parquet(path), engine="streaming").column("city").unique == 3  # few: exact


def test_batches_of_a_plan_with_whole_column_expressions_are_not_computed_per_slice(tmp_path, small_batches):
    path = tmp_path / "data.parquet"
    pl.DataFrame({"x": np.arange(20_000, dtype=np.float64)}).write_parquet(path)
    plan = pl.scan_parquet(path).with_columns(centred=pl.col("x") - pl.col("x").mean())
    streamed = pl.concat(stream_profile.batches(plan))
    assert streamed.equals(plan.collect())
    assert streamed.height == 20_000


def test_streamed_first_rows_equal_in_memory_ones_batch_by_batch(tmp_path, monkeypatch) -> None:
    """Example rows found batch by batch (no whole-file row index) are the in-memory path's, whole-column
    conditions (a repeat of an earlier timestamp) included."""
    monkeypatch.setattr(stream_profile, "BATCH_ROWS", 997)
    rng = np.random.default_rng(4)
    frame = pl.DataFrame(
        {
            "x": rng.normal(0, 1, 20_000),
            "t": np.concatenate(
                [np.arange(10_000), rng.integers(0, 10_000, 10_000)]
            ),  # repeats from row 10,000
            "s": rng.choice(["a", "b"], 20_000),
        }
    ).with_columns(pl.col("s").replace("b", None))
    frame.write_parquet(tmp_path / "f.parquet")
    lf = pl.scan_parquet(tmp_path / "f.parquet")
    conditions = [
        pl.col("x") > 3.2,  # rare: hits spread over many batches
        pl.col("s").is_null(),  # common: found in the first batch
        pl.col("t").is_not_null() & ~pl.col("t").is_first_distinct(),
        pl.col("x") > 99,  # never
    ]
    for condition in conditions:
        memory = profile.first_rows(frame.lazy(), condition, "auto")
        assert profile.first_rows(lf, condition, "streaming") == memory
        assert profile.first_rows(lf, condition, "streaming", limit=40) == profile.first_rows(
            frame.lazy(), condition, "auto", limit=40
        )
    assert len(profile.first_rows(lf, pl.col("x") > 3.2, "streaming", limit=40)) > 5
