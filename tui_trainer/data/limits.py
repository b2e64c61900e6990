"""Input limits that keep `inspect` bounded on crafted files: columns, JSON nesting depth, image pixels.

Each is checked from the file's first bytes, header or raw text before any parser builds a structure
from it, so a 6 KB file cannot make the parser recurse 10,000 levels or allocate a 3.6-gigapixel canvas.
Every refusal names the file, the limit, and the flag that raises it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tui_trainer.errors import UserError

# A 5,000-column CSV profiles in well under 30 s; 200,000 columns would take hours and tens of GB.
MAX_COLUMNS = 10_000
# Tables are 1-3 levels deep; polars' nested-type inference and Python's json recurse once per level.
MAX_JSON_DEPTH = 64
# Pixels an image may declare before it is decoded, for every reader (inspect's folder scan, augment, training).
# Augmenting costs ~40 bytes a pixel (float32 working copies), so 40 Mpx (an 8000×5000 photo) stays near 1.6 GB;
# a 140 KB PNG declaring 12000×12000 is refused from its header instead of driving the machine into the OOM killer.
DEFAULT_MAX_PIXELS = 40_000_000
MAX_PIXELS_ENV = "TUI_TRAINER_MAX_IMAGE_PIXELS"
# The header row is read at most this far looking for its end.
HEADER_BYTES = 64 * 1024 * 1024
_CHUNK = 8 * 1024 * 1024
# The depth scan holds ~6 int64 arrays per byte of a chunk: 1 MB chunks keep it near 50 MB.
_DEPTH_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    max_columns: int = MAX_COLUMNS
    max_depth: int = MAX_JSON_DEPTH
    max_pixels: int = field(default_factory=lambda: max_pixels())


def check_columns(path: Path, count: int, limits: Limits) -> None:
    if count > limits.max_columns:
        raise UserError(
            f"{path}: {count:,} columns, over the limit of {limits.max_columns:,} "
            f"(pass --max-columns {count} to profile it anyway; it needs time and memory in proportion)"
        )


def header_field_count(path: Path, separator: str) -> int:
    """Fields in the first line (separators + 1, quotes ignored: an upper bound), read in bounded chunks."""
    sep = separator.encode()
    count = 0
    read = 0
    with open(path, "rb") as fh:
        while read < HEADER_BYTES:
            chunk = fh.read(_CHUNK)
            if not chunk:
                break
            read += len(chunk)
            ends = [i for i in (chunk.find(b"\n"), chunk.find(b"\r")) if i >= 0]
            if ends:
                return count + chunk[: min(ends)].count(sep) + 1
            count += chunk.count(sep)
    return count + 1


def json_depth(path: Path, stop_above: int) -> tuple[int, int]:
    """The deepest nesting of `[`/`{` outside strings, and the 1-based line where it first passes `stop_above`.

    Vectorised over 1 MB chunks (numpy), carrying string/escape state across chunk edges, so a 100 MB
    file costs about a second and a crafted one costs nothing more. Line 0: never passed.
    """
    depth = 0
    deepest = 0
    in_string = False
    escaped = False  # the previous chunk ended in an odd run of backslashes
    lines = 1
    with open(path, "rb") as fh:
        while chunk := fh.read(_DEPTH_CHUNK):
            b = np.frombuffer(chunk, dtype=np.uint8)
            n = b.size
            backslash = b == 0x5C
            idx = np.arange(n)
            last_other = np.maximum.accumulate(np.where(backslash, -1, idx))
            # run of backslashes ending just before i: (i - 1) - last non-backslash before i
            run_before = np.empty(n, dtype=np.int64)
            run_before[0] = 1 if escaped else 0
            prev = last_other[:-1]
            run_before[1:] = (idx[1:] - 1) - prev
            start_run = prev < 0  # the whole chunk so far is backslashes: add the carried parity
            if escaped:
                run_before[1:][start_run] += 1
            is_escaped = (run_before % 2) == 1
            quote = (b == 0x22) & ~is_escaped
            parity = np.cumsum(quote) % 2
            inside = (parity == 1) if not in_string else (parity == 0)
            opens = (b == 0x5B) | (b == 0x7B)
            closes = (b == 0x5D) | (b == 0x7D)
            step = np.where(inside, 0, opens.astype(np.int64) - closes.astype(np.int64))
            levels = depth + np.cumsum(step)
            if levels.size:
                top = int(levels.max())
                if top > stop_above:
                    first = int(np.argmax(levels > stop_above))
                    return top, lines + int(np.count_nonzero(b[:first] == 0x0A))
                deepest = max(deepest, top)
                depth = int(levels[-1])
            in_string = bool(inside[-1])  # a quote counts as inside when it opens, outside when it closes
            tail = n - 1 - int(last_other[-1])
            escaped = (tail + (1 if escaped and last_other[-1] < 0 else 0)) % 2 == 1
            lines += int(np.count_nonzero(b == 0x0A))
    return deepest, 0


def check_json_depth(path: Path, limits: Limits) -> None:
    deepest, line = json_depth(path, limits.max_depth)
    if line:
        raise UserError(
            f"{path}: line {line}: JSON nested more than {limits.max_depth} levels deep; a table needs 1-3 "
            f"(pass --max-depth N to allow deeper nesting)"
        )


def max_pixels(override: int | None = None) -> int:
    """The pixel limit: `override` (a --max-pixels flag), else $TUI_TRAINER_MAX_IMAGE_PIXELS, else the default."""
    if override is not None:
        if override < 1:
            raise UserError(f"--max-pixels: expected a whole number ≥ 1, got {override}")
        return override
    raw = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise UserError(f"${MAX_PIXELS_ENV}: expected a whole number of pixels ≥ 1, got {raw!r}")
    return value


def too_many_pixels(path: Path, width: int, height: int, limit: int) -> UserError:
    return UserError(
        f"{path}: the image declares {width}×{height} = {width * height:,} pixels, over the limit of {limit:,}; "
        f"raise it with --max-pixels N or ${MAX_PIXELS_ENV}=N if the file is genuine"
    )


def check_pixels(path: Path, width: int, height: int, limits: Limits) -> None:
    if width * height > limits.max_pixels:
        raise too_many_pixels(path, width, height, limits.max_pixels)


def open_image(path: Path, limit: int | None = None):
    """`PIL.Image.open` with the pixel limit checked from the header, before any pixel is decoded.

    Only a regular file is opened: a FIFO named `x.png` would block the reader forever.
    """
    import re
    import stat
    import warnings

    from PIL import Image

    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise UserError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if not stat.S_ISREG(mode):
        raise UserError(f"{path}: not a regular file (an image must be a file, not a FIFO, device or folder)")
    limit = max_pixels() if limit is None else limit
    # Pillow's own bomb check (an exception past 2 × MAX_IMAGE_PIXELS) must not undercut a raised limit.
    if Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS < limit:
        Image.MAX_IMAGE_PIXELS = limit
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the limit below is ours
            im = Image.open(path)
    except Image.DecompressionBombError as exc:
        declared = re.search(r"\((\d+) pixels\)", str(exc))
        count = f"{int(declared.group(1)):,} pixels" if declared else "too many pixels"
        raise UserError(
            f"{path}: the image declares {count}, over the limit of {limit:,}; "
            f"raise it with --max-pixels N or ${MAX_PIXELS_ENV}=N if the file is genuine"
        ) from None
    width, height = im.size
    if width * height > limit:
        im.close()
        raise too_many_pixels(path, width, height, limit)
    return im
