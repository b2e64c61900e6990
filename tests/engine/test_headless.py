"""Headless progress output: plain lines at a bounded rate off a terminal, one redrawn line on a terminal."""

from __future__ import annotations

import io

from tui_trainer.engine.events import Checkpoint, Diagnostic, Eval, Finished, RunStarted, Step, System
from tui_trainer.engine.headless import ProgressPrinter
from tui_trainer.engine.runs import default_run_dir


def feed(printer, n_steps):
    printer(
        RunStarted(
            run_id="r",
            run_dir="/tmp/r",
            config={"train": {"epochs": 2}},
            total_steps=n_steps,
            model_summary={"params": 10, "train_samples": 5, "val_samples": 1},
        )
    )
    for i in range(1, n_steps + 1):
        printer(Step(step=i, epoch=0, loss=1.0 / i, lr=0.1, samples_per_s=100.0))
        printer(System(cpu_percent=1.0))
    printer(Eval(step=n_steps, val_loss=0.5, metrics={"accuracy": 0.75}))
    printer(Checkpoint(step=n_steps, path="/tmp/r/checkpoints/step-1.pt", reason="periodic"))
    printer(Diagnostic(code="plateau", severity="info", step=n_steps, message="flat", fix="try a schedule"))
    printer(Finished(step=n_steps, duration_s=1.0))


def test_plain_mode_prints_bounded_lines_and_news():
    out = io.StringIO()
    feed(ProgressPrinter(out, tty=False, interval_s=3600), 10_000)
    lines = out.getvalue().splitlines()
    assert len(lines) < 10  # 10,000 steps, a handful of lines
    assert "\r" not in out.getvalue()
    assert lines[0].startswith("run r on cpu: 10 parameters")
    assert lines[1].startswith("step 1/10000  epoch 1/2  loss 1")
    assert "[info] plateau at step 10000: flat" in lines and "    fix: try a schedule" in lines
    assert (
        lines[-2].startswith("step 10000/10000")
        and "val_loss 0.5" in lines[-2]
        and "val_acc 0.750" in lines[-2]
    )
    assert lines[-1] == "finished (completed) at step 10000 in 1.0 s"


def test_tty_mode_redraws_one_status_line():
    out = io.StringIO()
    feed(ProgressPrinter(out, tty=True, interval_s=0.0), 50)
    text = out.getvalue()
    assert text.count("\r\x1b[2K") >= 50  # each step redraws in place
    assert text.count("\n") < 10


def test_json_mode_prints_every_event():
    out = io.StringIO()
    feed(ProgressPrinter(out, json_lines=True), 5)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 + 5 * 2 + 4 and all(line.startswith('{"type":') for line in lines)


def test_default_run_dir_is_unique(tmp_path):
    first = default_run_dir(tmp_path / "cfg.toml", root=tmp_path)
    first.mkdir()
    second = default_run_dir(tmp_path / "cfg.toml", root=tmp_path)
    assert first.name.startswith("cfg-") and second != first


def test_start_line_of_a_run_that_knows_little_says_only_what_it_knows():
    # A watched script or a user loop has no parameter count, sample counts or total steps.
    out = io.StringIO()
    ProgressPrinter(out, tty=False, interval_s=3600)(RunStarted(run_id="r", run_dir="/tmp/r", device="user loop"))
    line = out.getvalue().splitlines()[0]
    assert line == "run r on user loop -> /tmp/r"
    assert "None" not in line and "?" not in line
