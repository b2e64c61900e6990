"""Lightning's `CSVLogger` `metrics.csv`, read incrementally as rows are appended.

Lightning writes one row per logging call with a column per metric name (empty where a metric was not
logged then), plus `step` and often `epoch`; when a new metric appears it rewrites the file with a wider
header, which `read()` notices (the header changed) and handles by reading the file again from the start,
skipping the rows it already returned. A column of wall-clock times (`wall_time`, `walltime`, `time` or
`timestamp`, in epoch seconds) becomes the events' time; without one (Lightning writes none) a row's time
is when it is read.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is loaded by reading, not by asking whether a folder holds a metrics.csv
    from tui_trainer.integrations.tensorboard import Scalar, ScalarColumns

METRICS_CSV = "metrics.csv"
TIME_COLUMNS = ("wall_time", "walltime", "time", "timestamp")
_EPOCH_SECONDS = 1e8  # a time column holding less than this counts from the run's start, not the epoch


class MetricsCsvReader:
    """Scalars of one metrics.csv: `read()` returns those of rows added since the last call."""

    def __init__(
        self, path: Path, offset: int = 0, rows_done: int = 0, header: list[str] | None = None
    ) -> None:
        self.path = Path(path)
        self.offset = offset
        self.rows_done = rows_done
        self.header = header

    def read(self) -> list[Scalar]:
        return self.read_columns().scalars()

    def read_columns(self) -> ScalarColumns:
        """The scalars of the rows added since the last read."""
        import numpy as np

        from tui_trainer.integrations.tensorboard import ScalarColumns

        try:
            with open(self.path, "rb") as fh:
                first = fh.readline()
                header = next(csv.reader([first.decode("utf-8", "replace")]), [])
                if header != self.header or fh.seek(0, 2) < self.offset:
                    # A wider header means the file was rewritten: read it all again, skip rows already read.
                    self.header, self.offset, skip = header, len(first), self.rows_done
                else:
                    skip = 0
                fh.seek(self.offset)
                data = fh.read()
        except OSError:
            return ScalarColumns.empty()
        cut = data.rfind(b"\n")
        if cut < 0:
            return ScalarColumns.empty()
        self.offset += cut + 1
        rows = list(csv.reader(io.StringIO(data[: cut + 1].decode("utf-8", "replace"))))
        names = self.header or []
        step_col = names.index("step") if "step" in names else None
        time_col = next((names.index(n) for n in TIME_COLUMNS if n in names), None)
        metric_cols = [i for i, n in enumerate(names) if i not in (step_col, time_col)]
        steps: list[int] = []
        tags: list[int] = []
        values: list[float] = []
        walls: list[float] = []
        for row in rows[skip:] if skip else rows:
            if not row:
                continue
            self.rows_done += 1
            step = _number(row[step_col]) if step_col is not None and step_col < len(row) else None
            step_i = int(step) if step is not None and math.isfinite(step) else self.rows_done
            wall = _number(row[time_col]) if time_col is not None and time_col < len(row) else None
            if wall is None or not math.isfinite(wall) or wall < _EPOCH_SECONDS:
                wall = math.nan
            for i in metric_cols:
                cell = row[i] if i < len(row) else ""
                if cell == "":
                    continue
                value = _number(cell)
                if value is not None:
                    steps.append(step_i)
                    tags.append(i)
                    values.append(value)
                    walls.append(wall)
        return ScalarColumns(
            np.array(steps, np.int64),
            np.array(tags, np.int32),
            np.array(values, float),
            np.array(walls, float),
            names,
        )


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
