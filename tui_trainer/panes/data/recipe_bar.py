"""The Data pane's recipe bar: what the fix recipe does (counted in a worker) and the edits its keys make.

The recipe itself is `tui_trainer.data.recipe.Recipe`; the functions here are the key-by-key edits
(m, i, d, x, c) so the pane only routes keys to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from rich.text import Text
from textual import on, work
from textual.message import Message
from textual.widgets import Static

from tui_trainer.data.checks import Thresholds
from tui_trainer.data.profile import ColumnProfile
from tui_trainer.data.recipe import Fill, OutlierRule, Recipe, RecipeEffect, recipe_effect, save_recipe
from tui_trainer.errors import UserError

FILL_CYCLE = [None, "mean", "median", "mode", "constant"]
TEXT_FILL_CYCLE = [None, "mode", "constant"]
OUTLIER_CYCLE = [None, ("zscore", "clip"), ("zscore", "drop"), ("iqr", "clip"), ("iqr", "drop")]
EMPTY_TEXT = "Recipe: (empty) · r the finding's fix · m drop missing · i fill · d duplicates · x outliers · c constant · w save"


def copy_recipe(recipe: Recipe) -> Recipe:
    """A snapshot for a worker, so later key presses never change a recipe while it is being counted or saved."""
    return Recipe(
        drop_columns=list(recipe.drop_columns),
        drop_constant=recipe.drop_constant,
        drop_duplicates=recipe.drop_duplicates,
        drop_missing=list(recipe.drop_missing),
        fill={k: Fill(v.strategy, v.value) for k, v in recipe.fill.items()},
        outliers=[OutlierRule(list(r.columns), r.method, r.action, r.threshold) for r in recipe.outliers],
        na_values=list(recipe.na_values),
        parse_numbers=dict(recipe.parse_numbers),
        parse_dates=dict(recipe.parse_dates),
        merge_categories={k: dict(v) for k, v in recipe.merge_categories.items()},
    )


def recipe_summary(recipe: Recipe) -> str:
    from tui_trainer.data.fixes import read_steps_summary

    parts = read_steps_summary(recipe)
    if recipe.drop_duplicates:
        parts.append("drop duplicates")
    if recipe.drop_constant:
        parts.append("drop constant columns")
    if recipe.drop_missing:
        parts.append("drop rows missing " + ", ".join(recipe.drop_missing))
    for name, f in recipe.fill.items():
        parts.append(f"fill {name} {f.strategy}")
    for rule in recipe.outliers:
        parts.append(f"{rule.action} {rule.method} outliers in {', '.join(rule.columns)}")
    return "; ".join(parts) or "(empty)"


def recipe_for_column(recipe: Recipe, name: str) -> str:
    """What the recipe does to one column, for its detail panel ('' when nothing)."""
    parts = []
    if name in recipe.drop_missing:
        parts.append("drop rows missing it")
    if name in recipe.fill:
        f = recipe.fill[name]
        parts.append(f"fill {f.strategy}" + (f" {f.value!r}" if f.strategy == "constant" else ""))
    for rule in recipe.outliers:
        if name in rule.columns:
            parts.append(f"{rule.action} {rule.method} outliers")
    return ", ".join(parts)


def toggle_drop_missing(recipe: Recipe, name: str) -> None:
    if name in recipe.drop_missing:
        recipe.drop_missing.remove(name)
    else:
        recipe.drop_missing.append(name)


def next_fill(recipe: Recipe, col: ColumnProfile) -> str | None:
    """The fill strategy `i` moves this column to (None: no fill); 'constant' needs a value from the user."""
    current = recipe.fill.get(col.name)
    cycle = FILL_CYCLE if col.kind == "numeric" else TEXT_FILL_CYCLE
    index = cycle.index(current.strategy if current else None)
    return cycle[(index + 1) % len(cycle)]


def set_fill(recipe: Recipe, col: ColumnProfile, strategy: str | None, value: str | None = None) -> None:
    if strategy is None:
        recipe.fill.pop(col.name, None)
    elif strategy == "constant":
        recipe.fill[col.name] = Fill("constant", parse_constant(value or "", col))
    else:
        recipe.fill[col.name] = Fill(strategy)


def cycle_outliers(recipe: Recipe, col: ColumnProfile, thresholds: Thresholds) -> None:
    """Move a number column to the next outlier rule: none → z-score clip/drop → IQR clip/drop → none."""
    rule = next((r for r in recipe.outliers if col.name in r.columns), None)
    index = OUTLIER_CYCLE.index((rule.method, rule.action)) if rule else 0
    if rule is not None:
        rule.columns.remove(col.name)
        if not rule.columns:
            recipe.outliers.remove(rule)
    nxt = OUTLIER_CYCLE[(index + 1) % len(OUTLIER_CYCLE)]
    if nxt is not None:
        method, action = nxt
        limit = thresholds.zscore if method == "zscore" else thresholds.iqr
        recipe.outliers.append(OutlierRule([col.name], method, action, limit))


def parse_constant(value: str, col: ColumnProfile) -> Any:
    if col.kind == "numeric":
        try:
            number = float(value)
        except ValueError:
            return value
        return int(number) if col.dtype.startswith(("Int", "UInt")) and number.is_integer() else number
    return value


class RecipeBar(Static):
    """The recipe and how many rows/columns/values it changes, recounted in a worker after every edit."""

    @dataclass
    class EffectReady(Message):
        effect: RecipeEffect | None
        summary: str
        empty: bool
        request: int
        error: str | None = None

    @dataclass
    class Saved(Message):
        path: Path | None
        dataset: Path
        error: str | None = None

    def __init__(self, **kwargs) -> None:
        super().__init__(EMPTY_TEXT, **kwargs)
        self._request = 0

    def save(self, recipe: Recipe, path: Path, dataset: Path) -> None:
        """Write `recipe` (a snapshot) to `path` in a worker; a notification says how to apply it to `dataset`."""
        self._save_worker(recipe, path, dataset)

    @work(
        thread=True, exclusive=True, exit_on_error=False, group="data-save", description="Saving the recipe"
    )
    def _save_worker(self, recipe: Recipe, path: Path, dataset: Path) -> None:
        try:
            self.post_message(self.Saved(save_recipe(recipe, path), dataset))
        except OSError as exc:
            self.post_message(self.Saved(None, dataset, f"{path}: cannot write it ({exc.strerror or exc})"))

    @on(Saved)
    def _on_saved(self, event: Saved) -> None:
        event.stop()
        if event.error:
            self.notify(event.error, severity="error", markup=False)
            return
        self.notify(
            f"Recipe saved to {event.path}. Apply it: tui-trainer inspect {event.dataset} --apply {event.path} "
            "--out clean.parquet",
            markup=False,
            timeout=10,
        )

    def reset(self) -> None:
        self._request += 1
        self.update(EMPTY_TEXT)

    def recount(self, lf: pl.LazyFrame, recipe: Recipe, engine: str) -> None:
        self._request += 1
        self._effect_worker(lf, copy_recipe(recipe), engine, self._request)

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="data-effect",
        description="Counting the recipe",
    )
    def _effect_worker(self, lf: pl.LazyFrame, recipe: Recipe, engine: str, request: int) -> None:
        summary, empty = recipe_summary(recipe), recipe.is_empty
        try:
            self.post_message(self.EffectReady(recipe_effect(lf, recipe, engine), summary, empty, request))
        except UserError as exc:
            self.post_message(self.EffectReady(None, summary, empty, request, str(exc)))
        except Exception as exc:  # noqa: BLE001 - e.g. a constant that does not fit the column's type
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self.post_message(self.EffectReady(None, summary, empty, request, message))

    @on(EffectReady)
    def _on_effect(self, event: EffectReady) -> None:
        event.stop()
        if event.request != self._request:
            return  # counts for a recipe the user has changed since
        text = Text()
        text.append("Recipe: ", style="bold")
        text.append(event.summary)
        if event.effect is not None:
            text.append("\n" + event.effect.describe(), style="dim" if event.empty else "")
        if event.error:
            text.append(f"\nrecipe error: {event.error}", style="bold")
        self.update(text)
