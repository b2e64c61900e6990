"""Numbers written for people: `$139,750`, `12 kg`, `45%`, `1.234,5` (decimal comma), `-1 200`.

Rule (`numeric_formatted`): every non-missing value of a text column (markers aside) matches
[sign][currency] digits-with-separators [unit], the column uses one unit (or none) and one separator
style, and at least one value is not a plain number. Separator style: thousands `,` and decimal `.`
when every value fits it (so `3,504` is 3504), else decimal `,` with `.`, space or `'` for thousands.
The parsed value is the number as written: `45%` is 45 (the unit is reported), `$1,200` is 1200.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

CURRENCY = "$€£¥₹₽₩"
PATTERN = (
    r"^\s*(?P<sign>[-+−]?)\s*(?P<cur>[" + CURRENCY + r"]|[A-Z]{3}\s)?\s*(?P<num>\d[\d.,' \u00a0\u202f]*)"
    r"\s*(?P<unit>%|‰|[" + CURRENCY + r"]|[A-Za-zµ°²³/]{1,8}\.?)?\s*$"
)
THOUSANDS_COMMA = r"^(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$"
DECIMAL_COMMA = r"^(\d{1,3}([. '\u00a0\u202f]\d{3})+|\d+)(,\d+)?$"
SPACED = r"^(\d{1,3}([ '\u00a0\u202f]\d{3})+|\d+)(\.\d+)?$"


@dataclass(frozen=True)
class Formatted:
    column: str
    style: str  # "thousands_comma" | "decimal_comma" | "spaced"
    unit: str | None
    currency: str | None
    count: int  # values that needed the parse (not plain numbers)
    parsed: int  # values parsed in all
    min: float | None = None
    max: float | None = None


def _parts(name: str) -> pl.Expr:
    return pl.col(name).str.extract_groups(PATTERN)


def detect(
    lf: pl.LazyFrame,
    name: str,
    present: int,
    plain: int,
    engine: str = "auto",
    missing: list[str] | None = None,
) -> Formatted | None:
    """The formatting of text column `name` when every value (besides `missing` tokens) is a formatted number."""
    col = pl.col(name)
    values = col.filter(~col.is_in(missing or []) & col.is_not_null())
    parts = values.str.extract_groups(PATTERN)
    num = parts.struct.field("num").str.replace_all(r"[\s\u00a0\u202f]+$", "")
    row = (
        lf.select(
            values.count().alias("n"),
            num.count().alias("matched"),
            num.str.contains(THOUSANDS_COMMA).sum().alias("thousands"),
            num.str.contains(DECIMAL_COMMA).sum().alias("decimal"),
            num.str.contains(SPACED).sum().alias("spaced"),
            parts.struct.field("unit").drop_nulls().unique().head(3).implode().alias("units"),
            parts.struct.field("cur")
            .drop_nulls()
            .str.strip_chars()
            .unique()
            .head(3)
            .implode()
            .alias("currencies"),
            parts.struct.field("unit").null_count().alias("no_unit"),
        )
        .collect(engine=engine)
        .row(0, named=True)
    )
    n, matched = int(row["n"]), int(row["matched"])
    if n == 0 or matched < n or plain >= n:
        return None
    units, currencies = row["units"] or [], row["currencies"] or []
    if len(units) > 1 or len(currencies) > 1 or (units and int(row["no_unit"]) > 0 and units[0] not in "%‰"):
        return None  # mixed units (kg and g) cannot be parsed into one number
    for style in ("thousands_comma", "spaced", "decimal_comma"):
        key = {"thousands_comma": "thousands", "decimal_comma": "decimal", "spaced": "spaced"}[style]
        if int(row[key]) == n:
            break
    else:
        return None
    unit, currency = (units[0] if units else None), (currencies[0] if currencies else None)
    if unit is not None and unit in CURRENCY:  # a trailing symbol: 1.234,56 €
        if currency is not None and currency != unit:
            return None
        unit, currency = None, unit
    found = Formatted(name, style, unit, currency, n - plain, n)
    bounds = lf.select(parse_expr(name, style).min().alias("lo"), parse_expr(name, style).max().alias("hi"))
    lo_hi = bounds.collect(engine=engine).row(0)
    return Formatted(**{**found.__dict__, "min": lo_hi[0], "max": lo_hi[1]})


def parse_expr(name: str, style: str) -> pl.Expr:
    """The column parsed as Float64 by `style` (null where a value does not match)."""
    parts = _parts(name)
    num = parts.struct.field("num").str.replace_all(r"[\s\u00a0\u202f']", "")
    if style == "decimal_comma":
        num = num.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True)
    else:
        num = num.str.replace_all(",", "", literal=True)
    value = num.cast(pl.Float64, strict=False)
    negative = parts.struct.field("sign").is_in(["-", "−"])
    return pl.when(negative).then(-value).otherwise(value).alias(name)
