"""What every pane shares: it is a TabPane with an id, a title, bindings, and an optional reason not to quit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from textual.binding import Binding
from textual.widget import Widget
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

    def default_focus(self) -> Widget | None:
        """The widget that takes focus when the pane shows and focus is not already on a visible widget in it."""
        return None

    def focus_inside(self) -> None:
        """Put focus on a visible widget of this pane (unless it is already on one), so its keys work and the
        footer lists them. Called by the app after every switch to this pane; never under a dialog."""
        if not self.is_mounted or self.screen is not self.app.screen or not _shown(self):
            return  # under a dialog, or another pane is the visible one: leave the user's focus alone
        focused = self.app.focused
        if focused is not None and self in focused.ancestors and _shown(focused):
            return
        target = self.default_focus()
        if target is None or not _shown(target):
            target = next((w for w in self.query("*") if w.focusable and _shown(w)), None)
        (target or self).focus(scroll_visible=False)
        # A focus set before the Footer has subscribed leaves it blank; ask it to show this pane's keys.
        self.call_after_refresh(self.screen.refresh_bindings)

    @classmethod
    def sub_view_bindings(cls) -> list[tuple[str, list[Binding]]]:
        """Bindings of views nested inside the pane (e.g. the collapse lab in the Train pane), by view title.

        The help screen lists them under the pane; `sub_view_commands` offers them in the palette.
        """
        return []

    def sub_view_commands(self) -> list[tuple[str, str, Callable[[], Awaitable[None] | None]]]:
        """(title, help, callback) palette commands for nested views' actions; callbacks show the view first.

        Titles are "<view title>: <binding description>" for each of `sub_view_bindings`: the palette lists
        them so before the pane is built, and runs the one of the same title once it is."""
        return []


def _shown(widget: Widget) -> bool:
    """Displayed, with every container above it displayed too (a hidden tab's widgets are not)."""
    return all(node.display for node in (widget, *widget.ancestors) if isinstance(node, Widget))


class PaneSlot(TabPane):
    """Holds a pane's tab until the pane itself is built: its tab draws in the first frame at no cost.

    The app swaps the pane in after the first frame (or at once, when the tab is first shown)."""

    def __init__(self, pane_id: str, title: str) -> None:
        super().__init__(title, id=pane_id)

    def compose(self):
        from textual.widgets import Static

        yield Static("Loading…", classes="placeholder")
