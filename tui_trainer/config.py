"""The user's own settings: `$XDG_CONFIG_HOME/tui-trainer/config.toml`, read with tomllib, written with tomli-w."""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from tui_trainer import paths
from tui_trainer.atomic import atomic_write_bytes
from tui_trainer.errors import UserError

log = logging.getLogger(__name__)

DEFAULT_THEME = "trainer-dark"


@dataclass
class UserConfig:
    """Settings that persist between sessions. Unknown keys in the file are kept, not dropped."""

    theme: str = DEFAULT_THEME
    extra: dict[str, Any] | None = None

    def to_toml_dict(self) -> dict[str, Any]:
        data = dict(self.extra or {})
        data["theme"] = self.theme
        return data


def load_user_config(path: Path | None = None) -> UserConfig:
    """Read the config file; a missing file gives defaults, a malformed one a UserError naming it."""
    path = path or paths.config_file()
    if not path.exists():
        return UserConfig()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: not valid TOML ({exc})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read config ({exc})") from None
    theme = data.pop("theme", DEFAULT_THEME)
    if not isinstance(theme, str) or not theme:
        raise UserError(f"{path}: key 'theme' must be a non-empty string, got {theme!r}")
    return UserConfig(theme=theme, extra=data)


def save_user_config(config: UserConfig, path: Path | None = None) -> Path:
    """Write the config atomically, so an interrupted save never leaves a broken file."""
    path = path or paths.config_file()
    return atomic_write_bytes(path, tomli_w.dumps(config.to_toml_dict()).encode("utf-8"))


def load_user_config_or_default(path: Path | None = None) -> UserConfig:
    """Like load_user_config, but a broken file is logged and replaced by defaults in memory."""
    try:
        return load_user_config(path)
    except UserError as exc:
        log.warning("%s; using defaults", exc)
        return UserConfig()
