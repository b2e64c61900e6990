"""The Data pane's profile view: one row per column, the selected column's detail and histogram, the findings."""

from __future__ import annotations

import math
from collections.abc import Callable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.coordinate import Coordinate
from textual.widgets import DataTable, Static

from tui_trainer.data.profile import ColumnProfile
from tui_trainer.data.report import Inspection, sparkline
from tui_trainer.panes.data.cells import clip, halve, short_dtype, stat
from tui_trainer.widgets.findings_table import FindingsTable, FindingsView

CHART_HEIGHT = 6
BARS = " ▁▂▃▄▅▆▇█"
# Fixed widths: DataTable caches rows rendered before it measured auto widths (see `_rerender_findings`).
PROFILE_COLUMNS = (
    ("name", "Column", 16),
    ("dtype", "Type", 4),
    ("missing", "Missing", 10),
    ("unique", "Unique", 7),
    ("mean", "Mean", 7),
    ("min", "Min", 7),
    ("max", "Max", 7),
    ("hist", "Histogram", 10),
)


class ProfileView(Horizontal):
    """The columns table (left, over the detail of the highlighted column) beside the findings (right).

    `recipe_note(name)` says what the recipe does to a column; the pane sets it, so the detail shows it.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.inspection: Inspection | None = None
        self.recipe_note: Callable[[str], str] = lambda _name: ""

    def compose(self) -> ComposeResult:
        with Vertical(id="data-left"):
            yield DataTable(id="data-columns", cursor_type="row", zebra_stripes=True)
            yield Static("", id="data-column-detail")
        yield FindingsView(id="data-findings")

    def on_mount(self) -> None:
        columns = self.columns_table
        for key, label, width in PROFILE_COLUMNS:
            columns.add_column(label, key=key, width=width)

    @property
    def columns_table(self) -> DataTable:
        return self.query_one("#data-columns", DataTable)

    def clear(self) -> None:
        self.inspection = None
        self.columns_table.clear()
        self.query_one(FindingsView).set_findings([])
        self.query_one("#data-column-detail", Static).update("")

    def show(self, inspection: Inspection) -> None:
        self.inspection = inspection
        profile = inspection.profile
        table = self.columns_table
        row = table.cursor_row
        table.clear()
        for col in profile.columns:
            pct = 100.0 * col.missing / profile.rows if profile.rows else 0.0
            missing = f"{col.missing} ({pct:.1f}%)" if col.missing else "0"
            table.add_row(
                clip(col.name, 16),
                short_dtype(col.dtype),
                missing,
                stat(col.unique),
                stat(col.mean),
                stat(col.min),
                stat(col.max),
                sparkline(halve(col.histogram)),
                key=col.name,
            )
        if 0 < row < table.row_count:
            table.move_cursor(row=row)  # a re-check (label, comparison) keeps the column the user was on
        self.query_one(FindingsView).set_findings(inspection.findings)
        self.set_timer(0.2, self._rerender_findings)
        if profile.columns:
            self.show_column(profile.columns[min(max(0, table.cursor_row), len(profile.columns) - 1)])

    def selected_column(self) -> ColumnProfile | None:
        if self.inspection is None or not self.inspection.profile.columns:
            return None
        columns = self.inspection.profile.columns
        return columns[min(max(0, self.columns_table.cursor_row), len(columns) - 1)]

    def _rerender_findings(self) -> None:
        # Textual 8's DataTable caches rendered rows without their column widths, so rows drawn before the
        # table measured them keep label-wide columns ("mi" for "missing"). Setting one cell to its own
        # value invalidates that cache once the widths are known.
        table = self.query_one(FindingsTable)
        if table.row_count:
            table.update_cell_at(Coordinate(0, 0), table.get_cell_at(Coordinate(0, 0)))

    @on(DataTable.RowHighlighted, "#data-columns")
    def _on_column_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.inspection is None or event.row_key is None:
            return
        try:
            self.show_column(self.inspection.profile.column(str(event.row_key.value)))
        except KeyError:
            pass

    def show_column(self, col: ColumnProfile) -> None:
        text = Text()
        text.append(f"{col.name}", style="bold")
        text.append(f"  {col.dtype} · {col.count} values · {col.missing} missing")
        if col.nan:
            text.append(f" ({col.nan} NaN)")
        if col.kind == "numeric" and col.q25 is not None:
            text.append(
                f"\nmean {stat(col.mean)} std {stat(col.std)} · min {stat(col.min)} Q1 {stat(col.q25)} "
                f"median {stat(col.median)} Q3 {stat(col.q75)} max {stat(col.max)} · zeros {col.zeros} · "
                f"outliers z {col.outliers_zscore} IQR {col.outliers_iqr}"
            )
        if col.top:
            text.append("\ntop: " + ", ".join(f"{v!s} ({c})" for v, c in col.top))
        fix = self.recipe_note(col.name)
        if fix:
            text.append(f"\nrecipe: {fix}", style="bold")
        if col.histogram:
            text.append("\n")
            text.append_text(self._chart(col))
        self.query_one("#data-column-detail", Static).update(text)

    def _chart(self, col: ColumnProfile) -> Text:
        """The histogram as a small bar chart, coloured by the theme's primary colour."""
        counts = col.histogram
        top = max(counts) if counts else 0
        colour = self.app.theme_variables.get("primary", "") if self.is_attached else ""
        text = Text()
        if top <= 0:
            return text
        for level in range(CHART_HEIGHT, 0, -1):
            line = ""
            for c in counts:
                height = c / top * CHART_HEIGHT
                full = height - (level - 1)
                line += (
                    BARS[-1] if full >= 1 else BARS[max(0, math.ceil(full * 8))] if full > 0 else " "
                ) * 2
            text.append(line.rstrip() + "\n", style=colour)
        if col.hist_range:
            lo, hi = col.hist_range
            text.append(f"{stat(lo)}".ljust(len(counts)) + f"{stat(hi)}".rjust(len(counts)), style="dim")
        else:
            text.append(" ".join(str(v) for v, _c in col.top)[: 2 * len(counts)], style="dim")
        return text
