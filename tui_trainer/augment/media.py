"""Reading inputs and encoding outputs for augmentation: images via Pillow, text as UTF-8."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

# The pixel limit and the header-checked open are the data package's, shared with inspect and training.
from tui_trainer.data.limits import DEFAULT_MAX_PIXELS, MAX_PIXELS_ENV, max_pixels, open_image  # noqa: F401
from tui_trainer.errors import UserError


def read_image(path: Path, limit: int | None = None) -> np.ndarray:
    """An image as H×W (grayscale, uint8 or 16-bit uint16), H×W×2 (grayscale + alpha), H×W×3 or H×W×4 (uint8).

    Palette images become RGB(A), bilevel becomes L, 32-bit and float images are scaled to 8 bits.
    A UserError names the file if Pillow cannot read it, or if it declares more than `limit` pixels.
    """
    import warnings

    from PIL import Image, UnidentifiedImageError

    try:
        with open_image(path, limit) as im, warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our limit was checked above
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
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, MemoryError) as exc:
        raise UserError(f"{path}: not a readable image ({exc or type(exc).__name__})") from None


def _to_8bit(im) -> object:
    """Deep (16-bit / float) grayscale scaled to 0–255 by its own range, so nothing saturates."""
    from PIL import Image

    arr = np.asarray(im, dtype=np.float64)
    finite = np.isfinite(arr)
    if not finite.all():  # NaN/inf pixels in a float TIFF: black, not garbage from an undefined cast
        arr = np.where(finite, arr, np.nan)
    lo, hi = (float(np.nanmin(arr)), float(np.nanmax(arr))) if finite.any() else (0.0, 0.0)
    scaled = np.zeros_like(arr) if hi == lo else (arr - lo) / (hi - lo) * 255.0
    scaled = np.nan_to_num(scaled, nan=0.0)
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


MAX_TEXT_BYTES = 16 * 1024 * 1024  # read whole, and augmenting costs ~100 bytes a byte (token lists)


def read_text(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_TEXT_BYTES:
            raise UserError(
                f"{path}: larger than {MAX_TEXT_BYTES // 2**20} MB; expected a text file to augment"
            )
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
    try:
        with open_image(path) as im:
            if im.mode != "P":
                return None
            im.load()
            return np.asarray(im).copy(), im.copy()
    except (OSError, ValueError, SyntaxError, EOFError, UserError):
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
