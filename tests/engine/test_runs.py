"""Run listing: status from the last segment of events.jsonl (finished/stopped/failed/running/killed)."""

from __future__ import annotations

import os
import time

from tui_trainer.engine import runs as runs_mod
from tui_trainer.engine.eventlog import EventLog
from tui_trainer.engine.events import Eval, Failed, Finished, RunStarted, Step
from tui_trainer.engine.runs import list_runs, read_run, runs_to_json

DEAD_PID = 2**22 + 12345  # above the default pid_max, so never a live process


def make_run(root, name, events, t0=1000.0):
    run_dir = root / name
    with EventLog(run_dir) as log:
        for e in events:
            log.write(e)
    return run_dir


def start(pid, resumed=None, t=1000.0):
    return RunStarted(run_id="x", run_dir="x", pid=pid, total_steps=100, resumed_from_step=resumed, time=t)


def test_statuses(tmp_path):
    make_run(
        tmp_path,
        "done",
        [start(DEAD_PID), Step(step=5, epoch=0, loss=0.5), Eval(step=5, val_loss=0.4), Finished(step=5)],
    )
    make_run(
        tmp_path,
        "stopped",
        [start(DEAD_PID, t=1001), Step(step=3, epoch=0, loss=0.5), Finished(step=3, status="stopped")],
    )
    make_run(
        tmp_path,
        "failed",
        [start(DEAD_PID, t=1002), Failed(error="loss became nan", step=7, code="nan_loss")],
    )
    make_run(tmp_path, "live", [start(os.getpid(), t=time.time()), Step(step=9, epoch=1, loss=0.2)])
    make_run(tmp_path, "gone", [start(DEAD_PID, t=1004), Step(step=2, epoch=0, loss=0.9)])
    (tmp_path / "not-a-run").mkdir()
    found = {r.run_id: r for r in list_runs(tmp_path)}
    assert set(found) == {"done", "stopped", "failed", "live", "gone"}
    assert (
        found["done"].status == "finished"
        and found["done"].last_step == 5
        and found["done"].best_val_loss == 0.4
    )
    assert found["stopped"].status == "stopped"
    assert (
        found["failed"].status == "failed"
        and "nan" in found["failed"].detail
        and found["failed"].last_step == 7
    )
    assert found["live"].status == "running" and found["live"].last_loss == 0.2
    assert found["gone"].status == "killed" and "--resume" in found["gone"].detail
    assert [r.run_id for r in list_runs(tmp_path)][:2] == ["live", "gone"]  # newest first


def test_resumed_run_uses_its_last_segment(tmp_path):
    run_dir = make_run(
        tmp_path,
        "r",
        [
            start(DEAD_PID),
            Step(step=12, epoch=0, loss=1.0),
            start(DEAD_PID, resumed=10, t=2000),
            Step(step=11, epoch=0, loss=0.9),
            Finished(step=20),
        ],
    )
    info = read_run(run_dir)
    assert info.status == "finished" and info.resumed == 1 and info.started == 1000.0 and info.last_step == 20


def test_large_log_is_read_head_and_tail(tmp_path, monkeypatch):
    monkeypatch.setattr(runs_mod, "TAIL_BYTES", 2000)
    events = (
        [start(DEAD_PID)]
        + [Step(step=i, epoch=0, loss=1.0 / i) for i in range(1, 400)]
        + [Finished(step=399)]
    )
    info = read_run(make_run(tmp_path, "big", events))
    assert (
        info.status == "finished"
        and info.started == 1000.0
        and info.last_step == 399
        and info.total_steps == 100
    )


def test_missing_events_and_json(tmp_path):
    (tmp_path / "empty").mkdir()
    assert read_run(tmp_path / "empty").status == "killed"
    make_run(tmp_path, "nan", [start(DEAD_PID), Step(step=1, epoch=0, loss=float("nan"))])
    text = runs_to_json(list_runs(tmp_path))
    assert '"last_loss": "nan"' in text


def test_zombie_and_reused_pids_are_not_running():
    import subprocess
    import sys
    import time

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # exited but not reaped: a zombie
        if not runs_mod._pid_alive(child.pid):
            break
        time.sleep(0.05)
    assert not runs_mod._pid_alive(child.pid)
    child.wait()
    assert runs_mod._pid_alive(os.getpid(), started=time.time())
    # A run that started before this process existed cannot have been written by it.
    assert not runs_mod._pid_alive(os.getpid(), started=1000.0)
