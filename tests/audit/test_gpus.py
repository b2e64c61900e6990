"""GPU probe with a fake NVML: facts, CUDA_VISIBLE_DEVICES, failing and missing calls, and GPU findings."""

from __future__ import annotations

import pytest

from tests.fakes import FakeGPU, FakeNVML
from tui_trainer.audit import gpus
from tui_trainer.findings import Severity

TWO = [
    FakeGPU(name="NVIDIA A100-SXM4-80GB", uuid="GPU-aaaa1111", capability=(8, 0)),
    FakeGPU(name="NVIDIA H100 80GB HBM3", uuid="GPU-bbbb2222", capability=(9, 0)),
]


def ids(findings):
    return [f.id for f in findings]


def test_collect_reads_every_field_from_nvml():
    nvml = FakeNVML([FakeGPU(memory_used_mib=1024, processes=[(4242, 1000)], power_mw=123_400)])
    facts = gpus.collect(nvml, environ={})
    assert facts["nvml"] and facts["driver"] == "550.54.14" and facts["cuda_driver"] == "12.4"
    (device,) = facts["devices"]
    assert device["name"] == "NVIDIA A100-SXM4-80GB"  # bytes decoded
    assert device["capability"] == "8.0"
    assert device["memory_total_mib"] == 81920 and device["memory_used_mib"] == 1024
    assert device["power_w"] == 123.4 and device["temperature_c"] == 40 and device["ecc_uncorrected"] == 0
    assert device["processes"][0]["pid"] == 4242 and device["processes"][0]["used_mib"] == 1000
    assert device["visible"] is True and device["cuda_index"] == 0
    assert nvml.shutdown_called


def test_unsupported_calls_leave_gaps_not_crashes():
    nvml = FakeNVML(
        [FakeGPU()],
        fail={
            "nvmlDeviceGetPowerUsage",
            "nvmlDeviceGetTotalEccErrors",
            "nvmlSystemGetCudaDriverVersion",
            "nvmlDeviceGetComputeRunningProcesses",
        },
    )
    facts = gpus.collect(nvml, environ={})
    device = facts["devices"][0]
    assert device["power_w"] is None and device["ecc_uncorrected"] is None and device["processes"] == []
    assert facts["cuda_driver"] is None and device["name"]


def test_no_driver_is_one_info_finding_not_an_error():
    facts = gpus.collect(FakeNVML(init_error="NVML Shared Library Not Found"), environ={})
    assert facts["nvml"] is False and "Shared Library" in facts["error"]
    findings = gpus.assess(facts)
    assert ids(findings) == ["gpus.nvml_unavailable"]
    assert findings[0].severity is Severity.INFO


@pytest.mark.parametrize(
    ("value", "visible", "unmatched"),
    [
        (None, [0, 1], []),
        ("1", [1], []),
        ("1,0", [1, 0], []),
        ("", [], []),
        ("-1", [], ["-1"]),
        ("0,7,1", [0], ["7", "1"]),
        ("GPU-bbbb", [1], []),
        ("bbbb2222,GPU-aaaa1111", [1, 0], []),
        ("GPU-zzzz", [], ["GPU-zzzz"]),
        ("0,0", [0], ["0"]),
    ],
)
def test_cuda_visible_devices_follows_cuda_rules(value, visible, unmatched):
    devices = [{"index": 0, "uuid": "GPU-aaaa1111"}, {"index": 1, "uuid": "GPU-bbbb2222"}]
    assert gpus.parse_visible_devices(value, devices) == (visible, unmatched)


def test_collect_marks_gpus_hidden_by_cuda_visible_devices():
    facts = gpus.collect(FakeNVML(TWO), environ={"CUDA_VISIBLE_DEVICES": "1"})
    assert [(d["index"], d["visible"], d["cuda_index"]) for d in facts["devices"]] == [
        (0, False, None),
        (1, True, 0),
    ]


def test_every_gpu_hidden_is_a_warning_with_the_fix():
    facts = gpus.collect(FakeNVML(TWO), environ={"CUDA_VISIBLE_DEVICES": ""})
    finding = next(f for f in gpus.assess(facts) if f.id == "gpus.all_hidden")
    assert finding.severity is Severity.WARNING and finding.fix == "unset CUDA_VISIBLE_DEVICES"


def test_invalid_visible_entry_is_a_warning_listing_valid_indices():
    facts = gpus.collect(FakeNVML(TWO), environ={"CUDA_VISIBLE_DEVICES": "3"})
    finding = next(f for f in gpus.assess(facts) if f.id == "gpus.visible_devices_invalid")
    assert finding.fix == "export CUDA_VISIBLE_DEVICES=0,1" and "3" in finding.title


def test_mixed_models_suggest_pci_bus_order_unless_set():
    assert "gpus.device_order" in ids(gpus.assess(gpus.collect(FakeNVML(TWO), environ={})))
    facts = gpus.collect(FakeNVML(TWO), environ={"CUDA_DEVICE_ORDER": "PCI_BUS_ID"})
    assert "gpus.device_order" not in ids(gpus.assess(facts))


def test_ecc_heat_memory_and_busy_findings():
    hot = FakeGPU(
        ecc_uncorrected=3,
        temperature_c=91,
        memory_used_mib=70000,
        utilization_pct=97,
        processes=[(99999999, 70000)],
    )
    findings = gpus.assess(gpus.collect(FakeNVML([hot]), environ={}))
    assert {"gpus.ecc_errors", "gpus.hot", "gpus.memory_in_use", "gpus.busy", "gpus.device"} <= set(
        ids(findings)
    )
    ecc = next(f for f in findings if f.id == "gpus.ecc_errors")
    assert ecc.fix == "nvidia-smi -q -d ECC -i 0"


def test_healthy_gpu_gives_only_an_ok_finding():
    findings = gpus.assess(gpus.collect(FakeNVML([FakeGPU()]), environ={}))
    assert ids(findings) == ["gpus.device"] and findings[0].severity is Severity.OK


def test_one_nvml_wrapper_reads_the_same_gpu_for_audit_and_telemetry():
    """NVML's all-ones "not available" process memory is unknown in both, not 16 EiB in the audit."""
    import os
    from types import SimpleNamespace

    from tui_trainer.engine.telemetry import TelemetrySampler

    nvml = FakeNVML([FakeGPU(memory_used_mib=2048, temperature_c=66, power_mw=150_000)])
    nvml.nvmlDeviceGetComputeRunningProcesses = lambda gpu: [
        SimpleNamespace(pid=os.getpid(), usedGpuMemory=2**64 - 1)
    ]
    device = gpus.collect(nvml, environ={})["devices"][0]
    sampler = TelemetrySampler(nvml=nvml)
    gpu = sampler.sample().gpus[0]
    sampler.stop()
    assert device["processes"][0]["used_mib"] is None and gpu["processes"][0]["memory_bytes"] is None
    assert gpu["processes"][0]["training"] is True
    assert (device["name"], device["temperature_c"], device["power_w"]) == (gpu["name"], 66, 150.0)
    assert gpu["temperature_c"] == 66.0 and gpu["power_w"] == 150.0
    assert device["memory_used_mib"] * 2**20 == gpu["memory_used_bytes"]
