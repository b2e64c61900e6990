"""Lightning's `CSVLogger` `metrics.csv`, read incrementally as rows are appended (standard library only).

Lightning writes one row per logging call with a column per metric name (empty where a metric was not
logged then), plus `step` and often `epoch`; when a new metric appears it rewrites the file with a wider
header, which `read()` notices (the header changed) and handles by reading the file again from the start,
skipping the rows it already returned.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from tui_trainer.integrations.tensorboard import Scalar

METRICS_CSV = "metrics.csv"


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
            return []
        cut = data.rfind(b"\n")
        if cut < 0:
            return []
        self.offset += cut + 1
        out: list[Scalar] = []
        rows = list(csv.reader(io.StringIO(data[: cut + 1].decode("utf-8", "replace"))))
        names = self.header or []
        step_col = names.index("step") if "step" in names else None
        for row in rows[skip:] if skip else rows:
            if not row:
                continue
            self.rows_done += 1
            step = _number(row[step_col]) if step_col is not None and step_col < len(row) else None
            step_i = int(step) if step is not None and math.isfinite(step) else self.rows_done
            for name, cell in zip(names, row, strict=False):
                if name == "step" or cell == "":
                    continue
                value = _number(cell)
                if value is not None:
                    out.append(Scalar(step_i, name, value, 0.0))
        return out


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
