"""The sample configs shipped in sample_data/configs train cleanly: no diagnostic at all, as they are."""

from __future__ import annotations

import pytest

from tests.conftest import SAMPLE_DATA
from tui_trainer.engine.config import load_config
from tui_trainer.engine.loop import run_training


@pytest.mark.parametrize("name", ["tabular", "images"])
def test_shipped_config_trains_without_any_diagnostic(tmp_path, name):
    events = []
    result = run_training(
        load_config(SAMPLE_DATA / "configs" / f"{name}.toml"), tmp_path / name, emit=events.append
    )
    assert result.status == "completed"
    assert [(e.code, e.message) for e in events if e.type == "diagnostic"] == []
    assert [e.message for e in events if e.type == "log" and e.level != "info"] == []
    accuracy = [e.metrics["accuracy"] for e in events if e.type == "eval"][-1]
    assert accuracy > 0.85  # and they learn: penguins ~0.97, digits ~0.9
