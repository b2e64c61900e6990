"""Label checks: class counts and imbalance (classification), the target's distribution (regression), conflicts.

The task is inferred from the label (leakage.infer_task: a float label, or an integer one with more than 50
values, is regression) unless `--task` says it.
"""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from tui_trainer.data.evidence import EXAMPLES
from tui_trainer.data.evidence import make_finding as _finding
from tui_trainer.data.leakage import infer_task, single_feature_scores
from tui_trainer.data.profile import Profile, clean, row_hash
from tui_trainer.data.thresholds import Thresholds
from tui_trainer.findings import Finding, Severity


def class_counts(lf: pl.LazyFrame, label: str, engine: str = "streaming") -> dict[str, int]:
    """Rows per class of `label`, missing labels (null, NaN) left out, most common first."""
    counts = (
        lf.select(clean(label, lf.collect_schema()[label]).alias(label))
        .drop_nulls()
        .group_by(label)
        .len()
        .sort(["len", label], descending=[True, False])
        .collect(engine=engine)
    )
    return {_key(v): int(n) for v, n in counts.iter_rows()}


def _key(value: Any) -> str:
    return str(value)


def label_task(
    lf: pl.LazyFrame,
    schema: pl.Schema,
    profile: Profile,
    label: str,
    task: str | None = None,
    engine: str = "auto",
) -> str:
    """The task the label implies (or `task` when given): "classification" or "regression" (leakage.infer_task)."""
    if task is not None:
        return task
    col = profile.column(label)
    integral = schema[label].is_integer()
    if schema[label].is_float():
        c = pl.col(label)
        finite = c.filter(c.is_finite())
        integral = bool(lf.select((finite == finite.round(0)).all()).collect(engine=engine).item())
    return infer_task(schema[label], col.unique or 0, integral=integral)


def label_checks(
    lf: pl.LazyFrame,
    schema: pl.Schema,
    profile: Profile,
    label: str,
    t: Thresholds,
    engine: str,
    task: str | None = None,
    seed: int = 0,
) -> list[Finding]:
    """Classification: imbalance and label_conflict; regression: target_distribution. Both: feature_predicts_label."""
    task = label_task(lf, schema, profile, label, task, engine)
    out = _predicts_label(lf, label, task, t, seed)
    if task == "regression":
        return out + _target_distribution(profile, label)
    return out + _classification_checks(lf, schema, profile, label, t, engine)


def _predicts_label(lf: pl.LazyFrame, label: str, task: str, t: Thresholds, seed: int) -> list[Finding]:
    out = []
    for score in single_feature_scores(lf, label, task=task, seed=seed):
        if score.gain < t.predicts_label:
            continue
        what = "accuracy" if task == "classification" else "R²"
        out.append(
            _finding(
                "feature_predicts_label",
                Severity.WARNING,
                f"{score.feature}: alone predicts {label} ({what} {score.score:.3f}, baseline {score.baseline:.3f})",
                f"A one-feature rule on {score.feature!r} (binned, fitted on 70% of {score.rows} labelled rows) scores "
                f"{what} {score.score:.3f} on the held-out 30%, against {score.baseline:.3f} for the "
                f"{'majority class' if task == 'classification' else 'mean'}: gain {score.gain:.2f} "
                f"(threshold {t.predicts_label:g}).",
                "Check it is not the label in disguise (a post-outcome field, an id sorted by class); if it is, drop it "
                "(drop_columns in a fix recipe). A genuinely strong feature can stay.",
                [score.feature, label],
                score.rows,
                [],
                feature=score.feature,
                score=score.score,
                baseline=score.baseline,
                gain=score.gain,
                method=score.method,
                task=task,
            )
        )
    return out


def _target_distribution(profile: Profile, label: str) -> list[Finding]:
    col = profile.column(label)
    skew = col.skew if col.skew is not None and math.isfinite(col.skew) else None
    return [
        _finding(
            "target_distribution",
            Severity.INFO,
            f"{label}: regression target, mean {col.mean:.4g}, median {_g(col.median)}, skewness {_g(skew)}",
            f"{label!r} is a regression target ({col.unique} distinct values): range {col.min} to {col.max}, "
            f"quartiles {_g(col.q25)} / {_g(col.median)} / {_g(col.q75)}, {col.outliers_iqr or 0} IQR outliers, "
            f"{col.missing} missing.",
            "A skewed target (|skewness| > 1) often trains better as log(target); check the outliers are real."
            if skew is not None and abs(skew) > 1
            else "No action needed.",
            [label],
            col.count,
            col.iqr_examples,
            task="regression",
            mean=col.mean,
            std=col.std,
            median=col.median,
            q1=col.q25,
            q3=col.q75,
            skew=skew,
            outliers_iqr=col.outliers_iqr or 0,
            outliers_zscore=col.outliers_zscore or 0,
        )
    ]


def _g(value) -> str:
    return "-" if value is None else f"{value:.4g}"


def _classification_checks(
    lf: pl.LazyFrame, schema: pl.Schema, profile: Profile, label: str, t: Thresholds, engine: str
) -> list[Finding]:
    out: list[Finding] = []
    counts = class_counts(lf, label, engine)
    missing_labels = profile.column(label).missing
    if counts:
        n = sum(counts.values())
        k = len(counts)
        majority, minority = max(counts.values()), min(counts.values())
        ratio = majority / minority
        weights = {cls: n / (k * c) for cls, c in counts.items()}
        minority_cls = [cls for cls, c in counts.items() if c == minority]
        imbalanced = ratio > t.imbalance
        out.append(
            _finding(
                "imbalance",  # the label's; categorical features get info-level ones (categories.py)
                Severity.WARNING if imbalanced else Severity.OK,
                f"{label}: majority/minority ratio {ratio:.2f} over {k} classes",
                f"Class counts of {label!r}: "
                + ", ".join(f"{cls}={c}" for cls, c in list(counts.items())[:10])
                + (" ..." if k > 10 else "")
                + (f"; {missing_labels} rows have no label" if missing_labels else ""),
                "Weight the loss by the class weights shown (n / (k * count)), or resample."
                if imbalanced
                else "Balanced enough; no action needed.",
                [label],
                n,
                [],
                class_counts=counts,
                ratio=ratio,
                class_weights=weights,
                minority=minority_cls,
                missing_labels=missing_labels,
            )
        )
    features = [c for c in schema.names() if c != label]
    if features and profile.rows:
        out += _label_conflict(lf, features, label, engine)
    return out


def _label_conflict(lf: pl.LazyFrame, features: list[str], label: str, engine: str) -> list[Finding]:
    """Rows whose feature values (all other columns) occur with more than one distinct label.

    Features are grouped by a 64-bit hash of the row (one pass, no sort), labels by value.
    """
    keyed = lf.select(row_hash(features, lf.collect_schema()).alias("__h"), pl.col(label))
    groups = (
        keyed.group_by("__h")
        .agg(pl.col(label).drop_nulls().n_unique().alias("labels"), pl.len().alias("rows"))
        .filter(pl.col("labels") > 1)
        .collect(engine=engine)
    )
    if groups.height == 0:
        return []
    count = int(groups["rows"].sum())
    examples = (
        keyed.with_row_index("__row")
        .filter(pl.col("__h").is_in(groups["__h"].implode()))
        .select("__row")
        .head(EXAMPLES)
        .collect(engine=engine)["__row"]
        .to_list()
    )
    return [
        _finding(
            "label_conflict",
            Severity.ERROR,
            f"{label}: {count} rows share features but disagree on the label",
            f"{groups.height} groups of identical feature values carry more than one label ({count} rows in all).",
            "Fix the labels, or drop the conflicting rows; a model cannot fit both.",
            [*features, label],
            count,
            examples,
            groups=groups.height,
        )
    ]
