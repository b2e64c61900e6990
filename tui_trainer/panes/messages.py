"""Messages one pane sends up to the app to reach another pane (panes never query each other)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class OpenCollapseLab(Message):
    """Show the collapse lab (Train pane) with this real-data fraction filled in."""

    real_fraction: float
