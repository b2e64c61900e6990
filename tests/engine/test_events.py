"""Events: every type survives to_json → parse_line, non-finite floats included; unknown types are rejected."""

from __future__ import annotations

import math

import pytest

from tui_trainer.engine.events import (
    EVENT_TYPES,
    Checkpoint,
    Diagnostic,
    EpochEnd,
    Eval,
    EventParseError,
    Failed,
    Finished,
    Log,
    RunStarted,
    Step,
    System,
    parse_line,
    to_json,
)

SAMPLES = [
    RunStarted(run_id="r", run_dir="/tmp/r", config={"optim": {"lr": 0.1}}, pid=5, host="h", time=1.0),
    Step(step=3, epoch=0, loss=0.5, lr=0.1, grad_norm=2.0, samples_per_s=100.0, time=1.0),
    Eval(step=3, val_loss=0.4, metrics={"accuracy": 0.9}, time=1.0),
    EpochEnd(epoch=0, step=3, train_loss=0.5, time=1.0),
    Checkpoint(step=3, path="/tmp/r/checkpoints/step-00000003.pt", time=1.0),
    Diagnostic(
        code="overfitting", severity="warning", step=3, message="m", evidence={"a": [1, 2]}, fix="f", time=1.0
    ),
    System(gpus=[{"index": 0, "processes": [{"pid": 1, "training": True}]}], cpu_percent=12.5, time=1.0),
    Log(message="hello", time=1.0),
    Failed(error="boom", traceback="tb", step=3, code="crash", time=1.0),
    Finished(step=3, status="completed", time=1.0),
]


def test_every_event_type_has_a_sample():
    assert {type(e) for e in SAMPLES} == set(EVENT_TYPES.values())


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: e.TYPE)
def test_event_round_trips_through_json(event):
    line = to_json(event)
    assert f'"type":"{event.TYPE}"' in line
    assert parse_line(line) == event


def test_nonfinite_loss_round_trips():
    back = parse_line(to_json(Step(step=1, epoch=0, loss=math.nan, grad_norm=math.inf)))
    assert math.isnan(back.loss) and back.grad_norm == math.inf


def test_unknown_type_is_rejected_with_known_types():
    with pytest.raises(EventParseError, match="unknown event type 'bogus'.*step"):
        parse_line('{"type": "bogus"}')
