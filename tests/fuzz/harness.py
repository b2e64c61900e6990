"""Run one CLI call as a user would, under a memory and time bound, and check the exit-code contract.

The contract (README, issue 13): every input ends in exit 0, 1 or 2 within the time bound and under the
memory bound; never a Python traceback on stderr, never a signal; an exit 2 says `tui-trainer: error:` and
names the input it refuses.
"""

from __future__ import annotations

import os
import re
import resource
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# Address space for one call: torch's import alone maps ~1.5 GB, polars reserves a few hundred MB.
# A file that drives a command past this is exactly the bug the suite is for.
MEMORY_LIMIT = int(os.environ.get("TUI_TRAINER_FUZZ_MEMORY_MB", "4096")) * 2**20
TIME_LIMIT = float(os.environ.get("TUI_TRAINER_FUZZ_SECONDS", "90"))


@dataclass
class Outcome:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool

    def describe(self) -> str:
        tail = self.stderr[-1500:]
        return f"tui-trainer {' '.join(self.args)} -> rc={self.returncode} in {self.seconds:.1f}s\n{tail}"


def _limit_resources() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.setsid()  # its own process group, so a timeout kills its children too


def run_cli(
    args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float | None = None
) -> Outcome:
    """`python -m tui_trainer ARGS` in `cwd` with RLIMIT_AS and a wall-clock bound; stdin is /dev/null."""
    full_env = dict(os.environ if env is None else env)
    full_env.update({"NO_COLOR": "1", "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1", "COLUMNS": "120"})
    full_env.setdefault("POLARS_MAX_THREADS", "1")
    limit = TIME_LIMIT if timeout is None else timeout
    start = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui_trainer", *args],
        cwd=cwd,
        env=full_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_limit_resources,
    )
    timed_out = False
    try:
        out, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
    return Outcome(
        list(args),
        proc.returncode,
        out.decode("utf-8", "replace"),
        err.decode("utf-8", "replace"),
        time.monotonic() - start,
        timed_out,
    )


def assert_contract(
    outcome: Outcome, names: tuple[str, ...] = (), allowed: tuple[int, ...] = (0, 1, 2)
) -> None:
    """0, 1 or 2 in time, no traceback, no signal; an exit 2 names one of `names` (file names, flags, keys)."""
    assert not outcome.timed_out, f"hung past {TIME_LIMIT:.0f}s: " + outcome.describe()
    assert outcome.returncode >= 0, f"killed by signal {-outcome.returncode}: " + outcome.describe()
    assert "Traceback (most recent call last)" not in outcome.stderr, "traceback: " + outcome.describe()
    assert outcome.returncode in allowed, f"exit {outcome.returncode} not in {allowed}: " + outcome.describe()
    if outcome.returncode == 2:
        # Ours ("tui-trainer: error: ...") or argparse's usage error ("tui-trainer augment: error: argument ...").
        assert re.search(r"tui-trainer( [a-z]+)?: error: ", outcome.stderr), (
            "exit 2 without a message: " + outcome.describe()
        )
        if names:
            assert any(name in outcome.stderr for name in names), (
                f"exit 2 does not name any of {names}: " + outcome.describe()
            )
