"""The typed events a training run emits: one frozen dataclass per `type`, the same on the queue and on disk.

`events.jsonl` holds one `to_json(event)` per line; `parse_line` / `parse_event` turn it back into its
dataclass, so `attach` (reading the file) and a live run (reading the queue) share one path. The codec is
driven by the dataclass field types (msgspec converts and validates them): a line whose `step` is `"x"` or
whose `val_loss` is `"abc"` is an `EventParseError`, never a crash further on. JSON has no NaN/inf, so a
non-finite float is written as the string `"nan"`, `"inf"` or `"-inf"` wherever it sits (a typed field,
a `metrics` dict, free-form `evidence`), and read back as the float: the queue and the file give the same values.
"""

from __future__ import annotations

import json
import math
import time
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar


def _now() -> float:
    return time.time()


@dataclass(frozen=True)
class Event:
    """Base of every event. `time` is wall-clock seconds since the epoch, set when the event is made."""

    TYPE: ClassVar[str] = ""
    time: float = field(default_factory=_now, kw_only=True)

    @property
    def type(self) -> str:
        return self.TYPE


@dataclass(frozen=True)
class RunStarted(Event):
    TYPE: ClassVar[str] = "run_started"
    run_id: str
    run_dir: str
    config: dict[str, Any] = field(default_factory=dict)
    device: str = "cpu"
    world_size: int = 1
    total_steps: int | None = None
    resumed_from_step: int | None = None
    pid: int | None = None
    host: str | None = None
    model_summary: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Step(Event):
    TYPE: ClassVar[str] = "step"
    step: int
    epoch: int
    loss: float
    lr: float | None = None
    grad_norm: float | None = None
    samples_per_s: float | None = None
    data_wait_s: float | None = None
    compute_s: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    # Gradient norm per layer (module name -> L2 norm), sampled on reported steps only: the per-layer rules
    # (vanishing/exploding in one layer) need it, and the global norm hides a starved first layer.
    layer_grad_norms: dict[str, float] = field(default_factory=dict)
    # Share of units in each ReLU-family layer whose output was zero for the whole reported batch.
    dead_units: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Eval(Event):
    TYPE: ClassVar[str] = "eval"
    step: int
    val_loss: float
    epoch: int | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    # Classification only: how often the model predicted each class on the validation set, and how often each
    # class is the true label there (index = class id). The one-class rule decides from these, not from accuracy.
    pred_counts: list[int] | None = None
    label_counts: list[int] | None = None


@dataclass(frozen=True)
class EpochEnd(Event):
    TYPE: ClassVar[str] = "epoch_end"
    epoch: int
    step: int
    train_loss: float | None = None
    duration_s: float | None = None


@dataclass(frozen=True)
class Checkpoint(Event):
    TYPE: ClassVar[str] = "checkpoint"
    step: int
    path: str
    epoch: int | None = None
    reason: str = "periodic"


@dataclass(frozen=True)
class Diagnostic(Event):
    TYPE: ClassVar[str] = "diagnostic"
    code: str
    severity: str
    step: int | None
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    fix: str = ""


@dataclass(frozen=True)
class System(Event):
    """One telemetry sample: per-GPU readings (NVML) and host CPU/RAM (psutil)."""

    TYPE: ClassVar[str] = "system"
    gpus: list[dict[str, Any]] = field(default_factory=list)
    cpu_percent: float | None = None
    ram_used_bytes: int | None = None
    ram_total_bytes: int | None = None
    process_rss_bytes: int | None = None


@dataclass(frozen=True)
class Log(Event):
    TYPE: ClassVar[str] = "log"
    message: str
    level: str = "info"


@dataclass(frozen=True)
class Paused(Event):
    TYPE: ClassVar[str] = "paused"
    step: int


@dataclass(frozen=True)
class Resumed(Event):
    TYPE: ClassVar[str] = "resumed"
    step: int


@dataclass(frozen=True)
class Failed(Event):
    TYPE: ClassVar[str] = "failed"
    error: str
    traceback: str = ""
    step: int | None = None
    code: str | None = None


@dataclass(frozen=True)
class Finished(Event):
    TYPE: ClassVar[str] = "finished"
    step: int
    status: str = "completed"  # completed | stopped | early_stopped
    epoch: int | None = None
    duration_s: float | None = None
    best_val_loss: float | None = None


EVENT_TYPES: dict[str, type[Event]] = {
    cls.TYPE: cls
    for cls in (
        RunStarted,
        Step,
        Eval,
        EpochEnd,
        Checkpoint,
        Diagnostic,
        System,
        Log,
        Paused,
        Resumed,
        Failed,
        Finished,
    )
}


class EventParseError(ValueError):
    """A line or dict that is not a valid event; the message says which type or field is wrong."""


# A line longer than this is not an event the engine wrote (the largest, `run_started` with a model summary,
# is tens of KB); reading it would cost memory for nothing. Nesting deeper than this is garbage too.
MAX_LINE_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 64

_NONFINITE_OUT = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def _nonfinite_name(value: float) -> str:
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def json_safe(value: Any, _depth: int = 0) -> Any:
    """`value` with every non-finite float replaced by its string name, at any depth (for strict JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else _nonfinite_name(value)
    if _depth > MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        return {str(k): json_safe(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v, _depth + 1) for v in value]
    return value


def _restore_nonfinite(value: Any, depth: int = 0) -> Any:
    # Free-form (Any) values have no type to say "float": the three names always mean the float there.
    if isinstance(value, str):
        return _NONFINITE_OUT.get(value, value)
    if depth > MAX_DEPTH:
        raise EventParseError(f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        return {k: _restore_nonfinite(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore_nonfinite(v, depth + 1) for v in value]
    return value


def _has_any(annotation: Any) -> bool:
    if annotation is Any:
        return True
    return any(_has_any(arg) for arg in typing.get_args(annotation))


# Per event type, the fields whose declared type holds `Any` (config, evidence, gpus, model_summary): msgspec
# checks everything else, these get their non-finite names turned back into floats after conversion.
_FREE_FORM: dict[type[Event], tuple[str, ...]] = {}


def _free_form(cls: type[Event]) -> tuple[str, ...]:
    names = _FREE_FORM.get(cls)
    if names is None:  # worked out on first use: resolving the hints costs milliseconds at import
        names = _FREE_FORM[cls] = tuple(
            name for name, hint in typing.get_type_hints(cls).items() if _has_any(hint)
        )
    return names


def _enc_hook(value: Any) -> Any:
    # numpy scalars and arrays, paths and the like in free-form fields: their plain-Python form.
    for attr in ("item", "tolist"):
        method = getattr(value, attr, None)
        if callable(method):
            try:
                return method()
            except (TypeError, ValueError):
                pass
    return str(value)


def to_dict(event: Event) -> dict[str, Any]:
    """The event as plain JSON-ready data: `type` first, non-finite floats as their names."""
    import msgspec

    data = msgspec.to_builtins(event, str_keys=True, enc_hook=_enc_hook)
    return json_safe({"type": event.TYPE, **data})


def to_json(event: Event) -> str:
    """The event's JSON line. Events whose fields are all typed (steps, evals: the ones written at every
    report) are bounded in depth by their types and nearly always finite, so they skip the `json_safe` walk
    unless `json.dumps` finds a non-finite float (it halves the cost of a line); free-form fields (configs,
    metadata) always take the walk, which also enforces MAX_DEPTH."""
    if not _free_form(type(event)):
        import msgspec

        data = {"type": event.TYPE, **msgspec.to_builtins(event, str_keys=True, enc_hook=_enc_hook)}
        try:
            return json.dumps(data, separators=(",", ":"), allow_nan=False)
        except ValueError:  # a NaN or an infinity somewhere: written as its name
            return json.dumps(json_safe(data), separators=(",", ":"), allow_nan=False)
    return json.dumps(to_dict(event), separators=(",", ":"), allow_nan=False)


def _check_free_form(event: Event) -> Event:
    for name in _free_form(type(event)):
        # The event was just built here and nothing else holds it: setting a field of the frozen
        # dataclass in place is safe, and cheaper than building it a second time.
        object.__setattr__(event, name, _restore_nonfinite(getattr(event, name)))
    return event


def parse_event(data: Any) -> Event:
    """Build the event dataclass for `data` (a dict); unknown types, missing or wrongly typed fields raise."""
    import msgspec

    if not isinstance(data, dict):
        raise EventParseError(f"an event must be a JSON object, got {type(data).__name__}")
    kind = data.get("type")
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        known = ", ".join(sorted(EVENT_TYPES))
        raise EventParseError(f"unknown event type {kind!r}; known types: {known}")
    try:
        # Lax mode turns the names "nan"/"inf"/"-inf" (and numbers written as strings) into the typed numbers;
        # anything else of the wrong type fails with its path (`$.step`). Unknown keys (newer writers) are ignored.
        event = msgspec.convert(data, cls, strict=False)
    except msgspec.ValidationError as exc:
        raise EventParseError(f"event {kind!r}: {exc}") from None
    except (RecursionError, TypeError, ValueError) as exc:
        raise EventParseError(f"event {kind!r}: {type(exc).__name__}: {exc}") from None
    return _check_free_form(event)


_DECODERS: dict[str, Any] = {}


def _decoder(kind: str) -> Any:
    """A msgspec JSON decoder straight into the dataclass of `kind` (the same typed, lax conversion)."""
    decoder = _DECODERS.get(kind)
    if decoder is None:
        import msgspec

        decoder = _DECODERS[kind] = msgspec.json.Decoder(EVENT_TYPES[kind], strict=False)
    return decoder


def _type_of(line: str | bytes) -> str | None:
    # Lines this package writes start with the type (`to_json` puts it first): read it without parsing.
    if isinstance(line, bytes):
        if line.startswith(b'{"type":"'):
            end = line.find(b'"', 9)
            return line[9:end].decode("ascii", "replace") if end > 0 else None
        return None
    if line.startswith('{"type":"'):
        end = line.find('"', 9)
        return line[9:end] if end > 0 else None
    return None


def parse_line(line: str | bytes) -> Event:
    """One line of events.jsonl (str or bytes) as its event; anything else raises EventParseError."""
    import msgspec

    if len(line) > MAX_LINE_BYTES:
        raise EventParseError(f"line of {len(line)} bytes is longer than {MAX_LINE_BYTES} (not an event)")
    kind = _type_of(line)
    if kind in EVENT_TYPES:
        # The fast path (a follower reads 100,000 lines a second): decode into the dataclass in one step.
        try:
            return _check_free_form(_decoder(kind).decode(line))
        except msgspec.ValidationError as exc:
            raise EventParseError(f"event {kind!r}: {exc}") from None
        except msgspec.DecodeError as exc:
            raise EventParseError(f"not JSON ({exc})") from None
        except RecursionError as exc:
            raise EventParseError(f"not an event ({exc})") from None
    try:
        data = msgspec.json.decode(line)
    except msgspec.DecodeError as exc:
        raise EventParseError(f"not JSON ({exc})") from None
    except (RecursionError, msgspec.ValidationError) as exc:  # too deep; a number out of range
        raise EventParseError(f"not an event ({exc})") from None
    return parse_event(data)
