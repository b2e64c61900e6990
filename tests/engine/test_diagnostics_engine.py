"""The diagnostics through `run_training` (what `tui-trainer train` runs): configs and user factories on CSV files,
the engine's own reporting cadence, preflight's leakage and step-0 NaN checks."""

from __future__ import annotations

import csv
import random
import textwrap
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_DATA
from tui_trainer.engine.config import DiagnosticsConfig, load_config
from tui_trainer.engine.loop import run_training

PATIENCE = DiagnosticsConfig()
NETS = '''
import torch
import torch.nn as nn


def deep_sigmoid(input_shape, num_classes, depth=20, width=16):
    layers, w = [], input_shape[0]
    for _ in range(depth):
        layers += [nn.Linear(w, width), nn.Sigmoid()]
        w = width
    return nn.Sequential(*layers, nn.Linear(w, num_classes))


class LogNet(nn.Module):
    """log() of standardised features (half of them negative): NaN before any update."""

    def __init__(self, width, num_classes):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(width, 16), nn.ReLU(), nn.Linear(16, num_classes))

    def forward(self, x):
        return self.net(torch.log(x))


def log_net(input_shape, num_classes):
    return LogNet(input_shape[0], num_classes)
'''


def xor_csv(path: Path, seed: int, n: int = 400) -> Path:
    rng = random.Random(seed)
    lines = ["a,b,label"]
    for _ in range(n):
        c = rng.randrange(4)
        cx, cy = [(1, 1), (-1, -1), (1, -1), (-1, 1)][c]
        lines.append(
            f"{cx + rng.gauss(0, 0.35):.4f},{cy + rng.gauss(0, 0.35):.4f},{'yes' if c >= 2 else 'no'}"
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def run(tmp_path: Path, body: str, name: str = "cfg"):
    (tmp_path / "nets.py").write_text(NETS)
    path = tmp_path / f"{name}.toml"
    path.write_text(textwrap.dedent(body) + "\n[telemetry]\nenabled = false\n")
    events: list = []
    result = run_training(load_config(path), tmp_path / f"run-{name}", emit=events.append)
    return result, [e for e in events if e.type == "diagnostic"]


def xor_config(seed: int, hidden: str, log_every: int) -> str:
    return f"""
        [data]
        path = "xor.csv"
        label = "label"
        [model]
        name = "mlp"
        hidden = {hidden}
        [optim]
        lr = 0.01
        [train]
        epochs = 40
        batch_size = 32
        seed = {seed}
        log_every = {log_every}
        """


@pytest.mark.parametrize("seed", [0, 1])
def test_linear_config_on_xor_underfits_whatever_the_cadence(tmp_path, seed):
    xor_csv(tmp_path / "xor.csv", seed)
    steps = []
    for log_every in (0, 1, 1000):  # adaptive, every step, once an epoch
        result, diags = run(tmp_path, xor_config(seed, "[]", log_every), f"linear{log_every}")
        assert result.status == "completed"
        (diag,) = [d for d in diags if d.code == "underfitting"]
        assert diag.evidence["share_of_chance"] >= PATIENCE.underfit_chance_ratio
        assert "model.hidden" in diag.fix
        steps.append(diag.step)
    assert max(steps) <= PATIENCE.plateau_steps + 40 and max(steps) - min(steps) <= 10  # one epoch = 10 steps
    result, diags = run(tmp_path, xor_config(seed, "[16, 16]", 0), "mlp")
    assert [d.code for d in diags if d.severity != "info"] == []


def test_deep_sigmoid_factory_names_the_starved_layers(tmp_path):
    body = f"""
        [data]
        path = "{SAMPLE_DATA / "penguins.csv"}"
        label = "species"
        [model]
        factory = "nets:deep_sigmoid"
        [optim]
        lr = 0.001
        [train]
        epochs = 2
        batch_size = 16
        """
    _, diags = run(tmp_path, body)
    diag = next(d for d in diags if d.code == "vanishing_gradients")
    assert diag.evidence["layers"][0] == "0" and "`0`" in diag.message
    assert diag.step - diag.evidence["first_step"] < PATIENCE.grad_patience


def test_log_in_a_factory_forward_is_named_at_step_zero(tmp_path):
    body = f"""
        [data]
        path = "{SAMPLE_DATA / "penguins.csv"}"
        label = "species"
        [model]
        factory = "nets:log_net"
        """
    result, diags = run(tmp_path, body)
    assert result.status == "failed"
    diag = next(d for d in diags if d.code == "nan_loss")
    assert diag.evidence["first_nonfinite_module"] == "net.0" and diag.evidence["first_step"] == 0
    assert "forward()" in diag.message and "torch.log(x + 1e-8)" in diag.fix


def test_a_renamed_copy_of_the_label_is_named_before_training(tmp_path):
    rows = list(csv.DictReader(open(SAMPLE_DATA / "penguins.csv")))
    with open(tmp_path / "leak.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=[*rows[0], "kind"])
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "kind": row["species"].upper()[:3]})
    body = """
        [data]
        path = "leak.csv"
        label = "species"
        [train]
        epochs = 2
        batch_size = 16
        """
    _, diags = run(tmp_path, body)
    (diag,) = [d for d in diags if d.code == "leakage"]
    assert diag.severity == "warning" and diag.step == 0 and "`kind`" in diag.message
    assert [f["feature"] for f in diag.evidence["features"]] == ["kind"]


def test_a_training_split_of_one_class_has_no_chance_level_and_trains(tmp_path):
    """One label value only: the label entropy is 0, so there is no chance-level loss to judge a stall by
    (a ratio to it divided by zero); the run completes and underfitting is not called on a loss near 0."""
    rng = random.Random(0)
    lines = ["a,b,label"] + [f"{rng.gauss(0, 1):.4f},{rng.gauss(0, 1):.4f},yes" for _ in range(300)]
    (tmp_path / "one.csv").write_text("\n".join(lines) + "\n")
    body = xor_config(0, "[8]", 0).replace("xor.csv", "one.csv").replace("epochs = 40", "epochs = 30")
    result, diags = run(tmp_path, body, "one")
    assert result.status == "completed", result
    assert [d.code for d in diags] == []  # no stall at a loss of 0, no leak in answering the only class
