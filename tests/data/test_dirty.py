"""Real public data in the dirty forms users meet: markers, formatted numbers, dates as text, codes, regression labels.

Every count is compared with pandas/scipy reading the same file with the right options.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest
from scipy import stats

from tests.conftest import SAMPLE_DATA
from tests.data.helpers import by_id
from tests.data.test_cli import run_cli
from tui_trainer.data.report import inspect_dataset

DIRTY = SAMPLE_DATA / "dirty"
AUTO = DIRTY / "auto_mpg.csv"
FORMATTED = DIRTY / "auto_mpg_formatted.csv"
SEATTLE = DIRTY / "seattle_weather.csv"
PENGUINS = SAMPLE_DATA / "penguins.csv"


def _columns(inspection) -> dict:
    return {c.name: c for c in inspection.profile.columns}


def _ids(inspection, id: str) -> dict:
    return by_id(inspection.findings, id)


def _numeric_like_pandas(col, series: pd.Series) -> None:
    values = series.dropna().to_numpy(dtype=float)
    assert col.kind == "numeric"
    assert col.missing == int(series.isna().sum())
    assert col.mean == pytest.approx(values.mean())
    assert col.std == pytest.approx(series.std())
    assert float(col.min) == values.min() and float(col.max) == values.max()


def test_question_mark_markers_in_auto_mpg_are_missing_numbers():
    inspection = inspect_dataset(AUTO)
    frame = pd.read_csv(AUTO, na_values=["?"])
    raw = pd.read_csv(AUTO, dtype=str, keep_default_na=False)
    hp = _columns(inspection)["Horsepower"]
    _numeric_like_pandas(hp, frame["Horsepower"])
    marker = _ids(inspection, "missing_marker")[("Horsepower",)]
    rows = raw.index[raw["Horsepower"] == "?"].tolist()
    assert marker.evidence["tokens"] == {"?": len(rows)} == {"?": 6}
    assert marker.evidence["examples"] == rows[:5]
    assert "na_values" in marker.fix and "--na-values" in marker.fix
    assert ("Horsepower",) not in _ids(inspection, "high_cardinality")
    assert _ids(inspection, "missing")[("Horsepower",)].evidence["count"] == 6


@pytest.mark.parametrize("token", ["-", "n.a.", "unknown", "--", " N/A"])
def test_penguins_with_a_dash_marker_profile_as_numbers_not_a_refusal(tmp_path: Path, token: str):
    # Penguins' two rows without measurements, written with the marker a spreadsheet export uses.
    text = PENGUINS.read_text(encoding="utf-8").splitlines()
    header = text[0].split(",")
    measured = [
        header.index(c) for c in ("bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g")
    ]
    lines = [text[0]]
    for line in text[1:]:
        cells = line.split(",")
        for i in measured:
            cells[i] = cells[i] or token
        lines.append(",".join(cells))
    path = tmp_path / "penguins_marked.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    inspection = inspect_dataset(path)
    frame = pd.read_csv(path, na_values=[token])
    for name in ("bill_length_mm", "body_mass_g"):
        _numeric_like_pandas(_columns(inspection)[name], frame[name])
        assert _ids(inspection, "missing_marker")[(name,)].evidence["tokens"] == {token: 2}


def test_marker_after_the_inferred_rows_is_read_as_missing(tmp_path: Path, subprocess_env):
    # 40 copies of penguins (13,760 rows): polars infers numbers from the first 10,000, the `?` comes later.
    frame = pl.read_csv(PENGUINS)
    late = pl.concat(
        [frame] * 39 + [frame.with_columns(pl.col("body_mass_g").cast(pl.String).fill_null("?"))],
        how="vertical_relaxed",
    )
    path = tmp_path / "late.csv"
    late.write_csv(path)
    result = run_cli([str(path), "--json"], subprocess_env)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    columns = {c["name"]: c for c in doc["columns"]}
    expected = pd.read_csv(path, na_values=["?"])["body_mass_g"]
    assert columns["body_mass_g"]["missing"] == int(expected.isna().sum()) == 80
    assert columns["body_mass_g"]["mean"] == pytest.approx(expected.mean())


def test_sentinel_minus_999_far_outside_is_missing(tmp_path: Path):
    frame = pd.read_csv(PENGUINS)
    frame["body_mass_g"] = frame["body_mass_g"].fillna(-999).astype(int)
    path = tmp_path / "sentinel.csv"
    frame.to_csv(path, index=False)
    inspection = inspect_dataset(path)
    reference = pd.read_csv(path, na_values={"body_mass_g": [-999]})["body_mass_g"]
    _numeric_like_pandas(_columns(inspection)["body_mass_g"], reference)
    found = _ids(inspection, "missing_marker")[("body_mass_g",)]
    assert found.evidence["tokens"] == {"-999": 2} and found.evidence["sentinel"] is True
    # A real 999 inside the data's range is not a sentinel.
    assert ("flipper_length_mm",) not in _ids(inspection, "missing_marker")


def test_na_values_flag_and_recipe_read_the_marker(tmp_path: Path, subprocess_env):
    result = run_cli([str(AUTO), "--na-values", "?", "--json"], subprocess_env)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    hp = next(c for c in doc["columns"] if c["name"] == "Horsepower")
    assert hp["missing"] == 6 and hp["kind"] == "numeric"
    assert not [f for f in doc["findings"] if f["id"] == "missing_marker"]  # the user already said so
    recipe = tmp_path / "r.toml"
    recipe.write_text('na_values = ["?"]\ndrop_missing = ["Horsepower"]\n', encoding="utf-8")
    out = tmp_path / "clean.parquet"
    applied = run_cli([str(AUTO), "--apply", str(recipe), "--out", str(out)], subprocess_env)
    assert applied.returncode == 0, applied.stderr
    clean = pl.read_parquet(out)
    assert clean.height == 406 - 6 and clean["Horsepower"].dtype.is_numeric()


def test_formatted_numbers_and_decimal_commas_are_parsed():
    inspection = inspect_dataset(FORMATTED)
    raw = pd.read_csv(FORMATTED, sep=";", dtype=str)
    weight = raw["Weight_in_lbs"].str.removesuffix(" lbs").str.replace(",", "").astype(float)
    accel = pd.read_csv(FORMATTED, sep=";", decimal=",")["Acceleration"]
    cols = _columns(inspection)
    _numeric_like_pandas(cols["Weight_in_lbs"], weight)
    _numeric_like_pandas(cols["Acceleration"], accel)
    w = _ids(inspection, "numeric_formatted")[("Weight_in_lbs",)]
    assert w.evidence["unit"] == "lbs" and w.evidence["style"] == "thousands_comma"
    assert (w.evidence["min"], w.evidence["max"]) == (weight.min(), weight.max())
    assert w.evidence["count"] == int(raw["Weight_in_lbs"].str.contains(",").sum())
    a = _ids(inspection, "numeric_formatted")[("Acceleration",)]
    assert a.evidence["style"] == "decimal_comma" and a.evidence["count"] == int(
        raw["Acceleration"].str.contains(",").sum()
    )
    mpg = pd.read_csv(FORMATTED, sep=";", na_values=["-"])["Miles_per_Gallon"]
    _numeric_like_pandas(cols["Miles_per_Gallon"], mpg)


def test_currency_with_markers_mixed_in(tmp_path: Path):
    # Penguins' body mass as a price list: "$3,750" with the missing ones written "-" and "none".
    frame = pd.read_csv(PENGUINS)
    mass = frame["body_mass_g"]
    text = [f"${int(v):,}" if pd.notna(v) else ("-" if i % 2 else "none") for i, v in enumerate(mass)]
    frame["price"] = text
    path = tmp_path / "prices.csv"
    frame.to_csv(path, index=False)
    inspection = inspect_dataset(path)
    price = _columns(inspection)["price"]
    _numeric_like_pandas(price, mass)
    found = _ids(inspection, "numeric_formatted")[("price",)]
    assert found.evidence["currency"] == "$" and found.evidence["max"] == mass.max()
    assert sum(_ids(inspection, "missing_marker")[("price",)].evidence["tokens"].values()) == 2


def test_dates_as_text_are_temporal_with_range_gaps_and_duplicates(tmp_path: Path):
    inspection = inspect_dataset(SEATTLE)
    reference = pd.to_datetime(pd.read_csv(SEATTLE)["date"], format="%Y/%m/%d")
    col = _columns(inspection)["date"]
    assert col.kind == "temporal" and col.dtype == "Date"
    rng = _ids(inspection, "temporal_range")[("date",)]
    assert rng.evidence["min"] == str(reference.min().date()) and rng.evidence["max"] == str(
        reference.max().date()
    )
    assert rng.evidence["monotonic"] == "increasing" and rng.evidence["distinct"] == reference.nunique()
    assert ("date",) not in _ids(inspection, "id_like")
    assert ("date",) not in _ids(inspection, "temporal_gaps")  # one row a day, no hole
    # The same file with a hole: drop 30 days of 2013.
    frame = pd.read_csv(SEATTLE)
    holed = frame.drop(index=range(400, 430))
    path = tmp_path / "holed.csv"
    holed.to_csv(path, index=False)
    gaps = _ids(inspect_dataset(path), "temporal_gaps")[("date",)]
    assert gaps.evidence["count"] == 1 and gaps.evidence["largest_gap_seconds"] == 31 * 86400
    # Auto MPG's model years: ISO dates, many cars per year.
    auto = inspect_dataset(AUTO)
    years = pd.read_csv(AUTO)["Year"]
    dup = _ids(auto, "temporal_duplicates")[("Year",)]
    assert dup.evidence["count"] == len(years) - years.nunique() == 394
    dotted = _columns(inspect_dataset(FORMATTED))["Year"]
    assert dotted.kind == "temporal" and str(dotted.min) == "1970-01-01"


def test_ambiguous_day_month_is_reported_not_guessed(tmp_path: Path, subprocess_env):
    frame = pd.read_csv(SEATTLE)
    when = pd.to_datetime(frame["date"], format="%Y/%m/%d")
    early = frame[when.dt.day <= 12].copy()  # every value reads both ways
    early["date"] = when[when.dt.day <= 12].dt.strftime("%d/%m/%Y")
    path = tmp_path / "ambiguous.csv"
    early.to_csv(path, index=False)
    inspection = inspect_dataset(path)
    found = _ids(inspection, "date_ambiguous")[("date",)]
    assert set(found.evidence["formats"]) == {"%d/%m/%Y", "%m/%d/%Y"}
    assert _columns(inspection)["date"].kind == "text"
    result = run_cli([str(path), "--date-format", "%d/%m/%Y", "--json"], subprocess_env)
    assert result.returncode == 0, result.stderr
    date = next(c for c in json.loads(result.stdout)["columns"] if c["name"] == "date")
    assert date["kind"] == "temporal" and date["max"] == str(when[when.dt.day <= 12].max().date())
    # Day-first values past the 12th settle it without a flag.
    frame["date"] = when.dt.strftime("%d/%m/%Y")
    path2 = tmp_path / "dayfirst.csv"
    frame.to_csv(path2, index=False)
    parsed = _ids(inspect_dataset(path2), "date_text")[("date",)]
    assert parsed.evidence["format"] == "%d/%m/%Y"


def test_flags_and_codes_are_categorical_not_outliers(tmp_path: Path):
    frame = pd.read_csv(SEATTLE)
    frame["rained"] = (frame["weather"] == "rain").astype(int)  # a 0/1 indicator
    path = tmp_path / "flags.csv"
    frame.to_csv(path, index=False)
    inspection = inspect_dataset(path)
    rained = _columns(inspection)["rained"]
    assert rained.kind == "categorical" and rained.outliers_zscore is None and rained.skew is None
    assert dict(rained.top) == {int(k): int(v) for k, v in frame["rained"].value_counts().items()}
    for id in ("outliers_zscore", "outliers_iqr", "skewed", "zeros"):
        assert ("rained",) not in _ids(inspection, id)
    # Penguins' year (3 values) and Auto MPG's cylinders (5 codes) too.
    assert _columns(inspect_dataset(PENGUINS))["year"].kind == "categorical"
    assert _columns(inspect_dataset(AUTO))["Cylinders"].kind == "categorical"


def test_float_label_is_regression_with_a_target_summary():
    inspection = inspect_dataset(AUTO, label="Miles_per_Gallon")
    assert not _ids(inspection, "imbalance").get(("Miles_per_Gallon",))
    target = _ids(inspection, "target_distribution")[("Miles_per_Gallon",)]
    values = pd.read_csv(AUTO, na_values=["?"])["Miles_per_Gallon"].dropna().to_numpy()
    q1, q3 = np.percentile(values, [25, 75])
    assert target.evidence["skew"] == pytest.approx(stats.skew(values))
    assert target.evidence["outliers_iqr"] == int(
        ((values < q1 - 1.5 * (q3 - q1)) | (values > q3 + 1.5 * (q3 - q1))).sum()
    )
    assert target.evidence["task"] == "regression"
    classified = inspect_dataset(AUTO, label="Miles_per_Gallon", task="classification")
    assert ("Miles_per_Gallon",) in _ids(classified, "imbalance")


def test_marker_spellings_inside_a_text_column_are_reported(tmp_path: Path):
    # Penguins' sex column as a hand-kept sheet writes it: some missing as "-", some as "unknown", some left empty.
    frame = pd.read_csv(PENGUINS)
    missing = frame.index[frame["sex"].isna()].tolist()
    frame.loc[missing[:4], "sex"] = "-"
    frame.loc[missing[4:7], "sex"] = "unknown"
    path = tmp_path / "sex.csv"
    frame.to_csv(path, index=False)
    inspection = inspect_dataset(path)
    found = _ids(inspection, "missing_marker")[("sex",)]
    assert found.evidence["tokens"] == {"-": 4, "unknown": 3} and found.evidence["converted"] is False
    assert found.evidence["examples"] == missing[:5]
    assert _columns(inspection)["sex"].missing == int(pd.read_csv(path)["sex"].isna().sum()) == 4


def test_month_name_dates_in_vega_stocks():
    path = DIRTY / "stocks.csv"
    inspection = inspect_dataset(path)
    reference = pd.to_datetime(pd.read_csv(path)["date"], format="%b %d %Y")
    col = _columns(inspection)["date"]
    assert col.kind == "temporal" and str(col.min) == str(reference.min().date())
    assert str(col.max) == str(reference.max().date()) and col.unique == reference.nunique()
    assert (
        _ids(inspection, "temporal_range")[("date",)].evidence["monotonic"] == "not sorted"
    )  # 5 symbols in turn
    dup = _ids(inspection, "temporal_duplicates")[("date",)]
    assert dup.evidence["count"] == len(reference) - reference.nunique()


def test_trailing_euro_with_decimal_commas(tmp_path: Path):
    frame = pd.read_csv(PENGUINS)
    mass = frame["body_mass_g"] / 100
    frame["price"] = [
        f"{v:,.2f} €".replace(",", " ").replace(".", ",") if pd.notna(v) else "" for v in mass
    ]  # 37,50 € and 1 234,50 € as a French sheet writes them
    path = tmp_path / "euros.csv"
    frame.to_csv(path, index=False)
    inspection = inspect_dataset(path)
    _numeric_like_pandas(_columns(inspection)["price"], mass)
    found = _ids(inspection, "numeric_formatted")[("price",)]
    assert found.evidence["currency"] == "€" and found.evidence["unit"] is None
    assert found.evidence["style"] == "decimal_comma"
