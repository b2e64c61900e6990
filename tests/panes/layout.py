"""Layout checks a Pilot test runs at any terminal size: what is on screen, and what would be unusable.

`layout_problems(app)` lists every focusable widget that is displayed but cannot be seen (off-screen, or
clipped to nothing by its container) and every table that holds rows yet has no visible row; a test asserts
the list is empty. `screen_text(app)` is the screen as plain text, for asserting what a user reads.
"""

from __future__ import annotations

from textual.app import App
from textual.widget import Widget
from textual.widgets import DataTable


def screen_text(app: App) -> str:
    """The current screen as plain text, one line per terminal row."""
    width, height = app.size
    strips = app.screen._compositor.render_strips()  # noqa: SLF001 - the rendered frame, as a user sees it
    return "\n".join(strip.text.ljust(width) for strip in strips[:height])


def _displayed(widget: Widget) -> bool:
    return all(node.display for node in (widget, *widget.ancestors) if isinstance(node, Widget))


def layout_problems(app: App) -> list[str]:
    screen = app.screen
    problems: list[str] = []
    visible = screen._compositor.visible_widgets  # noqa: SLF001 - the widgets drawn in the last frame
    for widget in screen.query("*"):
        if not _displayed(widget):
            continue
        name = f"{type(widget).__name__}#{widget.id}" if widget.id else repr(widget)
        region = widget.region
        if widget.focusable:
            if widget not in visible or region.area == 0:
                problems.append(f"{name} takes focus but is off-screen or hidden")
            elif not screen.region.contains_region(region):
                problems.append(f"{name} takes focus but is partly off-screen ({region})")
        if isinstance(widget, DataTable) and widget.row_count:
            header = widget.header_height if widget.show_header else 0
            rows_shown = widget.scrollable_content_region.height - header
            if widget not in visible or rows_shown <= 0:
                problems.append(
                    f"{name} holds {widget.row_count} rows but shows none (height {region.height})"
                )
    return problems
