"""Rates and the per-step path of the Lightning callback, on real `lightning` runs: samples/s is steps/s x the
batch size the run reports (headless line, attach JSON, the step events), and per-layer norms are read only on
the steps that report."""

from __future__ import annotations

import io
import json
import re
import time

import pytest

from tests.integrations.conftest import of_type, read_events
from tests.integrations.test_lightning import loaders
from tui_trainer.engine.events import RunStarted, Step

L = pytest.importorskip("lightning")

STEP_S = 0.005  # each training step sleeps this long, as a heavier model's step would take it


def make_module():
    import torch
    from torch import nn

    class Blobs(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))

        def training_step(self, batch, batch_idx):
            time.sleep(STEP_S)
            x, y = batch
            return nn.functional.cross_entropy(self.net(x), y)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.05)

    return Blobs()


def fit(callback, train, epochs: int = 2, accumulate: int = 1):
    trainer = L.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=4,
        accumulate_grad_batches=accumulate,
        callbacks=[callback],
    )
    trainer.fit(make_module(), train)
    return trainer


def headless_lines(events) -> list[str]:
    from tui_trainer.engine.headless import ProgressPrinter

    out = io.StringIO()
    printer = ProgressPrinter(out, tty=False, interval_s=0.0)
    for event in events:
        printer(event)
    return out.getvalue().splitlines()


def attach_json(run_dir, capsys) -> dict:
    from tui_trainer.cli import main

    capsys.readouterr()
    assert main(["attach", "--json", str(run_dir)]) == 0
    return json.loads(capsys.readouterr().out)[0]


def test_samples_per_second_is_steps_per_second_times_the_batch_size(tmp_path, capsys):
    from tui_trainer.integrations.lightning import TuiTrainerCallback

    run_dir = tmp_path / "run"
    train, _ = loaders()  # batch 16; with 2 batches accumulated a step trains 32 samples
    fit(TuiTrainerCallback(run_dir=run_dir), train, epochs=5, accumulate=2)  # 30 steps
    events = read_events(run_dir)
    assert of_type(events, RunStarted)[0].config["train"] == {"batch_size": 32}

    steps = of_type(events, Step)
    # A step's time is when it was trained, not when the run flushed it: steps take >= 2 x STEP_S apart.
    gaps = [(b.time - a.time) / (b.step - a.step) for a, b in zip(steps, steps[1:], strict=False)]
    assert min(gaps) >= 2 * STEP_S * 0.9
    # The step events' own samples/s: the steps since the last report x 32 over the time they took (checked
    # on the 4-step windows, where a millisecond of scheduling noise is a small share).
    assert [s.step for s in steps][-3:] == [20, 24, 28]
    for a, b in zip(steps[-3:], steps[-2:], strict=False):
        assert b.samples_per_s == pytest.approx((b.step - a.step) * 32 / (b.time - a.time), rel=0.1)

    # The headless line shows the same figure: its steps/s x 32.
    shown = [
        (float(m[1]), float(m[2]))
        for line in headless_lines(events)
        if (m := re.search(r"([\d.]+) steps/s  (\d+) samples/s", line))
    ]
    assert len(shown) >= len(steps) - 2
    assert all(abs(samples - rate * 32) <= 0.05 * 32 + 0.5 for rate, samples in shown)
    assert all(rate <= 1 / (2 * STEP_S) for rate, _ in shown)  # no burst of steps stamped at one flush

    summary = attach_json(run_dir, capsys)
    assert summary["samples_per_s"] == pytest.approx(summary["steps_per_s"] * 32)


def test_samples_per_second_is_omitted_when_the_batch_size_is_unknown(tmp_path, capsys):
    from torch.utils.data import BatchSampler, DataLoader, RandomSampler

    from tui_trainer.integrations.lightning import TuiTrainerCallback

    train, _ = loaders()
    dataset = train.dataset
    # Batches from a batch sampler: the loader has no batch size (Lightning's loaders then say None).
    loader = DataLoader(dataset, batch_sampler=BatchSampler(RandomSampler(dataset), 16, drop_last=False))
    run_dir = tmp_path / "run"
    fit(TuiTrainerCallback(run_dir=run_dir), loader, epochs=1)
    events = read_events(run_dir)
    assert "train" not in of_type(events, RunStarted)[0].config
    assert all(s.samples_per_s is None for s in of_type(events, Step))
    lines = headless_lines(events)
    assert any("steps/s" in line for line in lines) and not any("samples/s" in line for line in lines)
    summary = attach_json(run_dir, capsys)
    assert summary["steps_per_s"] and summary["samples_per_s"] is None


def test_layer_norms_are_read_only_on_the_steps_that_report(tmp_path):
    from tui_trainer.integrations.lightning import TuiTrainerCallback

    read_at: list[int] = []

    class Counting(TuiTrainerCallback):
        def _read_layer_norms(self, trainer, pl_module, optimizer):
            read_at.append(trainer.global_step + 1)  # the step this optimizer step completes
            super()._read_layer_norms(trainer, pl_module, optimizer)

    run_dir = tmp_path / "run"
    train, _ = loaders()
    # 12 batches an epoch, 2 accumulated: 6 steps an epoch, 30 steps in 5 epochs.
    fit(Counting(run_dir=run_dir), train, epochs=5, accumulate=2)
    steps = of_type(read_events(run_dir), Step)
    reported = [*range(1, 21), 24, 28]
    assert [s.step for s in steps] == reported
    # Every one of the first 20 reports reads; later ones while readings stay within 1 % of the wall time
    # (layer_stats.ReadingSchedule, the engine's rule). No other step ever reads.
    assert read_at[:20] == list(range(1, 21)) and set(read_at) <= set(reported)
    assert read_at == [s.step for s in steps if s.layer_grad_norms]
    assert all(set(s.layer_grad_norms) == {"net.0", "net.2"} for s in steps[:20])


def test_a_second_fit_with_the_same_callback_starts_afresh(tmp_path):
    from tui_trainer.integrations.lightning import TuiTrainerCallback

    train, _ = loaders()
    callback = TuiTrainerCallback(run_dir=tmp_path / "first")
    fit(callback, train, epochs=1)  # 12 steps
    callback.run_dir = tmp_path / "second"
    fit(callback, train, epochs=1)
    steps = of_type(read_events(tmp_path / "second"), Step)
    assert [s.step for s in steps] == list(range(1, 13))
    assert all(s.layer_grad_norms for s in steps)
    # Its first report has no window behind it yet (the first fit's last report is not one).
    assert steps[0].samples_per_s is None and all(s.samples_per_s for s in steps[1:])
