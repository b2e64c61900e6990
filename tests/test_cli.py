"""The `tui-trainer` command through a real subprocess: version, usage errors, theme flag, headless boot."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.conftest import REPO_ROOT


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tui_trainer", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def test_version_prints_package_version(subprocess_env):
    from tui_trainer import __version__

    result = run_cli("--version", env=subprocess_env)
    assert result.returncode == 0
    assert result.stdout.strip() == f"tui-trainer {__version__}"


def test_version_does_not_import_heavy_modules():
    code = (
        "import sys, runpy; sys.argv=['tui-trainer','--version'];"
        "from tui_trainer.cli import main; main();"
        "bad=[m for m in ('torch','textual','polars','scipy') if m in sys.modules]; assert not bad, bad"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr


def test_unknown_subcommand_prints_usage_and_exits_2(subprocess_env):
    result = run_cli("frobnicate", env=subprocess_env)
    assert result.returncode == 2
    assert "usage: tui-trainer" in result.stderr
    assert "frobnicate" in result.stderr


def test_bad_flag_prints_usage_and_exits_2(subprocess_env):
    result = run_cli("--no-such-flag", env=subprocess_env)
    assert result.returncode == 2
    assert "usage:" in result.stderr


def test_unknown_theme_is_a_usage_error_naming_the_themes(subprocess_env):
    result = run_cli("--theme", "no-such-theme", env=subprocess_env)
    assert result.returncode == 2
    assert "no-such-theme" in result.stderr
    assert "trainer-dark" in result.stderr


@pytest.mark.parametrize("theme_file", sorted((REPO_ROOT / "themes").glob("*.toml")), ids=lambda p: p.stem)
def test_every_bundled_theme_is_accepted_by_the_flag(theme_file, subprocess_env, isolated_xdg):
    import tomllib

    name = tomllib.loads(theme_file.read_text())["name"]
    result = run_cli("--theme", name, env=subprocess_env)
    assert result.returncode == 0, result.stderr
    assert "booted headless" in result.stdout
    # The choice persists in the user's config.
    config = (isolated_xdg / "config" / "tui-trainer" / "config.toml").read_text()
    assert tomllib.loads(config)["theme"] == name


def test_no_terminal_boots_the_app_headless(subprocess_env):
    result = run_cli(env=subprocess_env)
    assert result.returncode == 0, result.stderr
    assert "panes: env, data, augment, train" in result.stdout


def test_help_lists_every_subcommand(subprocess_env):
    from tui_trainer.cli import SUBCOMMANDS

    result = run_cli("--help", env=subprocess_env)
    assert result.returncode == 0
    for name in SUBCOMMANDS:
        assert name in result.stdout


def test_version_is_fast(subprocess_env):
    # Not a benchmark (benchmarks/startup.py prints figures); a guard against a gross regression.
    start = time.perf_counter()
    run_cli("--version", env=subprocess_env)
    assert time.perf_counter() - start < 5
