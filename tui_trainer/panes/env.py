"""The Environment pane: placeholder until issue #3 lands."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from tui_trainer.panes.base import Pane


class EnvPane(Pane):
    PANE_ID = "env"
    TITLE = "Environment"

    def compose(self) -> ComposeResult:
        yield Static("Environment: the environment audit is not available yet in this version (issue #3).", classes="placeholder")
