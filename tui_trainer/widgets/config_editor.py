"""ConfigEditor: view and edit a training config's TOML; saving validates it and writes it back atomically.

Validation and writing are the engine's (`config_from_dict`, `save_config`), so what the pane saves is exactly
what `tui-trainer train` accepts; an invalid edit shows the engine's message (naming the key) and writes nothing.
"""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, TextArea


def validate_and_save(text: str, path: Path) -> Path:
    """Parse `text` as a config for `path`, validate it, and save it there; raises ConfigError naming the key."""
    from tui_trainer.engine.config import ConfigError, config_from_dict, save_config
    from tui_trainer.schema import parse_toml

    data = parse_toml(text, str(path), ConfigError)
    config = config_from_dict(data, where=str(path), base_dir=path.resolve().parent)
    return save_config(config, path)


class ConfigEditor(ModalScreen[Path | None]):
    """ctrl+s validates and saves (returns the path); Esc closes without saving (returns None), asking first
    when the text was edited."""

    DEFAULT_CSS = """
    ConfigEditor { align: center middle; }
    ConfigEditor > Vertical { width: 100; height: 90%; border: thick $primary; background: $surface; padding: 0 1; }
    ConfigEditor TextArea { height: 1fr; }
    ConfigEditor #config-error { color: $error; height: auto; }
    ConfigEditor .hint { color: $text-muted; }
    """

    BINDINGS = [
        Binding("ctrl+s", "save", "Save config"),
        Binding("escape", "close", "Close without saving"),
    ]

    def __init__(self, path: Path, text: str) -> None:
        super().__init__()
        self.path = Path(path)
        self._text = text

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Config: {self.path}", id="config-title")
            yield TextArea(self._text, id="config-text", show_line_numbers=True)
            yield Label("", id="config-error")
            yield Label("ctrl+s validate and save (applies to the next run) · Esc close", classes="hint")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def action_save(self) -> None:
        from tui_trainer.errors import UserError

        text = self.query_one(TextArea).text
        try:
            saved = validate_and_save(text, self.path)
        except UserError as exc:
            self.query_one("#config-error", Label).update(str(exc))
            return
        except OSError as exc:
            self.query_one("#config-error", Label).update(f"{self.path}: cannot write: {exc.strerror or exc}")
            return
        self.dismiss(saved)

    def action_close(self) -> None:
        if self.query_one(TextArea).text == self._text:
            self.dismiss(None)
            return
        from tui_trainer.screens import ConfirmScreen

        def answer(discard: bool | None) -> None:
            if discard:
                self.dismiss(None)

        question = f"Discard your edits to {self.path.name}? (ctrl+s saves them instead)"
        self.app.push_screen(ConfirmScreen(question, yes="Discard", no="Keep editing"), answer)
