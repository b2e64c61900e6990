"""PathPrompt: a small modal that asks for one path (a config file, a run folder) with a default filled in."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from tui_trainer.widgets.type_ahead import TypeAhead


class PathPrompt(TypeAhead, ModalScreen[str | None]):
    """Returns the entered text (stripped) on Enter, or None on Esc or when left empty."""

    DEFAULT_CSS = """
    PathPrompt { align: center middle; }
    PathPrompt > Vertical {
        width: 80; height: auto; padding: 1 2; border: thick $primary; background: $surface;
    }
    PathPrompt Label { width: 1fr; }
    PathPrompt .hint { color: $text-muted; }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self, question: str, default: str = "", hint: str = "Enter to confirm, Esc to cancel"
    ) -> None:
        super().__init__()
        self._question = question
        self._default = default
        self._hint = hint

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._question, id="prompt-question")
            yield Input(value=self._default, id="prompt-input")
            yield Label(self._hint, classes="hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        value = event.value.strip()
        self.dismiss(value or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
