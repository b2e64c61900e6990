"""Preflight: push one real batch forward and backward before training, and explain structure errors plainly.

A shape or dtype mismatch deep in a model surfaces from PyTorch as a traceback about `mat1 and mat2`; here
forward hooks track which layer was running, so the report names the layer, its type and the shapes that
went in (and what the layer before it put out). The same pass yields the model summary the pane shows:
layers, output shapes, parameters, trainable parameters and a memory estimate. Model state and RNG are
restored afterwards, so preflight does not change the run it checks.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any


@dataclass(eq=False)
class PreflightError(Exception):
    """A problem found before training; `code` is the diagnostic code, `message` names layer and shapes."""

    code: str
    message: str
    fix: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.evidence.setdefault("first_step", 0)  # every diagnostic says where its condition first held

    def __str__(self) -> str:
        return self.message


def _shape(value: Any) -> Any:
    import torch

    if isinstance(value, torch.Tensor):
        return list(value.shape)
    if isinstance(value, list | tuple):
        return [_shape(v) for v in value]
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    return type(value).__name__


def _dtype(value: Any) -> Any:
    import torch

    if isinstance(value, torch.Tensor):
        return str(value.dtype).replace("torch.", "")
    if isinstance(value, list | tuple) and value:
        return _dtype(value[0])
    return None


def _fmt(shape: Any) -> str:
    if isinstance(shape, list) and all(isinstance(d, int) for d in shape):
        return "(" + ", ".join(map(str, shape)) + ")"
    return str(shape)


def check_inputs(x: Any, where: str = "training data") -> None:
    """Non-finite values in the inputs poison the first step; say where the first one is."""
    import torch

    if not torch.is_floating_point(x):
        return
    finite = torch.isfinite(x)
    if bool(finite.all()):
        return
    bad_rows = (~finite).reshape(x.shape[0], -1).any(dim=1).nonzero().flatten()
    raise PreflightError(
        code="nonfinite_inputs",
        message=f"{where}: {int((~finite).sum())} non-finite value(s) (NaN/inf) in {len(bad_rows)} sample(s); "
        f"first at sample {int(bad_rows[0])}",
        fix="Fill or drop missing values (a Data-pane recipe), or check the file for inf/NaN.",
        evidence={"samples": len(bad_rows), "first_sample": int(bad_rows[0])},
    )


def run_preflight(model: Any, xb: Any, yb: Any, loss_fn: Any, task: str, num_classes: int) -> dict[str, Any]:
    """Forward + backward one batch; returns the model summary, raises PreflightError with the culprit layer."""
    import torch

    check_inputs(xb, "first batch")
    saved_state = copy.deepcopy(model.state_dict())
    records: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    active: list[tuple[str, Any, Any]] = []
    names = {id(m): n for n, m in model.named_modules()}
    handles = []

    def pre_hook(module, inputs):
        active.append((names.get(id(module), "?"), module, inputs))

    def post_hook(module, inputs, output):
        if active:
            active.pop()
        name = names.get(id(module), "?")
        if name not in records:
            order.append(name)
        records[name] = {
            "name": name or "(model)",
            "type": type(module).__name__,
            "input_shape": _shape(inputs[0]) if len(inputs) == 1 else _shape(list(inputs)),
            "output_shape": _shape(output),
            "params": sum(p.numel() for p in module.parameters(recurse=False)),
            "leaf": not any(True for _ in module.children()),
        }

    for module in model.modules():
        handles.append(module.register_forward_pre_hook(pre_hook))
        handles.append(module.register_forward_hook(post_hook))
    was_training = model.training
    try:
        with torch.random.fork_rng(devices=[]):
            model.train()
            try:
                out = model(xb)
            except Exception as exc:
                raise _forward_error(exc, active, records, order, xb) from None
            finally:
                for h in handles:
                    h.remove()
            if not isinstance(out, torch.Tensor):
                raise PreflightError(
                    code="model_output",
                    message=f"the model returned {type(out).__name__}, not a tensor of predictions",
                    fix="Return the logits (classification) or predictions (regression) tensor from forward().",
                )
            _check_output(out, yb, task, num_classes)
            try:
                loss = loss_fn(out, yb)
            except Exception as exc:
                raise PreflightError(
                    code="loss_mismatch",
                    message=f"the loss cannot compare the model output {_fmt(_shape(out))} ({_dtype(out)}) "
                    f"with the labels {_fmt(_shape(yb))} ({_dtype(yb)}): {str(exc).splitlines()[0]}",
                    fix="Make the last layer output one value per class (classification) or per target (regression).",
                    evidence={"output_shape": _shape(out), "label_shape": _shape(yb)},
                ) from None
            if not math.isfinite(float(loss.detach())):
                raise _nonfinite_loss(model, xb, yb, loss_fn, float(loss.detach()))
            trainable = [p for p in model.parameters() if p.requires_grad]
            if not trainable:
                raise PreflightError(
                    code="no_trainable_parameters",
                    message="the model has no trainable parameters (all requires_grad=False)",
                    fix="Unfreeze at least the last layer.",
                )
            try:
                loss.backward()
            except Exception as exc:
                raise PreflightError(
                    code="backward_failed",
                    message=f"backward pass failed: {str(exc).splitlines()[0]}",
                    fix="Look for in-place operations on tensors autograd needs, or detached outputs.",
                ) from None
            no_grad = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    finally:
        model.zero_grad(set_to_none=True)
        model.load_state_dict(saved_state)
        model.train(was_training)
    return _summary(model, records, order, xb, no_grad)


def _nonfinite_loss(model: Any, xb: Any, yb: Any, loss_fn: Any, value: float) -> PreflightError:
    """The first batch's loss is NaN/inf before any update: name the module, say it is numerical."""
    from tui_trainer.engine.diagnostics import NUMERICAL_CAUSES, describe_nonfinite
    from tui_trainer.engine.layer_stats import nonfinite_trace

    trace = nonfinite_trace(model, lambda: loss_fn(model(xb), yb))
    module = (trace or {}).get("module")
    return PreflightError(
        code="nan_loss",
        message=f"the loss is {value} on the first batch, before any update{describe_nonfinite(trace)}",
        fix="No update has happened yet, so this is a numerical bug: "
        + NUMERICAL_CAUSES
        + (f" Start looking in `{module}` and the code right before it." if module else ""),
        evidence={
            "loss": value,
            "first_nonfinite_module": module,
            "nonfinite_trace": trace,
            "likely_cause": "numerical",
        },
    )


def _forward_error(exc: Exception, active, records, order, xb) -> PreflightError:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if not active:
        return PreflightError(code="forward_failed", message=f"forward pass failed: {text}")
    # The innermost module still running when the error was raised is the one that failed.
    name, module, inputs = active[-1]
    in_shape = _shape(inputs[0]) if len(inputs) == 1 else _shape(list(inputs))
    in_dtype = _dtype(inputs[0]) if inputs else None
    expected = ""
    weight = getattr(module, "weight", None)
    if weight is not None and hasattr(weight, "shape"):
        expected = f"; its weight is {_fmt(list(weight.shape))} ({_dtype(weight)})"
        if hasattr(module, "in_features"):
            expected += f", so it expects inputs (..., {module.in_features})"
        elif hasattr(module, "in_channels"):
            expected += f", so it expects {module.in_channels} input channels"
    before = ""
    leaf_done = [records[n] for n in order if records[n]["leaf"]]
    if leaf_done:
        prev = leaf_done[-1]
        before = (
            f" The layer before it, `{prev['name']}` ({prev['type']}), output {_fmt(prev['output_shape'])}."
        )
    code = (
        "dtype_mismatch"
        if "dtype" in text.lower() or "expected scalar type" in text.lower()
        else "shape_mismatch"
    )
    where = _user_frame(exc)
    from tui_trainer.engine.models import layer_definition

    defined = layer_definition(module, [(n, m) for n, m, _ in active[:-1]])
    shown = repr(module) if len(repr(module)) <= 120 else type(module).__name__
    message = f"layer `{name or '(model)'}` ({shown}) failed on input {_fmt(in_shape)} ({in_dtype}){expected}: {text}."
    if defined:
        message += f" The layer is defined at {defined}."
    if where:
        message += f" At {where}."
    message += before
    fix = (
        "Make this layer's input size match what the previous layer produces (e.g. in_features = the flattened "
        "size shown above), or reshape/flatten before it."
        if code == "shape_mismatch"
        else "Cast inputs and parameters to one dtype (e.g. .float()), or build the layer with the input's dtype."
    )
    return PreflightError(
        code=code,
        message=message,
        fix=fix,
        evidence={
            "layer": name,
            "layer_type": type(module).__name__,
            "input_shape": in_shape,
            "input_dtype": in_dtype,
            "weight_shape": list(weight.shape) if weight is not None and hasattr(weight, "shape") else None,
            "model_input_shape": list(xb.shape),
            "error": text,
            "where": where,
            "defined_at": defined,
        },
    )


def _user_frame(exc: BaseException) -> str | None:
    """`file:line `code`` of the innermost frame outside torch: the line in the user's forward() that failed."""
    import os
    import traceback

    import torch

    torch_dir = os.path.dirname(torch.__file__)
    here = os.path.dirname(os.path.abspath(__file__))
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        filename = os.path.abspath(frame.filename)
        if filename.startswith(torch_dir) or filename.startswith(here):
            continue
        code = (frame.line or "").strip()
        return f"{os.path.basename(filename)}:{frame.lineno}" + (f" `{code}`" if code else "")
    return None


def _check_output(out: Any, yb: Any, task: str, num_classes: int) -> None:
    import torch

    if task == "classification":
        if out.dim() != 2 or out.shape[0] != yb.shape[0]:
            raise PreflightError(
                code="output_shape",
                message=f"model output {_fmt(list(out.shape))} is not (batch, classes) = ({yb.shape[0]}, {num_classes})",
                fix=f"End the model with a layer of {num_classes} outputs and flatten before it.",
                evidence={"output_shape": list(out.shape), "num_classes": num_classes},
            )
        n_out = out.shape[1]
        lo, hi = int(yb.min()), int(yb.max())
        if lo < 0 or hi >= n_out:
            raise PreflightError(
                code="labels_out_of_range",
                message=f"labels span {lo}..{hi} but the model outputs {n_out} class score(s) (valid labels 0..{n_out - 1})",
                fix=f"Give the last layer {num_classes} outputs (the data has {num_classes} classes).",
                evidence={"label_min": lo, "label_max": hi, "outputs": n_out, "num_classes": num_classes},
            )
        if n_out != num_classes:
            raise PreflightError(
                code="output_classes",
                message=f"the model outputs {n_out} class scores but the data has {num_classes} classes",
                fix=f"Give the last layer {num_classes} outputs.",
                evidence={"outputs": n_out, "num_classes": num_classes},
            )
    elif isinstance(out, torch.Tensor) and out.shape[0] != yb.shape[0]:
        raise PreflightError(
            code="output_shape",
            message=f"model output {_fmt(list(out.shape))} does not match targets {_fmt(list(yb.shape))}",
            fix="Return one prediction per sample.",
        )


def _summary(model: Any, records, order, xb, no_grad: list[str]) -> dict[str, Any]:
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    param_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    act_elems = 0
    layers = []
    for name in order:
        rec = records[name]
        if not rec["leaf"]:
            continue
        shape = rec["output_shape"]
        if isinstance(shape, list) and all(isinstance(d, int) for d in shape):
            act_elems += math.prod(shape)
        layers.append({k: rec[k] for k in ("name", "type", "output_shape", "params")})
    elem = xb.element_size() if hasattr(xb, "element_size") else 4
    # params + grads + two Adam moments, plus activations kept for backward (x2 for their grads).
    memory = param_bytes * 4 + act_elems * elem * 2
    return {
        "layers": layers,
        "params": total,
        "trainable_params": trainable,
        "param_bytes": param_bytes,
        "memory_estimate_bytes": int(memory),
        "batch_input_shape": list(xb.shape),
        "params_without_grad": no_grad,
    }


def feature_columns(encoding: dict[str, Any] | None, width: int) -> dict[str, list[int]]:
    """Source feature → its columns in the encoded matrix (a one-hot category is one feature, not K)."""
    out: dict[str, list[int]] = {}
    col = 0
    for feat in (encoding or {}).get("features", []):
        size = len(feat.get("categories", [])) if feat.get("type") == "one_hot" else 1
        out[str(feat["name"])] = list(range(col, col + size))
        col += size
    if col != width:  # no encoding (a user's own matrix) or one that does not match: one column each
        return {f"x[{i}]": [i] for i in range(width)}
    return out


def leaky_features(
    x_train: Any,
    y_train: Any,
    task: str,
    encoding: dict[str, Any] | None = None,
    min_gain: float = 0.98,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Features that alone predict the label (nearly) perfectly on the training split, best first.

    Each source feature (a one-hot group is read back as its category) is scored by the shared one-feature
    rule of `data/leakage.py` (binned, held-out, against the majority/mean baseline); those whose gain over
    the baseline is at least `min_gain` are returned as {feature, metric, score, baseline, gain, method,
    distinct_values, kind}: `kind` is "function_of_label" (classification: at most one value per class plus
    one; regression: always) or "strong_feature" (many values: an easy task as much as a leak).
    Tables only: images (more than two dimensions) give [].
    """
    import numpy as np
    import polars as pl

    from tui_trainer.data.leakage import single_feature_scores

    x = x_train.detach().cpu().numpy() if hasattr(x_train, "detach") else np.asarray(x_train)
    if x.ndim != 2 or x.shape[0] == 0:
        return []
    y = y_train.detach().cpu().numpy() if hasattr(y_train, "detach") else np.asarray(y_train)
    y = y.reshape(len(y), -1)[:, 0]
    columns: dict[str, Any] = {}
    for name, cols in feature_columns(encoding, x.shape[1]).items():
        block = x[:, cols]
        if len(cols) == 1:
            columns[name] = block[:, 0]
        else:  # one-hot: the category index, -1 where no category was set (missing)
            columns[name] = np.where(block.max(axis=1) > 0, block.argmax(axis=1), -1).astype(np.int64)
    label = "\x00label"
    frame = pl.DataFrame({**columns, label: y.astype(np.float64 if task == "regression" else np.int64)})
    scores = single_feature_scores(frame, label, task=task, seed=seed, features=list(columns))
    classes = len(np.unique(y)) if task != "regression" else 0
    out = []
    for s in scores:
        if s.gain < min_gain:
            continue
        distinct = int(len(np.unique(columns[s.feature])))
        # A copy or a function of a class label takes at most one value per class (plus one for missing); a
        # measurement that merely separates the classes well takes many. Only the first is called a leak.
        lookup = task == "regression" or distinct <= classes + 1
        out.append(
            {
                "feature": s.feature,
                "metric": "r2" if task == "regression" else "accuracy",
                "score": round(s.score, 4),
                "baseline": round(s.baseline, 4),
                "gain": round(s.gain, 4),
                "method": s.method,
                "distinct_values": distinct,
                "kind": "function_of_label" if lookup else "strong_feature",
            }
        )
    return out
