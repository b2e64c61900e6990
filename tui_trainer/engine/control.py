"""Commands the UI sends the engine on its own queue (never shared state): pause, resume, stop, checkpoint."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pause:
    """Hold training after the current step until Resume or Stop arrives."""


@dataclass(frozen=True)
class Resume:
    """Continue a paused run."""


@dataclass(frozen=True)
class Stop:
    """Finish the current step, write a checkpoint, end with `finished` status `stopped`."""

    reason: str = "user"


@dataclass(frozen=True)
class SaveCheckpoint:
    """Write a checkpoint after the current step, then carry on."""


Command = Pause | Resume | Stop | SaveCheckpoint
