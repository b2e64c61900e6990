"""The Environment pane: the audit's findings worst first with their fixes, a summary, and r/y/e keys.

The audit runs in a thread worker (its probes concurrently inside it); the worker only posts messages and the
handlers here own every widget. Each probe's findings show as it finishes (the torch child comes last), and
the status line names the probes still running. `AUDIT_FUNCTION` (or the `audit=` argument) lets tests inject
a fake audit; the probes themselves are imported in the worker, off the first frame.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Static, TabbedContent, Tabs
from textual.worker import Worker, WorkerState

from tui_trainer.audit.runner import PROBE_TITLES, PROBES, AuditOptions, AuditResult, ProbeUpdate, run_audit
from tui_trainer.errors import UserError
from tui_trainer.findings import Finding
from tui_trainer.panes.base import Pane
from tui_trainer.widgets.findings_table import FindingsTable, FindingsView

AuditFunction = Callable[..., AuditResult]
# The audit the pane runs: `fn(options, progress=..., cancel=...) -> AuditResult`, calling `progress` with a
# ProbeUpdate as each probe finishes. Tests replace it.
AUDIT_FUNCTION: AuditFunction = run_audit
DEFAULT_EXPORT_NAME = "env-snapshot.toml"


class EnvPane(Pane):
    PANE_ID = "env"
    TITLE = "Environment"
    DEFAULT_CSS = Path(__file__).with_suffix(".tcss").read_text(encoding="utf-8")
    BINDINGS = [
        Binding("r", "rerun", "Re-run audit"),
        Binding("y", "copy_fix", "Copy fix"),
        Binding("e", "export", "Export snapshot"),
    ]

    @dataclass
    class Progress(Message):
        """One probe finished. Coalesced: each update holds every earlier one (probes done, findings so far)."""

        update: ProbeUpdate
        run: int

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, EnvPane.Progress) and message.run == self.run

    @dataclass
    class Finished(Message):
        result: AuditResult
        run: int

    @dataclass
    class Exported(Message):
        path: Path | None
        error: str | None = None

    def __init__(self, audit: AuditFunction | None = None, export_path: Path | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self._audit = audit
        self._export_path = export_path
        self._run = 0
        self._cancel = threading.Event()
        self._started = False
        self._result_run = 0
        self._closing = False
        self.result: AuditResult | None = None

    def compose(self) -> ComposeResult:
        yield Static(
            Text("Python, PyTorch, GPUs and host appear here once the audit has run.", style="dim"),
            id="env-summary",
        )
        yield Static("", id="env-status")
        yield FindingsView(id="env-findings")

    # ----- running the audit ------------------------------------------------------------------------------------
    def on_pane_activated(self) -> None:
        self._focus_findings()
        if not self._started:
            self._started = True
            # After the next refresh: the first frame is drawn before the audit's threads compete for the CPU.
            self.call_after_refresh(self.start_audit)

    def default_focus(self) -> FindingsTable:
        return self.query_one(FindingsTable)

    def _focus_findings(self) -> None:
        """Focus the table (so r/y/e and arrows work) unless the user is busy elsewhere.

        Only from nothing or the tab bar, only on the base screen (not under the palette or a dialog), and
        only while this pane is the visible one: a result landing mid-typing must not steal the keys.
        """
        focused = self.app.focused
        if self.screen is not self.app.screen or not self._is_visible_tab():
            return
        if focused is None or isinstance(focused, Tabs):
            self.query_one(FindingsTable).focus()

    def _is_visible_tab(self) -> bool:
        tabs = self.app.query(TabbedContent)
        return any(t.active == self.id for t in tabs)

    def on_unmount(self) -> None:
        self._closing = True
        self._cancel.set()  # stop the torch child and stop waiting on probes; nothing will show the result

    def start_audit(self) -> None:
        """Start (or restart) the audit in a worker; returns at once."""
        if self._closing:
            return  # a start queued for after the first refresh must not outlive the app
        self._started = True
        self._cancel.set()  # a previous run still in flight stops and its result is ignored
        self._cancel = threading.Event()
        self._run += 1
        self._set_status(f"Auditing… (run {self._run})")
        self._audit_worker(self._run, self._cancel)

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="audit",
        description="Auditing the environment",
    )
    def _audit_worker(self, run: int, cancel: threading.Event) -> None:
        audit = self._audit or AUDIT_FUNCTION

        def progress(update: ProbeUpdate) -> None:
            self.post_message(self.Progress(update, run))

        result = audit(AuditOptions(), progress=progress, cancel=cancel)
        if not cancel.is_set():
            self.post_message(self.Finished(result, run))

    @on(Progress)
    def _on_progress(self, event: Progress) -> None:
        if event.run != self._run or self._result_run == event.run:
            return  # a superseded run, or the final result is already shown
        update = event.update
        waiting = [PROBE_TITLES.get(name, name) for name in PROBES if name not in update.finished]
        left = f" · waiting for {', '.join(waiting)}" if waiting else ""
        self._set_status(f"Auditing… {update.done}/{update.total} probes done{left}")
        if update.findings:
            self._show_findings(list(update.findings))

    def _show_findings(self, findings: list[Finding]) -> None:
        """Show findings, keeping the row the user is on when it is still there (a streamed update adds rows)."""
        table = self.query_one(FindingsTable)
        current = table.current
        self.query_one(FindingsView).set_findings(findings)
        ids = [finding.id for finding in table.findings]
        if current is not None and current.id in ids:
            table.move_cursor(row=ids.index(current.id))
        self._focus_findings()

    @on(Finished)
    def _on_finished(self, event: Finished) -> None:
        if event.run != self._run:
            return  # a re-run superseded it
        from tui_trainer.audit import report

        self._result_run = event.run
        self.result = event.result
        self._show_findings(event.result.findings)
        self.query_one("#env-summary", Static).update(self._summary(event.result))
        counts = report.counts(event.result)
        # The keys first: a narrow terminal wraps the counts onto the second line, never the keys out of sight.
        self._set_status(
            f"r re-run · y copy fix · e export · {counts['error']} error(s), {counts['warning']} warning(s), "
            f"{counts['info']} info, {counts['ok']} ok · {event.result.seconds:.2f} s"
        )
        self._focus_findings()

    @on(Worker.StateChanged)
    def _on_worker_state(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "audit" and event.state == WorkerState.ERROR:
            self._set_status(f"The audit failed: {event.worker.error}", error=True)
            self.notify(f"The audit failed: {event.worker.error}", severity="error", markup=False)
        elif event.worker.group == "export" and event.state == WorkerState.ERROR:
            self.notify(f"Export failed: {event.worker.error}", severity="error", markup=False)

    def _summary(self, result: AuditResult) -> Text:
        from tui_trainer.audit import report

        text = Text()
        rows = report.summary_lines(result)
        width = max(len(label) for label, _ in rows)
        for number, (label, value) in enumerate(rows):
            text.append(f"{label:<{width}}  ", style="bold")
            text.append(value)
            if number < len(rows) - 1:
                text.append("\n")
        return text

    def _set_status(self, message: str, error: bool = False) -> None:
        status = self.query_one("#env-status", Static)
        status.update(Text(message))
        status.set_class(error, "-error")

    # ----- keys -------------------------------------------------------------------------------------------------
    def action_rerun(self) -> None:
        self.start_audit()

    def action_copy_fix(self) -> None:
        finding = self.query_one(FindingsTable).current
        if finding is None or not finding.fix:
            self.notify("This finding has no fix to copy.", severity="warning")
            return
        # OSC 52: the terminal puts it on the system clipboard where it supports that (most modern ones do).
        self.app.copy_to_clipboard(finding.fix)
        self.notify(f"Copied: {finding.fix}", markup=False)

    def action_export(self) -> None:
        if self.result is None:
            self.notify("The audit is still running; export when it has finished.", severity="warning")
            return
        from tui_trainer.widgets.path_prompt import PathPrompt

        default = self._export_path or Path.cwd() / DEFAULT_EXPORT_NAME

        def chosen(answer: str | None) -> None:
            if answer is None or self.result is None:
                return
            path = Path(answer).expanduser()
            if not path.is_absolute():
                path = Path.cwd() / path
            self._export_path = path  # the next export offers the same place
            self._export_worker(self.result, path)

        self.app.push_screen(
            PathPrompt(
                "Export the environment snapshot (TOML) to:",
                str(default),
                "Enter writes it (compare later with tui-trainer audit --compare FILE); Esc cancels",
            ),
            chosen,
        )

    @work(
        thread=True, exclusive=True, exit_on_error=False, group="export", description="Exporting a snapshot"
    )
    def _export_worker(self, result: AuditResult, path: Path) -> None:
        from tui_trainer.audit import snapshot

        try:
            written = snapshot.export(result, path)
        except UserError as exc:
            self.post_message(self.Exported(None, str(exc)))
            return
        self.post_message(self.Exported(written))

    @on(Exported)
    def _on_exported(self, event: Exported) -> None:
        if event.error:
            self.notify(event.error, severity="error", markup=False)
        else:
            self.notify(f"Snapshot written to {event.path}", markup=False)
