"""The Train pane: placeholder until issue #6 lands."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from tui_trainer.panes.base import Pane


class TrainPane(Pane):
    PANE_ID = "train"
    TITLE = "Train"

    def compose(self) -> ComposeResult:
        yield Static("Train: the training monitor is not available yet in this version (issue #6).", classes="placeholder")
