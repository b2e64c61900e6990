"""Per-layer measurements for the diagnostics: gradient norms, dead ReLU units, class counts, first NaN layer.

Used by the engine (`epochs.py`), by `monitor` (`run.watch(model)`) and by the integrations, so a user loop
gets the same per-layer evidence as `tui-trainer train`. torch is imported inside the functions: this module is
imported by code the UI process loads. Every function reads the device once (one stacked copy).

When the readings are taken is one rule, `ReadingSchedule`, for the engine and `run.watch(model)`: on reports,
every one of the first 20, then one about every 0.1 s (or every N-th), and after the first READINGS_FREE
readings only while they have taken at most READINGS_SHARE of the wall time.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from tui_trainer.engine.step_window import ADAPTIVE_EVERY_STEP, adaptive_due

# Beyond this many parameterised layers, norms are grouped by name prefix (`encoder.layer.3`), so a
# step event stays small and the reading costs the same for a 12-layer and a 1,000-layer model.
MAX_LAYERS = 64
# Per-layer readings (grad norms, the dead-unit forward) may take at most this share of the wall time, so a
# model whose readings are dear (many layers, one step a second) reads less often instead of training slower.
READINGS_SHARE = 0.01
# The first readings of a run are never skipped for the budget: the early steps are when things go wrong,
# and a rule needs `grad_patience` readings in a row.
READINGS_FREE = ADAPTIVE_EVERY_STEP


def _unwrap(model: Any) -> Any:
    # DistributedDataParallel / DataParallel prefix every name with `module.`; users know the inner names.
    if type(model).__name__ in ("DistributedDataParallel", "DataParallel") and hasattr(model, "module"):
        return model.module
    return model


def layer_grad_norms(model: Any, max_layers: int = MAX_LAYERS) -> dict[str, float]:
    """Gradient L2 norm of each module that owns parameters (qualified name → norm), after backward.

    Call it after `loss.backward()` and before `zero_grad()`. Modules whose parameters have no gradient are
    left out. With more than `max_layers` such modules, names are cut to a shorter prefix until they fit and
    the norms within a group are combined (sqrt of the sum of squares). Non-finite norms are kept as they are.
    A caller that reads the same model again and again keeps a `GradNorms(model)` (the module walk done once).
    """
    return GradNorms(model, max_layers)()


class GradNorms:
    """`layer_grad_norms` for one model, with the walk over its modules done once, not at every reading."""

    def __init__(self, model: Any, max_layers: int = MAX_LAYERS) -> None:
        model = _unwrap(model)
        self.max_layers = max_layers
        self.layers = [
            (name or type(model).__name__, own)
            for name, module in model.named_modules()
            if (own := list(module.parameters(recurse=False)))
        ]

    def __call__(self) -> dict[str, float]:
        import torch

        names: list[str] = []
        sizes: list[int] = []
        grads: list[Any] = []
        for name, params in self.layers:
            own = [p.grad for p in params if p.grad is not None]
            if own:
                names.append(name)
                sizes.append(len(own))
                grads.extend(own)
        if not grads:
            return {}
        with torch.no_grad():
            # One fused norm per parameter and one device read; modules combine theirs in Python (few numbers).
            norms = torch._foreach_norm(grads)
            if all(n.dtype == norms[0].dtype for n in norms):
                per_param = torch.stack(norms).float().tolist()
            else:  # mixed precisions (a float32 head on a bf16 body): each to float32 first
                per_param = torch.stack([n.float() for n in norms]).tolist()
        values = []
        i = 0
        for size in sizes:
            values.append(math.sqrt(sum(v * v for v in per_param[i : i + size])))
            i += size
        norms = dict(zip(names, values, strict=True))
        return _group(norms, self.max_layers) if len(norms) > self.max_layers else norms


def _group(norms: dict[str, float], max_layers: int) -> dict[str, float]:
    depth = max(n.count(".") for n in norms) + 1
    grouped = norms
    while len(grouped) > max_layers and depth > 1:
        depth -= 1
        squares: dict[str, float] = {}
        for name, value in norms.items():
            key = ".".join(name.split(".")[:depth])
            squares[key] = squares.get(key, 0.0) + value * value
        grouped = {k: math.sqrt(v) for k, v in squares.items()}
    return grouped


class DeadUnitProbe:
    """Share of units in each ReLU-family layer whose output is zero for a whole batch.

    `arm()` before a forward pass; that one forward is recorded and `read()` returns {layer: dead share}.
    Hooks exist only from `arm()` to the end of that forward, so the steps in between run at full speed
    (a registered hook, even one that returns at once, sends every module call down PyTorch's slow path).
    A unit is a feature of a (batch, features) output, or a channel (dim 1) of a (batch, channels, ...)
    output. A ReLU module called twice in one forward (one `self.relu` shared by several layers) reports
    `name`, `name#2`, ... in call order. `close()` removes any hook still in place.
    """

    def __init__(self, model: Any) -> None:
        import torch.nn as nn

        self._model = _unwrap(model)
        self._relus = [
            (name or type(m).__name__, m)
            for name, m in self._model.named_modules()
            if isinstance(m, nn.ReLU | nn.ReLU6)
        ]
        self._alive: dict[str, tuple[Any, int]] = {}  # layer -> (units alive, as a device scalar; units)
        self._calls: dict[str, int] = {}
        self._handles: list[Any] = []
        self.seconds = 0.0  # time spent in the hooks so far (the reading budget counts it)

    @property
    def layers(self) -> int:
        """How many ReLU-family modules are watched."""
        return len(self._relus)

    def arm(self) -> None:
        """Record the next forward pass of the model (only that one)."""
        self.close()
        self._alive = {}
        self._calls = {}
        for name, module in self._relus:
            self._handles.append(module.register_forward_hook(self._hook(name)))
        # The root's post-hook ends the recording: "the next forward" only.
        self._handles.append(self._model.register_forward_hook(self._stop))

    def _stop(self, module: Any, inputs: Any, output: Any) -> None:
        self.close()

    def _hook(self, name: str) -> Callable[..., None]:
        def hook(module: Any, inputs: Any, output: Any) -> None:
            if not hasattr(output, "dim") or output.dim() < 2 or output.numel() == 0:
                return  # (an empty batch says nothing about its units)
            started = time.perf_counter()
            count = self._calls.get(name, 0) + 1
            self._calls[name] = count
            key = name if count == 1 else f"{name}#{count}"
            import torch

            out = output.detach()
            # ReLU outputs are >= 0, so a unit is alive when its largest output over the batch (and the
            # positions of a channel) is not 0 (a NaN counts as alive, as `!= 0` would): two ops a layer.
            dims = [0, *range(2, out.dim())]
            self._alive[key] = (torch.count_nonzero(out.amax(dim=dims)), int(out.shape[1]))
            self.seconds += time.perf_counter() - started

        return hook

    def read(self) -> dict[str, float]:
        """{layer: share of its units that were zero for every sample of the recorded batch}; {} if none."""
        if not self._alive:
            return {}
        import torch

        keys = list(self._alive)
        with torch.no_grad():
            alive = torch.stack([self._alive[k][0] for k in keys]).tolist()
        units = [self._alive[k][1] for k in keys]
        self._alive = {}
        return {k: round(1.0 - a / n, 6) if n else 0.0 for k, a, n in zip(keys, alive, units, strict=True)}

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []


class ReadingSchedule:
    """Which reports take per-layer readings: the one rule for the engine and `run.watch(model)`.

    `take()` is asked once per report (a `step` event; a `log()` in run.watch). Its cadence: every one of the
    first 20 reports, then the first report once ADAPTIVE_INTERVAL_S (0.1 s) has passed since the last
    reading — a clock of its own, so reports that come often for another reason (the one before each eval,
    every 17 steps in the sample config) do not multiply the readings; or every `every`-th report; or the
    caller's `cadence` (run.watch(every=N) counts the user's step numbers). After the first READINGS_FREE
    readings, one is taken only while the readings since then (`charge`d by the caller) add up to at most
    `share` of the wall time since then. Counters (`reports`, `taken`, `skipped`) are for tests and the
    benchmark.
    """

    def __init__(
        self, every: int = 0, share: float = READINGS_SHARE, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self.every = max(0, int(every))
        self.share = share
        self.clock = clock
        self.reports = 0
        self.taken = 0
        self.skipped = 0  # cadence asked, budget said no
        self.spent = 0.0  # seconds charged since the free readings ended
        self._since: float | None = None  # when the free readings ended
        self._last = -math.inf

    def take(self, cadence: bool | None = None) -> bool:
        self.reports += 1
        now = self.clock()
        if cadence is None:
            cadence = (
                self.reports % self.every == 0 if self.every else adaptive_due(self.reports, now, self._last)
            )
        if not cadence:
            return False
        if self.taken >= READINGS_FREE:
            if self._since is None:
                self._since, self.spent = now, 0.0
            elif self.spent > self.share * (now - self._since):
                self.skipped += 1
                return False
        self.taken += 1
        self._last = now
        return True

    def charge(self, seconds: float) -> None:
        """Time a reading took (after the free ones it counts against the budget)."""
        self.spent += seconds


class StepReadings:
    """The engine's per-layer readings of one model on the steps `ReadingSchedule` picks.

    `start()` on a report, before the forward pass, says whether this step reads (and arms the probe);
    `grad_norms()` after backward; `finish()` after both gives the dead-unit shares. The module walks are
    done once per run, and the time spent in all three (hooks included) is charged to the schedule.
    """

    def __init__(
        self,
        model: Any,
        share: float = READINGS_SHARE,
        clock: Callable[[], float] = time.perf_counter,
        every: int = 0,
    ) -> None:
        self.schedule = ReadingSchedule(every=every, share=share, clock=clock)
        self.clock = clock
        self.norms = GradNorms(model)
        self.probe = DeadUnitProbe(model)
        self.active = False
        self._spent = 0.0

    def start(self) -> bool:
        self.active = self.schedule.take()
        if self.active:
            started = self.clock()
            self.probe.seconds = 0.0
            self.probe.arm()
            self._spent = self.clock() - started
        return self.active

    def grad_norms(self) -> dict[str, float]:
        started = self.clock()
        norms = self.norms()
        self._spent += self.clock() - started
        return norms

    def finish(self) -> dict[str, float]:
        """The armed forward's dead-unit shares ({} when this step did not read); charges the reading."""
        if not self.active:
            return {}
        started = self.clock()
        dead = self.probe.read()
        self.probe.close()
        self.active = False
        self.schedule.charge(self._spent + self.probe.seconds + self.clock() - started)
        return dead

    def close(self) -> None:
        self.probe.close()
        self.active = False


# Up to this many classes, the counts come from one bincount of (label, prediction) pairs (K * K bins).
PAIR_COUNTS_MAX_CLASSES = 64
# A CPU split up to this many rows is counted in Python (two `tolist()` and a dict of the pairs): an eval
# runs once every few steps, when the tensor and numpy op paths are cold in the CPU's caches, and there the
# count costs about what a plain accuracy does (~30 us against ~80 for numpy's bincount, in the benchmark).
PYTHON_COUNT_MAX_ROWS = 1024


def class_counts(logits_or_preds: Any, labels: Any, num_classes: int) -> tuple[list[int], list[int]]:
    """(predicted-class counts, true-label counts), index = class id, over one batch or a whole split.

    `logits_or_preds` is (batch, classes) scores (argmax taken) or (batch,) class ids. Both lists have
    `num_classes` entries (longer if an id is out of range, so such ids are never silently dropped; a
    negative id counts as class 0).
    """
    pred, true, _ = split_counts(logits_or_preds, labels, num_classes)
    return pred, true


def split_counts(logits_or_preds: Any, labels: Any, num_classes: int) -> tuple[list[int], list[int], int]:
    """`class_counts` and the number of right answers (prediction == label), in one pass and one device read.

    A small CPU split is counted in Python (PYTHON_COUNT_MAX_ROWS); otherwise, with up to
    PAIR_COUNTS_MAX_CLASSES classes, one bincount of label * (K + 1) + prediction (a prediction >= K lands
    in a spare column), whatever the split's size. Ids out of range (>= K or negative) take the general path
    below, which sizes the lists to fit them.
    """
    import torch

    preds, truth = logits_or_preds, labels
    if (  # an eval's own case (class ids from argmax, 1-D int64 labels, on CPU): no tensor op at all
        type(preds) is torch.Tensor
        and type(truth) is torch.Tensor
        and preds.dtype is torch.int64 is truth.dtype
        and preds.is_cpu
        and preds.dim() == 1 == truth.dim()
        and 0 < len(preds) == len(truth) <= PYTHON_COUNT_MAX_ROWS
        and num_classes > 0
    ):
        found = _count_in_python(preds.tolist(), truth.tolist(), int(num_classes))
        if found is not None:
            return found
    # (Each tensor op skipped when it would not change anything: an op call costs ~0.5 us on a tiny split.)
    scores = _plain_tensor(logits_or_preds)
    preds = scores if scores.dim() == 1 else scores.argmax(dim=1) if scores.dim() == 2 else scores.reshape(-1)
    if preds.dtype != torch.int64:
        preds = preds.long()
    truth = _plain_tensor(labels)
    if truth.dim() != 1:
        truth = truth.reshape(-1)
    if truth.dtype != torch.int64:
        truth = truth.long()
    if truth.device != preds.device:
        truth = truth.to(preds.device)
    k = int(num_classes)
    n = preds.numel()
    if k > 0 and n == truth.numel() > 0:
        if n <= PYTHON_COUNT_MAX_ROWS and preds.is_cpu:
            found = _count_in_python(preds.tolist(), truth.tolist(), k)
        elif k <= PAIR_COUNTS_MAX_CLASSES:
            found = _count_pairs(preds, truth, k)
        else:
            found = None
        if found is not None:
            return found
    right = int((preds == truth).sum()) if preds.numel() == truth.numel() else 0
    preds, truth = preds.clamp(min=0), truth.clamp(min=0)
    if preds.numel() == 0 and truth.numel() == 0:
        return [0] * num_classes, [0] * num_classes, 0
    # One bincount and one device read: predictions in [0, size), labels shifted to [size, 2 * size).
    size = max(num_classes, int(torch.cat([preds, truth]).max()) + 1)
    both = torch.bincount(torch.cat([preds, truth + size]), minlength=2 * size).tolist()
    return both[:size], both[size:], right


def _plain_tensor(value: Any) -> Any:
    import torch

    if not isinstance(value, torch.Tensor):
        return torch.as_tensor(value)
    return value.detach() if value.requires_grad else value


def _count_in_python(preds: list[int], truth: list[int], k: int) -> tuple[list[int], list[int], int] | None:
    """split_counts' answer from counting (label, prediction) pairs; None when an id is out of range."""
    # A plain dict, not collections.Counter: Counter's Python-level set-up costs more than this loop.
    pairs: dict[tuple[int, int], int] = {}
    seen = pairs.get
    for pair in zip(truth, preds, strict=True):
        pairs[pair] = seen(pair, 0) + 1
    pred, true, right = [0] * k, [0] * k, 0
    for (label, guess), count in pairs.items():
        if not (0 <= label < k and 0 <= guess < k):
            return None
        pred[guess] += count
        true[label] += count
        if label == guess:
            right += count
    return pred, true, right


def _count_pairs(preds: Any, truth: Any, k: int) -> tuple[list[int], list[int], int] | None:
    """split_counts' answer from one bincount of label * (k + 1) + prediction clamped to [-1, k]; None when
    an id is out of range (a spare column used, or a negative index)."""
    import torch

    w = k + 1
    try:
        # A negative prediction, as -1, lands in the previous row's spare column (or below 0): general path
        # too (unclamped, -2 would land on a real pair of the previous row).
        pairs = torch.bincount(truth * w + preds.clamp(min=-1, max=k), minlength=k * w).tolist()
    except RuntimeError:  # a negative index: a negative label, or a negative prediction of label 0
        return None
    if len(pairs) != k * w or any(pairs[k::w]):
        return None
    rows = [pairs[i * w : i * w + k] for i in range(k)]
    # Predictions: the column sums; labels: the row sums; right answers: the diagonal.
    return [sum(col) for col in zip(*rows, strict=True)], [sum(row) for row in rows], sum(pairs[:: w + 1])


def _all_finite(value: Any) -> bool:
    import torch

    if isinstance(value, torch.Tensor):
        if not (torch.is_floating_point(value) or value.is_complex()):
            return True  # integer and bool tensors cannot hold NaN/inf
        return bool(torch.isfinite(value).all())
    if isinstance(value, list | tuple):
        return all(_all_finite(v) for v in value)
    if isinstance(value, dict):
        return all(_all_finite(v) for v in value.values())
    return True


def nonfinite_trace(model: Any, forward: Callable[[], Any]) -> dict[str, Any] | None:
    """Re-run `forward` (no grad) with hooks; describe where the first non-finite output appeared.

    Returns None when every module's output (and the result of `forward`) is finite. Otherwise a dict:
    `module` (qualified name of the first module, in completion order, whose output is non-finite; the model
    itself is "(model)"; None when only the result of `forward`, e.g. a loss computed outside the model,
    is non-finite), `module_type`, `input_finite` (whether what went into it was finite: False means the
    problem came from earlier), `params_finite` (whether its own weights are finite: False means an earlier
    update already wrote NaN/inf into them), `previous` (the last module that finished with a finite output
    before it), `container` (it has sub-modules, so with finite inputs its own forward code made the NaN),
    `model_input_finite` (whether the batch given to the model was finite) and `result_finite`.
    """
    import torch

    model = _unwrap(model)
    root = id(model)
    names = {id(m): (n or "(model)") for n, m in model.named_modules()}
    found: dict[str, Any] = {}
    last_ok: list[str] = []
    model_input: list[bool] = []
    handles = []

    def pre_hook(module: Any, inputs: Any) -> None:
        if not model_input:
            model_input.append(_all_finite(list(inputs)))

    def hook(module: Any, inputs: Any, output: Any) -> None:
        if found:
            return
        if _all_finite(output):
            if id(module) != root:
                last_ok[:] = [names.get(id(module), "?")]
            return
        found.update(
            module=names.get(id(module), "?"),
            module_type=type(module).__name__,
            input_finite=_all_finite(list(inputs)),
            params_finite=all(bool(torch.isfinite(p).all()) for p in module.parameters(recurse=False)),
            previous=last_ok[0] if last_ok else None,
            container=any(True for _ in module.children()),
        )

    handles.append(model.register_forward_pre_hook(pre_hook))
    for module in model.modules():
        handles.append(module.register_forward_hook(hook))
    # The re-run must not change the run: BatchNorm running statistics are put back, the RNG is forked.
    buffers = [(b, b.detach().clone()) for b in model.buffers()]
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            result = forward()
    finally:
        for handle in handles:
            handle.remove()
        with torch.no_grad():
            for buffer, saved in buffers:
                buffer.copy_(saved)
    result_finite = _all_finite(result)
    if not found and result_finite:
        return None
    if not found:
        found.update(
            module=None,
            module_type=None,
            input_finite=True,
            params_finite=True,
            previous=last_ok[0] if last_ok else None,
            container=False,
        )
    found["result_finite"] = result_finite
    found["model_input_finite"] = model_input[0] if model_input else None
    return found


def first_nonfinite_module(model: Any, forward: Callable[[], Any]) -> str | None:
    """Name of the first module whose output is non-finite when `forward()` is re-run; None if none is.

    Re-run the failing batch before the optimiser applies its (non-finite) gradients when you can: after
    that, every layer's weights are NaN and the first layer is always named. See `nonfinite_trace`.
    """
    trace = nonfinite_trace(model, forward)
    return None if trace is None else trace["module"]
