"""The augmentation pipeline as a config: TOML sections [image], [text], [audio] ↔ the specs the ops run.

The training engine calls `load_pipeline(path)` and then `Pipeline.apply_batch_torch(images,
generator)`; the Augment pane and `tui-trainer augment` call `Pipeline.apply_numpy` (and the text
and audio twins). All of them run the same ops module, so the preview is what trains.

Value rules (the README lists every key):
- Keras-named keys mean what Keras' ImageDataGenerator means: `rotation_range = 40` → uniform in
  [−40°, 40°]; `width_shift_range` < 1 is a fraction of the width, ≥ 1 pixels (an integer: whole
  pixels); `zoom_range = z` → [1 − z, 1 + z] (or a [lo, hi] pair) as a coordinate scale;
  `horizontal_flip = true` → flipped half the time; `fill_mode`, `cval`.
- Exact keys apply their value every time: `rotate`, `shift_x`, `shift_y`, `shear`, `zoom`
  (magnification: 2 = twice as large), `zoom_x`, `zoom_y`, `hflip`, `vflip`.
- Every other numeric key takes a number (that exact value) or a [lo, hi] pair (uniform in it).
"""

from __future__ import annotations

import copy
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tui_trainer.atomic import atomic_write_bytes
from tui_trainer.augment.audio import AudioSpec, augment_audio
from tui_trainer.augment.image import (
    FILL_MODES,
    INTERPOLATIONS,
    ImageSpec,
    augment_batch_torch,
    augment_numpy,
)
from tui_trainer.augment.text import TextResult, TextSpec, augment_text
from tui_trainer.errors import UserError

if TYPE_CHECKING:
    import torch

# key → kind. Kinds: "num" (a number), "range" (number or [lo, hi]), "bool", "int" (≥ 0), "prob"
# (bool or a probability), "zoom_range" (number z or [lo, hi]), "shift_range" (Keras' rule),
# "pair" ([lo, hi] only), "floats" (a list of numbers), "choice:<a|b>".
IMAGE_KEYS: dict[str, str] = {
    "rotation_range": "num",
    "width_shift_range": "shift_range",
    "height_shift_range": "shift_range",
    "shear_range": "num",
    "zoom_range": "zoom_range",
    "horizontal_flip": "prob",
    "vertical_flip": "prob",
    "fill_mode": "choice:" + "|".join(FILL_MODES),
    "cval": "num",
    "interpolation": "choice:" + "|".join(INTERPOLATIONS),
    "rotate": "num",
    "shift_x": "num",
    "shift_y": "num",
    "shear": "num",
    "zoom": "num",
    "zoom_x": "num",
    "zoom_y": "num",
    "hflip": "bool",
    "vflip": "bool",
    "crop_scale": "range",
    "crop_ratio": "pair",
    "brightness": "range",
    "contrast": "range",
    "saturation": "range",
    "hue": "range",
    "noise_std": "range",
    "blur_sigma": "range",
    "erase_p": "num",
    "erase_scale": "pair",
    "erase_ratio": "pair",
    "erase_value": "num",
    "normalize_mean": "floats",
    "normalize_std": "floats",
}
TEXT_KEYS: dict[str, str] = {
    name: "int"
    for name in ("synonym_replacement", "random_insertion", "random_swap", "random_deletion", "typos")
}
TEXT_KEYS["labelled"] = "bool"
AUDIO_KEYS: dict[str, str] = {
    "gain_db": "range",
    "snr_db": "range",
    "shift": "range",
    "speed": "range",
    "pitch": "range",
    "time_mask": "num",
    "freq_mask": "num",
}
SECTIONS: dict[str, dict[str, str]] = {"image": IMAGE_KEYS, "text": TEXT_KEYS, "audio": AUDIO_KEYS}


def _where(source: str, section: str, key: str) -> str:
    return f"{source}: [{section}] {key}"


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def validate_value(section: str, key: str, value: Any, source: str = "pipeline") -> Any:
    """Check one value against its key's kind; return it normalised (ranges as [lo, hi] lists)."""
    kinds = SECTIONS.get(section)
    if kinds is None:
        raise UserError(f"{source}: unknown section [{section}] (expected one of: {', '.join(SECTIONS)})")
    if key not in kinds:
        raise UserError(f"{_where(source, section, key)}: unknown op (known: {', '.join(sorted(kinds))})")
    kind = kinds[key]
    where = _where(source, section, key)
    if kind.startswith("choice:"):
        choices = kind.split(":", 1)[1].split("|")
        if value not in choices:
            raise UserError(f"{where}: expected one of {', '.join(choices)}, got {value!r}")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise UserError(f"{where}: expected true or false, got {value!r}")
        return value
    if kind == "prob":
        if isinstance(value, bool):
            return value
        if _is_number(value) and 0 <= value <= 1:
            return float(value)
        raise UserError(f"{where}: expected true/false or a probability in [0, 1], got {value!r}")
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise UserError(f"{where}: expected a whole number ≥ 0, got {value!r}")
        return value
    if kind in ("num", "shift_range"):
        if not _is_number(value):
            raise UserError(f"{where}: expected a number, got {value!r}")
        if key in ("zoom", "zoom_x", "zoom_y") and value <= 0:
            raise UserError(f"{where}: expected a number > 0, got {value!r}")
        if key in ("erase_p", "time_mask", "freq_mask") and not 0 <= value <= 1:
            raise UserError(f"{where}: expected a number in [0, 1], got {value!r}")
        _check_bounds(where, key, [float(value)])
        return value
    if kind == "floats":
        if not isinstance(value, list) or not value or not all(_is_number(v) for v in value):
            raise UserError(f"{where}: expected a list of numbers, got {value!r}")
        return [float(v) for v in value]
    # range-like kinds
    if _is_number(value) and kind != "pair":
        if kind == "zoom_range" and not 0 <= value < 1:
            raise UserError(
                f"{where}: a single zoom_range z means [1 − z, 1 + z], so it must be in [0, 1), got {value!r}"
            )
        _check_bounds(where, key, [float(value)])
        return value
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(_is_number(v) for v in value)
        and value[0] <= value[1]
    ):
        if kind == "zoom_range" and value[0] <= 0:
            raise UserError(f"{where}: zoom_range bounds must be > 0, got {value!r}")
        _check_bounds(where, key, [float(value[0]), float(value[1])])
        return [float(value[0]), float(value[1])]
    expected = "a [lo, hi] pair" if kind == "pair" else "a number or a [lo, hi] pair with lo ≤ hi"
    raise UserError(f"{where}: expected {expected}, got {value!r}")


# key → (lowest allowed, whether the lowest itself is allowed, highest allowed) for range-like values.
BOUNDS: dict[str, tuple[float, bool, float]] = {
    "crop_scale": (0.0, False, 1.0),
    "crop_ratio": (0.0, False, math.inf),
    "erase_scale": (0.0, False, 1.0),
    "erase_ratio": (0.0, False, math.inf),
    "brightness": (0.0, True, math.inf),
    "contrast": (0.0, True, math.inf),
    "saturation": (0.0, True, math.inf),
    "noise_std": (0.0, True, math.inf),
    "blur_sigma": (0.0, True, 50.0),
    "speed": (0.0, False, 20.0),
    "pitch": (-48.0, True, 48.0),
    "shift": (-1.0, True, 1.0),
    # Past these the arithmetic overflows (coordinates past int64, gains past float32) or means nothing.
    "hue": (-0.5, True, 0.5),
    "zoom": (0.01, True, 100.0),
    "zoom_x": (0.01, True, 100.0),
    "zoom_y": (0.01, True, 100.0),
    "zoom_range": (0.0, False, 100.0),
    "shift_x": (-1e6, True, 1e6),
    "shift_y": (-1e6, True, 1e6),
    "width_shift_range": (-1e6, True, 1e6),
    "height_shift_range": (-1e6, True, 1e6),
    "shear": (-89.0, True, 89.0),
    "shear_range": (-89.0, True, 89.0),
    "rotate": (-1e6, True, 1e6),
    "rotation_range": (-1e6, True, 1e6),
    "cval": (-1e6, True, 1e6),
    "gain_db": (-120.0, True, 120.0),
    "snr_db": (-120.0, True, 200.0),
}


def _check_bounds(where: str, key: str, values: list[float]) -> None:
    if key not in BOUNDS:
        return
    lo, inclusive, hi = BOUNDS[key]
    for v in values:
        if (v < lo or (v == lo and not inclusive)) or v > hi:
            low = f"{'≥' if inclusive else '>'} {lo:g}"
            high = f" and ≤ {hi:g}" if math.isfinite(hi) else ""
            raise UserError(f"{where}: values must be {low}{high}, got {v:g}")


def _rng(value: Any, default: tuple[float, float]) -> tuple[float, float]:
    if value is None:
        return default
    if isinstance(value, list):
        return float(value[0]), float(value[1])
    return float(value), float(value)


@dataclass
class Pipeline:
    """A validated augmentation config: {section: {key: value}} plus the ops it drives.

    `apply_numpy` (one H×W×C image, numpy Generator), `apply_batch_torch` (an N×C×H×W tensor,
    torch.Generator, on the tensor's device), `apply_text`, `apply_audio`.
    """

    image: dict[str, Any] = field(default_factory=dict)
    text: dict[str, Any] = field(default_factory=dict)
    audio: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "pipeline") -> Pipeline:
        if not isinstance(data, dict):
            raise UserError(f"{source}: expected a table of sections")
        sections: dict[str, dict[str, Any]] = {"image": {}, "text": {}, "audio": {}}
        for section, body in data.items():
            if section not in SECTIONS:
                raise UserError(
                    f"{source}: unknown section [{section}] (expected one of: {', '.join(SECTIONS)})"
                )
            if not isinstance(body, dict):
                raise UserError(f"{source}: [{section}] must be a table of key = value")
            for key, value in body.items():
                sections[section][key] = validate_value(section, key, value, source)
        pipeline = cls(**sections)
        pipeline.check(source)
        return pipeline

    def check(self, source: str = "pipeline") -> None:
        """Cross-key checks (normalisation lists must match in length)."""
        mean, std = self.image.get("normalize_mean"), self.image.get("normalize_std")
        if (mean is None) != (std is None):
            raise UserError(f"{source}: [image] normalize_mean and normalize_std go together")
        if mean is not None and len(mean) != len(std) and 1 not in (len(mean), len(std)):
            raise UserError(f"{source}: [image] normalize_mean and normalize_std differ in length")
        if std is not None and any(v == 0 for v in std):
            raise UserError(f"{source}: [image] normalize_std: values must be non-zero")

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {
            name: dict(body)
            for name, body in (("image", self.image), ("text", self.text), ("audio", self.audio))
            if body
        }

    def copy(self) -> Pipeline:
        return copy.deepcopy(self)

    def set(self, section: str, key: str, value: Any) -> None:
        """Set one key (validated); None removes it."""
        body = getattr(self, section)
        if value is None:
            body.pop(key, None)
            return
        body[key] = validate_value(section, key, value)

    # ----- specs --------------------------------------------------------------------------------
    def image_spec(self, *, skip_normalize: bool = False) -> ImageSpec:
        c = self.image
        rot = float(c.get("rotate", 0.0))
        r = float(c.get("rotation_range", 0.0))
        shear = float(c.get("shear", 0.0))
        s = float(c.get("shear_range", 0.0))
        kwargs: dict[str, Any] = {
            "rotation": (rot - abs(r), rot + abs(r)),
            "shear": (shear - abs(s), shear + abs(s)),
            "shift_x": (float(c.get("shift_x", 0.0)),) * 2,
            "shift_y": (float(c.get("shift_y", 0.0)),) * 2,
        }
        for key, axis in (("width_shift_range", "x"), ("height_shift_range", "y")):
            v = c.get(key)
            if v is None or v == 0:
                continue
            if isinstance(v, int):
                kwargs[f"shift_{axis}_int"] = abs(v)
            elif abs(v) < 1:
                kwargs[f"shift_{axis}_frac"] = (-abs(v), abs(v))
            else:
                base = kwargs[f"shift_{axis}"][0]
                kwargs[f"shift_{axis}"] = (base - abs(v), base + abs(v))
        zoom = float(c.get("zoom", 1.0))
        kwargs["zoom_x"] = (zoom * float(c.get("zoom_x", 1.0)),) * 2
        kwargs["zoom_y"] = (zoom * float(c.get("zoom_y", 1.0)),) * 2
        z = c.get("zoom_range")
        if z is not None:
            kwargs["zoom_keras"] = (1.0 - z, 1.0 + z) if not isinstance(z, list) else (z[0], z[1])
        kwargs["hflip"] = bool(c.get("hflip", False))
        kwargs["vflip"] = bool(c.get("vflip", False))
        for key, attr in (("horizontal_flip", "hflip_p"), ("vertical_flip", "vflip_p")):
            v = c.get(key, False)
            kwargs[attr] = 0.5 if v is True else (0.0 if v is False else float(v))
        kwargs["fill_mode"] = c.get("fill_mode", "nearest")
        kwargs["cval"] = float(c.get("cval", 0.0))
        kwargs["interpolation"] = c.get("interpolation", "bilinear")
        if "crop_scale" in c:
            kwargs["crop_scale"] = _rng(c["crop_scale"], (1.0, 1.0))
            kwargs["crop_ratio"] = _rng(c.get("crop_ratio"), (3 / 4, 4 / 3))
        for key, default in (
            ("brightness", 1.0),
            ("contrast", 1.0),
            ("saturation", 1.0),
            ("hue", 0.0),
            ("noise_std", 0.0),
            ("blur_sigma", 0.0),
        ):
            kwargs[key] = _rng(c.get(key), (default, default))
        kwargs["erase_p"] = float(c.get("erase_p", 0.0))
        kwargs["erase_scale"] = _rng(c.get("erase_scale"), (0.02, 0.33))
        kwargs["erase_ratio"] = _rng(c.get("erase_ratio"), (0.3, 3.3))
        kwargs["erase_value"] = float(c.get("erase_value", 0.0))
        if not skip_normalize and "normalize_mean" in c:
            kwargs["normalize_mean"] = tuple(c["normalize_mean"])
            kwargs["normalize_std"] = tuple(c.get("normalize_std", [1.0]))
        return ImageSpec(**kwargs)

    def text_spec(self) -> TextSpec:
        return TextSpec(**{k: int(v) for k, v in self.text.items() if k != "labelled"})

    def audio_spec(self) -> AudioSpec:
        c = self.audio
        return AudioSpec(
            gain_db=_rng(c.get("gain_db"), (0.0, 0.0)),
            snr_db=_rng(c["snr_db"], (0.0, 0.0)) if "snr_db" in c else None,
            shift=_rng(c.get("shift"), (0.0, 0.0)),
            speed=_rng(c.get("speed"), (1.0, 1.0)),
            pitch=_rng(c.get("pitch"), (0.0, 0.0)),
            time_mask=float(c.get("time_mask", 0.0)),
            freq_mask=float(c.get("freq_mask", 0.0)),
        )

    # ----- running ------------------------------------------------------------------------------
    def apply_numpy(
        self, image: np.ndarray, rng: np.random.Generator, *, skip_normalize: bool = False
    ) -> np.ndarray:
        """Augment one H×W or H×W×C image (uint8 0–255 or float 0–1) with draws from `rng`."""
        return augment_numpy(image, self.image_spec(skip_normalize=skip_normalize), rng)

    def apply_batch_torch(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Augment an N×C×H×W batch (uint8 or float 0–1) on its own device; the training engine's entry point.

        Draws come from `generator` (so a seeded generator repeats a run); the geometry and colour
        arithmetic is the same as `apply_numpy`'s.
        """
        return augment_batch_torch(images, self.image_spec(), generator)

    def apply_text(self, text: str, rng: np.random.Generator) -> TextResult:
        return augment_text(text, self.text_spec(), rng)

    def apply_audio(self, samples: np.ndarray, rate: int, rng: np.random.Generator) -> np.ndarray:
        return augment_audio(samples, rate, self.audio_spec(), rng)


def load_pipeline(path: Path | str) -> Pipeline:
    """Read and validate a pipeline TOML; a UserError names the file and the bad key."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise UserError(f"{path}: augmentation config not found") from exc
    except OSError as exc:
        raise UserError(f"{path}: cannot read augmentation config ({exc.strerror or exc})") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not valid TOML ({exc})") from exc
    return Pipeline.from_dict(data, source=str(path))


def save_pipeline(pipeline: Pipeline, path: Path | str) -> Path:
    """Write the pipeline as TOML atomically (temp file + rename)."""
    import tomli_w

    body = "# tui-trainer augmentation pipeline (see the README's Augment section for every key)\n"
    body += tomli_w.dumps(pipeline.to_dict())
    return atomic_write_bytes(Path(path), body.encode("utf-8"))


def default_pipeline() -> Pipeline:
    """A moderate starting point for the preview: the seed's Keras parameter set plus light text/audio ops."""
    return Pipeline(
        image={
            "rotation_range": 20.0,
            "width_shift_range": 0.1,
            "height_shift_range": 0.1,
            "shear_range": 0.0,
            "zoom_range": 0.1,
            "horizontal_flip": True,
            "fill_mode": "nearest",
        },
        text={
            "synonym_replacement": 1,
            "random_insertion": 0,
            "random_swap": 1,
            "random_deletion": 1,
            "typos": 0,
        },
        audio={"gain_db": [-6.0, 6.0], "speed": [0.9, 1.1], "pitch": [-2.0, 2.0]},
    )
