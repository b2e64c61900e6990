"""The user's own settings: `$XDG_CONFIG_HOME/tui-trainer/config.toml` (the `UserSettings` schema), via tomli-w."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import msgspec
import tomli_w
from msgspec import Meta

from tui_trainer import paths, schema
from tui_trainer.atomic import atomic_write_bytes
from tui_trainer.errors import UserError

log = logging.getLogger(__name__)

DEFAULT_THEME = "trainer-dark"


class UserSettings(msgspec.Struct, kw_only=True):
    """The keys tui-trainer reads from the user's config file; other keys are kept as they are."""

    theme: Annotated[
        str, Meta(min_length=1, description="colour theme the app opens with (`--theme` sets it)")
    ] = DEFAULT_THEME


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
    data = schema.read_toml(path, "config")
    settings = schema.convert(data, UserSettings, str(path), key=schema.quoted)
    extra = {k: v for k, v in data.items() if k not in UserSettings.__struct_fields__}
    return UserConfig(theme=settings.theme, extra=extra)


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
