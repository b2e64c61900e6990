"""`tui-trainer train`: placeholder until issue #6 lands."""

from __future__ import annotations

import argparse

from tui_trainer.commands._unavailable import not_available

HELP = "Run a training config headless (or resume a run)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    return not_available("train", 6)
