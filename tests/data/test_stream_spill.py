"""A text file too big for memory is parsed once into a temp Parquet spill that every streamed pass reads.

The spill must not change what `inspect` says: the same numbers, the same error naming the line for a bad value
far down the file, the same late missing-value marker retry, and no spill folder left behind by a failed parse.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tui_trainer.data import report, stream_profile
from tui_trainer.data.report import inspect_dataset, to_json
from tui_trainer.errors import UserError

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"


def _streamed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report, "_fits", lambda _path: False)


def _numbers_csv(path: Path, rows: int, tail: str) -> Path:
    values = np.random.default_rng(0).integers(0, 1000, rows)
    path.write_text("id,value\n" + "".join(f"{i},{v}\n" for i, v in enumerate(values)) + tail)
    return path


def test_streamed_csv_is_profiled_from_a_spill_with_the_in_memory_numbers(monkeypatch, tmp_path) -> None:
    path = SAMPLE / "penguins.csv"
    memory = to_json(inspect_dataset(path, label="species"))
    _streamed(monkeypatch)
    spills: list[int] = []
    real = stream_profile.spill_text
    monkeypatch.setattr(
        stream_profile, "spill_text", lambda lf, folder=None: spills.append(1) or real(lf, tmp_path)
    )
    inspection = inspect_dataset(path, label="species")
    streamed = to_json(inspection)
    assert spills == [1] and inspection.engine == "streaming"
    assert "Parquet SCAN" in inspection.lf.explain() and str(tmp_path) in inspection.lf.explain()
    assert streamed["rows"] == memory["rows"] and streamed["duplicates"] == memory["duplicates"]
    assert [c["missing"] for c in streamed["columns"]] == [c["missing"] for c in memory["columns"]]
    assert [c["q75"] for c in streamed["columns"]] == [c["q75"] for c in memory["columns"]]
    assert [f["id"] for f in streamed["findings"]] == [f["id"] for f in memory["findings"]]


def test_a_bad_value_far_down_a_streamed_csv_names_its_line(monkeypatch, tmp_path) -> None:
    path = _numbers_csv(tmp_path / "big.csv", 30_000, "30000,12x\n")
    with pytest.raises(UserError) as memory:
        inspect_dataset(path)
    _streamed(monkeypatch)
    before = set(Path(tempfile.gettempdir()).glob("tui-trainer-spill-*"))
    with pytest.raises(UserError) as streamed:
        inspect_dataset(path)
    assert "line 30002" in str(streamed.value) and "'value'" in str(streamed.value)
    assert str(streamed.value) == str(memory.value)
    assert set(Path(tempfile.gettempdir()).glob("tui-trainer-spill-*")) == before  # the failed spill is gone


def test_a_late_missing_marker_in_a_streamed_csv_is_read_as_missing(monkeypatch, tmp_path) -> None:
    path = _numbers_csv(tmp_path / "late.csv", 25_000, "25000,?\n")
    _streamed(monkeypatch)
    value = next(c for c in to_json(inspect_dataset(path))["columns"] if c["name"] == "value")
    assert value["missing"] == 1 and value["count"] == 25_000 and value["kind"] == "numeric"


def test_the_spill_keeps_rows_order_and_dtypes(tmp_path) -> None:
    lf = pl.scan_csv(SAMPLE / "penguins.csv", try_parse_dates=True).with_columns(
        pl.lit(None).alias("empty"), pl.col("species").cast(pl.Categorical)
    )
    spilled, rows = stream_profile.spill_text(lf, tmp_path)
    assert rows == lf.select(pl.len()).collect().item()
    assert spilled.collect_schema() == lf.collect_schema()
    assert spilled.collect().equals(lf.collect())
