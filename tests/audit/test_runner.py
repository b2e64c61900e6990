"""The runner: probes run concurrently, a hung or crashing probe becomes a finding, progress is reported."""

from __future__ import annotations

import threading
import time

from tests.fakes import NO_NVML, FakeGPU, FakeNVML, fake_cpu_torch, fake_dist
from tui_trainer.audit import gpus
from tui_trainer.audit.runner import PROBES, AuditOptions, run_audit
from tui_trainer.findings import Severity


def fakes(**overrides):
    table = {
        "torch": lambda: fake_cpu_torch(),
        "python": lambda: {
            "version": "3.11.7",
            "executable": "/v/bin/python",
            "env_kind": "venv",
            "pip_version": "24.0",
        },
        "packages": lambda: {"installed": [fake_dist("numpy", "2.1.0")]},
        "gpus": lambda: dict(NO_NVML),
        "host": lambda: {},
        "project": lambda: {
            "cwd": "/w",
            "git_root": "/w",
            "dirty_files": 0,
            "lock_files": ["uv.lock"],
            "pinned_requirements": [],
            "logging_config": [],
            "tracking_dirs": ["runs"],
        },
    }
    table.update(overrides)
    return table


def test_probes_run_concurrently():
    def slow(value):
        def run():
            time.sleep(0.5)
            return value()

        return run

    table = {name: slow(fn) for name, fn in fakes().items()}
    started = time.monotonic()
    result = run_audit(AuditOptions(timeout=10), collectors=table)
    assert time.monotonic() - started < 1.5  # six half-second probes, not three seconds
    assert all(p.status == "ok" for p in result.probes)


def test_a_hung_nvml_call_times_out_into_an_error_finding():
    nvml = FakeNVML([FakeGPU()], hang={"nvmlDeviceGetCount"})
    try:
        started = time.monotonic()
        result = run_audit(
            AuditOptions(timeout=0.5), collectors=fakes(gpus=lambda: gpus.collect(nvml, environ={}))
        )
        assert time.monotonic() - started < 3
    finally:
        nvml.release()
    finding = next(f for f in result.findings if f.id == "audit.gpus_timeout")
    assert finding.severity is Severity.ERROR and "nvidia-smi" in finding.fix
    assert {p.name: p.status for p in result.probes}["gpus"] == "timeout"
    assert any(f.id == "torch.build" for f in result.findings)  # the other probes still reported


def test_a_crashing_probe_becomes_an_error_finding_and_others_still_report():
    def boom():
        raise RuntimeError("metadata exploded")

    result = run_audit(AuditOptions(timeout=5), collectors=fakes(packages=boom))
    finding = next(f for f in result.findings if f.id == "audit.packages_failed")
    assert "metadata exploded" in finding.detail
    assert {"python.environment", "torch.build", "gpus.nvml_unavailable"} <= {f.id for f in result.findings}


def test_progress_is_reported_once_per_probe_in_completion_order():
    calls = []
    run_audit(
        AuditOptions(timeout=5),
        collectors=fakes(),
        progress=lambda update: calls.append((update.probe, update.done)),
    )
    assert sorted(name for name, _ in calls) == sorted(PROBES)
    assert [done for _, done in calls] == list(range(1, len(PROBES) + 1))


def test_cancel_stops_waiting():
    cancel = threading.Event()
    release = threading.Event()

    def stuck():
        release.wait(10)
        return {}

    threading.Timer(0.2, cancel.set).start()
    started = time.monotonic()
    result = run_audit(AuditOptions(timeout=30), collectors=fakes(host=stuck), cancel=cancel)
    release.set()
    assert time.monotonic() - started < 2
    assert {p.name: p.status for p in result.probes}["host"] == "cancelled"


def test_findings_come_back_worst_first():
    result = run_audit(AuditOptions(timeout=5), collectors=fakes(torch=lambda: {"installed": False}))
    ranks = [f.severity.rank for f in result.findings]
    assert ranks == sorted(ranks, reverse=True) and result.findings[0].id == "torch.missing"


def test_gpu_machine_end_to_end_with_fake_nvml_and_torch():
    from tests.fakes import fake_torch
    from tui_trainer.audit import report

    blackwell = FakeGPU(name="NVIDIA GeForce RTX 5090", uuid="GPU-5090", capability=(12, 0))
    nvml = FakeNVML([blackwell], driver="570.86.10", cuda_driver=12080)
    torch = fake_torch(
        devices=[{"index": 0, "name": "NVIDIA GeForce RTX 5090", "capability": "12.0"}],
        smoke=[
            {"device": "cpu", "ok": True, "error": None},
            {
                "device": "cuda:0",
                "ok": False,
                "error": "RuntimeError: CUDA error: no kernel image is available for execution on the device",
            },
        ],
    )
    result = run_audit(
        AuditOptions(timeout=5),
        collectors=fakes(gpus=lambda: gpus.collect(nvml, environ={}), torch=lambda: torch),
    )
    doc = report.to_json(result)
    assert doc["gpus"][0]["name"] == "NVIDIA GeForce RTX 5090" and doc["gpus"][0]["capability"] == "12.0"
    ids = [f["id"] for f in doc["findings"]]
    assert ids[:2] == ["torch.arch_unsupported", "torch.smoke_failed"]
    assert doc["findings"][0]["fix"].endswith("/whl/cu128")
    assert report.exit_code(result) == 1
