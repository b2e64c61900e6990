"""The engine in a spawned child: events on the queue, commands back, a killed child becomes a `failed` event."""

from __future__ import annotations

import time

from tui_trainer.engine.config import load_config
from tui_trainer.engine.follow import EventFollower
from tui_trainer.engine.process import start_engine


def drain_until(handle, predicate, timeout=60.0):
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen += handle.poll(timeout=0.2)
        if predicate(seen):
            return seen
    raise AssertionError(f"timed out; saw {[e.type for e in seen]}")


def test_child_streams_events_and_stops_on_command(table_config, tmp_path):
    cfg = load_config(table_config, ["train.epochs=500", "train.checkpoint_every=0"])
    handle = start_engine(cfg, tmp_path / "run")
    try:
        seen = drain_until(handle, lambda evs: sum(e.type == "step" for e in evs) >= 3)
        assert seen[0].type == "run_started" and seen[0].pid == handle.pid
        handle.pause()
        seen += drain_until(handle, lambda evs: any(e.type == "paused" for e in evs))
        handle.checkpoint()
        seen += drain_until(
            handle, lambda evs: any(e.type == "checkpoint" and e.reason == "manual" for e in evs)
        )
        paused_at = max(e.step for e in seen if e.type == "step")
        time.sleep(0.3)
        assert not [e for e in handle.poll(0.2) if e.type == "step"]  # nothing trains while paused
        handle.resume()
        seen += drain_until(handle, lambda evs: any(e.type == "step" and e.step > paused_at for e in evs))
        handle.stop()
        seen += drain_until(handle, lambda evs: any(e.type == "finished" for e in evs))
        finished = [e for e in seen if e.type == "finished"][0]
        assert finished.status == "stopped"
        assert [e for e in seen if e.type == "checkpoint"][-1].reason == "stopped"
        assert handle.join(10) == 0 and not handle.is_alive()
    finally:
        handle.kill()
    # The queue and the file carry the same events.
    on_disk = [e.type for e in EventFollower(tmp_path / "run").read_all()]
    assert on_disk[-1] == "finished" and on_disk.count("step") >= 3


def test_killed_child_is_reported_as_failed(table_config, tmp_path):
    cfg = load_config(table_config, ["train.epochs=100000"])
    handle = start_engine(cfg, tmp_path / "run")
    drain_until(handle, lambda evs: any(e.type == "step" for e in evs))
    handle.kill()
    seen = drain_until(handle, lambda evs: any(e.type == "failed" for e in evs), timeout=15)
    failed = [e for e in seen if e.type == "failed"][0]
    assert failed.code == "killed" and "SIGKILL" in failed.error and "--resume" in failed.error
    assert handle.exitcode is not None and handle.exitcode < 0
    last = EventFollower(tmp_path / "run").read_all()[-1]
    assert last.type == "failed" and last.code == "killed"


def test_bad_data_in_child_is_a_failed_event(tmp_path):
    from tests.engine.conftest import write_config

    cfg = load_config(write_config(tmp_path), ["data.label=missing_column"])
    handle = start_engine(cfg, tmp_path / "run")
    seen = drain_until(handle, lambda evs: any(e.type == "failed" for e in evs))
    failed = [e for e in seen if e.type == "failed"][0]
    assert failed.code == "user_error" and "missing_column" in failed.error
    assert handle.join(10) == 2


def test_child_output_goes_to_engine_log_not_the_terminal(table_config, tmp_path, monkeypatch, capfd):
    # Started from the app, the child shares the app's terminal: a print or a native library warning
    # would be drawn over the Textual screen. It must land in RUN_DIR/engine.log instead.
    (tmp_path / "noisy_model.py").write_text(
        "import os, sys\n"
        "import torch.nn as nn\n"
        "def build(input_shape=None, num_classes=None):\n"
        "    print('NOISY-STDOUT from the model factory')\n"
        "    sys.stderr.write('NOISY-STDERR from the model factory\\n')\n"
        "    os.write(2, b'NOISY-FD2 from native code\\n')\n"
        "    return nn.Sequential(nn.Flatten(), nn.LazyLinear(num_classes))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = load_config(table_config, ["train.epochs=1", 'model.factory="noisy_model:build"'])
    handle = start_engine(cfg, tmp_path / "run")
    try:
        drain_until(handle, lambda evs: any(e.type in ("finished", "failed") for e in evs))
        handle.join(20)
    finally:
        handle.kill()
    captured = capfd.readouterr()
    assert "NOISY" not in captured.out and "NOISY" not in captured.err
    log = (tmp_path / "run" / "engine.log").read_text()
    for marker in ("NOISY-STDOUT", "NOISY-STDERR", "NOISY-FD2"):
        assert marker in log
