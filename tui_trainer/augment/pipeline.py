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
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import msgspec
import numpy as np
from msgspec import Meta

from tui_trainer import schema
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

T = TypeVar("T")
_Pair = Annotated[list[T], Meta(min_length=2, max_length=2)]
# Each op is optional (None = not in the file); `kind` picks the message wording and the value rules:
# "num" a number; "range" a number or [lo, hi]; "pair" [lo, hi] only; "shift" Keras' rule (an integer is
# pixels); "zoom_range" z in [0, 1) or [lo, hi]; "prob" true/false or a probability; "int" a whole number;
# "bool"; "floats" a list of numbers; "choice". Bounds are on the number types below.
Num = Annotated[T | None, Meta(extra={"kind": "num"})]
Range = Annotated[T | _Pair[T] | None, Meta(extra={"kind": "range"})]
Pair = Annotated[_Pair[T] | None, Meta(extra={"kind": "pair"})]
Choice = Annotated[T | None, Meta(extra={"kind": "choice"})]
Flag = Annotated[bool | None, Meta(extra={"kind": "bool"})]
Count = Annotated[Annotated[int, Meta(ge=0)] | None, Meta(extra={"kind": "int"})]
Prob = Annotated[bool | Annotated[float, Meta(ge=0, le=1)] | None, Meta(extra={"kind": "prob"})]
Floats = Annotated[Annotated[list[float], Meta(min_length=1)] | None, Meta(extra={"kind": "floats"})]

# Past these the arithmetic overflows (coordinates past int64, gains past float32) or means nothing.
Big = Annotated[float, Meta(ge=-1e6, le=1e6)]
Angle = Annotated[float, Meta(ge=-89, le=89)]
Magnification = Annotated[float, Meta(ge=0.01, le=100)]
Unit = Annotated[float, Meta(ge=0, le=1)]
Share = Annotated[float, Meta(gt=0, le=1)]
Positive = Annotated[float, Meta(gt=0)]
Factor = Annotated[float, Meta(ge=0)]


class _Ops(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One section of a pipeline file; unknown keys are an error naming the op."""


class ImageOps(_Ops):
    rotation_range: Num[Big] = None
    width_shift_range: Annotated[
        Annotated[int, Meta(ge=-1_000_000, le=1_000_000)] | Big | None,
        Meta(
            extra={"kind": "shift"},
            description="< 1: a fraction of the width; >= 1 pixels (an integer: whole)",
        ),
    ] = None
    height_shift_range: Annotated[
        Annotated[int, Meta(ge=-1_000_000, le=1_000_000)] | Big | None,
        Meta(extra={"kind": "shift"}, description="as width_shift_range, of the height"),
    ] = None
    shear_range: Num[Angle] = None
    zoom_range: Annotated[
        Annotated[float, Meta(ge=0, lt=1)] | _Pair[Annotated[float, Meta(gt=0, le=100)]] | None,
        Meta(
            extra={"kind": "zoom_range"}, description="z: a coordinate scale in [1 - z, 1 + z]; or [lo, hi]"
        ),
    ] = None
    horizontal_flip: Annotated[Prob, Meta(description="true: flipped half the time; or a probability")] = None
    vertical_flip: Prob = None
    fill_mode: Choice[Literal[FILL_MODES]] = None
    cval: Num[Big] = None
    interpolation: Choice[Literal[INTERPOLATIONS]] = None
    rotate: Annotated[Num[Big], Meta(description="degrees counter-clockwise, every time")] = None
    shift_x: Num[Big] = None
    shift_y: Num[Big] = None
    shear: Num[Angle] = None
    zoom: Annotated[Num[Magnification], Meta(description="magnification: 2 = twice as large")] = None
    zoom_x: Num[Magnification] = None
    zoom_y: Num[Magnification] = None
    hflip: Flag = None
    vflip: Flag = None
    crop_scale: Range[Share] = None
    crop_ratio: Pair[Positive] = None
    brightness: Range[Factor] = None
    contrast: Range[Factor] = None
    saturation: Range[Factor] = None
    hue: Range[Annotated[float, Meta(ge=-0.5, le=0.5)]] = None
    noise_std: Range[Factor] = None
    blur_sigma: Range[Annotated[float, Meta(ge=0, le=50)]] = None
    erase_p: Num[Unit] = None
    erase_scale: Pair[Share] = None
    erase_ratio: Pair[Positive] = None
    erase_value: Num[float] = None
    normalize_mean: Floats = None
    normalize_std: Floats = None


class TextOps(_Ops):
    synonym_replacement: Count = None
    random_insertion: Count = None
    random_swap: Count = None
    random_deletion: Count = None
    typos: Count = None
    labelled: Flag = None


class AudioOps(_Ops):
    gain_db: Range[Annotated[float, Meta(ge=-120, le=120)]] = None
    snr_db: Range[Annotated[float, Meta(ge=-120, le=200)]] = None
    shift: Range[Annotated[float, Meta(ge=-1, le=1)]] = None
    speed: Range[Annotated[float, Meta(gt=0, le=20)]] = None
    pitch: Range[Annotated[float, Meta(ge=-48, le=48)]] = None
    time_mask: Num[Unit] = None
    freq_mask: Num[Unit] = None


class PipelineFile(_Ops):
    """A pipeline TOML: the three sections, each optional."""

    image: ImageOps = msgspec.field(default_factory=ImageOps)
    text: TextOps = msgspec.field(default_factory=TextOps)
    audio: AudioOps = msgspec.field(default_factory=AudioOps)


SECTIONS: dict[str, type[_Ops]] = {"image": ImageOps, "text": TextOps, "audio": AudioOps}
_EXPECTED = {
    "num": "a number",
    "shift": "a number",
    "range": "a number or a [lo, hi] pair with lo ≤ hi",
    "zoom_range": "a number or a [lo, hi] pair with lo ≤ hi",
    "pair": "a [lo, hi] pair",
    "bool": "true or false",
    "prob": "true/false or a probability in [0, 1]",
    "int": "a whole number ≥ 0",
    "floats": "a list of numbers",
}


def _kind(t: Any) -> str:
    return (t.extra or {}).get("kind", "") if isinstance(t, msgspec.inspect.Metadata) else ""


def _bounds_text(t: Any) -> str:
    """`≥ 0 and ≤ 1` from the first number type with bounds inside `t`."""
    inspect = msgspec.inspect
    stack = [t]
    while stack:
        t = stack.pop(0)
        if isinstance(t, inspect.Metadata):
            stack.append(t.type)
        elif isinstance(t, inspect.UnionType):
            stack.extend(t.types)
        elif isinstance(t, inspect.ListType):
            stack.append(t.item_type)
        elif isinstance(t, inspect.IntType | inspect.FloatType):
            parts = []
            if t.ge is not None or t.gt is not None:
                parts.append(f"≥ {t.ge:g}" if t.ge is not None else f"> {t.gt:g}")
            if t.le is not None or t.lt is not None:
                parts.append(f"≤ {t.le:g}" if t.le is not None else f"< {t.lt:g}")
            if parts:
                return " and ".join(parts)
    return ""


def _wording(p: schema.Problem, source: str) -> str:
    """Pipeline messages name `[section] key`: `aug.toml: [image] rotate: expected a number, got 'x'`."""
    if not p.key:
        if p.unknown is not None:
            return f"{source}: unknown section [{p.unknown}] (expected one of: {', '.join(SECTIONS)})"
        return f"{source}: expected a table of sections"
    section = p.key[0]
    if len(p.key) == 1:
        if p.unknown is not None:
            known = ", ".join(sorted(p.known))
            return f"{source}: [{section}] {p.unknown}: unknown op (known: {known})"
        return f"{source}: [{section}] must be a table of key = value"
    where = f"{source}: [{section}] {p.key[1]}"
    field = schema.field_type(PipelineFile, p.key[:2])
    kind = _kind(field)
    if p.out_of_range and kind == "zoom_range" and len(p.key) == 2:
        return f"{where}: a single zoom_range z means [1 − z, 1 + z], so it must be in [0, 1), got {p.got!r}"
    if p.out_of_range:
        return f"{where}: values must be {_bounds_text(p.type)}, got {p.got:g}"
    return f"{where}: expected {_EXPECTED.get(kind, p.expected)}, got {p.got!r}"


def _section_values(ops: _Ops, section: str, source: str) -> dict[str, Any]:
    """The ops a section sets, normalised (a [lo, hi] pair as floats with lo ≤ hi checked)."""
    out: dict[str, Any] = {}
    for key in ops.__struct_fields__:
        value = getattr(ops, key)
        if value is None:
            continue
        if isinstance(value, list) and _kind(schema.field_type(PipelineFile, (section, key))) != "floats":
            if value[0] > value[1]:
                kind = _kind(schema.field_type(PipelineFile, (section, key)))
                raise UserError(f"{source}: [{section}] {key}: expected {_EXPECTED[kind]}, got {value!r}")
        out[key] = value
    return out


def _convert(data: Any, source: str) -> dict[str, dict[str, Any]]:
    parsed = schema.convert(data, PipelineFile, source, wording=_wording)
    return {name: _section_values(getattr(parsed, name), name, source) for name in SECTIONS}


def validate_value(section: str, key: str, value: Any, source: str = "pipeline") -> Any:
    """Check one value against its key's schema; return it normalised (ranges as [lo, hi] lists of floats)."""
    return _convert({section: {key: value}}, source)[section][key]


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
        """Validate a TOML-shaped dict against the `PipelineFile` schema; a UserError names `[section] key`."""
        pipeline = cls(**_convert(data, source))
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
    return Pipeline.from_dict(schema.read_toml(path, "augmentation config"), source=str(path))


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
