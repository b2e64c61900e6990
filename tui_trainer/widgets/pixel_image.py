"""PixelImage: an image drawn with upper-half-block cells ("▀": fg = top pixel, bg = bottom pixel) in truecolour.

Works in any terminal with truecolour, and in tests and SVG snapshots. The image is scaled to fit
the widget with nearest-neighbour sampling (small images such as 8×8 digits stay crisp) and kept
centred; the rows for a size are built once and cached.
"""

from __future__ import annotations

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

UPPER_HALF = "▀"


def to_rgb8(image: np.ndarray) -> np.ndarray:
    """Any H×W, H×W×1, H×W×3 or H×W×4 array (uint8, or float 0–1) as uint8 H×W×3 (alpha over black)."""
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        arr = np.clip(np.floor(arr.astype(np.float32) * 255.0 + 0.5), 0, 255).astype(np.uint8)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    elif arr.shape[2] == 2:
        arr = np.repeat(arr[..., :1], 3, axis=2)
    elif arr.shape[2] == 4:
        alpha = arr[..., 3:4].astype(np.uint16)
        arr = (arr[..., :3].astype(np.uint16) * alpha // 255).astype(np.uint8)
    return np.ascontiguousarray(arr[..., :3])


def fit_size(h: int, w: int, cols: int, rows: int, stretch: bool = False) -> tuple[int, int]:
    """The (pixel height, pixel width) that fits cols × (2·rows) half-block pixels keeping the aspect ratio
    (or filling the whole area with `stretch`, for plots such as waveforms)."""
    if h <= 0 or w <= 0 or cols <= 0 or rows <= 0:
        return 0, 0
    if stretch:
        return 2 * rows, cols
    scale = min(cols / w, (2 * rows) / h)
    if scale >= 1:
        scale = float(int(scale))  # whole-number upscaling keeps every source pixel the same size
    return max(1, min(2 * rows, int(round(h * scale)))), max(1, min(cols, int(round(w * scale))))


def resample_nearest(rgb: np.ndarray, th: int, tw: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    ys = np.minimum((np.arange(th) * h) // th, h - 1)
    xs = np.minimum((np.arange(tw) * w) // tw, w - 1)
    return rgb[ys][:, xs]


def half_block_rows(rgb: np.ndarray, base: Style | None = None) -> list[list[tuple[str, Style]]]:
    """Rows of (text, style) runs: each cell is "▀" coloured by two vertically stacked pixels.

    An odd last pixel row gets the `base` style's background below it.
    """
    odd = rgb.shape[0] % 2 == 1
    if odd:
        rgb = np.concatenate([rgb, np.zeros((1, *rgb.shape[1:]), dtype=rgb.dtype)], axis=0)
    styles: dict[tuple[int, ...], Style] = {}
    rows = []
    last = rgb.shape[0] // 2 - 1
    for index, (top, bottom) in enumerate(zip(rgb[0::2], rgb[1::2], strict=True)):
        row = []
        if odd and index == last:
            for r1, g1, b1 in top.tolist():
                row.append((UPPER_HALF, (base or Style()) + Style(color=f"#{r1:02x}{g1:02x}{b1:02x}")))
            rows.append(row)
            continue
        for (r1, g1, b1), (r2, g2, b2) in zip(top.tolist(), bottom.tolist(), strict=True):
            key = (r1, g1, b1, r2, g2, b2)
            style = styles.get(key)
            if style is None:
                style = Style(color=f"#{r1:02x}{g1:02x}{b1:02x}", bgcolor=f"#{r2:02x}{g2:02x}{b2:02x}")
                styles[key] = style
            row.append((UPPER_HALF, style))
        rows.append(row)
    return rows


class PixelImage(Widget):
    """Shows an image (numpy array) scaled to fit, as half-block truecolour cells (`stretch`: fill the widget)."""

    DEFAULT_CSS = """
    PixelImage { width: 1fr; height: 1fr; }
    """

    def __init__(self, image: np.ndarray | None = None, *, stretch: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.stretch = stretch
        self._rgb: np.ndarray | None = None if image is None else to_rgb8(image)
        self._cache_key: tuple | None = None
        self._strips: list[Strip] = []

    @property
    def image(self) -> np.ndarray | None:
        return self._rgb

    def set_image(self, image: np.ndarray | None) -> None:
        self._rgb = None if image is None else to_rgb8(image)
        self._cache_key = None
        self.refresh()

    def _build(self, cols: int, rows: int, base: Style) -> list[Strip]:
        if self._rgb is None or cols <= 0 or rows <= 0:
            return [Strip.blank(cols, base) for _ in range(rows)]
        th, tw = fit_size(self._rgb.shape[0], self._rgb.shape[1], cols, rows, self.stretch)
        scaled = resample_nearest(self._rgb, th, tw)
        cells = half_block_rows(scaled, base)
        left = (cols - tw) // 2
        top = (rows - len(cells)) // 2
        strips = [Strip.blank(cols, base) for _ in range(top)]
        for row in cells:
            segs = [Segment(" " * left, base)] if left else []
            segs.extend(Segment(text, style) for text, style in row)
            right = cols - left - tw
            if right:
                segs.append(Segment(" " * right, base))
            strips.append(Strip(segs, cols))
        strips.extend(Strip.blank(cols, base) for _ in range(rows - len(strips)))
        return strips

    def render_line(self, y: int) -> Strip:
        cols, rows = self.size.width, self.size.height
        base = self.rich_style
        key = (cols, rows, base)
        if self._cache_key != key:
            self._strips = self._build(cols, rows, base)
            self._cache_key = key
        if 0 <= y < len(self._strips):
            return self._strips[y]
        return Strip.blank(cols, base)
