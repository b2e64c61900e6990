"""Regenerate every file in sample_data/ from downloaded upstream sources.

This script is documentation you can run, not part of the product: tests, CI and the app
never run it (tests import two of its helpers to check them), and nothing is downloaded at
run time. It exists so anyone can check that the committed files are exactly what the
sources give, transformed as sample_data/README.md says. Run with the sources below it
rebuilds every file byte for byte.

Sources it needs (fetch them by hand, then run it from the repo root):

  penguins   /tmp/pp/x/     the palmerpenguins wheel, extracted:
                 pip download --no-deps -d /tmp/pp palmerpenguins==0.1.6
                 (cd /tmp/pp && unzip -o palmerpenguins-*.whl -d x)
  digits,    /tmp/skl/x/    the scikit-learn wheel, extracted (not installed):
  images         pip download --no-deps --only-binary=:all: -d /tmp/skl scikit-learn==1.9.1
                 (cd /tmp/skl && unzip -o scikit_learn-*.whl 'sklearn/datasets/*' -d x)
  text       /tmp/ja/x/     Debian's r-cran-janeaustenr package, unpacked (R is not needed):
                 (mkdir -p /tmp/ja && cd /tmp/ja && apt-get download r-cran-janeaustenr
                  && dpkg-deb -x r-cran-janeaustenr_*.deb x)
  audio      espeak-ng on PATH   apt-get install -y espeak-ng

Usage:
  python sample_data/make_sample_data.py [penguins|digits|images|text|audio ...]

With no arguments it makes everything. Needs pillow, numpy and scipy (all in the project's
venv). Each output is written to a temp file and renamed into place.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import re
import struct
import sys
import zlib
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


JANEAUSTENR_DATA = "/tmp/ja/x/usr/lib/R/site-library/janeaustenr/data"
# (R object name in janeaustenr, output file stem, label in sentences.csv, chapters kept)
TEXTS = (
    ("prideprejudice", "pride_and_prejudice_ch01-06", "pride_and_prejudice", 6),
    ("persuasion", "persuasion_ch01-03", "persuasion", 3),
)
SENTENCES_PER_LABEL = 100
SENTENCE_CHARS = (40, 300)


class _RUnserializer:
    """Just enough of R's XDR serialization format to read janeaustenr's lazy-load data.

    Why our own: the data ships as R lazy-load files (Rdata.rdx index + Rdata.rdb
    zlib blobs), and installing R or an rdata library just to read six character
    vectors once is heavier than reading the format. Supports the types that occur
    there (pairlists, symbols, strings, logical/integer/double/list vectors); anything
    else is refused loudly rather than misread.
    """

    def __init__(self, buf: bytes) -> None:
        if buf[:2] != b"X\n":
            raise ValueError("not an XDR-format R serialization")
        self.buf, self.pos, self.refs = buf, 2, []
        version = self._int()
        self._int(), self._int()  # writer and minimal reader R versions
        if version == 3:
            name_length = self._int()
            self.pos += name_length  # skip the native encoding name

    def _int(self) -> int:
        (value,) = struct.unpack_from(">i", self.buf, self.pos)
        self.pos += 4
        return value

    def _length(self) -> int:
        n = self._int()
        if n == -1:  # long vector: two more ints
            n = (self._int() << 32) + self._int()
        return n

    def read(self):
        flags = self._int()
        kind = flags & 0xFF
        has_attr, has_tag = bool(flags & (1 << 9)), bool(flags & (1 << 10))
        if kind == 254:  # NILVALUE
            return None
        if kind in (241, 242, 246, 247, 248, 249, 250, 251, 253):  # environments, markers
            return ("special", kind)
        if kind == 255:  # reference to an earlier symbol
            index = flags >> 8 or self._int()
            return self.refs[index - 1]
        if kind == 1:  # symbol
            symbol = ("sym", self.read())
            self.refs.append(symbol)
            return symbol
        if kind == 2:  # pairlist: attributes?, tag?, car, cdr
            if has_attr:
                self.read()
            tag = self.read() if has_tag else None
            car, cdr = self.read(), self.read()
            return {(tag[1] if tag else None): car, **(cdr or {})}
        if kind == 9:  # CHARSXP
            n = self._int()
            if n == -1:
                return None
            text = self.buf[self.pos : self.pos + n].decode("utf-8")
            self.pos += n
            return text
        if kind in (10, 13):
            n = self._length()
            values = list(struct.unpack_from(f">{n}i", self.buf, self.pos))
            self.pos += 4 * n
        elif kind == 14:
            n = self._length()
            values = list(struct.unpack_from(f">{n}d", self.buf, self.pos))
            self.pos += 8 * n
        elif kind in (16, 19):
            values = [self.read() for _ in range(self._length())]
        else:
            raise ValueError(f"R object type {kind} at byte {self.pos} is not supported")
        attrs = self.read() if has_attr else None
        names = (attrs or {}).get("names")
        return dict(zip(names, values, strict=True)) if names else values


def _load_janeaustenr() -> dict[str, list[str]]:
    data = Path(JANEAUSTENR_DATA)
    if not (data / "Rdata.rdx").exists():
        sys.exit(f"missing {data}/Rdata.rdx: unpack Debian's r-cran-janeaustenr (see module docstring)")
    index = _RUnserializer(gzip.decompress((data / "Rdata.rdx").read_bytes())).read()
    blob = (data / "Rdata.rdb").read_bytes()
    novels = {}
    for name, (offset, length) in index["variables"].items():
        offset, length = int(offset), int(length)
        # Each entry: 4-byte big-endian uncompressed length, then a zlib stream.
        novels[name] = _RUnserializer(zlib.decompress(blob[offset + 4 : offset + length])).read()
    return novels


_CHAPTER = re.compile(r"^chapter \d+$", re.IGNORECASE)
# Titles that end in a full stop but do not end a sentence.
_ABBREVIATIONS = re.compile(r"\b(Mr|Mrs|Ms|Dr|St|Sir)\.$")


def _sentences(paragraph: str) -> list[str]:
    pieces = re.split(r"(?<=[.!?])\s+(?=[\"'(A-Z_])", paragraph)
    merged: list[str] = []
    for piece in pieces:
        if merged and _ABBREVIATIONS.search(merged[-1]):
            merged[-1] += " " + piece
        else:
            merged.append(piece)
    return merged


def _is_whole(sentence: str) -> bool:
    # Splitting inside dialogue leaves halves with one stray quote mark; keep only
    # sentences whose quotes pair up and that end like a sentence.
    return sentence.count('"') % 2 == 0 and re.search(r"[.!?][\"')_]*$", sentence) is not None


def make_text() -> None:
    """Write the opening chapters of two Austen novels and a labelled sentence table.

    text/<stem>.txt: the novel's lines from the start (title) to the end of chapter N,
    exactly as janeaustenr has them (Project Gutenberg text hard-wrapped at ~70 chars).

    text/sentences.csv (text,label): paragraphs of those same chapters are re-joined,
    split into sentences at . ! or ? followed by a space and a capital or quote (not
    after Mr./Mrs./Dr./St./Sir), and sentences of 40-300 characters whose double quotes
    pair up and that end in . ! or ? (maybe followed by a closing quote) are kept. From each
    novel SENTENCES_PER_LABEL of them are taken, evenly spaced through the chapters in
    text order. label = which novel the sentence comes from. Rows are grouped by label
    (all of one novel, then the other): shuffle before splitting.
    """
    novels = _load_janeaustenr()
    rows: list[tuple[str, str]] = []
    for name, stem, label, chapters in TEXTS:
        lines = novels[name]
        starts = [i for i, line in enumerate(lines) if _CHAPTER.match(line.strip())]
        kept = lines[: starts[chapters]]
        _write_text(OUT / "text" / f"{stem}.txt", "\n".join(kept).rstrip() + "\n")
        body = lines[starts[0] : starts[chapters]]
        paragraphs = [" ".join(p.split()) for p in "\n".join(body).split("\n\n")]
        candidates = [
            s
            for p in paragraphs
            if p and not _CHAPTER.match(p)
            for s in _sentences(p)
            if SENTENCE_CHARS[0] <= len(s) <= SENTENCE_CHARS[1] and _is_whole(s)
        ]
        if len(candidates) < SENTENCES_PER_LABEL:
            sys.exit(f"{name}: only {len(candidates)} sentences, need {SENTENCES_PER_LABEL}")
        step = len(candidates) / SENTENCES_PER_LABEL
        rows += [(candidates[int(i * step)], label) for i in range(SENTENCES_PER_LABEL)]
        print(f"text/{stem}.txt: {len(kept)} lines; {len(candidates)} candidate sentences")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["text", "label"])
    writer.writerows(rows)
    _write_text(OUT / "text" / "sentences.csv", buf.getvalue())
    print(f"text/sentences.csv: {len(rows)} rows")


SPEECH_TEXT = (
    "It is a truth universally acknowledged, that a single man in possession "
    "of a good fortune, must be in want of a wife."
)  # the first sentence of Pride and Prejudice, as in text/ and sentences.csv
SPEECH_VOICE = "en-gb"
SPEECH_WPM = 195  # espeak-ng's default 175 makes this sentence 6.3 s; 195 gives 5.6 s
SPEECH_RATE = 16_000


def make_audio() -> None:
    """Have espeak-ng speak one sentence of the corpus; store it as 16 kHz mono 16-bit PCM.

    espeak-ng writes 22050 Hz mono 16-bit; scipy's polyphase resampler (320/441) brings
    it to 16 kHz, the rate speech models expect. No trimming, no normalisation.
    """
    import shutil
    import subprocess
    import tempfile

    import numpy as np
    from scipy.io import wavfile
    from scipy.signal import resample_poly

    espeak = shutil.which("espeak-ng")
    if espeak is None:
        sys.exit("espeak-ng not found on PATH: apt-get install -y espeak-ng")
    with tempfile.TemporaryDirectory() as tmpdir:
        raw_path = Path(tmpdir) / "raw.wav"
        subprocess.run(
            [espeak, "-v", SPEECH_VOICE, "-s", str(SPEECH_WPM), "-w", str(raw_path), SPEECH_TEXT],
            check=True,
        )
        rate, raw = wavfile.read(raw_path)
    if rate != 22_050 or raw.ndim != 1:
        sys.exit(f"unexpected espeak-ng output: {rate} Hz, shape {raw.shape}")
    audio = resample_poly(raw.astype(np.float64), 320, 441)
    audio = np.clip(np.rint(audio), -32768, 32767).astype(np.int16)
    dest = OUT / "audio" / "speech.wav"
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    wavfile.write(tmp, SPEECH_RATE, audio)
    tmp.replace(dest)
    print(f"audio/speech.wav: {len(audio) / SPEECH_RATE:.2f} s at {SPEECH_RATE} Hz")


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
    "text": make_text,
    "audio": make_audio,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "steps", nargs="*", metavar="STEP", help=f"which files to make: {', '.join(STEPS)} (default: all)"
    )
    args = parser.parse_args(argv)
    unknown = [s for s in args.steps if s not in STEPS]
    if unknown:
        parser.error(f"unknown step(s) {', '.join(unknown)}; choose from {', '.join(STEPS)}")
    for name in args.steps or STEPS:
        STEPS[name]()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
