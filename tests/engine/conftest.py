"""Engine test fixtures: a tiny separable table and config writers (the fake NVML is in tests/fakes.py)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest


def write_table(path: Path, rows: int = 120, seed: int = 0, classes: int = 3) -> Path:
    """A CSV a small MLP separates in a few epochs: two numbers, one category, a class label."""
    rng = random.Random(seed)
    lines = ["x1,x2,colour,label"]
    for i in range(rows):
        label = i % classes
        x1 = label * 2.0 + rng.gauss(0, 0.3)
        x2 = -label + rng.gauss(0, 0.3)
        colour = ["red", "green", "blue"][(label + (rng.random() < 0.2)) % 3]
        lines.append(f"{x1:.4f},{x2:.4f},{colour},c{label}")
    path.write_text("\n".join(lines) + "\n")
    return path


def write_config(folder: Path, body: str = "", name: str = "cfg.toml", data: str = "data.csv") -> Path:
    """A config for the tiny table in `folder`; `body` adds or replaces tables (later keys win via --set)."""
    if not (folder / data).exists():
        write_table(folder / data)
    text = f"""
[data]
path = "{data}"
label = "label"
val_fraction = 0.25

[model]
name = "mlp"
hidden = [16]

[optim]
lr = 0.01

[train]
epochs = 3
batch_size = 16
seed = 1
checkpoint_every = 5
log_every = 1

[telemetry]
enabled = false
"""
    path = folder / name
    path.write_text(text + body)
    return path


@pytest.fixture(autouse=True)
def one_torch_thread(monkeypatch: pytest.MonkeyPatch):
    """Tiny models train fastest on one thread, and this box is shared: intra-op threads only spin-wait here.

    Restored afterwards, so other areas' tests see torch's default. Subprocesses get OMP_NUM_THREADS=1.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    yield
    torch.set_num_threads(before)


@pytest.fixture
def table_config(tmp_path: Path) -> Path:
    return write_config(tmp_path)
