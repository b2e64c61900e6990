"""The data findings: missing, duplicates, outliers, imbalance, leakage, drift and the rest, with their evidence.

Every finding's evidence carries `columns`, `count` and `examples` (0-based row indices); definitions are
spelled out in the README and in each check's docstring, because the counts are compared with
independent computations.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from tui_trainer.data.categories import category_findings
from tui_trainer.data.correlation import correlated
from tui_trainer.data.dates import temporal_findings
from tui_trainer.data.drift import against_checks
from tui_trainer.data.evidence import make_finding as _finding
from tui_trainer.data.label import class_counts, label_checks  # noqa: F401 - class_counts is public API here
from tui_trainer.data.profile import Profile, clean, first_rows, row_hash
from tui_trainer.data.thresholds import Thresholds
from tui_trainer.errors import UserError
from tui_trainer.findings import Finding, Severity, sort_findings

SYNTHETIC_MARKERS = re.compile(r"synth|generat|fake|simulat|artificial|^ai$|^model$|^llm", re.IGNORECASE)


@dataclass
class CheckOptions:
    label: str | None = None
    against: pl.LazyFrame | None = None
    against_name: str = ""
    provenance: str | None = None
    thresholds: Thresholds | None = None
    engine: str = "streaming"
    task: str | None = None  # "classification" | "regression"; None: inferred from the label
    seed: int = 0  # seeds the samples (correlation at large sizes, the leakage hold-out split)
    extra: list[Finding] = field(
        default_factory=list
    )  # findings made while reading (markers, formats, dates)


def run_checks(lf: pl.LazyFrame, profile: Profile, options: CheckOptions | None = None) -> list[Finding]:
    """All findings for a profiled frame, worst first."""
    options = options or CheckOptions()
    t = options.thresholds or Thresholds()
    schema = lf.collect_schema()
    for name, what in ((options.label, "--label"), (options.provenance, "--provenance")):
        if name is not None and name not in schema:
            raise UserError(f"{what} {name!r}: no such column; columns: {', '.join(schema.names())}")
    findings: list[Finding] = list(options.extra)
    engine = options.engine
    examples = _examples(lf, schema, profile, t, engine) if profile.rows else {}
    if not profile.rows:
        findings.append(
            _finding(
                "empty",
                Severity.ERROR,
                "no rows",
                f"The file has {len(profile.columns)} columns and no data rows.",
                "Check the export or the path: nothing here can be trained on.",
                profile.names,
                0,
                [],
            )
        )
    findings += _missing(profile, t, examples)
    findings += _duplicates(profile)
    findings += _outliers(profile)
    findings += _column_shape(profile, t, examples)
    findings += temporal_findings(lf, profile, engine)
    findings += category_findings(lf, profile, t, engine, label=options.label)
    findings += correlated(lf, profile, t, engine, seed=options.seed, label=options.label)
    if options.label is not None:
        findings += label_checks(lf, schema, profile, options.label, t, engine, options.task, options.seed)
    if options.provenance is not None:
        findings += _synthetic_share(lf, profile, options.provenance, t, engine)
    if options.against is not None:
        findings += against_checks(lf, options.against, options.against_name, profile, t, engine)
    return sort_findings(findings)


# ----- example rows --------------------------------------------------------------------------------
def _examples(
    lf: pl.LazyFrame, schema: pl.Schema, profile: Profile, t: Thresholds, engine: str
) -> dict[str, list[int]]:
    """First row indices for each one-column finding; each scan stops as soon as it has them."""
    out: dict[str, list[int]] = {}
    rows = profile.rows
    for col in profile.columns:
        name, dtype = col.name, schema[col.name]
        c = pl.col(name)
        if col.missing and col.missing / rows > t.missing:
            out[f"missing:{name}"] = first_rows(
                lf, c.is_null() | c.is_nan() if dtype.is_float() else c.is_null(), engine
            )
        if col.zeros and col.count and col.zeros / col.count > t.zeros:
            out[f"zeros:{name}"] = first_rows(lf, c == 0, engine)
        if col.infinite and col.infinite / rows > t.infinite:
            out[f"infinite:{name}"] = first_rows(lf, c.is_infinite(), engine)
        if col.kind == "text" and col.numeric_strings and col.numeric_strings == col.count:
            out[f"numeric_as_string:{name}"] = first_rows(lf, c.is_not_null(), engine)
    return out


# ----- missing / duplicates ------------------------------------------------------------------------
def _missing(profile: Profile, t: Thresholds, ex: dict[str, Any]) -> list[Finding]:
    out = []
    for col in profile.columns:
        if not col.missing or col.missing / profile.rows <= t.missing:
            continue
        share = col.missing / profile.rows
        nan_note = f" ({col.nulls} null, {col.nan} NaN)" if col.nan else ""
        out.append(
            _finding(
                "missing",
                Severity.ERROR if col.missing == profile.rows else Severity.WARNING,
                f"{col.name}: {col.missing} missing values ({share:.1%})",
                f"Column {col.name!r} has {col.missing} of {profile.rows} values missing{nan_note}.",
                "Drop the rows missing it, fill it (mean/median/mode/constant) in a fix recipe, or drop the column.",
                [col.name],
                col.missing,
                ex.get(f"missing:{col.name}"),
                nulls=col.nulls,
                nan=col.nan,
                share=share,
            )
        )
    return out


def _duplicates(profile: Profile) -> list[Finding]:
    count = profile.duplicates
    if count <= 0:
        return []
    return [
        _finding(
            "duplicates",
            Severity.WARNING,
            f"{count} duplicate rows ({count / profile.rows:.1%})",
            f"{count} rows repeat an earlier row exactly (all columns); dropping them leaves {profile.distinct_rows} rows.",
            "Add drop_duplicates = true to a fix recipe (key d in the Data pane).",
            profile.names,
            count,
            profile.duplicate_examples,
            distinct_rows=profile.distinct_rows,
        )
    ]


# ----- outliers ------------------------------------------------------------------------------------
def _outliers(profile: Profile) -> list[Finding]:
    """Counted in the profile (profile.py): z as scipy.stats.zscore, quartiles as np.percentile (linear)."""
    out = []
    z, k = profile.zscore, profile.iqr
    for col in profile.columns:
        if col.outliers_zscore:
            out.append(
                _finding(
                    "outliers_zscore",
                    Severity.INFO,
                    f"{col.name}: {col.outliers_zscore} outliers with |z| > {z:g}",
                    f"{col.outliers_zscore} of {col.count} values of {col.name!r} lie more than {z:g} standard deviations "
                    f"(population, ddof=0) from the mean {col.mean:.6g}.",
                    "Check them; clip or drop them by the z-score rule in a fix recipe if they are errors.",
                    [col.name],
                    col.outliers_zscore,
                    col.zscore_examples,
                    threshold=z,
                    mean=col.mean,
                    std=col.std_pop,
                )
            )
        if col.outliers_iqr:
            lo, hi = col.iqr_bounds
            out.append(
                _finding(
                    "outliers_iqr",
                    Severity.INFO,
                    f"{col.name}: {col.outliers_iqr} outliers outside [{lo:.6g}, {hi:.6g}]",
                    f"{col.outliers_iqr} of {col.count} values of {col.name!r} fall below Q1 - {k:g}*IQR or above "
                    f"Q3 + {k:g}*IQR (Q1 {col.q25:.6g}, Q3 {col.q75:.6g}, linear interpolation).",
                    "Check them; clip or drop them by the IQR rule in a fix recipe if they are errors.",
                    [col.name],
                    col.outliers_iqr,
                    col.iqr_examples,
                    k=k,
                    lower=lo,
                    upper=hi,
                    q1=col.q25,
                    q3=col.q75,
                )
            )
    return out


# ----- one-column shape checks ---------------------------------------------------------------------
def _column_shape(profile: Profile, t: Thresholds, ex: dict[str, Any]) -> list[Finding]:
    out: list[Finding] = []
    rows = profile.rows
    if rows < 2:
        return out  # one row: every column is trivially constant and unique; say nothing
    for col in profile.columns:
        name = col.name
        distinct = col.unique if col.unique is not None else None
        if distinct is not None and distinct <= 1:
            what = (
                "only missing values"
                if distinct == 0
                else f"one value ({col.top[0][0]!r})"
                if col.top
                else "one value"
            )
            out.append(
                _finding(
                    "constant",
                    Severity.WARNING,
                    f"{name}: constant ({what})",
                    f"Column {name!r} has {what} across {rows} rows, so it carries no information.",
                    "Drop it (drop_constant = true in a fix recipe, key c in the Data pane).",
                    [name],
                    rows,
                    [],
                    distinct=distinct,
                )
            )
            continue
        if distinct is not None and col.count >= 2:
            ratio = distinct / col.count
            id_kind = col.kind == "text" or (col.kind == "numeric" and col.dtype.startswith(("Int", "UInt")))
            if id_kind and ratio >= t.id_like:
                out.append(
                    _finding(
                        "id_like",
                        Severity.WARNING,
                        f"{name}: looks like an identifier ({distinct} distinct of {col.count})",
                        f"{ratio:.1%} of the values of {name!r} are distinct; a model can memorise rows through it.",
                        "Exclude it from the features (keep it only to join or trace rows).",
                        [name],
                        distinct,
                        [],
                        distinct=distinct,
                        ratio=ratio,
                    )
                )
            elif col.kind == "text" and distinct > t.high_cardinality:
                out.append(
                    _finding(
                        "high_cardinality",
                        Severity.INFO,
                        f"{name}: {distinct} distinct values",
                        f"Text column {name!r} has {distinct} distinct values (threshold {t.high_cardinality}).",
                        "Group rare values, hash or embed them instead of one-hot encoding.",
                        [name],
                        distinct,
                        [],
                        distinct=distinct,
                    )
                )
            if (
                ratio >= t.unique and not col.unique_approx and col.kind != "temporal"
            ):  # temporal_range says it
                out.append(
                    _finding(
                        "unique",
                        Severity.INFO,
                        f"{name}: every value is distinct",
                        f"All {col.count} non-missing values of {name!r} are distinct.",
                        "Fine for a continuous measurement; for a text or integer column it is likely an id.",
                        [name],
                        distinct,
                        [],
                        distinct=distinct,
                    )
                )
        if col.kind == "text" and col.numeric_strings and col.numeric_strings == col.count:
            out.append(
                _finding(
                    "numeric_as_string",
                    Severity.WARNING,
                    f"{name}: numbers stored as text",
                    f"All {col.count} non-missing values of {name!r} parse as numbers but the column is {col.dtype}.",
                    f"Cast it: pl.col({name!r}).str.strip_chars().cast(pl.Float64).",
                    [name],
                    col.count,
                    ex.get(f"numeric_as_string:{name}"),
                )
            )
        if col.infinite and col.infinite / rows > t.infinite:
            out.append(
                _finding(
                    "infinite",
                    Severity.WARNING,
                    f"{name}: {col.infinite} infinite values",
                    f"{col.infinite} values of {name!r} are +inf or -inf; they poison means and losses.",
                    "Replace them with null and fill, or drop those rows.",
                    [name],
                    col.infinite,
                    ex.get(f"infinite:{name}"),
                )
            )
        if col.zeros and col.count and col.zeros / col.count > t.zeros:
            out.append(
                _finding(
                    "zeros",
                    Severity.INFO,
                    f"{name}: {col.zeros} zeros ({col.zeros / col.count:.1%})",
                    f"{col.zeros / col.count:.1%} of the values of {name!r} are 0 (threshold {t.zeros:.0%}).",
                    "Check whether 0 stands for missing; if so, turn it into null and fill.",
                    [name],
                    col.zeros,
                    ex.get(f"zeros:{name}"),
                    share=col.zeros / col.count,
                )
            )
        if col.skew is not None and math.isfinite(col.skew) and abs(col.skew) > t.skew:
            out.append(
                _finding(
                    "skewed",
                    Severity.INFO,
                    f"{name}: skewed (skewness {col.skew:.2f})",
                    f"The distribution of {name!r} has skewness {col.skew:.3g} (|threshold| {t.skew:g}).",
                    "Consider a log or rank transform before training.",
                    [name],
                    col.count,
                    [],
                    skew=col.skew,
                )
            )
    return out


# ----- provenance ----------------------------------------------------------------------------------
def _is_synthetic(dtype: pl.DataType, name: str) -> pl.Expr:
    c = pl.col(name)
    if dtype == pl.Boolean:
        return c.fill_null(False)
    if dtype.is_numeric():
        return (c == 1).fill_null(False)
    return c.cast(pl.String).str.strip_chars().str.contains(SYNTHETIC_MARKERS.pattern).fill_null(False)


def _synthetic_share(
    lf: pl.LazyFrame, profile: Profile, provenance: str, t: Thresholds, engine: str
) -> list[Finding]:
    from tui_trainer.collapse.advice import synthetic_share_advice

    dtype = lf.collect_schema()[provenance]
    flag = _is_synthetic(dtype, provenance)
    count = int(lf.select(flag.sum()).collect(engine=engine).item() or 0)
    examples = first_rows(lf, flag, engine) if count else []
    share = count / profile.rows if profile.rows else 0.0
    real = 1.0 - share
    warn = share > t.synthetic
    return [
        _finding(
            "synthetic_share",
            Severity.WARNING if warn else Severity.OK,
            f"{provenance}: {share:.2%} synthetic rows",
            f"{count} of {profile.rows} rows are marked synthetic in {provenance!r}; model collapse has been reported "
            f"once synthetic data passes about {t.synthetic:.0%} of training data.",
            synthetic_share_advice(share)
            + " In the app: k in the Data pane opens the collapse lab at this share."
            if warn
            else "Below the threshold.",
            [provenance],
            count,
            examples,
            share=share,
            real_fraction=real,
        )
    ]


def findings_to_json(findings: list[Finding]) -> list[dict[str, Any]]:
    """Findings with their evidence flattened to the top level (`id`, `severity`, `columns`, `count`, ...)."""
    out = []
    for finding in findings:
        item: dict[str, Any] = {
            "id": finding.id,
            "severity": finding.severity.value,
            "title": finding.title,
            "detail": finding.detail,
            "fix": finding.fix,
        }
        for key, value in finding.evidence.items():
            item.setdefault(key, _plain(value))
        out.append(item)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


def offending_rows(finding: Finding, schema: pl.Schema) -> pl.Expr | None:
    """A filter selecting every row a finding is about, or None where only its example rows can be shown."""
    columns = finding.evidence.get("columns") or []
    ev = finding.evidence
    if finding.id == "duplicates" and columns:
        return ~row_hash(list(columns), schema).is_first_distinct()
    if len(columns) != 1 or columns[0] not in schema:
        return None
    name = columns[0]
    dtype = schema[name]
    c = pl.col(name)
    f = clean(name, dtype).cast(pl.Float64) if dtype.is_numeric() else None
    if finding.id == "missing":
        return c.is_null() | c.is_nan() if dtype.is_float() else c.is_null()
    if finding.id == "zeros":
        return c == 0
    if finding.id == "infinite":
        return c.is_infinite()
    if finding.id == "outliers_zscore" and f is not None and ev.get("std"):
        return f.is_finite() & (((f - ev["mean"]) / ev["std"]).abs() > ev["threshold"])
    if finding.id == "outliers_iqr" and f is not None and "lower" in ev:
        return f.is_finite() & ((f < ev["lower"]) | (f > ev["upper"]))
    if finding.id == "synthetic_share":
        return _is_synthetic(dtype, name)
    if finding.id == "category_variants" and ev.get("merge"):
        return c.cast(pl.String).is_in(list(ev["merge"]))  # the rows written a less common way
    if finding.id == "imbalance" and ev.get("feature") and ev.get("minority"):
        return c.cast(pl.String).is_in([str(v) for v in ev["minority"]])
    if finding.id == "missing_marker" and ev.get("converted") is False and ev.get("tokens"):
        return c.cast(pl.String).is_in(list(ev["tokens"]))  # still text: the marker cells themselves
    if finding.id == "temporal_duplicates":
        return c.is_not_null() & ~c.is_first_distinct()
    if finding.id == "target_distribution" and f is not None and ev.get("q1") is not None:
        lo, hi = ev["q1"] - 1.5 * (ev["q3"] - ev["q1"]), ev["q3"] + 1.5 * (ev["q3"] - ev["q1"])
        return f.is_finite() & ((f < lo) | (f > hi))
    return None
