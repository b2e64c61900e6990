"""Fix recipes: TOML round trip, lazy application with known answers, headless --apply that never touches the source."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tui_trainer.data.recipe import (
    Fill,
    OutlierRule,
    Recipe,
    apply_recipe,
    load_recipe,
    save_recipe,
    write_output,
)
from tui_trainer.errors import UserError


def frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "a": [1.0, None, 3.0, 3.0, 100.0, float("nan"), 2.0],
            "b": ["x", "y", None, None, "y", "y", "z"],
            "c": [7, 7, 7, 7, 7, 7, 7],
            "n": [1, 2, 3, 3, 5, 6, None],
        }
    )


def test_recipe_round_trips_through_toml(tmp_path: Path):
    recipe = Recipe(
        drop_columns=["c"],
        drop_duplicates=True,
        drop_missing=["b"],
        fill={"a": Fill("median"), "n": Fill("constant", 0)},
        outliers=[OutlierRule(["a"], "iqr", "drop", 1.5)],
    )
    path = save_recipe(recipe, tmp_path / "r.toml")
    assert load_recipe(path) == recipe


def test_drop_missing_fill_and_drop_constant():
    recipe = Recipe(drop_constant=True, drop_missing=["b"], fill={"a": Fill("mean"), "n": Fill("mode")})
    out = apply_recipe(frame().lazy(), recipe).collect()
    assert out.columns == ["a", "b", "n"]  # c is constant
    assert out.height == 5  # rows 2 and 3 miss b
    kept_a = [1.0, None, 100.0, float("nan"), 2.0]
    mean = np.mean([v for v in kept_a if v is not None and not np.isnan(v)])
    assert out["a"].to_list() == [1.0, mean, 100.0, mean, 2.0]
    assert out["n"].to_list() == [1, 2, 5, 6, 1]  # mode of [1,2,5,6] ties: smallest


def test_drop_duplicates_keeps_first_occurrence():
    df = pl.DataFrame({"a": [1, 1, 2, 1], "b": ["x", "x", "y", "x"]})
    out = apply_recipe(df.lazy(), Recipe(drop_duplicates=True)).collect()
    assert out.to_dict(as_series=False) == {"a": [1, 2], "b": ["x", "y"]}


def test_outliers_clip_and_drop_by_iqr_and_zscore():
    values = [float(i % 10) for i in range(50)] + [40.0, -60.0]
    df = pl.DataFrame({"v": values, "id": list(range(52))})
    q1, q3 = np.percentile(values, [25, 75])
    lo, hi = q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)
    dropped = apply_recipe(df.lazy(), Recipe(outliers=[OutlierRule(["v"], "iqr", "drop")])).collect()
    assert dropped.height == 50 and dropped["v"].max() <= hi
    clipped = apply_recipe(df.lazy(), Recipe(outliers=[OutlierRule(["v"], "iqr", "clip")])).collect()
    assert (
        clipped.height == 52
        and clipped["v"][50] == pytest.approx(hi)
        and clipped["v"][51] == pytest.approx(lo)
    )
    from scipy import stats

    z = np.abs(stats.zscore(values))
    zdrop = apply_recipe(df.lazy(), Recipe(outliers=[OutlierRule(["v"], "zscore", "drop", 3.0)])).collect()
    assert zdrop.height == int((z <= 3).sum())


def test_recipe_errors_name_the_key(tmp_path: Path):
    path = tmp_path / "bad.toml"
    path.write_text("drop_dupes = true\n")
    with pytest.raises(UserError, match="drop_dupes"):
        load_recipe(path)
    path.write_text('[fill]\na = "average"\n')
    with pytest.raises(UserError, match="fill.a"):
        load_recipe(path)
    path.write_text('drop_missing = ["nope"]\n')
    with pytest.raises(UserError, match="'nope'"):
        apply_recipe(frame().lazy(), load_recipe(path))
    path.write_text("not toml [")
    with pytest.raises(UserError, match=str(path)):
        load_recipe(path)


def test_write_output_refuses_existing_file_without_force(tmp_path: Path):
    out = tmp_path / "clean.parquet"
    out.write_bytes(b"keep me")
    with pytest.raises(UserError, match="--force"):
        write_output(frame().lazy(), out)
    assert out.read_bytes() == b"keep me"
    assert write_output(frame().lazy(), out, force=True) == 7
    assert pl.read_parquet(out).height == 7
    assert [p.name for p in tmp_path.iterdir()] == ["clean.parquet"]  # no temp file left behind


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_apply_headless_leaves_source_identical_and_writes_expected_rows(tmp_path: Path, subprocess_env):
    source = tmp_path / "data.csv"
    frame().write_csv(source)
    before = _sha(source)
    recipe = tmp_path / "fix.toml"
    recipe.write_text('drop_duplicates = true\ndrop_missing = ["b"]\n[fill.a]\nstrategy = "median"\n')
    out = tmp_path / "clean.parquet"
    args = [
        sys.executable,
        "-m",
        "tui_trainer",
        "inspect",
        str(source),
        "--apply",
        str(recipe),
        "--out",
        str(out),
    ]
    result = subprocess.run(
        args + ["--json"], capture_output=True, text=True, env=subprocess_env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["rows_out"] == 5
    assert _sha(source) == before
    expected = pl.read_csv(source).unique(maintain_order=True).filter(pl.col("b").is_not_null())
    got = pl.read_parquet(out)
    assert got.height == expected.height == 5
    assert got["b"].to_list() == expected["b"].to_list()
    assert got["a"].null_count() == 0
    again = subprocess.run(args, capture_output=True, text=True, env=subprocess_env, timeout=120)
    assert again.returncode == 2 and "--force" in again.stderr and str(out) in again.stderr
    same = subprocess.run(
        args[:-1] + [str(source), "--force"], capture_output=True, text=True, env=subprocess_env, timeout=120
    )
    assert same.returncode == 2 and "source" in same.stderr and _sha(source) == before


def test_read_steps_fix_the_dirty_auto_mpg_export_headless(tmp_path: Path):
    """The fixes inspect suggests for a European export, applied headless: parsed values equal pandas' own parse."""
    import pandas as pd

    from tests.conftest import SAMPLE_DATA

    source = SAMPLE_DATA / "dirty" / "auto_mpg_formatted.csv"
    recipe_path = tmp_path / "fix.toml"
    recipe_path.write_text(
        'na_values = ["-"]\n'
        '[parse_numbers]\nWeight_in_lbs = "thousands_comma"\nAcceleration = "decimal_comma"\n'
        '[parse_dates]\nYear = "%d.%m.%Y"\n'
        '[merge_categories.Name]\n"audi 100 ls" = "audi 100ls"\n',
        encoding="utf-8",
    )
    recipe = load_recipe(recipe_path)
    assert recipe.to_toml()["parse_numbers"] == {
        "Weight_in_lbs": "thousands_comma",
        "Acceleration": "decimal_comma",
    }
    save_recipe(recipe, tmp_path / "again.toml")
    assert load_recipe(tmp_path / "again.toml") == recipe
    out = tmp_path / "clean.parquet"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tui_trainer",
            "inspect",
            str(source),
            "--apply",
            str(recipe_path),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    clean = pl.read_parquet(out)
    raw = pd.read_csv(source, sep=";", dtype=str)
    reference = pd.read_csv(source, sep=";", decimal=",", na_values=["-"])
    weight = raw["Weight_in_lbs"].str.removesuffix(" lbs").str.replace(",", "").astype(float)
    assert clean["Weight_in_lbs"].to_list() == weight.tolist()
    assert clean["Acceleration"].to_list() == reference["Acceleration"].tolist()
    assert clean["Miles_per_Gallon"].null_count() == int(reference["Miles_per_Gallon"].isna().sum()) == 8
    assert clean["Year"].dtype == pl.Date and str(clean["Year"].min()) == "1970-01-01"
    assert (clean["Name"] == "audi 100 ls").sum() == 0 and (clean["Name"] == "audi 100ls").sum() == 3


def test_read_steps_name_missing_columns_and_bad_styles(tmp_path: Path):
    from tui_trainer.data.recipe import parse_recipe

    with pytest.raises(UserError, match="parse_dates: no column 'when'"):
        apply_recipe(frame().lazy(), parse_recipe({"parse_dates": {"when": "%Y"}}))
    with pytest.raises(UserError, match="parse_numbers.a"):
        parse_recipe({"parse_numbers": {"a": "roman"}}, "fix.toml")
