"""TypeAhead: a modal whose text box gets the keys typed before it had focus (none are lost to a fast typist)."""

from __future__ import annotations

from textual import events, on
from textual.screen import ModalScreen
from textual.widgets import Input


class TypeAhead(ModalScreen):
    """Keys that arrive while the screen is still mounting reach the screen itself, not its `Input`
    (nothing has focus yet, or nothing is composed yet); this hands them to the first Input in order, so
    `a` + path + Enter typed in one go works."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._early_keys: list[events.Key] = []

    async def on_key(self, event: events.Key) -> None:
        # A key the box handles never gets here (it stops it): one that does was sent to the screen before
        # the box had focus. Keys bubbling up from another focused widget (a tree, a list) are left alone.
        if self.focused is not None and not isinstance(self.focused, Input):
            return
        if not self.is_mounted or not self.query(Input):
            event.stop()
            self._early_keys.append(event)  # replayed once the box exists
            return
        await self._type(event)

    @on(events.Mount)
    async def _replay_early_keys(self) -> None:
        keys, self._early_keys = self._early_keys, []
        for event in keys:
            await self._type(event)

    async def _type(self, event: events.Key) -> None:
        boxes = self.query(Input)
        if not boxes:
            return
        box = boxes.first()
        if event.key == "enter":
            event.stop()
            box.focus()
            await box.action_submit()
        elif event.is_printable and event.character:
            event.stop()
            box.focus()
            box.insert_text_at_cursor(event.character)
