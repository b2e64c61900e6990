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


@pytest.fixture(autouse=True)
def restored_logging():
    """`logs.setup_logging` (run by the app and the CLI in-process) stops the package logger propagating and
    adds a file handler in that test's temp dir; undo it, so a later test's caplog sees the records."""
    import logging

    logger = logging.getLogger("tui_trainer")
    handlers, propagate, level = list(logger.handlers), logger.propagate, logger.level
    yield
    for handler in list(logger.handlers):
        if handler not in handlers:
            logger.removeHandler(handler)
            handler.close()
    logger.propagate, logger.level = propagate, level


@pytest.fixture(autouse=True)
def fake_environment_audit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The app opens on the Environment pane, whose first activation runs the audit (a torch child process).

    App tests that are not about the audit get a deterministic fake instead, so they neither pay for
    nor depend on this machine's torch; tests of the pane itself patch AUDIT_FUNCTION again.
    """
    from tests.panes.test_env import fake_result
    from tui_trainer.panes import env

    result = fake_result(gpu=False)

    def audit(options, progress=None, cancel=None):
        return result

    monkeypatch.setattr(env, "AUDIT_FUNCTION", audit)
