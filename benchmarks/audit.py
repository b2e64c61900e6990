"""Audit speed: the whole `tui-trainer audit` (torch import in its child included) against `import torch` alone.

Target (issue 3): the whole audit, torch import included, under 2 s on these machines. The audit runs its
probes concurrently, so it should cost little more than the torch import it cannot avoid (ratio near 1).
Target (issue 14): in the app, the first findings on screen under 2 s after start: probes stream in as they
finish, the torch child may come later. Measured headless (Pilot), from spawning the app to the first row
in the Environment pane's findings table, and to the last (the audit complete).
Run: python benchmarks/audit.py [--repeats N]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder comes first on sys.path, where a sibling benchmark may shadow a stdlib module.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
TARGET_S = 2.0

IN_APP = r"""
import asyncio, sys, time
start = float(sys.argv[1])
from tui_trainer.app import make_app
from tui_trainer.panes.env import EnvPane
from tui_trainer.widgets.findings_table import FindingsTable

async def main():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(EnvPane)
        table = pane.query_one(FindingsTable)
        first = None
        while pane.result is None:
            await asyncio.sleep(0.01)
            if first is None and table.findings:
                first = time.time() - start
        print("FIRST", first if first is not None else time.time() - start, "DONE", time.time() - start)

asyncio.run(main())
"""


def wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
    return elapsed


def in_app() -> tuple[float, float]:
    """(first findings on screen, audit complete), seconds since the app was spawned."""
    proc = subprocess.run(
        [sys.executable, "-c", IN_APP, repr(time.time())], cwd=REPO, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise SystemExit(f"in-app audit failed:\n{proc.stderr}")
    words = proc.stdout.split()
    return float(words[words.index("FIRST") + 1]), float(words[words.index("DONE") + 1])


def in_process(smoke: bool) -> tuple[float, dict[str, float]]:
    from tui_trainer.audit.runner import AuditOptions, run_audit

    result = run_audit(AuditOptions(smoke=smoke))
    return result.seconds, {p.name: p.seconds for p in result.probes}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    py = sys.executable
    figures = {
        "python -c 'import torch' (baseline)": [
            wall([py, "-c", "import torch"]) for _ in range(args.repeats)
        ],
        "tui-trainer audit --json": [
            wall([py, "-m", "tui_trainer", "audit", "--json"]) for _ in range(args.repeats)
        ],
        "tui-trainer audit --json --no-smoke": [
            wall([py, "-m", "tui_trainer", "audit", "--json", "--no-smoke"]) for _ in range(args.repeats)
        ],
    }
    baseline = statistics.median(figures["python -c 'import torch' (baseline)"])
    print(f"{'command':<42} {'median s':>9} {'min s':>7} {'x torch import':>15}")
    for name, times in figures.items():
        median = statistics.median(times)
        print(f"{name:<42} {median:>9.2f} {min(times):>7.2f} {median / baseline:>15.2f}")
    seconds, probes = in_process(smoke=True)
    print(f"\nrun_audit() in process, smoke test on: {seconds:.2f} s")
    for name, value in sorted(probes.items(), key=lambda item: -item[1]):
        print(f"  {name:<10} {value:.3f} s")
    whole = statistics.median(figures["tui-trainer audit --json"])
    verdict = "meets" if whole < TARGET_S else "MISSES"
    print(f"\nwhole audit {whole:.2f} s {verdict} the {TARGET_S:.0f} s target")
    app_runs = [in_app() for _ in range(args.repeats)]
    first = statistics.median(r[0] for r in app_runs)
    done = statistics.median(r[1] for r in app_runs)
    verdict = "meets" if first < TARGET_S else "MISSES"
    print(
        f"in the app (headless, from spawn): first findings {first:.2f} s (best {min(r[0] for r in app_runs):.2f})"
        f" {verdict} the {TARGET_S:.0f} s target; audit complete {done:.2f} s"
    )
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
