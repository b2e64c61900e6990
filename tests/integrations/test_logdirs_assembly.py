"""Scalars → step / eval reports: the rules, the same whether scalars come one by one (a live writer) or as
columns read from a log in any chunking (with the log's times)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.integrations.conftest import read_events
from tui_trainer.engine.events import Eval, Step

STREAM = [  # (step, tag, value), in the order a script logs them
    (1, "lr", 0.1),  # no loss at step 1: joins step 2
    (2, "train/loss", 1.0),
    (2, "train/acc", 0.5),
    (3, "train/loss", 0.9),
    (3, "val/acc", 0.7),  # validation without a validation loss: a train-side metric
    (4, "val/loss", 0.8),
    (4, "train/loss", 0.85),  # a step's tags in any order
    (5, "train/loss", math.nan),
    (6, "lr", 0.05),
    (6, "grad_norm", 3.0),
    (7, "train/loss", 0.7),
    (7, "lr", 0.04),  # the step's own value wins over the carried one
]


def reports(events) -> list:
    out = []
    for e in events:
        if isinstance(e, Step):
            out.append(("step", e.step, e.loss, e.lr, e.grad_norm, dict(e.metrics)))
        elif isinstance(e, Eval):
            out.append(("eval", e.step, e.val_loss, dict(e.metrics)))
    return out


def test_the_rules_on_a_stream_written_one_scalar_at_a_time(tmp_path):
    from tui_trainer import monitor
    from tui_trainer.integrations.log_tags import ScalarAssembler

    run = monitor.start(tmp_path / "live", echo=False)
    assembler = ScalarAssembler()
    for step, tag, value in STREAM:
        assembler.add(step, tag, value, run)
    assembler.flush(run)
    run.finish()
    got = reports(read_events(tmp_path / "live"))
    expected = [
        ("step", 2, 1.0, 0.1, None, {"accuracy": 0.5}),
        ("step", 3, 0.9, None, None, {"val_accuracy": 0.7}),
        ("step", 4, 0.85, None, None, {}),
        ("eval", 4, 0.8, {}),
        ("step", 5, math.nan, None, None, {}),
        ("step", 7, 0.7, 0.04, 3.0, {}),
    ]
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert g[:2] == e[:2] and g[3:] == e[3:]
        assert (math.isnan(g[2]) and math.isnan(e[2])) or g[2] == e[2]


@pytest.mark.parametrize("chunk", [1, 2, 5, len(STREAM)])
def test_columns_in_any_chunking_give_the_same_reports_with_the_logs_times(tmp_path, chunk):
    from tui_trainer import monitor
    from tui_trainer.integrations.log_tags import ScalarAssembler
    from tui_trainer.integrations.tensorboard import ScalarColumns

    live = monitor.start(tmp_path / "live", echo=False)
    one_by_one = ScalarAssembler()
    for step, tag, value in STREAM:
        one_by_one.add(step, tag, value, live)
    one_by_one.flush(live)
    live.finish()

    run = monitor.start(tmp_path / "cols", echo=False)
    assembler = ScalarAssembler()
    tags = sorted({t for _, t, _ in STREAM})
    for lo in range(0, len(STREAM), chunk):
        part = STREAM[lo : lo + chunk]
        assembler.add_columns(
            ScalarColumns(
                np.array([s for s, _, _ in part], np.int64),
                np.array([tags.index(t) for _, t, _ in part], np.int32),
                np.array([v for _, _, v in part]),
                np.array([1.7e9 + 10 * s for s, _, _ in part]),
                tags,
            ),
            run,
        )
    assembler.flush(run)
    run.finish()
    timed = read_events(tmp_path / "cols")
    want = repr(reports(read_events(tmp_path / "live")))  # repr: NaN compares equal to itself there
    assert repr(reports(timed)) == want
    assert [e.time for e in timed if isinstance(e, Step | Eval)] == [
        1.7e9 + 10 * e.step for e in timed if isinstance(e, Step | Eval)
    ]
    diagnostics = [e for e in timed if e.type == "diagnostic"]
    assert [d.code for d in diagnostics] == ["nan_loss"]  # the NaN at step 5, raised at that step's time
    assert diagnostics[0].time == 1.7e9 + 10 * 5
