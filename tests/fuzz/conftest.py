"""Fixtures for the fuzz suite: one real (tiny) training run whose events and checkpoints get mutated."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz import corpus
from tests.fuzz.harness import run_cli


@pytest.fixture(scope="session")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished run of a small MLP on penguins (two epochs, a checkpoint every 4 steps)."""
    base = tmp_path_factory.mktemp("real-run")
    (base / "penguins.csv").write_bytes(corpus.penguins_csv(80))
    config = corpus.train_config(base / "penguins.csv").replace(
        b"checkpoint_every = 0", b"checkpoint_every = 4"
    )
    (base / "train.toml").write_bytes(config.replace(b"epochs = 1", b"epochs = 2"))
    run = base / "run"
    outcome = run_cli(["train", str(base / "train.toml"), "--headless", "--run-dir", str(run)], cwd=base)
    assert outcome.returncode == 0, outcome.describe()
    assert (run / "events.jsonl").is_file() and list((run / "checkpoints").glob("step-*.pt"))
    return run
