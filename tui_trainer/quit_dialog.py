"""The question asked when quitting with a live training run: detach it, stop it, or stay."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label

DETACH, STOP = "detach", "stop"


def live_run_question(run_dirs: list[Path], others: list[str]) -> str:
    where = " ".join(str(d) for d in run_dirs) or "RUN"
    question = (
        f"A run is live: [d]etach (keeps training; `tui-trainer attach {where}` later) / "
        "[s]top (checkpoint and end) / [c]ancel"
    )
    if others:
        question += f". Quitting also ends: {'; '.join(others)}."
    return question


class QuitLiveRunScreen(ModalScreen[str | None]):
    """d detaches (the engine keeps training, attachable), s stops (it checkpoints and ends on its own),
    c / Esc stays. Either way the app quits at once: nothing is waited on behind a blank screen."""

    BINDINGS = [
        Binding("d", f"answer('{DETACH}')", "Detach"),
        Binding("s", f"answer('{STOP}')", "Stop"),
        Binding("c", "answer(None)", "Cancel"),
        Binding("escape", "answer(None)", "Cancel", show=False),
    ]

    def __init__(self, run_dirs: list[Path], others: list[str] | None = None) -> None:
        super().__init__()
        self._question = live_run_question(run_dirs, others or [])

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog"):
            yield Label(self._question, id="confirm-question", markup=False)
            with Horizontal(id="confirm-buttons"):
                yield Button("Detach (d)", variant="primary", id=f"quit-{DETACH}")
                yield Button("Stop (s)", variant="error", id=f"quit-{STOP}")
                yield Button("Cancel (c)", id="quit-cancel")

    def on_mount(self) -> None:
        self.query_one("#quit-cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        answer = (event.button.id or "").removeprefix("quit-")
        self.dismiss(answer if answer in (DETACH, STOP) else None)

    def action_answer(self, answer: str | None) -> None:
        self.dismiss(answer)
