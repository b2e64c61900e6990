"""The table view's model: a lazy frame sliced one visible page at a time, sorted and filtered on request.

Filters are Polars expressions typed by the user (`pl.col("x") > 3`) or SQL conditions (`x > 3 AND
species = 'Adelie'`). Typed text is never `eval`ed: it is parsed with `ast` and only calls on `pl` and on
expressions are allowed. Errors come back as values for the pane to show, never as exceptions.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

import polars as pl

ROW_INDEX = "#"

# Top-level `pl.` names a filter may use: expression builders and dtypes, nothing that reads or writes files.
_PL_NAMES = {
    "col",
    "lit",
    "all",
    "any",
    "when",
    "len",
    "first",
    "last",
    "concat_str",
    "coalesce",
    "element",
    "all_horizontal",
    "any_horizontal",
    "sum_horizontal",
    "max_horizontal",
    "min_horizontal",
    "mean_horizontal",
    "int_range",
    "date",
    "datetime",
    "duration",
    "Float32",
    "Float64",
    "Int8",
    "Int16",
    "Int32",
    "Int64",
    "UInt8",
    "UInt16",
    "UInt32",
    "UInt64",
    "String",
    "Utf8",
    "Boolean",
    "Date",
    "Datetime",
    "Categorical",
}
_BINOPS = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.FloorDiv: lambda a, b: a // b,
    ast.Mod: lambda a, b: a % b,
    ast.Pow: lambda a, b: a**b,
    ast.BitAnd: lambda a, b: a & b,
    ast.BitOr: lambda a, b: a | b,
    ast.BitXor: lambda a, b: a ^ b,
}
_CMPOPS = {
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
}


class FilterError(ValueError):
    """A filter the user typed that cannot be used; the message says why."""


def parse_filter(text: str, schema: pl.Schema | None = None) -> pl.Expr:
    """A boolean expression from user text: `pl.…` Python syntax (restricted) or a SQL condition."""
    text = text.strip()
    if not text:
        raise FilterError("empty filter")
    if text.startswith("pl.") or "pl.col(" in text:
        try:
            tree = ast.parse(text, mode="eval")
        except SyntaxError as exc:
            raise FilterError(f"syntax error at column {exc.offset}: {exc.msg}") from None
        value = _eval(tree.body)
        if not isinstance(value, pl.Expr):
            raise FilterError('the filter must be a Polars expression, e.g. pl.col("x") > 3')
        return value
    try:
        return pl.sql_expr(text)
    except Exception as exc:  # noqa: BLE001 - polars' SQL parser raises several types
        raise FilterError(f"not a valid condition: {str(exc).splitlines()[0]}") from None


def _eval(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.List | ast.Tuple):
        values = [_eval(e) for e in node.elts]
        return values if isinstance(node, ast.List) else tuple(values)
    if isinstance(node, ast.Name):
        if node.id == "pl":
            return _PL
        if node.id in ("True", "False", "None"):
            return {"True": True, "False": False, "None": None}[node.id]
        raise FilterError(f'unknown name {node.id!r}; use pl.col("name") for columns')
    if isinstance(node, ast.Attribute):
        if node.attr.startswith("_"):
            raise FilterError(f"attribute {node.attr!r} is not allowed")
        base = _eval(node.value)
        if base is _PL:
            if node.attr not in _PL_NAMES:
                raise FilterError(f"pl.{node.attr} is not allowed in a filter")
            return getattr(pl, node.attr)
        if isinstance(base, pl.Expr) or _is_namespace(base) or _is_when(base):
            try:
                return getattr(base, node.attr)
            except AttributeError:
                raise FilterError(f"expressions have no method {node.attr!r}") from None
        raise FilterError(f"attribute {node.attr!r} is not allowed here")
    if isinstance(node, ast.Call):
        func = _eval(node.func)
        if not callable(func):
            raise FilterError("only Polars functions and expression methods can be called")
        args = [_eval(a) for a in node.args]
        kwargs = {k.arg: _eval(k.value) for k in node.keywords if k.arg is not None}
        try:
            return func(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - a bad call is the user's to fix
            raise FilterError(f"{exc}".splitlines()[0]) from None
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        return _BINOPS[type(node.op)](_eval(node.left), _eval(node.right))
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand)
        if isinstance(node.op, ast.Invert | ast.Not):
            return ~operand
        if isinstance(node.op, ast.USub):
            return -operand
        if isinstance(node.op, ast.UAdd):
            return operand
    if isinstance(node, ast.BoolOp):
        values = [_eval(v) for v in node.values]
        result = values[0]
        for v in values[1:]:
            result = (result & v) if isinstance(node.op, ast.And) else (result | v)
        return result
    if isinstance(node, ast.Compare):
        left = _eval(node.left)
        result = None
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            if type(op) not in _CMPOPS:
                raise FilterError("use .is_in([...]) instead of `in`")
            right = _eval(right_node)
            part = _CMPOPS[type(op)](left, right)
            result = part if result is None else (result & part)
            left = right
        return result
    raise FilterError(f"{type(node).__name__} is not allowed in a filter")


class _PLToken:
    """Stands for the `pl` module inside a parsed filter."""


_PL = _PLToken()


def _is_namespace(obj: Any) -> bool:
    return type(obj).__module__.startswith("polars.expr")


def _is_when(obj: Any) -> bool:
    return type(obj).__module__.startswith("polars.functions.whenthen")


@dataclass
class ViewState:
    sort: str | None = None
    descending: bool = False
    filter_text: str = ""
    rows: list[int] | None = None  # a finding's row indices: show only those
    condition: pl.Expr | None = None  # a finding's own filter (all its rows), when it has one
    focus: str = ""  # what `rows`/`condition` stand for, for the status line


class Pager:
    """Visible-page access to a lazy frame: `page(offset, size)` collects only those rows.

    The original 0-based row index rides along as column `#`, so sorting and filtering keep each row's
    identity and findings' example rows can be shown.
    """

    def __init__(self, lf: pl.LazyFrame) -> None:
        self.source = lf
        self.state = ViewState()
        self._schema = lf.collect_schema()
        self._total: tuple[tuple, int] | None = None  # (view key, rows)

    @property
    def columns(self) -> list[str]:
        return self._schema.names()

    def view(self) -> pl.LazyFrame:
        lf = self.source.with_row_index(ROW_INDEX)
        if self.state.condition is not None:
            lf = lf.filter(self.state.condition)
        elif self.state.rows is not None:
            lf = lf.filter(pl.col(ROW_INDEX).is_in(pl.Series(self.state.rows, dtype=pl.UInt32).implode()))
        if self.state.filter_text:
            lf = lf.filter(parse_filter(self.state.filter_text, self._schema))
        if self.state.sort:
            lf = lf.sort(
                self.state.sort, descending=self.state.descending, nulls_last=True, maintain_order=True
            )
        return lf

    def set_filter(self, text: str) -> str | None:
        """Apply a filter; return an error message (and keep the old filter) if it cannot be used."""
        text = text.strip()
        if not text:
            self.state.filter_text = ""
            self._total = None
            return None
        try:
            expr = parse_filter(text, self._schema)
            self.source.with_row_index(ROW_INDEX).filter(expr).head(1).collect()
        except FilterError as exc:
            return str(exc)
        except Exception as exc:  # noqa: BLE001 - polars raises many kinds for a bad column or type
            return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        self.state.filter_text = text
        self._total = None
        return None

    def set_sort(self, column: str | None, descending: bool = False) -> None:
        if column is not None and column not in self._schema and column != ROW_INDEX:
            raise FilterError(f"no column {column!r}")
        self.state.sort = None if column == ROW_INDEX else column
        self.state.descending = descending

    def show_rows(self, rows: list[int] | None, condition: pl.Expr | None = None, focus: str = "") -> None:
        """Limit the view to a finding's rows (its filter if it has one, else its example indices); None clears."""
        self.state.rows = list(rows) if rows is not None else None
        self.state.condition = condition if rows is not None or condition is not None else None
        self.state.focus = focus if (rows is not None or condition is not None) else ""
        self._total = None

    def replace_source(self, lf: pl.LazyFrame) -> None:
        """Same rows, faster storage (the in-memory copy once it is read); the view state is kept."""
        self.source = lf

    def _view_key(self) -> tuple:
        state = self.state
        rows = tuple(state.rows) if state.rows is not None else None
        return (state.filter_text, rows, id(state.condition) if state.condition is not None else None)

    def total_rows(self) -> int:
        """Rows in the current view; cached per view, so a count made for an older view is never reused."""
        key = self._view_key()
        if self._total is None or self._total[0] != key:
            count = int(self.view().select(pl.len()).collect(engine="streaming").item())
            self._total = (key, count)
            return count
        return self._total[1]

    def page(self, offset: int, size: int) -> pl.DataFrame:
        return self.view().slice(max(0, offset), max(0, size)).collect()
