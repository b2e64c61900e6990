"""KeyFooter: the footer's keys that fit whole, then `? more`; a narrow terminal never shows a key cut mid-word."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

MORE = ("question_mark", "?", "more keys", "help")


def key_width(key: FooterKey) -> int:
    """Cells a non-compact FooterKey takes: ` k ` then `description `."""
    return len(key.key_display) + 2 + (len(key.description) + 1 if key.description else 0)


class KeyFooter(Footer):
    """Textual's Footer, trimmed to whole keys for its width; `?` (the help screen) lists the rest."""

    def compose(self) -> ComposeResult:
        widgets = list(super().compose())
        pinned = [w for w in widgets if isinstance(w, FooterKey) and w.has_class("-command-palette")]
        keys = [w for w in widgets if w not in pinned]
        room = (self.size.width or self.app.size.width) - sum(key_width(w) + 2 for w in pinned)
        more = FooterKey(*MORE)
        used = 0
        for index, widget in enumerate(keys):
            width = key_width(widget) if isinstance(widget, FooterKey) else len(str(widget.render()))
            reserve = key_width(more) if index < len(keys) - 1 else 0
            if used + width + reserve > room:
                yield more
                break
            used += width
            yield widget
        yield from pinned

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != event.virtual_size.width or self._bindings_ready:
            self.call_after_refresh(self.recompose)
