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


def _write_text(path: Path, text: str) -> None:
    # Temp file + rename so an interrupted run never leaves half a file behind.
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


STEPS = {
    "penguins": make_penguins,
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
