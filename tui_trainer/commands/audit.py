"""`tui-trainer audit`: placeholder until issue #3 lands."""

from __future__ import annotations

import argparse

from tui_trainer.commands._unavailable import not_available

HELP = "Audit this environment: Python, packages, PyTorch build vs driver vs GPU, host, project."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    return not_available("audit", 3)
