"""The one NVML wrapper (nvidia-ml-py) for the GPU audit probe and training telemetry.

Every call is guarded on its own: a reading the driver does not support on a board (power on some, the
process list in containers, ECC on consumer cards) comes back as None, never an exception, and names come back
as str whether the binding returns bytes (old pynvml) or str. Callers pass the NVML module — a fake in tests —
or let `NVML()` import `pynvml`. Shaped after nvitop's `api.Device`: one object per GPU, one method per reading.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# NVML reports "not available" as the all-ones unsigned value (process memory in containers, for one).
_UNSIGNED_LIMIT = 2**63


def text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def call(fn: Callable[..., Any] | None, *args: Any) -> Any:
    """One NVML call; None when the driver does not support it on this GPU (or anything else goes wrong)."""
    if fn is None:
        return None
    try:
        return fn(*args)
    except Exception:
        return None


@dataclass(frozen=True)
class GpuProcess:
    pid: int
    used_bytes: int | None  # None where NVML cannot say (containers, some drivers)


class Device:
    """One GPU's readings; each method returns None (or []) where this board or driver cannot say."""

    def __init__(self, nvml: Any, index: int, handle: Any) -> None:
        self.nvml, self.index, self.handle = nvml, index, handle

    @property
    def opened(self) -> bool:
        return self.handle is not None

    def _read(self, name: str, *args: Any) -> Any:
        return call(getattr(self.nvml, name, None), self.handle, *args)

    def name(self) -> str | None:
        value = self._read("nvmlDeviceGetName")
        return text(value) if value is not None else None

    def uuid(self) -> str | None:
        value = self._read("nvmlDeviceGetUUID")
        return text(value) if value is not None else None

    def pci_bus_id(self) -> str | None:
        pci = self._read("nvmlDeviceGetPciInfo")
        return (text(getattr(pci, "busId", "")) or None) if pci is not None else None

    def capability(self) -> str | None:
        value = self._read("nvmlDeviceGetCudaComputeCapability")
        return f"{value[0]}.{value[1]}" if value else None

    def memory(self) -> tuple[int, int] | None:
        """(used, total) in bytes."""
        info = self._read("nvmlDeviceGetMemoryInfo")
        return (int(info.used), int(info.total)) if info is not None else None

    def utilization(self) -> tuple[float, float] | None:
        """(GPU busy %, memory-controller busy %) over the driver's last sample period."""
        rates = self._read("nvmlDeviceGetUtilizationRates")
        return (float(rates.gpu), float(rates.memory)) if rates is not None else None

    def temperature_c(self) -> float | None:
        value = self._read("nvmlDeviceGetTemperature", getattr(self.nvml, "NVML_TEMPERATURE_GPU", 0))
        return float(value) if value is not None else None

    def power_w(self) -> float | None:
        value = self._read("nvmlDeviceGetPowerUsage")
        return value / 1000.0 if value is not None else None

    def power_limit_w(self) -> float | None:
        value = self._read("nvmlDeviceGetEnforcedPowerLimit")
        return value / 1000.0 if value is not None else None

    def ecc_uncorrected(self) -> int | None:
        value = self._read(
            "nvmlDeviceGetTotalEccErrors",
            getattr(self.nvml, "NVML_MEMORY_ERROR_TYPE_UNCORRECTED", 1),
            getattr(self.nvml, "NVML_VOLATILE_ECC", 0),
        )
        return int(value) if value is not None else None

    def processes(self, graphics: bool = False) -> list[GpuProcess]:
        """Compute processes on this GPU (and graphics ones with `graphics`), one entry per pid."""
        getters = ["nvmlDeviceGetComputeRunningProcesses"]
        if graphics:
            getters.append("nvmlDeviceGetGraphicsRunningProcesses")
        found: dict[int, GpuProcess] = {}
        for getter in getters:
            for proc in self._read(getter) or []:
                pid = int(getattr(proc, "pid", 0))
                used = getattr(proc, "usedGpuMemory", None)
                valid = isinstance(used, int) and not isinstance(used, bool) and 0 <= used < _UNSIGNED_LIMIT
                if pid not in found or found[pid].used_bytes is None:
                    found[pid] = GpuProcess(pid, used if valid else None)
        return list(found.values())


class NVML:
    """An NVML session: `open()` (nvmlInit), `devices()`, readings, `close()` (nvmlShutdown); a context manager.

    `module` is the NVML binding ("auto" imports `pynvml`; None means no NVML). `error` says why it did not open.
    """

    def __init__(self, module: Any = "auto") -> None:
        self.error: str | None = None
        if module == "auto":
            try:
                import pynvml as module  # nvidia-ml-py
            except Exception as exc:
                module = None
                self.error = f"nvidia-ml-py is not importable: {exc}"
        elif module is None:
            self.error = "NVML not available"
        self.module = module
        self.opened = False

    def open(self) -> bool:
        if self.module is None:
            return False
        try:
            self.module.nvmlInit()
        except Exception as exc:
            self.error = text(exc) or type(exc).__name__
            return False
        self.opened = True
        return True

    def close(self) -> None:
        if self.opened:
            call(getattr(self.module, "nvmlShutdown", None))
            self.opened = False

    def __enter__(self) -> NVML:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def driver_version(self) -> str | None:
        value = call(getattr(self.module, "nvmlSystemGetDriverVersion", None))
        return text(value) if value is not None else None

    def cuda_driver_version(self) -> str | None:
        """The CUDA version the driver supports, "12.4"."""
        fn = getattr(self.module, "nvmlSystemGetCudaDriverVersion_v2", None) or getattr(
            self.module, "nvmlSystemGetCudaDriverVersion", None
        )
        value = call(fn)
        return f"{value // 1000}.{(value % 1000) // 10}" if value else None

    def devices(self) -> list[Device]:
        """Every GPU NVML counts, in NVML order; one it cannot open has `opened` False."""
        if not self.opened:
            return []
        count = call(getattr(self.module, "nvmlDeviceGetCount", None)) or 0
        get = getattr(self.module, "nvmlDeviceGetHandleByIndex", None)
        return [Device(self.module, i, call(get, i)) for i in range(int(count))]
