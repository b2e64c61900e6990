"""`tui-trainer watch -- CMD ARGS…`: run your own training command as a run (Lightning, Trainer, any script)."""

from __future__ import annotations

import argparse

HELP = "Run your own training command as a run: its output, its logs and its exit in the monitor."
DESCRIPTION = """\
Start CMD (after `--`) as a run: in its own process group, in a new run folder (--run-dir, default
runs/<script>-<time>), with TUI_TRAINER_RUN_DIR set so the integrations (Lightning TuiTrainerCallback,
transformers TuiTrainerCallback, tui_trainer.monitor, monitor.SummaryWriter) write into it. Its stdout and
stderr go to RUN_DIR/console.log; TensorBoard or CSVLogger logs it writes are mirrored into the run when it
reports nothing itself; its exit code becomes `finished` or `failed`. Without --headless the app opens
on the Train pane (when stdout is a terminal).

Headless it prints progress lines as `train --headless` does. Ctrl-C sends the command SIGINT, a second
Ctrl-C SIGTERM, a third SIGKILL; SIGUSR1 pauses / resumes it, SIGUSR2 kills its process tree.

exit status: the command's (128+N when a signal N ended it); 2 the command does not exist, or bad options."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run-dir", metavar="DIR", help="run folder (default runs/<script stem>-<time>)")
    parser.add_argument(
        "--headless",
        action="store_true",
        help="no UI: print progress lines and exit with the command's status",
    )
    parser.add_argument("--json", action="store_true", help="headless: print every event as a JSON line")
    parser.add_argument(
        "cmd", nargs=argparse.REMAINDER, metavar="-- CMD ARGS", help="the command to run, after --"
    )


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from tui_trainer.engine.follow import EVENTS_FILE
    from tui_trainer.errors import UserError
    from tui_trainer.integrations.watch import check_command, default_watch_dir

    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    check_command(cmd)
    run_dir = Path(args.run_dir) if args.run_dir else default_watch_dir(cmd)
    if (run_dir / EVENTS_FILE).exists():
        raise UserError(f"--run-dir {run_dir} already holds a run (events.jsonl); choose another --run-dir")
    if not args.headless and sys.stdout.isatty() and sys.stdin.isatty():
        import shlex

        from tui_trainer.app import open_train_app

        return int(open_train_app(watch_command=shlex.join(cmd), run_dir=run_dir) or 0)
    from tui_trainer.engine.headless import ProgressPrinter
    from tui_trainer.integrations.watch import run_watch

    printer = ProgressPrinter(sys.stdout, json_lines=args.json)
    code = run_watch(cmd, run_dir, emit=printer)
    if printer.tty and printer._status_shown:
        sys.stdout.write("\n")
    return code
