"""The streamed profile's row-wise stages in bounded memory: duplicate rows, quartiles, outliers, histograms.

For files too big to hold in memory. Three passes over the file in batches:
1. every column: each row's 64-bit hash is spilled to one of SPILL_PARTITIONS files on disk (counted
   one partition at a time afterwards: the exact distinct-row count in 1/SPILL_PARTITIONS of the memory),
   and each number column's finite values feed a `Moments` and a KLL `QuantileSketch`;
2. number columns: z-score outliers and the histogram against pass 1's mean, spread and range, and the
   values within a few rank errors of each quartile, which make the quartiles exact (np.percentile's);
3. number columns: the IQR outliers against those quartiles' fences.
Passes 2 and 3 are Polars expressions over each batch. Peak memory is one batch plus the sketches and
quartile windows (WINDOW_SIGMAS rank errors, ~0.3 % of the values), whatever the row count; the numbers
equal the in-memory path's. A quartile whose window misses its rank (probability < 0.1 %) or would
exceed MAX_WINDOW values keeps the sketch's value, and the column says so in `quantile_error`.
"""

from __future__ import annotations

import heapq
import math
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from tui_trainer.data.sketches import Moments, QuantileSketch

# A batch is at most BATCH_ROWS rows and about BATCH_VALUES values (12 columns: 250,000 rows; 5,000
# columns: 1,000). Peak memory follows the batch, not the file: 1M-row batches plateau at ~700 MB, these at ~490.
BATCH_ROWS = 250_000
BATCH_VALUES = 3_000_000
SPILL_PARTITIONS = 128  # 100M rows -> 128 files of ~12 MB; one is in memory at a time
HIST_BINS = 20
EXAMPLES = 5
QUARTILES = (0.25, 0.5, 0.75)
WINDOW_SIGMAS = 2.0  # half-width of a quartile's window, in the sketch's (4-sigma) rank errors
MAX_WINDOW = 4_000_000  # values kept per quartile at most (32 MB)
DISTINCT_CAP = 2_000_000  # exact distinct hashes kept per column (16 MB); above it, the 1/64 sample counts
_SPILL = np.dtype([("h", "<u8"), ("row", "<i8")])
SPILL_BATCH_ROWS = 50_000  # row groups of a text file's Parquet spill: a slice reads only the ones it covers

Progress = Callable[[str, float], None]


@dataclass
class NumericStream:
    """What the streamed pass learns about one number column; the in-memory path's fields, filled alike."""

    name: str
    moments: Moments = field(default_factory=Moments)
    sketch: QuantileSketch = field(default_factory=QuantileSketch)
    q25: float | None = None
    median: float | None = None
    q75: float | None = None
    outliers_zscore: int | None = None
    outliers_iqr: int | None = None
    zscore_examples: list[int] = field(default_factory=list)
    iqr_examples: list[int] = field(default_factory=list)
    iqr_bounds: tuple[float, float] | None = None
    histogram: list[int] = field(default_factory=list)
    hist_range: tuple[float, float] | None = None
    quantile_error: float | None = None  # None: exact; else the quartiles' rank error bound (fraction)


def batches(lf: pl.LazyFrame, rows: int | None = None) -> Iterator[pl.DataFrame]:
    """The frame in order, `rows` (BATCH_ROWS) at a time.

    `collect_batches` reads ahead of a slower consumer without limit (5M rows: 496 MB against 195 MB
    sliced), so Parquet/IPC plans of row-wise steps are read one slice at a time (the slice reaches the
    reader: only its row groups are read). A CSV or NDJSON slice would re-scan the text before it, so
    those stream through `collect_batches`, as does any plan a slice would not reach (`inspect` turns a
    big text file into a Parquet spill first, `spill_text`, so its passes are sliced too).
    """
    rows = rows or min(BATCH_ROWS, max(1_000, BATCH_VALUES // max(1, len(lf.collect_schema()))))
    plan = lf.explain()
    if any(step in plan for step in _NOT_SLICEABLE):
        yield from lf.collect_batches(chunk_size=rows, maintain_order=True)
        return
    total = int(lf.select(pl.len()).collect().item())
    for offset in range(0, total, rows):
        yield lf.slice(offset, rows).collect()


def spill_text(lf: pl.LazyFrame, folder: str | Path | None = None) -> tuple[pl.LazyFrame, int]:
    """A CSV/NDJSON scan written once, in bounded memory, to a Parquet file in a temp folder; its scan
    (read slice by slice like any Parquet file) and its row count.

    Every streamed pass over a text file would parse it again, and Polars' text reader behind
    `collect_batches` reads ahead of its consumer, so peak memory grew with the file (CSV profile: 500 MB
    at 2M rows, 690 MB at 6M); the sink is flat (~390 MB at 2M and 12M) and parsing happens once.
    Parquet, not Arrow IPC: the streaming engine's whole-file aggregate read an IPC file far ahead of
    itself (12M-row CSV: whole inspect 963 MB from an IPC spill, 377 MB from Parquet). Polars keeps its
    dtypes through Parquet (Null, Categorical included: tests/data/test_stream_spill.py). The folder is
    removed when the process exits (`atexit`), not sooner: the returned scan outlives this call (the
    Data pane pages it).
    """
    import atexit
    import shutil

    tmp = Path(tempfile.mkdtemp(prefix="tui-trainer-spill-", dir=folder))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    path = tmp / "rows.parquet"
    try:
        lf.sink_parquet(path, compression="lz4", row_group_size=SPILL_BATCH_ROWS, maintain_order=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    spilled = pl.scan_parquet(path)
    return spilled, int(spilled.select(pl.len()).collect().item())


# Text sources, steps that change which rows there are, and expressions over more than one row (a slice
# would compute them over the slice alone).
_NOT_SLICEABLE = (
    "Csv SCAN",
    "NDJson SCAN",
    "FILTER",
    "JOIN",
    "AGGREGATE",
    "SORT",
    "UNIQUE",
    "SLICE",
    "ROW_INDEX",
    ".over(",
    "cum_",
    ".shift(",
    ".rank(",
    ".diff(",
    "int_range",
    "len()",
    ".mean()",
    ".sum()",
    ".min()",
    ".max()",
    ".std(",
    ".median()",
    "quantile",
    "n_unique",
    ".first()",
    ".last()",
    "is_first_distinct",
    "is_last_distinct",
    "is_duplicated",
    "is_unique",
    "rolling",
    "ewm_",
    "forward",
    "backward",
    "interpolate",
    "pct_change",
    ".sort(",
    ".reverse(",
    ".gather(",
)


def stream_rows_and_numbers(
    lf: pl.LazyFrame,
    row_hash: pl.Expr,
    numeric: list[str],
    zscore: float,
    k: float,
    progress: Progress | None = None,
    spill_dir: str | Path | None = None,
) -> tuple[int, list[int], dict[str, NumericStream]]:
    """Distinct rows, the first rows repeating an earlier one, and each number column's distributions.

    `row_hash` is the in-memory path's per-row hash expression, so both paths count the same rows;
    `numeric` are the number columns (NaN as missing, cast to Float64 by this function).
    """
    report = progress or (lambda _stage, _fraction: None)
    stats = {name: NumericStream(name) for name in numeric}
    floats = [_float(name) for name in numeric]
    with tempfile.TemporaryDirectory(prefix="tui-trainer-rows-", dir=spill_dir) as tmp:
        spill = _Spill(Path(tmp))
        try:
            offset = 0
            for batch in batches(lf.select(row_hash.alias("__hash"), *floats)):
                spill.add(batch["__hash"].to_numpy(), offset)
                for name in numeric:
                    values = batch[name].to_numpy()
                    values = values[np.isfinite(values)]
                    stats[name].moments.update(values)
                    stats[name].sketch.update(values)
                offset += batch.height
                report("distributions", 0.0)
        finally:
            spill.close()
        distinct, repeats = spill.count()
    report("distributions", 0.3)
    cols = [s for s in stats.values() if s.moments.n]
    _zscores_histograms_quartiles(lf, cols, zscore, report)
    _iqr_outliers(lf, cols, k, report)
    report("distributions", 1.0)
    return distinct, repeats, stats


def _float(name: str) -> pl.Expr:
    return pl.col(name).cast(pl.Float64).fill_nan(None).alias(name)


def _zscores_histograms_quartiles(
    lf: pl.LazyFrame, cols: list[NumericStream], zscore: float, report: Progress
) -> None:
    """Pass 2: z-score outliers with their first rows, histograms, and the values around each quartile."""
    if not cols:
        return
    edges: dict[str, np.ndarray] = {}
    windows: dict[str, list[tuple[float, float]]] = {}
    below: dict[str, list[int]] = {}
    inside: dict[str, list[list[np.ndarray]]] = {}
    for col in cols:
        m = col.moments
        lo, hi = (m.min - 0.5, m.max + 0.5) if m.min == m.max else (m.min, m.max)
        edges[col.name] = np.linspace(lo, hi, HIST_BINS + 1)  # np.histogram's own edges
        col.hist_range = (float(edges[col.name][0]), float(edges[col.name][-1]))
        col.outliers_zscore, col.histogram = 0, [0] * HIST_BINS
        half = WINDOW_SIGMAS * col.sketch.rank_error + 2 / m.n  # and a rank either side: ranks are whole
        bounds = col.sketch.quantiles(
            [b for q in QUARTILES for b in (max(0.0, q - half), min(1.0, q + half))]
        )
        windows[col.name] = list(zip(bounds[::2], bounds[1::2], strict=True))
        below[col.name] = [0] * len(QUARTILES)
        inside[col.name] = [[] for _ in QUARTILES]
    offset = 0
    for batch in batches(lf.select(_float(c.name) for c in cols)):
        row = pl.int_range(offset, offset + batch.height, dtype=pl.Int64)
        exprs: list[pl.Expr] = []
        for i, col in enumerate(cols):
            f = pl.col(col.name)
            finite = f.is_finite().fill_null(False)
            std = col.moments.std_pop
            z_out = finite & (((f - col.moments.mean) / std).abs() > zscore) if std > 0 else pl.lit(False)
            # A value's bin is how many inner edges are <= it: np.histogram's [a, b) bins, the last one closed.
            inner = pl.lit(pl.Series(edges[col.name][1:-1]))
            exprs += [
                z_out.sum().alias(f"{i}:z"),
                row.filter(z_out).head(EXAMPLES).implode().alias(f"{i}:zx"),
                inner.search_sorted(f.filter(finite), side="right")
                .value_counts()
                .implode()
                .alias(f"{i}:hist"),
            ]
            for j, (lo, hi) in enumerate(windows[col.name]):
                exprs += [
                    (finite & (f < lo)).sum().alias(f"{i}:{j}:below"),  # -inf is not a value here
                    f.filter((f >= lo) & (f <= hi)).implode().alias(f"{i}:{j}:in"),
                ]
        out = batch.select(exprs).row(0, named=True)
        for i, col in enumerate(cols):
            col.outliers_zscore = (col.outliers_zscore or 0) + int(out[f"{i}:z"] or 0)
            _add_examples(col.zscore_examples, out[f"{i}:zx"])
            for item in out[f"{i}:hist"] or []:
                index, count = next(iter(item.values())), item["count"]
                col.histogram[int(index)] += int(count)
            for j in range(len(QUARTILES)):
                below[col.name][j] += int(out[f"{i}:{j}:below"] or 0)
                inside[col.name][j].append(np.asarray(out[f"{i}:{j}:in"] or [], dtype=np.float64))
        offset += batch.height
        report("distributions", 0.6)
    for col in cols:
        col.q25, col.median, col.q75 = _quartiles(col, below[col.name], inside[col.name])


def _quartiles(col: NumericStream, below: list[int], inside: list[list[np.ndarray]]) -> list[float]:
    """np.percentile's linear quartiles from the values inside each window, else the sketch's estimate."""
    n = col.moments.n
    estimate = col.sketch.quantiles(list(QUARTILES))
    if col.sketch.rank_error == 0:
        return estimate  # nothing compacted yet: the sketch holds every value, its quartiles are exact
    out = []
    for j, q in enumerate(QUARTILES):
        rank = (n - 1) * q
        lo, hi = int(np.floor(rank)), int(np.ceil(rank))
        values = np.sort(np.concatenate(inside[j])) if inside[j] else np.empty(0)
        if below[j] <= lo and hi < below[j] + values.size and values.size <= MAX_WINDOW:
            a, b = values[lo - below[j]], values[hi - below[j]]
            out.append(float(a + (rank - lo) * (b - a)))
        else:
            out.append(estimate[j])
            col.quantile_error = col.sketch.rank_error
    return out


def _iqr_outliers(lf: pl.LazyFrame, cols: list[NumericStream], k: float, report: Progress) -> None:
    """Pass 3: values outside the IQR fences, and their first rows."""
    if not cols:
        return
    for col in cols:
        assert col.q25 is not None and col.q75 is not None
        spread = col.q75 - col.q25
        col.iqr_bounds = (col.q25 - k * spread, col.q75 + k * spread)
        col.outliers_iqr = 0
    offset = 0
    for batch in batches(lf.select(_float(c.name) for c in cols)):
        row = pl.int_range(offset, offset + batch.height, dtype=pl.Int64)
        exprs: list[pl.Expr] = []
        for i, col in enumerate(cols):
            f = pl.col(col.name)
            lo, hi = col.iqr_bounds or (0.0, 0.0)
            i_out = f.is_finite().fill_null(False) & ((f < lo) | (f > hi))
            exprs += [
                i_out.sum().alias(f"{i}:iqr"),
                row.filter(i_out).head(EXAMPLES).implode().alias(f"{i}:ix"),
            ]
        out = batch.select(exprs).row(0, named=True)
        for i, col in enumerate(cols):
            col.outliers_iqr = (col.outliers_iqr or 0) + int(out[f"{i}:iqr"] or 0)
            _add_examples(col.iqr_examples, out[f"{i}:ix"])
        offset += batch.height
        report("distributions", 0.9)


def _add_examples(examples: list[int], found: list[int] | None) -> None:
    if found and len(examples) < EXAMPLES:
        examples.extend(found[: EXAMPLES - len(examples)])


class _Spill:
    """Row hashes partitioned by their top bits into files, so each partition is counted on its own."""

    def __init__(self, folder: Path) -> None:
        self.paths = [folder / f"{p:03d}.bin" for p in range(SPILL_PARTITIONS)]
        self.files: list[Any] = [path.open("wb") for path in self.paths]
        self.shift = np.uint64(64 - (SPILL_PARTITIONS - 1).bit_length())

    def add(self, hashes: np.ndarray, offset: int) -> None:
        records = np.empty(hashes.size, dtype=_SPILL)
        records["h"] = hashes
        records["row"] = np.arange(offset, offset + hashes.size, dtype=np.int64)
        part = (hashes >> self.shift).astype(np.intp)
        order = np.argsort(part, kind="stable")  # stable: rows stay in file order within a partition
        bounds = np.searchsorted(part[order], np.arange(SPILL_PARTITIONS + 1))
        records = records[order]
        for p in range(SPILL_PARTITIONS):
            if bounds[p + 1] > bounds[p]:
                records[bounds[p] : bounds[p + 1]].tofile(self.files[p])

    def close(self) -> None:
        for f in self.files:
            f.close()

    def count(self) -> tuple[int, list[int]]:
        """Distinct hashes over all partitions, and the first EXAMPLES rows whose hash came earlier."""
        distinct = 0
        repeats: list[int] = []
        for path in self.paths:
            records = np.fromfile(path, dtype=_SPILL)
            if not records.size:
                continue
            _, first = np.unique(records["h"], return_index=True)  # index of each hash's first row
            distinct += first.size
            if first.size < records.size:
                later = np.ones(records.size, dtype=bool)
                later[first] = False
                repeats = heapq.nsmallest(EXAMPLES, repeats + records["row"][later][:EXAMPLES].tolist())
            del records
        return distinct, sorted(repeats)


FIELDS = (
    "q25",
    "median",
    "q75",
    "outliers_zscore",
    "outliers_iqr",
    "zscore_examples",
    "iqr_examples",
    "iqr_bounds",
    "histogram",
    "hist_range",
    "quantile_error",
)


def fill_streamed(
    lf: pl.LazyFrame,
    row_hash: pl.Expr,
    numeric: list[Any],
    zscore: float,
    k: float,
    progress: Progress | None,
) -> tuple[int, list[int]]:
    """Fill the number columns' (ColumnProfile) distribution fields; return distinct rows and repeat examples."""
    distinct, repeats, stats = stream_rows_and_numbers(
        lf, row_hash, [c.name for c in numeric], zscore, k, progress
    )
    for col in numeric:
        for name in FIELDS:
            setattr(col, name, getattr(stats[col.name], name))
    return distinct, repeats


@dataclass
class _Distinct:
    """One column's distinct values as 64-bit hashes: exactly up to DISTINCT_CAP, and a 1/`sample` hash sample."""

    sample: int
    cap: int = DISTINCT_CAP
    exact: list[np.ndarray] | None = field(default_factory=list)
    sampled: list[np.ndarray] = field(default_factory=list)
    exact_size: int = 0
    sampled_size: int = 0

    def add(self, hashes: np.ndarray) -> None:
        limit = np.uint64((1 << 64) // self.sample)
        self.sampled, self.sampled_size = _grow(self.sampled, self.sampled_size, hashes[hashes < limit])
        if self.exact is not None:
            self.exact, self.exact_size = _grow(self.exact, self.exact_size, hashes)
            if sum(c.size for c in self.exact) > self.cap:  # perhaps over (repeats across chunks): merge
                merged = _distinct(np.concatenate(self.exact))
                self.exact, self.exact_size = [merged], merged.size
                if merged.size > self.cap:
                    self.exact = None  # too many to hold: the sample estimates from here on

    def counts(self) -> tuple[int | None, int]:
        """(exact count or None when over the cap, sampled distinct count)."""
        exact = None if self.exact is None else _unique_size(self.exact)
        return exact, _unique_size(self.sampled)


def _grow(chunks: list[np.ndarray], size: int, hashes: np.ndarray) -> tuple[list[np.ndarray], int]:
    """Append a batch's distinct hashes; merge the pending ones once they outgrow the merged set."""
    chunks.append(_distinct(hashes))
    pending = sum(c.size for c in chunks) - size  # `size`: the merged set's, chunks[0] once merged
    if pending > max(size, 100_000):
        merged = _distinct(np.concatenate(chunks))
        return [merged], merged.size
    return chunks, size


def _unique_size(chunks: list[np.ndarray]) -> int:
    return int(_distinct(np.concatenate(chunks)).size) if chunks else 0


def _distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values; numpy 2's np.unique takes ~70x longer on uint64 (its hash-table path)."""
    ordered = np.sort(values)
    return ordered[np.concatenate([[True], ordered[1:] != ordered[:-1]])] if ordered.size else ordered


def fill_distinct(
    lf: pl.LazyFrame,
    schema: pl.Schema,
    columns: list[Any],
    approx_floats: bool,
    sample: int,
    min_sample: int,
    top: int = 5,
) -> None:
    """Distinct values of every column in one batched pass (ColumnProfile.unique and its flags), and the
    `top` most frequent values of text and bool columns (their counts merged batch by batch).

    The same hashes as the in-memory aggregate: exact counts, except float columns when `approx_floats`
    (the file has more rows than APPROX_UNIQUE_ROWS) whose 1/`sample` hash sample holds >= `min_sample`
    values, and any column with more than DISTINCT_CAP distinct values; those get the sample's estimate,
    relative error bound 3 sqrt((1 - 1/sample) / k) for k sampled hashes.
    """
    cols = [c for c in columns if schema[c.name] != pl.Object]
    if not cols:
        return
    exprs = []
    for i, c in enumerate(cols):
        value = pl.col(c.name)
        if schema[c.name].is_float():
            value = value.fill_nan(None) + 0.0  # -0.0 and 0.0 are one value, NaN is missing
        exprs.append(value.drop_nulls().hash().implode().alias(str(i)))
    # An approximated float column needs its exact set only until the sample is big enough to be used.
    caps = [
        min(DISTINCT_CAP, sample * min_sample)
        if approx_floats and schema[c.name].is_float()
        else DISTINCT_CAP
        for c in cols
    ]
    state = [_Distinct(sample, cap=cap) for cap in caps]
    counted = [c for c in cols if c.kind in ("text", "bool")]
    tallies: dict[str, _Tally] = {c.name: _Tally(c.name) for c in counted}
    for batch in batches(lf.select(pl.col(c.name) for c in cols)):
        out = batch.select(exprs)
        for i, s in enumerate(state):
            s.add(out[str(i)][0].to_numpy())
        for name, tally in tallies.items():
            tally.add(batch[name])
    for c in counted:
        c.top = tallies[c.name].most_common(top)
    for c, s in zip(cols, state, strict=True):
        exact, sampled = s.counts()
        estimate = approx_floats and schema[c.name].is_float() and sampled >= min_sample
        if exact is not None and not estimate:
            c.unique, c.unique_approx, c.unique_error = exact, False, None
        else:
            c.unique = min(c.count, sampled * sample)
            c.unique_approx = True
            c.unique_error = 3 * math.sqrt((1 - 1 / sample) / sampled) if sampled else None


class _Tally:
    """Value counts of one column, merged batch by batch (memory: one row per distinct value)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.frames: list[pl.DataFrame] = []
        self.pending = 0

    def add(self, values: pl.Series) -> None:
        counts = values.drop_nulls().value_counts(name="count")
        self.frames.append(counts)
        self.pending += counts.height
        if len(self.frames) > 1 and self.pending > max(100_000, 2 * self.frames[0].height):
            self.frames = [self._merged()]
            self.pending = self.frames[0].height

    def _merged(self) -> pl.DataFrame:
        return pl.concat(self.frames).group_by(self.name).agg(pl.col("count").sum())

    def all(self) -> list[tuple[Any, int]]:
        if not self.frames:
            return []
        return [(value, int(count)) for value, count in self._merged().iter_rows()]

    def most_common(self, n: int) -> list[tuple[Any, int]]:
        if not self.frames:
            return []
        merged = self._merged().sort("count", descending=True).head(n)
        return [(value, int(count)) for value, count in merged.iter_rows()]


def value_counts(lf: pl.LazyFrame, exprs: list[pl.Expr], engine: str) -> dict[str, list[tuple[Any, int]]]:
    """Every value's count per expression (nulls left out), commonest first, ties by value.

    In memory one query; streamed, merged batch by batch (memory: one row per distinct value), because
    the streaming engine's value_counts/group_by holds whole columns (5M rows: +140 MB per text column).
    """
    frame = lf.select(exprs)
    names = frame.collect_schema().names()
    counts: dict[str, list[tuple[Any, int]]] = {}
    if engine == "streaming":
        tallies = {n: _Tally(n) for n in names}
        for batch in batches(frame):
            for n, tally in tallies.items():
                tally.add(batch[n])
        counts = {n: tally.all() for n, tally in tallies.items()}
    elif names:
        row = (
            frame.select(pl.col(n).drop_nulls().value_counts(name="count").implode().alias(n) for n in names)
            .collect(engine=engine)
            .row(0, named=True)
        )
        counts = {n: [(item[n], int(item["count"])) for item in row[n] or []] for n in names}
    return {n: sorted(c, key=lambda vc: (-vc[1], vc[0])) for n, c in counts.items()}
