"""`tui-trainer attach`: placeholder until issue #6 lands."""

from __future__ import annotations

import argparse

from tui_trainer.commands._unavailable import not_available

HELP = "Follow a run directory started elsewhere, in the monitor."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    return not_available("attach", 6)
