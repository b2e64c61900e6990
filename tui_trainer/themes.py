"""Themes: `themes/*.toml` (and the user's config-dir themes) parsed with tomllib into Textual Themes.

A malformed file is skipped with a warning naming the file and the key; it never stops the app.
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_trainer import paths

if TYPE_CHECKING:
    from textual.theme import Theme

log = logging.getLogger(__name__)

COLOR_KEYS = (
    "primary",
    "secondary",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
    "warning",
    "error",
    "success",
)
REQUIRED_KEYS = ("name", "primary")


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


def _check_color(path: Path, key: str, value: Any) -> str:
    from textual.color import Color, ColorParseError

    if not isinstance(value, str):
        raise ThemeFileError(f"{path}: key '{key}' must be a colour string like '#1e90ff', got {value!r}")
    try:
        Color.parse(value)
    except ColorParseError:
        raise ThemeFileError(f"{path}: key '{key}' is not a colour: {value!r} (expected e.g. '#1e90ff')") from None
    return value


def parse_theme_file(path: Path) -> ThemeSpec:
    """Read one theme file; raises ThemeFileError naming the file and the offending key."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ThemeFileError(f"{path}: not valid TOML ({exc})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ThemeFileError(f"{path}: cannot read theme file ({exc})") from None
    for key in REQUIRED_KEYS:
        if key not in data:
            raise ThemeFileError(f"{path}: missing required key '{key}'")
    name = data["name"]
    if not isinstance(name, str) or not name.strip() or any(c.isspace() for c in name):
        raise ThemeFileError(f"{path}: key 'name' must be a non-empty string without spaces, got {name!r}")
    dark = data.get("dark", True)
    if not isinstance(dark, bool):
        raise ThemeFileError(f"{path}: key 'dark' must be true or false, got {dark!r}")
    colors = {key: _check_color(path, key, data[key]) for key in COLOR_KEYS if key in data}
    variables_raw = data.get("variables", {})
    if not isinstance(variables_raw, dict):
        raise ThemeFileError(f"{path}: key 'variables' must be a table of strings")
    variables: dict[str, str] = {}
    for key, value in variables_raw.items():
        if not isinstance(value, str):
            raise ThemeFileError(f"{path}: key 'variables.{key}' must be a string, got {value!r}")
        variables[key] = value
    unknown = set(data) - set(COLOR_KEYS) - {"name", "dark", "variables", "description"}
    if unknown:
        raise ThemeFileError(f"{path}: unknown key '{sorted(unknown)[0]}' (known: name, dark, {', '.join(COLOR_KEYS)}, variables)")
    return ThemeSpec(name=name, source=path, dark=dark, colors=colors, variables=variables)


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
