"""`tui-trainer inspect`: profile a dataset, list its problems, or apply a fix recipe headless."""

from __future__ import annotations

import argparse

HELP = "Profile a dataset and list its problems (missing, duplicates, outliers, imbalance, leakage, drift)."
DESCRIPTION = (
    HELP
    + "\n\nFILE is CSV/TSV, Parquet, JSON, NDJSON, Arrow IPC/Feather, or a folder of images in class sub-folders."
    "\nExit 0 on success, 2 when the input (or a flag, recipe or threshold) is unusable, with the reason on stderr."
)

# flag -> Thresholds field; each overrides the [thresholds] table.
THRESHOLD_FLAGS = {
    "zscore": ("--zscore", float, "|z| above this is an outlier (default 3)"),
    "iqr": ("--iqr", float, "IQR factor k: outside [Q1-k*IQR, Q3+k*IQR] is an outlier (default 1.5)"),
    "imbalance": ("--imbalance", float, "warn when majority/minority class ratio is above this (default 3)"),
    "missing": ("--missing", float, "report columns whose missing share is above this (default 0)"),
    "high_cardinality": (
        "--high-cardinality",
        int,
        "text columns with more distinct values than this (default 50)",
    ),
    "id_like": (
        "--id-like",
        float,
        "distinct share at/above which a text/integer column looks like an id (0.95)",
    ),
    "zeros": ("--zeros", float, "report columns whose share of zeros is above this (default 0.10)"),
    "skew": ("--skew", float, "report columns whose |skewness| is above this (default 2)"),
    "infinite": ("--infinite", float, "report columns whose share of +-inf is above this (default 0)"),
    "unique": (
        "--unique",
        float,
        "distinct share at/above which a column is reported as unique (default 1.0)",
    ),
    "synthetic": ("--synthetic", float, "warn when the synthetic share is above this (default 0.01)"),
    "drift_p": ("--drift-p", float, "p-value below which a column has drifted (default 0.01)"),
    "categorical": (
        "--categorical",
        int,
        "integer columns with at most this many distinct values are codes, not numbers (default 10)",
    ),
    "correlated": ("--correlated", float, "|Pearson|, |Spearman| or Cramér's V at/above this (default 0.9)"),
    "predicts_label": (
        "--predicts-label",
        float,
        "a single feature's gain over the baseline at/above this (default 0.9)",
    ),
    "feature_imbalance": (
        "--feature-imbalance",
        float,
        "categorical feature majority/minority ratio above this (default 20)",
    ),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="the dataset file or image folder")
    parser.add_argument("--label", metavar="COL", help="label column: adds imbalance and label_conflict")
    parser.add_argument("--json", action="store_true", help="print the profile and findings as JSON")
    parser.add_argument("--against", metavar="OTHER", help="a second file: adds leakage and per-column drift")
    parser.add_argument(
        "--provenance", metavar="COL", help="column marking synthetic rows: adds synthetic_share"
    )
    parser.add_argument("--apply", metavar="RECIPE", help="apply a fix recipe TOML headless (needs --out)")
    parser.add_argument("--out", metavar="PATH", help="where --apply writes (format from the extension)")
    parser.add_argument("--force", action="store_true", help="let --out overwrite an existing file")
    parser.add_argument(
        "--thresholds", metavar="TOML", help="a TOML file whose [thresholds] table sets check thresholds"
    )
    parser.add_argument(
        "--na-values",
        metavar="TOKENS",
        help="comma-separated extra tokens read as missing, e.g. '?,-,-999' (the recipe's na_values)",
    )
    parser.add_argument(
        "--date-format",
        metavar="FMT",
        help="strftime format tried first on text columns, e.g. '%%d/%%m/%%Y' (settles day/month order)",
    )
    parser.add_argument(
        "--task",
        choices=("classification", "regression"),
        help="what --label is for (default: regression for a float label or an integer one with > 50 values)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, metavar="N", help="seed of the samples and hold-out split"
    )
    limits = parser.add_argument_group("input limits (refused with exit 2 above them)")
    limits.add_argument("--max-columns", type=int, metavar="N", help="columns accepted (default 10000)")
    limits.add_argument("--max-depth", type=int, metavar="N", help="JSON nesting depth accepted (default 64)")
    limits.add_argument(
        "--max-pixels", type=int, metavar="N", help="pixels an image header may declare (default 40000000, or $TUI_TRAINER_MAX_IMAGE_PIXELS)"
    )
    group = parser.add_argument_group("thresholds (override the [thresholds] table)")
    for _field, (flag, kind, text) in THRESHOLD_FLAGS.items():
        group.add_argument(flag, type=kind, metavar="X", help=text)


def _thresholds(args: argparse.Namespace):
    import tomllib
    from pathlib import Path

    from tui_trainer import paths
    from tui_trainer.data.checks import Thresholds
    from tui_trainer.errors import UserError

    t = Thresholds()
    # The user's config.toml may carry a [thresholds] table; --thresholds FILE and flags override it.
    sources = [paths.config_file()]
    if args.thresholds:
        sources.append(Path(args.thresholds))
    for index, source in enumerate(sources):
        if index == 0 and not source.exists():
            continue
        try:
            data = tomllib.loads(source.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UserError(f"--thresholds {source}: no such file") from None
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise UserError(f"{source}: cannot read thresholds ({exc})") from None
        table = data.get("thresholds", {})
        if not isinstance(table, dict):
            raise UserError(f"{source}: [thresholds] must be a table")
        t = t.updated(table, f"{source} [thresholds]")
    for name, (flag, _kind, _text) in THRESHOLD_FLAGS.items():
        if getattr(args, name, None) is not None:
            t = t.updated({name: getattr(args, name)}, flag)
    return t


def _limits(args: argparse.Namespace):
    from tui_trainer.data.limits import Limits
    from tui_trainer.errors import UserError

    values = {}
    for name in ("max_columns", "max_depth", "max_pixels"):
        value = getattr(args, name, None)
        if value is not None:
            if value < 1:
                raise UserError(f"--{name.replace('_', '-')} {value}: must be a positive integer")
            values[name] = value
    return Limits(**values)


def _seed(args: argparse.Namespace) -> int:
    from tui_trainer.errors import UserError

    if not 0 <= args.seed < 2**32:
        raise UserError(f"--seed {args.seed}: must be an integer from 0 to {2**32 - 1}")
    return args.seed


def _na_values(args: argparse.Namespace) -> list[str]:
    from tui_trainer.errors import UserError

    if args.na_values is None:
        return []
    tokens = [t.strip() for t in args.na_values.split(",") if t.strip()]
    if not tokens:
        raise UserError("--na-values: give one or more comma-separated tokens, e.g. --na-values '?,-'")
    return tokens


def _date_format(args: argparse.Namespace) -> str | None:
    from tui_trainer.errors import UserError

    fmt = args.date_format
    if fmt is None:
        return None
    if "%" not in fmt or not any(code in fmt for code in ("%Y", "%y", "%d", "%m", "%b", "%B", "%j")):
        raise UserError(f"--date-format {fmt!r}: expected a strftime format such as '%d/%m/%Y' or '%Y-%m-%d'")
    return fmt


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tui_trainer.errors import UserError

    if args.apply or args.out:
        if not (args.apply and args.out):
            raise UserError("--apply RECIPE and --out PATH go together")
        return _apply(args)
    if args.force:
        raise UserError("--force only applies with --apply/--out")
    from tui_trainer.data.report import dumps, inspect_dataset, to_json, to_text

    inspection = inspect_dataset(
        Path(args.file),
        label=args.label,
        against=args.against,
        provenance=args.provenance,
        thresholds=_thresholds(args),
        na_values=_na_values(args),
        date_format=_date_format(args),
        task=args.task,
        limits=_limits(args),
        seed=_seed(args),
    )
    print(dumps(to_json(inspection)) if args.json else to_text(inspection))
    return 0


def _apply(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    import polars as pl

    from tui_trainer.data.load import explain_parse_failure, open_dataset
    from tui_trainer.data.recipe import apply_recipe, load_recipe, output_format, write_output
    from tui_trainer.errors import UserError

    source, out = Path(args.file), Path(args.out)
    output_format(out)
    if out.exists() and source.exists() and out.resolve() == source.resolve():
        raise UserError(f"--out {out}: that is the source file; the source is never modified")
    recipe = load_recipe(args.apply)
    dataset = open_dataset(source, na_values=_na_values(args) + list(recipe.na_values), limits=_limits(args))
    try:
        rows_in = dataset.lazy.select(pl.len()).collect(engine="streaming").item()
        rows_out = write_output(apply_recipe(dataset.lazy, recipe), out, force=args.force)
    except UserError:
        raise
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        if isinstance(exc, pl.exceptions.InvalidOperationError | pl.exceptions.SchemaError):
            raise UserError(
                f"{args.apply}: the recipe does not fit {source}: {str(exc).splitlines()[0]}"
            ) from None
        raise explain_parse_failure(dataset.path, dataset.format, exc) from None
    summary = {
        "file": str(source),
        "recipe": str(args.apply),
        "out": str(out),
        "rows_in": rows_in,
        "rows_out": rows_out,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"{source}: {rows_in} rows -> {out}: {rows_out} rows (recipe {args.apply})")
    return 0
