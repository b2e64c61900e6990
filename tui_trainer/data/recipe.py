"""Fix recipes: the fixes a user picked, saved as TOML and applied lazily, the same way in the pane and headless.

Steps run in a fixed order, each on the result of the one before, so a recipe means one thing:
na_values -> parse_numbers -> parse_dates -> merge_categories -> drop_columns (and constant columns) ->
drop_duplicates -> drop_missing -> fill -> outliers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import polars as pl
from msgspec import Meta

from tui_trainer import schema
from tui_trainer.atomic import atomic_write
from tui_trainer.errors import UserError

OUTPUT_FORMATS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".tsv": "tsv",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".json": "json",
    ".arrow": "ipc",
    ".feather": "ipc",
    ".ipc": "ipc",
}


class _Step(msgspec.Struct, forbid_unknown_fields=True):
    """A table of a recipe file: unknown keys are an error naming the key."""


class Fill(_Step):
    strategy: Literal["mean", "median", "mode", "constant"]
    value: Annotated[Any, Meta(description="only for constant")] = None


class OutlierRule(_Step):
    columns: list[str] = []
    method: Literal["zscore", "iqr"] = "zscore"
    action: Literal["clip", "drop"] = "clip"
    threshold: Annotated[
        Annotated[float, Meta(gt=0)] | None,
        Meta(description="|z| limit (default 3) or IQR factor (default 1.5)"),
    ] = None

    @property
    def limit(self) -> float:
        if self.threshold is not None:
            return float(self.threshold)
        return 3.0 if self.method == "zscore" else 1.5


NumberStyle = Literal["thousands_comma", "decimal_comma", "spaced"]


class Recipe(_Step, kw_only=True):
    version: Annotated[Literal[1], Meta(description="the recipe format")] = 1
    na_values: Annotated[
        list[str], Meta(description='tokens read as missing in every column, e.g. ["?", "-", "-999"]')
    ] = []
    parse_numbers: Annotated[
        dict[str, NumberStyle],
        Meta(description='column = "thousands_comma" | "decimal_comma" | "spaced": $1,200 / 12,5 / 1 200 kg'),
    ] = {}
    parse_dates: Annotated[
        dict[str, str], Meta(description='column = strftime format, e.g. "%d.%m.%Y"')
    ] = {}
    merge_categories: Annotated[
        dict[str, dict[str, str]], Meta(description="column = { variant = spelling to keep, ... }")
    ] = {}
    drop_columns: list[str] = []
    drop_constant: bool = False
    drop_duplicates: bool = False
    drop_missing: Annotated[list[str], Meta(description="drop rows missing any of these columns")] = []
    fill: Annotated[
        dict[str, Fill],
        Meta(
            description='column = { strategy = "mean" | "median" | "mode" | "constant", '
            "value = ... } (or just the strategy)"
        ),
    ] = {}
    outliers: Annotated[list[OutlierRule], Meta(description="[[outliers]] tables")] = []

    @property
    def is_empty(self) -> bool:
        return not (
            self.na_values
            or self.parse_numbers
            or self.parse_dates
            or self.merge_categories
            or self.drop_columns
            or self.drop_constant
            or self.drop_duplicates
            or self.drop_missing
            or self.fill
            or self.outliers
        )

    def to_toml(self) -> dict[str, Any]:
        data: dict[str, Any] = {"version": 1}
        if self.na_values:
            data["na_values"] = list(self.na_values)
        if self.parse_numbers:
            data["parse_numbers"] = dict(self.parse_numbers)
        if self.parse_dates:
            data["parse_dates"] = dict(self.parse_dates)
        if self.merge_categories:
            data["merge_categories"] = {k: dict(v) for k, v in self.merge_categories.items()}
        if self.drop_columns:
            data["drop_columns"] = list(self.drop_columns)
        if self.drop_constant:
            data["drop_constant"] = True
        if self.drop_duplicates:
            data["drop_duplicates"] = True
        if self.drop_missing:
            data["drop_missing"] = list(self.drop_missing)
        if self.fill:
            data["fill"] = {
                name: (
                    {"strategy": f.strategy, "value": f.value}
                    if f.strategy == "constant"
                    else {"strategy": f.strategy}
                )
                for name, f in self.fill.items()
            }
        if self.outliers:
            data["outliers"] = [
                {"columns": list(r.columns), "method": r.method, "action": r.action, "threshold": r.limit}
                for r in self.outliers
            ]
        return data


def parse_recipe(data: dict[str, Any], source: str = "recipe") -> Recipe:
    """Build a Recipe from TOML data (the `Recipe` schema); every mistake names the key."""
    if isinstance(data, dict):
        data = dict(data)
        fill = data.get("fill")
        if isinstance(fill, dict):  # `a = "median"` is short for `a = { strategy = "median" }`
            data["fill"] = {k: {"strategy": v} if isinstance(v, str) else v for k, v in fill.items()}
        if isinstance(data.get("outliers"), dict):  # one [outliers] table is a list of one
            data["outliers"] = [data["outliers"]]
    recipe = schema.convert(data, Recipe, source)
    for name, f in recipe.fill.items():
        if f.strategy == "constant" and f.value is None:
            raise UserError(f"{source}: fill.{name}: a constant fill needs value = ...")
    return recipe


def load_recipe(path: str | Path) -> Recipe:
    """Read a recipe TOML file. Raises UserError naming the file (and key) on any problem."""
    path = Path(path)
    return parse_recipe(schema.read_toml(path, "recipe"), str(path))


def save_recipe(recipe: Recipe, path: str | Path) -> Path:
    import tomli_w

    text = "# tui-trainer fix recipe: apply with `tui-trainer inspect DATA --apply THIS --out CLEAN`\n"
    text += tomli_w.dumps(recipe.to_toml())
    return atomic_write(Path(path), lambda fh: fh.write(text.encode("utf-8")))


def _check_columns(names: list[str], schema: pl.Schema, where: str) -> None:
    for name in names:
        if name not in schema:
            raise UserError(
                f"recipe {where}: no column {name!r} in the data; columns: {', '.join(schema.names())}"
            )


def constant_columns(lf: pl.LazyFrame) -> list[str]:
    """Columns with at most one distinct non-missing value."""
    schema = lf.collect_schema()
    if not schema.names():
        return []
    exprs = [_clean(n, schema[n]).drop_nulls().n_unique().alias(n) for n in schema.names()]
    row = lf.select(exprs).collect(engine="streaming").row(0, named=True)
    return [n for n in schema.names() if row[n] <= 1]


def _clean(name: str, dtype: pl.DataType) -> pl.Expr:
    return pl.col(name).fill_nan(None) if dtype.is_float() else pl.col(name)


def apply_recipe(lf: pl.LazyFrame, recipe: Recipe) -> pl.LazyFrame:
    """The recipe as lazy steps on `lf` (nothing is computed until the result is collected or sunk).

    Statistics (mean, median, mode, z and IQR bounds) are computed over the frame as it stands at that
    step, over its non-missing values.
    """
    lf = _read_steps(lf, recipe)
    schema = lf.collect_schema()
    _check_columns(recipe.drop_columns, schema, "drop_columns")
    _check_columns(recipe.drop_missing, schema, "drop_missing")
    _check_columns(list(recipe.fill), schema, "fill")
    for rule in recipe.outliers:
        _check_columns(rule.columns, schema, "outliers.columns")
        for name in rule.columns:
            if not (schema[name].is_numeric() and schema[name] != pl.Boolean):
                raise UserError(f"recipe outliers.columns: {name!r} is {schema[name]}, not a number column")
    drop = list(recipe.drop_columns)
    if recipe.drop_constant:
        drop += [c for c in constant_columns(lf) if c not in drop]
    if drop:
        lf = lf.drop(drop)
    if recipe.drop_duplicates:
        lf = lf.unique(maintain_order=True, keep="first")
    schema = lf.collect_schema()
    if recipe.drop_missing:
        keep = [n for n in recipe.drop_missing if n in schema]
        if keep:
            cond = pl.all_horizontal([_clean(n, schema[n]).is_not_null() for n in keep])
            lf = lf.filter(cond)
    fills = []
    for name, f in recipe.fill.items():
        if name not in schema:
            continue
        fills.append(_fill_expr(name, schema[name], f))
    if fills:
        lf = lf.with_columns(fills)
    for rule in recipe.outliers:
        lf = _apply_outliers(lf, rule, lf.collect_schema())
    return lf


def _numbers_once_markers_gone(lf: pl.LazyFrame, schema: pl.Schema, tokens: list[str]) -> pl.LazyFrame:
    """Text columns that held a na_values token and are all numbers without it become Float64 columns."""
    text = [n for n, dtype in schema.items() if dtype == pl.String]
    if not text:
        return lf
    from tui_trainer.data.markers import number

    row = lf.select(
        [(pl.col(n).is_not_null().sum() == number(pl.col(n)).is_not_null().sum()).alias(n) for n in text]
    ).collect(engine="streaming").row(0, named=True)
    numeric = [n for n in text if row[n]]
    return lf.with_columns([number(pl.col(n)).alias(n) for n in numeric]) if numeric else lf


def _read_steps(lf: pl.LazyFrame, recipe: Recipe) -> pl.LazyFrame:
    """na_values, parse_numbers, parse_dates and merge_categories: how the file should have been read."""
    from tui_trainer.data import dates, formatted
    from tui_trainer.data.markers import apply_na_values

    before = lf.collect_schema()
    lf = apply_na_values(lf, list(recipe.na_values))
    if recipe.na_values:
        lf = _numbers_once_markers_gone(lf, before, list(recipe.na_values))
    schema = lf.collect_schema()
    for key, names in (
        ("parse_numbers", list(recipe.parse_numbers)),
        ("parse_dates", list(recipe.parse_dates)),
        ("merge_categories", list(recipe.merge_categories)),
    ):
        _check_columns(names, schema, key)
    exprs = []
    for name, style in recipe.parse_numbers.items():
        if schema[name] == pl.String:
            exprs.append(formatted.parse_expr(name, style))
    for name, fmt in recipe.parse_dates.items():
        if schema[name] == pl.String:
            exprs.append(dates.parse_expr(name, fmt, dates.is_datetime_format(fmt)))
    for name, mapping in recipe.merge_categories.items():
        exprs.append(pl.col(name).cast(pl.String).replace(mapping).alias(name))
    return lf.with_columns(exprs) if exprs else lf


def _fill_expr(name: str, dtype: pl.DataType, fill: Fill) -> pl.Expr:
    b = _clean(name, dtype)
    if fill.strategy in ("mean", "median") and not (dtype.is_numeric() and dtype != pl.Boolean):
        raise UserError(f"recipe fill.{name}: {fill.strategy} needs a number column, and {name!r} is {dtype}")
    if fill.strategy == "mean":
        value = b.mean()
    elif fill.strategy == "median":
        value = b.median()
    elif fill.strategy == "mode":
        # The smallest of the most common values, so ties give the same answer every run.
        value = b.drop_nulls().mode().sort().first()
    else:
        value = pl.lit(fill.value)
    filled = b.fill_null(value)
    if dtype.is_integer() and fill.strategy in ("mean", "median"):
        return filled.alias(name)  # the column becomes Float64 when the mean is fractional
    try:
        return (
            filled.cast(dtype, strict=True).alias(name) if fill.strategy != "constant" else filled.alias(name)
        )
    except Exception:  # noqa: BLE001 - an incompatible constant is reported when the plan runs
        return filled.alias(name)


def _apply_outliers(lf: pl.LazyFrame, rule: OutlierRule, schema: pl.Schema) -> pl.LazyFrame:
    """Clip to, or drop rows beyond, the rule's bounds; statistics over the finite non-missing values."""
    helpers: list[pl.Expr] = []
    outside: dict[str, pl.Expr] = {}
    lower: dict[str, pl.Expr] = {}
    upper: dict[str, pl.Expr] = {}
    for name in rule.columns:
        f = _clean(name, schema[name]).cast(pl.Float64)
        finite = f.filter(f.is_finite())
        a, b = f"__a:{name}", f"__b:{name}"
        if rule.method == "zscore":
            helpers += [finite.mean().alias(a), finite.std(ddof=0).alias(b)]
            mean, std = pl.col(a), pl.col(b)
            # z exactly as scipy.stats.zscore: (x - mean) / std with ddof=0.
            outside[name] = f.is_finite() & (((f - mean) / std).abs() > rule.limit)
            lower[name], upper[name] = mean - rule.limit * std, mean + rule.limit * std
        else:
            helpers += [
                finite.quantile(0.25, interpolation="linear").alias(a),
                finite.quantile(0.75, interpolation="linear").alias(b),
            ]
            q1, q3 = pl.col(a), pl.col(b)
            lower[name], upper[name] = q1 - rule.limit * (q3 - q1), q3 + rule.limit * (q3 - q1)
            outside[name] = f.is_finite() & ((f < lower[name]) | (f > upper[name]))
    lf = lf.with_columns(helpers)
    if rule.action == "clip":
        clipped = []
        for name in rule.columns:
            col = pl.col(name).cast(pl.Float64)
            value = (
                pl.when(outside[name] & (col < lower[name]))
                .then(lower[name])
                .when(outside[name] & (col > upper[name]))
                .then(upper[name])
                .otherwise(col)
            )
            if schema[name].is_float():
                value = value.cast(schema[name])
            clipped.append(
                value.alias(name)
            )  # an integer column becomes Float64: a bound can fall between integers
        lf = lf.with_columns(clipped)
    else:
        # Missing values are not outliers: those rows stay.
        lf = lf.filter(~pl.any_horizontal([outside[n].fill_null(False) for n in rule.columns]))
    return lf.drop([c for n in rule.columns for c in (f"__a:{n}", f"__b:{n}")])


def output_format(path: Path) -> str:
    fmt = OUTPUT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UserError(
            f"--out {path}: unknown output type {path.suffix!r}; use one of {', '.join(sorted(OUTPUT_FORMATS))}"
        )
    return fmt


def write_output(lf: pl.LazyFrame, out_path: str | Path, force: bool = False) -> int:
    """Collect `lf` and write it to `out_path` via a temp file + rename; returns the rows written.

    An existing file is kept unless `force`; a half-written file never appears at `out_path`.
    """
    out_path = Path(out_path)
    fmt = output_format(out_path)
    if out_path.exists() and not force:
        raise UserError(f"--out {out_path}: the file exists; pass --force to overwrite it")
    if out_path.is_dir():
        raise UserError(f"--out {out_path}: is a folder, not a file")
    frame = lf.collect(engine="streaming")

    def write(fh) -> None:
        if fmt == "parquet":
            frame.write_parquet(fh)
        elif fmt == "csv":
            frame.write_csv(fh)
        elif fmt == "tsv":
            frame.write_csv(fh, separator="\t")
        elif fmt == "ndjson":
            frame.write_ndjson(fh)
        elif fmt == "json":
            frame.write_json(fh)
        else:
            frame.write_ipc(fh)

    try:
        atomic_write(out_path, write, overwrite=force)  # no-clobber checked at the rename without --force
    except PermissionError:
        raise UserError(f"--out {out_path}: permission denied") from None
    except OSError as exc:
        raise UserError(f"--out {out_path}: cannot write it: {exc.strerror or exc}") from None
    return frame.height


@dataclass
class RecipeEffect:
    """Before/after counts of a recipe, for the pane to show as the user picks fixes."""

    rows_before: int
    rows_after: int
    columns_before: int
    columns_after: int
    missing_before: int
    missing_after: int
    duplicates_before: int
    duplicates_after: int

    def describe(self) -> str:
        return (
            f"rows {self.rows_before} → {self.rows_after} · columns {self.columns_before} → {self.columns_after} · "
            f"missing cells {self.missing_before} → {self.missing_after} · "
            f"duplicate rows {self.duplicates_before} → {self.duplicates_after}"
        )


def _counts(lf: pl.LazyFrame, engine: str) -> tuple[int, int, int, int]:
    schema = lf.collect_schema()
    names = schema.names()
    if not names:
        return int(lf.select(pl.len()).collect(engine=engine).item()), 0, 0, 0
    from tui_trainer.data.profile import row_hash

    missing = pl.sum_horizontal([_clean(n, schema[n]).null_count() for n in names])
    row = lf.select(
        pl.len().alias("rows"), missing.alias("missing"), row_hash(names, schema).n_unique().alias("distinct")
    ).collect(engine=engine)
    rows, miss, distinct = (int(row[c][0] or 0) for c in ("rows", "missing", "distinct"))
    return rows, len(names), miss, (rows - distinct) if rows else 0


def recipe_effect(lf: pl.LazyFrame, recipe: Recipe, engine: str = "streaming") -> RecipeEffect:
    """Rows, columns, missing cells and duplicate rows before and after `recipe`."""
    before = _counts(lf, engine)
    after = _counts(apply_recipe(lf, recipe), engine) if not recipe.is_empty else before
    return RecipeEffect(before[0], after[0], before[1], after[1], before[2], after[2], before[3], after[3])
