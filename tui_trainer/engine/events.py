"""The typed events a training run emits: one frozen dataclass per `type`, the same on the queue and on disk.

`events.jsonl` holds one `to_json(event)` per line; `parse_event` turns a dict back into its dataclass and
rejects unknown types, so `attach` (reading the file) and a live run (reading the queue) share one path.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field, fields
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
        RunStarted, Step, Eval, EpochEnd, Checkpoint, Diagnostic, System, Log, Paused, Resumed, Failed, Finished
    )
}


class EventParseError(ValueError):
    """A line or dict that is not a known event; the message says which type or field is wrong."""


def _json_safe(value: Any) -> Any:
    # JSON has no NaN/inf; keep them readable and round-trippable as strings.
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def to_dict(event: Event) -> dict[str, Any]:
    data = {"type": event.TYPE}
    data.update(asdict(event))
    return _json_safe(data)


def to_json(event: Event) -> str:
    return json.dumps(to_dict(event), separators=(",", ":"), allow_nan=False)


_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_FLOAT_FIELDS = {"loss", "lr", "grad_norm", "samples_per_s", "val_loss", "train_loss", "best_val_loss"}


def parse_event(data: dict[str, Any]) -> Event:
    """Build the event dataclass for `data`; unknown types and missing fields raise EventParseError."""
    if not isinstance(data, dict):
        raise EventParseError(f"an event must be a JSON object, got {type(data).__name__}")
    kind = data.get("type")
    cls = EVENT_TYPES.get(kind)  # type: ignore[arg-type]
    if cls is None:
        known = ", ".join(sorted(EVENT_TYPES))
        raise EventParseError(f"unknown event type {kind!r}; known types: {known}")
    names = {f.name for f in fields(cls)}
    kwargs = {}
    for key, value in data.items():
        if key == "type" or key not in names:
            continue  # newer writers may add fields; old readers ignore them
        if key in _FLOAT_FIELDS and isinstance(value, str) and value in _NONFINITE:
            value = _NONFINITE[value]
        kwargs[key] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise EventParseError(f"event {kind!r}: {exc}") from None


def parse_line(line: str) -> Event:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise EventParseError(f"not JSON ({exc})") from None
    return parse_event(data)
