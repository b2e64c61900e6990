"""Starting a run from the app: what the CLI asks the Train pane to do, and the spawn of the engine process.

Nothing here imports torch at import time: the engine modules are imported when a run starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tui_trainer.panes.train_bridge import EngineControl

DEFAULT_CONFIG = "sample_data/configs/tabular.toml"


@dataclass
class TrainLaunch:
    """What `tui-trainer train/attach/watch` ask the Train pane to do once it is mounted."""

    config_path: Path | None = None
    overrides: tuple[str, ...] = ()
    run_dir: Path | None = None
    resume: bool = False
    attach_dirs: tuple[Path, ...] = ()
    watch_command: str | None = None  # `tui-trainer watch CMD`: supervise CMD and follow the run it writes

    @property
    def starts_a_run(self) -> bool:
        return (
            not self.attach_dirs
            and self.watch_command is None
            and (self.config_path is not None or self.resume)
        )


def launch_engine(
    config_path: Path | None, overrides: tuple[str, ...], run_dir: Path | None, resume: bool
) -> tuple[EngineControl, Path]:
    """Load the config and spawn the engine process; returns its handle and the run dir. Tests replace this.

    Raises UserError (ConfigError) naming the key for a bad config, or the folder for a bad run dir. The
    run-folder rules are the `train` command's: one policy, `engine.runs.prepare_run_dir`.
    """
    from tui_trainer.engine.config import load_config
    from tui_trainer.engine.process import start_engine
    from tui_trainer.engine.runs import prepare_run_dir, resume_config_path
    from tui_trainer.errors import UserError

    if resume:
        config_path = resume_config_path(run_dir, config_path)
    if config_path is None:
        raise UserError("no config given: pass a TOML config (e.g. sample_data/configs/tabular.toml)")
    config = load_config(Path(config_path), overrides)
    run_dir = prepare_run_dir(config, run_dir, resume)
    ensure_resource_tracker()
    return start_engine(config, run_dir, resume=resume), run_dir


def ensure_resource_tracker() -> None:
    """Start multiprocessing's resource tracker with the real stderr.

    Inside a running Textual app `sys.stderr` is Textual's capture object, whose file descriptor the tracker
    cannot pass to its own process ("bad value(s) in fds_to_keep"), so the first spawn from the app would fail.
    The tracker is started once per process; doing it with the real stderr makes every later spawn work.
    """
    import sys
    from multiprocessing import resource_tracker

    saved = sys.stderr
    try:
        if sys.__stderr__ is not None:
            sys.stderr = sys.__stderr__
        resource_tracker.ensure_running()
    finally:
        sys.stderr = saved


def default_config() -> str:
    """The sample config, relative when run from the checkout (as the README writes it), else absolute."""
    if Path(DEFAULT_CONFIG).is_file():
        return DEFAULT_CONFIG
    from tui_trainer.paths import repo_root

    return str(repo_root() / DEFAULT_CONFIG)


def config_for_editing(run_config: Path | None, last_config: Path | None, run_dir: Path | None) -> Path:
    """What `e` opens: the run's own config, else the one used last here, else the run folder's copy, else the
    sample config."""
    if run_config is not None:
        return run_config
    if last_config is not None:
        return last_config
    if run_dir is not None and (run_dir / "config.toml").is_file():
        return run_dir / "config.toml"
    from tui_trainer.paths import repo_root

    return repo_root() / DEFAULT_CONFIG
