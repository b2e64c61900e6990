"""The Lightning callback and logger for the `pytorch_lightning` package (the name Lightning had before 2.0)."""

from __future__ import annotations

from tui_trainer.integrations.lightning import _build

TuiTrainerCallback, TuiTrainerLogger = _build("pytorch_lightning")

__all__ = ["TuiTrainerCallback", "TuiTrainerLogger"]
