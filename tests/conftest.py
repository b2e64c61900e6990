"""Shared fixtures: XDG dirs in tmp_path (no test touches the real home), a fixed theme, no cursor blink."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DATA = REPO_ROOT / "sample_data"


@pytest.fixture(autouse=True)
def isolated_xdg(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point config, state and cache dirs at a fresh temp dir for every test."""
    base = tmp_path_factory.mktemp("xdg")
    for var, sub in (("XDG_CONFIG_HOME", "config"), ("XDG_STATE_HOME", "state"), ("XDG_CACHE_HOME", "cache")):
        path = base / sub
        path.mkdir()
        monkeypatch.setenv(var, str(path))
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")
    return base


@pytest.fixture
def subprocess_env(isolated_xdg: Path) -> dict[str, str]:
    """Environment for CLI subprocess tests: the isolated XDG dirs, no colour codes, unbuffered."""
    env = dict(os.environ)
    env.update({"NO_COLOR": "1", "PYTHONUNBUFFERED": "1", "COLUMNS": "120"})
    return env
