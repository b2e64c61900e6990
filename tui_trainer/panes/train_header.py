"""The Train pane's header: which run, its state, and its numbers, laid out to the width it has.

One rule per state: a run is `live` only while its process runs here and it is not over; a paused or ended run
shows no rate and no ETA; samples/s is steps/s × batch size (the same window, so the two always agree); epochs
are 1-based (`engine.history.epoch_text`, as headless and `attach` print them).
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text

from tui_trainer.engine.history import PAUSED, WAITING, RunHistory, epoch_text, format_duration
from tui_trainer.formatting import format_number

STATUS_VARIABLE = {"failed": "error", "killed": "error", "running": "success", "paused": "warning"}


def idle_text(default_config: str) -> Text:
    text = Text()
    text.append("No run. ", style="bold")
    text.append(
        f"n: start one from a config ({default_config})   a: attach to a run folder   o: overlay another run"
    )
    return text


def run_state(history: RunHistory, *, live: bool, alive: bool, user_paused: bool) -> tuple[str, str]:
    """(status shown in brackets, how it is shown: live, ended (was live here) or attached)."""
    status = history.status
    if user_paused and not history.is_over and status != PAUSED:
        status = "pausing"  # asked for; the engine pauses after the step in flight
    if status == WAITING:
        status = "starting" if live else "waiting for events"
    if not live:
        where = "attached"  # followed from its folder, whatever state the run is in
    else:
        where = "live" if alive and not history.is_over else "ended"
    return status, where


def numbers(history: RunHistory, status: str) -> list[str]:
    """The header's figures, most important first (a narrow header wraps them, never cuts one)."""
    h = history
    moving = status == "running" and not h.is_over
    rate = h.steps_per_s() if moving else None
    samples = h.samples_per_s() if moving else None  # steps/s x the run's batch size (RunHistory's rule)
    step = "—" if h.step is None else str(h.step)
    total = f"/{h.total_steps}" if h.total_steps else ""
    parts = [
        f"step {step}{total}",
        epoch_text(h.epoch, h.epochs),
        f"loss {format_number(h.latest('train_loss'))}",
        f"val {format_number(h.latest('val_loss'))}",
    ]
    if moving:
        parts.append(f"{rate:.1f} steps/s" if rate else "— steps/s")
        parts.append(f"{samples:.0f} samples/s" if samples else "— samples/s")
        parts.append(f"ETA {format_duration(h.eta_s())}")
    parts += [f"lr {format_number(h.latest('lr'))}", f"grad {format_number(h.latest('grad_norm'))}"]
    return parts


def header_text(
    history: RunHistory,
    key: str,
    *,
    live: bool,
    alive: bool,
    user_paused: bool,
    width: int,
    theme: Mapping[str, str],
) -> Text:
    """The header for `width` columns: the run line, then the figures wrapped between whole figures."""
    status, where = run_state(history, live=live, alive=alive, user_paused=user_paused)
    variable = STATUS_VARIABLE.get(status)
    style = f"bold {theme.get(variable, '')}".strip() if variable else "bold"
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"{history.label or key} ", style="bold")
    text.append(f"[{status}]", style=style)
    text.append(f"  {where}", style="dim")
    if history.device:
        text.append(f"  on {history.device}", style="dim")
    # The figures fill the rest of the first line, then wrap between whole figures (never mid-figure).
    width = max(20, width)
    lines = wrap_parts(numbers(history, status), width, first=len(text.plain) + 4)
    if lines and lines[0]:
        text.append("    " + lines[0])
    for line in lines[1:]:
        text.append("\n" + line)
    return text


def wrap_parts(parts: list[str], width: int, gap: str = "  ", first: int = 0) -> list[str]:
    """Parts joined by `gap` into lines of at most `width` cells; the first line already holds `first` cells
    (it comes back empty when not even one part fits beside them)."""
    lines: list[str] = []
    line, room = "", width - first
    for part in parts:
        candidate = f"{line}{gap}{part}" if line else part
        if len(candidate) > room and (line or room < width):
            lines.append(line)
            line, room = part, width
        else:
            line = candidate
    if line:
        lines.append(line)
    return lines

