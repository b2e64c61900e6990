"""Environment pane through Pilot with an injected fake audit: findings, progress, re-run, copy fix, export."""

from __future__ import annotations

import threading
import time
import tomllib
from pathlib import Path

import pytest

from tests.fakes import NO_NVML, fake_cpu_torch, fake_dist, fake_gpu_facts, fake_torch
from tests.panes.layout import screen_text
from tui_trainer.app import make_app
from tui_trainer.audit import project, python_env, torch_build
from tui_trainer.audit.runner import PROBES, AuditOptions, AuditResult, ProbeReport, ProbeUpdate, run_audit
from tui_trainer.findings import Severity, sort_findings
from tui_trainer.panes import env
from tui_trainer.panes.env import EnvPane
from tui_trainer.widgets.findings_table import FindingDetail, FindingsTable

GIB = 1024**3


def fake_result(gpu: bool = True) -> AuditResult:
    """A deterministic audit: a CPU-only torch on a machine with an A100 (the classic mistake)."""
    python = {
        "version": "3.11.7",
        "implementation": "CPython",
        "executable": "/opt/venv/bin/python",
        "prefix": "/opt/venv",
        "env_kind": "venv",
        "venv": True,
        "pip_version": "24.0",
        "platform": "linux",
        "machine": "x86_64",
    }
    torch = fake_cpu_torch(smoke=[{"device": "cpu", "ok": True, "error": None}])
    gpus = fake_gpu_facts() if gpu else dict(NO_NVML)
    proj = {
        "cwd": "/work/exp",
        "git_root": None,
        "dirty_files": None,
        "lock_files": [],
        "pinned_requirements": [],
        "requirement_files": [],
        "logging_config": [],
        "tracking_dirs": [],
    }
    host = {
        "cpu_usable": 16,
        "ram_total_bytes": 64 * GIB,
        "ram_available_bytes": 48 * GIB,
        "shm": {"total_bytes": 64 * 1024**2},
    }
    findings = python_env.assess(python) + torch_build.assess(torch, gpus) + project.assess(proj)
    return AuditResult(
        python=python,
        packages={"installed": [fake_dist("numpy", "2.1.0")]},
        torch=torch,
        gpus=gpus,
        host=host,
        project=proj,
        findings=sort_findings(findings),
        probes=[ProbeReport(n, "ok", 0.1) for n in PROBES],
        seconds=1.25,
    )


class FakeAudit:
    """Counts calls, reports progress like the runner, and can be held until released."""

    def __init__(self, result: AuditResult | None = None, hold: bool = False) -> None:
        self.calls = 0
        self.result = result or fake_result()
        self.release = threading.Event()
        if not hold:
            self.release.set()

    def __call__(self, options, progress=None, cancel=None):
        self.calls += 1
        for done, name in enumerate(PROBES, start=1):
            if progress:
                progress(update(name, done, PROBES[:done]))
        self.release.wait(10)
        return self.result


def update(name: str, done: int, finished, findings=()) -> ProbeUpdate:
    """The runner's progress report after `finished` probes, as run_audit sends it."""
    report = ProbeReport(name, "ok", 0.1)
    return ProbeUpdate(name, done, len(PROBES), report, tuple(finished), tuple(findings))


async def settle(app, pilot) -> None:
    """Wait until the pane has shown an audit result (the audit starts right after the first refresh)."""
    pane = app.query_one(EnvPane)
    for _ in range(200):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if pane.result is not None:
            return
    raise AssertionError("the audit result never arrived")


@pytest.fixture
def fake_audit(monkeypatch):
    audit = FakeAudit()
    monkeypatch.setattr(env, "AUDIT_FUNCTION", audit)
    return audit


async def test_first_activation_runs_the_audit_and_shows_findings_worst_first(fake_audit):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        pane = app.query_one(EnvPane)
        table = pane.query_one(FindingsTable)
        assert fake_audit.calls == 1
        assert table.findings[0].id == "torch.cpu_build_with_gpu"
        assert [f.severity.rank for f in table.findings] == sorted(
            (f.severity.rank for f in table.findings), reverse=True
        )
        detail = str(pane.query_one(FindingDetail).render())
        assert "--index-url https://download.pytorch.org/whl/cu124" in detail
        summary = str(pane.query_one("#env-summary").render())
        assert "3.11.7" in summary and "CPU-only" in summary and "A100" in summary
        status = str(pane.query_one("#env-status").render())
        assert "1 error(s)" in status
        # Switching away and back does not re-run it.
        await pilot.press("2")
        await pilot.press("1")
        await app.workers.wait_for_complete()
        assert fake_audit.calls == 1


async def test_progress_messages_precede_the_result(monkeypatch):
    audit = FakeAudit()
    monkeypatch.setattr(env, "AUDIT_FUNCTION", audit)
    messages = []
    app = make_app()
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        await settle(app, pilot)
    kinds = [type(m).__name__ for m in messages if isinstance(m, (EnvPane.Progress, EnvPane.Finished))]
    assert kinds[-1] == "Finished" and "Progress" in kinds
    assert kinds.index("Progress") < kinds.index("Finished")


async def test_r_reruns_in_a_worker_without_blocking_the_ui(monkeypatch):
    audit = FakeAudit()
    monkeypatch.setattr(env, "AUDIT_FUNCTION", audit)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        pane = app.query_one(EnvPane)
        audit.release.clear()  # the next audit hangs until released
        await pilot.press("r")
        await pilot.pause()
        assert audit.calls == 2
        assert "Auditing" in str(pane.query_one("#env-status").render())
        # The UI still answers keys while the audit runs, and the old findings stay visible.
        await pilot.press("down")
        assert pane.query_one(FindingsTable).cursor_row == 1
        audit.result = fake_result(gpu=False)
        audit.release.set()
        await app.workers.wait_for_complete()
        await pilot.pause()
        ids = [f.id for f in pane.query_one(FindingsTable).findings]
        assert "torch.cpu_build_with_gpu" not in ids


async def test_y_copies_the_selected_fix(fake_audit):
    app = make_app()
    copied = []
    app.copy_to_clipboard = copied.append
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("y")
        await pilot.pause()
        assert copied == [
            "pip install --force-reinstall torch --index-url https://download.pytorch.org/whl/cu124"
        ]


async def test_e_exports_a_snapshot_and_says_where(fake_audit, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("e")  # asks where, offering ./env-snapshot.toml
        await pilot.pause()
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        path = tmp_path / "env-snapshot.toml"
        data = tomllib.loads(path.read_text())
        assert data["packages"] == {"numpy": "2.1.0"} and data["torch"]["build"] == "cpu"
        assert any(str(path) in str(n.message) for n in app._notifications)


async def test_e_exports_to_a_typed_path_and_esc_writes_nothing(fake_audit, tmp_path, monkeypatch):
    from textual.widgets import Input

    monkeypatch.chdir(tmp_path)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("e")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert list(tmp_path.iterdir()) == []
        await pilot.press("e")
        await pilot.pause()
        app.screen.query_one(Input).value = "snaps/gpu-box.toml"
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert tomllib.loads((tmp_path / "snaps" / "gpu-box.toml").read_text())["packages"] == {
            "numpy": "2.1.0"
        }


async def test_a_failing_audit_is_reported_not_raised(monkeypatch):
    def broken(options, progress=None, cancel=None):
        raise RuntimeError("probe table exploded")

    monkeypatch.setattr(env, "AUDIT_FUNCTION", broken)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        status = ""
        for _ in range(200):
            await app.workers.wait_for_complete()
            await pilot.pause()
            status = str(app.query_one(EnvPane).query_one("#env-status").render())
            if "failed" in status:
                break
        assert "probe table exploded" in status


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)], ids=["80x24", "120x40", "200x60"])
def test_env_pane_snapshot(snap_compare, monkeypatch, size):
    monkeypatch.setattr(env, "AUDIT_FUNCTION", FakeAudit(fake_result()))

    async def run_before(pilot):
        await settle(pilot.app, pilot)

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)


def test_fake_result_is_deterministic():
    assert fake_result().findings == fake_result().findings
    assert fake_result().findings[0].severity is Severity.ERROR
    assert fake_torch()["build"] == "cuda" and Path(env.__file__).with_suffix(".tcss").is_file()


async def test_a_result_landing_under_the_palette_does_not_steal_focus(monkeypatch):
    from textual.command import CommandPalette

    audit = FakeAudit(hold=True)
    monkeypatch.setattr(env, "AUDIT_FUNCTION", audit)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(200):
            if audit.calls:
                break
            await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        focused_before = app.focused
        audit.release.set()
        for _ in range(200):
            if app.query_one(EnvPane).result is not None:
                break
            await app.workers.wait_for_complete()
            await pilot.pause()
        assert isinstance(app.screen, CommandPalette) and app.focused is focused_before
        assert app.query_one(EnvPane).result is not None


async def test_audit_progress_names_the_probe_it_waits_for(monkeypatch):
    """5/6 probes done says which one is still running (the torch child, typically)."""
    release = threading.Event()

    def audit(options, progress=None, cancel=None):
        others = [n for n in PROBES if n != "torch"]
        for done, name in enumerate(others, start=1):
            progress(update(name, done, others[:done]))
        release.wait(10)
        progress(update("torch", len(PROBES), [*others, "torch"]))
        return fake_result()

    monkeypatch.setattr(env, "AUDIT_FUNCTION", audit)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(EnvPane)
        status = ""
        for _ in range(100):
            await pilot.pause(0.02)
            status = str(pane.query_one("#env-status").render())
            if "5/6" in status:
                break
        assert "5/6 probes done · waiting for PyTorch" in status
        release.set()
        await settle(app, pilot)
        # At 80 columns the result line keeps its last key: it wraps instead of losing "export".
        await pilot.pause()
        assert "e export" in screen_text(app) and "3 ok" in screen_text(app)


async def test_findings_stream_in_as_probes_finish_while_the_torch_child_still_runs(monkeypatch):
    """The real runner with slow fake probes: the GPU and Python findings show, and the status names
    PyTorch as the probe still running, before the torch child answers; then its finding joins them."""
    from tests.audit.test_runner import fakes

    torch_answers = threading.Event()

    def slow_torch():
        torch_answers.wait(10)
        return fake_cpu_torch()

    def slow(value, seconds):
        def run():
            time.sleep(seconds)
            return value

        return run

    collectors = fakes(torch=slow_torch, gpus=slow(fake_gpu_facts(), 0.05), host=slow({}, 0.3))

    def audit(options, progress=None, cancel=None):
        return run_audit(AuditOptions(timeout=10), progress=progress, cancel=cancel, collectors=collectors)

    monkeypatch.setattr(env, "AUDIT_FUNCTION", audit)
    messages = []
    app = make_app()
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        pane = app.query_one(EnvPane)
        table = pane.query_one(FindingsTable)
        status = ""
        for _ in range(300):
            await pilot.pause(0.02)
            status = str(pane.query_one("#env-status").render())
            if "5/6" in status:
                break
        assert "5/6 probes done · waiting for PyTorch" in status
        shown = {f.id for f in table.findings}
        assert "python.environment" in shown and "torch.cpu_build_with_gpu" not in shown
        assert pane.result is None  # only streamed findings so far
        partial = [m for m in messages if isinstance(m, EnvPane.Progress) and m.update.findings]
        assert partial and partial[0].update.probe != "torch"
        torch_answers.set()
        await settle(app, pilot)
        final = {f.id for f in table.findings}
        assert "torch.cpu_build_with_gpu" in final and shown <= final
        assert table.findings[0].id == "torch.cpu_build_with_gpu"  # worst first, once it is in
