"""What a reported step and an eval carry from a real run: per-layer gradient norms, dead units, class counts,
and the module a NaN first came out of."""

from __future__ import annotations

import math

import pytest
import torch

from tests.engine.conftest import write_config
from tui_trainer.engine.config import load_config
from tui_trainer.engine.loop import run_training


def of(events, kind):
    return [e for e in events if e.type == kind]


def test_reported_steps_carry_layer_norms_and_dead_units_and_evals_carry_class_counts(tmp_path):
    cfg = write_config(tmp_path)
    events = []
    result = run_training(load_config(cfg, ["model.hidden=[16, 16]"]), tmp_path / "run", emit=events.append)
    assert result.status == "completed"
    steps = of(events, "step")
    # The built-in MLP: Linear 0, ReLU 1, Linear 2, ReLU 3, Linear 4.
    assert all(set(s.layer_grad_norms) == {"0", "2", "4"} for s in steps)
    assert all(
        set(s.dead_units) == {"1", "3"} and all(0 <= v <= 1 for v in s.dead_units.values()) for s in steps
    )
    for s in steps:  # no clipping here: the layers' norms make up the global norm
        total = math.sqrt(sum(v * v for v in s.layer_grad_norms.values()))
        assert total == pytest.approx(s.grad_norm, rel=1e-4)
    evals = of(events, "eval")
    val_labels = torch.bincount(torch.tensor([int(c[1:]) for c in _val_labels(result)]), minlength=3).tolist()
    for e in evals:
        assert e.label_counts == val_labels and sum(e.pred_counts) == sum(val_labels) == 30
        # Right answers per class are at most min(predicted, true) of that class.
        bound = sum(min(p, t) for p, t in zip(e.pred_counts, e.label_counts, strict=True)) / 30
        assert e.metrics["accuracy"] <= bound + 1e-9


def _val_labels(result):
    # The validation split the run used, re-derived the way datasets.py splits (seeded permutation).
    import numpy as np
    import polars as pl

    frame = pl.read_csv(result.run_dir.parent / "data.csv")
    order = np.random.default_rng(1).permutation(frame.height)
    n_val = int(round(frame.height * 0.25))
    return frame["label"].to_numpy()[np.sort(order[:n_val])]


GATE_MODEL = '''
import torch, torch.nn as nn

class Gate(nn.Module):
    """Divides by a mask that is 0 for rows with an extreme first feature: inf for those rows only."""
    def forward(self, h, x):
        return h / (x[:, :1] < 5).float()

class Net(nn.Module):
    def __init__(self, input_shape, num_classes):
        super().__init__()
        self.body = nn.Linear(input_shape[0], 8)
        self.gate = Gate()
        self.head = nn.Linear(8, num_classes)
    def forward(self, x):
        return self.head(self.gate(torch.relu(self.body(x)), x))

def build(input_shape, num_classes):
    return Net(input_shape, num_classes)
'''


def test_a_nan_is_traced_to_the_module_that_produced_it(tmp_path):
    """One outlier row (last in the file, so not in the preflight batch) makes `gate` output inf mid-epoch."""
    from tests.engine.conftest import write_table

    write_table(tmp_path / "data.csv")
    with (tmp_path / "data.csv").open("a") as fh:
        fh.write("900.0,0.0,red,c0\n")
    (tmp_path / "gate_model_t.py").write_text(GATE_MODEL)
    cfg = write_config(tmp_path)
    cfg.write_text(cfg.read_text().replace('name = "mlp"', 'factory = "gate_model_t:build"'))
    events = []
    result = run_training(load_config(cfg, ["data.val_fraction=0.0"]), tmp_path / "run", emit=events.append)
    assert result.status == "failed" and result.code == "nan_loss"
    failed = of(events, "failed")[0]
    assert "first non-finite output: module `gate`" in failed.error
    nan = [d for d in of(events, "diagnostic") if d.code == "nan_loss"][0]
    assert nan.evidence["first_nonfinite_module"] == "gate"
    assert nan.evidence["nonfinite_trace"]["input_finite"] is True  # the data and the layer before were fine
    assert nan.evidence["nonfinite_trace"]["params_finite"] is True  # caught before the update
    assert "gate" in nan.message


def test_a_renamed_copy_of_the_label_is_named_before_the_first_step(tmp_path):
    from tests.engine.conftest import write_table

    write_table(tmp_path / "clean.csv", rows=200)
    lines = (tmp_path / "clean.csv").read_text().splitlines()
    leaked = [lines[0] + ",code"] + [row + ",k" + row.rsplit(",", 1)[1][1:] for row in lines[1:]]
    (tmp_path / "leak.csv").write_text("\n".join(leaked) + "\n")
    for data, expect in (("clean.csv", []), ("leak.csv", ["code"])):
        cfg = write_config(tmp_path, data=data, name=f"{data}.toml")
        events = []
        run_training(load_config(cfg, ["train.epochs=1"]), tmp_path / f"run-{data}", emit=events.append)
        leak = [e for e in events if e.type == "diagnostic" and e.code == "leakage"]
        assert [f["feature"] for d in leak for f in d.evidence["features"]] == expect
        if expect:
            kinds = [e.type for e in events]
            assert kinds.index("diagnostic") < kinds.index("step")
