"""`tui-trainer watch`: real scripts (a tqdm bar, TensorBoard logs, a grandchild process) run, mirrored and killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.integrations.conftest import of_type, read_events
from tui_trainer.engine.events import Failed, Finished, Log, RunStarted, Step
from tui_trainer.integrations.watch import ConsoleLines, Watch, script_stem, tree_pids

REPO = Path(__file__).resolve().parents[2]

TQDM_SCRIPT = """
import math, subprocess, sys, time
from pathlib import Path
from tqdm import tqdm
from torch.utils.tensorboard import SummaryWriter

Path("grandchild.pid").write_text(str(subprocess.Popen(["sleep", "60"]).pid))
writer = SummaryWriter("tb/exp")
print("\\x1b[1;32mtraining\\x1b[0m starts", flush=True)
for i in tqdm(range(1, 100000), file=sys.stderr, mininterval=0, ascii=True):
    writer.add_scalar("train/loss", 2 * math.exp(-i / 50), i)
    writer.add_scalar("learning_rate", 0.01, i)
    if i % 10 == 0:
        writer.add_scalar("eval/loss", 2 * math.exp(-i / 60) + 0.05, i)
        writer.flush()
    time.sleep(0.005)
"""


def cli(*args: str, cwd: Path, **kw) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    return subprocess.Popen(
        [sys.executable, "-m", "tui_trainer", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.1)


def console_text(run_dir: Path) -> str:
    try:
        return (run_dir / "console.log").read_text()
    except FileNotFoundError:
        return ""


def gone(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_watch_of_a_tqdm_script_writing_tensorboard_logs_then_killed(tmp_path):
    (tmp_path / "train.py").write_text(TQDM_SCRIPT)
    run_dir = tmp_path / "run"
    proc = cli("watch", "--headless", "--run-dir", str(run_dir), "--", "python", "train.py", cwd=tmp_path)

    def mirrored() -> bool:
        return (
            len(of_type(read_events(run_dir), Step)) >= 30 if (run_dir / "events.jsonl").exists() else False
        )

    wait_for(mirrored)
    grandchild = int((tmp_path / "grandchild.pid").read_text())
    proc.send_signal(signal.SIGUSR2)  # kill the command's whole tree
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGKILL, err
    wait_for(lambda: gone(grandchild), 10)

    events = read_events(run_dir)
    assert isinstance(events[0], RunStarted) and events[0].config["watch"]["command"] == [
        "python",
        "train.py",
    ]
    end = events[-1]
    assert isinstance(end, Failed) and "killed" in end.error
    # The TensorBoard scalars the script wrote and flushed, value for value (TensorBoard stores float32).
    import numpy as np

    steps = of_type(events, Step)
    assert [s.step for s in steps] == list(range(1, len(steps) + 1))
    for s in steps:
        assert s.loss == float(np.float32(2 * np.exp(-s.step / 50)))
        assert s.lr == float(np.float32(0.01))
    console = (run_dir / "console.log").read_text()
    assert "training starts" in console and "\x1b" not in console and "\r" not in console
    assert console.splitlines()[-1].count("|") >= 1 and "it/s" in console  # the bar's last state
    assert "step" in out and "FAILED" in out  # headless progress lines
    # `runs` lists the watch run once: the TensorBoard folder it mirrored is not listed again beside it.
    listed = cli("runs", str(tmp_path), "--json", cwd=tmp_path)
    import json

    assert [r["run_id"] for r in json.loads(listed.communicate(timeout=60)[0])] == ["run"]


def test_exit_code_becomes_failed_with_the_console_tail(tmp_path):
    (tmp_path / "crash.py").write_text("print('about to fail')\nraise SystemExit(3)\n")
    run_dir = tmp_path / "run"
    proc = cli(
        "watch", "--headless", "--run-dir", str(run_dir), "--", sys.executable, "crash.py", cwd=tmp_path
    )
    proc.communicate(timeout=30)
    assert proc.returncode == 3
    end = read_events(run_dir)[-1]
    assert isinstance(end, Failed) and end.error == "the command exited with code 3"
    assert "about to fail" in end.traceback


def test_a_script_using_the_integrations_writes_the_run_itself(tmp_path):
    script = """
        from tui_trainer.monitor import SummaryWriter   # the one changed import
        with SummaryWriter() as w:   # no folder: the watch's run
            for i in range(1, 21):
                w.add_scalar("loss", 1.0 / i, i)
    """
    (tmp_path / "own.py").write_text(textwrap.dedent(script))
    run_dir = tmp_path / "run"
    proc = cli("watch", "--headless", "--run-dir", str(run_dir), "--", sys.executable, "own.py", cwd=tmp_path)
    proc.communicate(timeout=60)
    assert proc.returncode == 0
    events = read_events(run_dir)
    assert [s.loss for s in of_type(events, Step)] == pytest.approx([1.0 / i for i in range(1, 21)])
    ends = of_type(events, Finished)
    assert len(ends) == 1 and ends[0].status == "completed"  # the script's own end, not a second one


def test_interrupt_escalates_from_sigint_to_sigterm(tmp_path):
    script = "import signal, time\nsignal.signal(signal.SIGINT, lambda *a: print('ignored SIGINT', flush=True))\nprint('up', flush=True)\nwhile True: time.sleep(0.05)\n"
    (tmp_path / "stubborn.py").write_text(script)
    seen: list = []
    watch = Watch(
        [sys.executable, "stubborn.py"], tmp_path / "run", cwd=tmp_path, emit=seen.append, telemetry_s=None
    )
    watch.start()
    wait_for(lambda: "up" in console_text(tmp_path / "run"))
    watch.interrupt()
    wait_for(lambda: "ignored SIGINT" in console_text(tmp_path / "run"))
    assert watch.process.poll() is None
    watch.interrupt()
    code = watch.wait()
    assert code == 128 + signal.SIGTERM
    assert isinstance(seen[-1], Finished) and seen[-1].status == "stopped"
    assert "ignored SIGINT" in [e.message for e in seen if isinstance(e, Log)]


def test_a_missing_command_exits_2_naming_it(tmp_path):
    proc = cli("watch", "--headless", "--", "no-such-trainer", "--epochs", "3", cwd=tmp_path)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert "no-such-trainer" in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists()


def test_tree_pids_include_grandchildren(tmp_path):
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess,time; p=subprocess.Popen(['sleep','30']); print(p.pid, flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        grandchild = int(child.stdout.readline())
        assert tree_pids(child.pid) == {child.pid, grandchild}
    finally:
        for pid in tree_pids(child.pid):
            os.kill(pid, signal.SIGKILL)
        child.wait()


def test_console_lines_keep_the_last_redraw_and_drop_colours():
    lines = ConsoleLines()
    assert lines.feed(b"\x1b[31mred\x1b[0m text\n 10%|#  |\r 50%|### |") == ["red text"]
    assert lines.partial == " 50%|### |"
    assert lines.feed(b"\r100%|#####|\r\nnext\n") == ["100%|#####|", "next"]
    assert lines.feed(b"\x1b]0;title\x07tail") == [] and lines.flush() == ["tail"]


@pytest.mark.parametrize(
    ("cmd", "stem"),
    [
        (["python", "train.py", "--lr", "1"], "train"),
        (["python", "-m", "pkg.finetune"], "finetune"),
        (["torchrun", "--nproc-per-node", "2", "scripts/ddp.py"], "ddp"),
        (["./run.sh"], "run"),
    ],
)
def test_runs_are_named_after_the_script(cmd, stem):
    assert script_stem(cmd) == stem


def test_monitor_start_without_a_folder_writes_into_the_watched_run(tmp_path):
    script = """
        from tui_trainer import monitor
        with monitor.start(config={"optim": {"lr": 0.1}}) as run:
            for step in range(1, 11):
                run.log(step=step, loss=1.0 / step)
            run.eval(step=10, val_loss=0.5)
    """
    (tmp_path / "loop.py").write_text(textwrap.dedent(script))
    run_dir = tmp_path / "run"
    proc = cli(
        "watch", "--headless", "--run-dir", str(run_dir), "--", sys.executable, "loop.py", cwd=tmp_path
    )
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    events = read_events(run_dir)
    started = of_type(events, RunStarted)
    assert started[-1].config == {"optim": {"lr": 0.1}} and started[-1].run_dir == str(run_dir.resolve())
    assert [s.step for s in of_type(events, Step)] == list(range(1, 11))
    assert of_type(events, Finished)[-1].status == "completed"
    assert "finished (completed) at step 10" in out


def test_telemetry_marks_every_process_of_the_commands_tree(tmp_path):
    import threading

    from tests.fakes import FakeGPU, FakeNVML
    from tui_trainer.engine.events import System
    from tui_trainer.engine.telemetry import TelemetrySampler

    script = "import subprocess, time\nfrom pathlib import Path\np = subprocess.Popen(['sleep', '30'])\nPath('rank1.pid').write_text(str(p.pid))\ntime.sleep(30)\n"
    (tmp_path / "ddp.py").write_text(script)
    nvml = FakeNVML([FakeGPU()])
    seen: list = []
    watch = Watch(
        [sys.executable, "ddp.py"],
        tmp_path / "run",
        cwd=tmp_path,
        emit=seen.append,
        telemetry_s=0.2,
        sampler=TelemetrySampler(interval_s=0.2, nvml=nvml),
    )
    watch.start()
    waiter = threading.Thread(target=watch.wait)
    waiter.start()
    try:
        wait_for(lambda: (tmp_path / "rank1.pid").exists() and (tmp_path / "rank1.pid").read_text())
        rank1 = int((tmp_path / "rank1.pid").read_text())
        nvml.gpus[0].processes = [
            (rank1, 2048),
            (os.getpid(), 100),
        ]  # a grandchild of the watch, and a stranger

        def marked() -> dict:
            for event in reversed(seen):
                if isinstance(event, System) and event.gpus and event.gpus[0].get("processes"):
                    return {p["pid"]: p["training"] for p in event.gpus[0]["processes"]}
            return {}

        wait_for(lambda: len(marked()) == 2)
        assert marked() == {rank1: True, os.getpid(): False}
    finally:
        watch.kill()
        waiter.join(30)
