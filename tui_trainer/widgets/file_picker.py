"""FilePicker: a modal to pick a file or folder, by typing its path or choosing it in a directory tree."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DirectoryTree, Input, Label

from tui_trainer.widgets.type_ahead import TypeAhead

HINT = "Enter opens the path · pick a file in the tree · o on a folder opens it · Esc cancels"


class FilePicker(TypeAhead, ModalScreen[Path | None]):
    """Returns the chosen path, or None on Esc. Enter in the box opens what is typed; the tree starts at `root`."""

    DEFAULT_CSS = """
    FilePicker { align: center middle; }
    FilePicker > Vertical { width: 90%; max-width: 110; height: 90%; max-height: 34; padding: 0 1;
        border: thick $primary; background: $surface; }
    FilePicker #picker-title { width: 1fr; }
    FilePicker DirectoryTree { height: 1fr; }
    FilePicker .hint { color: $text-muted; width: 1fr; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    TITLE = "Open a file or folder"

    def __init__(self, root: Path, current: str = "", title: str | None = None) -> None:
        super().__init__()
        self._root = root
        self._current = current
        self._title = title or self.TITLE

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._title, id="picker-title")
            yield Input(value=self._current, placeholder="path to a file or folder", id="open-path")
            yield DirectoryTree(self._root, id="open-tree")
            yield Label(HINT, classes="hint")

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
        if not tree.has_focus:
            return  # an `o` typed in the path box is part of the path
        node = tree.cursor_node
        if node is not None and node.data is not None and Path(node.data.path).is_dir():
            self.dismiss(Path(node.data.path))

    def action_cancel(self) -> None:
        self.dismiss(None)
