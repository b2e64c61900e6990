"""Per-column statistics of a lazy frame in as few passes as Polars allows.

Pass 1 is one `select` of every aggregate for every column (counts, moments, distinct counts, top
values, the number of distinct rows). Pass 2 reads each number column once more for its quartiles,
z-score and IQR outliers and histogram, which need pass 1's mean, spread and range.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import polars as pl

HIST_BINS = 20
TOP_VALUES = 5
EXAMPLES = 5
# Up to this many values, a column's quartiles and outliers are computed with numpy (bit-for-bit the
# reference definitions); longer columns use the same formulas as Polars expressions.
EXACT_LIMIT = 20_000_000
# Up to this many rows (or when the row count is not known up front) distinct counts are exact. Above it,
# float columns get an estimate: the distinct 64-bit hashes below 2^64/HASH_SAMPLE, times HASH_SAMPLE
# (a uniform 1/64 sample of the distinct values, whatever their frequencies). Its relative standard error
# is sqrt((1 - 1/64) / k) for k sampled values; it is used only when k >= APPROX_MIN_SAMPLE (error
# <= 0.7 %, documented bound 3 sigma = 2.1 %), else the column is counted exactly in a second pass.
APPROX_UNIQUE_ROWS = 1_000_000
AGGREGATE_GROUP = 250  # columns per aggregate query
BATCH_VALUES = 20_000_000  # values per collect in the numeric pass (160 MB as float64)
HASH_SAMPLE = 64
APPROX_MIN_SAMPLE = 20_000

Progress = Callable[[str, float], None]


@dataclass
class ColumnProfile:
    """What one column holds. `missing` = nulls + NaN (NaN only exists in float columns)."""

    name: str
    dtype: str
    kind: str  # "numeric", "categorical" (integer codes), "text", "bool", "temporal" or "other"
    count: int  # non-missing values
    nulls: int
    nan: int = 0
    infinite: int = 0
    unique: int | None = None  # distinct non-missing values
    unique_approx: bool = False  # True: an estimate (float columns longer than APPROX_UNIQUE_ROWS)
    unique_error: float | None = None  # the estimate's relative error bound (3 standard errors)
    quantile_error: float | None = None  # None: exact quartiles; else their rank error bound (streamed path)
    mean: float | None = None
    std: float | None = None  # sample standard deviation (ddof=1), as pandas reports it
    std_pop: float | None = None  # ddof=0, what scipy.stats.zscore divides by
    min: Any = None
    q25: float | None = None
    median: float | None = None
    q75: float | None = None
    max: Any = None
    zeros: int | None = None
    skew: float | None = None
    numeric_strings: int | None = None  # text columns: how many values parse as numbers
    top: list[tuple[Any, int]] = field(default_factory=list)
    histogram: list[int] = field(default_factory=list)
    hist_range: tuple[float, float] | None = None
    # Outliers over the finite non-missing values (numbers only): counts, first row indices, IQR fences.
    outliers_zscore: int | None = None
    outliers_iqr: int | None = None
    zscore_examples: list[int] = field(default_factory=list)
    iqr_examples: list[int] = field(default_factory=list)
    iqr_bounds: tuple[float, float] | None = None

    @property
    def missing(self) -> int:
        return self.nulls + self.nan

    @property
    def is_float(self) -> bool:
        return self.dtype.startswith("Float")

    def to_dict(self, rows: int) -> dict[str, Any]:
        data = asdict(self)
        data["missing"] = self.missing
        data["missing_pct"] = round(100.0 * self.missing / rows, 4) if rows else 0.0
        data["top"] = [{"value": _jsonable(v), "count": c} for v, c in self.top]
        data["min"] = _jsonable(self.min)
        data["max"] = _jsonable(self.max)
        data["hist_range"] = list(self.hist_range) if self.hist_range else None
        data["iqr_bounds"] = list(self.iqr_bounds) if self.iqr_bounds else None
        del data["zscore_examples"], data["iqr_examples"]
        for key in ("mean", "std", "std_pop", "q25", "median", "q75", "skew"):
            data[key] = _finite_or_none(data[key])
        return data


@dataclass
class Profile:
    rows: int
    columns: list[ColumnProfile]
    distinct_rows: int
    duplicate_examples: list[int] = field(default_factory=list)
    zscore: float = 3.0
    iqr: float = 1.5

    @property
    def duplicates(self) -> int:
        """Rows that repeat an earlier row: dropping them leaves `distinct_rows`."""
        return self.rows - self.distinct_rows

    def column(self, name: str) -> ColumnProfile:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


def kind_of(dtype: pl.DataType) -> str:
    if dtype == pl.Boolean:
        return "bool"
    if dtype.is_numeric():
        return "numeric"
    if dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Categorical | pl.Enum):
        return "text"
    if dtype.is_temporal():
        return "temporal"
    return "other"


def clean(name: str, dtype: pl.DataType) -> pl.Expr:
    """The column with NaN as null, so every statistic is over the non-missing values."""
    col = pl.col(name)
    return col.fill_nan(None) if dtype.is_float() else col


def _clean_name(index: int) -> str:
    return f"__clean:{index}"


def _aggregates(
    name: str, dtype: pl.DataType, index: int, approx_unique: bool = False, distinct: bool = True
) -> list[pl.Expr]:
    kind = kind_of(dtype)
    col = pl.col(name)
    # Float columns are cleaned (NaN -> null) once, into a helper column, rather than once per statistic.
    b = pl.col(_clean_name(index)) if dtype.is_float() else col
    p = f"{index}:"
    exprs = [col.null_count().alias(p + "nulls")]
    if dtype.is_float():
        exprs += [col.is_nan().sum().alias(p + "nan"), col.is_infinite().sum().alias(p + "infinite")]
    if not distinct:
        pass  # streamed: counted in batches by stream_profile.fill_distinct (this query holds whole columns)
    elif dtype.is_float() and approx_unique:
        # A hash-threshold sample of the distinct values: ~0.1 s instead of ~0.4 s per 10M-value float column.
        hashed = (b.drop_nulls() + 0.0).hash()
        below = hashed.filter(hashed < pl.lit((1 << 64) // HASH_SAMPLE, dtype=pl.UInt64))
        exprs.append(below.n_unique().alias(p + "approx_unique"))
    elif dtype != pl.Object:
        # Distinct values via 64-bit hashes: ~5x faster than n_unique on floats, collisions ~n²/2⁶⁵.
        hashed = (b + 0.0 if dtype.is_float() else b).hash()
        exprs.append(hashed.n_unique().alias(p + "n_unique"))
    if kind == "numeric":
        f = b.cast(pl.Float64)
        exprs += [
            f.mean().alias(p + "mean"),
            f.std(ddof=1).alias(p + "std"),
            f.std(ddof=0).alias(p + "std_pop"),
            b.min().alias(p + "min"),
            b.max().alias(p + "max"),
            (b == 0).sum().alias(p + "zeros"),
            f.skew(bias=True).alias(p + "skew"),
        ]
    elif kind == "temporal":
        exprs += [b.min().alias(p + "min"), b.max().alias(p + "max")]
    if kind in ("text", "bool") and distinct:  # streamed: top values also counted by fill_distinct
        exprs.append(col.drop_nulls().value_counts(sort=True).head(TOP_VALUES).implode().alias(p + "top"))
    if kind == "text":
        text = col.cast(pl.String)
        exprs.append(
            text.str.strip_chars().cast(pl.Float64, strict=False).is_not_null().sum().alias(p + "numeric")
        )
    return exprs


def row_hash(names: list[str], schema: pl.Schema) -> pl.Expr:
    """A 64-bit hash of each row over `names`, with -0.0 folded into 0.0 so equal rows hash equally.

    Counting distinct hashes is ~8x faster than distinct structs on 10M rows; two different rows share
    a hash with probability ~n²/2⁶⁵ (3e-6 at 10M rows).
    """
    parts = [pl.col(n) + 0.0 if schema[n].is_float() else pl.col(n) for n in names]
    return pl.struct(parts).hash()


def profile_frame(
    lf: pl.LazyFrame,
    progress: Progress | None = None,
    zscore: float = 3.0,
    iqr: float = 1.5,
    engine: str = "streaming",
    rows_hint: int | None = None,
    categorical: int = 10,
) -> Profile:
    """Profile every column of `lf`: one aggregate pass, then one numeric pass for quartiles, outliers and histograms.

    `zscore` and `iqr` are the outlier thresholds (|z| > zscore; outside the IQR fences times `iqr`).
    `rows_hint`, when the row count is known before reading, lets long float columns use an estimated
    distinct count (exact counts cost ~0.4 s per 10M floats). Integer columns with at most `categorical`
    distinct values (0/1 flags, codes) are profiled as categorical: value counts, no outliers or skew.
    """
    report = progress or (lambda _stage, _fraction: None)
    schema = lf.collect_schema()
    names = schema.names()
    report("statistics", 0.0)
    approx = rows_hint is not None and rows_hint > APPROX_UNIQUE_ROWS
    row: dict[str, Any] = {}
    # Polars plans grow superlinearly with the expression count (2,000 columns in one select: ~8 s, in
    # groups of 250: ~1 s), so wide frames are aggregated in groups; a file of <= 250 columns is one pass.
    for start in range(0, max(1, len(names)), AGGREGATE_GROUP):
        group = list(enumerate(names))[start : start + AGGREGATE_GROUP]
        exprs: list[pl.Expr] = [pl.len().alias("__rows")]
        for index, name in group:
            exprs += _aggregates(name, schema[name], index, approx, distinct=engine != "streaming")
        helpers = [clean(n, schema[n]).alias(_clean_name(i)) for i, n in group if schema[n].is_float()]
        row.update(lf.with_columns(helpers).select(exprs).collect(engine=engine).row(0, named=True))
    rows = int(row["__rows"])
    report("statistics", 0.5)
    columns = [_column_from_row(name, schema[name], index, row, rows) for index, name in enumerate(names)]
    if engine == "streaming" and rows:
        from tui_trainer.data.stream_profile import fill_distinct

        fill_distinct(lf, schema, columns, approx, HASH_SAMPLE, APPROX_MIN_SAMPLE, TOP_VALUES)
    _exact_where_sample_small(lf, schema, columns, engine)
    _categorical_codes(lf, schema, columns, categorical, engine)
    profile = Profile(rows=rows, columns=columns, distinct_rows=rows, zscore=zscore, iqr=iqr)
    numeric = [c for c in columns if c.kind == "numeric" and c.count > 0]
    if engine == "streaming" and rows and names:
        # Too big for memory: duplicate rows and distributions in batched passes with bounded state.
        from tui_trainer.data.stream_profile import fill_streamed

        row_key = row_hash(names, schema)
        distinct = fill_streamed(lf, row_key, numeric, zscore, iqr, report)
        profile.distinct_rows, profile.duplicate_examples = distinct
        numeric = []
    elif rows and names:
        profile.distinct_rows, profile.duplicate_examples = _repeated_rows(lf, names, schema, engine)
    exact = [c for c in numeric if c.count <= EXACT_LIMIT]
    # Columns are read in batches of about BATCH_VALUES values: one collect per batch rather than per
    # column keeps a 5,000-column file from paying 5,000 query start-ups, and a 10M-row one bounded in memory.
    per_batch = max(1, BATCH_VALUES // max(1, rows))
    done = 0
    for start in range(0, len(exact), per_batch):
        batch = exact[start : start + per_batch]
        frame = lf.select([clean(c.name, schema[c.name]).cast(pl.Float64) for c in batch]).collect(
            engine=engine
        )
        for col in batch:
            _numeric_exact(frame[col.name].to_numpy(), col, zscore, iqr)
            done += 1
        del frame
        report("distributions", done / max(1, len(numeric)))
    large = [c for c in numeric if c.count > EXACT_LIMIT]
    if large:
        _numeric_polars(lf, schema, large, zscore, iqr, engine)
    for col in columns:
        if col.kind in ("text", "bool", "categorical") and col.top:
            col.histogram = [count for _value, count in col.top]
    report("distributions", 1.0)
    return profile


def _repeated_rows(
    lf: pl.LazyFrame, names: list[str], schema: pl.Schema, engine: str
) -> tuple[int, list[int]]:
    """Distinct rows, and the first rows that repeat an earlier one, from one hash set of row hashes."""
    hashes = lf.select(row_hash(names, schema).alias("h")).collect(engine=engine)["h"]
    first = hashes.arg_unique().to_numpy()  # index of each hash's first occurrence
    if len(first) == len(hashes):
        return len(first), []
    repeats = np.ones(len(hashes), dtype=bool)
    repeats[first] = False
    return len(first), np.flatnonzero(repeats)[:EXAMPLES].tolist()


def first_rows(
    lf: pl.LazyFrame, condition: pl.Expr, engine: str = "streaming", limit: int = EXAMPLES
) -> list[int]:
    """The first `limit` 0-based row indices where `condition` holds (the scan stops once it has them)."""
    if engine == "streaming":
        # Batch by batch, stopping at the last one needed: `int_range(len())` over the whole plan makes the
        # streaming engine hold every value it reads (100M rows: +1.2 GB for one column's examples).
        from tui_trainer.data.stream_profile import batches

        rows: list[int] = []
        offset = 0
        for batch in batches(lf.select(condition.alias("__hit"))):
            hits = np.flatnonzero(batch["__hit"].fill_null(False).to_numpy())
            rows += (hits[: limit - len(rows)] + offset).tolist()
            offset += batch.height
            if len(rows) >= limit:
                break
        return rows
    found = lf.select(pl.int_range(pl.len(), dtype=pl.Int64).alias("__row"), condition.alias("__hit"))
    found = found.filter(pl.col("__hit")).select("__row").head(limit).collect(engine=engine)
    return found["__row"].to_list()


def _numeric_exact(values: np.ndarray, col: ColumnProfile, zscore: float, k: float) -> None:
    """Quartiles, outliers and histogram with numpy/scipy themselves, so they match the reference definitions.

    z is scipy.stats.zscore with its defaults (ddof=0); quartiles are np.percentile's linear method.
    """
    finite = np.isfinite(values)
    rows = np.flatnonzero(finite)
    x = values[finite]
    del values, finite
    if x.size == 0:
        return
    q25, median, q75 = (float(q) for q in np.percentile(x, [25, 50, 75]))
    col.q25, col.median, col.q75 = q25, median, q75
    std = x.std()
    if std > 0:
        z = np.abs((x - x.mean()) / std)  # scipy.stats.zscore's own arithmetic, without its import cost
        mask = z > zscore
        col.outliers_zscore = int(mask.sum())
        col.zscore_examples = rows[mask][:EXAMPLES].tolist()
        del z, mask
    else:
        col.outliers_zscore = 0
    lo, hi = q25 - k * (q75 - q25), q75 + k * (q75 - q25)
    mask = (x < lo) | (x > hi)
    col.outliers_iqr = int(mask.sum())
    col.iqr_examples = rows[mask][:EXAMPLES].tolist()
    col.iqr_bounds = (lo, hi)
    counts, edges = np.histogram(x, bins=HIST_BINS)
    col.histogram = counts.tolist()
    col.hist_range = (float(edges[0]), float(edges[-1]))


def _numeric_polars(
    lf: pl.LazyFrame, schema: pl.Schema, cols: list[ColumnProfile], zscore: float, k: float, engine: str
) -> None:
    """The same statistics as Polars expressions, for columns too long to hold as numpy arrays."""
    exprs = []
    for i, col in enumerate(cols):
        f = clean(col.name, schema[col.name]).cast(pl.Float64)
        finite = f.filter(f.is_finite())
        exprs += [
            finite.quantile([0.25, 0.5, 0.75], interpolation="linear").alias(f"{i}:q"),
            finite.mean().alias(f"{i}:mean"),
            finite.std(ddof=0).alias(f"{i}:std"),
            finite.hist(bin_count=HIST_BINS).implode().alias(f"{i}:hist"),
            finite.min().alias(f"{i}:lo"),
            finite.max().alias(f"{i}:hi"),
        ]
    row = lf.select(exprs).collect(engine=engine).row(0, named=True)
    counts = []
    for i, col in enumerate(cols):
        f = clean(col.name, schema[col.name]).cast(pl.Float64)
        q = row[f"{i}:q"]
        col.q25, col.median, col.q75 = (float(v) for v in q)
        mean, std = row[f"{i}:mean"], row[f"{i}:std"]
        z_out = (f.is_finite() & (((f - mean) / std).abs() > zscore)) if std else pl.lit(False)
        lo, hi = col.q25 - k * (col.q75 - col.q25), col.q75 + k * (col.q75 - col.q25)
        i_out = f.is_finite() & ((f < lo) | (f > hi))
        col.iqr_bounds = (lo, hi)
        col.histogram = [int(v or 0) for v in row[f"{i}:hist"]]
        col.hist_range = (_float(row[f"{i}:lo"]), _float(row[f"{i}:hi"]))
        counts += [z_out.sum().alias(f"{i}:z"), i_out.sum().alias(f"{i}:iqr")]
        col.zscore_examples = first_rows(lf, z_out, engine)
        col.iqr_examples = first_rows(lf, i_out, engine)
    row = lf.select(counts).collect(engine=engine).row(0, named=True)
    for i, col in enumerate(cols):
        col.outliers_zscore = int(row[f"{i}:z"] or 0)
        col.outliers_iqr = int(row[f"{i}:iqr"] or 0)


def _column_from_row(
    name: str, dtype: pl.DataType, index: int, row: dict[str, Any], rows: int
) -> ColumnProfile:
    p = f"{index}:"
    kind = kind_of(dtype)
    nulls = int(row[p + "nulls"] or 0)
    nan = int(row.get(p + "nan") or 0)
    col = ColumnProfile(
        name=name, dtype=str(dtype), kind=kind, count=rows - nulls - nan, nulls=nulls, nan=nan
    )
    col.infinite = int(row.get(p + "infinite") or 0)
    if p + "n_unique" in row:
        # n_unique counts null as a value; "unique" here means distinct non-missing values.
        col.unique = int(row[p + "n_unique"]) - (1 if col.missing > 0 else 0)
    elif p + "approx_unique" in row:
        sampled = int(row[p + "approx_unique"] or 0)
        col.unique = min(col.count, sampled * HASH_SAMPLE)
        col.unique_approx = True
        col.unique_error = 3 * math.sqrt((1 - 1 / HASH_SAMPLE) / sampled) if sampled else None
    if kind == "numeric":
        col.mean = _float(row[p + "mean"])
        col.std = _float(row[p + "std"])
        col.std_pop = _float(row[p + "std_pop"])
        col.min = row[p + "min"]
        col.max = row[p + "max"]
        col.zeros = int(row[p + "zeros"] or 0)
        col.skew = _float(row[p + "skew"])
    elif kind == "temporal":
        col.min, col.max = row[p + "min"], row[p + "max"]
    if p + "top" in row and row[p + "top"]:
        col.top = [(_first_value(item, name), int(item["count"])) for item in row[p + "top"]]
    if p + "numeric" in row:
        col.numeric_strings = int(row[p + "numeric"] or 0)
    return col


def _first_value(item: dict[str, Any], name: str) -> Any:
    if name in item:
        return item[name]
    return next(v for k, v in item.items() if k != "count")


def _float(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return _finite_or_none(value)
    return str(value)


def _exact_where_sample_small(
    lf: pl.LazyFrame, schema: pl.Schema, columns: list[ColumnProfile], engine: str
) -> None:
    """Count exactly the estimated columns whose hash sample was too small for the documented bound."""
    small = APPROX_MIN_SAMPLE * HASH_SAMPLE
    redo = [c for c in columns if c.unique_approx and c.unique is not None and c.unique < small]
    if not redo:
        return
    exprs = [(clean(c.name, schema[c.name]).drop_nulls() + 0.0).hash().n_unique().alias(c.name) for c in redo]
    row = lf.select(exprs).collect(engine=engine).row(0, named=True)
    for c in redo:
        c.unique, c.unique_approx, c.unique_error = int(row[c.name]), False, None


def _categorical_codes(
    lf: pl.LazyFrame, schema: pl.Schema, columns: list[ColumnProfile], limit: int, engine: str
) -> None:
    """Integer columns with at most `limit` distinct values become kind "categorical", with value counts."""
    codes = [
        c
        for c in columns
        if c.kind == "numeric"
        and schema[c.name].is_integer()
        and c.unique is not None
        and 1 <= c.unique <= limit
    ]
    if not codes:
        return
    from tui_trainer.data.stream_profile import value_counts  # streamed: merged batch by batch

    counts = value_counts(lf, [pl.col(c.name) for c in codes], engine)
    for c in codes:
        c.kind = "categorical"
        c.skew = None
        c.zeros = None
        c.top = counts[c.name][:TOP_VALUES]
