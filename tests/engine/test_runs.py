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
    # A live run: its writer holds events.jsonl open (and locked) while it trains.
    live = EventLog(tmp_path / "live")
    live.write(start(os.getpid(), t=time.time()))
    live.write(Step(step=9, epoch=1, loss=0.2))
    make_run(tmp_path, "gone", [start(DEAD_PID, t=1004), Step(step=2, epoch=0, loss=0.9)])
    (tmp_path / "not-a-run").mkdir()
    try:
        found = {r.run_id: r for r in list_runs(tmp_path)}
    finally:
        live.close()
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
    # The writer closed its log without an end event (its process is done with it): no longer running.
    assert read_run(tmp_path / "live").status == "killed"


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


def test_a_writer_killed_with_sigkill_is_killed_even_before_its_pid_is_reaped(tmp_path):
    import subprocess
    import sys

    run_dir = tmp_path / "r"
    code = (
        "import os, sys, time\n"
        "from tui_trainer.engine.eventlog import EventLog\n"
        "from tui_trainer.engine.events import RunStarted\n"
        f"log = EventLog({str(run_dir)!r})\n"
        f"log.write(RunStarted(run_id='r', run_dir={str(run_dir)!r}, pid=os.getpid()))\n"
        "print('ready', flush=True); time.sleep(60)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        assert read_run(run_dir).status == "running"
        child.kill()
        deadline = time.monotonic() + 10
        while read_run(run_dir).status == "running" and time.monotonic() < deadline:
            time.sleep(0.05)
        info = read_run(run_dir)
        assert info.status == "killed" and "--resume" in info.detail
    finally:
        child.kill()
        child.wait()


def test_bad_lines_are_skipped_and_counted_and_never_break_other_runs(tmp_path):
    good = make_run(tmp_path, "good", [start(DEAD_PID), Step(step=1, epoch=0, loss=0.5), Finished(step=1)])
    bad = make_run(tmp_path, "bad", [start(DEAD_PID, t=1001), Step(step=4, epoch=0, loss=0.5)])
    with open(bad / "events.jsonl", "a", encoding="utf-8") as fh:
        fh.write('{"type":"step","step":"x","epoch":0,"loss":1}\n')
        fh.write('{"type":"eval","step":5,"val_loss":"abc"}\n')
        fh.write('{"type":"log","message":"m","x":' + "[" * 100_000 + "]" * 100_000 + "}\n")
        fh.write("\x00\xff garbage\n")
    found = {r.run_id: r for r in list_runs(tmp_path)}
    assert found["good"].status == "finished" and found["good"].skipped_lines == 0
    assert found["bad"].status == "killed" and found["bad"].last_step == 4 and found["bad"].skipped_lines == 4
    assert read_run(good).status == "finished"


def test_a_garbage_line_longer_than_the_tail_does_not_hide_the_end(tmp_path, monkeypatch):
    monkeypatch.setattr(runs_mod, "TAIL_BYTES", 1000)
    run_dir = make_run(
        tmp_path,
        "r",
        [start(DEAD_PID)] + [Step(step=i, epoch=0, loss=1.0) for i in range(1, 60)] + [Finished(step=59)],
    )
    with open(run_dir / "events.jsonl", "ab") as fh:
        fh.write(b"x" * 20_000 + b"\n")  # after the end event, longer than the tail that is read
    info = read_run(run_dir)
    assert info.status == "finished" and info.last_step == 59 and info.skipped_lines >= 1


# ----- the run-folder policy ----------------------------------------------------------------------------
def _config(tmp_path):
    from tests.engine.conftest import write_config
    from tui_trainer.engine.config import load_config

    return load_config(write_config(tmp_path))


def test_prepare_run_dir_reuses_a_folder_whose_only_attempt_failed_before_starting(tmp_path):
    from tui_trainer.engine.runs import prepare_run_dir

    run_dir = make_run(tmp_path, "r", [Failed(error="data.label: no column 'nope'", code="user_error")])
    assert prepare_run_dir(_config(tmp_path), run_dir, resume=False) == run_dir


def test_prepare_run_dir_refuses_a_started_run_unless_resumed(tmp_path):
    import pytest

    from tui_trainer.engine.runs import prepare_run_dir
    from tui_trainer.errors import UserError

    run_dir = make_run(tmp_path, "r", [start(DEAD_PID), Finished(step=3, status="stopped")])
    with pytest.raises(UserError, match="already holds a run.*--resume"):
        prepare_run_dir(_config(tmp_path), run_dir, resume=False)
    assert prepare_run_dir(_config(tmp_path), run_dir, resume=True) == run_dir


def test_prepare_run_dir_refuses_a_folder_a_live_run_writes(tmp_path):
    import pytest

    from tui_trainer.engine.runs import prepare_run_dir
    from tui_trainer.errors import UserError

    config = _config(tmp_path)
    with EventLog(tmp_path / "r"):  # a run in its setup: nothing written yet, but the writer is there
        for resume in (False, True):
            with pytest.raises(UserError, match="still running.*two writers"):
                prepare_run_dir(config, tmp_path / "r", resume=resume)
    assert prepare_run_dir(config, tmp_path / "r", resume=False) == tmp_path / "r"


def test_prepare_run_dir_names_an_unusable_path(tmp_path, monkeypatch):
    import pytest

    from tui_trainer.engine.runs import prepare_run_dir
    from tui_trainer.errors import UserError

    config = _config(tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="file: exists and is not a folder"):
        prepare_run_dir(config, tmp_path / "file", resume=False)
    (tmp_path / "r" / "events.jsonl").mkdir(parents=True)
    with pytest.raises(UserError, match="events.jsonl: not a regular file"):
        prepare_run_dir(config, tmp_path / "r", resume=False)
    with pytest.raises(UserError, match="cannot write"):
        prepare_run_dir(config, tmp_path / "file" / "sub", resume=False)
    with pytest.raises(UserError, match="no such run folder"):
        prepare_run_dir(config, tmp_path / "missing", resume=True)
    monkeypatch.chdir(tmp_path)
    made = prepare_run_dir(config, None, resume=False)
    assert made.parent.name == "runs" and made.name.startswith("cfg-")


def test_a_forked_child_of_the_writer_does_not_keep_the_run_alive(tmp_path):
    """DataLoader workers fork: once the writer is gone, its children must not hold the run's lock."""
    import signal
    import subprocess
    import sys

    run_dir = tmp_path / "r"
    code = (
        "import os, sys, time\n"
        "from tui_trainer.engine.eventlog import EventLog\n"
        "from tui_trainer.engine.events import RunStarted\n"
        f"log = EventLog({str(run_dir)!r})\n"
        f"log.write(RunStarted(run_id='r', run_dir={str(run_dir)!r}, pid=os.getpid()))\n"
        "child = os.fork()\n"
        "if child == 0:\n"
        "    time.sleep(60); os._exit(0)\n"
        "print(child, flush=True); time.sleep(60)\n"
    )
    writer = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    worker = int(writer.stdout.readline())
    try:
        assert read_run(run_dir).status == "running"
        writer.kill()
        writer.wait(10)
        deadline = time.monotonic() + 10
        while read_run(run_dir).status == "running" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert read_run(run_dir).status == "killed"  # while the forked worker still lives
        os.kill(worker, 0)
    finally:
        writer.kill()
        try:
            os.kill(worker, signal.SIGKILL)
        except ProcessLookupError:
            pass
