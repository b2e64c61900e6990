"""What text and number columns mean: markers read as missing, formatted numbers parsed, dates parsed.

Runs after the first profile and looks again only at candidate columns (text columns with some numbers,
or whose top values look like dates or formatted numbers; number columns whose min or max is a 9s
sentinel), so a clean file costs nothing. Returns the frame with those columns converted, the
findings that say what was converted and how to make it permanent (recipe steps, CLI flags), and the
changed column names, which the caller profiles again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import polars as pl

from tui_trainer.data import dates, formatted, markers
from tui_trainer.data.evidence import make_finding
from tui_trainer.data.profile import Profile, first_rows
from tui_trainer.findings import Finding, Severity


@dataclass
class Interpretation:
    lf: pl.LazyFrame
    findings: list[Finding] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    na_values: dict[str, list[str]] = field(default_factory=dict)  # column -> tokens read as missing
    parse_numbers: dict[str, str] = field(default_factory=dict)  # column -> separator style
    parse_dates: dict[str, str] = field(default_factory=dict)  # column -> strftime format


def _quoted(tokens: list[str]) -> str:
    return ", ".join(repr(t) for t in tokens)


def interpret(
    lf: pl.LazyFrame,
    profile: Profile,
    *,
    date_format: str | None = None,
    engine: str = "auto",
) -> Interpretation:
    schema = lf.collect_schema()
    out = Interpretation(lf)
    exprs: list[pl.Expr] = []
    for col in profile.columns:
        name, dtype = col.name, schema[col.name]
        if dtype == pl.String and col.count:
            expr = _text_column(lf, col, out, date_format, engine)
            if expr is not None:
                exprs.append(expr.alias(name))
                out.changed.append(name)
        elif col.kind == "numeric" and col.count and dtype != pl.Boolean:
            found = markers.detect_sentinel(lf, name, col.min, col.max, engine)
            if found:
                exprs.append(markers.sentinel_expr(name, found))
                out.changed.append(name)
                out.na_values[name] = list(found.tokens)
                rows = first_rows(
                    lf, pl.col(name).cast(pl.Float64).is_in([float(t) for t in found.tokens]), engine
                )
                out.findings.append(_marker_finding(found, rows, profile.rows))
    if exprs:
        lf = lf.with_columns(exprs)
    out.lf = lf
    out.changed = list(dict.fromkeys(out.changed))
    return out


def _text_column(lf, col, out: Interpretation, date_format: str | None, engine: str) -> pl.Expr | None:
    name = col.name
    numeric = col.numeric_strings or 0
    top_values = [v for v, _ in col.top]
    date_like = dates.looks_like_date(top_values) or date_format is not None
    formatted_like = any(isinstance(v, str) and _formatted_hint(v) for v in top_values)
    if not (numeric or date_like or formatted_like):
        return None
    bad, distinct = markers.non_numbers(lf, name, engine=engine)
    found = markers.detect_markers(name, col.count, numeric, bad, distinct)
    if found:
        out.na_values[name] = list(found.tokens)
        rows = first_rows(lf, pl.col(name).is_in(list(found.tokens)), engine)
        out.findings.append(_marker_finding(found, rows, col.count + col.missing))
        return markers.marker_expr(name, found).str.strip_chars().cast(pl.Float64, strict=False)
    candidates = markers.candidates(bad)
    if len(candidates) > markers.MAX_TOKENS:
        candidates = {}
    marks = markers.Markers(name, candidates) if candidates else None
    missing = list(candidates)
    if date_like:
        fmt = dates.detect(lf, name, col.count, date_format, engine, missing)
        if fmt is not None:
            return _date_result(lf, col, fmt, marks, out, engine)
    fmt_num = formatted.detect(lf, name, col.count, numeric, engine, missing)
    if fmt_num is not None:
        if marks:
            out.na_values[name] = missing
            rows = first_rows(lf, pl.col(name).is_in(missing), engine)
            out.findings.append(_marker_finding(marks, rows, col.count + col.missing))
        out.parse_numbers[name] = fmt_num.style
        rows = first_rows(
            lf,
            pl.col(name).is_not_null()
            & markers.number(pl.col(name)).is_null()
            & ~pl.col(name).is_in(missing),
            engine,
        )
        out.findings.append(_formatted_finding(fmt_num, rows))
        return formatted.parse_expr(name, fmt_num.style)
    return None


def _formatted_hint(value: str) -> bool:
    return bool(re.match(formatted.PATTERN, value)) and not _plain(value)


def _plain(value: str) -> bool:
    try:
        float(value.strip())
        return True
    except ValueError:
        return False


def _date_result(lf, col, fmt: dates.DateFormat, marks, out: Interpretation, engine: str) -> pl.Expr | None:
    name = col.name
    if fmt.format is None:
        out.findings.append(
            make_finding(
                "date_ambiguous",
                Severity.WARNING,
                f"{name}: dates with an ambiguous day/month order",
                f"All {fmt.count} values of {name!r} read as dates with each of {', '.join(fmt.candidates)}; "
                "which one is meant cannot be told from the values, so the column stays text.",
                f"Say which: --date-format '{fmt.candidates[0]}' (or parse_dates in a fix recipe).",
                [name],
                fmt.count,
                [],
                formats=list(fmt.candidates),
            )
        )
        return None
    if marks:
        out.na_values[name] = list(marks.tokens)
        rows = first_rows(lf, pl.col(name).is_in(list(marks.tokens)), engine)
        out.findings.append(_marker_finding(marks, rows, col.count + col.missing))
    out.parse_dates[name] = fmt.format
    out.findings.append(
        make_finding(
            "date_text",
            Severity.INFO,
            f"{name}: dates stored as text, read with {fmt.format}",
            f"All {fmt.count} dates of {name!r} parse with the format {fmt.format}; the profile and the temporal "
            "checks use the parsed dates.",
            f'Parse them for training: parse_dates = {{ {name} = "{fmt.format}" }} in a fix recipe '
            "(then derive year/month/day features, or exclude the column).",
            [name],
            fmt.count,
            [],
            format=fmt.format,
            datetime=fmt.datetime,
        )
    )
    expr = dates.parse_expr(name, fmt.format, fmt.datetime)
    if marks:
        expr = pl.when(pl.col(name).is_in(list(marks.tokens))).then(None).otherwise(expr)
    return expr


def _marker_finding(found: markers.Markers, rows: list[int], total: int) -> Finding:
    tokens = list(found.tokens)
    what = "sentinel value" if found.sentinel else "marker"
    flag = ",".join(tokens)
    return make_finding(
        "missing_marker",
        Severity.WARNING,
        f"{found.column}: {found.count} missing values written as {_quoted(tokens)}",
        f"{found.count} of {total} values of {found.column!r} are the {what}{'s' if len(tokens) > 1 else ''} "
        + ", ".join(f"{t!r} ({n})" for t, n in found.tokens.items())
        + "; they are counted as missing and the column is profiled as numbers.",
        f"Read them as missing: na_values = [{', '.join(repr(t) for t in tokens)}] in a fix recipe, or "
        f"--na-values '{flag}' on the command line.",
        [found.column],
        found.count,
        rows,
        tokens=dict(found.tokens),
        sentinel=found.sentinel,
        converted=True,
    )


def _formatted_finding(found: formatted.Formatted, rows: list[int]) -> Finding:
    what = []
    if found.currency:
        what.append(f"currency {found.currency}")
    if found.unit:
        what.append(f"unit {found.unit!r}")
    what.append(
        {
            "thousands_comma": "',' thousands separators",
            "decimal_comma": "decimal commas",
            "spaced": "spaced thousands",
        }[found.style]
    )
    return make_finding(
        "numeric_formatted",
        Severity.WARNING,
        f"{found.column}: numbers written with {', '.join(what)}",
        f"{found.count} of {found.parsed} values of {found.column!r} are formatted numbers "
        f"(e.g. with {', '.join(what)}); parsed, they range from {found.min:g} to {found.max:g}.",
        f'Parse them: parse_numbers = {{ {found.column} = "{found.style}" }} in a fix recipe.',
        [found.column],
        found.count,
        rows,
        style=found.style,
        unit=found.unit,
        currency=found.currency,
        min=found.min,
        max=found.max,
    )
