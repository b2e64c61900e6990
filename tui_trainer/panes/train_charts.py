"""The runs on the Train pane's screen (`RunSlot`) and their chart series, coloured per run from the theme."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from textual.worker import Worker

from tui_trainer.engine.history import RunHistory
from tui_trainer.panes.train_bridge import TrainBridge
from tui_trainer.widgets.chart import ChartSeries

MAX_METRICS = 4  # per run on the metric chart: more lines than this stop being readable

# Colours per run, as theme variables: (train line, val line). The first run gets the theme's main colours.
RUN_COLORS: tuple[tuple[str, str], ...] = (
    ("primary", "accent"),
    ("success", "error"),  # second: many themes share accent and warning, so a second run must avoid both
    ("secondary", "warning"),
    ("foreground", "panel-lighten-3"),
)


@dataclass
class RunSlot:
    """One run on screen: its store, its bridge, and how it is drawn."""

    key: str
    history: RunHistory
    bridge: TrainBridge
    colors: tuple[str, str]
    live: bool = False
    run_dir: Path | None = None
    config_path: Path | None = None
    user_paused: bool = False
    worker: Worker | None = field(default=None, repr=False)


def points(history: RunHistory, key: str) -> list[tuple[float, float, float, float]]:
    series = history.series.get(key)
    if series is None:
        return []
    return [(p.step, p.mean, p.min, p.max) for p in series.points()]


def run_series(
    runs: Iterable[tuple[RunHistory, tuple[str, str]]],
) -> tuple[list[ChartSeries], list[ChartSeries]]:
    """(loss series, metric series) for runs given as (history, (train colour, val colour)); with several runs
    each line is prefixed by its run's label."""
    runs = list(runs)
    several = len(runs) > 1
    loss: list[ChartSeries] = []
    metrics: list[ChartSeries] = []
    for h, (train_c, val_c) in runs:
        prefix = f"{h.label} " if several else ""
        loss.append(ChartSeries(f"{prefix}train", points(h, "train_loss"), train_c))
        loss.append(ChartSeries(f"{prefix}val", points(h, "val_loss"), val_c, band=False))
        for index, key in enumerate(h.metric_keys()[:MAX_METRICS]):
            color = train_c if index % 2 == 0 else val_c
            metrics.append(ChartSeries(f"{prefix}{key}", points(h, key), color, band=False))
    return loss, metrics
