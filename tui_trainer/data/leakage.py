"""Does one feature alone predict the label? A binned one-feature rule scored on a held-out part.

Shared by the `feature_predicts_label` data finding and the Train pane's preflight, so both say the same
thing about the same file. Pure numpy/polars: no torch, no scipy, no sklearn.

Method (`binned_rule_holdout`): rows with a label are shuffled with `seed` and split 70/30. A number
feature with more than BINS distinct values is cut at the training part's quantiles into BINS bins; any
other feature uses its values as bins (missing is a bin of its own). Classification: each bin predicts
its most common training label, a bin unseen in training the overall most common one; the score is the
held-out accuracy and the baseline the held-out accuracy of always predicting the training majority.
Regression: each bin predicts its training mean; the score is the held-out R² against the training mean
(baseline 0). `gain` = (score - baseline) / (1 - baseline): 0 no better than the baseline, 1 perfect.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from tui_trainer.data.sample import collect_sample

BINS = 20
TRAIN_SHARE = 0.7
MIN_ROWS = 30  # fewer labelled rows than this: no scores (a held-out part of < 9 rows says nothing)
MAX_ROWS = 50_000  # a seeded sample of this many labelled rows at most (held-out part: 15,000)
FLOAT_CLASSES = 10  # a float label of at most this many whole-number values is a class label


@dataclass(frozen=True)
class FeatureScore:
    feature: str
    score: float  # held-out accuracy (classification) or R² (regression) of the one-feature rule
    baseline: float  # majority-class accuracy, or 0.0 (R² of the training mean)
    gain: float  # (score - baseline) / (1 - baseline)
    method: str  # "binned_rule_holdout"
    task: str  # "classification" or "regression"
    rows: int  # labelled rows used (train + held-out)


def infer_task(dtype: pl.DataType, distinct: int, *, integral: bool = False, max_classes: int = 50) -> str:
    """Regression for a float label (unless its values are whole numbers with at most FLOAT_CLASSES of them, as
    0.0/1.0 written by pandas), or an integer label with more than `max_classes` values; else classification."""
    if dtype.is_float():
        return "classification" if integral and distinct <= FLOAT_CLASSES else "regression"
    if dtype.is_integer() and distinct > max_classes:
        return "regression"
    return "classification"


def single_feature_scores(
    frame: pl.DataFrame | pl.LazyFrame,
    label: str,
    *,
    task: str | None = None,
    seed: int = 0,
    features: list[str] | None = None,
    engine: str = "auto",
) -> list[FeatureScore]:
    """One FeatureScore per feature (every other column unless `features` is given), best gain first."""
    lf = frame.lazy() if isinstance(frame, pl.DataFrame) else frame
    schema = lf.collect_schema()
    if label not in schema:
        raise KeyError(label)
    features = [c for c in (features or schema.names()) if c != label]
    y_expr = pl.col(label).fill_nan(None) if schema[label].is_float() else pl.col(label)
    chosen = lf.select([y_expr.alias(label), *features])
    total = chosen.filter(pl.col(label).is_not_null()).select(pl.len()).collect(engine=engine).item()
    data = collect_sample(chosen, total, MAX_ROWS, seed, engine, where=pl.col(label).is_not_null())
    n = data.height
    if n < MIN_ROWS or not features:
        return []
    if task is None:
        task = infer_task(schema[label], data[label].n_unique(), integral=_integral(data[label]))
    order = np.random.default_rng(seed).permutation(n)
    cut = int(round(n * TRAIN_SHARE))
    train, test = order[:cut], order[cut:]
    if task == "regression":
        y = data[label].cast(pl.Float64).to_numpy()
    else:
        y = _codes(data[label])
    out = []
    for name in features:
        bins = _bins(data[name], train)
        if task == "regression":
            score, baseline = _r2(bins, y, train, test), 0.0
        else:
            score, baseline = _accuracy(bins, y, train, test)
        gain = (score - baseline) / (1.0 - baseline) if baseline < 1.0 else 0.0
        out.append(
            FeatureScore(name, float(score), float(baseline), float(gain), "binned_rule_holdout", task, n)
        )
    return sorted(out, key=lambda s: (-s.gain, s.feature))


def _integral(values: pl.Series) -> bool:
    if not values.dtype.is_float():
        return values.dtype.is_integer()
    finite = values.filter(values.is_finite())
    return bool(finite.len() and (finite == finite.round(0)).all())


def _bins(values: pl.Series, train: np.ndarray) -> np.ndarray:
    """An integer bin per row; -1 is missing."""
    dtype = values.dtype
    if dtype.is_numeric() and dtype != pl.Boolean and values.n_unique() > BINS:
        x = values.cast(pl.Float64).fill_nan(None).to_numpy()
        present = ~np.isnan(x)
        fit = x[train][present[train]]
        if fit.size == 0:
            return np.full(x.size, -1)
        edges = np.unique(np.quantile(fit, np.linspace(0, 1, BINS + 1)[1:-1]))
        out = np.searchsorted(edges, np.where(present, x, 0.0), side="right")
        return np.where(present, out, -1)
    return _codes(values)


def _codes(values: pl.Series) -> np.ndarray:
    """0-based dense codes of the values (missing is a value of its own)."""
    text = values.cast(pl.String).fill_null("\x00missing")
    return text.rank("dense").cast(pl.Int64).to_numpy() - 1


def _accuracy(bins: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray) -> tuple[float, float]:
    classes = int(y.max()) + 1
    majority = int(np.bincount(y[train], minlength=classes).argmax())
    offset = bins - bins.min()
    table = np.zeros((int(offset.max()) + 1, classes), dtype=np.int64)
    np.add.at(table, (offset[train], y[train]), 1)
    seen = table.sum(axis=1) > 0
    rule = np.where(seen, table.argmax(axis=1), majority)
    predicted = rule[offset[test]]
    return float((predicted == y[test]).mean()), float((y[test] == majority).mean())


def _r2(bins: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray) -> float:
    mean = float(y[train].mean())
    offset = bins - bins.min()
    size = int(offset.max()) + 1
    sums = np.bincount(offset[train], weights=y[train], minlength=size)
    counts = np.bincount(offset[train], minlength=size)
    rule = np.where(counts > 0, sums / np.maximum(counts, 1), mean)
    predicted = rule[offset[test]]
    total = float(((y[test] - mean) ** 2).sum())
    if total == 0.0:
        return 0.0
    return 1.0 - float(((y[test] - predicted) ** 2).sum()) / total
