"""`tui-trainer attach`: open the monitor on runs started elsewhere, following their events.jsonl as it grows."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "Follow one or more run folders in the monitor (several are overlaid on one chart)."
DESCRIPTION = """\
Open the Train pane on run folders started elsewhere (another terminal, a tmux session, nohup, a
cluster job): it follows RUN_DIR/events.jsonl as it grows, so you can start a run, leave the SSH
session, and come back. Two or more folders are overlaid on the same charts for comparison; the
first is the main run (header, telemetry, log). Attached runs take no commands (pause/stop are for
runs started from the pane).

Without a terminal (a pipe, CI, nohup) it prints a one-shot text summary of each run instead --
status, step, last train and val loss, last checkpoint, diagnostics -- or JSON with --json.

exit codes: 0 ok; 2 a folder is missing, not a folder, has no events.jsonl, or is unreadable.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "run_dirs",
        nargs="+",
        metavar="RUN_DIR",
        type=Path,
        help="a run folder holding events.jsonl, or a TensorBoard / CSVLogger log folder (each sub-folder a run)",
    )
    parser.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="TAG=FIELD",
        help="log folders: read scalar TAG as FIELD (loss, val_loss, lr, grad_norm, epoch, ignore, train/NAME, val/NAME)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the summaries as one JSON list and exit (implies --summary)",
    )
    parser.add_argument(
        "--summary",
        action="store_true",
        help="print the one-shot summary and exit even when a terminal is attached",
    )


def run(args: argparse.Namespace) -> int:
    from tui_trainer.integrations.logdirs import open_log_runs  # TensorBoard / CSVLogger folders as runs

    live = not (args.summary or args.json or not (sys.stdin.isatty() and sys.stdout.isatty()))
    args.run_dirs, close_logs = open_log_runs(args.run_dirs, args.map, live=live)
    try:
        return _run(args)
    finally:
        close_logs()


def _run(args: argparse.Namespace) -> int:
    from tui_trainer.engine.runs import check_run_dir
    from tui_trainer.errors import UserError

    for run_dir in args.run_dirs:
        problem = check_run_dir(run_dir)
        if problem:
            raise UserError(problem)
    if args.summary or args.json or not (sys.stdin.isatty() and sys.stdout.isatty()):
        return print_summaries(args.run_dirs, as_json=args.json)

    from tui_trainer.app import open_train_app

    return open_train_app(attach_dirs=tuple(args.run_dirs))


def read_history(run_dir: Path):
    """Everything in `run_dir/events.jsonl` now, folded into a RunHistory (bounded, however long the run).

    Returns (history, events read, skipped lines). A run with no end event is given its status by the one rule in
    `engine.runs` (running while its writer is alive, else killed), so a SIGKILLed run is never "running".
    """
    from tui_trainer.engine.events import Failed
    from tui_trainer.engine.follow import EventFollower
    from tui_trainer.engine.history import RunHistory
    from tui_trainer.engine.runs import liveness

    follower = EventFollower(run_dir)
    history = RunHistory(label=run_dir.name)
    for events in follower.iter_all():
        history.extend(events)
    read = history.events_seen
    if not history.is_over:
        status, detail = liveness(run_dir, history.pid, history.host, history.started_at)
        if status == "killed":
            history.add(Failed(error=detail, step=history.step, code="killed"))
    return history, read, follower.skipped


def print_summaries(run_dirs: list[Path], as_json: bool = False) -> int:
    import json

    from tui_trainer.engine.events import json_safe
    from tui_trainer.engine.history import epoch_text
    from tui_trainer.formatting import format_duration, format_number

    summaries = []
    for run_dir in run_dirs:
        history, read, skipped = read_history(run_dir)
        summary = history.summary()
        summary["run_dir"] = str(run_dir)
        summary["events"] = read
        summary["skipped_lines"] = skipped
        summaries.append((history, summary))
    if as_json:
        print(json.dumps(json_safe([s for _, s in summaries]), indent=2, allow_nan=False))
        return 0
    for history, s in summaries:
        print(f"{s['run_dir']}: {s['status']}")
        step = "—" if s["step"] is None else str(s["step"])
        total = f"/{s['total_steps']}" if s["total_steps"] else ""
        print(f"  step {step}{total}, {epoch_text(s['epoch'], history.epochs)}, {s['events']} events")
        print(
            f"  last train loss {format_number(s['train_loss'])}, last val loss {format_number(s['val_loss'])}, lr {format_number(s['lr'])}"
        )
        rate = s["steps_per_s"]
        if rate and not history.is_over:
            samples = f", {s['samples_per_s']:.0f} samples/s" if s["samples_per_s"] else ""
            print(f"  {rate:.1f} steps/s{samples}, ETA {format_duration(history.eta_s())}")
        if s["last_checkpoint"]:
            print(f"  last checkpoint: {s['last_checkpoint']}")
        if s["error"]:
            print(f"  error: {s['error']}")
        if s["diagnostics"]:
            print("  diagnostics:")
            for d in s["diagnostics"]:
                at = f" at step {d['step']}" if d["step"] is not None else ""
                times = f" (x{d['count']})" if d["count"] > 1 else ""
                print(f"    {d['severity']:<7} {d['code']}{at}{times}: {d['message']}")
        else:
            print("  diagnostics: none")
        if s["skipped_lines"]:
            print(f"  {s['skipped_lines']} malformed line(s) in events.jsonl were skipped")
    return 0
