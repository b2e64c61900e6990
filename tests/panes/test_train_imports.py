"""Import hygiene: the Train pane, its bridge and the attach command never import torch at import time."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT


@pytest.mark.parametrize(
    "module",
    [
        "tui_trainer.panes.train",
        "tui_trainer.panes.train_bridge",
        "tui_trainer.commands.attach",
        "tui_trainer.widgets.chart",
    ],
)
def test_train_ui_modules_do_not_import_torch(module):
    code = f"import sys, importlib; importlib.import_module({module!r}); print('torch' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False", f"{module} pulls in torch"


def test_attach_command_module_imports_only_the_standard_library():
    code = "import sys; import tui_trainer.commands.attach; print('textual' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
