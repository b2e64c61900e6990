"""Dates written as text (`1970-01-01`, `2012/01/01`, `31.12.2020`, a given `--date-format`), and temporal checks.

Rule: a text column whose every non-missing value parses with one format of FORMATS (or the user's) is
temporal. Day/month orders are never guessed: when both `%d/%m/%Y` and `%m/%d/%Y` (or the `-` forms) fit
every value, the column stays text and a `date_ambiguous` finding asks for `--date-format`. Dotted dates
(`31.12.2020`) are day first, as every locale writing them means.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

# (format, is datetime); tried in this order, the first that parses every value wins.
FORMATS: list[tuple[str, bool]] = [
    ("%Y-%m-%d", False),
    ("%Y-%m-%dT%H:%M:%S", True),
    ("%Y-%m-%d %H:%M:%S", True),
    ("%Y-%m-%dT%H:%M:%S%.f", True),
    ("%Y-%m-%d %H:%M:%S%.f", True),
    ("%Y-%m-%dT%H:%M", True),
    ("%Y-%m-%d %H:%M", True),
    ("%+", True),  # ISO 8601 / RFC 3339 with an offset or Z (read as UTC)
    ("%Y/%m/%d", False),
    ("%Y/%m/%d %H:%M:%S", True),
    ("%d.%m.%Y", False),
    ("%d.%m.%Y %H:%M", True),
    ("%B %d %Y", False),  # Jan 1 2000 (%B reads full and abbreviated English month names)
    ("%B %d, %Y", False),  # January 5, 2001
    ("%d %B %Y", False),  # 1 Jan 2000
]
AMBIGUOUS: list[tuple[str, str]] = [("%d/%m/%Y", "%m/%d/%Y"), ("%d-%m-%Y", "%m-%d-%Y")]
LOOKS_LIKE_DATE = re.compile(
    r"^\s*((\d{4}[-/]\d{1,2}[-/]\d{1,2}|\d{1,2}[./-]\d{1,2}[./-]\d{4})([ T]\d|\s*$)"
    r"|[A-Za-z]{3,9}\.? \d{1,2},? \d{4}\s*$|\d{1,2} [A-Za-z]{3,9}\.? \d{4}\s*$)"
)
GAP_FACTOR = 5  # a step longer than this many typical (median) steps is a gap


@dataclass(frozen=True)
class DateFormat:
    column: str
    format: str | None  # None: ambiguous
    datetime: bool
    count: int
    candidates: tuple[str, ...] = ()  # the formats that all fit, when ambiguous


def looks_like_date(values: list) -> bool:
    return any(isinstance(v, str) and LOOKS_LIKE_DATE.match(v) for v in values)


def parse_expr(name: str, fmt: str, is_datetime: bool) -> pl.Expr:
    col = pl.col(name).str.strip_chars()
    if is_datetime:
        return col.str.to_datetime(fmt, strict=False).alias(name)
    return col.str.to_date(fmt, strict=False).alias(name)


def is_datetime_format(fmt: str) -> bool:
    return any(code in fmt for code in ("%H", "%M", "%S", "%T", "%R", "%+", "%z"))


def detect(
    lf: pl.LazyFrame,
    name: str,
    present: int,
    user_format: str | None = None,
    engine: str = "auto",
    missing: list[str] | None = None,
) -> DateFormat | None:
    """The date format of a text column, `DateFormat(format=None)` when only ambiguous ones fit, or None."""
    tried = [(user_format, is_datetime_format(user_format))] if user_format else []
    tried += FORMATS + [(f, False) for pair in AMBIGUOUS for f in pair]
    col = pl.col(name)
    keep = col.is_not_null() & ~col.is_in(missing or [])
    exprs = [keep.sum().alias("n")]
    exprs += [parse_expr(name, f, dt).filter(keep).count().alias(str(i)) for i, (f, dt) in enumerate(tried)]
    row = lf.select(exprs).collect(engine=engine).row(0, named=True)
    n = int(row["n"])
    if n == 0:
        return None
    fits = [tried[i] for i in range(len(tried)) if int(row[str(i)]) == n]
    if not fits:
        return None
    if user_format and fits[0][0] == user_format:
        return DateFormat(name, user_format, fits[0][1], n)
    ambiguous = [f for pair in AMBIGUOUS for f in pair]
    plain = [f for f in fits if f[0] not in ambiguous]
    if plain:
        return DateFormat(name, plain[0][0], plain[0][1], n)
    names = tuple(f for f, _ in fits)
    if len(names) == 1:
        return DateFormat(name, names[0], False, n)
    return DateFormat(name, None, False, n, candidates=names)


@dataclass(frozen=True)
class Timeline:
    """Temporal facts of one column: range, order, repeats and gaps."""

    column: str
    count: int
    min: object
    max: object
    distinct: int
    duplicates: int  # non-missing values that repeat an earlier one
    increasing: bool  # non-decreasing in file order (missing skipped)
    decreasing: bool
    median_step: float | None  # seconds between consecutive distinct values (median)
    gaps: int  # steps longer than GAP_FACTOR x median_step
    largest_gap: float | None  # seconds
    largest_gap_after: object = None


def timeline(lf: pl.LazyFrame, name: str, engine: str = "auto") -> Timeline | None:
    col = pl.col(name)
    present = col.drop_nulls()
    row = (
        lf.select(
            present.count().alias("n"),
            present.min().alias("min"),
            present.max().alias("max"),
            present.n_unique().alias("distinct"),
            (present.diff().dt.total_seconds() >= 0).all().alias("inc"),
            (present.diff().dt.total_seconds() <= 0).all().alias("dec"),
        )
        .collect(engine=engine)
        .row(0, named=True)
    )
    n = int(row["n"])
    if n == 0:
        return None
    steps = (
        lf.select(present.unique().sort().alias("t"))
        .select(pl.col("t").shift(1).alias("prev"), pl.col("t").diff().dt.total_seconds().alias("s"))
        .drop_nulls("s")
        .collect(engine=engine)
    )
    median = gaps = largest = after = None
    if steps.height:
        median = float(steps["s"].median())
        gaps = int((steps["s"] > GAP_FACTOR * median).sum()) if median > 0 else 0
        i = int(steps["s"].arg_max())
        largest = float(steps["s"][i])
        after = steps["prev"][i]
    return Timeline(
        name,
        n,
        row["min"],
        row["max"],
        int(row["distinct"]),
        n - int(row["distinct"]),
        bool(row["inc"]),
        bool(row["dec"]),
        median,
        gaps or 0,
        largest,
        after,
    )


def _span(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size:
            return f"{seconds / size:.4g} {unit}"
    return f"{seconds:.4g} s"


def temporal_findings(lf: pl.LazyFrame, profile, engine: str = "auto") -> list:
    """For each date/datetime column: `temporal_range` (range and order), `temporal_duplicates`, `temporal_gaps`."""
    from tui_trainer.data.evidence import make_finding
    from tui_trainer.data.profile import first_rows
    from tui_trainer.findings import Severity

    schema = lf.collect_schema()
    out = []
    for col in profile.columns:
        dtype = schema[col.name]
        if (
            col.kind != "temporal"
            or not col.count
            or not (dtype == pl.Date or isinstance(dtype, pl.Datetime))
        ):
            continue
        tl = timeline(lf, col.name, engine)
        if tl is None:
            continue
        name = col.name
        order = "increasing" if tl.increasing else "decreasing" if tl.decreasing else "not sorted"
        out.append(
            make_finding(
                "temporal_range",
                Severity.INFO,
                f"{name}: {tl.min} to {tl.max}, {tl.distinct} distinct, {order}",
                f"{name!r} spans {tl.min} to {tl.max} with {tl.distinct} distinct values over {tl.count} rows; in file "
                f"order it is {order}; the typical step between consecutive distinct values is {_span(tl.median_step)}.",
                "Split train/validation by time (train on the earlier part) rather than at random, and exclude the raw "
                "timestamp from the features.",
                [name],
                tl.count,
                [],
                min=str(tl.min),
                max=str(tl.max),
                distinct=tl.distinct,
                monotonic=order,
                median_step_seconds=tl.median_step,
            )
        )
        if tl.duplicates:
            dup = pl.col(name).is_not_null() & ~pl.col(name).is_first_distinct()
            out.append(
                make_finding(
                    "temporal_duplicates",
                    Severity.INFO,
                    f"{name}: {tl.duplicates} rows repeat an earlier timestamp",
                    f"{tl.duplicates} of {tl.count} values of {name!r} repeat an earlier one (several rows per time).",
                    "Fine for panel data (many series); for one time series, aggregate or deduplicate per time.",
                    [name],
                    tl.duplicates,
                    first_rows(lf, dup, engine),
                    distinct=tl.distinct,
                )
            )
        if tl.gaps:
            out.append(
                make_finding(
                    "temporal_gaps",
                    Severity.INFO,
                    f"{name}: {tl.gaps} gaps longer than {GAP_FACTOR}x the typical step",
                    f"{tl.gaps} steps between consecutive distinct values of {name!r} are longer than {GAP_FACTOR} x "
                    f"the median step ({_span(tl.median_step)}); the largest is {_span(tl.largest_gap)} after "
                    f"{tl.largest_gap_after}.",
                    "Check for missing periods (an outage, an export cut) before computing lags or rolling features.",
                    [name],
                    tl.gaps,
                    [],
                    median_step_seconds=tl.median_step,
                    largest_gap_seconds=tl.largest_gap,
                    largest_gap_after=str(tl.largest_gap_after),
                )
            )
    return out
