"""The training loop in-process on tiny data: events, checkpoints, exact resume, controls, failures, notes."""

from __future__ import annotations

import collections
import json
import math

import pytest

from tests.conftest import SAMPLE_DATA
from tests.engine.conftest import write_config
from tui_trainer.engine.checkpoint import list_checkpoints
from tui_trainer.engine.config import load_config
from tui_trainer.engine.control import Pause, Resume, SaveCheckpoint, Stop
from tui_trainer.engine.follow import EventFollower
from tui_trainer.engine.loop import run_training
from tui_trainer.errors import UserError


def train(cfg_path, run_dir, overrides=(), **kw):
    events = []
    result = run_training(load_config(cfg_path, list(overrides)), run_dir, emit=events.append, **kw)
    return result, events


def of(events, kind):
    return [e for e in events if e.type == kind]


def test_run_writes_events_checkpoints_and_falling_loss(table_config, tmp_path):
    run_dir = tmp_path / "run"
    result, events = train(table_config, run_dir)
    assert result.status == "completed" and result.exit_code == 0
    kinds = {e.type for e in events}
    assert {"run_started", "step", "eval", "epoch_end", "checkpoint", "finished"} <= kinds
    steps = of(events, "step")
    assert [s.step for s in steps] == list(range(1, result.step + 1))  # log_every = 1
    assert all(math.isfinite(s.loss) and s.lr and s.grad_norm is not None for s in steps)
    assert steps[-1].loss < steps[0].loss
    assert of(events, "eval")[-1].metrics["accuracy"] >= 0.6  # chance is 1/3
    assert list_checkpoints(run_dir)
    # The file holds the same events as the stream, in order.
    on_disk = EventFollower(run_dir).read_all()
    assert [e.type for e in on_disk] == [e.type for e in events]
    started = of(events, "run_started")[0]
    assert started.model_summary["params"] > 0 and started.model_summary["task"] == "classification"
    encoding = json.loads((run_dir / "encoding.json").read_text())
    assert encoding["classes"] == ["c0", "c1", "c2"]
    assert [f["type"] for f in encoding["features"]] == ["number", "number", "one_hot"]
    assert (run_dir / "config.toml").is_file()


class _Killed(BaseException):
    """Stands in for SIGKILL in-process: nothing after it runs, no `finished` is written."""


def test_resume_continues_steps_and_matches_uninterrupted_run(table_config, tmp_path):
    full, full_events = train(table_config, tmp_path / "full")
    losses_full = {s.step: s.loss for s in of(full_events, "step")}

    run_dir = tmp_path / "cut"

    def killer(event):
        if event.type == "step" and event.step == 13:
            raise _Killed

    with pytest.raises(_Killed):
        run_training(load_config(table_config), run_dir, emit=killer)
    assert [s for s, _ in list_checkpoints(run_dir)] == [5, 10]  # checkpoint_every = 5

    resumed, events = train(table_config, run_dir, resume=True)
    assert of(events, "run_started")[0].resumed_from_step == 10
    steps = of(events, "step")
    assert steps[0].step == 11 and steps[-1].step == full.step
    for s in steps:
        assert s.loss == pytest.approx(losses_full[s.step], rel=1e-5, abs=1e-7), s.step
    assert resumed.status == "completed"
    # Diagnostics continue from the run's history: the same findings after step 10 as the uninterrupted run.
    after_cut = [(d.code, d.step) for d in of(full_events, "diagnostic") if d.step > 10]
    assert [(d.code, d.step) for d in of(events, "diagnostic")] == after_cut


def test_resume_skips_a_corrupt_checkpoint_and_says_so(table_config, tmp_path):
    run_dir = tmp_path / "run"
    train(table_config, run_dir, ["train.epochs=1"])
    ckpts = list_checkpoints(run_dir)
    newest = ckpts[-1][1]
    newest.write_bytes(newest.read_bytes()[:100])
    _, events = train(table_config, run_dir, ["train.epochs=2"], resume=True)
    started = of(events, "run_started")[0]
    assert started.resumed_from_step == ckpts[-2][0]
    diag = [d for d in of(events, "diagnostic") if d.code == "corrupt_checkpoint"]
    assert diag and newest.name in diag[0].message


def test_stop_command_checkpoints_and_finishes_stopped(table_config, tmp_path):
    commands = collections.deque([Stop()])
    result, events = train(table_config, tmp_path / "run", commands=commands)
    assert result.status == "stopped" and result.exit_code == 0
    assert of(events, "checkpoint")[-1].reason == "stopped"
    assert of(events, "finished")[0].status == "stopped"
    assert result.step == 1


def test_pause_save_resume_commands(table_config, tmp_path):
    import threading
    import time

    commands = collections.deque([Pause()])

    def later():
        time.sleep(0.3)
        commands.append(SaveCheckpoint())
        time.sleep(0.2)
        commands.append(Resume())

    threading.Thread(target=later, daemon=True).start()
    result, events = train(table_config, tmp_path / "run", ["train.epochs=1"], commands=commands)
    assert [(e.type, e.step) for e in events if e.type in ("paused", "resumed")] == [
        ("paused", 1),
        ("resumed", 1),
    ]
    kinds = [e.type for e in events]
    assert kinds.index("paused") < kinds.index("checkpoint") < kinds.index("resumed")  # saved while paused
    assert any(c.reason == "manual" and c.step == 1 for c in of(events, "checkpoint"))
    assert result.status == "completed"


def test_absurd_learning_rate_yields_divergence_diagnostic(table_config, tmp_path):
    result, events = train(
        table_config, tmp_path / "run", ["optim.lr=1e6", "optim.name=sgd", "train.grad_clip=0"]
    )
    codes = {d.code for d in of(events, "diagnostic")}
    assert codes & {"lr_too_high", "nan_loss"}, codes
    if "nan_loss" in codes:
        assert result.status == "failed" and result.code == "nan_loss" and result.exit_code == 1
        assert "step" in of(events, "failed")[0].error and "batch" in of(events, "failed")[0].error


def test_nan_stops_with_step_and_batch(tmp_path):
    mod = tmp_path / "nanmodel_a.py"
    mod.write_text(
        "import torch, torch.nn as nn\n"
        "class M(nn.Module):\n"
        "    def __init__(self, input_shape, num_classes):\n"
        "        super().__init__(); self.lin = nn.Linear(input_shape[0], num_classes); self.calls = 0\n"
        "    def forward(self, x):\n"
        "        self.calls += 1\n"
        "        out = self.lin(x)\n"
        "        return out * float('nan') if self.training and self.calls == 5 else out\n"
        "def build(input_shape, num_classes):\n"
        "    return M(input_shape, num_classes)\n"
    )
    cfg = write_config(tmp_path)
    cfg.write_text(cfg.read_text().replace('name = "mlp"', 'factory = "nanmodel_a:build"'))
    result, events = train(cfg, tmp_path / "run")
    # Call 1 is preflight, so the 4th training step sees NaN.
    assert result.status == "failed" and result.code == "nan_loss"
    failed = of(events, "failed")[0]
    assert "at step 4 (epoch 0, batch 3)" in failed.error
    assert [d.code for d in of(events, "diagnostic") if d.code != "leakage"][0] == "nan_loss"
    assert not of(events, "finished")


def test_preflight_shape_mismatch_fails_with_layer_and_shapes(tmp_path):
    (tmp_path / "shapes_b.py").write_text(
        "import torch.nn as nn\n"
        "def build(input_shape, num_classes, width=8):\n"
        "    return nn.Sequential(nn.Linear(input_shape[0], width), nn.ReLU(), nn.Linear(width + 3, num_classes))\n"
    )
    cfg = write_config(tmp_path)
    cfg.write_text(
        cfg.read_text().replace('name = "mlp"', 'factory = "shapes_b:build"\nkwargs = { width = 6 }')
    )
    result, events = train(cfg, tmp_path / "run")
    assert result.status == "failed" and result.code == "shape_mismatch" and result.exit_code == 1
    diag = [d for d in of(events, "diagnostic") if d.code == "shape_mismatch"][0]
    assert diag.code == "shape_mismatch" and diag.severity == "error"
    assert "layer `2`" in diag.message and "(16, 6)" in diag.message and "(3, 9)" in diag.message
    # Where the layer is defined (the factory's line) and where the data's 5 inputs come from.
    assert "defined at shapes_b.py:3 `return nn.Sequential(" in diag.message
    assert "5 inputs: 2 numeric + colour (3)" in diag.message and diag.evidence["defined_at"].startswith(
        "shapes_b.py:3"
    )
    assert of(events, "failed")[0].error.startswith("preflight:")


def test_bad_label_column_is_a_user_error_and_a_failed_event(table_config, tmp_path):
    events = []
    with pytest.raises(UserError, match="data.label.*'nope'"):
        run_training(load_config(table_config, ["data.label=nope"]), tmp_path / "run", emit=events.append)
    assert of(events, "failed")[0].code == "user_error"


def test_early_stopping_ends_early(table_config, tmp_path):
    result, events = train(
        table_config,
        tmp_path / "run",
        ["train.epochs=20", "train.early_stopping_patience=2", "train.early_stopping_min_delta=100.0"],
    )
    assert result.status == "early_stopped"
    assert len(of(events, "eval")) == 3
    assert of(events, "finished")[0].status == "early_stopped"


def test_regression_task_reports_mae(tmp_path):
    cfg = write_config(tmp_path)
    result, events = train(cfg, tmp_path / "run", ["data.label=x1", "train.epochs=2"])
    assert result.status == "completed"
    assert of(events, "run_started")[0].model_summary["task"] == "regression"
    assert "mae" in of(events, "eval")[0].metrics


def test_absent_device_and_fp16_on_cpu_fall_back_with_notes(table_config, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA; the fallback path is for CPU-only machines")
    result, events = train(
        table_config, tmp_path / "run", ["train.device=cuda", "train.precision=fp16", "train.epochs=1"]
    )
    notes = " ".join(e.message for e in of(events, "log"))
    assert "no CUDA device" in notes and "fp16" in notes and "fp32 instead" in notes
    assert of(events, "run_started")[0].device == "cpu"
    assert result.status == "completed"


def test_bf16_autocast_on_cpu_trains(table_config, tmp_path):
    result, events = train(table_config, tmp_path / "run", ["train.precision=bf16", "train.epochs=1"])
    assert result.status == "completed"
    assert all(math.isfinite(s.loss) for s in of(events, "step"))


@pytest.mark.parametrize(
    "overrides",
    [
        ["optim.schedule=step", "optim.step_size=1"],
        ["optim.schedule=cosine"],
        # A learning rate too small to improve the val loss makes ReduceLROnPlateau decay it.
        ["optim.schedule=plateau", "optim.plateau_patience=0", "optim.name=sgd", "optim.lr=1e-6"],
    ],
    ids=["step", "cosine", "plateau"],
)
def test_lr_schedules_change_the_lr(table_config, tmp_path, overrides):
    result, events = train(table_config, tmp_path / "run", [*overrides, "optim.gamma=0.5", "train.epochs=3"])
    lrs = [s.lr for s in of(events, "step")]
    assert lrs[-1] < lrs[0]


def test_images_with_augment_pipeline(tmp_path):
    cfg = load_config(
        SAMPLE_DATA / "configs" / "images.toml",
        [
            "data.max_rows=80",
            "train.epochs=1",
            "train.batch_size=16",
            "telemetry.enabled=false",
            "train.log_every=1",
        ],
    )
    events = []
    result = run_training(cfg, tmp_path / "run", emit=events.append)
    assert result.status == "completed"
    started = of(events, "run_started")[0]
    assert started.model_summary["input_shape"] == [1, 8, 8] and started.model_summary["num_classes"] == 10
    assert of(events, "step")


def test_max_rows_samples_rows_across_the_file(tmp_path):
    """A file sorted by class must not give a one-class subset."""
    lines = ["x,label"] + [f"{i},{'a' if i < 100 else 'b'}" for i in range(200)]
    (tmp_path / "sorted.csv").write_text("\n".join(lines) + "\n")
    cfg = write_config(tmp_path, data="sorted.csv")
    result, events = train(cfg, tmp_path / "run", ["data.max_rows=20", "train.epochs=1"])
    assert of(events, "run_started")[0].model_summary["num_classes"] == 2


def test_data_recipe_is_applied_before_training(tmp_path):
    from tui_trainer.data.recipe import Recipe, save_recipe

    save_recipe(Recipe(drop_columns=["colour"]), tmp_path / "fix.toml")
    cfg = write_config(tmp_path)
    result, events = train(cfg, tmp_path / "run", [f"data.recipe={tmp_path / 'fix.toml'}", "train.epochs=1"])
    assert result.status == "completed"
    encoding = json.loads((tmp_path / "run" / "encoding.json").read_text())
    assert [f["name"] for f in encoding["features"]] == ["x1", "x2"]
    assert of(events, "run_started")[0].model_summary["input_shape"] == [2]


@pytest.mark.parametrize(
    ("raise_expr", "code", "text"),
    [
        (
            "torch.cuda.OutOfMemoryError('CUDA out of memory. Tried to allocate 2.00 GiB')",
            "out_of_memory",
            "out of memory",
        ),
        ("ValueError('boom in forward')", "crash", "ValueError: boom in forward"),
    ],
    ids=["oom", "crash"],
)
def test_errors_mid_run_become_failed_events(tmp_path, raise_expr, code, text):
    name = f"raiser_{code}"
    (tmp_path / f"{name}.py").write_text(
        "import torch, torch.nn as nn\n"
        "class M(nn.Module):\n"
        "    def __init__(self, n, k):\n"
        "        super().__init__(); self.lin = nn.Linear(n, k); self.calls = 0\n"
        "    def forward(self, x):\n"
        "        self.calls += 1\n"
        "        if self.calls == 3:\n"
        f"            raise {raise_expr}\n"
        "        return self.lin(x)\n"
        "def build(input_shape, num_classes):\n"
        "    return M(input_shape[0], num_classes)\n"
    )
    cfg = write_config(tmp_path)
    cfg.write_text(cfg.read_text().replace('name = "mlp"', f'factory = "{name}:build"'))
    result, events = train(cfg, tmp_path / "run")
    assert result.status == "failed" and result.code == code and result.exit_code == 1
    failed = of(events, "failed")[0]
    assert text in failed.error and failed.step == 1
    if code == "crash":
        assert "Traceback" in failed.traceback and "boom in forward" in failed.traceback
    else:
        assert "batch_size" in [d for d in of(events, "diagnostic") if d.code == "out_of_memory"][0].fix
    assert EventFollower(tmp_path / "run").read_all()[-1].type == "failed"


def test_single_process_order_is_distributed_samplers(table_config, tmp_path):
    """The fast single-process epoch order must equal DistributedSampler's, so resume and DDP agree."""
    import torch
    from torch.utils.data import DistributedSampler

    from tui_trainer.engine.batches import BatchFeed
    from tui_trainer.engine.distributed import DistContext

    feed = BatchFeed(
        torch.zeros(37, 2),
        torch.zeros(37),
        batch_size=8,
        batches_per_epoch=5,
        seed=3,
        device=torch.device("cpu"),
        dist=DistContext(),
    )
    for epoch in (0, 1, 5):
        sampler = DistributedSampler(range(37), num_replicas=1, rank=0, shuffle=True, seed=3)
        sampler.set_epoch(epoch)
        assert feed.order(epoch).tolist() == list(sampler)


@pytest.mark.parametrize("seed", [0, 1])
def test_real_overfitting_run_is_diagnosed(tmp_path, seed):
    """40 % of the labels are noise and a wide MLP memorises them: the val loss climbs while the train loss falls."""
    import random

    from tests.engine.conftest import write_table

    write_table(tmp_path / "data.csv", rows=160, seed=seed)
    rng = random.Random(seed)
    lines = (tmp_path / "data.csv").read_text().splitlines()
    noisy = [lines[0]]
    for row in lines[1:]:
        values = row.split(",")
        if rng.random() < 0.4:
            values[-1] = f"c{rng.randrange(3)}"
        noisy.append(",".join(values))
    (tmp_path / "data.csv").write_text("\n".join(noisy) + "\n")
    overrides = [
        "model.hidden=[128, 128]",
        "optim.lr=0.01",
        "train.batch_size=8",
        "train.epochs=30",
        "data.val_fraction=0.5",
        "train.checkpoint_every=0",
        "train.log_every=0",
        f"train.seed={seed}",
    ]
    result, events = train(write_config(tmp_path), tmp_path / "run", overrides)
    assert result.status == "completed"
    overfit = [d for d in of(events, "diagnostic") if d.code == "overfitting"]
    assert overfit, [d.code for d in of(events, "diagnostic")]
    vals = [e.val_loss for e in of(events, "eval")]
    assert overfit[0].step < of(events, "eval")[-1].step and vals[-1] > min(vals) * 1.2


def test_stop_is_read_between_sparse_step_events(table_config, tmp_path):
    """With train.log_every far beyond the run, a stop still lands within a step or two of arriving."""
    import threading
    import time

    commands = collections.deque()
    threading.Timer(0.5, lambda: commands.append(Stop())).start()
    t0 = time.monotonic()
    result, events = train(
        table_config,
        tmp_path / "run",
        ["train.log_every=1000000", "train.epochs=100000", "train.checkpoint_every=0"],
        commands=commands,
    )
    assert result.status == "stopped" and time.monotonic() - t0 < 30
    assert of(events, "step")[-1].step == result.step  # the window up to the stop was reported


def test_resume_from_run_folder_finds_the_factory_beside_the_original_config(tmp_path):
    (tmp_path / "factory_resume_c.py").write_text(
        "import torch.nn as nn\n"
        "def build(input_shape, num_classes):\n"
        "    return nn.Sequential(nn.Linear(input_shape[0], num_classes))\n"
    )
    cfg = write_config(tmp_path)
    cfg.write_text(cfg.read_text().replace('name = "mlp"', 'factory = "factory_resume_c:build"'))
    run_dir = tmp_path / "runs" / "r"
    train(cfg, run_dir, ["train.epochs=1"])
    import sys

    sys.modules.pop("factory_resume_c", None)
    sys.path[:] = [p for p in sys.path if p != str(tmp_path)]
    result, events = train(run_dir / "config.toml", run_dir, ["train.epochs=2"], resume=True)
    assert result.status == "completed" and of(events, "run_started")[0].resumed_from_step is not None


def test_every_eval_follows_a_step_event_even_when_logging_is_sparse(table_config, tmp_path):
    result, events = train(table_config, tmp_path / "run", ["train.log_every=1000", "train.epochs=4"])
    kinds = [e.type for e in events if e.type in ("step", "eval")]
    assert kinds == ["step", "eval"] * 4
    steps = of(events, "step")
    epoch_ends = of(events, "epoch_end")
    assert [s.step for s in steps] == [e.step for e in epoch_ends]
    # One step event per epoch covers exactly that epoch, so its mean loss is the epoch's mean.
    for step, end in zip(steps, epoch_ends, strict=True):
        assert step.loss == pytest.approx(end.train_loss, rel=1e-6)


def test_resumed_diagnostics_judge_against_the_whole_run(tmp_path):
    """After a resume, a loss that is noisy but far below the run's start is not 'diverging'."""
    from tui_trainer.engine.diagnostics import Diagnostics
    from tui_trainer.engine.eventlog import EventLog
    from tui_trainer.engine.events import RunStarted, Step
    from tui_trainer.engine.loop import replay_history

    with EventLog(tmp_path) as log:
        log.write(RunStarted(run_id="r", run_dir=str(tmp_path)))
        for i in range(1, 121):  # healthy decline from 2.0 towards 0.01; steps 101-120 die with the kill
            log.write(Step(step=i, epoch=0, loss=2.0 * 0.95**i + 0.01))
        log.write(RunStarted(run_id="r", run_dir=str(tmp_path), resumed_from_step=100))
    after = [Step(step=100 + i, epoch=0, loss=v) for i, v in enumerate([0.01, 0.05, 0.2, 0.4, 0.6, 0.8], 1)]

    fresh = Diagnostics()
    assert "lr_too_high" in [d.code for d in fresh.feed_all(after)]  # what a resume without history would say

    resumed = Diagnostics()
    replay_history(resumed, tmp_path, upto_step=100)
    assert resumed.initial_loss == pytest.approx(2.0 * 0.95 + 0.01)
    assert resumed.feed_all(after) == []


def test_val_file_is_the_validation_set(tmp_path):
    from tests.engine.conftest import write_table

    write_table(tmp_path / "val.csv", rows=30, seed=7)
    cfg = write_config(tmp_path)
    result, events = train(cfg, tmp_path / "run", ["train.epochs=1", f"data.val_file={tmp_path / 'val.csv'}"])
    summary = of(events, "run_started")[0].model_summary
    assert summary["train_samples"] == 120 and summary["val_samples"] == 30  # all of data.csv trains
    assert of(events, "eval")


def test_val_file_with_an_unknown_class_is_a_user_error(tmp_path):
    (tmp_path / "val.csv").write_text("x1,x2,colour,label\n1.0,2.0,red,c9\n")
    cfg = write_config(tmp_path)
    with pytest.raises(UserError, match="c9"):
        train(cfg, tmp_path / "run", [f"data.val_file={tmp_path / 'val.csv'}"])


def test_images_resize_and_val_folder(tmp_path):
    import shutil

    val = tmp_path / "val"
    for digit in ("3", "7"):
        (val / digit).mkdir(parents=True)
        for src in sorted((SAMPLE_DATA / "digits" / digit).glob("*.png"))[:3]:
            shutil.copy(src, val / digit / src.name)
    cfg = load_config(
        SAMPLE_DATA / "configs" / "images.toml",
        [
            "data.max_rows=40",
            "data.image_size=[6, 6]",
            f"data.val_file={val}",
            "train.epochs=1",
            "telemetry.enabled=false",
            "augment.pipeline=",
        ],
    )
    events = []
    result = run_training(cfg, tmp_path / "run", emit=events.append)
    summary = of(events, "run_started")[0].model_summary
    assert result.status == "completed"
    assert (
        summary["input_shape"] == [1, 6, 6] and summary["val_samples"] == 6 and summary["train_samples"] == 40
    )


def test_label_among_features_is_refused(table_config, tmp_path):
    with pytest.raises(UserError, match="data.features lists the label"):
        train(table_config, tmp_path / "run", ['data.features=["x1", "label"]'])
