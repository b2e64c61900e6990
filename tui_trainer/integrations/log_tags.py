"""TensorBoard/CSVLogger tags mapped onto the events' fields, and scalars assembled into step/eval reports.

Shared by the log-folder mirror (logdirs.py), the TensorBoard reader and the Lightning logger, so one tag
means the same field wherever it is read.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from tui_trainer.integrations import log_epoch_end, log_eval, log_step
from tui_trainer.integrations.tensorboard import Scalar, ScalarColumns

STEP_FIELDS = ("loss", "lr", "grad_norm", "samples_per_s")
FIELDS = (*STEP_FIELDS, "val_loss", "epoch", "ignore")
VAL_WORDS = ("val", "valid", "validation", "eval", "evaluation", "test")
TRAIN_WORDS = ("train", "training")
# A backlog of more steps than this, read in one go (opening a long log), is reported in windows, as the
# engine reports a run: the curves keep their shape (a chart shows a few hundred points) and opening a 100 MB
# log means a thousand step events, not a million; each costs ~0.2 ms in the diagnostics and the event file.
MAX_STEP_EVENTS = 1000


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
    """Scalars (any order of tags, rising steps) → one step / eval report on a monitor run per step.

    A step is complete when a scalar of a later step arrives (or at `flush`). Train values without a loss
    at their step (an lr logged on its own) join the next step that has one, since a step event needs a loss.
    With `window` > 1 (a long backlog read at once), `window` consecutive steps become one step event as the
    engine reports them: the mean of their finite losses (NaN when none is finite, so a NaN is still caught),
    the newest of the other values; evaluations stay exact and close the window they fall in. A rise of the
    logged epoch closes the window too and reports an `epoch_end` (its mean train loss and duration).

    The scalars are taken as columns (`add_columns`, what the log readers return) and assembled with numpy,
    so a backlog of millions of scalars costs a few array passes, not Python code per scalar. When the log
    stores a wall time per scalar (TensorBoard events, a CSV time column) the events carry it as their
    `time`, so steps/s and epoch durations are the run's, not the reading's.
    """

    BATCH_ROWS = 512  # `add()` gathers scalars and assembles them in batches (a live writer's calls)
    BATCH_S = 0.25

    def __init__(self, tags: TagMap | None = None) -> None:
        self.tags = tags or TagMap()
        self.epoch = 0
        self.last_step = 0
        self.steps = 0
        self.evals = 0
        self.window = 1
        self._keys: dict[tuple[str, str], int] = {}  # (kind, field) -> column id
        self._fields: list[tuple[str, str]] = []
        self._held = _Rows.empty()  # scalars of the newest step: a tag of it may come later
        self._carry: dict[str, float] = {}
        self._win: _Window | None = None  # the open window (its steps reported once it closes)
        self._epoch_loss = [0.0, 0]  # finite sum, count of this epoch's step losses
        self._epoch_first: float = math.nan  # wall time of the epoch's first step
        self._epoch_last: tuple[int, float] | None = None  # (step, wall) of its last step
        self._saw_epoch = False
        self._pending: list[tuple[int, str, float, float]] = []
        self._pending_since = 0.0

    # -- input ------------------------------------------------------------------------------------------
    def add(self, step: int, tag: str, value: float, run: Any, wall: float = math.nan) -> None:
        """One scalar (a live writer's call); assembled in batches, always before a later step is reported."""
        import time

        self.last_step = max(self.last_step, step)
        if not self._pending:
            self._pending_since = time.monotonic()
        elif step > self._pending[-1][0] and (
            len(self._pending) >= self.BATCH_ROWS or time.monotonic() - self._pending_since >= self.BATCH_S
        ):
            self._drain(run)
            self._pending_since = time.monotonic()
        self._pending.append((step, tag, value, wall))

    def add_all(self, scalars: Iterable[Scalar], run: Any) -> None:
        for s in scalars:
            self.add(s.step, s.tag, s.value, run, s.wall_time or math.nan)

    def add_columns(self, cols: ScalarColumns, run: Any) -> None:
        """Scalars read from a log, as columns; everything but the newest step is reported."""
        self._drain(run)
        self._process(self._rows(cols), run, final=False)

    def flush(self, run: Any) -> None:
        """Report everything held, the open window included."""
        self._drain(run)
        self._process(_Rows.empty(), run, final=True)
        if self._win is not None:
            win, self._win = self._win, None
            self._emit([((win.step, 9, 0), self._window_event(win))], run)

    def end_epoch(self, run: Any) -> None:
        """The log ended (the run finished): report the end of its last epoch, when it logs epochs."""
        self.flush(run)
        event = self._epoch_end_event()
        if event is not None:
            self._emit([((event[0].step, 9, 1), event)], run)
            self._epoch_loss, self._epoch_last = [0.0, 0], None

    def _drain(self, run: Any) -> None:
        if not self._pending:
            return
        rows, self._pending = self._pending, []
        names: dict[str, int] = {}
        tag_ids = [names.setdefault(tag, len(names)) for _, tag, _, _ in rows]
        cols = ScalarColumns(
            np.array([r[0] for r in rows], np.int64),
            np.array(tag_ids, np.int32),
            np.array([r[2] for r in rows], float),
            np.array([r[3] for r in rows], float),
            list(names),
        )
        self._process(self._rows(cols), run, final=False)

    def _key(self, kind: str, name: str) -> int:
        found = self._keys.get((kind, name))
        if found is None:
            found = self._keys[(kind, name)] = len(self._fields)
            self._fields.append((kind, name))
        return found

    def _rows(self, cols: ScalarColumns) -> _Rows:
        """The scalars as (step, field id, value, wall) rows, their tags classified once per distinct tag."""
        if not len(cols):
            return _Rows.empty()
        key_of = np.full(len(cols.tags), -1, np.int64)
        for t in np.flatnonzero(np.bincount(cols.tag, minlength=len(cols.tags))).tolist():
            kind, name = self.tags.classify(cols.tags[t])
            if kind != "ignore":
                key_of[t] = self._key(kind, name)
        key = key_of[cols.tag]
        keep = key >= 0
        rows = _Rows(cols.step[keep], key[keep], cols.value[keep], cols.wall[keep])
        if len(rows.step):
            self.last_step = max(self.last_step, int(rows.step.max()))
        return rows

    # -- assembly ---------------------------------------------------------------------------------------
    def _process(self, new: _Rows, run: Any, final: bool) -> None:
        rows = _Rows.concat(self._held, new)
        if not len(rows.step):
            self._held = rows
            return
        if (np.diff(rows.step) < 0).any():
            order = np.argsort(rows.step, kind="stable")
            rows = _Rows(rows.step[order], rows.key[order], rows.value[order], rows.wall[order])
        if final:
            self._held = _Rows.empty()
        else:
            cut = int(np.searchsorted(rows.step, rows.step[-1]))
            self._held, rows = rows.slice(cut, None), rows.slice(0, cut)
            if not len(rows.step):
                return
        self._emit(self._assemble(rows), run)

    def _assemble(self, r: _Rows) -> list[tuple[tuple[int, int, int], Any]]:
        """The reports of complete steps `r` (sorted by step), each with its place in the stream."""
        from tui_trainer.engine.events import Eval

        new_step = np.flatnonzero(r.step[1:] != r.step[:-1]) + 1
        starts = np.concatenate([[0], new_step])
        n_steps = len(starts)
        at = np.zeros(len(r.step), np.int64)
        at[new_step] = 1
        at = np.cumsum(at)  # row -> step index
        steps = r.step[starts]
        walls = np.fmax.reduceat(r.wall, starts)
        kinds = np.array([0 if k == "step" else 1 if k == "eval" else 2 for k, _ in self._fields])[r.key]
        key = r.key.copy()

        # Validation values at a step without a validation loss (only an accuracy) are train-side metrics.
        val_loss = self._key("eval", "val_loss")
        has_val = np.zeros(n_steps, bool)
        has_val[at[(kinds == 1) & (key == val_loss)]] = True
        moved = (kinds == 1) & ~has_val[at]
        if moved.any():
            for k in np.unique(key[moved]).tolist():
                key[moved & (key == k)] = self._key("step", f"val_{self._fields[k][1]}")
            kinds = np.where(moved, 0, kinds)

        def column(k: int) -> tuple[np.ndarray, np.ndarray]:
            mine = np.flatnonzero(key == k)
            last = mine[np.r_[at[mine][1:] != at[mine][:-1], True]] if len(mine) else mine  # last one wins
            present = np.zeros(n_steps, bool)
            values = np.full(n_steps, np.nan)
            present[at[last]] = True
            values[at[last]] = r.value[last]
            return present, values

        train = {self._fields[k][1]: column(k) for k in np.unique(key[kinds == 0]).tolist()}
        evals = {self._fields[k][1]: column(k) for k in np.unique(key[kinds == 1]).tolist()}
        loss_present, loss = train.pop("loss", (np.zeros(n_steps, bool), np.full(n_steps, np.nan)))
        ls = np.flatnonzero(loss_present)  # steps with a loss, in step order
        n_loss = len(ls)

        # The epoch in effect at each step, and the steps where it rises (an epoch ended just before).
        ep_present, ep_values = column(self._key("epoch", "epoch"))
        if ep_present.any():
            self._saw_epoch = True
        idx = np.maximum.accumulate(np.where(ep_present, np.arange(n_steps), -1))
        epoch = np.where(idx >= 0, np.nan_to_num(ep_values[np.maximum(idx, 0)]), self.epoch).astype(np.int64)
        before = np.concatenate([[self.epoch], epoch[:-1]])
        rises = np.flatnonzero(epoch > before)

        # Breaks close the open window before loss index p: an epoch rise at a step (before its loss), an
        # evaluation at a step (after its loss). Each keeps its place in the stream as a key.
        breaks: dict[int, tuple[int, int, int]] = {}
        rise_pos = np.searchsorted(ls, rises, "left")
        placed = [
            (int(p), (int(steps[i]), 0, 0)) for p, i in zip(rise_pos.tolist(), rises.tolist(), strict=True)
        ]
        evs = np.flatnonzero(has_val)
        placed += [
            (int(p), (int(steps[i]), 2, 0))
            for p, i in zip(np.searchsorted(ls, evs, "right").tolist(), evs.tolist(), strict=True)
        ]
        for p, where in placed:
            breaks[p] = min(breaks.get(p, where), where)  # several at one place: the earliest closes it
        out: list[tuple[tuple[int, int, int], Any]] = []

        # Windows of `window` loss steps between breaks; the open window from before continues at the start.
        w = max(1, int(self.window))
        k0 = self._win.count if self._win is not None else 0
        j = np.arange(n_loss)
        bpos = np.array(sorted(breaks), np.int64)
        seg = np.searchsorted(bpos, j, "right")
        base = np.where(seg > 0, bpos[np.maximum(seg - 1, 0)] if len(bpos) else 0, 0)
        rank = j - base + np.where(seg == 0, k0, 0)
        wid = np.cumsum(rank % w == 0) - 1  # -1: steps that continue the open window
        n_win = int(wid[-1]) + 1 if n_loss else 0
        lo = loss[ls]
        fin = np.isfinite(lo)
        sums = np.bincount(wid + 1, np.where(fin, lo, 0.0), minlength=n_win + 1)
        counts = np.bincount(wid + 1, fin, minlength=n_win + 1)
        last_of = np.full(n_win + 1, -1, np.int64)
        last_of[wid + 1] = j  # the last loss index of each window
        full = (rank % w) == w - 1

        # Values carried from steps without a loss to the next step with one (the first value kept).
        nexts = {
            name: np.minimum.accumulate(np.where(present, np.arange(n_steps), n_steps)[::-1])[::-1]
            for name, (present, _) in train.items()
        }

        def fields_at(jj: int) -> dict[str, float]:
            u = int(ls[jj])
            prev = int(ls[jj - 1]) + 1 if jj > 0 else 0
            got: dict[str, float] = {} if jj > 0 else dict(self._carry)
            for name, (present, values) in train.items():
                if present[u]:
                    got[name] = float(values[u])
                elif name not in got:
                    k = int(nexts[name][prev]) if prev < n_steps else n_steps
                    if k < u:
                        got[name] = float(values[k])
            return got

        def close_key(jj: int) -> tuple[int, int, int]:
            return (int(steps[ls[jj]]), 1, 0) if full[jj] else breaks[jj + 1]

        closed_end = n_loss in breaks or (n_loss > 0 and bool(full[-1]))
        state = self._win
        if state is not None and (n_win > 0 or closed_end):
            # The open window from before closes in this chunk (it may have gained steps here).
            if last_of[0] >= 0:
                jj = int(last_of[0])
                state = _Window(
                    state.count + jj + 1,
                    state.total + sums[0],
                    state.finite + int(counts[0]),
                    int(steps[ls[jj]]),
                    fields_at(jj),
                    float(walls[ls[jj]]),
                    int(epoch[ls[jj]]),
                )
                key0 = close_key(jj)
            else:
                key0 = breaks[0]
            out.append((key0, self._window_event(state)))
            self._win = state = None
        elif state is not None and last_of[0] >= 0:  # still open, longer
            jj = int(last_of[0])
            state.count += jj + 1
            state.total += float(sums[0])
            state.finite += int(counts[0])
            state.step, state.fields = int(steps[ls[jj]]), fields_at(jj)
            state.wall, state.epoch = float(walls[ls[jj]]), int(epoch[ls[jj]])
        for wi in range(n_win):
            jj = int(last_of[wi + 1])
            win = _Window(
                int(np.sum(wid == wi)) if wi == n_win - 1 else 0,
                float(sums[wi + 1]),
                int(counts[wi + 1]),
                int(steps[ls[jj]]),
                fields_at(jj),
                float(walls[ls[jj]]),
                int(epoch[ls[jj]]),
            )
            if wi < n_win - 1 or closed_end:
                out.append((close_key(jj), self._window_event(win)))
            else:
                self._win = win

        # Epoch ends: the mean finite loss of each epoch's steps, its duration from the walls.
        bounds = [0, *rise_pos.tolist(), n_loss]
        for k in range(len(bounds) - 1):
            part = slice(bounds[k], bounds[k + 1])
            losses = lo[part]
            ok = np.isfinite(losses)
            self._epoch_loss[0] += float(losses[ok].sum())
            self._epoch_loss[1] += int(ok.sum())
            if bounds[k + 1] > bounds[k]:
                first, last = int(ls[bounds[k]]), int(ls[bounds[k + 1] - 1])
                if math.isnan(self._epoch_first):
                    self._epoch_first = float(walls[first])
                self._epoch_last = (int(steps[last]), float(walls[last]))
            if k < len(rises):
                i = int(rises[k])
                event = self._epoch_end_event()
                if event is not None:
                    out.append(((int(steps[i]), 0, 1), event))
                self.epoch = int(epoch[i])
                self._epoch_loss = [0.0, 0]
                self._epoch_first, self._epoch_last = math.nan, None
        self.epoch = int(epoch[-1])

        # Evaluations, exact.
        _, val_values = evals.pop("val_loss", (None, None))
        for i in evs.tolist():
            metrics = {name: float(v[i]) for name, (pr, v) in evals.items() if pr[i]}
            event = Eval(
                step=int(steps[i]),
                val_loss=float(val_values[i]),
                epoch=int(epoch[i]),
                metrics=metrics,
                **({"time": float(walls[i])} if math.isfinite(walls[i]) else {}),
            )
            out.append(((int(steps[i]), 2, 1), (event, float(walls[i]))))
            self.evals += 1

        # What steps after the last loss carry to the next one.
        if n_loss:
            self._carry = {}
        tail_from = int(ls[-1]) + 1 if n_loss else 0
        for name, (_, values) in train.items():
            if name not in self._carry and tail_from < n_steps:
                k = int(nexts[name][tail_from])
                if k < n_steps:
                    self._carry[name] = float(values[k])
        return out

    def _window_event(self, win: _Window) -> tuple[Any, float]:
        from tui_trainer.engine.events import Step

        fields = dict(win.fields)
        known = {k: fields.pop(k) for k in STEP_FIELDS[1:] if k in fields}
        loss = win.total / win.finite if win.finite else math.nan
        self.steps += 1
        timed = {"time": win.wall} if math.isfinite(win.wall) else {}
        return Step(step=win.step, epoch=win.epoch, loss=loss, metrics=fields, **known, **timed), win.wall

    def _epoch_end_event(self) -> tuple[Any, float] | None:
        from tui_trainer.engine.events import EpochEnd

        if not self._saw_epoch or self._epoch_last is None:
            return None
        step, wall = self._epoch_last
        total, count = self._epoch_loss
        duration = wall - self._epoch_first if math.isfinite(wall - self._epoch_first) else None
        event = EpochEnd(
            epoch=self.epoch,
            step=step,
            train_loss=total / count if count else None,
            duration_s=round(duration, 3) if duration is not None else None,
            **({"time": wall} if math.isfinite(wall) else {}),
        )
        return event, wall

    def _emit(self, items: list[tuple[tuple[int, int, int], Any]], run: Any) -> None:
        """Write the reports in stream order: with the log's wall times when it has them (`record`), else
        through the run's calls, timed as they are written."""
        if not items:
            return
        items.sort(key=lambda item: item[0])
        pairs = [item[1] for item in items]
        if all(math.isfinite(wall) for _, wall in pairs):
            record(run, [event for event, _ in pairs])
            return
        for event, _ in pairs:
            kind = type(event).__name__
            if kind == "Step":
                log_step(
                    run,
                    step=event.step,
                    loss=event.loss,
                    epoch=event.epoch,
                    lr=event.lr,
                    grad_norm=event.grad_norm,
                    samples_per_s=event.samples_per_s,
                    metrics=event.metrics,
                )
            elif kind == "Eval":
                log_eval(
                    run, step=event.step, val_loss=event.val_loss, epoch=event.epoch, metrics=event.metrics
                )
            else:
                log_epoch_end(
                    run,
                    epoch=event.epoch,
                    step=event.step,
                    train_loss=event.train_loss,
                    duration_s=event.duration_s,
                )


@dataclass
class _Rows:
    step: np.ndarray
    key: np.ndarray
    value: np.ndarray
    wall: np.ndarray

    @classmethod
    def empty(cls) -> _Rows:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0))

    @classmethod
    def concat(cls, a: _Rows, b: _Rows) -> _Rows:
        if not len(a.step):
            return b
        if not len(b.step):
            return a
        return cls(*(np.concatenate([x, y]) for x, y in zip(a.columns(), b.columns(), strict=True)))

    def columns(self) -> tuple[np.ndarray, ...]:
        return self.step, self.key, self.value, self.wall

    def slice(self, lo: int | None, hi: int | None) -> _Rows:
        return _Rows(*(c[lo:hi] for c in self.columns()))


@dataclass
class _Window:
    """Steps reported as one: how many, their finite losses' sum and count, the last one's values."""

    count: int
    total: float
    finite: int
    step: int
    fields: dict[str, float]
    wall: float
    epoch: int


def record(run: Any, events: list[Any]) -> None:
    """Write events that carry their own time (read from a log after the fact) to a monitor run, running the
    run's diagnostics over them as its `flush` does; a diagnostic takes the time of the event that raised it.

    `MonitorRun` has no call that takes an event's time, so this uses its writer and diagnostics directly
    (as `integrations.write_event` does), leaving `engine.diagnostics` and `monitor` as they are.
    """
    from tui_trainer.engine.events import Eval, Step

    run.flush()  # what the run holds first, so the file keeps the order
    diag = getattr(run, "_diag", None)
    out: list[Any] = []
    for event in events:
        out.append(event)
        if isinstance(event, Step):
            run.last_step = max(getattr(run, "last_step", 0), event.step)
        elif isinstance(event, Eval) and math.isfinite(event.val_loss):
            best = getattr(run, "_best_val", None)
            if best is None or event.val_loss < best:
                run._best_val = event.val_loss
        if diag is not None:
            for found in diag.feed(event):
                found = replace(found, time=event.time)
                out.append(found)
                run._raised(found)
    run._write(out)


# ----- finding log folders --------------------------------------------------------------------------
