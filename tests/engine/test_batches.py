"""The DataLoader feed: workers change nothing but where batches are made; class weights and the balanced sampler
act on real imbalanced runs; settings that cannot apply are errors naming the key."""

from __future__ import annotations

import random

import pytest
import torch

from tests.conftest import SAMPLE_DATA
from tests.engine.conftest import write_config
from tui_trainer.engine.batches import BatchFeed, class_weights, sample_weights
from tui_trainer.engine.config import load_config
from tui_trainer.engine.distributed import DistContext
from tui_trainer.engine.loop import run_training
from tui_trainer.errors import UserError


def of(events, kind):
    return [e for e in events if e.type == kind]


def train(cfg, run_dir, overrides=()):
    events = []
    result = run_training(load_config(cfg, list(overrides)), run_dir, emit=events.append)
    return result, events


def test_workers_give_the_same_augmented_batches_as_the_main_process(tmp_path):
    """Digits with the sample augmentation: two worker processes train exactly the same steps as none."""
    losses = {}
    for workers in (0, 2):
        cfg = load_config(
            SAMPLE_DATA / "configs" / "images.toml",
            [
                "data.max_rows=160",
                "train.epochs=2",
                "train.batch_size=16",
                "train.log_every=1",
                "telemetry.enabled=false",
                f"data.num_workers={workers}",
            ],
        )
        events = []
        result = run_training(cfg, tmp_path / f"w{workers}", emit=events.append)
        assert result.status == "completed"
        steps = of(events, "step")
        assert all(s.data_wait_s is not None and s.data_wait_s >= 0 and s.compute_s > 0 for s in steps)
        losses[workers] = [s.loss for s in steps]
    assert len(losses[0]) == 2 * 8
    assert losses[2] == pytest.approx(losses[0], rel=1e-6)


def write_imbalanced(path, rows=600, minority=0.1, seed=0):
    """Two overlapping classes, `minority` of rows in class b: an unweighted linear model mostly says a."""
    rng = random.Random(seed)
    lines = ["x1,x2,label"]
    for _ in range(rows):
        b = rng.random() < minority
        shift = 1.0 if b else 0.0
        lines.append(f"{rng.gauss(shift, 1.0):.4f},{rng.gauss(shift, 1.0):.4f},{'b' if b else 'a'}")
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("setting", ['train.class_weights="balanced"', 'data.sampler="balanced"'])
def test_balancing_makes_a_linear_model_predict_the_minority_class(tmp_path, setting):
    write_imbalanced(tmp_path / "imb.csv")
    cfg = write_config(tmp_path, data="imb.csv")
    base = ["model.hidden=[]", "train.epochs=8", "train.log_every=0", "train.checkpoint_every=0"]
    _, plain = train(cfg, tmp_path / "plain", base)
    result, balanced = train(cfg, tmp_path / "balanced", [*base, setting])
    assert result.status == "completed"
    plain_eval, balanced_eval = of(plain, "eval")[-1], of(balanced, "eval")[-1]
    assert sum(balanced_eval.pred_counts) == sum(balanced_eval.label_counts) == 150
    minority = balanced_eval.label_counts[1]
    # Unbalanced, the minority class is almost never predicted; balanced, at least as often as it occurs.
    assert plain_eval.pred_counts[1] < minority / 2
    assert balanced_eval.pred_counts[1] >= minority


def test_balanced_sampler_draws_each_class_equally_and_repeatably():
    y = torch.tensor([0] * 900 + [1] * 100)
    feed = BatchFeed(
        torch.zeros(1000, 1),
        y,
        batch_size=50,
        batches_per_epoch=20,
        seed=4,
        device=torch.device("cpu"),
        dist=DistContext(),
        weights=sample_weights(y, 2),
    )
    order = feed.order(0)
    share = float((y[order] == 1).float().mean())
    assert len(order) == 1000 and 0.45 < share < 0.55
    assert torch.equal(order, feed.order(0)) and not torch.equal(order, feed.order(1))


def test_balanced_class_weights_are_inverse_frequency():
    weights = class_weights("balanced", torch.tensor([0, 0, 0, 1]), 3)
    assert weights.tolist() == pytest.approx([4 / 9, 4 / 3, 0.0])  # class 2 has no training rows
    assert class_weights([1.0, 2.0, 3.0], torch.tensor([0]), 3).tolist() == [1.0, 2.0, 3.0]
    assert class_weights(None, torch.tensor([0]), 3) is None


def test_settings_that_cannot_apply_name_the_key(tmp_path):
    cfg = write_config(tmp_path)
    with pytest.raises(
        UserError, match=r"train.class_weights: 2 weight\(s\) given but the data have 3 classes"
    ):
        train(cfg, tmp_path / "a", ["train.class_weights=[1.0, 2.0]"])
    with pytest.raises(UserError, match="data.sampler.*regression"):
        train(cfg, tmp_path / "b", ["data.label=x1", 'data.sampler="balanced"'])


def test_pin_memory_without_cuda_is_said_and_training_goes_on(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("pinning applies on this machine")
    cfg = write_config(tmp_path)
    result, events = train(cfg, tmp_path / "run", ["data.pin_memory=true", "train.epochs=1"])
    assert result.status == "completed"
    assert any("data.pin_memory applies to CUDA" in e.message for e in of(events, "log"))


def test_the_apps_engine_child_can_start_loader_workers(tmp_path):
    """The app trains in a daemonic spawned child; DataLoader workers must still start there (and quickly)."""
    import time

    from tui_trainer.engine.process import start_engine

    cfg = load_config(
        SAMPLE_DATA / "configs" / "images.toml",
        ["data.num_workers=2", "data.max_rows=120", "train.epochs=1", "telemetry.enabled=false"],
    )
    handle = start_engine(cfg, tmp_path / "run")
    seen = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(e.type in ("finished", "failed") for e in seen):
        seen += handle.poll(0.2)
    handle.join(30)
    assert [e.type for e in seen if e.type in ("finished", "failed")] == ["finished"], [
        getattr(e, "error", "") for e in seen if e.type == "failed"
    ]
    assert sum(e.type == "step" for e in seen) >= 1 and handle.exitcode == 0
