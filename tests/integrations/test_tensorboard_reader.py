"""The numpy event-file reader reads exactly what TensorBoard's own loader reads, on real writers' files."""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pytest

from tests.integrations.conftest import of_type, read_events
from tui_trainer.engine.events import EpochEnd, Eval, Step

pytest.importorskip("tensorboard")


def tensorboard_scalars(path: Path) -> list[tuple[int, str, float, float]]:
    """(step, tag, value, wall time) of every scalar, as TensorBoard's own loader decodes the file."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.util import tensor_util

    out = []
    for event in EventFileLoader(str(path)).Load():
        for value in event.summary.value:
            kind = value.WhichOneof("value")
            if kind == "simple_value":
                number = value.simple_value
            elif kind == "tensor" and value.metadata.plugin_data.plugin_name == "scalars":
                number = float(tensor_util.make_ndarray(value.tensor))
            else:
                continue
            out.append((event.step, value.tag, float(number), event.wall_time))
    return out


def ours(path: Path, max_bytes: int | None = None) -> list[tuple[int, str, float, float]]:
    from tui_trainer.integrations.tensorboard import EventFileReader

    reader = EventFileReader(path) if max_bytes is None else EventFileReader(path, max_bytes=max_bytes)
    out = []
    while True:
        before = reader.offset
        out += [(s.step, s.tag, s.value, s.wall_time) for s in reader.read()]
        if reader.offset == before:
            return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_mixed_log_reads_as_tensorboard_reads_it_in_any_chunking(tmp_path, seed):
    """Scalars of tags of equal length, steps from 0 past 2**28, TF2-style tensor scalars, histograms (one
    over 64 KB), images and text between them: every scalar, in order, whatever the chunk size."""
    from torch.utils.tensorboard import SummaryWriter

    rng = random.Random(seed)
    tags = ["train/lr", "val/loss", "train/loss", "a", "x" * 120, "metrics/accuracy", "lr-Adam"]
    with SummaryWriter(str(tmp_path)) as writer:
        step = 0
        for _ in range(600):
            step += rng.choice([0, 1, 1, 1, 7, 300, 2**20])
            tag = rng.choice(tags)
            value = rng.choice([0.0, -1.5, 1e-30, float("inf"), float("nan"), rng.uniform(-10, 10)])
            writer.add_scalar(tag, value, step, walltime=1.7e9 + step * 0.01, new_style=rng.random() < 0.2)
            if rng.random() < 0.05:
                writer.add_histogram("w", np.arange(rng.choice([10, 20_000]), dtype=float), step)
            if rng.random() < 0.02:
                writer.add_image("img", np.zeros((3, 8, 8)), step)
                writer.add_text("note", "hello", step)
        for i in range(70):  # steps whose varints are 8 and 10 bytes long (past 2**49, negative)
            writer.add_scalar("huge", float(i), 2**50 + i, walltime=1.8e9)
            writer.add_scalar("negative", float(i), -1 - i, walltime=1.8e9)
    [path] = list(tmp_path.glob("events.out.tfevents.*"))
    expected = tensorboard_scalars(path)
    assert len(expected) == 600 + 140
    for max_bytes in (None, 1000, 7919):
        got = ours(path, max_bytes)
        assert [g[:2] for g in got] == [e[:2] for e in expected]
        assert [g[3] for g in got] == [e[3] for e in expected]
        assert np.array_equal(
            np.array([g[2] for g in got]), np.array([e[2] for e in expected]), equal_nan=True
        )


def test_garbage_after_the_records_and_a_cut_record_do_not_break_the_reader(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    from tui_trainer.integrations.tensorboard import EventFileReader

    with SummaryWriter(str(tmp_path)) as writer:
        for i in range(50):
            writer.add_scalar("loss", float(i), i)
    [path] = list(tmp_path.glob("events.out.tfevents.*"))
    good = path.read_bytes()
    path.write_bytes(good + b"\x00" * 5 + bytes(range(256)) * 3)
    reader = EventFileReader(path)
    assert [s.step for s in reader.read()] == list(range(50))
    assert reader.read() == []  # the tail is not a record; nothing is invented from it
    path.write_bytes(good + (2**40).to_bytes(8, "little") + b"\x00" * 20)  # a length no record has
    damaged = EventFileReader(path)
    assert [s.step for s in damaged.read()] == list(range(50))
    assert damaged.corrupt and damaged.read() == []


def test_a_long_backlog_is_reported_in_windows_with_exact_evals_and_epoch_ends(tmp_path, monkeypatch):
    """3,000 steps read at once become ~100 step events: each the mean loss of its window, ending at the
    step before an evaluation or an epoch's end, with the log's wall times."""
    from torch.utils.tensorboard import SummaryWriter

    from tui_trainer.integrations import log_tags
    from tui_trainer.integrations.logdirs import log_run_info, mirror_dir

    monkeypatch.setattr(log_tags, "MAX_STEP_EVENTS", 100)
    losses = {s: 3.0 * math.exp(-s / 900) for s in range(1, 3001)}
    log = tmp_path / "long"
    with SummaryWriter(str(log)) as writer:
        for s, loss in losses.items():
            wall = 1.7e9 + s
            writer.add_scalar("train/loss", loss, s, walltime=wall)
            writer.add_scalar("epoch", (s - 1) // 1000, s, walltime=wall)
            if s % 250 == 0:
                writer.add_scalar("val/loss", loss + 0.5, s, walltime=wall)
    old = 1.7e9
    import os

    for f in log.glob("events.*"):
        os.utime(f, (old, old))
    log_run_info(log)
    events = read_events(mirror_dir(log))
    steps = of_type(events, Step)
    assert 90 <= len(steps) <= 160
    start = 1
    for event in steps:  # each window's loss is the mean of the float32 losses of its steps
        window = [float(np.float32(losses[s])) for s in range(start, event.step + 1)]
        assert event.loss == pytest.approx(sum(window) / len(window), rel=1e-9)
        assert event.time == 1.7e9 + event.step and event.epoch == (event.step - 1) // 1000
        start = event.step + 1
    assert start == 3001
    step_ends = {e.step for e in steps}
    evals = of_type(events, Eval)
    assert [e.step for e in evals] == list(range(250, 3001, 250)) and step_ends >= {e.step for e in evals}
    ends = of_type(events, EpochEnd)
    assert [(e.epoch, e.step) for e in ends] == [(0, 1000), (1, 2000), (2, 3000)]
    assert step_ends >= {1000, 2000, 3000}  # a window never spans an epoch's end
    order = [
        (type(e).__name__, getattr(e, "step", None)) for e in events if isinstance(e, Step | Eval | EpochEnd)
    ]
    assert order.index(("EpochEnd", 1000)) == order.index(("Eval", 1000)) + 1  # the eval first, then the end


def test_a_listing_that_reads_none_of_a_log_shows_its_start_last_step_and_loss(tmp_path):
    """`runs` over a gigabyte of logs reads 32 MB in all; the others list from their first and last records."""
    import os

    from torch.utils.tensorboard import SummaryWriter

    from tui_trainer.integrations.logdirs import list_log_runs, mirror_dir
    from tui_trainer.integrations.tensorboard import PEEK_BYTES

    log = tmp_path / "logs" / "big"
    with SummaryWriter(str(log)) as writer:
        for step in range(1, 30_001):  # ~1.5 MB: its last records are far past the tail read
            wall = 1.7e9 + step
            writer.add_scalar("train/loss", 1.0 / step, step, walltime=wall)
            writer.add_scalar("epoch", step // 10_000, step, walltime=wall)
            if step % 5000 == 0:
                writer.add_histogram("w", np.arange(20_000.0), step, walltime=wall)  # big records between
    for f in log.glob("events.*"):
        assert f.stat().st_size > 4 * PEEK_BYTES
        os.utime(f, (1.7e9, 1.7e9))
    [info] = list_log_runs(tmp_path / "logs", budget=0)
    [again] = list_log_runs(tmp_path / "logs", budget=0)
    assert again == info and not (mirror_dir(log) / "events.jsonl").exists()  # nothing written for it
    assert "not read yet" in info.detail and info.status == "finished"
    assert info.last_step == 30_000 and info.last_loss == float(np.float32(1.0 / 30_000))
    assert info.epoch == 3 and info.updated == 1.7e9 + 30_000
    assert abs(info.started - time_of_first_record(log)) < 1e-6


def time_of_first_record(log: Path) -> float:
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    [path] = list(log.glob("events.*"))
    return next(iter(EventFileLoader(str(path)).Load())).wall_time
