"""layer_stats on real modules: per-layer grad norms agree with torch, dead units, class counts, first NaN layer."""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from tui_trainer.engine.layer_stats import (
    DeadUnitProbe,
    class_counts,
    first_nonfinite_module,
    layer_grad_norms,
    nonfinite_trace,
)


def _mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3))


def test_layer_grad_norms_match_each_modules_parameters():
    model = _mlp()
    x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
    nn.functional.cross_entropy(model(x), y).backward()
    norms = layer_grad_norms(model)
    assert list(norms) == ["0", "2", "4"]
    for name, module in model.named_children():
        if name in norms:
            want = math.sqrt(sum(float(p.grad.pow(2).sum()) for p in module.parameters()))
            assert math.isclose(norms[name], want, rel_tol=1e-5)


def test_layer_grad_norms_skip_frozen_layers_and_group_huge_models():
    model = _mlp()
    model[0].requires_grad_(False)
    model(torch.randn(4, 4)).sum().backward()
    assert "0" not in layer_grad_norms(model)

    big = nn.Sequential(*[nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4)) for _ in range(50)])
    big(torch.randn(2, 4)).sum().backward()
    full = layer_grad_norms(big, max_layers=1000)
    grouped = layer_grad_norms(big, max_layers=64)
    assert len(full) == 100 and len(grouped) == 50
    assert math.isclose(grouped["7"], math.hypot(full["7.0"], full["7.1"]), rel_tol=1e-5)


def test_dead_unit_probe_records_only_the_armed_forward():
    model = _mlp()
    with torch.no_grad():
        model[2].bias[:4] = -1e3  # four units of the second layer can never fire
    probe = DeadUnitProbe(model)
    assert probe.layers == 2
    x = torch.randn(64, 4)
    model(x)
    assert probe.read() == {}
    probe.arm()
    model(x)
    dead = probe.read()
    assert dead["3"] >= 0.5 and dead["1"] < 0.5
    # Between armed forwards no hook is left on any module (the other steps run at full speed).
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    model(x)
    assert probe.read() == {}
    probe.arm()
    probe.close()
    model(x)
    assert probe.read() == {} and all(not m._forward_hooks for m in model.modules())


def test_dead_unit_probe_names_a_shared_relu_per_call_and_counts_conv_channels():
    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3)
            self.fc = nn.Linear(4 * 6 * 6, 5)
            self.act = nn.ReLU()

        def forward(self, x):
            return self.act(self.fc(self.act(self.conv(x)).flatten(1)))

    model = Shared()
    with torch.no_grad():
        model.conv.bias[0] = -1e3
    probe = DeadUnitProbe(model)
    probe.arm()
    model(torch.randn(8, 1, 8, 8))
    dead = probe.read()
    assert set(dead) == {"act", "act#2"}
    assert dead["act"] == 0.25  # one channel of four


def test_class_counts_from_logits_and_ids():
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 3.0, 0.0], [5.0, 0.0, 1.0]])
    assert class_counts(logits, torch.tensor([0, 2, 2]), 3) == ([2, 1, 0], [1, 0, 2])
    assert class_counts(torch.tensor([1, 1]), torch.tensor([0, 4]), 3) == ([0, 2, 0, 0, 0], [1, 0, 0, 0, 1])


def test_first_nonfinite_module_names_the_layer_and_the_code_between():
    class LogInForward(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(4, 4)
            self.b = nn.Linear(4, 3)

        def forward(self, x):
            return self.b(torch.log(self.a(x) - 1e3))  # log of a negative number: NaN

    model = LogInForward()
    x = torch.randn(8, 4)
    trace = nonfinite_trace(model, lambda: model(x))
    assert trace["module"] == "b" and trace["previous"] == "a" and trace["input_finite"] is False
    assert first_nonfinite_module(_mlp(), lambda: _mlp()(x)) is None

    overflow = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 3))
    with torch.no_grad():
        overflow[1].weight.mul_(1e38)
        overflow[1].weight[0, 0] = float("inf")
    assert first_nonfinite_module(overflow, lambda: overflow(x)) == "1"


def test_nonfinite_trace_leaves_batchnorm_statistics_alone():
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
    before = model[1].running_mean.clone()
    assert nonfinite_trace(model, lambda: model(torch.randn(8, 4) + 5)) is None
    assert torch.equal(model[1].running_mean, before)
