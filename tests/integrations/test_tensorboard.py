"""TensorBoard and CSVLogger logs as runs: real event files written by torch's SummaryWriter, read back exactly."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.integrations.conftest import of_type, read_events
from tui_trainer.engine.events import Diagnostic, Eval, Finished, RunStarted, Step

pytest.importorskip("tensorboard")
REPO = Path(__file__).resolve().parents[2]


def f32(x: float) -> float:
    return float(np.float32(x))


def write_log(
    folder: Path, steps: range, eval_every: int = 25, style: str = "slash"
) -> list[tuple[int, float]]:
    """A training loop's TensorBoard log, as torch.utils.tensorboard writes it; returns (step, loss) written."""
    from torch.utils.tensorboard import SummaryWriter

    tags = {
        "slash": ("train/loss", "train/learning_rate", "eval/loss", "eval/accuracy"),
        "tutorial": ("Loss/train", "lr", "Loss/test", "Accuracy/test"),
        "lightning": ("train_loss", "lr-Adam", "val_loss", "val_acc"),
    }[style]
    written = []
    with SummaryWriter(str(folder)) as writer:
        for i in steps:
            loss = 2.0 * math.exp(-i / 80) + 0.01 * math.sin(i)
            writer.add_scalar(tags[0], loss, i)
            writer.add_scalar(tags[1], 0.001 * (1 - i / 1000), i)
            written.append((i, loss))
            if i % eval_every == 0:
                writer.add_scalar(tags[2], loss + 0.1, i)
                writer.add_scalar(tags[3], min(1.0, i / 200), i)
                writer.add_histogram("weights", np.arange(10.0), i)  # not a scalar: skipped
    return written


def age(folder: Path, seconds: float = 600) -> None:
    old = time.time() - seconds
    for f in folder.rglob("events.out.tfevents.*"):
        os.utime(f, (old, old))


@pytest.mark.parametrize("style", ["slash", "tutorial", "lightning"])
def test_a_tensorboard_log_reads_back_value_for_value(tmp_path, style):
    from tui_trainer.integrations.logdirs import log_run_info, mirror_dir

    log = tmp_path / "tb" / "exp"
    written = write_log(log, range(1, 201), style=style)
    age(log)
    info = log_run_info(log)
    events = read_events(mirror_dir(log))
    steps = of_type(events, Step)
    assert [(s.step, s.loss) for s in steps] == [(i, f32(v)) for i, v in written]
    assert [s.lr for s in steps] == [f32(0.001 * (1 - i / 1000)) for i, _ in written]
    evals = of_type(events, Eval)
    assert [(e.step, e.val_loss) for e in evals] == [(i, f32(v + 0.1)) for i, v in written if i % 25 == 0]
    assert [e.metrics["accuracy"] for e in evals] == [f32(min(1.0, i / 200)) for i in range(25, 201, 25)]
    assert info.status == "finished" and info.last_step == 200 and info.run_id == "exp"
    assert info.last_loss == f32(written[-1][1])


def test_a_growing_file_is_read_from_where_it_stopped(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    from tui_trainer.integrations.tensorboard import EventFileReader

    writer = SummaryWriter(str(tmp_path))
    for i in range(100):
        writer.add_scalar("loss", float(i), i)
    writer.flush()
    path = next(tmp_path.glob("events.out.tfevents.*"))
    reader = EventFileReader(path)
    assert [s.value for s in reader.read()] == [float(i) for i in range(100)]
    size = path.stat().st_size
    assert reader.offset == size and reader.read() == []
    for i in range(100, 150):
        writer.add_scalar("loss", float(i), i)
    writer.close()
    # The second read starts at the old end: only the new records are decoded.
    new = reader.read()
    assert [s.step for s in new] == list(range(100, 150)) and reader.records == 1 + 150 + 0 * size

    # A record the writer has not finished is kept for the next read.
    data = path.read_bytes()
    partial = tmp_path / "cut" / path.name
    partial.parent.mkdir()
    partial.write_bytes(data[: size + 20])
    cut = EventFileReader(partial)
    got = [s.step for s in cut.read()]
    assert got == list(range(100))
    with open(partial, "ab") as fh:
        fh.write(data[size + 20 :])
    assert [s.step for s in cut.read()] == list(range(100, 150))


def test_the_mirror_continues_across_processes_without_repeating(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    from tui_trainer.integrations.logdirs import mirror, mirror_dir

    writer = SummaryWriter(str(tmp_path / "run"))
    for i in range(1, 51):
        writer.add_scalar("train/loss", 1.0 / i, i)
    writer.flush()
    mirror(tmp_path / "run")
    for i in range(51, 81):
        writer.add_scalar("train/loss", 1.0 / i, i)
    writer.close()
    mirror(tmp_path / "run")  # a second process would do the same: it starts from the saved offsets
    steps = of_type(read_events(mirror_dir(tmp_path / "run")), Step)
    assert [s.step for s in steps] == list(range(1, 81))
    assert [s.loss for s in steps] == [f32(1.0 / i) for i in range(1, 81)]


def test_tags_map_to_fields_and_map_overrides():
    from tui_trainer.errors import UserError
    from tui_trainer.integrations.logdirs import TagMap, parse_map

    tags = TagMap()
    expect = {
        "loss": ("step", "loss"),
        "train/loss": ("step", "loss"),
        "train_loss_step": ("step", "loss"),
        "Loss/train": ("step", "loss"),
        "val_loss": ("eval", "val_loss"),
        "eval/loss": ("eval", "val_loss"),
        "validation/loss": ("eval", "val_loss"),
        "Loss/test": ("eval", "val_loss"),
        "lr-Adam": ("step", "lr"),
        "lr-SGD/pg1": ("step", "lr"),
        "learning_rate": ("step", "lr"),
        "train/learning_rate": ("step", "lr"),
        "train/grad_norm": ("step", "grad_norm"),
        "epoch": ("epoch", "epoch"),
        "train/epoch": ("epoch", "epoch"),
        "val_acc": ("eval", "accuracy"),
        "eval/f1": ("eval", "f1"),
        "perplexity": ("step", "perplexity"),
    }
    assert {tag: tags.classify(tag) for tag in expect} == expect
    custom = TagMap(parse_map(["nll=loss", "holdout/nll=val_loss", "noise=ignore", "bleu=val/bleu"]))
    assert custom.classify("nll") == ("step", "loss")
    assert custom.classify("holdout/nll") == ("eval", "val_loss")
    assert custom.classify("noise") == ("ignore", "noise")
    assert custom.classify("bleu") == ("eval", "bleu")
    with pytest.raises(UserError, match="expected TAG=FIELD"):
        parse_map(["loss"])
    with pytest.raises(UserError, match="unknown field 'los'"):
        parse_map(["x=los"])


def test_diagnostics_run_on_a_log_post_hoc(tmp_path):
    """A real loop with a far too high learning rate, logged only to TensorBoard: the mirror raises nan_loss."""
    import torch
    from torch import nn
    from torch.utils.tensorboard import SummaryWriter

    from tui_trainer.integrations.logdirs import log_run_info, mirror_dir

    torch.manual_seed(0)
    x = torch.randn(256, 4)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.1 * torch.randn(256)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1))
    opt = torch.optim.SGD(model.parameters(), lr=5.0)
    with SummaryWriter(str(tmp_path / "bad")) as writer:
        for step in range(1, 61):
            idx = torch.randint(0, 256, (32,))
            loss = nn.functional.mse_loss(model(x[idx]).squeeze(1), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            writer.add_scalar("train/loss", loss.item(), step)
    age(tmp_path / "bad")
    log_run_info(tmp_path / "bad")
    codes = {d.code for d in of_type(read_events(mirror_dir(tmp_path / "bad")), Diagnostic)}
    assert "nan_loss" in codes or "lr_too_high" in codes


def test_lightning_csvlogger_metrics_are_a_run(tmp_path):
    L = pytest.importorskip("lightning")
    from lightning.pytorch.loggers import CSVLogger

    from tests.integrations.test_lightning import loaders, make_module
    from tui_trainer.integrations.logdirs import find_log_runs, log_run_info, mirror_dir

    module = make_module()
    trainer = L.Trainer(
        max_epochs=2,
        accelerator="cpu",
        logger=CSVLogger(str(tmp_path / "logs")),
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        log_every_n_steps=3,
    )
    train, val = loaders()
    trainer.fit(module, train, val)
    [folder] = find_log_runs(tmp_path / "logs")
    assert folder.name == "version_0"
    log_run_info(folder)
    events = read_events(mirror_dir(folder))
    rows = [line.split(",") for line in (folder / "metrics.csv").read_text().splitlines()]
    header = rows[0]
    logged = [
        (int(r[header.index("step")]), float(r[header.index("train_loss")]))
        for r in rows[1:]
        if r[header.index("train_loss")]
    ]
    assert [(s.step, s.loss) for s in of_type(events, Step)] == logged
    evals = of_type(events, Eval)
    assert [e.val_loss for e in evals] == pytest.approx(module.val_losses)


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "tui_trainer", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_attach_and_runs_open_a_folder_of_tensorboard_runs(tmp_path):
    for name, n in (("a", 120), ("b", 80)):
        write_log(tmp_path / "logs" / name, range(1, n + 1))
    age(tmp_path / "logs" / "a")
    result = cli("attach", "--summary", "--json", "logs", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summaries = {s["run_id"]: s for s in json.loads(result.stdout)}
    assert summaries["a"]["step"] == 120 and summaries["b"]["step"] == 80
    assert summaries["a"]["status"] == "completed"
    assert summaries["b"]["status"] == "running"  # written seconds ago: the log may still grow
    assert summaries["a"]["train_loss"] == f32(2.0 * math.exp(-120 / 80) + 0.01 * math.sin(120))

    listed = cli("runs", "logs", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    runs = {r["run_id"]: r for r in json.loads(listed.stdout)}
    assert set(runs) == {"a", "b"} and runs["a"]["status"] == "finished" and runs["a"]["last_step"] == 120

    bad = cli("attach", "--summary", "--map", "nonsense", "logs", cwd=tmp_path)
    assert bad.returncode == 2 and "--map 'nonsense'" in bad.stderr


def test_drop_in_summary_writer_writes_the_run_and_tensorboard_files(tmp_path):
    from tui_trainer.integrations.tensorboard import EventFileReader, SummaryWriter

    with SummaryWriter(tmp_path / "run", tensorboard=True) as writer:
        writer.add_hparams({"lr": 0.1, "layers": 2}, {"hparam/score": 0.5})
        for i in range(1, 31):
            writer.add_scalar("train/loss", 1.0 / i, i)
            writer.add_scalars("lr", {"group0": 0.1}, i)
            if i % 10 == 0:
                writer.add_scalar("val/loss", 2.0 / i, i)
            writer.add_histogram("w", np.arange(3.0), i)  # forwarded to TensorBoard, not an event of ours
    events = read_events(tmp_path / "run")
    assert isinstance(events[0], RunStarted)
    steps = of_type(events, Step)
    assert [(s.step, s.loss) for s in steps] == [(i, 1.0 / i) for i in range(1, 31)]
    assert all(s.lr == 0.1 for s in steps)
    assert [(e.step, e.val_loss) for e in of_type(events, Eval)] == [(10, 0.2), (20, 0.1), (30, 2.0 / 30)]
    assert isinstance(events[-1], Finished)
    tb_files = list((tmp_path / "run").glob("events.out.tfevents.*"))
    assert tb_files
    tags = {s.tag for f in tb_files for s in EventFileReader(f).read()}
    assert {"train/loss", "lr/group0", "val/loss"} <= tags


def test_a_listing_reads_within_its_budget_and_says_what_is_left(tmp_path):
    from tui_trainer.integrations.logdirs import list_log_runs

    write_log(tmp_path / "logs" / "old", range(1, 301))
    age(tmp_path / "logs" / "old")
    [info] = list_log_runs(tmp_path / "logs", budget=0)  # nothing may be read this time
    assert info.run_id == "old" and info.status == "finished" and "not read yet" in info.detail
    [info] = list_log_runs(tmp_path / "logs")  # the next listing reads it
    assert info.status == "finished" and info.last_step == 300 and info.detail == "completed"
