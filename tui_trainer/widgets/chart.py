"""Chart: a braille line chart of downsampled series (mean line plus min–max band), coloured by theme variables.

Drawn with our own renderer rather than plotext so a frame is a pure function of (series, size, scale, theme):
deterministic for snapshots, cheap enough to redraw ten times a second, and it draws each bucket's min–max span,
so a loss spike survives downsampling on screen too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from tui_trainer.formatting import format_number

# Braille dot bits by (column, row) inside one 2×4 cell.
_DOT_BITS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))
_BRAILLE_BASE = 0x2800


@dataclass(frozen=True)
class ChartSeries:
    """One line: `points` are (step, mean, min, max) tuples in step order; `color` is a theme variable name."""

    label: str
    points: Sequence[tuple[float, float, float, float]]
    color: str = "primary"
    band: bool = True  # draw each bucket's min–max span, not only the mean line


class Chart(Widget):
    """Several series on one step axis. `set_series` replaces the data; `log_scale` toggles a log y axis."""

    DEFAULT_CSS = """
    Chart { height: 1fr; min-height: 6; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    log_scale: reactive[bool] = reactive(False)

    def __init__(
        self, title: str = "", *, empty_text: str = "no data yet", x_label: str = "step", **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self.title = title
        self.x_label = x_label  # what the x axis counts: training steps, or collapse-lab generations
        self.empty_text = empty_text
        self._series: list[ChartSeries] = []
        self._version = 0
        self._cache_key: tuple | None = None
        self._cache: Text | None = None
        self.render_count = 0  # frames actually drawn (cache misses): what the redraw-rate test counts
        self.update_count = 0  # calls to set_series

    @property
    def series(self) -> list[ChartSeries]:
        return list(self._series)

    def set_series(self, series: Sequence[ChartSeries], title: str | None = None) -> None:
        self._series = [s for s in series if s.points]
        if title is not None:
            self.title = title
        self._version += 1
        self.update_count += 1
        self.refresh()

    def watch_log_scale(self, _value: bool) -> None:
        self.refresh()

    def render(self) -> Text:
        width, height = self.content_size.width, self.content_size.height
        key = (self._version, width, height, self.log_scale, self.app.theme if self.is_attached else None)
        if key != self._cache_key or self._cache is None:
            self.render_count += 1
            self._cache = self._draw(width, height)
            self._cache_key = key
        return self._cache

    # ----- drawing ------------------------------------------------------------------------
    def _color(self, variable: str) -> str:
        variables = self.app.theme_variables if self.is_attached else {}
        return variables.get(variable, "")

    def _transform(self, value: float) -> float | None:
        if not math.isfinite(value):
            return None
        if self.log_scale:
            return math.log10(value) if value > 0 else None
        return value

    def _draw(self, width: int, height: int) -> Text:
        text = Text(no_wrap=True, overflow="crop")
        text.append(self.title, style="bold")
        scale = " (log)" if self.log_scale else ""
        text.append(scale, style="dim")
        for s in self._series:
            text.append("  ")
            text.append("━ ", style=self._color(s.color))
            text.append(s.label)
        if height < 4 or width < 16:
            return text
        text.append("\n")
        if not self._series:
            text.append(self.empty_text, style="dim")
            return text

        # x range from every series; y range from every finite (and, in log scale, positive) value.
        xs = [p[0] for s in self._series for p in s.points]
        x_lo, x_hi = min(xs), max(xs)
        ys: list[float] = []
        for s in self._series:
            for _, mean, lo, hi in s.points:
                for v in (lo, hi) if s.band else (mean,):
                    t = self._transform(v)
                    if t is not None:
                        ys.append(t)
        if not ys:
            text.append(
                "no finite values to plot" + (" on a log scale" if self.log_scale else ""), style="dim"
            )
            return text
        y_lo, y_hi = min(ys), max(ys)
        if y_hi - y_lo < 1e-12:
            pad = abs(y_hi) * 0.05 or 0.5
            y_lo, y_hi = y_lo - pad, y_hi + pad

        labels = [self._label(y_hi), self._label((y_lo + y_hi) / 2), self._label(y_lo)]
        label_w = max(len(label) for label in labels) + 1
        cols = max(4, width - label_w - 1)
        rows = max(2, height - 2)  # one line of legend above, one of x labels below
        dots_w, dots_h = cols * 2, rows * 4

        def px(x: float) -> int:
            return 0 if x_hi == x_lo else round((x - x_lo) / (x_hi - x_lo) * (dots_w - 1))

        def py(y: float) -> int:
            return (dots_h - 1) - round((y - y_lo) / (y_hi - y_lo) * (dots_h - 1))

        bits = [[0] * cols for _ in range(rows)]
        owner: list[list[int]] = [[-1] * cols for _ in range(rows)]

        def plot(x: int, y: int, index: int) -> None:
            if 0 <= x < dots_w and 0 <= y < dots_h:
                cx, cy = x >> 1, y >> 2
                bits[cy][cx] |= _DOT_BITS[x & 1][y & 3]
                owner[cy][cx] = index

        for index, s in enumerate(self._series):
            previous: tuple[int, int] | None = None
            for step, mean, lo, hi in s.points:
                x = px(step)
                if s.band:
                    t_lo, t_hi = self._transform(lo), self._transform(hi)
                    if t_lo is not None and t_hi is not None:
                        for y in range(py(t_hi), py(t_lo) + 1):
                            plot(x, y, index)
                t_mean = self._transform(mean)
                if t_mean is None:
                    previous = None
                    continue
                point = (x, py(t_mean))
                if previous is not None:
                    _line(previous, point, lambda a, b, i=index: plot(a, b, i))
                else:
                    plot(*point, index)
                previous = point

        styles = [self._color(s.color) for s in self._series]
        label_rows = {0: labels[0], rows // 2: labels[1], rows - 1: labels[2]}
        for r in range(rows):
            text.append(label_rows.get(r, "").rjust(label_w - 1) + " ", style="dim")
            text.append("┤" if r in label_rows else "│", style="dim")
            run_style, run = None, []
            for c in range(cols):
                b = bits[r][c]
                ch = chr(_BRAILLE_BASE + b) if b else " "
                style = styles[owner[r][c]] if b else ""
                if style != run_style and run:
                    text.append("".join(run), style=run_style or "")
                    run = []
                run_style = style
                run.append(ch)
            if run:
                text.append("".join(run), style=run_style or "")
            text.append("\n")
        left, right = f"{self.x_label} {int(x_lo)}", f"{int(x_hi)}"
        gap = max(1, cols - len(left) - len(right))
        text.append(" " * (label_w + 1) + left + " " * gap + right, style="dim")
        return text

    def _label(self, transformed: float) -> str:
        return format_number(10**transformed if self.log_scale else transformed)


def _line(a: tuple[int, int], b: tuple[int, int], plot) -> None:
    """Bresenham between two dot coordinates."""
    x0, y0 = a
    x1, y1 = b
    dx, dy = abs(x1 - x0), -abs(y1 - y0)
    sx = 1 if x0 < x1 else -1
    sy = 1 if y0 < y1 else -1
    err = dx + dy
    while True:
        plot(x0, y0)
        if x0 == x1 and y0 == y1:
            return
        e2 = 2 * err
        if e2 >= dy:
            err += dy
            x0 += sx
        if e2 <= dx:
            err += dx
            y0 += sy
