"""Missing values written as markers (`?`, `-`, `n.a.`) in number columns, and far-out sentinels (-999, 9999).

Rule (docs/data-findings.md, `missing_marker`): a text column whose values are numbers except for at most
MAX_TOKENS distinct non-numbers, each a known marker (MARKERS, any case) or a digit-free token that
repeats, is a number column with those cells missing. A number column whose minimum or maximum is a
9s-pattern sentinel (±99 ... ±999999) lying farther outside the rest than the rest's whole range reads
that value as missing too. A column with many distinct non-numbers stays text.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

MARKERS = frozenset(
    {
        "?",
        "??",
        "-",
        "--",
        "---",
        ".",
        "..",
        "none",
        "missing",
        "unknown",
        "n.a.",
        "n.a",
        "na.",
        "n/a.",
        "not available",
        "nil",
        "na",  # NA, N/A, NaN, null with stray spaces or another case than the reader's exact tokens
        "n/a",
        "nan",
        "null",
        "#n/a",
        "*",
        "#",
        "blank",
        "empty",
        "undefined",
        "#value!",
        "#div/0!",
        "#ref!",
    }
)
MAX_TOKENS = 3
SENTINELS = (99, 999, 9999, 99999, 999999)
MIN_REST = 10  # a sentinel needs at least this many other values to be "far outside" them


@dataclass(frozen=True)
class Markers:
    """Tokens read as missing in one column: token -> cells."""

    column: str
    tokens: dict[str, int]
    sentinel: bool = False  # True: numeric sentinel values (the tokens are their text)

    @property
    def count(self) -> int:
        return sum(self.tokens.values())


def number(col: pl.Expr) -> pl.Expr:
    """The text parsed as a plain number (null where it is not one)."""
    return col.str.strip_chars().cast(pl.Float64, strict=False)


def non_numbers(
    lf: pl.LazyFrame, name: str, limit: int = 50, engine: str = "auto"
) -> tuple[dict[str, int], int]:
    """The most common digit-free non-number values of a text column (marker candidates) with their counts,
    and how many distinct non-numbers there are in all."""
    col = pl.col(name)
    bad = col.filter(col.is_not_null() & number(col).is_null())
    digit_free = bad.filter(~bad.str.contains(r"\d"))
    row = (
        lf.select(
            digit_free.value_counts(sort=True).head(limit).implode().alias("top"),
            bad.n_unique().alias("distinct"),
        )
        .collect(engine=engine)
        .row(0, named=True)
    )
    return {item[name]: int(item["count"]) for item in row["top"] or []}, int(row["distinct"] or 0)


def detect_markers(
    name: str, present: int, numeric: int, top: dict[str, int], distinct: int
) -> Markers | None:
    """Markers of a text column from its non-number values (see the module rule), or None."""
    bad = present - numeric
    if numeric == 0 or bad == 0 or distinct > MAX_TOKENS or bad > numeric:
        return None
    tokens = candidates(top)
    if len(tokens) != distinct:
        return None  # some non-number is neither a known marker nor a repeated digit-free token
    return Markers(name, tokens) if tokens else None


def candidates(top: dict[str, int]) -> dict[str, int]:
    """The digit-free tokens that read as markers: known ones (any case), or short ones that repeat."""
    tokens = {}
    for token, cells in top.items():
        text = str(token).strip()
        known = text.lower() in MARKERS
        repeats = cells >= 2 and not any(ch.isdigit() for ch in text) and len(text) <= 12
        if known or repeats:
            tokens[str(token)] = cells
    return tokens


def marker_expr(name: str, markers: Markers) -> pl.Expr:
    col = pl.col(name)
    return pl.when(col.is_in(list(markers.tokens))).then(None).otherwise(col)


def detect_sentinel(lf: pl.LazyFrame, name: str, minimum, maximum, engine: str = "auto") -> Markers | None:
    """A ±9s sentinel at the column's minimum or maximum, far outside the other values, or None."""
    found: dict[str, int] = {}
    col = pl.col(name).cast(pl.Float64)
    for value in (minimum, maximum):
        if value is None or abs(value) not in SENTINELS or (value < 0 and value != minimum):
            continue
        row = (
            lf.select(
                (col == value).sum().alias("cells"),
                col.filter(col != value).min().alias("lo"),
                col.filter(col != value).max().alias("hi"),
                col.filter(col != value).count().alias("rest"),
            )
            .collect(engine=engine)
            .row(0, named=True)
        )
        lo, hi, rest = row["lo"], row["hi"], int(row["rest"] or 0)
        if rest < MIN_REST or lo is None:
            continue
        span = max(hi - lo, 1e-12)
        far = (value > hi and value - hi > span) or (value < lo and lo - value > span)
        if far:
            text = str(int(value)) if float(value).is_integer() else str(value)
            found[text] = int(row["cells"])
    return Markers(name, found, sentinel=True) if found else None


def sentinel_expr(name: str, markers: Markers) -> pl.Expr:
    col = pl.col(name)
    values = [float(t) for t in markers.tokens]
    return pl.when(col.cast(pl.Float64).is_in(values)).then(None).otherwise(col).alias(name)


def apply_na_values(lf: pl.LazyFrame, tokens: list[str]) -> pl.LazyFrame:
    """`tokens` read as missing in every column: text equal to one, numbers equal to a numeric one."""
    if not tokens:
        return lf
    schema = lf.collect_schema()
    numbers = []
    for token in tokens:
        try:
            numbers.append(float(token))
        except ValueError:
            pass
    exprs = []
    for name, dtype in schema.items():
        c = pl.col(name)
        if dtype == pl.String:
            exprs.append(pl.when(c.str.strip_chars().is_in(tokens)).then(None).otherwise(c).alias(name))
        elif dtype.is_numeric() and dtype != pl.Boolean and numbers:
            exprs.append(pl.when(c.cast(pl.Float64).is_in(numbers)).then(None).otherwise(c).alias(name))
    return lf.with_columns(exprs) if exprs else lf
