"""Layering rules that keep the UI fast: domain packages never import Textual; the app never imports torch."""

from __future__ import annotations

import subprocess
import sys

import pytest

import tui_trainer
from tests.conftest import REPO_ROOT

DOMAIN_PACKAGES = ["audit", "data", "augment", "engine", "collapse"]


def _imports(module: str, forbidden: str) -> bool:
    code = f"import sys, importlib; importlib.import_module({module!r}); print({forbidden!r} in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)
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
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=180)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False", f"tui_trainer.{package} pulls in textual"


def test_app_does_not_import_torch():
    assert not _imports("tui_trainer.app", "torch")


def test_cli_module_imports_nothing_heavy():
    code = (
        "import sys; from tui_trainer.cli import build_parser; build_parser();"
        "print(sorted(m for m in ('torch','textual','polars','scipy','PIL','numpy') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"building the CLI parser imported {result.stdout.strip()}"


def test_package_version_is_a_string():
    assert isinstance(tui_trainer.__version__, str) and tui_trainer.__version__
