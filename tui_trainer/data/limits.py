"""Input limits that keep `inspect` bounded on crafted files: columns, JSON nesting depth, image pixels.

Each is checked from the file's first bytes, header or raw text before any parser builds a structure
from it, so a 6 KB file cannot make the parser recurse 10,000 levels or allocate a 3.6-gigapixel canvas.
Every refusal names the file, the limit, and the flag that raises it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tui_trainer.errors import UserError

# A 5,000-column CSV profiles in well under 30 s; 200,000 columns would take hours and tens of GB.
MAX_COLUMNS = 10_000
# Tables are 1-3 levels deep; polars' nested-type inference and Python's json recurse once per level.
MAX_JSON_DEPTH = 64
# Pillow's own "decompression bomb" error threshold (2 x Image.MAX_IMAGE_PIXELS): ~13,400 x 13,400.
MAX_PIXELS = 178_956_970
# The header row is read at most this far looking for its end.
HEADER_BYTES = 64 * 1024 * 1024
_CHUNK = 8 * 1024 * 1024
# The depth scan holds ~6 int64 arrays per byte of a chunk: 1 MB chunks keep it near 50 MB.
_DEPTH_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    max_columns: int = MAX_COLUMNS
    max_depth: int = MAX_JSON_DEPTH
    max_pixels: int = MAX_PIXELS


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


def check_pixels(path: Path, width: int, height: int, limits: Limits) -> None:
    if width * height > limits.max_pixels:
        raise UserError(
            f"{path}: the image header declares {width} x {height} = {width * height:,} pixels, over the limit of "
            f"{limits.max_pixels:,} (a decompression bomb or a huge scan; pass --max-pixels N to allow it)"
        )
