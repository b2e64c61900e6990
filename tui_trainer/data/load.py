"""Open a dataset lazily (CSV/TSV, Parquet, JSON, NDJSON, Arrow IPC, an image folder) and explain bad input.

Every problem a user can fix becomes a `UserError` that names the file and, where it can be found, the
line and column: polars' own messages name neither reliably, so on failure we re-read the file in
Python to locate the offending line (that costs nothing on the happy path).
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from tui_trainer.data.limits import Limits, check_columns, check_json_depth, header_field_count
from tui_trainer.errors import UserError

# The tokens pandas reads as missing by default; using the same set keeps our null counts comparable
# with a pandas count of the same CSV (Palmer Penguins writes its missing values as "NA").
NA_TOKENS: list[str] = [
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
]

FORMATS: dict[str, str] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".arrow": "ipc",
    ".feather": "ipc",
    ".ipc": "ipc",
}
TEXT_FORMATS = {"csv", "tsv", "json", "ndjson"}

# Schema inference reads this many rows; a value later in the file that does not fit the inferred
# type is reported as a mixed-type/unparsable error with its line.
INFER_ROWS = 10_000
# A text-file column that is mostly numbers with a few entries that are not (at most MIXED_MAX_BAD, or
# MIXED_BAD_SHARE of its values) is a number column with bad entries: mixed types / unparsable numbers.
# A column with many non-numbers (ticket codes like "PC 17599" next to "113803") stays text.
MIXED_MAX_BAD = 2
MIXED_BAD_SHARE = 0.01

_MAGIC = {
    b"PAR1": "Parquet",
    b"ARROW1": "Arrow IPC",
    b"FEA1": "Feather v1",
    b"\x1f\x8b": "gzip",
    b"PK\x03\x04": "zip",
    b"\x89PNG": "PNG image",
    b"\xff\xd8\xff": "JPEG image",
    b"%PDF": "PDF",
}


@dataclass(frozen=True)
class Dataset:
    """A lazily opened table plus where it came from."""

    path: Path
    format: str
    lazy: pl.LazyFrame

    @property
    def name(self) -> str:
        return self.path.name


def detect_format(path: Path) -> str:
    if path.is_dir():
        return "images"
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is not None:
        return fmt
    head = _head(path, 8)
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"ARROW1") or head.startswith(b"FEA1"):
        return "ipc"
    supported = ", ".join(sorted(FORMATS))
    raise UserError(
        f"{path}: unknown file type {path.suffix or '(no extension)'!r}; supported: {supported}, or a folder of images"
    )


def open_dataset(
    path: str | Path, *, na_values: list[str] | tuple[str, ...] = (), limits: Limits | None = None
) -> Dataset:
    """Check the file and return a lazy frame over it. Raises UserError naming the file on bad input.

    `na_values` are extra tokens a CSV/TSV reads as missing (besides NA_TOKENS); `limits` bound the
    columns, JSON nesting and image pixels accepted (limits.py).
    """
    path = Path(path)
    limits = limits or Limits()
    _check_readable(path)
    fmt = detect_format(path)
    if fmt == "images":
        from tui_trainer.data.images import scan_image_folder

        return Dataset(path, fmt, scan_image_folder(path, limits))
    if path.stat().st_size == 0:
        raise UserError(f"{path}: the file is empty")
    _check_magic(path, fmt)
    if fmt in ("csv", "tsv"):
        check_columns(path, header_field_count(path, separator_of(path, fmt)), limits)
    elif fmt in ("json", "ndjson"):
        check_json_depth(path, limits)
    try:
        lf = _scan(path, fmt, list(na_values))
        check_columns(path, len(lf.collect_schema()), limits)
    except UserError:
        raise
    except Exception as exc:  # polars raises many types; each becomes a located message
        raise explain_error(path, fmt, exc) from None
    if fmt in ("csv", "tsv") and not lf.collect_schema().names():
        raise UserError(f"{path}: the file has no header row")
    return Dataset(path, fmt, lf)


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise UserError(f"{path}: no such file or folder")
    if not os.access(path, os.R_OK) or (path.is_dir() and not os.access(path, os.X_OK)):
        raise UserError(f"{path}: permission denied (cannot read it)")
    if path.is_file():
        try:
            with open(path, "rb") as fh:
                fh.read(1)
        except PermissionError:
            raise UserError(f"{path}: permission denied (cannot read it)") from None
        except OSError as exc:
            raise UserError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    elif not path.is_dir():
        raise UserError(f"{path}: not a regular file or folder")


def _head(path: Path, n: int) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(n)


def _check_magic(path: Path, fmt: str) -> None:
    head = _head(path, 65536)
    if fmt in TEXT_FORMATS:
        for magic, kind in _MAGIC.items():
            if head.startswith(magic):
                raise UserError(
                    f"{path}: this is a {kind} file, not {fmt.upper()} text (check the extension)"
                )
        if b"\x00" in head:
            offset = head.index(b"\x00")
            line = head[:offset].count(b"\n") + 1
            raise UserError(f"{path}: binary data (a NUL byte at line {line}), not {fmt.upper()} text")
        if not head.strip():
            raise UserError(f"{path}: the file is empty (only whitespace)")
        if fmt in ("csv", "tsv") and _JSON_START.match(head):
            raise UserError(
                f"{path}: the content is JSON, not {fmt.upper()} (check the extension: .json for an array of "
                "objects, .ndjson for one object per line)"
            )
    elif fmt == "parquet":
        if not head.startswith(b"PAR1"):
            raise UserError(f"{path}: not a Parquet file (it does not start with the PAR1 marker)")
    elif fmt == "ipc":
        if not (head.startswith(b"ARROW1") or head.startswith(b"FEA1") or head[:4] == b"\xff\xff\xff\xff"):
            raise UserError(f"{path}: not an Arrow IPC/Feather file (no ARROW1 marker)")


_JSON_START = re.compile(rb"^(\xef\xbb\xbf)?\s*(\[\s*[\[{\]]|\{\s*\"|\{\s*\})")


def line_ending(path: Path) -> str:
    """`\\r` for a file whose lines end in a bare CR (classic Mac, some exports), else `\\n` (LF and CRLF)."""
    head = _head(path, 65536)
    return "\r" if b"\r" in head and b"\n" not in head else "\n"


def _scan(path: Path, fmt: str, na_values: list[str] | None = None) -> pl.LazyFrame:
    if fmt in ("csv", "tsv"):
        return pl.scan_csv(
            path,
            separator=separator_of(path, fmt),
            null_values=NA_TOKENS + [v for v in na_values or [] if v not in NA_TOKENS],
            infer_schema_length=INFER_ROWS,
            raise_if_empty=True,
            eol_char=line_ending(path),
        )
    if fmt == "parquet":
        return pl.scan_parquet(path)
    if fmt == "ipc":
        return pl.scan_ipc(path)
    if fmt == "ndjson":
        return pl.scan_ndjson(path, infer_schema_length=INFER_ROWS)
    if fmt == "json":
        # JSON arrays have no lazy reader; read once, then hand a lazy frame to the same pipeline.
        return pl.read_json(path, infer_schema_length=INFER_ROWS).lazy()
    raise UserError(f"{path}: unsupported format {fmt!r}")


def separator_of(path: Path, fmt: str) -> str:
    """Tab for TSV; for CSV a comma, unless the header has none and has `;`, tab or `|` (European exports)."""
    if fmt == "tsv":
        return "\t"
    try:
        header = _head(path, 65536).replace(b"\r", b"\n").split(b"\n", 1)[0]
    except OSError:
        return ","
    if b"," in header:
        return ","
    counts = {sep: header.count(sep.encode()) for sep in (";", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def explain_error(path: Path, fmt: str, exc: BaseException) -> UserError:
    """Turn a polars/OS error about `path` into a UserError naming the file and, if found, line/column."""
    if isinstance(exc, UserError):
        return exc
    if isinstance(exc, FileNotFoundError):
        return UserError(f"{path}: no such file")
    if isinstance(exc, PermissionError):
        return UserError(f"{path}: permission denied (cannot read it)")
    if isinstance(exc, MemoryError):
        return UserError(f"{path}: not enough memory to read it")
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if fmt in TEXT_FORMATS and path.is_file():
        located = locate_text_problem(path, fmt)
        if located:
            return UserError(f"{path}: {located}")
    if fmt == "parquet":
        return UserError(f"{path}: not a readable Parquet file ({text})")
    if fmt == "ipc":
        return UserError(f"{path}: not a readable Arrow IPC/Feather file ({text})")
    if fmt in ("json", "ndjson"):
        return UserError(f"{path}: invalid {fmt.upper()} ({text})")
    return UserError(f"{path}: cannot read it as {fmt.upper()} ({text})")


def locate_text_problem(path: Path, fmt: str) -> str | None:
    """Find the first bad line of a text file in Python: encoding, ragged rows, or JSON syntax."""
    try:
        with open(path, "rb") as fh:
            for number, raw in enumerate(fh, start=1):
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError as err:
                    return (
                        f"bad encoding: line {number}, byte {err.start + 1} is not UTF-8 "
                        f"({raw[err.start : err.start + 4]!r}); re-save the file as UTF-8"
                    )
    except OSError:
        return None
    if fmt in ("csv", "tsv"):
        return _locate_ragged(path, separator_of(path, fmt))
    if fmt == "ndjson":
        import json

        with open(path, encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as err:
                    if number == 1 and line.lstrip().startswith("["):
                        return ARRAY_NOT_NDJSON
                    return f"invalid JSON at line {number}, column {err.colno}: {err.msg}"
                if number == 1 and isinstance(row, list) and row and isinstance(row[0], dict):
                    return ARRAY_NOT_NDJSON
                if not isinstance(row, dict):
                    what = "a JSON array" if isinstance(row, list) else "not an object"
                    return f"line {number} is {what}; NDJSON needs one JSON object per line"
    if fmt == "json":
        import json

        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
        except json.JSONDecodeError as err:
            if err.msg == "Extra data" and _first_line_is_object(path):
                return (
                    "the content is NDJSON (one JSON object per line), not one JSON document: name it .ndjson"
                )
            return f"invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}"
        except RecursionError:
            return "JSON nested too deeply to read"
        if not isinstance(data, list | dict):
            return "JSON must be an array of objects (one per row) or an object of columns"
    return None


ARRAY_NOT_NDJSON = "the content is a JSON array, not NDJSON (one object per line): name it .json"


def _first_line_is_object(path: Path) -> bool:
    import json

    try:
        with open(path, encoding="utf-8") as fh:
            return isinstance(json.loads(fh.readline()), dict)
    except (OSError, ValueError):
        return False


def check_short_rows(dataset: Dataset, last_column_nulls: int) -> None:
    """Exit 2 naming the line when a CSV row has fewer fields than the header.

    Polars fills a short row's missing fields with null, which is indistinguishable from empty cells, so
    when the last column has nulls (a short row always leaves it empty) the raw lines are scanned (polars,
    ~1 s/GB) for lines with fewer separators than the header; only if one exists is the file re-read with
    Python's csv module, which honours quotes, to confirm it and name its line.
    """
    if dataset.format not in ("csv", "tsv") or not last_column_nulls:
        return
    separator = separator_of(dataset.path, dataset.format)
    if not _has_short_lines(dataset.path, separator):
        return
    problem = _locate_ragged(dataset.path, separator)
    if problem:
        raise UserError(f"{dataset.path}: {problem}")


def _has_short_lines(path: Path, separator: str) -> bool:
    try:
        fields = len(
            next(
                csv.reader(
                    [_head(path, 1 << 20).decode("utf-8-sig", "replace").splitlines()[0]], delimiter=separator
                )
            )
        )
        lines = pl.scan_csv(
            path,
            has_header=False,
            separator="\x1f",
            quote_char=None,
            schema={"line": pl.String},
            eol_char=line_ending(path),
            skip_rows=1,
        )
        short = pl.col("line").str.count_matches(separator, literal=True) < fields - 1
        return bool(lines.select((short & (pl.col("line").str.len_bytes() > 0)).any()).collect().item())
    except Exception:  # noqa: BLE001 - when the fast scan cannot tell, the exact Python pass decides
        return True


def _locate_ragged(path: Path, separator: str) -> str | None:
    # A long text field is data, not damage: the csv module's 128 KiB default would call it an error. The file
    # is already on disk, so a field as long as the file costs no more than reading it.
    csv.field_size_limit(max(csv.field_size_limit(), (1 << 31) - 1))
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
        reader = csv.reader(fh, delimiter=separator)
        try:
            header = next(reader, None)
            if header is None:
                return "the file is empty"
            width = len(header)
            for row in reader:
                if row and len(row) != width:
                    return f"ragged rows: line {reader.line_num} has {len(row)} fields but the header has {width}"
        except csv.Error as exc:
            return f"line {reader.line_num}: not valid CSV ({exc})"
    return None


_PARSE_RE = re.compile(
    r"could not parse [`'\"]?(?P<value>.*?)[`'\"]? as dtype [`'\"]?(?P<dtype>\w+)[`'\"]? at column [`'\"]?(?P<col>[^`'\"]+)"
)


def explain_parse_failure(path: Path, fmt: str, exc: BaseException) -> UserError:
    """Polars failed to parse a value during a full read: say which value, column and line."""
    message = str(exc)
    match = _PARSE_RE.search(message)
    if match and fmt in ("csv", "tsv"):
        value, col = match.group("value"), match.group("col")
        line = _find_value_line(path, separator_of(path, fmt), col, value)
        where = f"line {line}, " if line else ""
        return UserError(
            f"{path}: mixed types / unparsable number: {where}column {col!r} has {value!r} where the earlier "
            f"rows are {match.group('dtype')}"
        )
    return explain_error(path, fmt, exc)


def _find_value_line(path: Path, separator: str, column: str, value: str) -> int | None:
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh, delimiter=separator)
            header = next(reader, [])
            if column not in header:
                return None
            index = header.index(column)
            for row in reader:
                if index < len(row) and row[index] == value:
                    return reader.line_num
    except (OSError, UnicodeDecodeError):
        return None
    return None


def check_mixed_columns(dataset: Dataset, string_columns: dict[str, tuple[int, int]]) -> None:
    """Raise for text-file columns that are numbers except for a few unparsable entries.

    `string_columns` maps column -> (non-missing count, count that parse as numbers), computed in the
    profile pass so this check adds no pass of its own.
    """
    if dataset.format not in TEXT_FORMATS:
        return
    for name, (present, numeric) in string_columns.items():
        bad = present - numeric
        if present and 0 < bad <= max(MIXED_MAX_BAD, MIXED_BAD_SHARE * present) and numeric >= bad:
            row, value = _first_non_numeric(dataset.lazy, name)
            line = f"line {row + 2}" if dataset.format in ("csv", "tsv") else f"row {row}"
            raise UserError(
                f"{dataset.path}: mixed types / unparsable number in column {name!r}: {line} has {value!r} "
                f"while {numeric} of {present} values are numbers"
            )


def _first_non_numeric(lf: pl.LazyFrame, name: str) -> tuple[int, str]:
    col = pl.col(name)
    bad = (
        lf.select(col)
        .with_row_index("__row")
        .filter(col.is_not_null() & col.str.strip_chars().cast(pl.Float64, strict=False).is_null())
        .head(1)
        .collect()
    )
    if bad.height == 0:
        return -1, ""
    return int(bad["__row"][0]), str(bad[name][0])
