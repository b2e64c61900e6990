"""Preflight: structure errors name the layer and the shapes; the summary lists layers, params and memory."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from tui_trainer.engine.preflight import PreflightError, check_inputs, run_preflight


def ce():
    return nn.CrossEntropyLoss()


def test_shape_mismatch_names_layer_and_shapes():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(5, 3))
    x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
    with pytest.raises(PreflightError) as err:
        run_preflight(model, x, y, ce(), "classification", 3)
    e = err.value
    assert e.code == "shape_mismatch"
    assert "layer `2`" in e.message and "Linear(in_features=5, out_features=3" in e.message
    assert "(16, 8)" in e.message  # what came in
    assert "(3, 5)" in e.message  # the weight that did not fit
    assert "layer before it, `1` (ReLU), output (16, 8)" in e.message
    assert e.evidence["input_shape"] == [16, 8] and e.evidence["weight_shape"] == [3, 5]


def test_nested_module_mismatch_names_the_full_path():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU())
            self.head = nn.Sequential(nn.Flatten(), nn.Linear(100, 10))

        def forward(self, x):
            return self.head(self.features(x))

    x, y = torch.randn(2, 1, 8, 8), torch.tensor([1, 2])
    with pytest.raises(PreflightError) as err:
        run_preflight(Net(), x, y, ce(), "classification", 10)
    assert "layer `head.1`" in err.value.message
    assert "(2, 256)" in err.value.message and "expects inputs (..., 100)" in err.value.message


def test_dtype_mismatch_is_reported_as_dtype():
    model = nn.Sequential(nn.Linear(4, 3).double())
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    with pytest.raises(PreflightError) as err:
        run_preflight(model, x, y, ce(), "classification", 3)
    assert err.value.code == "dtype_mismatch"
    assert "float32" in err.value.message and "float64" in err.value.message


def test_labels_outside_output_range():
    model = nn.Sequential(nn.Linear(4, 2))
    x, y = torch.randn(8, 4), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    with pytest.raises(PreflightError) as err:
        run_preflight(model, x, y, ce(), "classification", 3)
    assert err.value.code == "labels_out_of_range"
    assert "0..2" in err.value.message and "2 class score" in err.value.message


def test_nonfinite_inputs_name_the_sample():
    x = torch.randn(10, 3)
    x[7, 1] = float("nan")
    with pytest.raises(PreflightError) as err:
        check_inputs(x, "training data")
    assert err.value.code == "nonfinite_inputs" and "sample 7" in err.value.message


def test_nonfinite_loss_at_step_zero():
    class Bad(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 3)

        def forward(self, x):
            return self.lin(x) * float("inf")

    with pytest.raises(PreflightError) as err:
        run_preflight(Bad(), torch.randn(4, 4), torch.tensor([0, 1, 2, 0]), ce(), "classification", 3)
    e = err.value
    assert e.code == "nan_loss" and "first batch, before any update" in e.message
    # lin's output is finite; Bad.forward's own code (the * inf) made the NaN, and the message says so.
    assert e.evidence["first_nonfinite_module"] == "(model)" and "after `lin`" in e.message
    assert e.evidence["first_step"] == 0 and "torch.log(x + 1e-8)" in e.fix


def test_summary_and_state_untouched():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 3))
    model.train()
    x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng_before = torch.get_rng_state()
    summary = run_preflight(model, x, y, ce(), "classification", 3)
    assert [layer["type"] for layer in summary["layers"]] == [
        "Linear",
        "BatchNorm1d",
        "ReLU",
        "Dropout",
        "Linear",
    ]
    assert summary["layers"][0]["output_shape"] == [16, 8]
    assert summary["params"] == 4 * 8 + 8 + 16 + 8 * 3 + 3
    assert summary["trainable_params"] == summary["params"]
    assert summary["memory_estimate_bytes"] > summary["param_bytes"]
    # Running stats, weights and the RNG are as they were: preflight does not change the run.
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert torch.equal(torch.get_rng_state(), rng_before)
    assert all(p.grad is None for p in model.parameters())


def test_functional_mismatch_in_forward_names_the_source_line():
    import torch.nn.functional as F

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.randn(3, 5))

        def forward(self, x):
            return F.linear(x, self.w)  # the bad line: x has 4 features, w expects 5

    with pytest.raises(PreflightError) as err:
        run_preflight(Net(), torch.randn(6, 4), torch.tensor([0, 1, 2, 0, 1, 2]), ce(), "classification", 3)
    msg = err.value.message
    assert "layer `(model)` (Net" in msg and "(6, 4)" in msg
    assert "test_preflight.py:" in msg and "F.linear(x, self.w)" in msg
