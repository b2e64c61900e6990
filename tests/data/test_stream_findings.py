"""The findings stage on the streamed path (files too big for memory) reports what the in-memory path reports.

Class counts, feature value counts, variant spellings, label conflicts and correlations are merged batch by batch
when streaming; these tests force that path on real files, in batches far smaller than the file.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from tui_trainer.data import correlation, leakage, report, stream_profile
from tui_trainer.data.label import _conflicts, _streamed_conflicts
from tui_trainer.data.profile import row_hash
from tui_trainer.data.sample import collect_sample, seeded_sample

from .test_stream_profile import _rounded, _same

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"


@pytest.fixture
def tiny_batches(monkeypatch):
    monkeypatch.setattr(stream_profile, "BATCH_ROWS", 37)  # every file is many batches
    monkeypatch.setattr(stream_profile, "SPILL_PARTITIONS", 8)
    # Samples smaller than the files, so the correlation screen and the one-feature scores sample here too.
    monkeypatch.setattr(correlation, "SAMPLE_ROWS", 200)
    monkeypatch.setattr(leakage, "MAX_ROWS", 250)


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("penguins.csv", "species"),
        ("penguins.csv", "island"),
        ("dirty/iris.csv", "species"),
        ("dirty/auto_mpg.csv", "Cylinders"),
        ("dirty/seattle_weather.csv", "weather"),
    ],
)
def test_findings_forced_to_stream_equal_in_memory_findings(name, label, monkeypatch, tiny_batches):
    path = SAMPLE / name
    in_memory = report.to_json(report.inspect_dataset(path, label=label))
    monkeypatch.setattr(report, "_fits", lambda _path: False)
    streamed = report.inspect_dataset(path, label=label)
    assert streamed.engine == "streaming"
    data = report.to_json(streamed)
    for ours, theirs in zip(data.pop("columns"), in_memory.pop("columns"), strict=True):
        assert _same(ours, theirs), ours["name"]
    assert data["class_counts"] and data["class_counts"] == in_memory["class_counts"]
    assert _rounded(data) == _rounded(in_memory)  # every finding, its evidence included


def test_streamed_label_conflicts_equal_in_memory_ones(tiny_batches):
    # iris with its species relabelled on some rows: identical measurements now carry two labels.
    frame = pl.read_csv(SAMPLE / "dirty" / "iris.csv")
    frame = pl.concat([frame, frame.head(60).with_columns(pl.lit("versicolor").alias("species"))])
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) % 17 == 0).then(None).otherwise(pl.col("species")).alias("species")
    )
    features = [c for c in frame.columns if c != "species"]
    keyed = frame.lazy().select(row_hash(features, frame.schema).alias("__h"), pl.col("species"))
    expected = _conflicts(keyed, "species", "auto")
    assert expected[0] > 0 and expected[1] > 0 and expected[2]
    assert _streamed_conflicts(keyed, "species") == expected


def test_streamed_sample_picks_the_in_memory_sample_rows(tiny_batches):
    lf = pl.scan_csv(SAMPLE / "penguins.csv")
    where = pl.col("sex").is_not_null()
    rows = lf.filter(where).select(pl.len()).collect().item()
    expected = seeded_sample(lf.filter(where), rows, 120, seed=7).collect()
    streamed = collect_sample(lf, rows, 120, seed=7, engine="streaming", where=where)
    assert 60 < streamed.height < rows and streamed.equals(expected)
