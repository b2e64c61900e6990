"""The Data pane: placeholder until issue #4 lands."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from tui_trainer.panes.base import Pane


class DataPane(Pane):
    PANE_ID = "data"
    TITLE = "Data"

    def compose(self) -> ComposeResult:
        yield Static("Data: the dataset profile is not available yet in this version (issue #4).", classes="placeholder")
