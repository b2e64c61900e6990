"""Opening every supported format lazily, image folders as tables, and NA tokens read as missing."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from tests.conftest import SAMPLE_DATA
from tui_trainer.data.load import open_dataset
from tui_trainer.data.report import inspect_dataset, to_json

FRAME = pl.DataFrame({"a": [1, 2, None], "b": ["x", None, "z"]})


@pytest.mark.parametrize(
    "name, write",
    [
        ("d.parquet", lambda df, p: df.write_parquet(p)),
        ("d.arrow", lambda df, p: df.write_ipc(p)),
        ("d.feather", lambda df, p: df.write_ipc(p)),
        ("d.ndjson", lambda df, p: df.write_ndjson(p)),
        ("d.json", lambda df, p: df.write_json(p)),
        ("d.csv", lambda df, p: df.write_csv(p)),
        ("d.tsv", lambda df, p: df.write_csv(p, separator="\t")),
    ],
)
def test_every_format_opens_lazily_with_the_same_content(name, write, tmp_path: Path):
    path = tmp_path / name
    write(FRAME, path)
    dataset = open_dataset(path)
    assert isinstance(dataset.lazy, pl.LazyFrame)
    assert dataset.lazy.collect().equals(FRAME)


def test_csv_na_tokens_are_missing(tmp_path: Path):
    path = tmp_path / "na.csv"
    path.write_text("v,s\n1.5,NA\nNA,ok\nnan,N/A\n2,\n")
    inspection = inspect_dataset(path)
    cols = {c["name"]: c for c in to_json(inspection)["columns"]}
    assert cols["v"]["missing"] == 2 and cols["v"]["dtype"] == "Float64"
    assert cols["s"]["missing"] == 3


def test_image_folder_reads_headers_as_a_table(tmp_path: Path):
    from PIL import Image

    for label, size, mode in (("cat", (4, 3), "RGB"), ("dog", (5, 5), "L")):
        (tmp_path / label).mkdir()
        Image.new(mode, size).save(tmp_path / label / "a.png")
    (tmp_path / "dog" / "broken.jpg").write_bytes(b"not an image")
    df = open_dataset(tmp_path).lazy.collect().sort("path")
    assert df.columns == ["path", "label", "width", "height", "channels", "bytes"]
    assert df.to_dicts()[0] == {
        "path": "cat/a.png",
        "label": "cat",
        "width": 4,
        "height": 3,
        "channels": 3,
        "bytes": (tmp_path / "cat" / "a.png").stat().st_size,
    }
    broken = df.filter(pl.col("path") == "dog/broken.jpg").row(0, named=True)
    assert broken["width"] is None and broken["label"] == "dog"


def test_sample_digits_folder_has_ten_classes():
    inspection = inspect_dataset(SAMPLE_DATA / "digits", label="label")
    imbalance = [f for f in inspection.findings if f.id == "imbalance"][0]
    assert sorted(imbalance.evidence["class_counts"]) == [str(i) for i in range(10)]
    assert inspection.profile.column("width").min == 8


def test_semicolon_csv_and_byte_order_mark(tmp_path: Path):
    semi = tmp_path / "eu.csv"
    semi.write_text("name;value\nx;1,5\ny;2\n", encoding="utf-8")
    assert open_dataset(semi).lazy.collect().columns == ["name", "value"]
    bom = tmp_path / "bom.csv"
    bom.write_bytes("\ufeffa,b\n1,2\n1,2\n".encode())
    inspection = inspect_dataset(bom)
    assert inspection.profile.names == ["a", "b"] and inspection.profile.duplicates == 1
