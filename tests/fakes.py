"""Fakes for tests that must not depend on this machine: NVML, torch build info, package metadata.

Shared by every area; add to it, do not change what a fake means (other tests rely on it).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

MIB = 1024 * 1024


class FakeNVMLError(Exception):
    """Stands in for pynvml.NVMLError."""


@dataclass
class FakeGPU:
    name: str = "NVIDIA A100-SXM4-80GB"
    uuid: str = "GPU-1111aaaa-0000-0000-0000-000000000000"
    capability: tuple[int, int] = (8, 0)
    memory_total_mib: int = 81920
    memory_used_mib: int = 512
    utilization_pct: int = 0
    temperature_c: int = 40
    power_mw: int = 60_000
    power_limit_mw: int = 400_000
    ecc_uncorrected: int = 0
    processes: list[tuple[int, int | None]] = field(default_factory=list)  # (pid, used MiB or None: unknown)
    pci_bus_id: str = "00000000:07:00.0"
    graphics_processes: list[tuple[int, int | None]] = field(default_factory=list)
    unsupported: set[str] = field(default_factory=set)  # NVML calls this board's driver does not support
    name_as_bytes: bool = True  # old pynvml returned bytes, new returns str; both must be decoded


class FakeNVML:
    """A module-like object with the pynvml calls the GPU probe and the telemetry sampler make.

    `fail` names calls that raise FakeNVMLError (driver does not support them); `hang` names calls that block
    until `release()` (a hung driver); `init_error` makes nvmlInit fail (no driver).
    """

    NVML_TEMPERATURE_GPU = 0
    NVML_MEMORY_ERROR_TYPE_UNCORRECTED = 1
    NVML_VOLATILE_ECC = 0

    def __init__(
        self,
        gpus: list[FakeGPU] | None = None,
        driver: str = "550.54.14",
        cuda_driver: int | None = 12040,
        init_error: str | None = None,
        fail: set[str] | None = None,
        hang: set[str] | None = None,
    ) -> None:
        self.gpus = list(gpus or [])
        self.driver = driver
        self.cuda_driver = cuda_driver
        self.init_error = init_error
        self.fail = set(fail or ())
        self.hang = set(hang or ())
        self._released = threading.Event()
        self.calls: list[str] = []
        self.shutdown_called = False

    def release(self) -> None:
        self._released.set()

    def _call(self, name: str, gpu: FakeGPU | None = None) -> None:
        self.calls.append(name)
        if name in self.hang:
            self._released.wait(60)
        if name in self.fail or (gpu is not None and name in gpu.unsupported):
            raise FakeNVMLError(f"{name}: Not Supported")

    def nvmlInit(self) -> None:
        self._call("nvmlInit")
        if self.init_error:
            raise FakeNVMLError(self.init_error)

    def nvmlShutdown(self) -> None:
        self.shutdown_called = True

    def nvmlSystemGetDriverVersion(self) -> str:
        self._call("nvmlSystemGetDriverVersion")
        return self.driver

    def nvmlSystemGetCudaDriverVersion(self) -> int:
        self._call("nvmlSystemGetCudaDriverVersion")
        if self.cuda_driver is None:
            raise FakeNVMLError("Not Supported")
        return self.cuda_driver

    def nvmlDeviceGetCount(self) -> int:
        self._call("nvmlDeviceGetCount")
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> FakeGPU:
        self._call("nvmlDeviceGetHandleByIndex")
        return self.gpus[index]

    def nvmlDeviceGetName(self, gpu: FakeGPU) -> bytes:
        self._call("nvmlDeviceGetName", gpu)
        return gpu.name.encode() if gpu.name_as_bytes else gpu.name

    def nvmlDeviceGetUUID(self, gpu: FakeGPU) -> str:
        self._call("nvmlDeviceGetUUID", gpu)
        return gpu.uuid

    def nvmlDeviceGetPciInfo(self, gpu: FakeGPU) -> Any:
        self._call("nvmlDeviceGetPciInfo", gpu)
        return SimpleNamespace(busId=gpu.pci_bus_id)

    def nvmlDeviceGetCudaComputeCapability(self, gpu: FakeGPU) -> tuple[int, int]:
        self._call("nvmlDeviceGetCudaComputeCapability", gpu)
        return gpu.capability

    def nvmlDeviceGetMemoryInfo(self, gpu: FakeGPU) -> Any:
        self._call("nvmlDeviceGetMemoryInfo", gpu)
        total, used = gpu.memory_total_mib * MIB, gpu.memory_used_mib * MIB
        return SimpleNamespace(total=total, used=used, free=total - used)

    def nvmlDeviceGetUtilizationRates(self, gpu: FakeGPU) -> Any:
        self._call("nvmlDeviceGetUtilizationRates", gpu)
        return SimpleNamespace(gpu=gpu.utilization_pct, memory=0)

    def nvmlDeviceGetTemperature(self, gpu: FakeGPU, sensor: int) -> int:
        self._call("nvmlDeviceGetTemperature", gpu)
        return gpu.temperature_c

    def nvmlDeviceGetPowerUsage(self, gpu: FakeGPU) -> int:
        self._call("nvmlDeviceGetPowerUsage", gpu)
        return gpu.power_mw

    def nvmlDeviceGetEnforcedPowerLimit(self, gpu: FakeGPU) -> int:
        self._call("nvmlDeviceGetEnforcedPowerLimit", gpu)
        return gpu.power_limit_mw

    def nvmlDeviceGetTotalEccErrors(self, gpu: FakeGPU, error_type: int, counter: int) -> int:
        self._call("nvmlDeviceGetTotalEccErrors", gpu)
        return gpu.ecc_uncorrected

    def nvmlDeviceGetComputeRunningProcesses(self, gpu: FakeGPU) -> list[Any]:
        self._call("nvmlDeviceGetComputeRunningProcesses", gpu)
        return _processes(gpu.processes)

    def nvmlDeviceGetGraphicsRunningProcesses(self, gpu: FakeGPU) -> list[Any]:
        self._call("nvmlDeviceGetGraphicsRunningProcesses", gpu)
        return _processes(gpu.graphics_processes)


def _processes(entries: list[tuple[int, int | None]]) -> list[Any]:
    return [
        SimpleNamespace(pid=pid, usedGpuMemory=None if used is None else used * MIB) for pid, used in entries
    ]


def fake_torch(**overrides: Any) -> dict[str, Any]:
    """Torch facts as `torch_build.collect` reports them; defaults: a working CUDA 12.4 build on one A100."""
    facts: dict[str, Any] = {
        "installed": True,
        "distribution_version": "2.5.1+cu124",
        "version": "2.5.1+cu124",
        "build": "cuda",
        "cuda": "12.4",
        "hip": None,
        "cudnn": 90100,
        "cuda_available": True,
        "device_count": 1,
        "arch_list": ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"],
        "bf16_supported": True,
        "devices": [{"index": 0, "name": "NVIDIA A100-SXM4-80GB", "capability": "8.0"}],
        "import_error": None,
        "probe_error": None,
        "cuda_error": None,
        "smoke": [],
        "smoke_requested": False,
    }
    facts.update(overrides)
    return facts


def fake_cpu_torch(**overrides: Any) -> dict[str, Any]:
    facts = fake_torch(
        distribution_version="2.5.1+cpu",
        version="2.5.1+cpu",
        build="cpu",
        cuda=None,
        cudnn=None,
        cuda_available=False,
        device_count=0,
        arch_list=[],
        bf16_supported=None,
        devices=[],
    )
    facts.update(overrides)
    return facts


def fake_gpu_facts(
    gpus: list[dict[str, Any]] | None = None,
    driver: str = "550.54.14",
    cuda_driver: str | None = "12.4",
    **overrides: Any,
) -> dict[str, Any]:
    """NVML facts as `gpus.collect` reports them (one visible A100 by default)."""
    devices = gpus if gpus is not None else [fake_gpu_device()]
    facts = {
        "nvml": True,
        "error": None,
        "driver": driver,
        "cuda_driver": cuda_driver,
        "cuda_visible_devices": None,
        "cuda_device_order": None,
        "devices": devices,
        "unmatched_visible": [],
    }
    facts.update(overrides)
    return facts


def fake_gpu_device(
    index: int = 0, name: str = "NVIDIA A100-SXM4-80GB", capability: str = "8.0", **overrides: Any
) -> dict[str, Any]:
    device = {
        "index": index,
        "name": name,
        "uuid": f"GPU-{index:04d}",
        "capability": capability,
        "memory_total_mib": 81920,
        "memory_used_mib": 0,
        "utilization_pct": 0,
        "temperature_c": 40,
        "ecc_uncorrected": 0,
        "processes": [],
        "visible": True,
        "cuda_index": index,
        "driver": "550.54.14",
        "cuda_driver": "12.4",
    }
    device.update(overrides)
    return device


NO_NVML = {
    "nvml": False,
    "error": "NVML Shared Library Not Found",
    "driver": None,
    "cuda_driver": None,
    "devices": [],
    "unmatched_visible": [],
}


def fake_dist(name: str, version: str, *requires: str) -> dict[str, Any]:
    """One installed distribution as `packages.collect` reports it."""
    return {"name": name, "version": version, "requires": list(requires)}
