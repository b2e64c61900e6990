"""The Data pane's pickers: the dataset to open (a file tree) and a column (label, provenance)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from tui_trainer.widgets.file_picker import FilePicker


class OpenDataScreen(FilePicker):
    """Pick a dataset: type a path, or choose a file or image folder in the tree (default sample_data/)."""

    TITLE = "Open a dataset (CSV/TSV, Parquet, JSON, NDJSON, Arrow, or an image folder)"


class ChooseLabelScreen(ModalScreen[str | None]):
    """Pick a column: the label (or none), or with `none_option=None` a column that must be chosen."""

    DEFAULT_CSS = """
    ChooseLabelScreen { align: center middle; }
    ChooseLabelScreen > Vertical { width: 90%; max-width: 76; height: auto; max-height: 90%; padding: 0 1;
        border: thick $primary; background: $surface; }
    ChooseLabelScreen Label { width: 1fr; }
    ChooseLabelScreen OptionList { height: auto; max-height: 24; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    NONE = "\x00none"

    def __init__(
        self,
        columns: list[str],
        current: str | None,
        prompt: str = "Label column (imbalance and label conflicts are checked on it)",
        none_option: str | None = "(no label)",
    ) -> None:
        super().__init__()
        self._columns = columns
        self._current = current
        self._prompt = prompt
        self._none_option = none_option

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._prompt, id="picker-prompt")
            options = [Option(self._none_option, id=self.NONE)] if self._none_option else []
            options += [Option(c, id=c) for c in self._columns]
            yield OptionList(*options, id="label-options")
            yield Label("Enter chooses · Esc cancels", classes="hint")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.focus()
        if self._current in self._columns:
            options.highlighted = self._columns.index(self._current) + (1 if self._none_option else 0)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(None if event.option.id == self.NONE else event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(self._current)
