"""Against a second file: rows present in both (`leakage`) and per-column distribution drift (`drift`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from tui_trainer.data.evidence import EXAMPLES
from tui_trainer.data.evidence import make_finding as _finding
from tui_trainer.data.profile import Profile, clean
from tui_trainer.data.thresholds import Thresholds
from tui_trainer.errors import UserError
from tui_trainer.findings import Finding, Severity


def against_checks(
    lf: pl.LazyFrame, other: pl.LazyFrame, other_name: str, profile: Profile, t: Thresholds, engine: str
) -> list[Finding]:
    schema, other_schema = lf.collect_schema(), other.collect_schema()
    common = [c for c in schema.names() if c in other_schema]
    if not common:
        raise UserError(f"--against {other_name}: it shares no column names with the inspected file")
    out: list[Finding] = []
    right = other.select([pl.col(c).cast(schema[c], strict=False) for c in common]).unique()
    leaked = (
        lf.select(common)
        .with_row_index("__row")
        .join(right, on=common, how="semi", nulls_equal=True)
        .select("__row")
        .sort("__row")
        .collect(engine=engine)
    )
    count = leaked.height
    out.append(
        _finding(
            "leakage",
            Severity.ERROR if count else Severity.OK,
            f"{count} rows also present in {other_name}",
            f"{count} rows of this file appear unchanged (columns {', '.join(common[:6])}{'...' if len(common) > 6 else ''}) "
            f"in {other_name}.",
            "Remove them from one side (usually the evaluation split) before training."
            if count
            else "No overlap.",
            common,
            count,
            leaked["__row"].head(EXAMPLES).to_list(),
            against=other_name,
        )
    )
    out += _drift(lf, other, schema, other_schema, common, other_name, t, engine)
    return out


def _drift(lf, other, schema, other_schema, common, other_name, t: Thresholds, engine: str) -> list[Finding]:
    from scipy import stats

    out: list[Finding] = []
    for name in common:
        a_type, b_type = schema[name], other_schema[name]
        a_num, b_num = _is_number(a_type), _is_number(b_type)
        if a_num and b_num:
            a = _finite(lf, name, a_type, engine)
            b = _finite(other, name, b_type, engine)
            if a.size == 0 or b.size == 0:
                continue
            result = stats.ks_2samp(a, b)
            test, statistic, p = "ks_2samp", float(result.statistic), float(result.pvalue)
        elif a_num or b_num:
            continue  # a number column on one side and text on the other: no common test
        else:
            ca = _counts(lf, name, engine)
            cb = _counts(other, name, engine)
            cats = sorted(set(ca) | set(cb), key=str)
            if len(cats) < 2:
                continue
            table = np.array([[ca.get(c, 0) for c in cats], [cb.get(c, 0) for c in cats]])
            result = stats.chi2_contingency(table)
            test, statistic, p = "chi2_contingency", float(result.statistic), float(result.pvalue)
        drifted = p < t.drift_p
        out.append(
            _finding(
                "drift",
                Severity.WARNING if drifted else Severity.OK,
                f"{name}: {'drift' if drifted else 'no drift'} against {other_name} (p={p:.3g})",
                f"{test} on {name!r}: statistic {statistic:.4g}, p-value {p:.3g} (threshold {t.drift_p:g}).",
                "The two files differ in this column; check how they were split or collected."
                if drifted
                else "The distributions agree at this threshold.",
                [name],
                0,
                [],
                test=test,
                statistic=statistic,
                p_value=p,
                against=other_name,
            )
        )
    return out


def _is_number(dtype: pl.DataType) -> bool:
    return dtype.is_numeric() and dtype != pl.Boolean


def _finite(lf: pl.LazyFrame, name: str, dtype: pl.DataType, engine: str) -> np.ndarray:
    values = lf.select(clean(name, dtype).cast(pl.Float64)).collect(engine=engine).to_series().to_numpy()
    return values[np.isfinite(values)]


def _counts(lf: pl.LazyFrame, name: str, engine: str) -> dict[Any, int]:
    frame = lf.select(pl.col(name).cast(pl.String)).drop_nulls().group_by(name).len().collect(engine=engine)
    return {v: int(n) for v, n in frame.iter_rows()}
