"""monitor: a user's own loop writes the same events (buffered) and gets the same diagnostics."""

from __future__ import annotations

import pytest
import torch

from tui_trainer import monitor
from tui_trainer.engine.follow import EventFollower
from tui_trainer.engine.runs import read_run


def test_log_eval_finish_writes_engine_events(tmp_path):
    run_dir = tmp_path / "mine"
    with monitor.start(run_dir, config={"optim": {"lr": 0.1}}, flush_interval_s=60) as run:
        for step in range(1, 21):
            run.log(
                step=step, loss=torch.tensor(1.0 / step), lr=0.1, grad_norm=torch.tensor(0.5), accuracy=0.5
            )
        # Buffered: nothing but run_started on disk until a flush.
        assert [e.type for e in EventFollower(run_dir).read_all()] == ["run_started"]
        run.eval(step=20, val_loss=0.3, accuracy=0.9)
        run.checkpoint(step=20, path=tmp_path / "ckpt.pt")
    events = EventFollower(run_dir).read_all()
    assert [e.type for e in events][:2] == ["run_started", "step"]
    steps = [e for e in events if e.type == "step"]
    assert (
        len(steps) == 20 and steps[-1].loss == pytest.approx(0.05) and steps[0].metrics == {"accuracy": 0.5}
    )
    assert events[0].config == {"optim": {"lr": 0.1}}
    assert events[-1].type == "finished" and events[-1].best_val_loss == 0.3
    assert read_run(run_dir).status == "finished"


def test_monitor_raises_the_same_diagnostics(tmp_path, capsys):
    run = monitor.start(tmp_path / "diverge")
    for step, loss in enumerate([2.3, 2.0, 1.9, 4.0, 20.0, 90.0, 500.0, float("nan")], 1):
        run.log(step=step, loss=loss)
    run.finish()
    codes = [d.code for d in run.diagnostics]
    assert "lr_too_high" in codes and "nan_loss" in codes
    on_disk = [e.code for e in EventFollower(tmp_path / "diverge").read_all() if e.type == "diagnostic"]
    assert on_disk == codes
    assert "lr_too_high" in capsys.readouterr().err


def test_exception_in_block_marks_run_failed(tmp_path):
    with pytest.raises(ZeroDivisionError):
        with monitor.start(tmp_path / "crash", echo=False) as run:
            run.log(step=1, loss=1.0)
            raise ZeroDivisionError("division by zero")
    events = EventFollower(tmp_path / "crash").read_all()
    assert events[-1].type == "failed" and "ZeroDivisionError" in events[-1].error and events[-1].step == 1
    with pytest.raises(RuntimeError, match="already finished"):
        run.log(step=2, loss=1.0)
