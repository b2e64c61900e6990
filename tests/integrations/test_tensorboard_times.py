"""A log read after the fact keeps its own clock: events carry the wall times TensorBoard / the CSV stored, so
steps/s, epoch ends and their durations are the run's, not the reading's."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import pytest

from tests.integrations.conftest import of_type, read_events
from tui_trainer.engine.events import EpochEnd, Eval, Step

pytest.importorskip("tensorboard")

T0 = 1_700_000_000.0  # the run happened long before it is read
STEP_S = 0.5  # two steps a second


def age(folder: Path) -> None:
    old = time.time() - 3600
    for f in folder.rglob("*"):
        if f.is_file():
            os.utime(f, (old, old))


def test_steps_per_s_and_epoch_ends_come_from_the_logged_walltimes(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    from tui_trainer.engine.history import RunHistory
    from tui_trainer.integrations.logdirs import log_run_info, mirror_dir

    log = tmp_path / "tb" / "run"
    with SummaryWriter(str(log)) as writer:
        for step in range(1, 301):
            wall = T0 + step * STEP_S
            writer.add_scalar("train/loss", 2.0 / math.sqrt(step), step, walltime=wall)
            writer.add_scalar("epoch", (step - 1) // 100, step, walltime=wall)  # Lightning logs it so
            if step % 50 == 0:
                writer.add_scalar("val/loss", 2.1 / math.sqrt(step), step, walltime=wall)
    age(log)
    info = log_run_info(log)
    events = read_events(mirror_dir(log))
    steps = of_type(events, Step)
    assert [s.step for s in steps] == list(range(1, 301))
    assert [s.time for s in steps] == [T0 + s * STEP_S for s in range(1, 301)]
    assert [e.time for e in of_type(events, Eval)] == [T0 + s * STEP_S for s in range(50, 301, 50)]

    history = RunHistory()
    history.extend(events)
    assert history.steps_per_s() == pytest.approx(1 / STEP_S)  # not the thousands a second of the reading

    ends = of_type(events, EpochEnd)
    assert [(e.epoch, e.step) for e in ends] == [
        (0, 100),
        (1, 200),
        (2, 300),
    ]  # the last one at the log's end
    assert [e.duration_s for e in ends] == [pytest.approx(99 * STEP_S)] * 3
    assert ends[0].train_loss == pytest.approx(
        sum(float(__import__("numpy").float32(2.0 / math.sqrt(s))) for s in range(1, 101)) / 100
    )
    assert ends[0].time == T0 + 100 * STEP_S
    assert info.started == pytest.approx(T0 + STEP_S) and info.updated == pytest.approx(T0 + 300 * STEP_S)


def test_a_csv_time_column_times_the_events_and_a_csv_without_one_reads_now(tmp_path):
    from tui_trainer.engine.history import RunHistory
    from tui_trainer.integrations.logdirs import log_run_info, mirror_dir

    timed = tmp_path / "timed"
    timed.mkdir()
    rows = ["step,train_loss,wall_time"] + [f"{s},{1.0 / s},{T0 + 4.0 * s}" for s in range(1, 51)]
    (timed / "metrics.csv").write_text("\n".join(rows) + "\n")
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "metrics.csv").write_text(
        "step,train_loss\n" + "".join(f"{s},{1.0 / s}\n" for s in range(1, 51))
    )
    age(timed)
    age(plain)
    log_run_info(timed)
    log_run_info(plain)
    history = RunHistory()
    timed_steps = of_type(read_events(mirror_dir(timed)), Step)
    history.extend(timed_steps)
    assert [s.time for s in timed_steps] == [T0 + 4.0 * s for s in range(1, 51)]
    assert history.steps_per_s() == pytest.approx(0.25)
    plain_steps = of_type(read_events(mirror_dir(plain)), Step)
    assert [s.loss for s in plain_steps] == [1.0 / s for s in range(1, 51)]
    assert all(abs(s.time - time.time()) < 120 for s in plain_steps)  # no time in the file: when it was read
