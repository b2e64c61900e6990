"""Modal screens the app shares: the key help and a yes/no confirmation (quit, discard edits)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static


class HelpScreen(ModalScreen[None]):
    """Every key of the app and of each pane, plus where the log file is."""

    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("question_mark", "dismiss", "Close", show=False),
        Binding("q", "dismiss", "Close", show=False),
    ]

    def __init__(self, sections: list[tuple[str, list[tuple[str, str]]]], log_path: str) -> None:
        super().__init__()
        self._sections = sections
        self._log_path = log_path

    def compose(self) -> ComposeResult:
        text = Text()
        text.append("tui-trainer keys\n\n", style="bold")
        width = max((len(key) for _title, rows in self._sections for key, _d in rows), default=10) + 2
        for title, rows in self._sections:
            text.append(f"{title}\n", style="bold underline")
            for key, description in rows:
                text.append(f"  {key:<{width}}", style="bold")
                text.append(f"{description}\n")
            text.append("\n")
        text.append("Log file: ", style="bold")
        text.append(self._log_path or "(file logging unavailable)")
        text.append("\n\nEsc closes this help.", style="dim")
        with Vertical(id="help-dialog"):
            with VerticalScroll():
                yield Static(text, id="help-text")

    def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)


class ConfirmScreen(ModalScreen[bool]):
    """Asks a yes/no question; `y`/Enter confirm, `n`/Esc cancel."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n", "answer(False)", "No"),
        Binding("escape", "answer(False)", "No", show=False),
    ]

    def __init__(self, question: str, yes: str = "Quit", no: str = "Stay") -> None:
        super().__init__()
        self._question = question
        self._yes, self._no = yes, no

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog"):
            yield Label(self._question, id="confirm-question")
            with Horizontal(id="confirm-buttons"):
                yield Button(f"{self._yes} (y)", variant="error", id="confirm-yes")
                yield Button(f"{self._no} (n)", variant="primary", id="confirm-no")

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)
