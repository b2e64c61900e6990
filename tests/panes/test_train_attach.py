"""`tui-trainer attach`: bad folders exit 2 naming them; without a terminal it prints a one-shot summary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.panes.fakes_engine import T0, scripted_run
from tui_trainer.engine.events import Failed, to_json


def attach(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tui_trainer", "attach", *args],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )


def make_run(root: Path, name: str, events) -> Path:
    run_dir = root / name
    run_dir.mkdir()
    (run_dir / "events.jsonl").write_text("".join(to_json(e) + "\n" for e in events), encoding="utf-8")
    return run_dir


def test_missing_folder_exits_2_naming_it(tmp_path, subprocess_env):
    result = attach(str(tmp_path / "no-such-run"), env=subprocess_env)
    assert result.returncode == 2
    assert "no-such-run: no such run folder" in result.stderr
    assert "Traceback" not in result.stderr


def test_folder_without_events_exits_2(tmp_path, subprocess_env):
    (tmp_path / "empty").mkdir()
    result = attach(str(tmp_path / "empty"), env=subprocess_env)
    assert result.returncode == 2
    assert "no events.jsonl" in result.stderr and "empty" in result.stderr


def test_without_a_terminal_prints_a_summary_of_each_run(tmp_path, subprocess_env):
    good = make_run(tmp_path, "run-good", scripted_run(40, finish=True))
    bad = make_run(
        tmp_path,
        "run-bad",
        scripted_run(7, diagnostics=False)
        + [Failed(error="loss is NaN at step 7", step=7, code="nan_loss", time=T0 + 9)],
    )
    with open(bad / "events.jsonl", "a", encoding="utf-8") as fh:
        fh.write("this is not json\n")
    result = attach(str(good), str(bad), env=subprocess_env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"{good}: completed" in out
    assert "step 40/200" in out
    assert "warning overfitting at step 40" in out
    assert f"{bad}: failed" in out and "error: loss is NaN at step 7" in out
    assert "1 malformed line(s)" in out


def test_json_summary(tmp_path, subprocess_env):
    run_dir = make_run(tmp_path, "run-a", scripted_run(20))
    result = attach("--json", str(run_dir), env=subprocess_env)
    assert result.returncode == 0, result.stderr
    (summary,) = json.loads(result.stdout)
    # No end event and its writer (pid 4242 of the script) is gone: killed, by the rule `runs` uses.
    assert summary["status"] == "killed" and summary["step"] == 20
    assert summary["diagnostics"][0]["code"] == "overfitting"
    assert summary["train_loss"] > 0 and summary["events"] == len(scripted_run(20))


def test_open_train_app_attaches_on_mount(tmp_path, monkeypatch):
    """`attach` in a terminal goes through open_train_app, which follows the folders once the pane is mounted."""
    import asyncio

    from tui_trainer import app as app_module
    from tui_trainer.app import TrainerApp
    from tui_trainer.panes import train as train_module

    a = make_run(tmp_path, "run-a", scripted_run(30, finish=True))
    b = make_run(tmp_path, "run-b", scripted_run(30, finish=True, loss_scale=2))
    seen = {}

    def fake_run(self: TrainerApp, **_kwargs):
        async def drive():
            async with self.run_test(size=(120, 40)) as pilot:
                pane = self.query_one(train_module.TrainPane)
                for _ in range(100):
                    if len(pane.runs) == 2 and all(
                        s.history.status == "completed" for s in pane.runs.values()
                    ):
                        break
                    await pilot.pause(0.05)
                seen["labels"] = [s.history.label for s in pane.runs.values()]
                seen["primary"] = pane.runs[pane.primary].history.label
                seen["active"] = self.active_pane_id
                self.exit(0)

        asyncio.run(drive())

    monkeypatch.setattr(TrainerApp, "run", fake_run)
    assert app_module.open_train_app(attach_dirs=(a, b)) == 0
    assert seen == {"labels": ["run-a", "run-b"], "primary": "run-a", "active": "train"}


def test_open_train_app_starts_the_run_it_is_given(tmp_path, monkeypatch):
    """`tui-trainer train CONFIG` in a terminal: the pane starts (or resumes) that run once mounted."""
    import asyncio

    from tests.panes.fakes_engine import FakeEngine
    from tui_trainer import app as app_module
    from tui_trainer.app import TrainerApp
    from tui_trainer.panes import train as train_module

    launches = []

    def launch(config_path, overrides, run_dir, resume):
        launches.append((config_path, overrides, run_dir, resume))
        return FakeEngine(scripted_run(10, finish=True)), run_dir

    seen = {}

    def fake_run(self: TrainerApp, **_kwargs):
        async def drive():
            async with self.run_test(size=(120, 40)) as pilot:
                pane = self.query_one(train_module.TrainPane)
                for _ in range(100):
                    if pane.primary and pane.runs[pane.primary].history.status == "completed":
                        break
                    await pilot.pause(0.05)
                seen["status"] = pane.runs[pane.primary].history.status
                self.exit(0)

        asyncio.run(drive())

    monkeypatch.setattr(train_module, "launch_engine", launch)
    monkeypatch.setattr(TrainerApp, "run", fake_run)
    code = app_module.open_train_app(
        config_path=tmp_path / "c.toml", overrides=["optim.lr=0.1"], run_dir=tmp_path / "r", resume=True
    )
    assert code == 0 and seen == {"status": "completed"}
    assert launches == [(tmp_path / "c.toml", ("optim.lr=0.1",), tmp_path / "r", True)]
