"""Themes: `themes/*.toml` (and the user's config-dir themes) read through the `ThemeFile` schema into Textual Themes.

A malformed file is skipped with a warning naming the file and the key; it never stops the app.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import msgspec
from msgspec import Meta

from tui_trainer import paths, schema

if TYPE_CHECKING:
    from textual.theme import Theme

log = logging.getLogger(__name__)

Colour = Annotated[str, Meta(extra={"expected": "a colour string like '#1e90ff'"})]


class ThemeFile(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The keys of a theme file; colours are checked with Textual's parser after the types."""

    name: Annotated[
        str,
        Meta(
            pattern=r"^\S+$",
            extra={"expected": "a non-empty string without spaces"},
            description="the name `--theme` and the palette use",
        ),
    ]
    description: str = ""
    dark: Annotated[bool, Meta(description="a dark theme (Textual derives shades from this)")] = True
    primary: Colour
    secondary: Colour | None = None
    accent: Colour | None = None
    foreground: Colour | None = None
    background: Colour | None = None
    surface: Colour | None = None
    panel: Colour | None = None
    boost: Colour | None = None
    warning: Colour | None = None
    error: Colour | None = None
    success: Colour | None = None
    variables: Annotated[
        dict[str, str], Meta(description="Textual theme variables, e.g. `block-cursor-background`")
    ] = {}


COLOR_KEYS = tuple(
    name for name in ThemeFile.__struct_fields__ if name not in ("name", "description", "dark", "variables")
)


@dataclass(frozen=True)
class ThemeSpec:
    """A theme as read from a TOML file, before Textual turns it into a Theme."""

    name: str
    source: Path
    dark: bool = True
    colors: dict[str, str] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)

    def to_textual(self) -> Theme:
        from textual.theme import Theme

        return Theme(name=self.name, dark=self.dark, variables=dict(self.variables), **self.colors)


class ThemeFileError(ValueError):
    """A theme file that cannot be used; the message names the file and the key."""


def _check_color(path: Path, key: str, value: str) -> str:
    from textual.color import Color, ColorParseError

    try:
        Color.parse(value)
    except ColorParseError:
        raise ThemeFileError(
            f"{path}: key '{key}' is not a colour: {value!r} (expected e.g. '#1e90ff')"
        ) from None
    return value


def parse_theme_file(path: Path) -> ThemeSpec:
    """Read one theme file; raises ThemeFileError naming the file and the offending key."""
    data = schema.read_toml(path, "theme", ThemeFileError)
    theme = schema.convert(data, ThemeFile, str(path), error=ThemeFileError, key=schema.quoted)
    colors = {}
    for key in COLOR_KEYS:
        value = getattr(theme, key)
        if value is not None:
            colors[key] = _check_color(path, key, value)
    return ThemeSpec(
        name=theme.name, source=path, dark=theme.dark, colors=colors, variables=dict(theme.variables)
    )


def theme_dirs() -> list[Path]:
    """Bundled themes first, then the user's, so a user theme with the same name wins."""
    return [paths.bundled_themes_dir(), paths.user_themes_dir()]


def load_theme_specs(dirs: list[Path] | None = None) -> tuple[list[ThemeSpec], list[str]]:
    """All usable theme files in `dirs`, plus one warning per skipped file."""
    specs: dict[str, ThemeSpec] = {}
    warnings: list[str] = []
    for directory in dirs if dirs is not None else theme_dirs():
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.toml")):
            try:
                spec = parse_theme_file(path)
            except ThemeFileError as exc:
                warnings.append(f"theme skipped: {exc}")
                log.warning("theme skipped: %s", exc)
                continue
            specs[spec.name] = spec
    return list(specs.values()), warnings
