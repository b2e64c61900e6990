"""The Data pane's synthetic_share finding points at the collapse command with the user's real share."""

from __future__ import annotations

import shlex
import subprocess
import sys

import pytest

from tui_trainer.collapse.advice import collapse_command, synthetic_share_advice
from tui_trainer.errors import UserError


@pytest.mark.parametrize(
    ("share", "real"), [(0.3, "0.7"), (0.02, "0.98"), (1.0, "0"), (0.0, "1"), (0.333, "0.667")]
)
def test_command_keeps_the_real_share(share, real):
    assert collapse_command(share) == f"tui-trainer collapse --real-fraction {real}"
    assert f"`{collapse_command(share)}`" in synthetic_share_advice(share)


def test_advice_names_the_share():
    text = synthetic_share_advice(0.3)
    assert "30%" in text and "70% real" in text and "collapse" in text


@pytest.mark.parametrize("share", [-0.1, 1.5, float("nan")])
def test_bad_share_is_a_user_error(share):
    with pytest.raises(UserError, match="synthetic share"):
        collapse_command(share)


def test_advised_command_runs(subprocess_env):
    argv = shlex.split(collapse_command(0.25))[1:] + ["--generations", "2", "--repeats", "3", "--json"]
    proc = subprocess.run(
        [sys.executable, "-m", "tui_trainer", *argv],
        capture_output=True,
        text=True,
        env=subprocess_env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert '"real_fraction": 0.75' in proc.stdout
