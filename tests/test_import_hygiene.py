"""Layering rules that keep the UI fast: domain packages never import Textual; the app never imports torch."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tui_trainer
from tests.conftest import REPO_ROOT

DOMAIN_PACKAGES = ["audit", "data", "augment", "engine", "collapse"]


def _imports(module: str, forbidden: str) -> bool:
    code = f"import sys, importlib; importlib.import_module({module!r}); print({forbidden!r} in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=120
    )
    assert result.returncode == 0, f"importing {module} failed:\n{result.stderr}"
    return result.stdout.strip() == "True"


@pytest.mark.parametrize("package", DOMAIN_PACKAGES)
def test_domain_package_never_imports_textual(package):
    code = (
        "import sys, importlib, pkgutil\n"
        f"pkg = importlib.import_module('tui_trainer.{package}')\n"
        "for info in pkgutil.walk_packages(pkg.__path__, prefix=pkg.__name__ + '.'):\n"
        "    importlib.import_module(info.name)\n"
        "print('textual' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=180
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False", f"tui_trainer.{package} pulls in textual"


def test_app_does_not_import_torch():
    assert not _imports("tui_trainer.app", "torch")


def test_cli_module_imports_nothing_heavy():
    code = (
        "import sys; from tui_trainer.cli import build_parser; build_parser();"
        "print(sorted(m for m in ('torch','textual','polars','scipy','PIL','numpy') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"building the CLI parser imported {result.stdout.strip()}"


def test_package_version_is_a_string():
    assert isinstance(tui_trainer.__version__, str) and tui_trainer.__version__


def _lint_imports(cwd: Path, package_root: Path | None = None) -> subprocess.CompletedProcess:
    """`lint-imports` in `cwd`; with `package_root`, the tui_trainer found there instead of the installed one."""
    if package_root is None:
        exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
        cmd, env = [exe, "--no-cache"], None
    else:
        # -S skips the editable install's path hook, so the copy under package_root is the one analysed.
        import importlinter

        site_packages = Path(importlinter.__file__).parents[1]
        code = (
            "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
        )
        cmd = [sys.executable, "-S", "-c", code, "--no-cache"]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(package_root), str(site_packages)])}
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env, timeout=120)


def test_import_linter_contracts_hold():
    """The layers in pyproject's [tool.importlinter]: domain packages never import panes/widgets/Textual,
    commands never import a pane."""
    result = _lint_imports(REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_linter_catches_a_domain_module_importing_textual(tmp_path):
    """The contract is real: a copy of the package with one engine module importing Textual breaks it."""
    shutil.copytree(
        REPO_ROOT / "tui_trainer", tmp_path / "tui_trainer", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "tui_trainer" / "engine" / "config.py"
    target.write_text(target.read_text() + "\nimport textual.widgets  # noqa\n")
    result = _lint_imports(tmp_path, package_root=tmp_path)
    assert result.returncode != 0
    assert "Domain packages know nothing of the UI (no panes, widgets or Textual) BROKEN" in result.stdout
    assert "tui_trainer.engine.config -> textual (l." in result.stdout
