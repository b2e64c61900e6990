"""A folder of images in class sub-folders, read as a table (path, label, width, height, channels, bytes).

Only image headers are read (Pillow opens lazily), so a folder of a million files costs a directory walk
and a few hundred bytes per file, not the pixels.
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from tui_trainer.data.limits import Limits, open_image
from tui_trainer.data.suffixes import IMAGE_SUFFIXES
from tui_trainer.errors import UserError

SCHEMA = {
    "path": pl.String,
    "label": pl.String,
    "width": pl.Int64,
    "height": pl.Int64,
    "channels": pl.Int64,
    "bytes": pl.Int64,
}


def scan_image_folder(root: Path, limits: Limits | None = None) -> pl.LazyFrame:
    """One row per image file under `root`; `label` is the first sub-folder (null for files at the top).

    A file Pillow cannot read keeps its row with null width/height/channels, so the `missing` check
    reports broken images instead of hiding them. A header declaring more pixels than `limits.max_pixels`
    is refused (UserError naming the file) before anything is decoded.
    """
    from PIL import UnidentifiedImageError

    limits = limits or Limits()

    rows: dict[str, list] = {key: [] for key in SCHEMA}
    files = sorted(
        Path(dirpath) / name
        for dirpath, _dirs, names in os.walk(root)
        for name in names
        if Path(name).suffix.lower() in IMAGE_SUFFIXES
    )
    if not files:
        raise UserError(
            f"{root}: no image files ({', '.join(sorted(IMAGE_SUFFIXES))}) in this folder or its sub-folders"
        )
    for file in files:
        rel = file.relative_to(root)
        width = height = channels = None
        if not file.is_file():
            continue  # a FIFO or device named like an image would block the reader; it is not an image
        try:
            with open_image(file, limits.max_pixels) as img:  # reads the header only; refuses a bomb
                width, height = img.size
                channels = len(img.getbands())
        except (UnidentifiedImageError, OSError, ValueError):
            pass
        try:
            size = file.stat().st_size
        except OSError:
            size = None
        rows["path"].append(rel.as_posix())
        rows["label"].append(rel.parts[0] if len(rel.parts) > 1 else None)
        rows["width"].append(width)
        rows["height"].append(height)
        rows["channels"].append(channels)
        rows["bytes"].append(size)
    return pl.DataFrame(rows, schema=SCHEMA).lazy()
