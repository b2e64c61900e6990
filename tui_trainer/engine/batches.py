"""Training batches through a `torch.utils.data.DataLoader`: batch `b` of epoch `e` is the same samples every time.

The data are in-memory tensors (`datasets.py`), so the loader's unit is a whole batch, not a sample: the sampler
yields (epoch, batch, sample indices) and the dataset returns those rows, augmented with that batch's own seed.
No per-sample collate (which would cost more than the step on a small model), and yet `data.num_workers` moves
indexing and augmentation into worker processes and `data.pin_memory` pins what they produce, as the
`dataloader_bottleneck` advice says. Because every draw is keyed by (seed, epoch, batch), the order and the
augmentation do not depend on the number of workers, and resuming at (epoch, batch) repeats them exactly.

Sample order per epoch: DistributedSampler's (seed + epoch) permutation, or with `data.sampler = "balanced"` a
WeightedRandomSampler draw (with replacement, weight 1 / class count) seeded the same way. Data stay on the
training device when no workers and no pinning are asked for (one copy; a batch is an index on the device);
otherwise they stay in host memory and each batch is copied to the device (non-blocking when pinned).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

from tui_trainer.errors import UserError


def batch_seed(seed: int, epoch: int, batch: int) -> int:
    """The augmentation seed of one batch: fixed by (seed, epoch, batch), whichever process draws it."""
    return ((seed * 1_000_003 + epoch) * 1_000_003 + batch) % (2**63)


def class_weights(setting: Any, labels: Any, num_classes: int) -> Any:
    """The per-class loss weights for `train.class_weights` ("balanced" or a list), or None when unset.

    "balanced" is n_samples / (n_classes * count), as scikit-learn computes it, on the training split; a class
    absent from the training split gets weight 0 (it has no rows to weigh).
    """
    import torch

    if setting in (None, "", "none", []):
        return None
    if setting == "balanced":
        counts = torch.bincount(labels.reshape(-1).long().cpu(), minlength=num_classes).double()
        weights = torch.where(counts > 0, counts.sum() / (num_classes * counts.clamp(min=1)), 0.0)
        return weights.float()
    values = list(setting)
    if len(values) != num_classes:
        raise UserError(
            f"train.class_weights: {len(values)} weight(s) given but the data have {num_classes} classes; "
            'give one positive number per class (in class order) or "balanced"'
        )
    return torch.tensor([float(v) for v in values], dtype=torch.float32)


def sample_weights(labels: Any, num_classes: int) -> Any:
    """`data.sampler = "balanced"`: each sample's draw weight, 1 / its class's count (classes drawn equally)."""
    import torch

    y = labels.reshape(-1).long().cpu()
    counts = torch.bincount(y, minlength=num_classes).double()
    return (1.0 / counts.clamp(min=1))[y]


def _allow_worker_processes() -> None:
    """Let a daemonic process (the app's engine child) start DataLoader workers.

    Python refuses children to a daemonic process only so they cannot outlive it; DataLoader workers watch
    their parent and exit when it goes, and the app still ends its engine child as a daemon (the flag that
    matters for that is the app's own Process object, not this copy of it).
    """
    import multiprocessing

    current = multiprocessing.current_process()
    if current.daemon:
        current._config["daemon"] = False  # type: ignore[attr-defined]


def _as_is(batch: Any) -> Any:
    # The dataset already returns a whole batch; the default collate would walk it for nothing.
    return batch


class _Batches:
    """Map-style dataset keyed by (epoch, batch, indices): those rows, augmented with the batch's seed."""

    def __init__(self, x: Any, y: Any, augment: Any, seed: int) -> None:
        self.x, self.y, self.augment, self.seed = x, y, augment, seed

    def __getitem__(self, key: tuple[int, int, Any]) -> tuple[Any, Any]:
        epoch, batch, idx = key
        xb, yb = self.x[idx], self.y[idx]
        if self.augment is not None:
            import torch

            gen = torch.Generator(device="cpu")
            gen.manual_seed(batch_seed(self.seed, epoch, batch))
            xb = self.augment.apply_batch_torch(xb, gen)
        return xb, yb


class _EpochSampler:
    """Yields (epoch, batch, indices) for the batches of one epoch from `start` on (set by BatchFeed)."""

    def __init__(self, feed: BatchFeed) -> None:
        self.feed = feed
        self.epoch = 0
        self.start = 0

    def __iter__(self) -> Iterator[tuple[int, int, Any]]:
        order = self.feed.order(self.epoch)
        bs = self.feed.batch_size
        for b in range(self.start, self.feed.batches_per_epoch):
            yield self.epoch, b, order[b * bs : (b + 1) * bs]

    def __len__(self) -> int:
        return max(0, self.feed.batches_per_epoch - self.start)


class BatchFeed:
    """One rank's training batches for a run; see the module docstring."""

    def __init__(
        self,
        x: Any,
        y: Any,
        *,
        batch_size: int,
        batches_per_epoch: int,
        seed: int,
        device: Any,
        dist: Any,
        augment: Any = None,
        weights: Any = None,
        num_workers: int = 0,
        pin_memory: bool = False,
    ) -> None:
        import torch
        from torch.utils.data import DataLoader

        self.batch_size = batch_size
        self.batches_per_epoch = batches_per_epoch
        self.seed = seed
        self.device = device
        self.dist = dist
        self.weights = weights
        self.pin_memory = bool(pin_memory and device.type == "cuda")
        self.num_workers = num_workers
        self.on_device = num_workers == 0 and not self.pin_memory
        home = device if self.on_device else torch.device("cpu")
        if num_workers > 0:
            _allow_worker_processes()
        self.x, self.y = x.to(home), y.to(home)
        self._sampler = _EpochSampler(self)
        self.loader = DataLoader(
            _Batches(self.x, self.y, augment, seed),  # type: ignore[arg-type]
            batch_size=None,
            sampler=self._sampler,  # type: ignore[arg-type]
            num_workers=num_workers,
            pin_memory=self.pin_memory,
            collate_fn=_as_is,
            persistent_workers=num_workers > 0,
            # Linux forks workers (instant, and the data are shared, not pickled), also inside the app's engine
            # child, which was spawned and would otherwise spawn them too (re-importing torch in each).
            multiprocessing_context="fork" if num_workers > 0 and sys.platform == "linux" else None,
            # Worker seeds come from this generator, not the global RNG (which dropout and resume depend on).
            generator=torch.Generator().manual_seed(seed),
        )

    @property
    def samples(self) -> int:
        return int(self.x.shape[0])

    def order(self, epoch: int) -> Any:
        """This rank's sample order for `epoch` (on the device the data live on)."""
        import torch

        n = self.samples
        world, rank = self.dist.world_size, self.dist.rank
        gen = torch.Generator()
        gen.manual_seed(self.seed + epoch)
        if self.weights is not None:
            from torch.utils.data import WeightedRandomSampler

            per_rank = -(-n // world)
            draw = WeightedRandomSampler(self.weights, per_rank * world, replacement=True, generator=gen)
            order = torch.tensor(list(draw), dtype=torch.long)[rank::world]
        elif not self.dist.enabled:
            # The permutation DistributedSampler(num_replicas=1) yields, without its round trip through a Python
            # list (milliseconds per epoch for large data, a visible share of a fast epoch).
            order = torch.randperm(n, generator=gen)
        else:
            from torch.utils.data import DistributedSampler

            sampler = DistributedSampler(
                range(n), num_replicas=world, rank=rank, shuffle=True, seed=self.seed
            )
            sampler.set_epoch(epoch)
            order = torch.tensor(list(iter(sampler)), dtype=torch.long)
        return order.to(self.x.device)

    def epoch(self, epoch: int, start: int = 0) -> Iterator[tuple[Any, Any]]:
        """The batches of `epoch` from batch `start` on, on the training device."""
        self._sampler.epoch, self._sampler.start = epoch, start
        for xb, yb in self.loader:
            if not self.on_device:
                xb = xb.to(self.device, non_blocking=self.pin_memory)
                yb = yb.to(self.device, non_blocking=self.pin_memory)
            yield xb, yb

    def batch(self, epoch: int, batch: int) -> tuple[Any, Any]:
        """Batch `batch` of `epoch` again, in this process (to re-run a failing step)."""
        order = self.order(epoch)
        idx = order[batch * self.batch_size : (batch + 1) * self.batch_size]
        xb, yb = self.loader.dataset[(epoch, batch, idx)]  # type: ignore[index]
        return xb.to(self.device), yb.to(self.device)

    def close(self) -> None:
        """Stop the persistent worker processes (if any) now, rather than whenever the loader is collected."""
        iterator = getattr(self.loader, "_iterator", None)
        if iterator is not None and hasattr(iterator, "_shutdown_workers"):
            iterator._shutdown_workers()
        self.loader._iterator = None  # type: ignore[attr-defined]
        import gc

        gc.collect()  # finalise the workers' queues now, so their semaphores are released before the process ends

    def head(self, n: int) -> tuple[Any, Any]:
        """The first `n` training rows on the device (the preflight batch)."""
        return self.x[:n].to(self.device), self.y[:n].to(self.device)
