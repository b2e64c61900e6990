"""Label checks: class counts and imbalance (classification), the target's distribution (regression), conflicts.

The task is inferred from the label (leakage.infer_task: a float label, or an integer one with more than 50
values, is regression) unless `--task` says it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl

from tui_trainer.data.evidence import EXAMPLES
from tui_trainer.data.evidence import make_finding as _finding
from tui_trainer.data.leakage import infer_task, single_feature_scores
from tui_trainer.data.profile import Profile, clean, row_hash
from tui_trainer.data.stream_profile import value_counts
from tui_trainer.data.thresholds import Thresholds
from tui_trainer.findings import Finding, Severity


def class_counts(lf: pl.LazyFrame, label: str, engine: str = "streaming") -> dict[str, int]:
    """Rows per class of `label`, missing labels (null, NaN) left out, most common first."""
    counts = value_counts(lf, [clean(label, lf.collect_schema()[label]).alias(label)], engine)[label]
    return {_key(v): n for v, n in counts}


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
    out = _predicts_label(lf, label, task, t, seed, engine)
    if task == "regression":
        return out + _target_distribution(profile, label)
    return out + _classification_checks(lf, schema, profile, label, t, engine)


def _predicts_label(
    lf: pl.LazyFrame, label: str, task: str, t: Thresholds, seed: int, engine: str
) -> list[Finding]:
    out = []
    for score in single_feature_scores(lf, label, task=task, seed=seed, engine=engine):
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
    if engine == "streaming":
        group_count, count, examples = _streamed_conflicts(keyed, label)
    else:
        group_count, count, examples = _conflicts(keyed, label, engine)
    if group_count == 0:
        return []
    return [
        _finding(
            "label_conflict",
            Severity.ERROR,
            f"{label}: {count} rows share features but disagree on the label",
            f"{group_count} groups of identical feature values carry more than one label ({count} rows in all).",
            "Fix the labels, or drop the conflicting rows; a model cannot fit both.",
            [*features, label],
            count,
            examples,
            groups=group_count,
        )
    ]


def _conflicts(keyed: pl.LazyFrame, label: str, engine: str) -> tuple[int, int, list[int]]:
    """(groups, rows, first example rows) of feature hashes (`__h`) seen with more than one label."""
    groups = (
        keyed.group_by("__h")
        .agg(pl.col(label).drop_nulls().n_unique().alias("labels"), pl.len().alias("rows"))
        .filter(pl.col("labels") > 1)
        .collect(engine=engine)
    )
    if groups.height == 0:
        return 0, 0, []
    examples = (
        keyed.with_row_index("__row")
        .filter(pl.col("__h").is_in(groups["__h"].implode()))
        .select("__row")
        .head(EXAMPLES)
        .collect(engine=engine)["__row"]
        .to_list()
    )
    return groups.height, int(groups["rows"].sum()), examples


_KEYED = np.dtype([("h", "<u8"), ("label", "<u8"), ("missing", "u1"), ("row", "<i8")])


def _streamed_conflicts(keyed: pl.LazyFrame, label: str) -> tuple[int, int, list[int]]:
    """`_conflicts` in bounded memory: (feature hash, label hash, row) spilled to partition files by the
    feature hash, each partition grouped on its own (the streaming group_by holds every distinct row)."""
    import tempfile
    from pathlib import Path

    from tui_trainer.data import stream_profile

    parts = stream_profile.SPILL_PARTITIONS
    shift = np.uint64(64 - (parts - 1).bit_length())
    groups = rows = 0
    examples: list[int] = []
    with tempfile.TemporaryDirectory(prefix="tui-trainer-labels-") as tmp:
        paths = [Path(tmp) / f"{p:03d}.bin" for p in range(parts)]
        files = [path.open("wb") for path in paths]
        offset = 0
        for batch in stream_profile.batches(keyed.with_columns(pl.col(label).hash().alias("__l"))):
            records = np.empty(batch.height, dtype=_KEYED)
            records["h"] = batch["__h"].to_numpy()
            records["label"] = batch["__l"].to_numpy()
            records["missing"] = batch[label].is_null().to_numpy()
            records["row"] = np.arange(offset, offset + batch.height, dtype=np.int64)
            offset += batch.height
            part = (records["h"] >> shift).astype(np.intp)
            order = np.argsort(part, kind="stable")  # rows stay in file order within a partition
            bounds = np.searchsorted(part[order], np.arange(parts + 1))
            records = records[order]
            for p in range(parts):
                if bounds[p + 1] > bounds[p]:
                    records[bounds[p] : bounds[p + 1]].tofile(files[p])
        for f in files:
            f.close()
        for path in paths:
            records = np.fromfile(path, dtype=_KEYED)
            if not records.size:
                continue
            frame = pl.DataFrame({"__h": records["h"], "__l": records["label"], "__row": records["row"]})
            frame = frame.with_columns(
                pl.when(pl.Series(records["missing"].astype(bool)))
                .then(None)
                .otherwise(pl.col("__l"))
                .alias("__l")
            )
            found = (
                frame.group_by("__h")
                .agg(pl.col("__l").drop_nulls().n_unique().alias("labels"), pl.len().alias("rows"))
                .filter(pl.col("labels") > 1)
            )
            if found.height:
                groups += found.height
                rows += int(found["rows"].sum())
                hit = frame.filter(pl.col("__h").is_in(found["__h"].implode()))["__row"].head(EXAMPLES)
                examples = sorted(examples + hit.to_list())[:EXAMPLES]
    return groups, rows, examples
