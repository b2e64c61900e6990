"""FindingsTable: one table for audit findings, data findings and training diagnostics, worst first."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from tui_trainer.findings import Finding, Severity, sort_findings

# Theme variables, resolved at render time so every theme colours findings its own way.
SEVERITY_VARIABLE = {
    Severity.ERROR: "error",
    Severity.WARNING: "warning",
    Severity.INFO: "primary",
    Severity.OK: "success",
}
SEVERITY_SYMBOL = {Severity.ERROR: "✖", Severity.WARNING: "▲", Severity.INFO: "●", Severity.OK: "✔"}


class FindingsTable(DataTable):
    """Findings sorted by severity and coloured by it. Posts `FindingsTable.Highlighted` as the cursor moves."""

    DEFAULT_CSS = """
    FindingsTable { height: 1fr; min-height: 3; }
    """

    @dataclass
    class Highlighted(Message):
        table: FindingsTable
        finding: Finding | None

        @property
        def control(self) -> FindingsTable:
            return self.table

    @dataclass
    class Chosen(Message):
        """Enter on a finding (panes use it to jump to evidence)."""

        table: FindingsTable
        finding: Finding

        @property
        def control(self) -> FindingsTable:
            return self.table

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._findings: list[Finding] = []

    def on_mount(self) -> None:
        self._add_columns(id_width=12, title_width=40)

    def _add_columns(self, id_width: int, title_width: int) -> None:
        # Explicit widths: Textual 8's DataTable caches rows rendered before it measures auto-width
        # columns, which leaves them cut to the header's width ("mi" for "missing").
        self.add_column("Severity", key="severity", width=10)
        self.add_column("Id", key="id", width=id_width)
        self.add_column("Title", key="title", width=title_width)

    @property
    def findings(self) -> list[Finding]:
        return list(self._findings)

    @property
    def current(self) -> Finding | None:
        if not self._findings or self.cursor_row < 0 or self.cursor_row >= len(self._findings):
            return None
        return self._findings[self.cursor_row]

    def severity_style(self, severity: Severity) -> str:
        variables = self.app.theme_variables if self.is_attached else {}
        return f"bold {variables.get(SEVERITY_VARIABLE[severity], '')}".strip()

    def set_findings(self, findings: list[Finding]) -> None:
        self._findings = sort_findings(list(findings))
        self.clear(columns=True)
        id_width = max([len("Id"), *(len(f.id) for f in self._findings)])
        title_width = max([len("Title"), *(len(f.title) for f in self._findings)])
        self._add_columns(id_width=min(id_width, 40), title_width=min(title_width, 120))
        for index, finding in enumerate(self._findings):
            style = self.severity_style(finding.severity)
            label = Text(f"{SEVERITY_SYMBOL[finding.severity]} {finding.severity.value}", style=style)
            self.add_row(label, Text(finding.id, style=style), finding.title, key=str(index))
        self.post_message(self.Highlighted(self, self.current))

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self.post_message(self.Highlighted(self, self.current))

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if self.current is not None:
            self.post_message(self.Chosen(self, self.current))


class FindingDetail(Static):
    """The detail and fix of one finding."""

    DEFAULT_CSS = """
    FindingDetail { height: auto; min-height: 3; max-height: 50%; padding: 0 1; border-top: solid $panel; }
    """

    def show(self, finding: Finding | None) -> None:
        if finding is None:
            self.update(Text("No finding selected.", style="dim"))
            return
        text = Text()
        text.append(f"{finding.title}\n", style="bold")
        if finding.detail:
            text.append(f"{finding.detail}\n")
        if finding.fix:
            text.append("Fix: ", style="bold")
            text.append(f"{finding.fix}\n")
        if finding.evidence:
            shown = ", ".join(f"{k}={v}" for k, v in list(finding.evidence.items())[:8])
            text.append(f"Evidence: {shown}", style="dim")
        self.update(text)


class FindingsView(Vertical):
    """A FindingsTable with its detail panel underneath, kept in sync."""

    DEFAULT_CSS = """
    FindingsView { height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        yield FindingsTable()
        yield FindingDetail()

    def set_findings(self, findings: list[Finding]) -> None:
        self.query_one(FindingsTable).set_findings(findings)

    @on(FindingsTable.Highlighted)
    def _show_detail(self, event: FindingsTable.Highlighted) -> None:
        self.query_one(FindingDetail).show(event.finding)
