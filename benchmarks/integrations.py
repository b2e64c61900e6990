"""Integrations' costs: the Lightning callback's overhead, and opening / following a TensorBoard log.

    python benchmarks/integrations.py            # small sizes (about a minute on 1 CPU)
    python benchmarks/integrations.py --big      # the issue's sizes: 2,000 Lightning steps, a 100 MB log

1. Lightning: the same model, data and `Trainer` flags fitted without and with `TuiTrainerCallback` in
   alternating rounds (bare, watched, bare, watched...), so load from other processes hits both alike; prints
   the median of the rounds' CPU-time ratios (target <= 1.02) and the callback's cost per step. The model is
   a small MLP like the sample configs' (64 -> 256 -> 256 -> 10, batch 64, Adam: about 2 ms a step under
   Lightning on one CPU thread), not a do-nothing step that would make any fixed cost look huge, nor a model
   big enough to hide one.
2. TensorBoard: a log written by torch's SummaryWriter (train/loss, lr every step, val/loss every 50) at
   growing sizes; prints the time to mirror it from scratch (what `attach LOGDIR` waits for before the
   curves show) and to read the mirror into a RunHistory (what the pane does), per MB; and the CPU share
   of the follower while the log grows at `--rate` scalars/s.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

# benchmarks/inspect.py would shadow the stdlib module of that name when this folder is sys.path[0].
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("OMP_NUM_THREADS", "1")
logging.getLogger("lightning").setLevel(logging.WARNING)
logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)


def lightning_overhead(steps: int, rounds: int) -> float:
    import statistics

    import lightning as L
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    from tui_trainer.integrations.lightning import TuiTrainerCallback

    torch.set_num_threads(1)

    class MLP(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(
                nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)
            )

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = nn.functional.cross_entropy(self.net(x), y)
            self.log("train_loss", loss)
            return loss

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=1e-3)

    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(steps * 64, 64, generator=g), torch.randint(0, 10, (steps * 64,), generator=g)
    loader = DataLoader(TensorDataset(x, y), batch_size=64)
    tmp = Path(tempfile.mkdtemp(prefix="tui-bench-"))

    class Timed(TuiTrainerCallback):
        """The callback with its hooks' CPU time summed (thread CPU time: the neighbours' load is not in it)."""

        spent = 0.0

        def _timed(self, hook, *args):
            started = time.thread_time()
            try:
                return hook(*args)
            finally:
                Timed.spent += time.thread_time() - started

        def on_fit_start(self, *args):
            return self._timed(super().on_fit_start, *args)

        def on_train_batch_end(self, *args):
            return self._timed(super().on_train_batch_end, *args)

        def _read_layer_norms(self, *args):
            return self._timed(super()._read_layer_norms, *args)

        def on_train_epoch_end(self, *args):
            return self._timed(super().on_train_epoch_end, *args)

        def on_fit_end(self, *args):
            return self._timed(super().on_fit_end, *args)

    def fit(with_callback: bool, i: int, kind: type = TuiTrainerCallback) -> float:
        torch.manual_seed(0)
        callbacks = [kind(run_dir=tmp / f"run-{i}")] if with_callback else []
        trainer = L.Trainer(
            max_epochs=1,
            accelerator="cpu",
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            callbacks=callbacks,
            log_every_n_steps=50,
        )
        # CPU time of this process: on a shared machine it is far steadier than wall time.
        t = time.process_time()
        trainer.fit(MLP(), loader)
        return time.process_time() - t

    # Warm-up of both: first-call costs (imports: ~0.1 s for monitor and the diagnostics, once per process)
    # land on neither side.
    fit(False, -1)
    fit(True, -1)
    bare, watched = [], []
    for i in range(rounds):
        bare.append(fit(False, i))
        watched.append(fit(True, i))
    fit(True, rounds, kind=Timed)  # apart from the rounds: the timing wrapper costs a little itself
    shutil.rmtree(tmp, ignore_errors=True)
    ratios = [w / b for w, b in zip(watched, bare, strict=True)]
    ratio = statistics.median(ratios)
    per_step_us = statistics.median((w - b) / steps * 1e6 for w, b in zip(watched, bare, strict=True))
    print(
        f"lightning: {steps} steps x {rounds} rounds, bare {statistics.median(bare):.2f} s CPU "
        f"({statistics.median(bare) / steps * 1e3:.2f} ms/step), with TuiTrainerCallback "
        f"{statistics.median(watched):.2f} s CPU; median ratio {ratio:.3f} (target <= 1.02; rounds "
        f"{min(ratios):.3f}..{max(ratios):.3f}), the callback's cost {per_step_us:.0f} us/step; "
        f"CPU inside its hooks {Timed.spent / steps * 1e6:.0f} us/step (one more run, load-independent: Lightning's "
        f"calls into the hooks and the events' later costs are not in it)"
    )
    return ratio


def write_log(folder: Path, steps: int) -> Path:
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(folder)) as writer:
        for i in range(1, steps + 1):
            writer.add_scalar("train/loss", 1.0 / i, i)
            writer.add_scalar("lr", 1e-3, i)
            if i % 50 == 0:
                writer.add_scalar("val/loss", 2.0 / i, i)
    old = time.time() - 600
    for f in folder.glob("events.out.tfevents.*"):
        os.utime(f, (old, old))
    return next(folder.glob("events.out.tfevents.*"))


def tensorboard_open(sizes_steps: list[int]) -> None:
    """Time until the app can show a log (the follower's first pass), and until all of it is mirrored."""
    from tui_trainer.engine.follow import EventFollower
    from tui_trainer.engine.history import RunHistory
    from tui_trainer.integrations.logdirs import FIRST_PASS_BYTES, LogMirror

    tmp = Path(tempfile.mkdtemp(prefix="tui-bench-tb-"))
    for steps in sizes_steps:
        folder = tmp / f"log-{steps}"
        path = write_log(folder, steps)
        mb = path.stat().st_size / 1e6
        # CPU time (this process): the box these run on is shared, and wall time there measures the neighbours.
        t = time.process_time()
        mirror = LogMirror(folder)
        mirror.update(FIRST_PASS_BYTES)
        history = RunHistory()
        follower = EventFollower(mirror.dir)
        for events in follower.iter_all():
            history.extend(events)
        t_open = time.process_time() - t
        while mirror.backlog():
            mirror.update(FIRST_PASS_BYTES * 4)
        mirror.close()
        for events in follower.iter_all():
            history.extend(events)
        t_all = time.process_time() - t
        print(
            f"tensorboard: {mb:6.1f} MB log ({steps} steps): curves open in {t_open:.2f} s CPU (first "
            f"{FIRST_PASS_BYTES >> 20} MB; target 2 s), all of it mirrored and read in {t_all:.2f} s CPU "
            f"({t_all / mb:.2f} s/MB, {history.events_seen} events)"
        )
    shutil.rmtree(tmp, ignore_errors=True)


def tensorboard_follow(seconds: float, rate: int) -> None:
    """CPU of the mirror following a log that grows at `rate` scalars/s (what the app's follower process costs)."""
    from torch.utils.tensorboard import SummaryWriter

    from tui_trainer.integrations.logdirs import LogMirror

    tmp = Path(tempfile.mkdtemp(prefix="tui-bench-follow-"))
    writer = SummaryWriter(str(tmp))
    writer.add_scalar("train/loss", 1.0, 0)
    writer.flush()
    mirror = LogMirror(tmp)
    busy = 0.0
    step = 0
    start = time.perf_counter()
    next_poll = start
    while time.perf_counter() - start < seconds:
        for _ in range(rate // 10):
            step += 1
            writer.add_scalar("train/loss", 1.0 / step, step)
        writer.flush()
        now = time.perf_counter()
        if now >= next_poll:
            before = resource.getrusage(resource.RUSAGE_SELF)
            mirror.update()
            after = resource.getrusage(resource.RUSAGE_SELF)
            busy += (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            next_poll = now + 0.5  # the follower's interval
        time.sleep(0.1)
    elapsed = time.perf_counter() - start
    mirror.close()
    writer.close()
    shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"tensorboard follow: {rate} scalars/s for {elapsed:.0f} s: the mirror used "
        f"{100 * busy / elapsed:.1f} % of a core (the UI then follows events.jsonl as for any run)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--big", action="store_true", help="the issue's sizes (slow)")
    parser.add_argument("--rounds", type=int, default=7, help="bare/watched Lightning round pairs")
    parser.add_argument("--rate", type=int, default=200, help="scalars per second for the follow test")
    parser.add_argument("--only", choices=["lightning", "tensorboard"], help="run one of the two parts")
    args = parser.parse_args()
    if args.only != "tensorboard":
        lightning_overhead(5000 if args.big else 1000, args.rounds)
    if args.only != "lightning":
        tensorboard_open([1_100_000] if args.big else [5_000, 120_000])
        tensorboard_follow(30 if args.big else 5, args.rate)
    return 0


if __name__ == "__main__":
    sys.exit(main())
