"""Reading inputs and encoding outputs for augmentation: images via Pillow, text as UTF-8."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from tui_trainer.errors import UserError


def read_image(path: Path) -> np.ndarray:
    """An image as H×W (grayscale, uint8 or 16-bit uint16), H×W×2 (grayscale + alpha), H×W×3 or H×W×4 (uint8).

    Palette images become RGB(A), bilevel becomes L, 32-bit and float images are scaled to 8 bits.
    A UserError names the file if Pillow cannot read it.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("L", "LA", "RGB", "RGBA", "I;16"):
                return np.asarray(im).copy()  # kept as they are: outputs keep the input's mode
            if im.mode == "PA" or (im.mode == "P" and "transparency" in im.info):
                converted = im.convert("RGBA")
            elif im.mode == "1":
                converted = im.convert("L")
            elif im.mode in ("I;16B", "I;16L", "I;16N"):
                converted = im.convert("I;16")
            elif im.mode in ("I", "F"):
                converted = _to_8bit(im)
            else:
                converted = im.convert("RGB")
            return np.asarray(converted).copy()
    except FileNotFoundError as exc:
        raise UserError(f"{path}: no such file") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise UserError(f"{path}: not a readable image ({exc})") from exc


def _to_8bit(im) -> object:
    """Deep (16-bit / float) grayscale scaled to 0–255 by its own range, so nothing saturates."""
    from PIL import Image

    arr = np.asarray(im, dtype=np.float64)
    lo, hi = float(arr.min()), float(arr.max())
    scaled = np.zeros_like(arr) if hi == lo else (arr - lo) / (hi - lo) * 255.0
    return Image.fromarray(np.round(scaled).astype(np.uint8), mode="L")


def png_bytes(image: np.ndarray) -> bytes:
    """PNG bytes of a uint8 H×W / H×W×C or uint16 H×W array (floats are taken as 0–1)."""
    from PIL import Image

    arr = np.asarray(image)
    if arr.dtype == np.uint16 and arr.ndim == 2:
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, format="PNG")  # mode I;16: a 16-bit grayscale PNG
        return buf.getvalue()
    if arr.dtype != np.uint8:
        arr = np.clip(np.floor(arr.astype(np.float64) * 255.0 + 0.5), 0, 255).astype(np.uint8)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise UserError(f"{path}: no such file") from exc
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror or exc})") from exc


def read_palette(path: Path) -> tuple[np.ndarray, object] | None:
    """For a palette ("P") image: its H×W index array and the PIL image (palette, transparency); else None.

    Lets pure index mappings (quarter turns, flips, whole-pixel shifts) keep a palette PNG a palette PNG.
    """
    from PIL import Image

    try:
        with Image.open(path) as im:
            if im.mode != "P":
                return None
            im.load()
            return np.asarray(im).copy(), im.copy()
    except (OSError, ValueError, SyntaxError):
        return None


def palette_png_bytes(indices: np.ndarray, like) -> bytes:
    """PNG bytes of an index array with the palette (and transparency) of the PIL image `like`."""
    from PIL import Image

    out = Image.fromarray(np.asarray(indices, dtype=np.uint8), mode="P")
    out.putpalette(like.getpalette())
    if "transparency" in like.info:
        out.info["transparency"] = like.info["transparency"]
    buf = io.BytesIO()
    out.save(
        buf,
        format="PNG",
        **({"transparency": like.info["transparency"]} if "transparency" in like.info else {}),
    )
    return buf.getvalue()
