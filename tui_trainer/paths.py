"""Where tui-trainer keeps its files: XDG config, state (logs) and cache dirs, and the repo's themes."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "tui-trainer"


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var, "").strip()
    base = Path(value) if value and Path(value).is_absolute() else Path.home() / fallback
    return base / APP_NAME


def config_dir() -> Path:
    """`$XDG_CONFIG_HOME/tui-trainer` (default `~/.config/tui-trainer`)."""
    return _xdg("XDG_CONFIG_HOME", ".config")


def state_dir() -> Path:
    """`$XDG_STATE_HOME/tui-trainer` (default `~/.local/state/tui-trainer`): logs live here."""
    return _xdg("XDG_STATE_HOME", ".local/state")


def cache_dir() -> Path:
    """`$XDG_CACHE_HOME/tui-trainer` (default `~/.cache/tui-trainer`)."""
    return _xdg("XDG_CACHE_HOME", ".cache")


def config_file() -> Path:
    return config_dir() / "config.toml"


def log_file() -> Path:
    return state_dir() / "tui-trainer.log"


def repo_root() -> Path:
    """The checkout this package runs from (it holds themes/ and sample_data/)."""
    return Path(__file__).resolve().parent.parent


def bundled_themes_dir() -> Path:
    return repo_root() / "themes"


def user_themes_dir() -> Path:
    return config_dir() / "themes"


def sample_data_dir() -> Path:
    return repo_root() / "sample_data"
