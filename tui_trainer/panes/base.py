"""What every pane shares: it is a TabPane with an id, a title, bindings, and an optional reason not to quit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from textual.binding import Binding
from textual.widgets import TabPane


class Pane(TabPane):
    """A top-level pane. Subclasses set PANE_ID, TITLE and BINDINGS (each with a description).

    Every binding with a description is also offered in the command palette by the app, so a
    pane's actions are reachable without remembering keys.
    """

    PANE_ID: str = ""
    TITLE: str = ""

    def __init__(self, **kwargs) -> None:
        super().__init__(self.TITLE, id=self.PANE_ID, **kwargs)

    def busy_reason(self) -> str | None:
        """Why quitting now would lose work (e.g. a live training run), or None when it is safe."""
        return None

    def on_pane_activated(self) -> None:
        """Called by the app each time this pane becomes the visible one (lazy work starts here)."""

    @classmethod
    def sub_view_bindings(cls) -> list[tuple[str, list[Binding]]]:
        """Bindings of views nested inside the pane (e.g. the collapse lab in the Train pane), by view title.

        The help screen lists them under the pane; `sub_view_commands` offers them in the palette.
        """
        return []

    def sub_view_commands(self) -> list[tuple[str, str, Callable[[], Awaitable[None] | None]]]:
        """(title, help, callback) palette commands for nested views' actions; callbacks show the view first."""
        return []
