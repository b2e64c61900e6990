"""Integration test fixtures: one torch thread, no network for Hugging Face, events read back from a run folder."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def one_torch_thread(monkeypatch: pytest.MonkeyPatch):
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.setenv(var, "1")
    monkeypatch.delenv("TUI_TRAINER_RUN_DIR", raising=False)
    yield
    torch.set_num_threads(before)


def read_events(run_dir: Path) -> list:
    from tui_trainer.engine.follow import EventFollower

    return EventFollower(Path(run_dir)).read_all()


def of_type(events: list, cls: type) -> list:
    return [e for e in events if isinstance(e, cls)]
