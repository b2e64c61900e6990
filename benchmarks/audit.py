"""Audit speed: the whole `tui-trainer audit` (torch import in its child included) against `import torch` alone.

Target (issue 3): the whole audit, torch import included, under 2 s on these machines. The audit runs its
probes concurrently, so it should cost little more than the torch import it cannot avoid (ratio near 1).
Run: python benchmarks/audit.py [--repeats N]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder comes first on sys.path, where a sibling benchmark may shadow a stdlib module.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
TARGET_S = 2.0


def wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
    return elapsed


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


if __name__ == "__main__":
    main()
