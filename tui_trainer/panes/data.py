"""The Data pane: open a dataset, see its profile and findings, browse its rows a page at a time, build a fix recipe.

All data work (open, profile, checks, pages, recipe counts, saving) runs in thread workers that post
messages; the handlers here own every widget. The domain lives in `tui_trainer.data` (no Textual there).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.coordinate import Coordinate
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import ContentSwitcher, DataTable, DirectoryTree, Input, Label, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from tui_trainer import paths
from tui_trainer.data.checks import CheckOptions, Thresholds, offending_rows, run_checks
from tui_trainer.data.load import Dataset, explain_parse_failure, open_dataset
from tui_trainer.data.paging import ROW_INDEX, Pager
from tui_trainer.data.profile import ColumnProfile
from tui_trainer.data.recipe import Fill, OutlierRule, Recipe, RecipeEffect, recipe_effect, save_recipe
from tui_trainer.data.report import Inspection, inspect_dataset, sparkline
from tui_trainer.errors import UserError
from tui_trainer.findings import Finding
from tui_trainer.panes.base import Pane
from tui_trainer.panes.messages import OpenCollapseLab
from tui_trainer.widgets.findings_table import FindingsTable, FindingsView
from tui_trainer.widgets.path_prompt import PathPrompt

PAGE_SIZE = 100
FILL_CYCLE = [None, "mean", "median", "mode", "constant"]
OUTLIER_CYCLE = [None, ("zscore", "clip"), ("zscore", "drop"), ("iqr", "clip"), ("iqr", "drop")]
CHART_HEIGHT = 6
BARS = " ▁▂▃▄▅▆▇█"


class OpenDataScreen(ModalScreen[Path | None]):
    """Pick a dataset: type a path, or choose a file or image folder in the tree (default sample_data/)."""

    DEFAULT_CSS = """
    OpenDataScreen { align: center middle; }
    OpenDataScreen > Vertical { width: 90; height: 30; padding: 0 1; border: thick $primary; background: $surface; }
    OpenDataScreen DirectoryTree { height: 1fr; }
    OpenDataScreen .hint { color: $text-muted; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    TITLE = "Open a dataset (CSV/TSV, Parquet, JSON, NDJSON, Arrow, or an image folder)"

    def __init__(self, root: Path, current: str = "", title: str | None = None) -> None:
        super().__init__()
        self._root = root
        self._current = current
        self._title = title or self.TITLE

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._title)
            yield Input(value=self._current, placeholder="path to a file or folder", id="open-path")
            yield DirectoryTree(self._root, id="open-tree")
            yield Label(
                "Enter opens the path · pick a file in the tree · o on a folder opens it · Esc cancels",
                classes="hint",
            )

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        value = event.value.strip()
        self.dismiss(Path(value).expanduser() if value else None)

    def on_directory_tree_file_selected(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        self.dismiss(Path(event.path))

    def on_directory_tree_directory_selected(self, event: DirectoryTree.DirectorySelected) -> None:
        self.query_one(Input).value = str(event.path)

    def key_o(self) -> None:
        tree = self.query_one(DirectoryTree)
        node = tree.cursor_node
        if node is not None and node.data is not None and Path(node.data.path).is_dir():
            self.dismiss(Path(node.data.path))

    def action_cancel(self) -> None:
        self.dismiss(None)


class ChooseLabelScreen(ModalScreen[str | None]):
    """Pick the label column (or none)."""

    DEFAULT_CSS = """
    ChooseLabelScreen { align: center middle; }
    ChooseLabelScreen > Vertical { width: 60; height: auto; max-height: 30; padding: 0 1; border: thick $primary;
        background: $surface; }
    ChooseLabelScreen OptionList { height: auto; max-height: 24; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    NONE = "\x00none"

    def __init__(
        self,
        columns: list[str],
        current: str | None,
        prompt: str = "Label column (imbalance and label conflicts are checked on it)",
    ) -> None:
        super().__init__()
        self._columns = columns
        self._current = current
        self._prompt = prompt

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._prompt)
            options = [Option("(no label)", id=self.NONE)] + [Option(c, id=c) for c in self._columns]
            yield OptionList(*options, id="label-options")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.focus()
        if self._current in self._columns:
            options.highlighted = self._columns.index(self._current) + 1

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(None if event.option.id == self.NONE else event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(self._current)


class RowsTable(DataTable):
    """The table view's page: an arrow key past its first or last row asks the pane for the next page."""

    @dataclass
    class EdgeReached(Message):
        table: RowsTable
        step: int  # +1 past the last row, -1 before the first

        @property
        def control(self) -> RowsTable:
            return self.table

    def action_cursor_down(self) -> None:
        if self.row_count and self.cursor_row >= self.row_count - 1:
            self.post_message(self.EdgeReached(self, 1))
            return
        super().action_cursor_down()

    def action_cursor_up(self) -> None:
        if self.row_count and self.cursor_row <= 0:
            self.post_message(self.EdgeReached(self, -1))
            return
        super().action_cursor_up()


class DataPane(Pane):
    PANE_ID = "data"
    TITLE = "Data"
    DEFAULT_CSS = Path(__file__).with_suffix(".tcss").read_text(encoding="utf-8")
    BINDINGS = [
        Binding("o", "open", "Open dataset"),
        Binding("l", "choose_label", "Label column"),
        Binding("t", "toggle_view", "Table / profile"),
        Binding("slash,f", "filter", "Filter rows"),
        Binding("s", "sort", "Sort by column"),
        Binding("n", "page(1)", "Next page"),
        Binding("p", "page(-1)", "Previous page"),
        Binding("escape", "clear_focus", "Show all rows", show=False),
        Binding("m", "toggle_drop_missing", "Recipe: drop rows missing column"),
        Binding("i", "cycle_fill", "Recipe: fill column"),
        Binding("d", "toggle_duplicates", "Recipe: drop duplicates"),
        Binding("x", "cycle_outliers", "Recipe: outliers rule"),
        Binding("c", "toggle_constant", "Recipe: drop constant columns"),
        Binding("w", "save_recipe", "Save recipe"),
        Binding("k", "collapse_lab", "Collapse lab at the synthetic share"),
        Binding("a", "compare", "Compare with another file (leakage, drift)"),
    ]

    # ----- messages (workers post these; handlers below own the widgets) ----------------------------------
    @dataclass
    class Opened(Message):
        dataset: Dataset
        pager: Pager
        first_page: pl.DataFrame | None  # read before profiling starts, so it shows at once
        run: int

    @dataclass
    class Progress(Message):
        stage: str
        fraction: float
        run: int

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, DataPane.Progress)

    @dataclass
    class Inspected(Message):
        inspection: Inspection
        lf: pl.LazyFrame
        engine: str
        run: int
        against: Dataset | None = None  # the file the findings were compared with (leakage, drift)

    @dataclass
    class CompareFailed(Message):
        """The other file could not be read or compared: the findings shown stay as they were."""

        message: str
        run: int

    @dataclass
    class Failed(Message):
        message: str
        run: int

    @dataclass
    class PageReady(Message):
        frame: pl.DataFrame
        offset: int
        total: int | None  # None: still being counted
        request: int  # only the newest request's pages are shown; a slower older one is dropped
        error: str | None = None

    @dataclass
    class TotalReady(Message):
        total: int
        request: int

    @dataclass
    class EffectReady(Message):
        effect: RecipeEffect | None
        request: int
        error: str | None = None

    @dataclass
    class Saved(Message):
        path: Path | None
        error: str | None = None

    def __init__(self, path: Path | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self._initial_path = path
        self._run = 0
        self.dataset: Dataset | None = None
        self.inspection: Inspection | None = None
        self.provenance: str | None = None  # chosen with k; the synthetic_share check runs on it
        self.against: Dataset | None = None  # chosen with a; leakage and drift are checked against it
        self._open_lab_after_checks = False
        self.pager: Pager | None = None
        self.label: str | None = None
        self.thresholds = Thresholds()
        self.recipe = Recipe()
        self._lf: pl.LazyFrame | None = None
        self._engine = "streaming"
        self._offset = 0
        self._total: int | None = None
        self._busy: str | None = None
        self._cursor_to_end = False
        self._request = 0  # page/filter requests: only the newest one's result is shown
        self._column_widths: dict[str, int] = {}
        self._effect_request = 0

    def compose(self) -> ComposeResult:
        yield Static(
            Text("No dataset open. Press o to open one (sample_data/ has examples).", style="dim"),
            id="data-status",
        )
        with ContentSwitcher(initial="data-overview", id="data-views"):
            with Horizontal(id="data-overview"):
                with Vertical(id="data-left"):
                    yield DataTable(id="data-columns", cursor_type="row", zebra_stripes=True)
                    yield Static("", id="data-column-detail")
                yield FindingsView(id="data-findings")
            with Vertical(id="data-rows-view"):
                yield Input(
                    placeholder="filter: pl.col(\"x\") > 3  or  x > 3 AND species = 'Adelie'",
                    id="data-filter",
                )
                yield RowsTable(id="data-rows", cursor_type="cell", zebra_stripes=True)
        yield Static(
            "Recipe: (empty) · m drop missing · i fill · d duplicates · x outliers · c constant · w save",
            id="data-recipe",
        )

    def on_mount(self) -> None:
        columns = self.query_one("#data-columns", DataTable)
        # Fixed widths: DataTable caches rows rendered before it measured auto widths (see _rerender_findings).
        for key, label, width in (
            ("name", "Column", 16),
            ("dtype", "Type", 4),
            ("missing", "Missing", 10),
            ("unique", "Unique", 7),
            ("mean", "Mean", 7),
            ("min", "Min", 7),
            ("max", "Max", 7),
            ("hist", "Histogram", 10),
        ):
            columns.add_column(label, key=key, width=width)
        self.query_one("#data-filter", Input).display = False

    def busy_reason(self) -> str | None:
        return self._busy

    def on_pane_activated(self) -> None:
        # Focus inside the pane so its keys (o to open, ...) work as soon as it shows.
        self.call_after_refresh(self._focus_inside)
        if self._initial_path is not None and self.dataset is None and self._run == 0:
            self.open_path(self._initial_path)

    def _focus_inside(self) -> None:
        focused = self.app.focused
        if focused is None or self not in focused.ancestors:
            views = self.query_one("#data-views", ContentSwitcher)
            target = "#data-rows" if views.current == "data-rows-view" else "#data-columns"
            self.query_one(target, DataTable).focus()

    # ----- opening and inspecting -----------------------------------------------------------------------
    def open_path(self, path: Path, label: str | None = None) -> None:
        """Open `path` and inspect it in a worker; returns at once."""
        self._run += 1
        self.label = label
        self.provenance = None  # a provenance column belongs to the dataset it was chosen for
        self.against = None  # so does the file it was compared with
        self._open_lab_after_checks = False
        self.recipe = Recipe()
        self._set_status(f"Opening {path}…")
        self._open_worker(Path(path), label, self._run)

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="data-open",
        description="Inspecting a dataset",
    )
    def _open_worker(self, path: Path, label: str | None, run: int) -> None:
        try:
            dataset = open_dataset(path)
            pager = Pager(dataset.lazy)
            try:
                first_page = pager.page(0, PAGE_SIZE)
            except Exception:  # noqa: BLE001 - the profile below reports what is wrong with the file
                first_page = None
            self.post_message(self.Opened(dataset, pager, first_page, run))
            inspection = inspect_dataset(
                path,
                label=label,
                thresholds=self.thresholds,
                dataset=dataset,
                progress=lambda stage, fraction: self.post_message(self.Progress(stage, fraction, run)),
            )
        except UserError as exc:
            self.post_message(self.Failed(str(exc), run))
            return
        lf = inspection.lf if inspection.lf is not None else dataset.lazy
        self.post_message(self.Inspected(inspection, lf, inspection.engine, run))

    @on(Opened)
    def _on_opened(self, event: Opened) -> None:
        if event.run != self._run:
            return
        self.dataset = event.dataset
        self.inspection = None
        self.pager = event.pager
        self._offset = 0
        self._total = None
        self._busy = f"the Data pane is still profiling {event.dataset.name}"
        self._set_status(f"{_display(event.dataset.path)} ({event.dataset.format}) · profiling…")
        self.query_one("#data-columns", DataTable).clear()
        self.query_one(FindingsView).set_findings([])
        if event.first_page is not None:
            self._on_page(self.PageReady(event.first_page, 0, None, self._request))
        self._request_page(0, count_only=event.first_page is not None)

    @on(Progress)
    def _on_progress(self, event: Progress) -> None:
        if event.run == self._run and self.dataset is not None and self.inspection is None:
            filled = int(event.fraction * 20)
            bar = "█" * filled + "░" * (20 - filled)
            self._set_status(f"{_display(self.dataset.path)} · {event.stage} {bar} {event.fraction:.0%}")

    @on(Inspected)
    def _on_inspected(self, event: Inspected) -> None:
        if event.run != self._run:
            return
        self._busy = None
        self.inspection = event.inspection
        self.against = event.against
        self._lf, self._engine = event.lf, event.engine
        if self.pager is not None:
            self.pager.replace_source(event.lf)
        self._show_profile()
        self._recompute_effect()
        if self._open_lab_after_checks:
            self._open_lab_after_checks = False
            self.action_collapse_lab()

    @on(Failed)
    def _on_failed(self, event: Failed) -> None:
        if event.run != self._run:
            return
        self._busy = None
        self._set_status(event.message, error=True)
        self.notify(event.message, severity="error", markup=False, timeout=10)

    @on(CompareFailed)
    def _on_compare_failed(self, event: CompareFailed) -> None:
        if event.run != self._run:
            return
        self._busy = None
        self._set_status(self._summary())  # the previous findings (and comparison, if any) still stand
        self.notify(event.message, severity="error", markup=False, timeout=10)

    @on(Worker.StateChanged)
    def _on_worker_state(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and (event.worker.group or "").startswith("data-"):
            self._busy = None
            message = f"{event.worker.description} failed: {event.worker.error}"
            self._set_status(message, error=True)
            self.notify(message, severity="error", markup=False, timeout=10)

    def _show_profile(self) -> None:
        assert self.inspection is not None
        profile = self.inspection.profile
        table = self.query_one("#data-columns", DataTable)
        table.clear()
        for col in profile.columns:
            pct = 100.0 * col.missing / profile.rows if profile.rows else 0.0
            missing = f"{col.missing} ({pct:.1f}%)" if col.missing else "0"
            table.add_row(
                _clip(col.name, 16),
                _short_dtype(col.dtype),
                missing,
                _fmt(col.unique),
                _fmt(col.mean),
                _fmt(col.min),
                _fmt(col.max),
                sparkline(_halve(col.histogram)),
                key=col.name,
            )
        self.query_one(FindingsView).set_findings(self.inspection.findings)
        self.set_timer(0.2, self._rerender_findings)
        self._set_status(self._summary())
        if profile.columns:
            self._show_column(profile.columns[0])
        self._focus_inside()

    def _summary(self) -> str:
        """The status line for an inspected dataset: size, findings by severity, label, comparison."""
        assert self.inspection is not None
        profile = self.inspection.profile
        counts: dict[str, int] = {}
        for finding in self.inspection.findings:
            counts[finding.severity.value] = counts.get(finding.severity.value, 0) + 1
        summary = ", ".join(f"{counts[s]} {s}" for s in ("error", "warning", "info", "ok") if counts.get(s))
        label = f" · label {self.label}" if self.label else " · no label (l to choose)"
        against = f" · compared with {_display(self.against.path)}" if self.against is not None else ""
        return (
            f"{_display(self.inspection.dataset.path)} · {profile.rows} rows × {len(profile.columns)} columns · "
            f"{profile.duplicates} duplicate rows · findings: {summary or 'none'}{label}{against}"
        )

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
            self._show_column(self.inspection.profile.column(str(event.row_key.value)))
        except KeyError:
            pass

    def _show_column(self, col: ColumnProfile) -> None:
        text = Text()
        text.append(f"{col.name}", style="bold")
        text.append(f"  {col.dtype} · {col.count} values · {col.missing} missing")
        if col.nan:
            text.append(f" ({col.nan} NaN)")
        if col.kind == "numeric" and col.q25 is not None:
            text.append(
                f"\nmean {_fmt(col.mean)} std {_fmt(col.std)} · min {_fmt(col.min)} Q1 {_fmt(col.q25)} "
                f"median {_fmt(col.median)} Q3 {_fmt(col.q75)} max {_fmt(col.max)} · zeros {col.zeros} · "
                f"outliers z {col.outliers_zscore} IQR {col.outliers_iqr}"
            )
        if col.top:
            text.append("\ntop: " + ", ".join(f"{v!s} ({c})" for v, c in col.top))
        fix = self._recipe_for(col.name)
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
            text.append(f"{_fmt(lo)}".ljust(len(counts)) + f"{_fmt(hi)}".rjust(len(counts)), style="dim")
        else:
            text.append(" ".join(str(v) for v, _c in col.top)[: 2 * len(counts)], style="dim")
        return text

    # ----- table view -------------------------------------------------------------------------------------
    def _request_page(self, offset: int, count_only: bool = False) -> None:
        if self.pager is not None and self.dataset is not None:
            self._request += 1
            self._page_worker(self.pager, max(0, offset), self.dataset, count_only, self._request)

    @work(thread=True, exclusive=True, exit_on_error=False, group="data-page", description="Reading a page")
    def _page_worker(
        self, pager: Pager, offset: int, dataset: Dataset, count_only: bool, request: int
    ) -> None:
        try:
            if offset == 0 and not count_only:
                # The first page comes before the row count: counting a large CSV reads all of it.
                self.post_message(self.PageReady(pager.page(0, PAGE_SIZE), 0, None, request))
            total = pager.total_rows()
            if offset:
                offset = min(offset, max(0, (total - 1) // PAGE_SIZE * PAGE_SIZE))
                self.post_message(self.PageReady(pager.page(offset, PAGE_SIZE), offset, total, request))
            else:
                self.post_message(self.TotalReady(total, request))
        except Exception as exc:  # noqa: BLE001 - a page that cannot be read is shown as an error, not raised
            message = str(explain_parse_failure(dataset.path, dataset.format, exc))
            self.post_message(self.PageReady(pl.DataFrame(), offset, 0, request, message))

    @on(PageReady)
    def _on_page(self, event: PageReady) -> None:
        if event.request != self._request:
            return
        if event.error:
            self._set_status(f"cannot show rows: {event.error}", error=True)
            return
        self._offset = event.offset
        if event.total is not None:
            self._total = event.total
        table = self.query_one("#data-rows", DataTable)
        column = table.cursor_column
        same_columns = [str(k.value) for k in table.columns] == event.frame.columns
        if not same_columns:
            self._column_widths = {}
        # Fixed widths (not auto: see _rerender_findings) that only grow as pages go by, at most 40 characters.
        for name in event.frame.columns:
            cells = [len(_plain(v)) for v in event.frame[name].to_list()]
            widest = min(40, max([len(name), 1, *cells]))
            self._column_widths[name] = max(widest, self._column_widths.get(name, 0))
        table.clear(columns=True)
        for name in event.frame.columns:
            table.add_column(name, key=name, width=self._column_widths[name])
        for row in event.frame.iter_rows():
            table.add_row(*(_cell(v) for v in row))
        if table.row_count:
            # Keep the column the user sorts or reads by; arriving from the page below puts the cursor at the end.
            row = table.row_count - 1 if self._cursor_to_end else 0
            table.move_cursor(row=row, column=column if same_columns else 0)
        self._cursor_to_end = False
        self._update_rows_title()

    @on(TotalReady)
    def _on_total(self, event: TotalReady) -> None:
        if event.request != self._request:
            return
        self._total = event.total
        self._update_rows_title()

    def _update_rows_title(self) -> None:
        if self.pager is None:
            return
        state = self.pager.state
        shown = self.query_one("#data-rows", DataTable).row_count
        total = "…" if self._total is None else str(self._total)
        parts = [f"rows {self._offset + 1 if shown else 0}–{self._offset + shown} of {total}"]
        if state.focus:
            parts.append(f"showing {state.focus} (Esc shows all)")
        if state.filter_text:
            parts.append(f"filter: {state.filter_text}")
        if state.sort:
            parts.append(f"sorted by {state.sort} {'↓' if state.descending else '↑'}")
        parts.append("n/p pages · s sort · / filter · t profile")
        self.query_one("#data-rows", DataTable).border_title = " · ".join(parts)

    def action_toggle_view(self) -> None:
        switcher = self.query_one("#data-views", ContentSwitcher)
        showing_rows = switcher.current == "data-rows-view"
        switcher.current = "data-overview" if showing_rows else "data-rows-view"
        (self.query_one("#data-columns") if showing_rows else self.query_one("#data-rows")).focus()

    def _show_rows_view(self) -> None:
        self.query_one("#data-views", ContentSwitcher).current = "data-rows-view"
        self.query_one("#data-rows", DataTable).focus()

    @on(RowsTable.EdgeReached)
    def _on_edge(self, event: RowsTable.EdgeReached) -> None:
        """Arrow keys past the page's first or last row scroll into the neighbouring page."""
        event.stop()
        if self.pager is None:
            return
        full_page = event.table.row_count == PAGE_SIZE
        if event.step > 0 and full_page and (self._total is None or self._offset + PAGE_SIZE < self._total):
            self._request_page(self._offset + PAGE_SIZE)
        elif event.step < 0 and self._offset > 0:
            self._cursor_to_end = True
            self._request_page(self._offset - PAGE_SIZE)

    def action_page(self, step: int) -> None:
        if self.pager is None:
            return
        self._show_rows_view()
        self._request_page(self._offset + step * PAGE_SIZE)

    def action_filter(self) -> None:
        if self.pager is None:
            self.notify("Open a dataset first (o).", severity="warning")
            return
        self._show_rows_view()
        box = self.query_one("#data-filter", Input)
        box.display = True
        box.value = self.pager.state.filter_text
        box.focus()

    @on(Input.Submitted, "#data-filter")
    def _on_filter(self, event: Input.Submitted) -> None:
        event.stop()
        if self.pager is None:
            return
        self._request += 1
        self._filter_worker(self.pager, event.value, self._request)

    @work(thread=True, exclusive=True, exit_on_error=False, group="data-filter", description="Filtering rows")
    def _filter_worker(self, pager: Pager, text: str, request: int) -> None:
        error = pager.set_filter(text)
        if error:
            self.post_message(self.PageReady(pl.DataFrame(), 0, 0, request, f"filter not applied: {error}"))
            return
        total = pager.total_rows()
        self.post_message(self.PageReady(pager.page(0, PAGE_SIZE), 0, total, request))

    def action_sort(self) -> None:
        if self.pager is None:
            return
        self._show_rows_view()
        table = self.query_one("#data-rows", DataTable)
        if not table.columns:
            return
        column_key = list(table.columns)[max(0, table.cursor_column)]
        name = str(column_key.value)
        current, descending = self.pager.state.sort, self.pager.state.descending
        if current != name:
            self.pager.set_sort(name, False)
        elif not descending:
            self.pager.set_sort(name, True)
        else:
            self.pager.set_sort(None)
        self._request_page(0)

    def action_clear_focus(self) -> None:
        if self.pager is None:
            return
        box = self.query_one("#data-filter", Input)
        if box.has_focus:
            box.display = bool(self.pager.state.filter_text)
            self.query_one("#data-rows", DataTable).focus()
            return
        if self.pager.state.focus:
            self.pager.show_rows(None)
            self._request_page(0)

    @on(FindingsTable.Chosen)
    def _on_finding_chosen(self, event: FindingsTable.Chosen) -> None:
        event.stop()
        self.jump_to_finding(event.finding)

    def jump_to_finding(self, finding: Finding) -> None:
        """Show the rows a finding is about in the table view (all of them where a filter can say which)."""
        if self.pager is None:
            return
        schema = self.pager.source.collect_schema()
        condition = offending_rows(finding, schema)
        examples = finding.evidence.get("examples") or []
        if condition is None and not examples:
            self.notify(
                f"{finding.id}: no particular rows to show (it is about the whole column).", markup=False
            )
            return
        self.pager.show_rows(examples if condition is None else None, condition, focus=f"{finding.id} rows")
        count = finding.evidence.get("count") or 0
        if condition is None and count > len(examples):
            self.notify(
                f"{finding.id}: showing the first {len(examples)} of its {count} rows (its example rows).",
                markup=False,
            )
        self._show_rows_view()
        self._request_page(0)

    def action_collapse_lab(self) -> None:
        """Open the collapse lab with the real fraction this dataset keeps (needs --provenance / a provenance column)."""
        findings = self.inspection.findings if self.inspection is not None else []
        share = next((f for f in findings if f.id == "synthetic_share"), None)
        if share is not None:
            self.post_message(OpenCollapseLab(real_fraction=float(share.evidence.get("real_fraction", 1.0))))
            return
        if self.dataset is None or self.inspection is None or self._lf is None:
            self.notify("Open a dataset first (o), and let its profile finish.", severity="warning")
            return
        columns = self.dataset.lazy.collect_schema().names()

        def chosen(column: str | None) -> None:
            if column is None or self.inspection is None or self._lf is None:
                return
            # Re-check with the provenance column; the synthetic_share finding then opens the lab.
            self.provenance = column
            self._open_lab_after_checks = True
            self._busy = "the Data pane is re-checking"
            self._set_status(f"checking synthetic share in {column}…")
            self._checks_worker(self.inspection, self._lf, self._engine, self.label, self._run, self.against)

        self.app.push_screen(
            ChooseLabelScreen(
                columns, None, prompt="Provenance column (rows marked synthetic/generated/1/true)"
            ),
            chosen,
        )

    # ----- label ----------------------------------------------------------------------------------------
    def action_choose_label(self) -> None:
        if self.dataset is None:
            self.notify("Open a dataset first (o).", severity="warning")
            return
        columns = self.dataset.lazy.collect_schema().names()

        def chosen(label: str | None) -> None:
            if label == self.label or self.dataset is None:
                return
            if self.inspection is None or self._lf is None:
                self.open_path(self.dataset.path, label)  # still profiling: start again with the label
                return
            self.label = label
            self._busy = "the Data pane is re-checking"
            self._set_status(f"checking with label {label}…" if label else "checking without a label…")
            self._checks_worker(self.inspection, self._lf, self._engine, label, self._run, self.against)

        self.app.push_screen(ChooseLabelScreen(columns, self.label), chosen)

    @work(
        thread=True, exclusive=True, exit_on_error=False, group="data-checks", description="Re-running checks"
    )
    def _checks_worker(
        self,
        inspection: Inspection,
        lf: pl.LazyFrame,
        engine: str,
        label: str | None,
        run: int,
        against: Dataset | None = None,
    ) -> None:
        try:
            findings = run_checks(lf, inspection.profile, self._check_options(label, engine, against))
        except UserError as exc:
            self.post_message(self.Failed(str(exc), run))
            return
        updated = Inspection(inspection.dataset, inspection.profile, findings, label, lf, engine)
        self.post_message(self.Inspected(updated, lf, engine, run, against))

    def _check_options(self, label: str | None, engine: str, against: Dataset | None) -> CheckOptions:
        return CheckOptions(
            label=label,
            provenance=self.provenance,
            thresholds=self.thresholds,
            engine=engine,
            against=against.lazy if against is not None else None,
            against_name=str(against.path) if against is not None else "",
        )

    # ----- compare with another file (leakage, drift) ---------------------------------------------------
    def action_compare(self) -> None:
        if self.dataset is None or self.inspection is None or self._lf is None:
            self.notify("Open a dataset first (o), and let its profile finish.", severity="warning")
            return
        root = paths.sample_data_dir()
        if not root.is_dir():
            root = Path.cwd()
        current = str(self.against.path) if self.against is not None else ""

        def chosen(path: Path | None) -> None:
            if path is None or self.inspection is None or self._lf is None:
                return
            self._busy = "the Data pane is comparing two files"
            self._set_status(f"comparing with {_display(path)}…")
            self._compare_worker(self.inspection, self._lf, self._engine, self.label, path, self._run)

        title = f"Compare {self.dataset.name} with another file (rows in both: leakage; per column: drift)"
        self.app.push_screen(OpenDataScreen(root, current, title=title), chosen)

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="data-checks",
        description="Comparing two files",
    )
    def _compare_worker(
        self, inspection: Inspection, lf: pl.LazyFrame, engine: str, label: str | None, path: Path, run: int
    ) -> None:
        other: Dataset | None = None
        try:
            other = open_dataset(path)  # lazy: only the checks below read it
            findings = run_checks(lf, inspection.profile, self._check_options(label, engine, other))
        except UserError as exc:
            message = str(exc)
            self.post_message(
                self.CompareFailed(message if str(path) in message else f"{path}: {message}", run)
            )
            return
        except Exception as exc:  # noqa: BLE001 - the inspected file was read whole already: the other one failed
            if other is None:
                message = f"{path}: cannot read it ({exc})"
            else:
                message = str(explain_parse_failure(other.path, other.format, exc))
            self.post_message(self.CompareFailed(message, run))
            return
        updated = Inspection(inspection.dataset, inspection.profile, findings, label, lf, engine)
        self.post_message(self.Inspected(updated, lf, engine, run, other))

    # ----- open -----------------------------------------------------------------------------------------
    def action_open(self) -> None:
        root = paths.sample_data_dir()
        if not root.is_dir():
            root = Path.cwd()
        current = str(self.dataset.path) if self.dataset else ""

        def chosen(path: Path | None) -> None:
            if path is not None:
                self.open_path(path)

        self.app.push_screen(OpenDataScreen(root, current), chosen)

    # ----- recipe builder -------------------------------------------------------------------------------
    def _selected_column(self) -> ColumnProfile | None:
        if self.inspection is None:
            self.notify("Open a dataset and wait for its profile first.", severity="warning")
            return None
        table = self.query_one("#data-columns", DataTable)
        columns = self.inspection.profile.columns
        if not columns:
            return None
        return columns[min(max(0, table.cursor_row), len(columns) - 1)]

    def _recipe_for(self, name: str) -> str:
        parts = []
        if name in self.recipe.drop_missing:
            parts.append("drop rows missing it")
        if name in self.recipe.fill:
            f = self.recipe.fill[name]
            parts.append(f"fill {f.strategy}" + (f" {f.value!r}" if f.strategy == "constant" else ""))
        for rule in self.recipe.outliers:
            if name in rule.columns:
                parts.append(f"{rule.action} {rule.method} outliers")
        return ", ".join(parts)

    def action_toggle_drop_missing(self) -> None:
        col = self._selected_column()
        if col is None:
            return
        if col.name in self.recipe.drop_missing:
            self.recipe.drop_missing.remove(col.name)
        else:
            self.recipe.drop_missing.append(col.name)
        self._recipe_changed(col)

    def action_cycle_fill(self) -> None:
        col = self._selected_column()
        if col is None:
            return
        current = self.recipe.fill.get(col.name)
        cycle = FILL_CYCLE if col.kind == "numeric" else [None, "mode", "constant"]
        index = cycle.index(current.strategy if current else None)
        nxt = cycle[(index + 1) % len(cycle)]
        if nxt is None:
            self.recipe.fill.pop(col.name, None)
            self._recipe_changed(col)
        elif nxt == "constant":

            def answer(value: str | None) -> None:
                if value is None:
                    self.recipe.fill.pop(col.name, None)
                else:
                    self.recipe.fill[col.name] = Fill("constant", _parse_constant(value, col))
                self._recipe_changed(col)

            self.app.push_screen(
                PathPrompt(
                    f"Fill missing values of {col.name!r} with:",
                    "0" if col.kind == "numeric" else "",
                    "Enter to confirm, Esc for no fill",
                ),
                answer,
            )
        else:
            self.recipe.fill[col.name] = Fill(nxt)
            self._recipe_changed(col)

    def action_toggle_duplicates(self) -> None:
        if self._selected_column() is None:
            return
        self.recipe.drop_duplicates = not self.recipe.drop_duplicates
        self._recipe_changed(None)

    def action_toggle_constant(self) -> None:
        if self._selected_column() is None:
            return
        self.recipe.drop_constant = not self.recipe.drop_constant
        self._recipe_changed(None)

    def action_cycle_outliers(self) -> None:
        col = self._selected_column()
        if col is None:
            return
        if col.kind != "numeric":
            self.notify(
                f"{col.name} is not a number column; outlier rules apply to numbers.",
                severity="warning",
                markup=False,
            )
            return
        rule = next((r for r in self.recipe.outliers if col.name in r.columns), None)
        index = OUTLIER_CYCLE.index((rule.method, rule.action)) if rule else 0
        if rule is not None:
            rule.columns.remove(col.name)
            if not rule.columns:
                self.recipe.outliers.remove(rule)
        nxt = OUTLIER_CYCLE[(index + 1) % len(OUTLIER_CYCLE)]
        if nxt is not None:
            method, action = nxt
            limit = self.thresholds.zscore if method == "zscore" else self.thresholds.iqr
            self.recipe.outliers.append(OutlierRule([col.name], method, action, limit))
        self._recipe_changed(col)

    def _recipe_changed(self, col: ColumnProfile | None) -> None:
        if col is not None:
            self._show_column(col)
        self._recompute_effect()

    def _recipe_summary(self) -> str:
        r = self.recipe
        parts = []
        if r.drop_duplicates:
            parts.append("drop duplicates")
        if r.drop_constant:
            parts.append("drop constant columns")
        if r.drop_missing:
            parts.append("drop rows missing " + ", ".join(r.drop_missing))
        for name, f in r.fill.items():
            parts.append(f"fill {name} {f.strategy}")
        for rule in r.outliers:
            parts.append(f"{rule.action} {rule.method} outliers in {', '.join(rule.columns)}")
        return "; ".join(parts) or "(empty)"

    def _recompute_effect(self) -> None:
        if self._lf is None:
            return
        self._effect_request += 1
        self._effect_worker(self._lf, _copy_recipe(self.recipe), self._engine, self._effect_request)

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="data-effect",
        description="Counting the recipe",
    )
    def _effect_worker(self, lf: pl.LazyFrame, recipe: Recipe, engine: str, request: int) -> None:
        try:
            self.post_message(self.EffectReady(recipe_effect(lf, recipe, engine), request))
        except UserError as exc:
            self.post_message(self.EffectReady(None, request, str(exc)))
        except Exception as exc:  # noqa: BLE001 - e.g. a constant that does not fit the column's type
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self.post_message(self.EffectReady(None, request, message))

    @on(EffectReady)
    def _on_effect(self, event: EffectReady) -> None:
        if event.request != self._effect_request:
            return  # counts for a recipe the user has changed since
        recipe = self.query_one("#data-recipe", Static)
        text = Text()
        text.append("Recipe: ", style="bold")
        text.append(self._recipe_summary())
        if event.effect is not None:
            text.append("\n" + event.effect.describe(), style="dim" if self.recipe.is_empty else "")
        if event.error:
            text.append(f"\nrecipe error: {event.error}", style="bold")
        recipe.update(text)

    def action_save_recipe(self) -> None:
        if self.dataset is None:
            self.notify("Open a dataset first (o).", severity="warning")
            return
        if self.recipe.is_empty:
            self.notify("The recipe is empty: pick fixes with m, i, d, x or c first.", severity="warning")
            return
        default = str(Path.cwd() / f"{self.dataset.path.stem}.recipe.toml")

        def answer(value: str | None) -> None:
            if value:
                self._save_worker(_copy_recipe(self.recipe), Path(value).expanduser())

        self.app.push_screen(PathPrompt("Save the fix recipe to:", default), answer)

    @work(
        thread=True, exclusive=True, exit_on_error=False, group="data-save", description="Saving the recipe"
    )
    def _save_worker(self, recipe: Recipe, path: Path) -> None:
        try:
            self.post_message(self.Saved(save_recipe(recipe, path)))
        except OSError as exc:
            self.post_message(self.Saved(None, f"{path}: cannot write it ({exc.strerror or exc})"))

    @on(Saved)
    def _on_saved(self, event: Saved) -> None:
        if event.error:
            self.notify(event.error, severity="error", markup=False)
        elif self.dataset is not None:
            self.notify(
                f"Recipe saved to {event.path}. Apply it: tui-trainer inspect {self.dataset.path} --apply {event.path} "
                "--out clean.parquet",
                markup=False,
                timeout=10,
            )

    def _set_status(self, message: str, error: bool = False) -> None:
        status = self.query_one("#data-status", Static)
        status.update(Text(message))
        status.set_class(error, "-error")


def _copy_recipe(recipe: Recipe) -> Recipe:
    """A snapshot for a worker, so later key presses never change a recipe while it is being counted or saved."""
    return Recipe(
        drop_columns=list(recipe.drop_columns),
        drop_constant=recipe.drop_constant,
        drop_duplicates=recipe.drop_duplicates,
        drop_missing=list(recipe.drop_missing),
        fill={k: Fill(v.strategy, v.value) for k, v in recipe.fill.items()},
        outliers=[OutlierRule(list(r.columns), r.method, r.action, r.threshold) for r in recipe.outliers],
    )


def _parse_constant(value: str, col: ColumnProfile) -> Any:
    if col.kind == "numeric":
        try:
            number = float(value)
        except ValueError:
            return value
        return int(number) if col.dtype.startswith(("Int", "UInt")) and number.is_integer() else number
    return value


def _display(path: Path) -> str:
    """The last two parts of a path: enough to recognise it, and the same on every machine."""
    return str(Path(*path.parts[-2:])) if len(path.parts) >= 2 else str(path)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


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


def _short_dtype(dtype: str) -> str:
    """A type name that fits the 4-wide column (the detail panel shows the full one)."""
    if dtype in _SHORT_DTYPES:
        return _SHORT_DTYPES[dtype]
    for prefix, short in _SHORT_PREFIXES.items():
        if dtype.startswith(prefix):
            return short
    return _clip(dtype, 4)


def _halve(counts: list[int]) -> list[int]:
    """Pairs of histogram bins summed: a 10-character sparkline fits the column table."""
    if len(counts) <= 10:
        return counts
    return [sum(counts[i : i + 2]) for i in range(0, len(counts), 2)]


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        text = f"{value:.4g}"
        return text if len(text) <= 7 else f"{value:.1e}"  # fits the 7-wide table columns
    return str(value)[:16]


def _plain(value: Any) -> str:
    cell = _cell(value)
    return cell.plain if isinstance(cell, Text) else cell


def _cell(value: Any) -> Text | str:
    if value is None:
        return Text("∅", style="dim")
    if isinstance(value, float):
        return f"{value:.6g}"
    text = str(value)
    return text if len(text) <= 40 else text[:39] + "…"


__all__ = ["DataPane", "OpenDataScreen", "ChooseLabelScreen", "PAGE_SIZE", "ROW_INDEX"]
