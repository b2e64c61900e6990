"""Fix recipes: the fixes a user picked, saved as TOML and applied lazily, the same way in the pane and headless.

Steps run in a fixed order, each on the result of the one before, so a recipe means one thing:
drop_columns (and constant columns) -> drop_duplicates -> drop_missing -> fill -> outliers.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from tui_trainer.atomic import atomic_write
from tui_trainer.errors import UserError

FILL_STRATEGIES = ("mean", "median", "mode", "constant")
OUTLIER_METHODS = ("zscore", "iqr")
OUTLIER_ACTIONS = ("clip", "drop")
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


@dataclass
class Fill:
    strategy: str  # mean | median | mode | constant
    value: Any = None  # only for constant


@dataclass
class OutlierRule:
    columns: list[str]
    method: str = "zscore"  # zscore | iqr
    action: str = "clip"  # clip | drop
    threshold: float | None = None  # |z| limit (default 3) or IQR factor (default 1.5)

    @property
    def limit(self) -> float:
        if self.threshold is not None:
            return float(self.threshold)
        return 3.0 if self.method == "zscore" else 1.5


@dataclass
class Recipe:
    drop_columns: list[str] = field(default_factory=list)
    drop_constant: bool = False
    drop_duplicates: bool = False
    drop_missing: list[str] = field(default_factory=list)
    fill: dict[str, Fill] = field(default_factory=dict)
    outliers: list[OutlierRule] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (
            self.drop_columns
            or self.drop_constant
            or self.drop_duplicates
            or self.drop_missing
            or self.fill
            or self.outliers
        )

    def to_toml(self) -> dict[str, Any]:
        data: dict[str, Any] = {"version": 1}
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


_KEYS = {"version", "drop_columns", "drop_constant", "drop_duplicates", "drop_missing", "fill", "outliers"}


def parse_recipe(data: dict[str, Any], source: str = "recipe") -> Recipe:
    """Build a Recipe from TOML data; every mistake names the key."""
    unknown = set(data) - _KEYS
    if unknown:
        raise UserError(
            f"{source}: unknown key {sorted(unknown)[0]!r}; known keys: {', '.join(sorted(_KEYS))}"
        )
    if data.get("version", 1) != 1:
        raise UserError(f"{source}: version {data.get('version')!r} is not supported (expected 1)")
    recipe = Recipe(
        drop_columns=_names(data, "drop_columns", source),
        drop_constant=_bool(data, "drop_constant", source),
        drop_duplicates=_bool(data, "drop_duplicates", source),
        drop_missing=_names(data, "drop_missing", source),
    )
    fill = data.get("fill", {})
    if not isinstance(fill, dict):
        raise UserError(f"{source}: [fill] must be a table of column = {{ strategy = ... }}")
    for name, spec in fill.items():
        if isinstance(spec, str):
            spec = {"strategy": spec}
        if not isinstance(spec, dict) or spec.get("strategy") not in FILL_STRATEGIES:
            raise UserError(f"{source}: fill.{name}: strategy must be one of {', '.join(FILL_STRATEGIES)}")
        if spec["strategy"] == "constant" and "value" not in spec:
            raise UserError(f"{source}: fill.{name}: a constant fill needs value = ...")
        extra = set(spec) - {"strategy", "value"}
        if extra:
            raise UserError(f"{source}: fill.{name}: unknown key {sorted(extra)[0]!r}")
        recipe.fill[str(name)] = Fill(spec["strategy"], spec.get("value"))
    rules = data.get("outliers", [])
    if isinstance(rules, dict):
        rules = [rules]
    if not isinstance(rules, list):
        raise UserError(f"{source}: outliers must be a table or an array of tables")
    for i, rule in enumerate(rules):
        where = f"{source}: outliers[{i}]"
        if not isinstance(rule, dict):
            raise UserError(f"{where}: must be a table")
        extra = set(rule) - {"columns", "method", "action", "threshold"}
        if extra:
            raise UserError(f"{where}: unknown key {sorted(extra)[0]!r}")
        method, action = rule.get("method", "zscore"), rule.get("action", "clip")
        if method not in OUTLIER_METHODS:
            raise UserError(f"{where}.method: {method!r} is not one of {', '.join(OUTLIER_METHODS)}")
        if action not in OUTLIER_ACTIONS:
            raise UserError(f"{where}.action: {action!r} is not one of {', '.join(OUTLIER_ACTIONS)}")
        threshold = rule.get("threshold")
        if threshold is not None and (
            not isinstance(threshold, int | float) or isinstance(threshold, bool) or threshold <= 0
        ):
            raise UserError(f"{where}.threshold: must be a positive number")
        recipe.outliers.append(OutlierRule(_names(rule, "columns", where), method, action, threshold))
    return recipe


def _names(data: dict[str, Any], key: str, source: str) -> list[str]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UserError(f"{source}: {key} must be a list of column names")
    return list(value)


def _bool(data: dict[str, Any], key: str, source: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise UserError(f"{source}: {key} must be true or false")
    return value


def load_recipe(path: str | Path) -> Recipe:
    """Read a recipe TOML file. Raises UserError naming the file (and key) on any problem."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise UserError(f"{path}: no such recipe file") from None
    except PermissionError:
        raise UserError(f"{path}: permission denied (cannot read the recipe)") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: invalid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: the recipe is not UTF-8 text") from None
    return parse_recipe(data, str(path))


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
        atomic_write(out_path, write)
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
