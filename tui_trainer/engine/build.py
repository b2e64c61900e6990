"""What a run is built from, given its config and data: the loss, the optimiser, the LR schedule, the batch feed.

Each function reads its own keys (`train.class_weights`, `optim.*`, `data.sampler` / `num_workers` /
`pin_memory`, `augment.pipeline`) and raises a UserError naming the key when a value cannot apply to the data.
"""

from __future__ import annotations

import math
from typing import Any

from tui_trainer.engine.config import TrainConfig
from tui_trainer.engine.events import Log
from tui_trainer.errors import UserError


def batches_per_epoch(samples: int, world_size: int, batch_size: int) -> int:
    """Steps in one epoch on each rank."""
    per_rank = math.ceil(samples / world_size)
    full, rest = divmod(per_rank, batch_size)
    # A last batch of one sample breaks BatchNorm in training mode and adds noise; drop it.
    return max(1, full + (1 if rest >= 2 else 0))


def make_loss(config: TrainConfig, data: Any, device: Any) -> Any:
    """Cross-entropy (weighted by `train.class_weights`) for classes, mean squared error for quantities."""
    import torch

    from tui_trainer.engine.batches import class_weights

    setting = config.train.class_weights
    if data.task != "classification":
        if setting:
            raise UserError("train.class_weights applies to classification; this task is regression")
        return torch.nn.MSELoss()
    weights = class_weights(setting, data.y_train, data.num_classes)
    return torch.nn.CrossEntropyLoss(weight=None if weights is None else weights.to(device))


def make_feed(
    config: TrainConfig, data: Any, device: Any, dist: Any, steps_per_epoch: int, notes: list[Log]
) -> Any:
    """The DataLoader-backed BatchFeed for the training split; appends what the user should know to `notes`."""
    from tui_trainer.engine.batches import BatchFeed, sample_weights

    d = config.data
    weights = None
    if d.sampler == "balanced":
        if data.task != "classification":
            raise UserError('data.sampler = "balanced" applies to classification; this task is regression')
        weights = sample_weights(data.y_train, data.num_classes)
    if d.pin_memory and device.type != "cuda":
        notes.append(Log(message=f"data.pin_memory applies to CUDA devices; ignored on {device.type}"))
    augment = None
    if config.augment.pipeline and data.kind == "images":
        augment = load_augment(config)
    elif config.augment.pipeline:
        notes.append(
            Log(
                message="augment.pipeline is set but the data are a table; augmentation applies to images only",
                level="warning",
            )
        )
    return BatchFeed(
        data.x_train,
        data.y_train,
        batch_size=config.train.batch_size,
        batches_per_epoch=steps_per_epoch,
        seed=config.train.seed,
        device=device,
        dist=dist,
        augment=augment,
        weights=weights,
        num_workers=d.num_workers,
        pin_memory=d.pin_memory,
    )


def load_augment(config: TrainConfig) -> Any:
    path = config.resolve(config.augment.pipeline)
    if not path.is_file():
        raise UserError(f"augment.pipeline: {path} does not exist")
    try:
        from tui_trainer.augment.pipeline import load_pipeline
    except ImportError as exc:
        raise UserError(
            f"augment.pipeline is set but the augment module is not available in this version ({exc})"
        ) from None
    return load_pipeline(path)


def make_optimizer(config: TrainConfig, model: Any) -> Any:
    import torch

    o = config.optim
    params = [p for p in model.parameters() if p.requires_grad]
    if o.name == "sgd":
        return torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay)
    if o.name == "adamw":
        return torch.optim.AdamW(params, lr=o.lr, weight_decay=o.weight_decay)
    return torch.optim.Adam(params, lr=o.lr, weight_decay=o.weight_decay)


def make_scheduler(config: TrainConfig, optimizer: Any, total_steps: int) -> Any:
    """`optim.schedule`: step (per epoch), cosine (per step over the run), plateau (per eval), or None."""
    import torch

    o = config.optim
    if o.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=o.step_size, gamma=o.gamma)
    if o.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total_steps))
    if o.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, factor=o.gamma, patience=o.plateau_patience
        )
    return None


def evaluate_split(
    model: Any, x: Any, y: Any, loss_fn: Any, ctx: Any, task: str, num_classes: int, batch_size: int
):
    """One no-grad pass over a split: (mean loss, metrics, predicted-class counts, label counts).

    Classification: accuracy and the class histograms (what the one-class rule decides from); regression: mae
    and None for the counts. Predictions stay on the device until the end, so the pass syncs once per batch.
    """
    import torch

    from tui_trainer.engine.layer_stats import split_counts

    n = int(x.shape[0])
    classify = task == "classification"
    with torch.no_grad():
        if 0 < n <= batch_size:  # the usual small split: one pass, no slicing, no sums of batch losses
            with ctx:
                out = model(x)
            # Autocast's half precision to float32 (`.float()` of a float32 tensor still costs an op call).
            if out.dtype != torch.float32:
                out = out.float()
            loss = float(loss_fn(out, y))
            if not classify:
                return loss, {"mae": float((out - y).abs().sum()) / n}, None, None
            predicted = out.argmax(dim=1)
        else:
            total = 0.0
            abs_err = 0.0
            preds = []
            for start in range(0, n, batch_size):
                xb, yb = x[start : start + batch_size], y[start : start + batch_size]
                with ctx:
                    out = model(xb)
                out = out.float()
                total += float(loss_fn(out, yb)) * int(xb.shape[0])
                if classify:
                    preds.append(out.argmax(dim=1))
                else:
                    abs_err += float((out - yb).abs().sum())
            loss = total / n
            if not classify:
                return loss, {"mae": abs_err / n}, None, None
            predicted = torch.cat(preds)
    # Class histograms and right answers from one bincount (an eval every few steps on a small split).
    pred_counts, label_counts, right = split_counts(predicted, y, num_classes)
    return loss, {"accuracy": right / n}, pred_counts, label_counts
