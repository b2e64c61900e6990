"""The `tui-trainer` command: no subcommand starts the app; subcommands are the panes' headless twins.

Each subcommand lives in `tui_trainer/commands/<name>.py` with `HELP`, `add_arguments(parser)` and
`run(args) -> int`. Those modules import only the standard library at top level, so building the
parser stays cheap; heavy imports (polars, torch, textual) happen inside `run`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from tui_trainer import __version__

SUBCOMMANDS: tuple[str, ...] = (
    "audit",
    "inspect",
    "augment",
    "train",
    "attach",
    "runs",
    "collapse",
    "watch",
    "serve",
)

log = logging.getLogger("tui_trainer.cli")


def _command_module(name: str):
    return importlib.import_module(f"tui_trainer.commands.{name}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tui-trainer",
        description="A keyboard-driven terminal workbench that catches deep-learning training pitfalls. "
        "Without a subcommand it starts the app.",
    )
    parser.add_argument("--version", action="version", version=f"tui-trainer {__version__}")
    parser.add_argument("--theme", metavar="NAME", help="colour theme for the app (see themes/); persisted")
    parser.add_argument("--debug", action="store_true", help="also echo DEBUG logs to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        module = _command_module(name)
        sp = sub.add_parser(
            name,
            help=module.HELP,
            description=getattr(module, "DESCRIPTION", module.HELP),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        # SUPPRESS keeps a `--debug` given before the subcommand from being reset by the subparser's default.
        sp.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="echo DEBUG logs to stderr")
        module.add_arguments(sp)
        sp.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Fast path: `--version` must not pay for building every subparser.
    if argv == ["--version"]:
        print(f"tui-trainer {__version__}")
        return 0
    parser = build_parser()
    args = parser.parse_args(argv)

    from tui_trainer.errors import UserError
    from tui_trainer.logs import setup_logging

    debug = bool(getattr(args, "debug", False))
    setup_logging(debug_to_stderr=debug and args.command is not None)
    try:
        if args.command is None:
            return _run_app(args)
        return int(args._run(args) or 0)
    except UserError as exc:
        print(f"tui-trainer: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tui-trainer: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `tui-trainer audit --json | head` closes the pipe early; that is not an error.
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the interpreter's flush at exit
        except OSError:
            pass
        return 0


def _run_app(args: argparse.Namespace) -> int:
    from tui_trainer.app import make_app, resolve_theme_name
    from tui_trainer.errors import UserError

    if args.theme is not None:
        resolve_theme_name(args.theme)  # raises UserError listing the themes there are
    app = make_app(theme=args.theme)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        # No terminal (CI, a pipe, nohup): prove the app starts by booting it headless, and say so.
        try:
            panes = app.boot_headless()
        except Exception as exc:  # pragma: no cover - reported, not hidden
            raise UserError(f"the app failed to start headless: {exc}") from exc
        print(
            "tui-trainer: no terminal attached, so the app was booted headless to check that it starts "
            f"(panes: {', '.join(panes)}) and closed. Run `tui-trainer` in a terminal to use it, or a "
            "subcommand (tui-trainer --help) for headless work."
        )
        return 0
    app.run()
    return int(app.return_code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
