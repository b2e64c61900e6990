"""The Data pane's table view: one page of rows at a time, with paging, a filter box and sorting.

Pages are read in thread workers; every request carries a number and only the newest one's page is shown,
so a slow count or an old filter never overwrites what the user asked for last.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Input

from tui_trainer.data.load import Dataset, explain_parse_failure
from tui_trainer.data.paging import ROW_INDEX, Pager
from tui_trainer.panes.data.cells import CELL_MAX, cell, plain

PAGE_SIZE = 100
FILTER_PLACEHOLDER = (
    "filter: pl.col(\"x\") > 3  or  x > 3 AND species = 'Adelie'  (Enter applies, Esc clears)"
)


FILTER_FORMS = "write it like  x > 3 AND species = 'Adelie'  or  pl.col(\"x\") > 3"
_MISSING_COLUMN = re.compile(r'unable to find column "([^"]*)"')


def describe_filter_error(raw: str, columns: list[str]) -> str:
    """One sentence a user can act on, for whatever the filter parser or polars said (never its raw dump)."""
    missing = _MISSING_COLUMN.search(raw)
    if missing:
        names = ", ".join(c for c in columns if c != ROW_INDEX)
        return f'filter not applied: there is no column "{missing.group(1)}" (columns: {names}; quote text values)'
    first = raw.strip().splitlines()[0] if raw.strip() else ""
    if (
        not first
        or len(first) > 120
        or any(mark in first for mark in ("{", "Function(", "ObjectName", "Expr::"))
    ):
        return f"filter not applied: not a condition I can read; {FILTER_FORMS}"
    return f"filter not applied: {first.rstrip('.')}"


class RowsTable(DataTable):
    """The page on screen: an arrow key past its first or last row asks for the neighbouring page.

    The row-index column stays put when scrolling sideways, and the header marks the cursor's column.
    """

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

    @property
    def cursor_column_name(self) -> str | None:
        """The data column under the cursor (None on the row-index column or an empty table)."""
        if not self.columns:
            return None
        key = list(self.columns)[min(max(0, self.cursor_column), len(self.columns) - 1)]
        name = str(key.value)
        return None if name == ROW_INDEX else name

    def watch_cursor_coordinate(self, old, new) -> None:  # noqa: ANN001 - DataTable's own watcher signature
        super().watch_cursor_coordinate(old, new)
        if old.column != new.column:
            self._mark_header(new.column)

    def _mark_header(self, index: int) -> None:
        for position, column in enumerate(self.ordered_columns):
            name = str(column.key.value)
            column.label = Text(f"▸{name}", style="bold underline") if position == index else Text(name)
        self._update_count += 1  # DataTable's render caches are keyed by it: the header is drawn again
        self.refresh()


class RowsView(Vertical):
    """The filter box over the rows table. The pane hands it a `Pager` and routes keys to its methods."""

    @dataclass
    class Problem(Message):
        """A page or filter that could not be shown: the pane puts `message` in its status line."""

        message: str

    @dataclass
    class PageReady(Message):
        frame: pl.DataFrame
        offset: int
        total: int | None  # None: still being counted
        request: int
        error: str | None = None

    @dataclass
    class TotalReady(Message):
        total: int
        request: int

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.pager: Pager | None = None
        self._dataset: Dataset | None = None
        self.page_offset = 0
        self.row_total: int | None = None
        self._request = 0
        self._cursor_to_end = False
        self._column_widths: dict[str, int] = {}

    def compose(self) -> ComposeResult:
        yield Input(placeholder=FILTER_PLACEHOLDER, id="data-filter")
        yield RowsTable(id="data-rows", cursor_type="cell", zebra_stripes=True, fixed_columns=1)

    def on_mount(self) -> None:
        self.filter_box.display = False

    @property
    def table(self) -> RowsTable:
        return self.query_one("#data-rows", RowsTable)

    @property
    def filter_box(self) -> Input:
        return self.query_one("#data-filter", Input)

    # ----- source and pages ---------------------------------------------------------------------------
    def set_source(self, dataset: Dataset, pager: Pager, first_page: pl.DataFrame | None) -> None:
        """A newly opened dataset: show its first page now (when read already) and count its rows."""
        self._dataset, self.pager = dataset, pager
        self.page_offset, self.row_total = 0, None
        self.filter_box.value = ""
        self.filter_box.display = False
        if first_page is not None:
            self._show_page(self.PageReady(first_page, 0, None, self._request))
        self.request_page(0, count_only=first_page is not None)

    def request_page(self, offset: int, count_only: bool = False) -> None:
        if self.pager is not None and self._dataset is not None:
            self._request += 1
            self._page_worker(self.pager, max(0, offset), self._dataset, count_only, self._request)

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
            self.post_message(
                self.PageReady(pl.DataFrame(), offset, 0, request, f"cannot show rows: {message}")
            )

    @on(PageReady)
    def _on_page(self, event: PageReady) -> None:
        event.stop()
        if event.request == self._request:
            self._show_page(event)

    def _show_page(self, event: PageReady) -> None:
        if event.error:
            self.post_message(self.Problem(event.error))
            return
        self.page_offset = event.offset
        if event.total is not None:
            self.row_total = event.total
        table = self.table
        column = table.cursor_column
        same_columns = [str(k.value) for k in table.columns] == event.frame.columns
        if not same_columns:
            self._column_widths = {}
        # Fixed widths (DataTable caches rows drawn before it measures auto widths) that only grow as pages go
        # by; +1 leaves room for the header's cursor mark.
        for name in event.frame.columns:
            cells = [len(plain(v)) for v in event.frame[name].to_list()]
            widest = min(CELL_MAX, max([len(name) + 1, 1, *cells]))
            self._column_widths[name] = max(widest, self._column_widths.get(name, 0))
        table.clear(columns=True)
        for name in event.frame.columns:
            table.add_column(name, key=name, width=self._column_widths[name])
        for row in event.frame.iter_rows():
            table.add_row(*(cell(v) for v in row))
        if table.row_count:
            # Keep the column the user sorts or reads by; arriving from the page below puts the cursor at the end.
            row = table.row_count - 1 if self._cursor_to_end else 0
            table.move_cursor(row=row, column=column if same_columns else min(1, len(table.columns) - 1))
        table._mark_header(table.cursor_column)
        self._cursor_to_end = False
        self.update_title()

    @on(TotalReady)
    def _on_total(self, event: TotalReady) -> None:
        event.stop()
        if event.request == self._request:
            self.row_total = event.total
            self.update_title()

    def update_title(self) -> None:
        if self.pager is None:
            return
        state = self.pager.state
        shown = self.table.row_count
        total = "…" if self.row_total is None else str(self.row_total)
        parts = [f"rows {self.page_offset + 1 if shown else 0}–{self.page_offset + shown} of {total}"]
        if state.focus:
            parts.append(f"showing {state.focus} (Esc shows all)")
        if state.filter_text:
            parts.append(f"filter: {state.filter_text} (Esc clears)")
        if state.sort:
            parts.append(f"sorted by {state.sort} {'↓' if state.descending else '↑'}")
        parts.append("n/p pages · s sort · / filter · t profile")
        self.table.border_title = " · ".join(parts)

    @on(RowsTable.EdgeReached)
    def _on_edge(self, event: RowsTable.EdgeReached) -> None:
        """Arrow keys past the page's first or last row scroll into the neighbouring page."""
        event.stop()
        if self.pager is None:
            return
        full_page = event.table.row_count == PAGE_SIZE
        if (
            event.step > 0
            and full_page
            and (self.row_total is None or self.page_offset + PAGE_SIZE < self.row_total)
        ):
            self.request_page(self.page_offset + PAGE_SIZE)
        elif event.step < 0 and self.page_offset > 0:
            self._cursor_to_end = True
            self.request_page(self.page_offset - PAGE_SIZE)

    def page(self, step: int) -> None:
        self.request_page(self.page_offset + step * PAGE_SIZE)

    # ----- filter, sort, show all ---------------------------------------------------------------------
    def open_filter(self) -> None:
        if self.pager is None:
            return
        box = self.filter_box
        if not box.display:  # an open box keeps what was typed (a filter that failed, to be corrected)
            box.value = self.pager.state.filter_text
        box.display = True
        box.cursor_position = len(box.value)
        box.focus()

    @on(Input.Submitted, "#data-filter")
    def _on_filter(self, event: Input.Submitted) -> None:
        event.stop()
        if self.pager is None:
            return
        self._request += 1
        # Back to the table whatever the outcome: a key pressed next is a pane key, never more filter text.
        self.filter_box.display = bool(event.value.strip())
        self.table.focus()
        self._filter_worker(self.pager, event.value, self._request)

    @work(thread=True, exclusive=True, exit_on_error=False, group="data-filter", description="Filtering rows")
    def _filter_worker(self, pager: Pager, text: str, request: int) -> None:
        error = pager.set_filter(text)
        if error:
            message = describe_filter_error(error, pager.columns)
            self.post_message(self.PageReady(pl.DataFrame(), 0, 0, request, message))
            return
        total = pager.total_rows()
        self.post_message(self.PageReady(pager.page(0, PAGE_SIZE), 0, total, request))

    def sort(self) -> None:
        if self.pager is None or not self.table.columns:
            return
        key = list(self.table.columns)[max(0, self.table.cursor_column)]
        name = str(key.value)
        current, descending = self.pager.state.sort, self.pager.state.descending
        if current != name:
            self.pager.set_sort(name, False)
        elif not descending:
            self.pager.set_sort(name, True)
        else:
            self.pager.set_sort(None)
        self.request_page(0)

    def show_all(self) -> None:
        """Esc: drop a typed or applied filter and a finding's row selection, close the box, back to the table."""
        if self.pager is None:
            return
        box = self.filter_box
        had_filter = bool(self.pager.state.filter_text)
        box.value = ""
        box.display = False
        self.table.focus()
        if had_filter:
            self.pager.set_filter("")
        if self.pager.state.focus:
            self.pager.show_rows(None)
        elif not had_filter:
            return
        self.request_page(0)

    def show_selection(self, rows: list[int] | None, condition: pl.Expr | None, focus: str) -> None:
        """Show only some rows (a finding's): those matching `condition`, else the listed row numbers."""
        if self.pager is None:
            return
        self.pager.show_rows(rows, condition, focus=focus)
        self.request_page(0)
