"""Correlated feature pairs: |Pearson| or |Spearman| for number columns, Cramér's V for categorical ones.

Coefficients are over the rows where both columns are present (pairwise, as pandas' DataFrame.corr).
Frames longer than SAMPLE_ROWS are sampled (seeded, inside the lazy plan: sample.py) and the finding
states the sample size. The screen uses matrix products on the sample (Spearman on each column's own ranks); every
pair it puts within SCREEN_MARGIN of the threshold is then computed exactly on its pairwise-complete rows
(Pearson; Spearman as the Pearson of the pair's own average ranks, scipy.stats.spearmanr's definition). At most MAX_NUMBER and MAX_CATEGORICAL
columns are compared (the finding says when more were skipped).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from tui_trainer.data.evidence import make_finding
from tui_trainer.data.profile import Profile
from tui_trainer.data.sample import collect_sample
from tui_trainer.data.thresholds import Thresholds
from tui_trainer.findings import Finding, Severity

SAMPLE_ROWS = 50_000
MAX_NUMBER = 300
MAX_CATEGORICAL = 40
SCREEN_MARGIN = 0.05
PAIRS_SHOWN = 20


def _pairwise_pearson(x: np.ndarray) -> np.ndarray:
    """Pearson r of every column pair over rows where both are finite (NaN marks missing)."""
    m = np.isfinite(x).astype(np.float64)
    x0 = np.where(m > 0, x, 0.0)
    n = m.T @ m
    sx = x0.T @ m  # sx[i, j]: sum of column i over rows where j is present too
    sxx = (x0 * x0).T @ m
    sxy = x0.T @ x0
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = n * sxy - sx * sx.T
        var = (n * sxx - sx * sx) * (n * sxx - sx * sx).T
        r = cov / np.sqrt(var)
    r[n < 3] = np.nan
    return r


def average_ranks(a: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their average rank (scipy.stats.rankdata's default)."""
    order = np.argsort(a, kind="mergesort")
    ordered = a[order]
    starts_mask = np.r_[True, ordered[1:] != ordered[:-1]]
    group = np.cumsum(starts_mask) - 1
    starts = np.flatnonzero(starts_mask)
    counts = np.diff(np.r_[starts, a.size])
    ranks = np.empty(a.size)
    ranks[order] = (starts + (counts + 1) / 2.0)[group]
    return ranks


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def cramers_v(a: np.ndarray, b: np.ndarray) -> float:
    """Cramér's V of two integer-coded columns (no continuity correction, as scipy.stats.contingency.association)."""
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    r, c = ai.max() + 1, bi.max() + 1
    if r < 2 or c < 2:
        return 0.0
    table = np.zeros((r, c))
    np.add.at(table, (ai, bi), 1)
    n = table.sum()
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / n
    chi2 = float(((table - expected) ** 2 / expected).sum())
    return float(np.sqrt(chi2 / (n * (min(r, c) - 1))))


def correlated(
    lf: pl.LazyFrame, profile: Profile, t: Thresholds, engine: str, seed: int = 0, label: str | None = None
) -> list[Finding]:
    numbers = [
        c.name
        for c in profile.columns
        if c.kind == "numeric" and c.count > 2 and (c.unique or 0) > 1 and c.name != label
    ]
    cats = [
        c.name
        for c in profile.columns
        if c.kind in ("text", "categorical", "bool")
        and c.name != label
        and c.unique
        and 2 <= c.unique <= t.high_cardinality
    ]
    skipped = max(0, len(numbers) - MAX_NUMBER) + max(0, len(cats) - MAX_CATEGORICAL)
    numbers, cats = numbers[:MAX_NUMBER], cats[:MAX_CATEGORICAL]
    if len(numbers) < 2 and len(cats) < 2:
        return []
    schema = lf.collect_schema()
    exprs = [pl.col(n).cast(pl.Float64).fill_nan(None).alias(n) for n in numbers]
    exprs += [pl.col(n).cast(pl.String).alias(n) for n in cats]
    sampled = profile.rows > SAMPLE_ROWS
    frame = collect_sample(lf.select(exprs), profile.rows, SAMPLE_ROWS, seed, engine)
    pairs: list[dict] = []
    if len(numbers) >= 2:
        pairs += _number_pairs(frame, numbers, t.correlated)
    if len(cats) >= 2:
        pairs += _category_pairs(frame, cats, t.correlated)
    del schema
    if not pairs:
        return []
    pairs.sort(
        key=lambda p: -max(abs(p.get("pearson") or 0), abs(p.get("spearman") or 0), p.get("cramers_v") or 0)
    )
    rows = frame.height
    cols = sorted({c for p in pairs for c in p["columns"]})
    shown = ", ".join(f"{p['columns'][0]}~{p['columns'][1]} {_coef(p)}" for p in pairs[:6])
    note = f" on a seeded sample of {rows:,} of {profile.rows:,} rows" if sampled else f" over {rows:,} rows"
    return [
        make_finding(
            "correlated",
            Severity.INFO,
            f"{len(pairs)} strongly correlated column pairs",
            f"{len(pairs)} pairs with |Pearson| or |Spearman| (number columns) or Cramér's V (categorical) at or above "
            f"{t.correlated:g}{note}: {shown}{' ...' if len(pairs) > 6 else ''}"
            + (f"; {skipped} columns beyond the comparison limit were not compared" if skipped else "")
            + ".",
            "Keep one column of each pair (drop_columns in a fix recipe) for linear models and clearer importances; "
            "trees cope, but the pair still splits importance between them.",
            cols,
            len(pairs),
            [],
            pairs=pairs[:PAIRS_SHOWN],
            sample_rows=rows,
            sampled=sampled,
            seed=seed,
            threshold=t.correlated,
        )
    ]


def _coef(pair: dict) -> str:
    if "cramers_v" in pair:
        return f"V={pair['cramers_v']:.3f}"
    return f"r={pair['pearson']:.3f} rho={pair['spearman']:.3f}"


def _number_pairs(frame: pl.DataFrame, names: list[str], threshold: float) -> list[dict]:
    x = frame.select(names).to_numpy().astype(np.float64)
    x[~np.isfinite(x)] = np.nan
    pearson = _pairwise_pearson(x)
    finite = [pl.when(pl.col(n).is_finite()).then(pl.col(n)).rank("average").alias(n) for n in names]
    ranks = frame.select(finite).to_numpy().astype(np.float64)  # each column's own ranks, missing stays NaN
    spearman = _pairwise_pearson(ranks)
    screen = np.fmax(np.abs(pearson), np.abs(spearman))
    out = []
    for i, j in zip(
        *np.nonzero(np.triu(np.nan_to_num(screen) >= threshold - SCREEN_MARGIN, k=1)), strict=True
    ):
        both = np.isfinite(x[:, i]) & np.isfinite(x[:, j])
        a, b = x[both, i], x[both, j]
        if a.size < 3 or a.std() == 0 or b.std() == 0:
            continue
        r = _pearson(a, b)
        rho = _pearson(average_ranks(a), average_ranks(b))  # Spearman: Pearson of the pair's own ranks
        if max(abs(r), abs(rho)) >= threshold:
            out.append({"columns": [names[i], names[j]], "pearson": r, "spearman": rho, "rows": int(a.size)})
    return out


def _category_pairs(frame: pl.DataFrame, names: list[str], threshold: float) -> list[dict]:
    # Integer codes (dense ranks) once per column: np.unique on strings would sort objects per pair.
    codes = {n: frame[n].fill_null("\x00missing").rank("dense").cast(pl.Int64).to_numpy() for n in names}
    present = {n: frame[n].is_not_null().to_numpy() for n in names}
    out = []
    for a in range(len(names)):
        for b in range(a + 1, len(names)):
            both = present[names[a]] & present[names[b]]
            if both.sum() < 3:
                continue
            v = cramers_v(codes[names[a]][both], codes[names[b]][both])
            if v >= threshold:
                out.append({"columns": [names[a], names[b]], "cramers_v": v, "rows": int(both.sum())})
    return out
