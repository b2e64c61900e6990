"""The Data pane: open a dataset, see its profile and findings, browse its rows a page at a time, build a fix recipe.

The pane routes keys and runs the opening, profiling and checks in thread workers that post messages; its
views draw: `ProfileView` (columns, detail, findings), `RowsView` (pages, filter, sort), `RecipeBar`. The
domain lives in `tui_trainer.data` (no Textual there).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import ContentSwitcher, DataTable, Static
from textual.worker import Worker, WorkerState

from tui_trainer import paths
from tui_trainer.data.checks import CheckOptions, Thresholds, offending_rows, run_checks
from tui_trainer.data.fixes import add_fix, with_read_steps
from tui_trainer.data.load import Dataset, explain_parse_failure, open_dataset
from tui_trainer.data.paging import Pager
from tui_trainer.data.profile import ColumnProfile
from tui_trainer.data.recipe import Recipe
from tui_trainer.data.report import Inspection, inspect_dataset
from tui_trainer.errors import UserError
from tui_trainer.findings import Finding
from tui_trainer.panes.base import Pane
from tui_trainer.panes.data import recipe_bar
from tui_trainer.panes.data.cells import display_path, summary_line
from tui_trainer.panes.data.pickers import ChooseLabelScreen, OpenDataScreen
from tui_trainer.panes.data.profile_view import ProfileView
from tui_trainer.panes.data.recipe_bar import RecipeBar, copy_recipe
from tui_trainer.panes.data.rows_view import PAGE_SIZE, RowsView
from tui_trainer.panes.messages import OpenCollapseLab
from tui_trainer.widgets.findings_table import FindingsTable
from tui_trainer.widgets.path_prompt import PathPrompt

ROWS_VIEW = "data-rows-view"
OVERVIEW = "data-overview"


class DataPane(Pane):
    PANE_ID = "data"
    TITLE = "Data"
    DEFAULT_CSS = (Path(__file__).parent / "data.tcss").read_text(encoding="utf-8")
    BINDINGS = [
        Binding("o", "open", "Open dataset"),
        Binding("l", "choose_label", "Label column"),
        Binding("t", "toggle_view", "Table / profile"),
        Binding("slash,f", "filter", "Filter rows"),
        Binding("s", "sort", "Sort by column"),
        Binding("n", "page(1)", "Next page"),
        Binding("p", "page(-1)", "Previous page"),
        Binding("escape", "show_all", "Show all rows", show=False),
        Binding("m", "toggle_drop_missing", "Recipe: drop rows missing column"),
        Binding("i", "cycle_fill", "Recipe: fill column"),
        Binding("d", "toggle_duplicates", "Recipe: drop duplicates"),
        Binding("x", "cycle_outliers", "Recipe: outliers rule"),
        Binding("c", "toggle_constant", "Recipe: drop constant columns"),
        Binding("r", "recipe_fix", "Recipe: the highlighted finding's fix"),
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

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
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
        self._busy: str | None = None

    def compose(self) -> ComposeResult:
        yield Static(
            Text("No dataset open. Press o to open one (sample_data/ has examples).", style="dim"),
            id="data-status",
        )
        with ContentSwitcher(initial=OVERVIEW, id="data-views"):
            yield ProfileView(id=OVERVIEW)
            yield RowsView(id=ROWS_VIEW)
        yield RecipeBar(id="data-recipe")

    def on_mount(self) -> None:
        self.profile_view.recipe_note = lambda name: recipe_bar.recipe_for_column(self.recipe, name)

    def on_resize(self) -> None:
        self.set_class(self.size.height < 30, "-short")

    @property
    def profile_view(self) -> ProfileView:
        return self.query_one(ProfileView)

    @property
    def rows_view(self) -> RowsView:
        return self.query_one(RowsView)

    def _showing_rows(self) -> bool:
        return self.query_one("#data-views", ContentSwitcher).current == ROWS_VIEW

    def busy_reason(self) -> str | None:
        return self._busy

    def default_focus(self) -> DataTable:
        return self.rows_view.table if self._showing_rows() else self.profile_view.columns_table

    # ----- opening and inspecting -----------------------------------------------------------------------
    def open_path(self, path: Path, label: str | None = None) -> None:
        """Open `path` and inspect it in a worker; returns at once."""
        self._run += 1
        self.label = label
        self.provenance = None  # a provenance column belongs to the dataset it was chosen for
        self.against = None  # so does the file it was compared with
        self._open_lab_after_checks = False
        self.recipe = Recipe()
        self.query_one(RecipeBar).reset()
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
        self._busy = f"the Data pane is still profiling {event.dataset.name}"
        self._set_status(f"{display_path(event.dataset.path)} ({event.dataset.format}) · profiling…")
        self.profile_view.clear()
        self.rows_view.set_source(event.dataset, event.pager, event.first_page)

    @on(Progress)
    def _on_progress(self, event: Progress) -> None:
        if event.run == self._run and self.dataset is not None and self.inspection is None:
            filled = int(event.fraction * 20)
            bar = "█" * filled + "░" * (20 - filled)
            self._set_status(f"{display_path(self.dataset.path)} · {event.stage} {bar} {event.fraction:.0%}")

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
        self.profile_view.show(event.inspection)
        self._set_status(self._summary())
        self.focus_inside()
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

    @on(RowsView.Problem)
    def _on_rows_problem(self, event: RowsView.Problem) -> None:
        event.stop()
        self._set_status(event.message, error=True)

    @on(Worker.StateChanged)
    def _on_worker_state(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and (event.worker.group or "").startswith("data-"):
            self._busy = None
            message = f"{event.worker.description} failed: {event.worker.error}"
            self._set_status(message, error=True)
            self.notify(message, severity="error", markup=False, timeout=10)

    def _summary(self) -> str:
        assert self.inspection is not None
        return summary_line(self.inspection, self.label, self.against)

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

    # ----- open, compare with another file (leakage, drift) ---------------------------------------------
    def _picker_root(self) -> Path:
        root = paths.sample_data_dir()
        return root if root.is_dir() else Path.cwd()

    def action_open(self) -> None:
        current = str(self.dataset.path) if self.dataset else ""

        def chosen(path: Path | None) -> None:
            if path is not None:
                self.open_path(path)

        self.app.push_screen(OpenDataScreen(self._picker_root(), current), chosen)

    def action_compare(self) -> None:
        if self.dataset is None or self.inspection is None or self._lf is None:
            self.notify("Open a dataset first (o), and let its profile finish.", severity="warning")
            return
        current = str(self.against.path) if self.against is not None else ""

        def chosen(path: Path | None) -> None:
            if path is None or self.inspection is None or self._lf is None:
                return
            self._busy = "the Data pane is comparing two files"
            self._set_status(f"comparing with {display_path(path)}…")
            self._compare_worker(self.inspection, self._lf, self._engine, self.label, path, self._run)

        title = f"Compare {self.dataset.name} with another file (rows in both: leakage; per column: drift)"
        self.app.push_screen(OpenDataScreen(self._picker_root(), current, title=title), chosen)

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

    # ----- label and provenance -------------------------------------------------------------------------
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

        prompt = "Provenance column: rows marked synthetic, generated, 1 or true count as synthetic"
        self.app.push_screen(ChooseLabelScreen(columns, None, prompt=prompt, none_option=None), chosen)

    # ----- views, rows, filter ---------------------------------------------------------------------------
    def action_toggle_view(self) -> None:
        switcher = self.query_one("#data-views", ContentSwitcher)
        showing_rows = switcher.current == ROWS_VIEW
        switcher.current = OVERVIEW if showing_rows else ROWS_VIEW
        (self.profile_view.columns_table if showing_rows else self.rows_view.table).focus()

    def _show_rows_view(self) -> None:
        self.query_one("#data-views", ContentSwitcher).current = ROWS_VIEW
        self.rows_view.table.focus()

    def action_page(self, step: int) -> None:
        if self.pager is None:
            return
        self._show_rows_view()
        self.rows_view.page(step)

    def action_filter(self) -> None:
        if self.pager is None:
            self.notify("Open a dataset first (o).", severity="warning")
            return
        self._show_rows_view()
        self.rows_view.open_filter()

    def action_sort(self) -> None:
        if self.pager is None:
            return
        self._show_rows_view()
        self.rows_view.sort()

    def action_show_all(self) -> None:
        if self._showing_rows():
            self.rows_view.show_all()
            if self.inspection is not None:
                self._set_status(self._summary())  # a filter error shown there is gone with the filter

    @on(FindingsTable.Chosen)
    def _on_finding_chosen(self, event: FindingsTable.Chosen) -> None:
        event.stop()
        self.jump_to_finding(event.finding)

    def jump_to_finding(self, finding: Finding) -> None:
        """Show the rows a finding is about in the table view (all of them where a filter can say which)."""
        if self.pager is None:
            return
        condition = offending_rows(finding, self.pager.source.collect_schema())
        examples = finding.evidence.get("examples") or []
        if condition is None and not examples:
            self.notify(
                f"{finding.id}: no particular rows to show (it is about the whole column).", markup=False
            )
            return
        count = finding.evidence.get("count") or 0
        if condition is None and count > len(examples):
            self.notify(
                f"{finding.id}: showing the first {len(examples)} of its {count} rows (its example rows).",
                markup=False,
            )
        self._show_rows_view()
        self.rows_view.show_selection(
            examples if condition is None else None, condition, f"{finding.id} rows"
        )

    # ----- recipe builder -------------------------------------------------------------------------------
    def _selected_column(self) -> ColumnProfile | None:
        """The column a recipe key acts on: the table cursor's in the table view, else the profile's."""
        if self.inspection is None:
            self.notify("Open a dataset and wait for its profile first.", severity="warning")
            return None
        if self._showing_rows():
            name = self.rows_view.table.cursor_column_name
            if name is None:
                self.notify("Move the cursor onto a data column first (← →).", severity="warning")
                return None
            try:
                return self.inspection.profile.column(name)
            except KeyError:
                return None
        return self.profile_view.selected_column()

    def action_toggle_drop_missing(self) -> None:
        col = self._selected_column()
        if col is not None:
            recipe_bar.toggle_drop_missing(self.recipe, col.name)
            self._recipe_changed(col)

    def action_cycle_fill(self) -> None:
        col = self._selected_column()
        if col is None:
            return
        nxt = recipe_bar.next_fill(self.recipe, col)
        if nxt != "constant":
            recipe_bar.set_fill(self.recipe, col, nxt)
            self._recipe_changed(col)
            return

        def answer(value: str | None) -> None:
            recipe_bar.set_fill(self.recipe, col, None if value is None else "constant", value)
            self._recipe_changed(col)

        default = "0" if col.kind == "numeric" else ""
        prompt = PathPrompt(
            f"Fill missing values of {col.name!r} with:", default, "Enter to confirm, Esc for no fill"
        )
        self.app.push_screen(prompt, answer)

    def action_toggle_duplicates(self) -> None:
        if self._selected_column() is not None:
            self.recipe.drop_duplicates = not self.recipe.drop_duplicates
            self._recipe_changed(None)

    def action_toggle_constant(self) -> None:
        if self._selected_column() is not None:
            self.recipe.drop_constant = not self.recipe.drop_constant
            self._recipe_changed(None)

    def action_recipe_fix(self) -> None:
        """Add the highlighted finding's fix (na_values, parse numbers/dates, merge spellings, drop a column)."""
        if self.inspection is None:
            self.notify("Open a dataset and wait for its profile first.", severity="warning")
            return
        finding = self.query_one(FindingsTable).current
        if finding is None:
            self.notify("Highlight a finding first (the findings table, up/down).", severity="warning")
            return
        added = add_fix(self.recipe, finding)
        if added is None:
            self.notify(
                f"{finding.id}: no recipe step for this one; its fix text says what to do.", markup=False
            )
            return
        self.notify(f"Recipe: {added}", markup=False)
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
        recipe_bar.cycle_outliers(self.recipe, col, self.thresholds)
        self._recipe_changed(col)

    def _recipe_changed(self, col: ColumnProfile | None) -> None:
        if col is not None:
            self.profile_view.show_column(col)
        self._recompute_effect()

    def _recompute_effect(self) -> None:
        if self._lf is not None:
            self.query_one(RecipeBar).recount(self._lf, self.recipe, self._engine)

    def action_save_recipe(self) -> None:
        if self.dataset is None:
            self.notify("Open a dataset first (o).", severity="warning")
            return
        if self.recipe.is_empty:
            self.notify("The recipe is empty: pick fixes with m, i, d, x or c first.", severity="warning")
            return
        default = str(Path.cwd() / f"{self.dataset.path.stem}.recipe.toml")

        findings = self.inspection.findings if self.inspection is not None else []

        def answer(value: str | None) -> None:
            if value:
                # The saved recipe also says how the profile read the file (markers, formats, dates).
                recipe = copy_recipe(with_read_steps(self.recipe, findings))
                self.query_one(RecipeBar).save(recipe, Path(value).expanduser(), self.dataset.path)

        self.app.push_screen(PathPrompt("Save the fix recipe to:", default), answer)

    def _set_status(self, message: str, error: bool = False) -> None:
        status = self.query_one("#data-status", Static)
        status.update(Text(message))
        status.set_class(error, "-error")
