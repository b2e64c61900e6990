"""Findings across columns on real data: correlated pairs, one feature predicting the label, spelling variants,
categorical feature imbalance — each compared with pandas/scipy computed independently."""

from __future__ import annotations

import unicodedata
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest
from scipy import stats
from scipy.stats.contingency import association

from tests.conftest import SAMPLE_DATA
from tests.data.helpers import by_id
from tui_trainer.data.leakage import single_feature_scores
from tui_trainer.data.report import inspect_dataset
from tui_trainer.data.thresholds import Thresholds

DIRTY = SAMPLE_DATA / "dirty"
AUTO = DIRTY / "auto_mpg.csv"
IRIS = DIRTY / "iris.csv"
PENGUINS = SAMPLE_DATA / "penguins.csv"


def _pairs(inspection) -> dict[frozenset, dict]:
    found = by_id(inspection.findings, "correlated")
    if not found:
        return {}
    (finding,) = found.values()
    return {frozenset(p["columns"]): p for p in finding.evidence["pairs"]}


def test_correlated_number_pairs_match_pandas_pairwise():
    inspection = inspect_dataset(AUTO)
    frame = pd.read_csv(AUTO, na_values=["?"])
    numbers = [c.name for c in inspection.profile.columns if c.kind == "numeric"]
    assert "Cylinders" not in numbers  # codes are categorical
    pearson, spearman = frame[numbers].corr(), frame[numbers].corr(method="spearman")
    expected = {
        frozenset((a, b))
        for a, b in combinations(numbers, 2)
        if max(abs(pearson.loc[a, b]), abs(spearman.loc[a, b])) >= 0.9
    }
    got = _pairs(inspection)
    assert {k for k, p in got.items() if "pearson" in p} == expected
    assert frozenset(("Displacement", "Weight_in_lbs")) in expected
    for pair in got.values():
        if "pearson" in pair:
            a, b = pair["columns"]
            assert pair["pearson"] == pytest.approx(pearson.loc[a, b])
            assert pair["spearman"] == pytest.approx(spearman.loc[a, b])
    # Pairwise rows with a missing value: Horsepower has 6 missing, pandas' pairwise r at a lower threshold.
    relaxed = _pairs(inspect_dataset(AUTO, thresholds=Thresholds(correlated=0.85)))
    hp = relaxed[frozenset(("Displacement", "Horsepower"))]
    assert hp["pearson"] == pytest.approx(pearson.loc["Displacement", "Horsepower"]) and hp["rows"] == 400


def test_cramers_v_for_categorical_pairs_matches_scipy():
    inspection = inspect_dataset(PENGUINS, thresholds=Thresholds(correlated=0.5))
    frame = pd.read_csv(PENGUINS)
    got = _pairs(inspection)
    for a, b in combinations(["species", "island", "sex", "year"], 2):
        both = frame[[a, b]].dropna()
        v = association(pd.crosstab(both[a], both[b]).to_numpy(), method="cramer")
        key = frozenset((a, b))
        if v >= 0.5:
            assert got[key]["cramers_v"] == pytest.approx(v)
        else:
            assert key not in got
    assert frozenset(("species", "island")) in got


def test_correlation_on_a_seeded_sample_says_its_size(monkeypatch):
    from tui_trainer.data import correlation

    monkeypatch.setattr(correlation, "SAMPLE_ROWS", 300)
    (finding,) = by_id(inspect_dataset(AUTO).findings, "correlated").values()
    size = finding.evidence["sample_rows"]
    assert finding.evidence["sampled"] is True and abs(size - 300) <= 3 * (300 * 106 / 406) ** 0.5  # binomial
    assert f"seeded sample of {size} of 406 rows" in finding.detail
    again = by_id(inspect_dataset(AUTO).findings, "correlated")
    assert next(iter(again.values())).evidence["pairs"] == finding.evidence["pairs"]  # same seed, same sample


def test_one_feature_predicting_the_label_is_flagged_and_healthy_data_is_silent(tmp_path: Path):
    iris = inspect_dataset(IRIS, label="species")
    flagged = {f.evidence["feature"]: f for f in iris.findings if f.id == "feature_predicts_label"}
    assert "petalWidth" in flagged and "sepalWidth" not in flagged
    assert flagged["petalWidth"].evidence["score"] > 0.9 > flagged["petalWidth"].evidence["baseline"] + 0.5
    # Penguins: no single measurement separates the three species; silent over several seeds.
    for seed in range(4):
        penguins = inspect_dataset(PENGUINS, label="species", seed=seed)
        assert not [f for f in penguins.findings if f.id == "feature_predicts_label"]
    # A leaked column (the label written as a code) is caught.
    frame = pd.read_csv(PENGUINS)
    frame["species_code"] = frame["species"].map({"Adelie": 10, "Gentoo": 20, "Chinstrap": 30})
    path = tmp_path / "leaky.csv"
    frame.to_csv(path, index=False)
    leaky = {
        f.evidence["feature"]
        for f in inspect_dataset(path, label="species").findings
        if f.id == "feature_predicts_label"
    }
    assert leaky == {"species_code"}


def test_single_feature_scores_accuracy_matches_a_hand_rule():
    frame = pl.read_csv(IRIS)
    scores = {s.feature: s for s in single_feature_scores(frame, "species", seed=3)}
    petal = scores["petalWidth"]
    assert petal.task == "classification" and petal.method == "binned_rule_holdout" and petal.rows == 150
    # The held-out baseline is the majority class of the training part scored on the held-out part.
    order = np.random.default_rng(3).permutation(150)
    train, test = order[:105], order[105:]
    y = frame["species"].to_numpy()
    majority = pd.Series(y[train]).value_counts().sort_index().idxmax()
    assert petal.baseline == pytest.approx(float((y[test] == majority).mean()))
    regression = single_feature_scores(
        pl.read_csv(AUTO, null_values=["?"], infer_schema_length=None), "Miles_per_Gallon"
    )
    assert {s.task for s in regression} == {"regression"} and all(s.baseline == 0.0 for s in regression)


def _key(value: str) -> str:
    # An independent spelling key: pandas string methods plus unicodedata.
    s = pd.Series([unicodedata.normalize("NFKD", value)])
    s = s.str.replace(r"[\u0300-\u036f]", "", regex=True).str.lower().str.replace(r"[\W_]+", "", regex=True)
    return s.iloc[0]


def test_category_variants_in_auto_mpg_names():
    inspection = inspect_dataset(AUTO)
    frame = pd.read_csv(AUTO)
    counts = frame["Name"].value_counts()
    grouped = pd.DataFrame({"value": counts.index, "n": counts.values})
    grouped["key"] = grouped["value"].map(_key)
    multi = grouped.groupby("key").filter(lambda g: len(g) > 1)
    expected = {frozenset(g["value"]) for _, g in multi.groupby("key")}
    (finding,) = by_id(inspection.findings, "category_variants").values()
    got = {frozenset(g) for g in finding.evidence["groups"]}
    assert got == expected and frozenset({"audi 100 ls", "audi 100ls"}) in got
    group = next(g for g in finding.evidence["groups"] if "audi 100ls" in g)
    assert group == {"audi 100ls": int(counts["audi 100ls"]), "audi 100 ls": int(counts["audi 100 ls"])}
    minority_rows = sum(g["n"].sum() - g["n"].max() for _, g in multi.groupby("key"))
    assert finding.evidence["count"] == minority_rows


def test_category_variants_case_space_and_accents(tmp_path: Path):
    frame = pd.read_csv(PENGUINS)
    frame.loc[[0, 5], "island"] = "torgersen"
    frame.loc[[7], "island"] = " Torgersen."
    frame.loc[[200], "island"] = "Dréam"
    path = tmp_path / "spellings.csv"
    frame.to_csv(path, index=False)
    (finding,) = by_id(inspect_dataset(path).findings, "category_variants").values()
    groups = {next(iter(g)): g for g in finding.evidence["groups"]}
    counts = frame["island"].value_counts()
    assert groups["Torgersen"] == {"Torgersen": counts["Torgersen"], "torgersen": 2, " Torgersen.": 1}
    assert groups["Dream"] == {"Dream": counts["Dream"], "Dréam": 1}


def test_imbalance_of_categorical_features_is_info():
    inspection = inspect_dataset(AUTO)
    found = by_id(inspection.findings, "imbalance")[("Cylinders",)]
    counts = pd.read_csv(AUTO)["Cylinders"].value_counts()
    assert found.severity.value == "info" and found.evidence["ratio"] == counts.max() / counts.min()
    assert found.evidence["value_counts"] == {str(k): int(v) for k, v in counts.items()}
    # The label's imbalance stays the warning-level one, and the JSON class_counts come from it.
    from tui_trainer.data.report import to_json

    doc = to_json(inspect_dataset(AUTO, label="Origin"))
    assert doc["class_counts"] == {k: int(v) for k, v in pd.read_csv(AUTO)["Origin"].value_counts().items()}
    assert stats  # scipy is the reference library of this module


def test_each_new_finding_offers_its_recipe_fix_and_its_rows():
    """What the Data pane's r key and Enter do, on the European export: the fixes read the file right."""
    from tui_trainer.data.checks import offending_rows
    from tui_trainer.data.fixes import add_fix
    from tui_trainer.data.load import open_dataset
    from tui_trainer.data.recipe import Recipe, apply_recipe

    path = DIRTY / "auto_mpg_formatted.csv"
    inspection = inspect_dataset(path)
    recipe = Recipe()
    added = {f.id: add_fix(recipe, f) for f in inspection.findings}
    assert recipe.na_values == ["-"] and recipe.parse_dates == {"Year": "%d.%m.%Y"}
    assert recipe.parse_numbers == {"Weight_in_lbs": "thousands_comma", "Acceleration": "decimal_comma"}
    assert recipe.merge_categories["Name"]["audi 100 ls"] == "audi 100ls"
    assert added["correlated"].startswith("drop ") and len(recipe.drop_columns) == 1
    clean = apply_recipe(open_dataset(path).lazy, recipe).collect()
    assert (
        recipe.drop_columns == ["Weight_in_lbs"] and "Weight_in_lbs" not in clean.columns
    )  # kept Displacement
    assert clean.schema["Acceleration"] == pl.Float64 and clean.schema["Year"] == pl.Date
    assert clean["Miles_per_Gallon"].null_count() == 8
    (variants,) = by_id(inspection.findings, "category_variants").values()
    rows = inspection.lf.select(
        offending_rows(variants, inspection.lf.collect_schema()).alias("hit")
    ).collect()
    assert int(rows["hit"].sum()) == variants.evidence["count"]
    (dups,) = by_id(inspection.findings, "temporal_duplicates").values()
    rows = inspection.lf.select(offending_rows(dups, inspection.lf.collect_schema()).alias("hit")).collect()
    assert int(rows["hit"].sum()) == dups.evidence["count"] == 394
