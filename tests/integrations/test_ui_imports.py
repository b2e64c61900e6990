"""The UI process never imports torch, lightning, transformers or tensorboard, even while it follows a log."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

CODE = """
import sys
from pathlib import Path
import tui_trainer.app, tui_trainer.panes.train, tui_trainer.monitor
from tui_trainer.integrations import logdirs, watch, tensorboard
from tui_trainer.commands import attach, runs, watch as watch_command
from tui_trainer.engine.follow import EventFollower

dirs, close = logdirs.open_log_runs([Path(sys.argv[1])], live=True)   # what `attach LOGDIR` does in a terminal
events = EventFollower(dirs[0]).read_all()
close()
heavy = sorted(m for m in ("torch", "lightning", "pytorch_lightning", "transformers", "tensorboard") if m in sys.modules)
print(len([e for e in events if e.type == "step"]), heavy)
"""


def test_following_a_tensorboard_log_keeps_heavy_libraries_out_of_the_ui_process(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(tmp_path / "log")) as writer:
        for i in range(1, 41):
            writer.add_scalar("train/loss", 1.0 / i, i)
    result = subprocess.run(
        [sys.executable, "-c", CODE, str(tmp_path / "log")],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["40", "[]"]
