# ruff: noqa: E402
"""Start-up figures: `tui-trainer --version` and the app's first frame, against a bare interpreter.

Targets (issue 14): --version under 0.3 s, first frame under 0.6 s; the first frame is also printed as a ratio to
a bare Textual app's first frame (a Header, a Footer and a Static), the part no app can avoid.
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

BARE_TEXTUAL_FRAME = r"""
import asyncio, sys
from textual.app import App
from textual.widgets import Footer, Header, Static

class Bare(App):
    def compose(self):
        yield Header()
        yield Static("hello")
        yield Footer()

async def main():
    async with Bare().run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        sys.stdout.write("FRAME\n"); sys.stdout.flush()

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
    frames = max(3, args.repeats // 2)
    bare_frame = [wall([py, "-c", BARE_TEXTUAL_FRAME], until="FRAME") for _ in range(frames)]
    frame = [wall([py, "-c", FIRST_FRAME], until="FRAME") for _ in range(frames)]
    base = statistics.median(bare)
    for label, samples, target in (
        ("bare interpreter (baseline)", bare, None),
        ("tui-trainer --version", version, 0.3),
        ("bare Textual app first frame", bare_frame, None),
        ("app first frame (headless, 100x30)", frame, 0.6),
    ):
        med = statistics.median(samples)
        verdict = "" if target is None else ("  OK" if med < target else f"  OVER target {target:.1f}s")
        print(f"{label:<38} median {med * 1000:7.1f} ms  best {min(samples) * 1000:7.1f} ms  "
              f"x{med / base:5.2f} of baseline{verdict}")

    ratio = statistics.median(frame) / statistics.median(bare_frame)
    print(f"app first frame / bare Textual app first frame: x{ratio:.2f}")


if __name__ == "__main__":
    main()
