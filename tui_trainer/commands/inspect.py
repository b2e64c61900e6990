"""`tui-trainer inspect`: placeholder until issue #4 lands."""

from __future__ import annotations

import argparse

from tui_trainer.commands._unavailable import not_available

HELP = "Profile a dataset and list its problems (missing, duplicates, outliers, imbalance, leakage, drift)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    return not_available("inspect", 4)
