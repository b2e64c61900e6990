# ruff: noqa: E402
"""Start-up figures: `tui-trainer --version` and the app's first frame, against a bare interpreter.

Targets (issue 2): --version under 0.3 s, first frame under 1 s on a 2-core machine.
Run: python benchmarks/startup.py [--repeats N]
"""

from __future__ import annotations

import os
import sys

# As a script, this folder is sys.path[0], and benchmarks/inspect.py would shadow the standard library's
# `inspect` (imported by numpy, torch, dataclasses); drop the folder before importing anything that needs it.
if sys.path and os.path.realpath(sys.path[0] or ".") == os.path.dirname(os.path.realpath(__file__)):
    sys.path.pop(0)

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

FIRST_FRAME = r"""
import asyncio, sys
from tui_trainer.app import make_app

async def main():
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()          # first frame composed and rendered
        sys.stdout.write("FRAME\n"); sys.stdout.flush()
        assert "torch" not in sys.modules, "the app imported torch at start-up"

asyncio.run(main())
"""


def wall(cmd: list[str], until: str | None = None) -> float:
    """Seconds from spawn until exit, or until a line equal to `until` appears on stdout."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if until is None:
        proc.communicate()
        elapsed = time.perf_counter() - start
    else:
        elapsed = float("nan")
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.strip() == until:
                elapsed = time.perf_counter() - start
                break
        proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed with exit {proc.returncode}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    py = sys.executable
    bare = [wall([py, "-c", "pass"]) for _ in range(args.repeats)]
    version = [wall([py, "-m", "tui_trainer", "--version"]) for _ in range(args.repeats)]
    frame = [wall([py, "-c", FIRST_FRAME], until="FRAME") for _ in range(max(3, args.repeats // 2))]
    base = statistics.median(bare)
    for label, samples, target in (
        ("bare interpreter (baseline)", bare, None),
        ("tui-trainer --version", version, 0.3),
        ("app first frame (headless, 100x30)", frame, 1.0),
    ):
        med = statistics.median(samples)
        verdict = "" if target is None else ("  OK" if med < target else f"  OVER target {target:.1f}s")
        print(f"{label:<38} median {med * 1000:7.1f} ms  best {min(samples) * 1000:7.1f} ms  "
              f"x{med / base:5.2f} of baseline{verdict}")


if __name__ == "__main__":
    main()
