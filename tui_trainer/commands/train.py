"""`tui-trainer train`: run a training config headless (or in the app's Train pane), or resume a run."""

from __future__ import annotations

import argparse

HELP = (
    "Train from a TOML config: headless progress for CI/tmux, or the live monitor; --resume continues a run."
)
DESCRIPTION = """\
Train the model a TOML config describes ([data], [model], [optim], [train], [augment], [diagnostics],
[telemetry]; see sample_data/configs/). Events go to RUN_DIR/events.jsonl and checkpoints to
RUN_DIR/checkpoints/. Without --headless the app opens on the Train pane (when stdout is a terminal).
Ctrl-C / SIGTERM stop gracefully: the step finishes, a checkpoint is written, the run ends as stopped;
headless, SIGUSR1 saves a checkpoint now and SIGUSR2 pauses / resumes (kill -USR1 PID).
Under `torchrun --nproc-per-node N -m tui_trainer train ... --headless` it trains with DDP (rank 0 writes).

exit status: 0 finished (completed, early-stopped or stopped), 1 the run failed or stopped on NaN,
2 bad config, override or data settings (the message names the key)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "config", nargs="?", metavar="CONFIG", help="training config (TOML); optional with --resume"
    )
    parser.add_argument(
        "--headless", action="store_true", help="no UI: print progress lines and exit with the run's status"
    )
    parser.add_argument(
        "--run-dir",
        metavar="DIR",
        help="where events.jsonl and checkpoints go (default runs/<config>-<time>)",
    )
    parser.add_argument(
        "--set",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        dest="overrides",
        help="override a config key, TOML-typed (repeatable): --set optim.lr=0.01 --set model.hidden=[64,64]",
    )
    parser.add_argument("--json", action="store_true", help="headless: print every event as a JSON line")
    parser.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue a stopped or killed run from its last good checkpoint (uses RUN_DIR/config.toml unless CONFIG is given)",
    )


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from tui_trainer.engine.config import load_config
    from tui_trainer.engine.headless import run_headless
    from tui_trainer.engine.runs import prepare_run_dir, resume_config_path
    from tui_trainer.errors import UserError

    resume = args.resume is not None
    if resume:
        run_dir: Path | None = Path(args.resume)
        if args.run_dir and Path(args.run_dir).resolve() != run_dir.resolve():
            raise UserError("--resume RUN_DIR continues in RUN_DIR; do not also give a different --run-dir")
        config_path = resume_config_path(run_dir, Path(args.config) if args.config else None)
    else:
        if not args.config:
            raise UserError("give a CONFIG (e.g. sample_data/configs/tabular.toml), or --resume RUN_DIR")
        config_path = Path(args.config)
        run_dir = Path(args.run_dir) if args.run_dir else None
    config = load_config(config_path, args.overrides)
    # The one run-folder policy (the Train pane applies the same): reuse a folder whose only attempt failed
    # before starting, refuse one holding a started run (that is --resume) or one a live run still writes.
    run_dir = prepare_run_dir(config, run_dir, resume)

    if not args.headless:
        if sys.stdout.isatty() and sys.stdin.isatty():
            from tui_trainer.app import open_train_app

            return int(
                open_train_app(
                    config_path=config_path, overrides=list(args.overrides), run_dir=run_dir, resume=resume
                )
                or 0
            )
        print(
            "tui-trainer: stdout is not a terminal, so training runs headless (pass --headless to silence this note)"
        )
    return run_headless(config, run_dir, resume=resume, json_lines=args.json)
