"""The classic malformed inputs, made from small valid seeds: truncations, NUL bytes, BOMs, UTF-16, Latin-1,
giant lines, deep nesting, decompression bombs, random garbage, and special files (FIFOs, symlink loops,
dangling links, folders, device nodes) where a regular file is expected.

A *target* is one command reading one kind of file; a *mutation* turns the target's seed into a hostile
input. `build(target, mutation, tmp)` writes the input and returns the CLI arguments plus the names an
exit-2 message must mention.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "sample_data"
GIANT = 4 * 2**20  # a 4 MB line without a newline


# ----- seeds ----------------------------------------------------------------------------------------------------


def penguins_csv(rows: int = 60) -> bytes:
    lines = (SAMPLE / "penguins.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    return "".join(lines[: rows + 1]).encode("utf-8")


def penguins_records(rows: int = 30) -> list[dict]:
    return list(csv.DictReader(io.StringIO(penguins_csv(rows).decode("utf-8"))))


def png_bytes(h: int = 16, w: int = 16) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    img = np.random.default_rng(3).integers(0, 256, (h, w, 3), dtype=np.uint8)
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


def wav_bytes() -> bytes:
    from scipy.io import wavfile

    buf = io.BytesIO()
    wavfile.write(buf, 8000, (np.sin(np.arange(2000) / 4.0) * 12000).astype(np.int16))
    return buf.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares width×height; the data is a few zero rows (a decompression bomb's shape)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * min(width * 3 + 1, 1 << 16) * 4, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


TEXT = (
    b"It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want "
    b"of a wife.\nHowever little known the feelings or views of such a man may be on his first entering a "
    b"neighbourhood, this truth is so well fixed in the minds of the surrounding families.\n"
)

PIPELINE = b"""[image]
rotation_range = 10
horizontal_flip = true
brightness = [0.9, 1.1]

[text]
random_swap = 1

[audio]
gain_db = [-3.0, 3.0]
"""

REQUIREMENTS = b"""# a project's requirements
numpy>=1.20
rich
packaging ; python_version >= "3.8"
"""

SNAPSHOT = b"""[snapshot]
format = 1
incomplete = []

[python]
version = "3.11.7"
implementation = "CPython"

[packages]
numpy = "2.0.0"
rich = "13.0.0"
"""


def train_config(data: Path) -> bytes:
    return f"""[data]
path = "{data}"
label = "species"
val_fraction = 0.2

[model]
name = "mlp"
hidden = [8]

[optim]
name = "adam"
lr = 0.01

[train]
epochs = 1
batch_size = 32
seed = 0
checkpoint_every = 0
device = "cpu"
""".encode()


# ----- mutations ------------------------------------------------------------------------------------------------


def _latin1(data: bytes) -> bytes:
    text = data.decode("utf-8", "replace")
    return text.replace("e", "é", 5).replace("a", "ä", 3).encode("latin-1", "replace")


def _nul(data: bytes) -> bytes:
    mid = len(data) // 2
    return data[:mid] + b"\x00" * 16 + data[mid:].replace(b"a", b"\x00", 3)


def _garbage(data: bytes) -> bytes:
    return np.random.default_rng(len(data)).integers(0, 256, 4096, dtype=np.uint8).tobytes()


BYTE_MUTATIONS: dict[str, Callable[[bytes], bytes]] = {
    "empty": lambda d: b"",
    "truncated_1": lambda d: d[:1],
    "truncated_half": lambda d: d[: len(d) // 2],
    "truncated_last": lambda d: d[:-1],
    "nul_bytes": _nul,
    "bom_utf8": lambda d: b"\xef\xbb\xbf" + d,
    "utf16": lambda d: d.decode("utf-8", "replace").encode("utf-16"),
    "latin1": _latin1,
    "giant_line": lambda d: d + b"x" * GIANT,
    "garbage": _garbage,
}

# Format-specific: deep nesting where the format nests.
NESTING: dict[str, Callable[[], bytes]] = {
    "json": lambda: b"[" * 100_000 + b"]" * 100_000,
    "ndjson": lambda: b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n",
    "toml": lambda: b"a = " + b"[" * 50_000 + b"]" * 50_000 + b"\n",
    "jsonl": lambda: b'{"type": "step", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n",
}

SPECIAL = ("fifo", "symlink_loop", "dangling_symlink", "directory", "dev_zero", "dev_null")


def place_special(path: Path, kind: str) -> None:
    """Put a non-regular thing at `path` where a regular file is expected."""
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "symlink_loop":
        other = path.with_name(path.name + ".loop")
        path.symlink_to(other)
        other.symlink_to(path)
    elif kind == "dangling_symlink":
        path.symlink_to(path.with_name("nowhere-" + path.name))
    elif kind == "directory":
        path.mkdir()
        (path / "inside.txt").write_text("x")
    elif kind == "dev_zero":
        path.symlink_to("/dev/zero")  # endless NUL bytes: a reader without a bound never finishes
    elif kind == "dev_null":
        path.symlink_to("/dev/null")
    else:  # pragma: no cover - a typo in the table
        raise ValueError(kind)


# ----- targets --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One command reading one file kind. `setup(tmp, victim_bytes_or_None, special)` returns the CLI args."""

    name: str
    file_name: str
    seed: Callable[[], bytes]
    args: Callable[[Path, Path], list[str]]  # (tmp, victim path) -> args
    nests: str | None = None  # the NESTING key for this format
    extra: Callable[[], dict[str, bytes]] | None = None  # other files (name -> bytes) beside the victim
    area: str = ""  # who owns the command's reading code (for xfail reasons)


def _out(tmp: Path) -> str:
    return str(tmp / "out")


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target(
            "inspect_csv",
            "data.csv",
            penguins_csv,
            lambda t, v: ["inspect", str(v), "--json"],
            area="inspect",
        ),
        Target(
            "inspect_json",
            "data.json",
            lambda: json.dumps(penguins_records()).encode(),
            lambda t, v: ["inspect", str(v), "--json"],
            nests="json",
            area="inspect",
        ),
        Target(
            "inspect_ndjson",
            "data.ndjson",
            lambda: "".join(json.dumps(r) + "\n" for r in penguins_records()).encode(),
            lambda t, v: ["inspect", str(v), "--json"],
            nests="ndjson",
            area="inspect",
        ),
        Target(
            "inspect_image_folder",
            "cat/img.png",
            png_bytes,
            lambda t, v: ["inspect", str(v.parent.parent), "--json"],
            area="inspect",
        ),
        Target(
            "augment_png",
            "photo.png",
            png_bytes,
            lambda t, v: ["augment", str(v), "--n", "2", "--out", _out(t)],
        ),
        Target(
            "augment_wav",
            "tone.wav",
            wav_bytes,
            lambda t, v: ["augment", str(v), "--n", "2", "--out", _out(t)],
        ),
        Target(
            "augment_txt",
            "lines.txt",
            lambda: TEXT,
            lambda t, v: ["augment", str(v), "--n", "2", "--out", _out(t)],
        ),
        Target(
            "augment_csv",
            "reviews.csv",
            lambda: b"text,label\nthe film was good,1\nthe plot was thin,0\n",
            lambda t, v: ["augment", str(v), "--n", "2", "--out", _out(t)],
        ),
        Target(
            "augment_config",
            "aug.toml",
            lambda: PIPELINE,
            lambda t, v: ["augment", str(t / "photo.png"), "--config", str(v), "--n", "1", "--out", _out(t)],
            nests="toml",
            extra=lambda: {"photo.png": png_bytes()},
            area="pipeline schema",
        ),
        Target(
            "train_config",
            "train.toml",
            lambda: b"",  # replaced by _seed_for (needs the data path)
            lambda t, v: ["train", str(v), "--headless", "--run-dir", str(t / "run")],
            nests="toml",
            extra=lambda: {"penguins.csv": penguins_csv(80)},
            area="train config",
        ),
        Target(
            "train_data",
            "penguins.csv",
            lambda: penguins_csv(80),
            lambda t, v: ["train", str(t / "train.toml"), "--headless", "--run-dir", str(t / "run")],
            area="train data",
        ),
        Target(
            "audit_requirements",
            "requirements.txt",
            lambda: REQUIREMENTS,
            lambda t, v: ["audit", "--no-smoke", "--json", "-r", str(v)],
        ),
        Target(
            "audit_pyproject",
            "pyproject.toml",
            lambda: b'[project]\nname = "x"\ndependencies = ["numpy>=1", "rich"]\n',
            lambda t, v: ["audit", "--no-smoke", "--json", "-r", str(v)],
            nests="toml",
        ),
        Target(
            "audit_snapshot",
            "env.toml",
            lambda: SNAPSHOT,
            lambda t, v: ["audit", "--no-smoke", "--json", "--compare", str(v)],
            nests="toml",
        ),
    )
}


def seed_for(target: Target, tmp: Path) -> bytes:
    if target.name == "train_config":
        return train_config(tmp / "penguins.csv")
    return target.seed()


def build(target: Target, mutation: str, tmp: Path) -> tuple[list[str], tuple[str, ...]]:
    """Write the target's files with `mutation` applied to the victim; return (args, names to be named)."""
    for name, body in (target.extra() if target.extra else {}).items():
        (tmp / name).write_bytes(body)
    if target.name == "train_data":
        (tmp / "train.toml").write_bytes(train_config(tmp / target.file_name))
    victim = tmp / target.file_name
    victim.parent.mkdir(parents=True, exist_ok=True)
    if mutation in SPECIAL:
        place_special(victim, mutation)
    elif mutation == "deep_nesting":
        victim.write_bytes(NESTING[target.nests]())  # type: ignore[index]
    elif mutation.startswith("bomb_"):
        side = int(mutation.split("_")[1])
        victim.write_bytes(png_declaring(side, side))
    else:
        victim.write_bytes(BYTE_MUTATIONS[mutation](seed_for(target, tmp)))
    names = (
        victim.name,
        str(victim),
        victim.parent.name if target.name == "inspect_image_folder" else victim.name,
        str(tmp) if target.name == "inspect_image_folder" else victim.name,  # the folder given to inspect
    )
    if target.name.startswith("train"):
        names += ("train.toml", "data.path", "data.")
    return target.args(tmp, victim), names


def mutations_for(target: Target) -> list[str]:
    found = list(BYTE_MUTATIONS) + list(SPECIAL)
    if target.nests:
        found.append("deep_nesting")
    if target.file_name.endswith(".png"):
        found += ["bomb_12000", "bomb_60000"]
    return found


def copy_run(run: Path, tmp: Path) -> Path:
    dest = tmp / run.name
    shutil.copytree(run, dest, symlinks=True)
    return dest
