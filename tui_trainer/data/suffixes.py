"""Which files are images, text or audio, by suffix: the one list the Data and Augment panes, `augment` and training use."""

from __future__ import annotations

from pathlib import Path

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"})
TEXT_SUFFIXES = frozenset({".txt", ".text", ".md", ".csv"})
AUDIO_SUFFIXES = frozenset({".wav", ".wave"})


def is_image(path: Path | str) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def media_kind(path: Path | str) -> str:
    """"audio", "text" or "image" (anything else is tried as an image, which names the file if it is not one)."""
    suffix = Path(path).suffix.lower()
    if suffix in AUDIO_SUFFIXES:
        return "audio"
    if suffix in TEXT_SUFFIXES:
        return "text"
    return "image"
