"""How the Data pane writes values into its narrow cells: numbers, missing values, dtypes, paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text

CELL_MAX = 40  # widest a rows-table cell grows; the full value is one `t` away in the profile

_SHORT_DTYPES = {
    "Float64": "f64",
    "Float32": "f32",
    "Int64": "i64",
    "Int32": "i32",
    "Int16": "i16",
    "Int8": "i8",
    "UInt64": "u64",
    "UInt32": "u32",
    "UInt16": "u16",
    "UInt8": "u8",
    "String": "str",
    "Boolean": "bool",
}

_SHORT_PREFIXES = {
    "Datetime": "dt",
    "Date": "date",
    "Duration": "dur",
    "Time": "time",
    "Categorical": "cat",
    "Enum": "enum",
    "List": "list",
    "Array": "arr",
    "Struct": "st",
    "Null": "null",
    "Decimal": "dec",
}


def display_path(path: Path) -> str:
    """The last two parts of a path: enough to recognise it, and the same on every machine."""
    return str(Path(*path.parts[-2:])) if len(path.parts) >= 2 else str(path)


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def short_dtype(dtype: str) -> str:
    """A type name that fits the 4-wide column (the detail panel shows the full one)."""
    if dtype in _SHORT_DTYPES:
        return _SHORT_DTYPES[dtype]
    for prefix, short in _SHORT_PREFIXES.items():
        if dtype.startswith(prefix):
            return short
    return clip(dtype, 4)


def halve(counts: list[int]) -> list[int]:
    """Pairs of histogram bins summed: a 10-character sparkline fits the column table."""
    if len(counts) <= 10:
        return counts
    return [sum(counts[i : i + 2]) for i in range(0, len(counts), 2)]


def stat(value: Any) -> str:
    """A statistic in the profile table's 7-wide columns."""
    if value is None:
        return "–"
    if isinstance(value, float):
        text = f"{value:.4g}"
        return text if len(text) <= 7 else f"{value:.1e}"
    return str(value)[:16]


def cell(value: Any) -> Text | str:
    """One value of the rows table: missing values as a dim ∅, long text cut at CELL_MAX."""
    if value is None:
        return Text("∅", style="dim")
    if isinstance(value, float):
        return f"{value:.6g}"
    text = str(value)
    return text if len(text) <= CELL_MAX else text[: CELL_MAX - 1] + "…"


def plain(value: Any) -> str:
    shown = cell(value)
    return shown.plain if isinstance(shown, Text) else shown


def summary_line(inspection, label: str | None, against) -> str:
    """The status line for an inspected dataset: size, findings by severity, label, comparison."""
    profile = inspection.profile
    counts: dict[str, int] = {}
    for finding in inspection.findings:
        counts[finding.severity.value] = counts.get(finding.severity.value, 0) + 1
    summary = ", ".join(f"{counts[s]} {s}" for s in ("error", "warning", "info", "ok") if counts.get(s))
    labelled = f" · label {label}" if label else " · no label (l to choose)"
    compared = f" · compared with {display_path(against.path)}" if against is not None else ""
    return (
        f"{display_path(inspection.dataset.path)} · {profile.rows} rows × {len(profile.columns)} columns · "
        f"{profile.duplicates} duplicate rows · findings: {summary or 'none'}{labelled}{compared}"
    )
