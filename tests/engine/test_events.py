"""Events: one typed codec; every type survives to_json → parse_line with NaN/inf anywhere, bad lines are rejected."""

from __future__ import annotations

import json
import math
import typing
from dataclasses import fields
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui_trainer.engine.events import (
    EVENT_TYPES,
    MAX_LINE_BYTES,
    Checkpoint,
    Diagnostic,
    EpochEnd,
    Eval,
    EventParseError,
    Failed,
    Finished,
    Log,
    Paused,
    Resumed,
    RunStarted,
    Step,
    System,
    parse_event,
    parse_line,
    to_dict,
    to_json,
)

SAMPLES = [
    RunStarted(run_id="r", run_dir="/tmp/r", config={"optim": {"lr": 0.1}}, pid=5, host="h", time=1.0),
    Step(
        step=3,
        epoch=0,
        loss=0.5,
        lr=0.1,
        grad_norm=2.0,
        samples_per_s=100.0,
        layer_grad_norms={"fc1": 1e-17},
        dead_units={"relu1": 0.5},
        time=1.0,
    ),
    Eval(step=3, val_loss=0.4, metrics={"accuracy": 0.9}, pred_counts=[3, 0], label_counts=[2, 1], time=1.0),
    EpochEnd(epoch=0, step=3, train_loss=0.5, time=1.0),
    Checkpoint(step=3, path="/tmp/r/checkpoints/step-00000003.pt", time=1.0),
    Diagnostic(
        code="overfitting", severity="warning", step=3, message="m", evidence={"a": [1, 2]}, fix="f", time=1.0
    ),
    System(gpus=[{"index": 0, "processes": [{"pid": 1, "training": True}]}], cpu_percent=12.5, time=1.0),
    Log(message="hello", time=1.0),
    Paused(step=3, time=1.0),
    Resumed(step=3, time=1.0),
    Failed(error="boom", traceback="tb", step=3, code="crash", time=1.0),
    Finished(step=3, status="completed", time=1.0),
]


def test_every_event_type_has_a_sample():
    assert {type(e) for e in SAMPLES} == set(EVENT_TYPES.values())


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: e.TYPE)
def test_event_round_trips_through_json(event):
    line = to_json(event)
    assert line.startswith(f'{{"type":"{event.TYPE}"')
    assert parse_line(line) == event
    assert parse_line(line.encode()) == event


# ----- the property: NaN/inf anywhere, same values back -------------------------------------------------
FLOATS = st.floats(allow_nan=True, allow_infinity=True)
# Free-form (Any) fields carry JSON-like data; the three names "nan"/"inf"/"-inf" mean the floats there.
TEXT = st.text(max_size=8).filter(lambda s: s not in ("nan", "inf", "-inf"))
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | FLOATS | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=12,
)


def _strategy(hint: Any) -> st.SearchStrategy:
    if hint is Any:
        return JSONISH
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, __import__("types").UnionType):
        return st.one_of(*[_strategy(a) for a in args])
    if origin is dict:
        return st.dictionaries(TEXT, _strategy(args[1]), max_size=4)
    if origin is list:
        return st.lists(_strategy(args[0]), max_size=4)
    return {
        float: FLOATS,
        int: st.integers(-(2**63), 2**63 - 1),
        str: st.text(max_size=12),
        type(None): st.none(),
    }[hint]


def _event_strategy(cls):
    hints = typing.get_type_hints(cls)
    return st.builds(cls, **{f.name: _strategy(hints[f.name]) for f in fields(cls)})


ANY_EVENT = st.one_of(*[_event_strategy(cls) for cls in EVENT_TYPES.values()])


def _same(a: Any, b: Any) -> bool:
    """Equality where NaN equals NaN and a float equals the same float (not 1 == 1.0 across types)."""
    if isinstance(a, float) or isinstance(b, float):
        if not (isinstance(a, float) and isinstance(b, float | int)) and not (
            isinstance(b, float) and isinstance(a, float | int)
        ):
            return False
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return isinstance(b, list) and len(a) == len(b) and all(map(_same, a, b))
    return type(a) is type(b) and a == b


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ANY_EVENT)
def test_every_event_round_trips_with_nan_and_inf_anywhere(event):
    line = to_json(event)
    json.loads(line)  # strict JSON: no NaN/Infinity tokens
    back = parse_line(line)
    assert type(back) is type(event)
    for f in fields(event):
        assert _same(getattr(event, f.name), getattr(back, f.name)), f.name
    assert to_json(back) == line
    # The typed events' fast path writes the very line the json_safe walk gives.
    assert line == json.dumps(to_dict(event), separators=(",", ":"), allow_nan=False)


def test_nonfinite_values_in_metrics_and_timings_come_back_as_floats():
    step = Step(
        step=1,
        epoch=0,
        loss=math.nan,
        grad_norm=math.inf,
        data_wait_s=math.nan,
        compute_s=-math.inf,
        metrics={"acc": math.nan},
    )
    back = parse_line(to_json(step))
    assert math.isnan(back.loss) and back.grad_norm == math.inf
    assert math.isnan(back.data_wait_s) and back.compute_s == -math.inf
    assert isinstance(back.metrics["acc"], float) and math.isnan(back.metrics["acc"])
    diag = Diagnostic(code="c", severity="warning", step=1, message="m", evidence={"ratio": [math.inf, 1.0]})
    assert parse_line(to_json(diag)).evidence == {"ratio": [math.inf, 1.0]}


def test_numpy_values_in_free_form_fields_are_written_as_numbers():
    import numpy as np

    diag = Diagnostic(
        code="c", severity="info", step=1, message="m", evidence={"n": np.int64(3), "x": np.float32(0.5)}
    )
    assert parse_line(to_json(diag)).evidence == {"n": 3, "x": 0.5}


# ----- bad lines: an EventParseError naming what is wrong, never another exception ----------------------
@pytest.mark.parametrize(
    ("line", "match"),
    [
        ('{"type":"step","step":"x","epoch":0,"loss":1}', r"step.*\$\.step"),
        ('{"type":"eval","step":1,"val_loss":"abc"}', r"val_loss"),
        ('{"type":"step","step":1,"epoch":0}', r"loss"),
        ('{"type":"step","step":1.5,"epoch":0,"loss":1}', r"\$\.step"),
        ('{"type":"log","message":5}', r"message"),
        ('{"type":"step","step":1,"epoch":0,"loss":1,"metrics":{"a":"b"}}', r"metrics"),
        ('{"type":"system","ram_used_bytes":1e999}', r"."),
        ('{"type":"bogus"}', r"unknown event type 'bogus'.*step"),
        ('{"type":7}', r"unknown event type 7"),
        ("[1,2]", r"JSON object"),
        ("{not json", r"not JSON"),
        (b'{"type":"log","message":"\xff"}', r"not JSON"),
    ],
)
def test_typed_but_wrong_lines_raise_event_parse_error(line, match):
    with pytest.raises(EventParseError, match=match):
        parse_line(line)


def test_deeply_nested_line_is_an_event_parse_error():
    deep = '{"type":"log","message":"m","extra":' + "[" * 50_000 + "]" * 50_000 + "}"
    with pytest.raises(EventParseError):
        parse_line(deep)
    nested_evidence = (
        '{"type":"diagnostic","code":"c","severity":"info","step":1,"message":"m","evidence":{"a":'
        + "[" * 500
        + "]" * 500
        + "}}"
    )
    with pytest.raises(EventParseError, match="deeper"):
        parse_line(nested_evidence)


def test_huge_line_is_rejected_without_parsing():
    line = '{"type":"log","message":"' + "x" * MAX_LINE_BYTES + '"}'
    with pytest.raises(EventParseError, match="longer than"):
        parse_line(line)


def test_parse_event_rejects_non_dicts():
    with pytest.raises(EventParseError):
        parse_event(["step"])


def test_the_reference_doc_lists_every_event_type_and_field():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "events-and-runs.md").read_text(encoding="utf-8")
    rows = {
        line.split("|")[1].strip().strip("`"): line for line in doc.splitlines() if line.startswith("| `")
    }
    for kind, cls in EVENT_TYPES.items():
        assert kind in rows, f"docs/events-and-runs.md has no row for {kind}"
        for f in fields(cls):
            if f.name != "time":
                assert f"`{f.name}`" in rows[kind], f"docs/events-and-runs.md: {kind} row lacks `{f.name}`"
