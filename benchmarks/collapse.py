# ruff: noqa: E402
"""Collapse-lab speed: the issue's check run, vectorised over repeats, against a per-repeat Python loop.

The check (`--model gaussian --estimator mle --generations 50 --samples 20 --repeats 400`) must feel instant;
the baseline is the obvious loop (one numpy fit per repeat per generation) measured in the same process.
Also times one GMM default run and the whole CLI command (interpreter start included).
Run: python benchmarks/collapse.py [--repeats N]
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

import numpy as np

from tui_trainer.collapse.experiment import CollapseParams, run_experiment

CHECK = dict(model="gaussian", estimator="mle", generations=50, samples=20, repeats=400, seed=0)


def looped(generations: int, samples: int, repeats: int, seed: int) -> list[float]:
    """The same experiment one repeat at a time: what vectorising saves."""
    rng = np.random.default_rng(seed)
    variances = np.empty((repeats, generations))
    for r in range(repeats):
        mu, sigma = 0.0, 1.0
        for g in range(generations):
            x = rng.normal(mu, sigma, samples)
            mu, var = float(x.mean()), float(x.var())
            sigma = var**0.5
            variances[r, g] = var
    return variances.mean(axis=0).tolist()


def best_of(fn, n: int) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5, help="timing repeats; the best is reported")
    args = parser.parse_args()
    params = CollapseParams(**CHECK)
    vectorised = best_of(lambda: run_experiment(params), args.repeats)
    loop = best_of(lambda: looped(50, 20, 400, 0), max(1, args.repeats // 2))
    gmm = best_of(lambda: run_experiment(CollapseParams.for_model("gmm")), 1)
    cli = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "tui_trainer",
                "collapse",
                *sum(([f"--{k}", str(v)] for k, v in CHECK.items()), []),
                "--json",
            ],
            check=True,
            capture_output=True,
        )
        cli.append(time.perf_counter() - t)
    print(f"issue check, vectorised over repeats: {vectorised * 1000:.1f} ms")
    print(
        f"issue check, per-repeat loop:         {loop * 1000:.1f} ms  (vectorised is {loop / vectorised:.1f}x faster)"
    )
    print(f"gmm defaults (50 gen x 200 x 10):     {gmm:.2f} s")
    print(f"CLI end to end (median of {len(cli)}):     {statistics.median(cli):.2f} s")


if __name__ == "__main__":
    main()
