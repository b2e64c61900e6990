"""Reading inputs and encoding outputs for augmentation: images via Pillow, text as UTF-8."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from tui_trainer.errors import UserError


def read_image(path: Path) -> np.ndarray:
    """An image as uint8 H×W (grayscale), H×W×3 or H×W×4; a UserError names the file if Pillow cannot read it."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("L", "RGB", "RGBA"):
                converted = im
            elif im.mode in ("LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                converted = im.convert("RGBA")
            elif im.mode in ("1", "I;16", "I;16B", "I;16L", "I", "F"):
                converted = im.convert("L") if im.mode == "1" else _to_8bit(im)
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
    """PNG bytes of a uint8 H×W / H×W×C array (floats are taken as 0–1)."""
    from PIL import Image

    arr = np.asarray(image)
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
