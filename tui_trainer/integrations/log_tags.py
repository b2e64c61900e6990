"""TensorBoard/CSVLogger tags mapped onto the events' fields, and scalars assembled into step/eval reports.

Shared by the log-folder mirror (logdirs.py), the TensorBoard reader and the Lightning logger, so one tag
means the same field wherever it is read.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tui_trainer.integrations import log_eval, log_step
from tui_trainer.integrations.tensorboard import Scalar

STEP_FIELDS = ("loss", "lr", "grad_norm", "samples_per_s")
FIELDS = (*STEP_FIELDS, "val_loss", "epoch", "ignore")
VAL_WORDS = ("val", "valid", "validation", "eval", "evaluation", "test")
TRAIN_WORDS = ("train", "training")
# A backlog of more steps than this, read in one go (opening a long log), is reported in windows, as the
# engine reports a run: the curves keep their shape and opening a 100 MB log does not mean a million events.
MAX_STEP_EVENTS = 5000


# ----- tags -------------------------------------------------------------------------------------------
def parse_map(items: Iterable[str]) -> dict[str, str]:
    """`["my/tag=loss", ...]` → {tag: field}; a bad item is a UserError naming it and the expected form."""
    from tui_trainer.errors import UserError

    out: dict[str, str] = {}
    for item in items:
        tag, sep, target = item.rpartition("=")
        target = target.strip()
        if not sep or not tag.strip() or not target:
            raise UserError(f"--map {item!r}: expected TAG=FIELD, e.g. --map train/nll=loss")
        if target not in FIELDS and not target.startswith(("train/", "val/")):
            raise UserError(
                f"--map {item!r}: unknown field {target!r}; expected one of {', '.join(FIELDS)}, "
                "train/NAME or val/NAME"
            )
        out[tag.strip()] = target
    return out


@dataclass
class TagMap:
    """Which event field a scalar tag fills: `classify(tag)` → ("step" | "eval" | "epoch" | "ignore", name)."""

    overrides: dict[str, str] = field(default_factory=dict)
    _cache: dict[str, tuple[str, str]] = field(default_factory=dict, repr=False)

    def classify(self, tag: str) -> tuple[str, str]:
        found = self._cache.get(tag)
        if found is None:
            found = self._cache[tag] = self._classify(tag)
        return found

    def _classify(self, tag: str) -> tuple[str, str]:
        target = self.overrides.get(tag)
        if target is not None:
            if target == "ignore":
                return ("ignore", tag)
            if target == "epoch":
                return ("epoch", "epoch")
            if target == "val_loss":
                return ("eval", "val_loss")
            if target.startswith("val/"):
                return ("eval", target[4:])
            if target.startswith("train/"):
                return ("step", target[6:])
            return ("step", target)
        low = tag.lower()
        if low.startswith("lr-") or low.startswith("lr_"):
            return ("step", "lr")  # Lightning's LearningRateMonitor: lr-Adam, lr-SGD/pg1
        parts = [p for p in low.replace("\\", "/").split("/") if p]
        if parts and parts[0] in ("lr", "learning_rate"):
            return ("step", "lr")  # add_scalars("lr", {"group0": ...}): lr/group0
        is_val = False
        rest: list[str] = []
        for part in parts:
            if part in VAL_WORDS:
                is_val = True
                continue
            if part in TRAIN_WORDS:
                continue
            head, sep, tail = part.partition("_")
            if sep and head in VAL_WORDS:
                is_val, part = True, tail
            elif sep and head in TRAIN_WORDS:
                part = tail
            elif part.endswith(("_val", "_valid", "_test")):
                is_val, part = True, part.rsplit("_", 1)[0]
            elif part.endswith("_train"):
                part = part.rsplit("_", 1)[0]
            rest.append(part)
        name = "_".join(rest) or "loss"
        if name.endswith("_step"):
            name = name[: -len("_step")]
        if name in ("epoch", "trainer_epoch"):
            return ("epoch", "epoch")
        if name in ("lr", "learning_rate", "learning-rate", "learningrate"):
            return ("step", "lr")
        if name in ("grad_norm", "gradient_norm", "grad_norm_total", "grad_2.0_norm_total"):
            return ("step", "grad_norm")
        if name in ("samples_per_second", "samples_per_s") and not is_val:
            return ("step", "samples_per_s")
        if name in ("acc", "accuracy"):
            name = "accuracy"
        if is_val:
            return ("eval", "val_loss" if name == "loss" else name)
        return ("step", name)


class ScalarAssembler:
    """Scalars (any order of tags, rising steps) → one `log` / `eval` call on a monitor run per step.

    A step is complete when a scalar of a later step arrives (or at `flush`). Train values without a loss
    at their step (an lr logged on its own) join the next step that has one, since a step event needs a loss.
    With `window` > 1 (a long backlog read at once), `window` consecutive steps become one step event as the
    engine reports them: the mean of their finite losses (NaN when none is finite, so a NaN is still caught),
    the newest of the other values; evaluations stay exact and close the window they fall in.
    """

    def __init__(self, tags: TagMap | None = None) -> None:
        self.tags = tags or TagMap()
        self._open: dict[int, dict[str, dict[str, float]]] = {}
        self._carry: dict[str, float] = {}
        self.epoch = 0
        self.last_step = 0
        self.steps = 0
        self.evals = 0
        self.window = 1
        self._win: list[tuple[int, float, dict[str, float]]] = []

    def add(self, step: int, tag: str, value: float, run: Any) -> None:
        kind, name = self.tags.classify(tag)
        if kind == "ignore":
            return
        if step > self.last_step and self._open:
            self._emit_before(step, run)
        self.last_step = max(self.last_step, step)
        bucket = self._open.setdefault(step, {"step": {}, "eval": {}})
        if kind == "epoch":
            bucket["step"]["__epoch"] = value
        else:
            bucket[kind][name] = value

    def add_all(self, scalars: Iterable[Scalar], run: Any) -> None:
        for s in scalars:
            self.add(s.step, s.tag, s.value, run)

    def _emit_before(self, step: int, run: Any) -> None:
        for done in sorted(k for k in self._open if k < step):
            self._emit(done, self._open.pop(done), run)

    def flush(self, run: Any) -> None:
        for done in sorted(self._open):
            self._emit(done, self._open.pop(done), run)
        self._close_window(run)

    def _close_window(self, run: Any) -> None:
        if not self._win:
            return
        window, self._win = self._win, []
        step, _, fields = window[-1]
        finite = [loss for _, loss, _ in window if math.isfinite(loss)]
        loss = sum(finite) / len(finite) if finite else math.nan
        known = {k: fields.pop(k) for k in STEP_FIELDS[1:] if k in fields}
        log_step(run, step=step, loss=loss, epoch=self.epoch, **known, metrics=fields)
        self.steps += 1

    def _emit(self, step: int, bucket: dict[str, dict[str, float]], run: Any) -> None:
        train, val = bucket["step"], bucket["eval"]
        if "__epoch" in train:
            self.epoch = int(train.pop("__epoch"))
        if val and "val_loss" not in val:
            # Validation metrics without a validation loss (only an accuracy): kept as train-side metrics.
            train.update({f"val_{k}": v for k, v in val.items()})
            val = {}
        if "loss" not in train:
            for key, value in train.items():
                self._carry.setdefault(key, value)
        else:
            fields = {**self._carry, **train}
            self._carry = {}
            loss = fields.pop("loss")
            self._win.append((step, loss, fields))
            if len(self._win) >= self.window:
                self._close_window(run)
        if val:
            self._close_window(run)
            val_loss = val.pop("val_loss")
            log_eval(run, step=step, val_loss=val_loss, epoch=self.epoch, metrics=val)
            self.evals += 1


# ----- finding log folders --------------------------------------------------------------------------
