"""Faults of the disk and of memory, as a user meets them: a clear end, an exit code, the path named, no torn line."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess

import pytest

from tests.engine.conftest import write_config
from tests.engine.test_cli import cli
from tui_trainer.engine.config import load_config
from tui_trainer.engine.events import EventParseError, parse_line
from tui_trainer.engine.loop import run_training


@contextlib.contextmanager
def tmpfs(path, options):
    """A small tmpfs at `path` (root with mount rights only; the test is skipped elsewhere)."""
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root with mount rights)")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def lines_of(path):
    data = path.read_bytes()
    assert not data or data.endswith(b"\n"), "torn last line"
    events = []
    for raw in data.splitlines():
        try:
            events.append(parse_line(raw))
        except EventParseError as exc:  # pragma: no cover - the assertion says which line
            raise AssertionError(f"unreadable line {raw[:80]!r}: {exc}") from None
    return events


def test_events_jsonl_that_is_a_folder_exits_2_naming_it(tmp_path, subprocess_env):
    cfg = write_config(tmp_path)
    (tmp_path / "run" / "events.jsonl").mkdir(parents=True)
    result = cli("train", str(cfg), "--headless", "--run-dir", str(tmp_path / "run"), env=subprocess_env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{tmp_path / 'run' / 'events.jsonl'}: not a regular file" in result.stderr


def test_read_only_run_folder_exits_2_naming_it(tmp_path, subprocess_env):
    cfg = write_config(tmp_path)
    if os.geteuid() == 0:
        context = tmpfs(tmp_path / "ro", "ro,size=64k")
    else:
        (tmp_path / "ro").mkdir()
        (tmp_path / "ro").chmod(0o500)
        context = contextlib.nullcontext(tmp_path / "ro")
    with context as folder:
        result = cli("train", str(cfg), "--headless", "--run-dir", str(folder / "run"), env=subprocess_env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert str(folder / "run") in result.stderr and "cannot write" in result.stderr


def test_disk_full_during_a_run_ends_it_failed_with_no_torn_line(tmp_path, subprocess_env):
    cfg = write_config(tmp_path)
    with tmpfs(tmp_path / "small", "size=160k") as folder:
        run_dir = folder / "run"
        result = cli(
            "train",
            str(cfg),
            "--headless",
            "--run-dir",
            str(run_dir),
            "--set",
            "train.epochs=400",
            "--set",
            "train.checkpoint_every=1",
            "--set",
            "train.keep_checkpoints=1000",
            env=subprocess_env,
        )
        assert result.returncode == 1, result.stdout + result.stderr
        assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
        assert "No space left on device" in result.stdout and str(run_dir) in result.stdout
        events = lines_of(run_dir / "events.jsonl")
        assert events[0].type == "run_started"
        last = events[-1]
        assert last.type == "failed" and last.code == "io_error" and "No space left" in last.error
        listing = cli("runs", str(folder), "--json", env=subprocess_env)
        assert json.loads(listing.stdout)[0]["status"] == "failed"


def test_a_failing_events_file_ends_the_run_as_io_error_in_process(tmp_path):
    """Anywhere without mount rights too: events.jsonl on /dev/full gives the kernel's own ENOSPC."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    cfg = write_config(tmp_path)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "events.jsonl").symlink_to("/dev/full")
    seen = []
    result = run_training(load_config(cfg, ["train.epochs=1"]), run_dir, emit=seen.append, telemetry=False)
    assert result.status == "failed" and result.code == "io_error" and result.exit_code == 1
    assert "No space left on device" in result.error and "events.jsonl" in result.error
    assert seen and seen[-1].type == "failed"  # the live stream still gets the run's last word


def test_a_cpu_allocation_failure_is_out_of_memory_not_crash(tmp_path, subprocess_env):
    (tmp_path / "hungry_model.py").write_text(
        "import torch, torch.nn as nn\n"
        "class M(nn.Module):\n"
        "    def __init__(self, n, k):\n"
        "        super().__init__(); self.lin = nn.Linear(n, k); self.calls = 0\n"
        "    def forward(self, x):\n"
        "        self.calls += 1\n"
        "        if self.calls > 3:\n"
        "            torch.empty(2**61, dtype=torch.uint8)  # far past any host's RAM: the allocator refuses\n"
        "        return self.lin(x)\n"
        "def build(input_shape, num_classes):\n"
        "    return M(input_shape[0], num_classes)\n"
    )
    cfg = write_config(tmp_path)
    cfg.write_text(cfg.read_text().replace('name = "mlp"', 'factory = "hungry_model:build"'))
    run_dir = tmp_path / "run"
    result = cli("train", str(cfg), "--headless", "--run-dir", str(run_dir), env=subprocess_env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "out of memory" in result.stdout
    failed = lines_of(run_dir / "events.jsonl")[-1]
    assert failed.type == "failed" and failed.code == "out_of_memory"


def test_failures_are_classified_by_what_ran_out(tmp_path):
    import errno

    from tui_trainer.engine.process import classify_failure

    run_dir = tmp_path / "run"
    code, message, _ = classify_failure(
        OSError(errno.ENOSPC, "No space left on device", str(run_dir / "x")), 3, run_dir
    )
    assert (
        code == "io_error" and message.startswith(f"cannot write {run_dir / 'x'}") and "--resume" in message
    )
    code, message, _ = classify_failure(
        NotADirectoryError(errno.ENOTDIR, "Not a directory", "/d/a.csv"), 0, run_dir
    )
    assert code == "io_error" and message.startswith("cannot read /d/a.csv")  # the user's data, not the run
    for exc in (
        MemoryError(),
        RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 9 GB"),
    ):
        assert classify_failure(exc, 1, run_dir)[0] == "out_of_memory"
    assert classify_failure(ValueError("boom"), 1, run_dir) is None
