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
    import os
    import sys
    from pathlib import Path

    from tui_trainer.engine.config import ConfigError, load_config
    from tui_trainer.engine.follow import EVENTS_FILE
    from tui_trainer.engine.headless import default_run_dir, run_headless
    from tui_trainer.errors import UserError

    resume = args.resume is not None
    if resume:
        run_dir = Path(args.resume)
        if not run_dir.is_dir():
            raise UserError(f"--resume {args.resume}: no such run directory")
        if args.run_dir and Path(args.run_dir).resolve() != run_dir.resolve():
            raise UserError("--resume RUN_DIR continues in RUN_DIR; do not also give a different --run-dir")
        from tui_trainer.engine.runs import read_run

        info = read_run(run_dir)
        if info.status == "running" and info.pid != os.getpid():
            raise UserError(
                f"--resume {args.resume}: the run is still running (pid {info.pid} on {info.host}); stop it first "
                "(Ctrl-C, or `s` in the Train pane) — two writers would interleave its events"
            )
        config_path = Path(args.config) if args.config else run_dir / "config.toml"
        if not config_path.is_file():
            raise ConfigError(
                f"--resume {args.resume}: {config_path} not found; give the CONFIG the run was started with"
            )
    else:
        if not args.config:
            raise UserError("give a CONFIG (e.g. sample_data/configs/tabular.toml), or --resume RUN_DIR")
        config_path = Path(args.config)
        run_dir = Path(args.run_dir) if args.run_dir else default_run_dir(config_path)
        if (run_dir / EVENTS_FILE).exists() and _has_started(run_dir):
            raise UserError(
                f"--run-dir {run_dir} already holds a run (events.jsonl); continue it with --resume {run_dir} "
                "or choose another --run-dir"
            )
    config = load_config(config_path, args.overrides)

    if not args.headless:
        if sys.stdout.isatty() and sys.stdin.isatty():
            from tui_trainer.panes.train import open_train_app

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


def _has_started(run_dir) -> bool:
    """Whether a run folder holds a run that got as far as starting (not only a config error)."""
    from tui_trainer.engine.runs import read_run

    return read_run(run_dir).started is not None
