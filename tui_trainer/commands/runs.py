"""`tui-trainer runs`: list run directories under a root (default ./runs) with their status."""

from __future__ import annotations

import argparse

HELP = "List runs (default under ./runs) with status, step, loss and best validation loss."
DESCRIPTION = """\
List the run directories directly under ROOT (default ./runs): each one holding an events.jsonl.
Status: running, finished, stopped, failed, or killed (no end event and the process is gone: resume it
with `tui-trainer train --resume RUN_DIR`).

exit status: 0 listed (also when there are no runs), 2 ROOT is not a folder."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "root",
        nargs="?",
        default="runs",
        metavar="ROOT",
        help="folder holding run directories (default: runs)",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON list of runs")
    parser.add_argument(
        "--status",
        choices=("running", "finished", "failed", "stopped", "killed"),
        help="only runs with this status",
    )


def _age(started: float | None) -> str:
    import time

    if started is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(started))


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tui_trainer.engine.runs import list_runs, runs_to_json
    from tui_trainer.errors import UserError

    root = Path(args.root)
    if root.exists() and not root.is_dir():
        raise UserError(f"{root}: not a folder of runs")
    runs = list_runs(root)
    from tui_trainer.integrations.logdirs import list_log_runs  # TensorBoard / CSVLogger folders as runs

    runs += list_log_runs(root, skip=[r.run_dir for r in runs])
    runs.sort(key=lambda r: (r.started or 0.0, r.run_id), reverse=True)
    if args.status:
        runs = [r for r in runs if r.status == args.status]
    if args.json:
        print(runs_to_json(runs))
        return 0
    if not runs:
        print(f"no runs under {root}/ (start one: tui-trainer train CONFIG --headless --run-dir {root}/NAME)")
        return 0

    def num(v: float | None) -> str:
        return "-" if v is None else f"{v:.4g}"

    rows = [("RUN", "STATUS", "STARTED", "STEP", "LOSS", "BEST VAL", "DETAIL")]
    for r in runs:
        step = (
            "-"
            if r.last_step is None
            else (f"{r.last_step}/{r.total_steps}" if r.total_steps else str(r.last_step))
        )
        detail = r.detail if r.status != "finished" else (r.detail if r.detail != "completed" else "")
        rows.append(
            (r.run_id, r.status, _age(r.started), step, num(r.last_loss), num(r.best_val_loss), detail[:60])
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=False)) + "  " + row[-1])
    return 0
