"""Reading inputs and encoding outputs for augmentation: images via Pillow, text as UTF-8."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from tui_trainer.errors import UserError

# Pixels an input image may declare before it is decoded. Augmenting costs ~40 bytes a pixel (float32 working
# copies), so 40 Mpx (an 8000×5000 photo) stays near 1.6 GB; a 140 KB PNG declaring 12000×12000 is refused
# from its header instead of driving the machine into the OOM killer.
DEFAULT_MAX_PIXELS = 40_000_000
MAX_PIXELS_ENV = "TUI_TRAINER_MAX_IMAGE_PIXELS"


def max_pixels(override: int | None = None) -> int:
    """The pixel limit: `override` (the --max-pixels flag), else $TUI_TRAINER_MAX_IMAGE_PIXELS, else the default."""
    import os

    if override is not None:
        if override < 1:
            raise UserError(f"--max-pixels: expected a whole number ≥ 1, got {override}")
        return override
    raw = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise UserError(f"${MAX_PIXELS_ENV}: expected a whole number of pixels ≥ 1, got {raw!r}")
    return value


def _too_big(path: Path, width: int, height: int, limit: int) -> UserError:
    return UserError(
        f"{path}: the image declares {width}×{height} = {width * height:,} pixels, over the limit of {limit:,}; "
        f"raise it with --max-pixels N or ${MAX_PIXELS_ENV}=N if the file is genuine"
    )


def open_image(path: Path, limit: int | None = None):
    """`PIL.Image.open` with the pixel limit checked from the header, before any pixel is decoded."""
    import re
    import warnings

    from PIL import Image

    limit = max_pixels() if limit is None else limit
    # Pillow's own bomb check (an exception past 2 × MAX_IMAGE_PIXELS) must not undercut a raised limit.
    if Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS < limit:
        Image.MAX_IMAGE_PIXELS = limit
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the limit below is ours
            im = Image.open(path)
    except Image.DecompressionBombError as exc:
        declared = re.search(r"\((\d+) pixels\)", str(exc))
        count = f"{int(declared.group(1)):,} pixels" if declared else "too many pixels"
        raise UserError(
            f"{path}: the image declares {count}, over the limit of {limit:,}; "
            f"raise it with --max-pixels N or ${MAX_PIXELS_ENV}=N if the file is genuine"
        ) from None
    width, height = im.size
    if width * height > limit:
        im.close()
        raise _too_big(path, width, height, limit)
    return im


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
