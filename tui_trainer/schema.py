"""TOML files read into typed msgspec schemas: one reader, one converter, errors naming the file, key and form.

Every TOML file kind (train config, augment pipeline, fix recipe, theme, user config) declares its schema once,
as `msgspec.Struct(forbid_unknown_fields=True)` classes with the types, choices (`Literal`) and ranges
(`Annotated[int, msgspec.Meta(ge=1)]`) on the fields. `convert` checks a TOML dict against it and turns
msgspec's error path into the message a user reads: `FILE: `train.epochs` must be an integer >= 1, got 0`.
`Meta(description=...)` documents a key; `Meta(extra={"expected": "..."})` words an unusual form.

Only modules that load a file import this one, so `tui-trainer --version` never pays for msgspec.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import msgspec.inspect as mi

from tui_trainer.errors import UserError

T = TypeVar("T")
Key = tuple[str | int, ...]
Where = str | Callable[[Key], str]

MAX_TOML_BYTES = 16 * 1024 * 1024
_INT_LIMIT = 2**63  # anything past int64 overflows torch, numpy and polars
_AT = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_PART = re.compile(r"\.([^.\[]+)|\[(\d+|\.\.\.)\]")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<name>.*)`$", re.S)
_MISSING = re.compile(r"^Object missing required field `(?P<name>.*)`$", re.S)
_OUT_OF_RANGE = re.compile(r"^Expected `(int|float)` (>=|>|<=|<) ")


def dotted(key: Key) -> str:
    """`train.epochs`, `model.hidden[1]`: the default way a message writes a key."""
    text = ""
    for part in key:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return f"`{text}`"


def quoted(key: Key) -> str:
    """`'variables.foo'`: the key style of the theme and user-config messages."""
    return "'" + dotted(key).strip("`") + "'"


def read_toml(path: Path | str, what: str, error: type[Exception] = UserError) -> dict[str, Any]:
    """A TOML file as a dict; a missing, unreadable, oversized, non-UTF-8 or malformed file is `error(message)`.

    `what` names the file kind in messages ("config", "theme", ...). Only regular files are read (a FIFO
    would hang the reader); a UTF-8 byte-order mark is allowed.
    """
    path = Path(path)
    try:
        if path.is_dir():
            raise error(f"{path}: is a folder; expected a TOML {what} file")
        if path.exists() and not path.is_file():
            raise error(f"{path}: not a regular file; expected a TOML {what} file")
        with open(path, "rb") as fh:
            raw = fh.read(MAX_TOML_BYTES + 1)
    except FileNotFoundError:
        raise error(f"{path}: {what} not found") from None
    except PermissionError:
        raise error(f"{path}: permission denied (cannot read the {what} file)") from None
    except OSError as exc:
        raise error(f"{path}: cannot read the {what} file: {exc.strerror or exc}") from None
    if len(raw) > MAX_TOML_BYTES:
        raise error(f"{path}: larger than {MAX_TOML_BYTES // 2**20} MB; not a {what} file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise error(f"{path}: not UTF-8 text; expected a TOML {what} file") from None
    return parse_toml(text, str(path), error)


def parse_toml(text: str, where: str, error: type[Exception] = UserError) -> dict[str, Any]:
    """TOML text as a dict; bad TOML is `error` naming `where` and the line."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{where}: not valid TOML ({exc})") from None
    except RecursionError:
        raise error(f"{where}: not valid TOML (nested too deeply)") from None


def convert(
    data: Any,
    schema: type[T],
    where: Where,
    *,
    error: type[Exception] = UserError,
    key: Callable[[Key], str] = dotted,
    wording: Callable[[Problem, str], str] | None = None,
) -> T:
    """`data` (a TOML dict) checked against `schema` and built into it; any mistake is `error(message)`.

    `where` names the file (or, as a function of the key, where that key came from); `key` writes a key;
    `wording(problem, where)` words the message instead, for a file kind whose messages have their own form.
    A dataclass root holds tables only: its keys are its fields typed as Structs.
    """
    info = mi.type_info(schema)
    try:
        _check_numbers(data, (), info)
        if isinstance(info, mi.DataclassType):
            if not isinstance(data, dict):
                raise Problem((), "a TOML table", data, type=info)
            tables = _table_names(info)
            for name in data:
                if name not in tables:
                    raise Problem((), "", data, unknown=str(name), type=info, known=_file_keys(info))
        try:
            return msgspec.convert(data, schema, strict=True)
        except msgspec.ValidationError as exc:
            raise _problem(str(exc), data, schema, info) from None
    except RecursionError:
        raise error(f"{where(()) if callable(where) else where}: nested too deeply") from None
    except Problem as p:
        if wording is not None:
            full = p.key if p.unknown is None else (*p.key, p.unknown)
            raise error(wording(p, where(full) if callable(where) else where)) from None
        raise error(_format(p, info, where, key)) from None


def invalid(
    where: Where,
    key: Key,
    expected: str,
    got: Any,
    *,
    error: type[Exception] = UserError,
    style: Callable[[Key], str] = dotted,
) -> Exception:
    """The error for a check the types cannot state (a cross-key rule), worded like the schema's own."""
    place = where(key) if callable(where) else where
    return error(f"{place}: {style(key)} must be {expected}, got {_show(got)}")


def describe(t: Any, plural: bool = False) -> str:
    """A msgspec type (a class or a `msgspec.inspect` type) in words: "an integer >= 1", "a list of numbers"."""
    if not isinstance(t, mi.Type):
        t = mi.type_info(t)
    if isinstance(t, mi.Metadata):
        if t.extra and "expected" in t.extra:
            return str(t.extra["expected"])
        return describe(t.type, plural)
    if isinstance(t, mi.BoolType):
        return "booleans" if plural else "true or false"
    if isinstance(t, mi.IntType):
        return ("integers" if plural else "an integer") + _bounds(t)
    if isinstance(t, mi.FloatType):
        return ("numbers" if plural else "a number") + _bounds(t)
    if isinstance(t, mi.StrType):
        if t.min_length:
            return "non-empty strings" if plural else "a non-empty string"
        return "strings" if plural else "a string"
    if isinstance(t, mi.LiteralType):
        if len(t.values) == 1:
            return repr(t.values[0])
        return ("values from " if plural else "one of ") + ", ".join(map(repr, t.values))
    if isinstance(t, mi.ListType | mi.SetType | mi.FrozenSetType | mi.VarTupleType):
        items = describe(t.item_type, plural=True)
        lo, hi = t.min_length, t.max_length
        if lo is not None and lo == hi:
            size = f"{lo} "
        elif lo and hi is not None:
            size = f"{lo} to {hi} "
        elif hi is not None:
            size = f"at most {hi} "
        elif lo and lo > 1:
            size = f"at least {lo} "
        else:
            size = ""
        if lo == 1 and hi is None:
            return ("non-empty lists of " if plural else "a non-empty list of ") + items
        return ("lists of " if plural else "a list of ") + size + items
    if isinstance(t, mi.DictType | mi.StructType | mi.DataclassType | mi.TypedDictType):
        return "tables" if plural else "a table"
    if isinstance(t, mi.UnionType):
        return " or ".join(describe(m, plural) for m in t.types if not isinstance(m, mi.NoneType))
    if isinstance(t, mi.NoneType):
        return "not set"
    return "values" if plural else "a value"


def field_type(schema: type, key: Key) -> Any:
    """The `msgspec.inspect` type at `key` in `schema` (None where the schema does not say)."""
    return _type_at(mi.type_info(schema), key)


def keys(schema: type) -> Iterator[tuple[str, mi.Field]]:
    """Every documented key of a schema, dotted ("train.epochs"), with its msgspec field; tables recurse."""
    yield from _keys(mi.type_info(schema), "")


def default_of(field: mi.Field) -> Any:
    """A field's default value (calling its factory); `msgspec.NODEFAULT` when the key is required."""
    if field.default is not msgspec.NODEFAULT:
        return field.default
    if field.default_factory is not msgspec.NODEFAULT:
        return field.default_factory()
    return msgspec.NODEFAULT


def description_of(field: mi.Field) -> str:
    t = field.type
    while isinstance(t, mi.Metadata):
        if t.extra_json_schema and "description" in t.extra_json_schema:
            return str(t.extra_json_schema["description"])
        t = t.type
    return ""


def markdown_table(schema: type, prefix: str = "") -> str:
    """The schema's keys as a Markdown table (key, expected form, default, meaning) for docs/."""
    rows = ["| key | expected | default | meaning |", "| --- | --- | --- | --- |"]
    for name, field in keys(schema):
        default = default_of(field)
        shown = "(required)" if default is msgspec.NODEFAULT else _toml_value(default)
        kind, meaning = (text.replace("|", "\\|") for text in (describe(field.type), description_of(field)))
        rows.append(f"| `{prefix}{name}` | {kind} | {shown} | {meaning} |")
    return "\n".join(rows) + "\n"


_BLOCK = re.compile(
    r"(<!-- schema: (?P<target>[\w.]+:\w+)(?: (?P<prefix>\S+))? -->\n)(?P<body>.*?)(<!-- /schema -->)",
    re.S,
)


def update_markdown(text: str) -> str:
    """`text` with every `<!-- schema: module:Class [prefix] -->` ... `<!-- /schema -->` block regenerated."""
    import importlib

    def render(m: re.Match[str]) -> str:
        module, name = m["target"].split(":")
        cls = getattr(importlib.import_module(module), name)
        return m.group(1) + markdown_table(cls, m["prefix"] or "") + m.group(5)

    return _BLOCK.sub(render, text)


def main(argv: list[str] | None = None) -> int:
    """`python -m tui_trainer.schema docs/configuration.md`: regenerate the key tables in those files."""
    import sys

    for name in argv if argv is not None else sys.argv[1:]:
        path = Path(name)
        text = path.read_text(encoding="utf-8")
        new = update_markdown(text)
        if new != text:
            path.write_text(new, encoding="utf-8")
            print(f"updated {path}")
    return 0


# ----- internals ---------------------------------------------------------------------------------------


class Problem(Exception):
    """What is wrong at `key`: the expected form and the value got, an unknown or missing key, or msgspec's text.

    `type` is the schema's type there (a `msgspec.inspect` type, None where the schema does not say);
    `out_of_range` says a number of the right type fell outside the field's bounds.
    """

    def __init__(
        self,
        key: Key,
        expected: str,
        got: Any,
        *,
        unknown: str | None = None,
        missing: str | None = None,
        text: str = "",
        type: Any = None,
        out_of_range: bool = False,
        known: tuple[str, ...] = (),
    ) -> None:
        super().__init__(text or expected)
        self.key, self.expected, self.got = key, expected, got
        self.unknown, self.missing, self.text = unknown, missing, text
        self.type, self.out_of_range, self.known = type, out_of_range, known


def _table_names(info: mi.DataclassType | mi.StructType) -> list[str]:
    return [f.encode_name for f in info.fields if isinstance(_bare(f.type), mi.StructType | mi.DataclassType)]


def _bare(t: Any) -> Any:
    while isinstance(t, mi.Metadata):
        t = t.type
    return t


def _keys(info: Any, prefix: str) -> Iterator[tuple[str, mi.Field]]:
    for f in info.fields:
        inner = _bare(f.type)
        if isinstance(inner, mi.CustomType) or (
            isinstance(inner, mi.UnionType) and any(isinstance(m, mi.CustomType) for m in inner.types)
        ):
            continue  # not part of the file (a dataclass root's base_dir and such)
        name = f"{prefix}{f.encode_name}"
        if isinstance(inner, mi.StructType | mi.DataclassType):
            yield from _keys(inner, name + ".")
        else:
            yield name, f


def _bounds(t: mi.IntType | mi.FloatType) -> str:
    lo, lo_in = (t.ge, True) if t.ge is not None else (t.gt, False)
    hi, hi_in = (t.le, True) if t.le is not None else (t.lt, False)
    if lo is not None and hi is not None:
        return f" in {'[' if lo_in else '('}{_num(lo)}, {_num(hi)}{']' if hi_in else ')'}"
    if lo is not None:
        return f" {'>=' if lo_in else '>'} {_num(lo)}"
    if hi is not None:
        return f" {'<=' if hi_in else '<'} {_num(hi)}"
    return ""


def _num(v: float) -> str:
    if isinstance(v, int) or (float(v).is_integer() and abs(v) < 1e15):
        return str(int(v))
    return repr(float(v))


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _toml_value(value: Any) -> str:
    if value is None:
        return "(not set)"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return f'`"{value}"`'
    if isinstance(value, dict) and not value:
        return "`{}`"
    return f"`{value!r}`"


def _child(t: Any, part: str | int) -> Any:
    """The type one step down `part` from `t`, or None where the schema does not say."""
    t = _bare(t)
    if isinstance(t, mi.UnionType):
        for m in t.types:
            found = _child(m, part)
            if found is not None:
                return found
        return None
    if isinstance(t, mi.StructType | mi.DataclassType | mi.TypedDictType) and isinstance(part, str):
        return next((f.type for f in t.fields if f.encode_name == part), None)
    if isinstance(t, mi.ListType | mi.SetType | mi.FrozenSetType | mi.VarTupleType) and isinstance(part, int):
        return t.item_type
    if isinstance(t, mi.DictType) and isinstance(part, str):
        return t.value_type
    return None


def _type_at(info: Any, key: Key) -> Any:
    t = info
    for part in key:
        t = _child(t, part)
        if t is None:
            return None
    return t


def _value_at(data: Any, key: Key) -> Any:
    for part in key:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _check_numbers(data: Any, key: Key, info: Any) -> None:
    """NaN, infinity and integers past int64 are never a setting; msgspec's ranges let them through."""
    if isinstance(data, dict):
        for k, v in data.items():
            _check_numbers(v, (*key, str(k)), info)
    elif isinstance(data, list):
        for i, v in enumerate(data):
            _check_numbers(v, (*key, i), info)
    elif isinstance(data, float) and not math.isfinite(data):
        t = _type_at(info, key)
        raise Problem(key, describe(t) if t is not None else "a finite number", data, type=t)
    elif isinstance(data, int) and not isinstance(data, bool) and abs(data) >= _INT_LIMIT:
        t = _type_at(info, key)
        raise Problem(key, describe(t) if t is not None else "an integer below 2**63", data, type=t)


def _parse_path(text: str) -> list[str | int]:
    parts: list[str | int] = []
    for name, index in _PART.findall(text or ""):
        parts.append(name if name else (index if index == "..." else int(index)))
    return parts


def _resolve_dict_keys(parts: list[str | int], data: Any, schema: type, message: str) -> Key:
    """msgspec writes a dict key as `[...]`; find the entry that gives the same error."""
    resolved: list[str | int] = []
    for part in parts:
        if part != "...":
            resolved.append(part)
            continue
        table = _value_at(data, tuple(resolved))
        found: str | None = None
        if isinstance(table, dict):
            for name, value in table.items():
                trial = _replace_at(data, tuple(resolved), {name: value})
                try:
                    msgspec.convert(trial, schema, strict=True)
                except msgspec.ValidationError as exc:
                    if str(exc) == message:
                        found = str(name)
                        break
        if found is None:
            return tuple(resolved)
        resolved.append(found)
    return tuple(resolved)


def _replace_at(data: Any, key: Key, value: Any) -> Any:
    if not key:
        return value
    copy = list(data) if isinstance(data, list) else dict(data)
    copy[key[0]] = _replace_at(data[key[0]], key[1:], value)
    return copy


def _problem(message: str, data: Any, schema: type, info: Any) -> Problem:
    match = _AT.match(message)
    assert match is not None
    text, path = match["msg"], match["path"] or ""
    parts = _parse_path(path)
    key = _resolve_dict_keys(parts, data, schema, message) if "..." in parts else tuple(parts)
    got = _value_at(data, key)
    t = _type_at(info, key) if key else info
    if m := _UNKNOWN.match(text):
        return Problem(key, "", got, unknown=m["name"], type=t, known=_file_keys(t))
    if m := _MISSING.match(text):
        return Problem(key, "", got, missing=m["name"], type=t)
    if t is None or not (text.startswith("Expected") or text.startswith("Invalid enum value")):
        return Problem(key, "", got, text=text, type=t)
    return Problem(key, describe(t), got, type=t, out_of_range=bool(_OUT_OF_RANGE.match(text)))


def _file_keys(t: Any) -> tuple[str, ...]:
    """The keys a table accepts in a file (a dataclass root's base_dir and such are not part of it)."""
    return tuple(
        f.encode_name
        for f in getattr(_bare(t), "fields", ())
        if not isinstance(_bare(f.type), mi.CustomType)
        and not (
            isinstance(_bare(f.type), mi.UnionType)
            and any(isinstance(m, mi.CustomType) for m in _bare(f.type).types)
        )
    )


def _format(p: Problem, info: Any, where: Where, style: Callable[[Key], str]) -> str:
    if p.unknown is not None:
        full = (*p.key, p.unknown)
        place = where(full) if callable(where) else where
        parent = _bare(p.type)
        known = list(p.known)
        if (
            not p.key
            and isinstance(parent, mi.StructType | mi.DataclassType)
            and known == _table_names(parent)
        ):
            return f"{place}: unknown table `[{p.unknown}]`; known tables: {', '.join(known)}"
        if not p.key:
            return f"{place}: unknown key {style(full)}; known keys: {', '.join(sorted(known))}"
        table = (
            f"[{style(p.key).strip('`')}]"
            if isinstance(parent, mi.StructType | mi.DataclassType)
            else style(p.key)
        )
        return f"{place}: unknown key {style(full)}; {table} accepts: {', '.join(sorted(known))}"
    place = where(p.key) if callable(where) else where
    if p.missing is not None:
        return f"{place}: missing required key {style((*p.key, p.missing))}"
    if p.text:
        return f"{place}: {style(p.key)}: {p.text}" if p.key else f"{place}: {p.text}"
    if not p.key:
        return f"{place}: must be {p.expected}, got {_show(p.got)}"
    return f"{place}: {style(p.key)} must be {p.expected}, got {_show(p.got)}"


if __name__ == "__main__":
    raise SystemExit(main())
