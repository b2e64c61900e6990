"""The collapse lab view shown inside the Train pane: placeholder until issue #7 lands."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static


class CollapseView(Vertical):
    """Runs model-collapse experiments in a worker and charts them (issue #7)."""

    def compose(self) -> ComposeResult:
        yield Static("Collapse lab: not available yet in this version (issue #7).", classes="placeholder")
