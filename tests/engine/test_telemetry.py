"""Telemetry: per-GPU readings and processes from (fake) NVML with the training process marked; CPU/RAM always."""

from __future__ import annotations

import os
import threading

from tests.fakes import FakeGPU, FakeNVML
from tui_trainer.engine.events import parse_line, to_json
from tui_trainer.engine.telemetry import TelemetrySampler

OTHER_PID = 999_999


def two_gpus(training_pid: int) -> FakeNVML:
    """A training process and an unknown one on GPU 0 (a str name); power unsupported on GPU 1 (a bytes name)."""
    busy = FakeGPU(
        name="Fake GPU",
        name_as_bytes=False,
        utilization_pct=87,
        temperature_c=71,
        memory_used_mib=6 * 1024,
        memory_total_mib=16 * 1024,
        power_mw=215_500,
        power_limit_mw=300_000,
        processes=[(training_pid, 4 * 1024), (OTHER_PID, None)],
        unsupported={"nvmlDeviceGetGraphicsRunningProcesses"},
    )
    idle = FakeGPU(
        name="Fake GPU 2",
        uuid="GPU-2",
        utilization_pct=3,
        temperature_c=35,
        unsupported={"nvmlDeviceGetPowerUsage"},
    )
    return FakeNVML([busy, idle])


def test_fake_nvml_sample_lists_gpus_and_marks_training_process():
    nvml = two_gpus(training_pid=os.getpid())
    sampler = TelemetrySampler(nvml=nvml)
    sample = sampler.sample()
    assert [g["index"] for g in sample.gpus] == [0, 1]
    gpu0, gpu1 = sample.gpus
    assert gpu0["name"] == "Fake GPU" and gpu1["name"] == "Fake GPU 2"  # bytes and str names both decoded
    assert gpu0["utilization_percent"] == 87.0 and gpu0["temperature_c"] == 71.0
    assert gpu0["memory_used_bytes"] == 6 * 2**30 and gpu0["memory_total_bytes"] == 16 * 2**30
    assert gpu0["power_w"] == 215.5 and gpu0["power_limit_w"] == 300.0
    assert "power_w" not in gpu1  # unsupported reading left out, not fatal
    procs = gpu0["processes"]
    assert procs[0]["pid"] == os.getpid() and procs[0]["training"] is True
    assert procs[0]["memory_bytes"] == 4 * 2**30 and procs[0]["name"]
    assert procs[1]["pid"] == OTHER_PID and procs[1]["training"] is False and procs[1]["memory_bytes"] is None
    assert gpu1["processes"] == []
    assert sample.cpu_percent is not None and sample.ram_total_bytes > 0 and sample.process_rss_bytes > 0
    assert parse_line(to_json(sample)) == sample
    sampler.stop()
    assert nvml.shutdown_called


def test_no_nvml_still_reports_cpu_and_ram():
    sample = TelemetrySampler(nvml=None).sample()
    assert sample.gpus == [] and sample.ram_used_bytes > 0


def test_nvml_init_failure_means_no_gpus():
    sampler = TelemetrySampler(nvml=FakeNVML([FakeGPU()], init_error="NVML Shared Library Not Found"))
    assert not sampler.has_gpus and sampler.sample().gpus == []


def test_sampler_thread_emits_at_its_interval():
    got = []
    done = threading.Event()

    def emit(event):
        got.append(event)
        if len(got) >= 2:
            done.set()

    sampler = TelemetrySampler(interval_s=0.05, nvml=two_gpus(os.getpid()))
    sampler.start(emit)
    assert done.wait(5)
    sampler.stop()
    assert all(e.type == "system" and len(e.gpus) == 2 for e in got)


def test_engine_writes_system_events_with_the_training_process_marked(tmp_path, monkeypatch):
    from tests.engine.conftest import write_config
    from tui_trainer.engine import telemetry
    from tui_trainer.engine.config import load_config
    from tui_trainer.engine.follow import EventFollower
    from tui_trainer.engine.loop import run_training

    monkeypatch.setattr(telemetry, "_load_nvml", lambda: two_gpus(training_pid=os.getpid()))
    cfg = load_config(write_config(tmp_path), ["telemetry.enabled=true", "telemetry.interval_s=0.01"])
    run_training(cfg, tmp_path / "run")
    systems = [e for e in EventFollower(tmp_path / "run").read_all() if e.type == "system"]
    assert systems, "no system events"
    gpu0 = systems[0].gpus[0]
    marked = [p for p in gpu0["processes"] if p["training"]]
    assert [p["pid"] for p in marked] == [os.getpid()]
    assert systems[0].cpu_percent is not None
