"""The Lightning callback and logger on a real `lightning` Trainer fitting a tiny model on generated data."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.integrations.conftest import of_type, read_events
from tui_trainer.engine.events import (
    Checkpoint,
    Diagnostic,
    EpochEnd,
    Eval,
    Failed,
    Finished,
    RunStarted,
    Step,
)

L = pytest.importorskip("lightning")


def make_module(lr: float = 0.05, fail_at: int | None = None):
    import torch
    from torch import nn

    class Blobs(L.LightningModule):
        def __init__(self, lr: float = 0.05, hidden: int = 16):
            super().__init__()
            self.save_hyperparameters()
            self.net = nn.Sequential(nn.Linear(2, hidden), nn.ReLU(), nn.Linear(hidden, 2))
            self.losses: list[float] = []
            self.val_losses: list[float] = []

        def training_step(self, batch, batch_idx):
            if fail_at is not None and self.global_step == fail_at:
                raise RuntimeError("injected failure")
            x, y = batch
            loss = nn.functional.cross_entropy(self.net(x), y)
            self.losses.append(float(loss.detach()))
            self.log("train_loss", loss)
            return loss

        def validation_step(self, batch, batch_idx):
            x, y = batch
            logits = self.net(x)
            loss = nn.functional.cross_entropy(logits, y)
            self.log("val_loss", loss)
            self.log("val_acc", (logits.argmax(1) == y).float().mean())

        def on_validation_epoch_end(self):
            if not self.trainer.sanity_checking:
                self.val_losses.append(float(self.trainer.callback_metrics["val_loss"]))

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    return Blobs(lr=lr)


def loaders(seed: int = 0):
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (256,), generator=g)
    x = torch.randn(256, 2, generator=g) * 0.5 + y[:, None].float() * 2.0
    train = TensorDataset(x[:192], y[:192])
    val = TensorDataset(x[192:], y[192:])
    return DataLoader(train, batch_size=16, shuffle=True, generator=g), DataLoader(val, batch_size=64)


def fit(tmp_path: Path, module, callbacks, logger=False, epochs: int = 3):
    from lightning.pytorch.callbacks import ModelCheckpoint

    trainer = L.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        devices=1,
        logger=logger,
        callbacks=[
            *callbacks,
            ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True, monitor="val_loss"),
        ],
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=4,
        default_root_dir=tmp_path,
    )
    train, val = loaders()
    trainer.fit(module, train, val)
    return trainer


def test_callback_writes_the_run_value_for_value(tmp_path):
    from tui_trainer.integrations.lightning import TuiTrainerCallback

    module = make_module()
    run_dir = tmp_path / "run"
    trainer = fit(tmp_path, module, [TuiTrainerCallback(run_dir=run_dir)])
    events = read_events(run_dir)

    start = of_type(events, RunStarted)[0]
    assert start.config["hparams"]["lr"] == 0.05
    assert start.total_steps == trainer.global_step == 36
    steps = of_type(events, Step)
    # Every step of the first 20, then one per log_every_n_steps (4) with that step's own loss.
    reported = list(range(1, 21)) + [24, 28, 32, 36]
    assert [s.step for s in steps] == reported
    assert [s.loss for s in steps] == pytest.approx([module.losses[step - 1] for step in reported], rel=1e-6)
    assert all(s.lr == 0.05 for s in steps)
    assert [s.epoch for s in steps] == [(step - 1) // 12 for step in reported]
    # Gradient norms (per layer and in total) on every reported step.
    assert all(s.grad_norm is not None and s.grad_norm > 0 and math.isfinite(s.grad_norm) for s in steps)
    evals = of_type(events, Eval)
    assert [e.val_loss for e in evals] == pytest.approx(module.val_losses, rel=1e-6)
    assert [e.step for e in evals] == [12, 24, 36]
    assert all(0.0 <= e.metrics["accuracy"] <= 1.0 for e in evals)
    checkpoints = of_type(events, Checkpoint)
    # Each file ModelCheckpoint wrote is reported once (it deletes superseded best files afterwards).
    paths = [c.path for c in checkpoints]
    assert len(paths) == len(set(paths)) and {c.reason for c in checkpoints} == {"periodic", "best"}
    assert (
        str(tmp_path / "ckpt" / "last.ckpt") in paths and trainer.checkpoint_callback.best_model_path in paths
    )
    end = events[-1]
    assert isinstance(end, Finished) and end.status == "completed" and end.step == 36
    assert evals[-1].val_loss < evals[0].val_loss + 0.5  # it learns; healthy run
    assert not [d for d in of_type(events, Diagnostic) if d.severity == "error"]


def test_callback_records_per_layer_gradient_norms(tmp_path):
    from tui_trainer.integrations.lightning import TuiTrainerCallback

    run_dir = tmp_path / "run"
    fit(tmp_path, make_module(), [TuiTrainerCallback(run_dir=run_dir)], epochs=1)
    normed = [s for s in of_type(read_events(run_dir), Step) if s.layer_grad_norms]
    assert len(normed) == 12 and all(set(s.layer_grad_norms) == {"net.0", "net.2"} for s in normed)
    for s in normed:
        assert s.grad_norm == pytest.approx(
            math.sqrt(sum(v * v for v in s.layer_grad_norms.values())), rel=1e-5
        )
        assert all(v > 0 for v in s.layer_grad_norms.values())


def test_callback_reports_a_crash_as_failed(tmp_path):
    from tui_trainer.integrations.lightning import TuiTrainerCallback

    run_dir = tmp_path / "run"
    with pytest.raises(RuntimeError, match="injected failure"):
        fit(tmp_path, make_module(fail_at=7), [TuiTrainerCallback(run_dir=run_dir)])
    events = read_events(run_dir)
    assert isinstance(events[-1], Failed) and "injected failure" in events[-1].error
    assert [s.step for s in of_type(events, Step)] == list(range(1, 8))  # the first 20 steps are all reported


def test_a_diverging_run_is_caught(tmp_path):
    from tui_trainer.integrations.lightning import TuiTrainerCallback

    run_dir = tmp_path / "run"
    fit(tmp_path, make_module(lr=1e6), [TuiTrainerCallback(run_dir=run_dir)], epochs=1)
    codes = {d.code for d in of_type(read_events(run_dir), Diagnostic)}
    assert codes & {"nan_loss", "lr_too_high", "exploding_gradients"}


def test_logger_alone_maps_logged_metrics_to_steps_and_evals(tmp_path):
    from tui_trainer.integrations.lightning import TuiTrainerLogger

    module = make_module()
    run_dir = tmp_path / "run"
    fit(tmp_path, module, [], logger=TuiTrainerLogger(run_dir=run_dir))
    events = read_events(run_dir)
    steps = of_type(events, Step)
    # Lightning logs every 4th step (log_every_n_steps) at step index global_step - 1... as the logger sees it.
    assert len(steps) >= 8 and all(math.isfinite(s.loss) for s in steps)
    logged = {round(v, 6) for v in module.losses}
    assert all(round(s.loss, 6) in logged for s in steps)
    evals = of_type(events, Eval)
    assert [e.val_loss for e in evals] == pytest.approx(module.val_losses, rel=1e-6)
    assert isinstance(events[-1], Finished)


def test_logger_beside_the_callback_leaves_the_run_to_it(tmp_path):
    from tui_trainer.integrations.lightning import TuiTrainerCallback, TuiTrainerLogger

    run_dir = tmp_path / "run"
    fit(
        tmp_path,
        make_module(),
        [TuiTrainerCallback(run_dir=run_dir)],
        logger=TuiTrainerLogger(run_dir=run_dir),
        epochs=1,
    )
    events = read_events(run_dir)
    assert len(of_type(events, RunStarted)) == 1
    assert [s.step for s in of_type(events, Step)] == list(range(1, 13))  # one run, the callback's
    assert len(of_type(events, Finished)) == 1


def test_pytorch_lightning_package_gets_its_own_callback(tmp_path):
    pl = pytest.importorskip("pytorch_lightning")
    from tui_trainer.integrations.pytorch_lightning import TuiTrainerCallback

    assert isinstance(TuiTrainerCallback(), pl.Callback)


def test_each_epoch_ends_with_an_epoch_end_event(tmp_path):
    from tui_trainer.integrations.lightning import TuiTrainerCallback

    run_dir = tmp_path / "run"
    fit(tmp_path, make_module(), [TuiTrainerCallback(run_dir=run_dir)], epochs=2)
    ends = of_type(read_events(run_dir), EpochEnd)
    assert [(e.epoch, e.step) for e in ends] == [(0, 12), (1, 24)]


DDP_SCRIPT = """
import sys
import lightning as L
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from tui_trainer.integrations.lightning import TuiTrainerCallback


class Blobs(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.cross_entropy(self.net(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", nn.functional.cross_entropy(self.net(x), y), sync_dist=True)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)


if __name__ == "__main__":
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 2, (256,), generator=g)
    x = torch.randn(256, 2, generator=g) * 0.5 + y[:, None].float() * 2.0
    train = DataLoader(TensorDataset(x[:192], y[:192]), batch_size=16)
    val = DataLoader(TensorDataset(x[192:], y[192:]), batch_size=64)
    trainer = L.Trainer(
        max_epochs=2, accelerator="cpu", devices=2, strategy="ddp", logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, log_every_n_steps=2,
        callbacks=[TuiTrainerCallback(run_dir=sys.argv[1])],
    )
    trainer.fit(Blobs(), train, val)
"""


@pytest.mark.slow
def test_under_ddp_only_rank_zero_writes_and_nothing_hangs(tmp_path):
    import os
    import subprocess
    import sys

    script = tmp_path / "ddp_train.py"
    script.write_text(DDP_SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]), OMP_NUM_THREADS="1")
    result = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "run")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    events = read_events(tmp_path / "run")
    assert (
        len(of_type(events, RunStarted)) == 1
        and of_type(events, RunStarted)[0].config["trainer"]["world_size"] == 2
    )
    assert [s.step for s in of_type(events, Step)] == list(range(1, 13))  # 192 rows / 16 / 2 ranks, 2 epochs
    assert [e.step for e in of_type(events, Eval)] == [6, 12]
    assert isinstance(events[-1], Finished) and len(of_type(events, Finished)) == 1


def test_a_nan_between_reported_steps_is_reported():
    import torch

    from tui_trainer.integrations.lightning import _reported_loss

    assert float(_reported_loss([torch.tensor(1.0), torch.tensor(2.0), torch.tensor(3.0)])) == 3.0
    assert math.isnan(
        float(_reported_loss([torch.tensor(1.0), torch.tensor(float("nan")), torch.tensor(3.0)]))
    )
    assert math.isnan(_reported_loss([1.0, float("inf"), 3.0]))
