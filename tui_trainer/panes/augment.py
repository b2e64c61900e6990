"""The Augment pane: placeholder until issue #5 lands."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from tui_trainer.panes.base import Pane


class AugmentPane(Pane):
    PANE_ID = "augment"
    TITLE = "Augment"

    def compose(self) -> ComposeResult:
        yield Static("Augment: the augmentation preview is not available yet in this version (issue #5).", classes="placeholder")
