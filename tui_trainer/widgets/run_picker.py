"""RunPicker: choose a run folder from the runs root (status, step, last loss, age; newest first; type to filter).

The listing and each run's status come from `engine.runs.list_runs` and, for TensorBoard / CSVLogger log
folders under the root, `integrations.logdirs.list_log_runs` — the rules `tui-trainer runs` prints, in the
same order (newest start first). Both are read in a thread worker so a root holding large runs never stalls
a keypress; the log folders in a child process, since reading them may import tensorboard, which the UI
process never does. The engine runs show at once, the log folders join when read. A typed path that
matches no run is taken as a folder, so runs kept elsewhere can still be opened.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from tui_trainer.engine.history import epoch_text
from tui_trainer.formatting import format_duration, format_number
from tui_trainer.widgets.type_ahead import TypeAhead

STATUS_VARIABLE = {"running": "success", "failed": "error", "killed": "error", "stopped": "warning"}


def describe_run(info, now: float) -> str:
    """One line: name, status, step, last loss, age (of the last event)."""
    step = "—" if info.last_step is None else str(info.last_step)
    total = f"/{info.total_steps}" if info.total_steps else ""
    loss = format_number(info.last_loss)
    when = info.updated or info.started
    age = f"{format_duration(max(0.0, now - when))} ago" if when else "age unknown"
    return f"{info.run_id:<24.24} {info.status:<9} step {step}{total:<8} {epoch_text(info.epoch):<10} loss {loss:<8} {age}"


def newest_first(runs: list) -> list:
    """The order `tui-trainer runs` prints: the newest start first (a log folder starts at its first event)."""
    return sorted(runs, key=lambda r: (r.started or 0.0, r.run_id), reverse=True)


class RunPicker(TypeAhead, ModalScreen[Path | None]):
    """Returns the chosen run folder, or None on Esc."""

    DEFAULT_CSS = """
    RunPicker { align: center middle; }
    RunPicker > Vertical { width: 90%; max-width: 120; height: auto; max-height: 90%; padding: 0 1;
        border: thick $primary; background: $surface; }
    RunPicker Label { width: 1fr; }
    RunPicker OptionList { height: auto; max-height: 20; }
    RunPicker .hint { color: $text-muted; }
    """
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("down", "move(1)", "Next run", show=False, priority=True),
        Binding("up", "move(-1)", "Previous run", show=False, priority=True),
    ]

    @dataclass
    class Listed(Message):
        runs: list
        error: str | None = None
        more: bool = False  # the log folders are still being read

    def __init__(self, root: Path, title: str) -> None:
        super().__init__()
        self.root = Path(root)
        self._title = title
        self.runs: list = []  # every run under the root, newest first
        self.shown: list = []  # those matching the filter, in the list's order

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._title, id="picker-title")
            yield Input(placeholder="type to filter the runs, or a path to a run folder", id="run-filter")
            yield OptionList(id="run-options")
            yield Label(self._hint(), classes="hint", id="run-hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()
        self.query_one(OptionList).add_option(Option(Text("reading the runs…", style="dim"), disabled=True))
        self._list_worker(self.root)

    @work(thread=True, exclusive=True, exit_on_error=False, group="run-picker", description="Listing runs")
    def _list_worker(self, root: Path) -> None:
        from textual.worker import get_current_worker

        from tui_trainer.engine.runs import list_runs
        from tui_trainer.integrations.log_listing import list_log_runs_apart

        try:
            runs = list_runs(root)
        except OSError as exc:
            self.post_message(self.Listed([], f"{root}: cannot list it ({exc.strerror or exc})"))
            return
        self.post_message(self.Listed(newest_first(runs), more=True))
        logs, error = list_log_runs_apart(root)
        if not get_current_worker().is_cancelled:
            self.post_message(self.Listed(newest_first(runs + logs), error))

    @on(Listed)
    def _on_listed(self, event: Listed) -> None:
        self.runs = event.runs
        hint = self.query_one("#run-hint", Label)
        if event.error:
            hint.update(event.error)
        elif event.more:
            hint.update(f"runs under {self.root}/ · reading TensorBoard / CSV log folders…")
        else:
            hint.update(self._hint())
        self._fill(self.query_one(Input).value)

    def _hint(self) -> str:
        return f"runs under {self.root}/ · newest first · ↑/↓ choose · Enter opens · Esc cancels"

    @on(Input.Changed, "#run-filter")
    def _on_filter(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def _fill(self, text: str) -> None:
        needle = text.strip().lower()
        self.shown = [
            r for r in self.runs if not needle or needle in f"{r.run_id} {r.status} {r.run_dir}".lower()
        ]
        options = self.query_one(OptionList)
        options.clear_options()
        now = time.time()
        for info in self.shown:
            line = Text(describe_run(info, now))
            variable = STATUS_VARIABLE.get(info.status)
            if variable:
                start = line.plain.index(info.status, min(25, len(line.plain)))
                line.stylize(self.app.theme_variables.get(variable, ""), start, start + len(info.status))
            options.add_option(Option(line, id=str(info.run_dir)))
        if not self.shown:
            empty = (
                "no run matches; Enter opens the typed path" if needle else f"no runs under {self.root}/ yet"
            )
            options.add_option(Option(Text(empty, style="dim"), disabled=True))
        else:
            options.highlighted = 0

    def action_move(self, step: int) -> None:
        options = self.query_one(OptionList)
        if self.shown:
            current = options.highlighted or 0
            options.highlighted = max(0, min(len(self.shown) - 1, current + step))

    @on(Input.Submitted, "#run-filter")
    def _on_submit(self, event: Input.Submitted) -> None:
        event.stop()
        options = self.query_one(OptionList)
        if self.shown and options.highlighted is not None:
            self.dismiss(self.shown[options.highlighted].run_dir)
        elif event.value.strip():
            self.dismiss(Path(event.value.strip()).expanduser())

    @on(OptionList.OptionSelected)
    def _on_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.dismiss(Path(event.option.id))

    def action_cancel(self) -> None:
        self.dismiss(None)
