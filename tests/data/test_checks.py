"""Every finding on small frames with known answers (counted by hand in the comments)."""

from __future__ import annotations

import math

import polars as pl
import pytest

from tests.data.helpers import by_id, count, inspect_frame
from tui_trainer.data.checks import Thresholds
from tui_trainer.findings import Severity


def test_missing_counts_nulls_and_nan_per_column_with_example_rows():
    df = pl.DataFrame({"f": [1.0, None, float("nan"), 4.0], "s": ["a", None, "b", "c"], "ok": [1, 2, 3, 4]})
    profile, findings = inspect_frame(df)
    missing = by_id(findings, "missing")
    assert missing[("f",)].evidence["count"] == 2  # one null + one NaN
    assert missing[("f",)].evidence["examples"] == [1, 2]
    assert missing[("f",)].evidence["nulls"] == 1 and missing[("f",)].evidence["nan"] == 1
    assert missing[("s",)].evidence["count"] == 1
    assert ("ok",) not in missing
    assert (
        profile.column("f").nulls == 1 and profile.column("f").nan == 1 and profile.column("f").missing == 2
    )


def test_all_null_column_is_missing_everywhere_and_constant():
    df = pl.DataFrame({"x": [1, 2, 3], "empty": pl.Series([None, None, None], dtype=pl.Float64)})
    profile, findings = inspect_frame(df)
    assert count(findings, "missing", "empty") == 3
    assert by_id(findings, "missing")[("empty",)].severity == Severity.ERROR
    assert ("empty",) in by_id(findings, "constant")
    col = profile.column("empty")
    assert col.count == 0 and col.unique == 0 and col.outliers_zscore is None


def test_duplicates_count_rows_repeating_an_earlier_row():
    df = pl.DataFrame({"a": [1, 1, 1, 2, 2, 3], "b": ["x", "x", "x", "y", "z", "x"]})
    profile, findings = inspect_frame(df)
    dup = by_id(findings, "duplicates")[("a", "b")]
    assert dup.evidence["count"] == 2  # rows 1 and 2 repeat row 0
    assert dup.evidence["examples"] == [1, 2]
    assert profile.distinct_rows == 4 == df.unique().height


def test_duplicates_treat_nulls_nan_and_negative_zero_as_equal():
    df = pl.DataFrame({"a": [None, None, float("nan"), float("nan"), 0.0, -0.0]})
    profile, _ = inspect_frame(df)
    assert profile.duplicates == 3


def test_zscore_outliers_match_scipy_including_the_exact_boundary():
    from scipy import stats

    values = [0.0] * 9 + [1.0]  # z of the 1.0 is 3 in exact arithmetic, 2.9999999999999996 in floats
    df = pl.DataFrame({"v": values})
    _, findings = inspect_frame(df)
    expected = int((abs(stats.zscore(values)) > 3).sum())
    assert count(findings, "outliers_zscore", "v") == expected == 0
    values = [0.0] * 20 + [1.0]
    _, findings = inspect_frame(pl.DataFrame({"v": values}))
    assert count(findings, "outliers_zscore", "v") == 1
    assert by_id(findings, "outliers_zscore")[("v",)].evidence["examples"] == [20]


def test_zscore_ignores_nulls_and_nan_in_mean_and_std():
    from scipy import stats

    clean = [1.0, 2.0, 3.0, 2.0, 1.0, 2.0, 3.0, 2.0, 1.0, 2.0, 3.0, 2.0, 50.0]
    df = pl.DataFrame({"v": clean[:5] + [None, float("nan")] + clean[5:]})
    profile, findings = inspect_frame(df)
    assert count(findings, "outliers_zscore", "v") == int((abs(stats.zscore(clean)) > 3).sum()) == 1
    assert by_id(findings, "outliers_zscore")[("v",)].evidence["examples"] == [14]  # row index in the frame


def test_iqr_outliers_use_linear_quartiles_like_numpy():
    import numpy as np

    values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 30, -20]
    _, findings = inspect_frame(pl.DataFrame({"v": values}))
    q1, q3 = np.percentile(values, [25, 75])
    lo, hi = q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)
    expected = sum(1 for v in values if v < lo or v > hi)
    found = by_id(findings, "outliers_iqr")[("v",)]
    assert found.evidence["count"] == expected == 2
    assert found.evidence["lower"] == pytest.approx(lo) and found.evidence["upper"] == pytest.approx(hi)
    assert found.evidence["examples"] == [10, 11]


def test_outlier_thresholds_are_configurable():
    values = [float(i % 10) for i in range(50)] + [40.0, 60.0]
    df = pl.DataFrame({"v": values})
    _, strict = inspect_frame(df, thresholds=Thresholds(zscore=3.0))
    _, loose = inspect_frame(df, thresholds=Thresholds(zscore=10.0, iqr=100.0))
    assert count(strict, "outliers_zscore", "v") == 2 and count(strict, "outliers_iqr", "v") == 2
    assert count(loose, "outliers_zscore", "v") == 0 and count(loose, "outliers_iqr", "v") == 0


def test_imbalance_reports_class_counts_ratio_and_weights():
    df = pl.DataFrame({"x": list(range(12)), "y": ["a"] * 9 + ["b"] * 2 + ["c"]})
    _, findings = inspect_frame(df, label="y")
    imb = by_id(findings, "imbalance")[("y",)]
    assert imb.evidence["class_counts"] == {"a": 9, "b": 2, "c": 1}
    assert imb.evidence["ratio"] == 9.0
    assert imb.evidence["class_weights"]["c"] == pytest.approx(12 / (3 * 1))
    assert imb.severity == Severity.WARNING


def test_balanced_label_still_reports_class_counts_as_ok():
    df = pl.DataFrame({"x": [1, 2, 3, 4], "y": [0, 1, 0, 1]})
    _, findings = inspect_frame(df, label="y")
    imb = by_id(findings, "imbalance")[("y",)]
    assert imb.severity == Severity.OK and imb.evidence["class_counts"] == {"0": 2, "1": 2}


def test_label_conflict_counts_rows_whose_features_carry_two_labels():
    df = pl.DataFrame({"a": [1, 1, 2, 2, 3], "b": ["u", "u", "v", "v", "w"], "y": [0, 1, 1, 1, 0]})
    _, findings = inspect_frame(df, label="y")
    conflict = by_id(findings, "label_conflict")[("a", "b", "y")]
    assert conflict.evidence["count"] == 2 and conflict.evidence["groups"] == 1
    assert conflict.evidence["examples"] == [0, 1]


def test_constant_unique_id_like_and_high_cardinality():
    n = 60
    df = pl.DataFrame(
        {
            "const": ["same"] * n,
            "user_id": [f"u{i}" for i in range(n)],
            "city": [f"c{i % 55}" for i in range(n)],
            "x": [float(i) * 0.5 for i in range(n)],
        }
    )
    _, findings = inspect_frame(df)
    assert ("const",) in by_id(findings, "constant")
    assert ("user_id",) in by_id(findings, "id_like")
    assert ("city",) in by_id(findings, "high_cardinality") and ("city",) not in by_id(findings, "id_like")
    assert ("x",) in by_id(findings, "unique") and ("x",) not in by_id(findings, "id_like")


def test_numeric_as_string_infinite_zeros_and_skewed():
    df = pl.DataFrame(
        {
            "num_text": ["1", " 2.5", "3e2", None],
            "inf": [1.0, float("inf"), -float("inf"), 2.0],
            "zeros": [
                0.0,
                0.0,
                1.5,
                2.5,
            ],  # a measurement; a 0/1 integer flag is categorical (no zeros finding)
        }
    )
    skew_df = pl.DataFrame({"skewed": [1.0] * 20 + [100.0]})  # skewness ~4.1
    _, findings = inspect_frame(df)
    assert count(findings, "numeric_as_string", "num_text") == 3
    assert count(findings, "infinite", "inf") == 2
    assert by_id(findings, "infinite")[("inf",)].evidence["examples"] == [1, 2]
    assert count(findings, "zeros", "zeros") == 2
    _, skew_findings = inspect_frame(skew_df)
    from scipy import stats

    found = by_id(skew_findings, "skewed")[("skewed",)]
    assert found.evidence["skew"] == pytest.approx(stats.skew(skew_df["skewed"].to_numpy()))
    _, relaxed = inspect_frame(df, thresholds=Thresholds(zeros=0.6))
    assert count(relaxed, "zeros", "zeros") == 0
    _, relaxed_skew = inspect_frame(skew_df, thresholds=Thresholds(skew=50))
    assert ("skewed",) not in by_id(relaxed_skew, "skewed")


def test_one_row_frame_profiles_without_noise():
    df = pl.DataFrame({"a": [1.5], "b": ["x"], "y": [1]})
    profile, findings = inspect_frame(df, label="y")
    assert profile.rows == 1 and profile.duplicates == 0
    assert [f.id for f in findings] == ["imbalance"]
    col = profile.column("a")
    assert col.mean == 1.5 and col.q25 == 1.5 and col.outliers_zscore == 0 and col.outliers_iqr == 0


def test_empty_frame_with_columns():
    df = pl.DataFrame({"a": pl.Series([], dtype=pl.Float64)})
    profile, findings = inspect_frame(df)
    assert profile.rows == 0 and [f.id for f in findings] == ["empty"]  # one finding, nothing per column


def test_unicode_and_odd_column_names():
    df = pl.DataFrame(
        {
            "naïve température °C": [1.0, None, 3.0, 1000.0] + [2.0] * 20,
            'a b,c"d': ["é", "é", "日本", None] + ["x"] * 20,
            "": [1] * 24,
            "1st": list(range(24)),
        }
    )
    profile, findings = inspect_frame(df, label='a b,c"d')
    assert count(findings, "missing", "naïve température °C") == 1
    assert count(findings, "missing", 'a b,c"d') == 1
    assert count(findings, "outliers_zscore", "naïve température °C") == 1
    assert ("",) in by_id(findings, "constant")
    assert by_id(findings, "imbalance")[('a b,c"d',)].evidence["class_counts"] == {"x": 20, "é": 2, "日本": 1}
    assert profile.column('a b,c"d').top[0] == ("x", 20)


def test_leakage_and_drift_against_another_frame():
    import numpy as np

    rng = np.random.default_rng(0)
    train = pl.DataFrame({"x": rng.normal(size=500), "c": rng.choice(["a", "b"], 500)})
    test = pl.concat(
        [
            train.head(7),
            pl.DataFrame(
                {"x": rng.normal(loc=2.0, size=300), "c": rng.choice(["a", "b"], 300, p=[0.9, 0.1])}
            ),
        ]
    )
    _, findings = inspect_frame(train, against=test.lazy(), against_name="test.parquet")
    leak = by_id(findings, "leakage")[("x", "c")]
    assert leak.evidence["count"] == 7 and leak.evidence["examples"] == [0, 1, 2, 3, 4]
    drift = by_id(findings, "drift")
    assert drift[("x",)].evidence["test"] == "ks_2samp" and drift[("x",)].evidence["p_value"] < 1e-6
    assert drift[("c",)].evidence["test"] == "chi2_contingency" and drift[("c",)].severity == Severity.WARNING
    from scipy import stats

    assert drift[("x",)].evidence["p_value"] == pytest.approx(stats.ks_2samp(train["x"], test["x"]).pvalue)


def test_synthetic_share_warns_above_one_percent_and_points_to_collapse():
    df = pl.DataFrame({"x": list(range(200)), "source": ["real"] * 196 + ["synthetic"] * 4})
    _, findings = inspect_frame(df, provenance="source")
    share = by_id(findings, "synthetic_share")[("source",)]
    assert share.evidence["count"] == 4 and math.isclose(share.evidence["share"], 0.02)
    assert share.severity == Severity.WARNING
    assert "tui-trainer collapse --real-fraction 0.98" in share.fix
    at_limit = pl.DataFrame(
        {"x": list(range(200)), "source": ["real"] * 198 + ["synthetic"] * 2}
    )  # exactly 1%
    _, ok = inspect_frame(at_limit, provenance="source")
    assert by_id(ok, "synthetic_share")[("source",)].severity == Severity.OK


def test_unknown_label_column_is_a_user_error():
    from tui_trainer.errors import UserError

    with pytest.raises(UserError, match="--label 'nope'"):
        inspect_frame(pl.DataFrame({"a": [1]}), label="nope")


def test_offending_rows_filter_selects_exactly_the_counted_rows():
    import numpy as np

    from tui_trainer.data.checks import offending_rows

    rng = np.random.default_rng(3)
    x = rng.normal(size=400)
    x[[5, 50, 300]] = [9.0, -8.0, 12.0]
    x[[7, 8]] = np.nan
    df = pl.DataFrame({"x": x, "k": rng.integers(0, 3, 400), "z": [0.0] * 100 + [1.0] * 300})
    df = pl.concat([df, df.slice(10, 4)])
    _, findings = inspect_frame(df)
    checked = 0
    for finding in findings:
        condition = offending_rows(finding, df.schema)
        if condition is None:
            continue
        selected = df.filter(condition).height
        assert selected == finding.evidence["count"], finding.id
        checked += 1
    assert {"missing", "outliers_zscore", "outliers_iqr", "duplicates", "zeros"} <= {f.id for f in findings}
    assert checked >= 5


def test_long_float_columns_get_an_estimated_distinct_count(monkeypatch):
    from tui_trainer.data import profile as profile_module
    from tui_trainer.data.checks import CheckOptions, run_checks
    from tui_trainer.data.profile import profile_frame

    monkeypatch.setattr(profile_module, "APPROX_UNIQUE_ROWS", 100)
    df = pl.DataFrame({"x": [float(i) for i in range(300)], "k": list(range(300))})
    profile = profile_frame(df.lazy(), engine="auto", rows_hint=df.height)
    x, k = profile.column("x"), profile.column("k")
    # 300 distinct values give a hash sample too small for the documented bound: counted exactly instead.
    assert not x.unique_approx and x.unique == 300
    assert not k.unique_approx and k.unique == 300  # integers stay exact (id-like detection needs them)
    findings = run_checks(df.lazy(), profile, CheckOptions(engine="auto"))
    assert ("x",) in by_id(findings, "unique") and ("k",) in by_id(findings, "id_like")
    assert profile_frame(df.lazy(), engine="auto").column("x").unique == 300  # no hint: exact


def test_nan_labels_are_missing_not_a_class():
    df = pl.DataFrame({"x": [1, 2, 3, 4, 5], "y": [0.0, 1.0, float("nan"), 1.0, None]})
    _, findings = inspect_frame(df, label="y")
    imb = by_id(findings, "imbalance")[("y",)]
    assert imb.evidence["class_counts"] == {"1.0": 2, "0.0": 1} and imb.evidence["missing_labels"] == 2
