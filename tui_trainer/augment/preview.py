"""What the Augment pane shows, computed without a UI: the file, its variants, and the editable parameters.

Variant k of seed S is drawn from `np.random.default_rng([S, k])`, exactly as `tui-trainer augment
--seed S` does, so the preview and the files the CLI writes are the same pictures.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tui_trainer.augment.pipeline import Pipeline
from tui_trainer.augment.text import TextResult, TextSpec, augment_document, augment_text
from tui_trainer.data.suffixes import media_kind
from tui_trainer.errors import UserError

PREVIEW_TEXT_LINES = 4
PREVIEW_MAX_SIDE = 1024
PREVIEW_MIN_WORDS = 6
PREVIEW_MAX_LINES = 500


def sample_files(root: Path) -> list[Path]:
    """The sample files worth previewing, images first: photos, a few digits, the texts, the audio."""
    files: list[Path] = []
    files += sorted((root / "images").glob("*.jpg")) + sorted((root / "images").glob("*.png"))
    digits = root / "digits"
    if digits.is_dir():
        for d in sorted(p for p in digits.iterdir() if p.is_dir())[:3]:
            files += sorted(d.glob("*.png"))[:1]
    files += sorted((root / "text").glob("*.csv")) + sorted((root / "text").glob("*.txt"))
    files += sorted((root / "audio").glob("*.wav"))
    return files


# ----- the file ----------------------------------------------------------------------------------


@dataclass
class Source:
    """A loaded input: exactly one of image / lines / audio is set according to `kind`."""

    path: Path
    kind: str
    image: np.ndarray | None = None
    lines: list[str] = field(default_factory=list)  # text: the examples up to the last one shown
    shown: list[int] = field(default_factory=list)  # text: which of `lines` the preview displays
    audio: np.ndarray | None = None
    rate: int = 0
    full_size: tuple[int, int] | None = (
        None  # image: (w, h) of the file when the preview works on a smaller copy
    )

    def describe(self) -> str:
        if self.kind == "image" and self.image is not None:
            h, w = self.image.shape[:2]
            c = 1 if self.image.ndim == 2 else self.image.shape[2]
            size = (
                f"{w}×{h}"
                if self.full_size is None
                else f"{self.full_size[0]}×{self.full_size[1]}, previewed at {w}×{h}"
            )
            return f"{self.path.name} · image {size} · {c} channel{'s' if c != 1 else ''}"
        if self.kind == "audio" and self.audio is not None:
            return f"{self.path.name} · audio {self.audio.shape[0] / self.rate:.2f} s · {self.rate} Hz"
        return f"{self.path.name} · text · {len(self.shown)} of the first {len(self.lines)} examples"


def load_source(path: Path) -> Source:
    """Read a file for the preview; a UserError names the file if it is missing or unreadable."""
    from tui_trainer.augment import media

    path = Path(path).expanduser()
    if not path.exists():
        raise UserError(f"{path}: no such file")
    if not path.is_file():
        raise UserError(f"{path}: not a file")
    kind = media_kind(path)
    if kind == "image":
        image = media.read_image(path)
        h, w = image.shape[:2]
        if max(h, w) <= PREVIEW_MAX_SIDE:
            return Source(path, kind, image=image)
        # A terminal shows a few hundred pixels at most; a 24-megapixel photo would cost seconds per key press.
        # Pixel-valued parameters (shifts in px, blur sigma) act on the smaller copy's pixels.
        return Source(path, kind, image=_shrink(image, PREVIEW_MAX_SIDE), full_size=(w, h))
    if kind == "audio":
        from tui_trainer.augment.audio import read_wav

        samples, rate = read_wav(path)
        return Source(path, kind, audio=samples, rate=rate)
    lines, shown = _preview_lines(path, media.read_text(path))
    return Source(path, kind, lines=lines, shown=shown)


def _shrink(image: np.ndarray, side: int) -> np.ndarray:
    from PIL import Image

    h, w = image.shape[:2]
    scale = side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if image.dtype == np.uint16:
        return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.NEAREST))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BOX))


# ----- what one text example is ------------------------------------------------------------------
_SENTENCE_END = re.compile(r"""[.!?]["')\]]*\s*$""")


def reads_as_prose(text: str) -> bool:
    """Whether a plain-text file is hard-wrapped prose, whose examples are its paragraphs.

    The rule: no line holds a tab (LABEL<TAB>TEXT files are records, one per line), and at least half of the
    line breaks between two non-blank lines fall mid-sentence -- the line does not end a sentence (. ! ?,
    maybe followed by a closing quote or bracket) and the next line starts with a lower-case letter -- with
    at least one such break. A file of one sentence per line breaks at sentence ends, so it is read a line
    per example; a novel wrapped at 70 columns breaks mid-sentence almost every time.
    """
    if "\t" in text:
        return False
    inside = mid_sentence = 0
    previous = ""
    for line in text.splitlines():
        if previous.strip() and line.strip():
            inside += 1
            if not _SENTENCE_END.search(previous) and line.lstrip()[:1].islower():
                mid_sentence += 1
        previous = line
    return mid_sentence > 0 and 2 * mid_sentence >= inside


def paragraphs(text: str) -> list[str]:
    """The text split into alternating runs: blank-line separators (str) and paragraphs (the non-blank
    lines of a block, their inner line breaks kept, without the block's last line ending)."""
    runs: list[str] = []
    block = ""
    for line in text.splitlines(keepends=True):
        if line.strip():
            block += line
            continue
        if block:
            body = block.rstrip("\r\n")
            runs += [body, block[len(body) :]]
            block = ""
        runs.append(line)
    if block:
        body = block.rstrip("\r\n")
        runs += [body, block[len(body) :]] if len(body) < len(block) else [body]
    return runs


def text_examples(text: str) -> list[str]:
    """The examples of a plain-text file, as `tui-trainer augment` and the Augment pane both see them: its
    paragraphs when it reads as prose (`reads_as_prose`), else its non-blank lines."""
    if reads_as_prose(text):
        return [run for run in paragraphs(text) if run.strip()]
    return [line for line in text.splitlines() if line.strip()]


def augment_text_file(
    text: str, spec: TextSpec, rng: np.random.Generator, *, labelled: bool = False
) -> list[TextResult | str]:
    """Augment a plain-text file example by example (see `text_examples`); everything between the examples
    (line endings, blank lines) is kept. What `tui-trainer augment` writes for a .txt file. Prose has no
    tab, so no LABEL<TAB> prefix: `labelled` only matters a line per example."""
    if not reads_as_prose(text):
        return augment_document(text, spec, rng, labelled=labelled)
    return [augment_text(run, spec, rng) if run.strip() else run for run in paragraphs(text)]


def _preview_lines(path: Path, text: str) -> tuple[list[str], list[int]]:
    """The examples (CSV text cells, or `text_examples`) up to the PREVIEW_TEXT_LINES-th with at least
    PREVIEW_MIN_WORDS words, and the indices of those worth showing (a title line says little)."""
    if path.suffix.lower() == ".csv":
        import csv
        import io

        rows = list(csv.reader(io.StringIO(text)))
        if not rows:
            return [], []
        col = rows[0].index("text") if "text" in rows[0] else 0
        examples = (r[col] for r in rows[1:] if col < len(r) and r[col].strip())
    else:
        examples = iter(text_examples(text))
    lines: list[str] = []
    shown: list[int] = []
    for line in examples:
        lines.append(line)
        if len(line.split()) >= PREVIEW_MIN_WORDS:
            shown.append(len(lines) - 1)
            if len(shown) == PREVIEW_TEXT_LINES:
                break
        if len(lines) >= PREVIEW_MAX_LINES:
            break
    return lines, shown or list(range(min(len(lines), PREVIEW_TEXT_LINES)))


# ----- the variants ------------------------------------------------------------------------------


@dataclass
class Preview:
    """The original and its variants, ready to draw (images as uint8 arrays, text as edit-tagged results)."""

    kind: str
    seed: int
    original: Any
    variants: list[Any]
    spectrograms: list[np.ndarray] = field(default_factory=list)  # audio: original first


def render_preview(
    source: Source,
    pipeline: Pipeline,
    seed: int,
    n: int,
    cancelled: Callable[[], bool] = lambda: False,
    colours: dict[str, tuple[int, int, int]] | None = None,
) -> Preview | None:
    """Compute n variants (None if `cancelled()` turns true part-way, so a stale render is dropped)."""
    variants: list[Any] = []
    if source.kind == "image":
        assert source.image is not None
        for k in range(n):
            if cancelled():
                return None
            variants.append(
                pipeline.apply_numpy(source.image, np.random.default_rng([seed, k]), skip_normalize=True)
            )
        return Preview("image", seed, source.image, variants)
    if source.kind == "text":
        spec = pipeline.text_spec()
        labelled = bool(pipeline.text.get("labelled", False)) and source.path.suffix.lower() != ".csv"
        for k in range(n):
            if cancelled():
                return None
            rng = np.random.default_rng([seed, k])
            # Same order of draws as `augment_document` / `augment_csv`, so these are the CLI's first lines.
            results: list[tuple[str, TextResult]] = []
            for line in source.lines:  # every line draws, shown or not, as in the CLI
                label, body = line.split("\t", 1) if labelled and "\t" in line else ("", line)
                results.append((label + "\t" if label else "", augment_text(body, spec, rng)))
            variants.append([results[i] for i in source.shown])
        return Preview("text", seed, [source.lines[i] for i in source.shown], variants)
    assert source.audio is not None
    colours = colours or {}
    waves, specs = [], []
    for k in range(-1, n):
        if cancelled():
            return None
        samples = (
            source.audio
            if k < 0
            else pipeline.apply_audio(source.audio, source.rate, np.random.default_rng([seed, k]))
        )
        waves.append(
            waveform_image(samples, colours.get("wave", (80, 160, 255)), colours.get("background", (0, 0, 0)))
        )
        specs.append(
            spectrogram_image(
                samples, source.rate, colours.get("low", (0, 0, 0)), colours.get("high", (255, 200, 0))
            )
        )
    return Preview("audio", seed, waves[0], waves[1:], specs)


def waveform_image(
    samples: np.ndarray,
    fg: tuple[int, int, int],
    bg: tuple[int, int, int],
    width: int = 240,
    height: int = 48,
) -> np.ndarray:
    """A min/max envelope of the waveform as a height×width×3 image (time left to right, ±1 full height)."""
    mono = samples if samples.ndim == 1 else samples.mean(axis=1)
    img = np.empty((height, width, 3), dtype=np.uint8)
    img[:] = bg
    if mono.size == 0:
        return img
    edges = np.linspace(0, mono.size, width + 1).astype(int)
    mid = (height - 1) / 2
    for x in range(width):
        chunk = mono[edges[x] : max(edges[x + 1], edges[x] + 1)]
        lo, hi = float(np.clip(chunk.min(), -1, 1)), float(np.clip(chunk.max(), -1, 1))
        top = int(round(mid - hi * mid))
        bottom = int(round(mid - lo * mid))
        img[top : bottom + 1, x] = fg
    return img


def spectrogram_image(
    samples: np.ndarray,
    rate: int,
    low: tuple[int, int, int],
    high: tuple[int, int, int],
    width: int = 120,
    height: int = 32,
    floor_db: float = 60.0,
) -> np.ndarray:
    """Log-power spectrogram (low frequencies at the bottom) coloured from `low` to `high` over `floor_db` dB."""
    from tui_trainer.augment.audio import spectrogram_db

    _f, _t, db = spectrogram_db(samples, rate)
    if db.size == 0:
        return np.zeros((height, width, 3), dtype=np.uint8)
    top = float(db.max())
    level = np.clip((db - (top - floor_db)) / floor_db, 0.0, 1.0)[::-1]  # high frequencies on top
    ys = np.minimum((np.arange(height) * level.shape[0]) // height, level.shape[0] - 1)
    xs = np.minimum((np.arange(width) * level.shape[1]) // width, level.shape[1] - 1)
    grid = level[ys][:, xs][..., None]
    lo, hi = np.asarray(low, dtype=np.float32), np.asarray(high, dtype=np.float32)
    return np.clip(lo + (hi - lo) * grid, 0, 255).astype(np.uint8)


# ----- the editable parameters ---------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """One keyboard-editable knob on the pipeline config.

    Kinds: "num" (the key's number), "sym" (a ± spread a stored as [centre − a, centre + a]), "int",
    "bool", "choice" (cycles through `choices`), "opt" (a number, or off below `lo`).
    """

    section: str
    key: str
    label: str
    kind: str
    step: float = 1.0
    lo: float = 0.0
    hi: float = 1.0
    centre: float = 0.0
    choices: tuple[str, ...] = ()
    unit: str = ""
    default: Any = 0

    def value(self, pipeline: Pipeline) -> Any:
        raw = getattr(pipeline, self.section).get(self.key)
        if self.kind == "sym":
            if raw is None:
                return 0.0
            if isinstance(raw, list):
                return round((raw[1] - raw[0]) / 2, 6)
            return round(abs(float(raw) - self.centre), 6)
        if raw is None:
            return None if self.kind == "opt" else self.default
        return raw

    def display(self, pipeline: Pipeline) -> str:
        v = self.value(pipeline)
        if self.kind == "bool":
            return "on" if v else "off"
        if self.kind == "choice":
            return str(v)
        if self.kind == "opt" and v is None:
            return "off"
        if isinstance(v, list):
            return f"{v[0]:g}..{v[1]:g}{self.unit}"
        if self.kind == "sym":
            return f"±{v:g}{self.unit}" if v else "off"
        return f"{v:g}{self.unit}"

    def nudge(self, pipeline: Pipeline, direction: int) -> None:
        """Move the value one step up (direction > 0) or down, within [lo, hi]; choices and bools cycle."""
        v = self.value(pipeline)
        if self.kind == "bool":
            pipeline.set(self.section, self.key, not bool(v))
            return
        if self.kind == "choice":
            i = self.choices.index(v) if v in self.choices else 0
            pipeline.set(self.section, self.key, self.choices[(i + direction) % len(self.choices)])
            return
        if self.kind == "opt" and v is None:
            if direction > 0:
                pipeline.set(self.section, self.key, self.lo)
            return
        if isinstance(v, list):  # a range from a loaded file: nudge its spread
            v = (v[1] - v[0]) / 2
        new = round(float(v) + direction * self.step, 6)
        if self.kind == "opt" and new < self.lo:
            pipeline.set(self.section, self.key, None)
            return
        new = min(self.hi, max(self.lo, new))
        if self.kind == "int":
            pipeline.set(self.section, self.key, int(new))
        elif self.kind == "sym":
            pipeline.set(self.section, self.key, [self.centre - new, self.centre + new] if new else None)
        elif self.key in ("width_shift_range", "height_shift_range") and new >= 1:
            pipeline.set(self.section, self.key, 0.95)  # the pane edits the fraction form; pixels via a file
        else:
            pipeline.set(self.section, self.key, new)


IMAGE_PARAMS: tuple[Param, ...] = (
    Param("image", "rotation_range", "rotation range", "num", 5, 0, 180, unit="°"),
    Param("image", "width_shift_range", "width shift range", "num", 0.05, 0, 0.95),
    Param("image", "height_shift_range", "height shift range", "num", 0.05, 0, 0.95),
    Param("image", "shear_range", "shear range", "num", 5, 0, 60, unit="°"),
    Param("image", "zoom_range", "zoom range", "num", 0.05, 0, 0.95),
    Param("image", "horizontal_flip", "horizontal flip", "bool"),
    Param("image", "vertical_flip", "vertical flip", "bool"),
    Param(
        "image",
        "fill_mode",
        "fill mode",
        "choice",
        choices=("nearest", "constant", "reflect", "wrap"),
        default="nearest",
    ),
    Param("image", "rotate", "rotate (exact)", "num", 15, -180, 180, unit="°"),
    Param("image", "zoom", "zoom (exact)", "num", 0.1, 0.1, 4, default=1.0, unit="×"),
    Param("image", "brightness", "brightness", "sym", 0.1, 0, 0.9, centre=1.0),
    Param("image", "contrast", "contrast", "sym", 0.1, 0, 0.9, centre=1.0),
    Param("image", "saturation", "saturation", "sym", 0.1, 0, 1.0, centre=1.0),
    Param("image", "hue", "hue", "sym", 0.02, 0, 0.5),
    Param("image", "noise_std", "noise std", "num", 0.01, 0, 0.5),
    Param("image", "blur_sigma", "blur sigma", "num", 0.25, 0, 5, unit="px"),
    Param("image", "erase_p", "random erasing p", "num", 0.1, 0, 1),
    Param(
        "image",
        "interpolation",
        "interpolation",
        "choice",
        choices=("bilinear", "nearest"),
        default="bilinear",
    ),
)
TEXT_PARAMS: tuple[Param, ...] = (
    Param("text", "synonym_replacement", "synonym replacement", "int", 1, 0, 20),
    Param("text", "random_insertion", "random insertion", "int", 1, 0, 20),
    Param("text", "random_swap", "random swap", "int", 1, 0, 20),
    Param("text", "random_deletion", "random deletion", "int", 1, 0, 20),
    Param("text", "typos", "typos", "int", 1, 0, 20),
)
AUDIO_PARAMS: tuple[Param, ...] = (
    Param("audio", "gain_db", "gain", "sym", 1, 0, 24, unit=" dB"),
    Param("audio", "snr_db", "noise SNR", "opt", 5, 0, 60, unit=" dB"),
    Param("audio", "shift", "time shift", "sym", 0.05, 0, 0.5),
    Param("audio", "speed", "speed", "sym", 0.05, 0, 0.5, centre=1.0),
    Param("audio", "pitch", "pitch", "sym", 0.5, 0, 12, unit=" st"),
    Param("audio", "time_mask", "time mask", "num", 0.05, 0, 0.5),
    Param("audio", "freq_mask", "frequency mask", "num", 0.05, 0, 0.5),
)
PARAMS: dict[str, tuple[Param, ...]] = {"image": IMAGE_PARAMS, "text": TEXT_PARAMS, "audio": AUDIO_PARAMS}
VARIANT_COUNTS: dict[str, int] = {"image": 8, "text": 4, "audio": 3}
