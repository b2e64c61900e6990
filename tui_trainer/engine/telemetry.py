"""System telemetry for `system` events: per-GPU readings and processes via NVML, host CPU/RAM via psutil.

The sampler takes the NVML module as a parameter (default: `pynvml` from nvidia-ml-py), so tests drive the
GPU path with a fake on machines without a GPU. Every NVML call is guarded on its own: a reading a driver
does not support (power on some boards, processes in containers) is left out, never fatal.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from tui_trainer.engine.events import System

log = logging.getLogger("tui_trainer.engine.telemetry")


def _load_nvml() -> Any | None:
    try:
        import pynvml
    except ImportError:
        return None
    return pynvml


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class TelemetrySampler:
    """`sample()` returns one System event; `start(emit)` samples every `interval_s` on a daemon thread."""

    def __init__(
        self,
        interval_s: float = 1.0,
        training_pids: set[int] | None = None,
        nvml: Any | None = "auto",
    ) -> None:
        self.interval_s = interval_s
        self.training_pids = set(training_pids or {os.getpid()})
        self._nvml = _load_nvml() if nvml == "auto" else nvml
        self._nvml_ok = False
        self._handles: list[Any] = []
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._proc = None
        try:
            import psutil

            self._psutil = psutil
            self._proc = psutil.Process(os.getpid())
            psutil.cpu_percent(None)  # the first call only primes the counter
        except Exception:  # pragma: no cover - psutil is a dependency; tolerate odd platforms
            self._psutil = None
        if self._nvml is not None:
            try:
                self._nvml.nvmlInit()
                count = self._nvml.nvmlDeviceGetCount()
                self._handles = [self._nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
                self._nvml_ok = True
            except Exception as exc:  # no driver, no GPU: CPU/RAM only
                log.debug("NVML unavailable: %s", exc)
                self._handles = []

    @property
    def has_gpus(self) -> bool:
        return bool(self._handles)

    def _gpu(self, index: int, handle: Any) -> dict[str, Any]:
        nv = self._nvml
        info: dict[str, Any] = {"index": index}

        def read(key: str, fn: Callable[[], Any]) -> None:
            try:
                info[key] = fn()
            except Exception:
                pass

        read("name", lambda: _text(nv.nvmlDeviceGetName(handle)))
        read("uuid", lambda: _text(nv.nvmlDeviceGetUUID(handle)))
        read("utilization_percent", lambda: float(nv.nvmlDeviceGetUtilizationRates(handle).gpu))
        read("memory_utilization_percent", lambda: float(nv.nvmlDeviceGetUtilizationRates(handle).memory))

        def mem() -> None:
            m = nv.nvmlDeviceGetMemoryInfo(handle)
            info["memory_used_bytes"] = int(m.used)
            info["memory_total_bytes"] = int(m.total)

        try:
            mem()
        except Exception:
            pass
        read("temperature_c", lambda: float(nv.nvmlDeviceGetTemperature(handle, nv.NVML_TEMPERATURE_GPU)))
        read("power_w", lambda: nv.nvmlDeviceGetPowerUsage(handle) / 1000.0)
        read("power_limit_w", lambda: nv.nvmlDeviceGetEnforcedPowerLimit(handle) / 1000.0)
        procs: dict[int, dict[str, Any]] = {}
        for getter in ("nvmlDeviceGetComputeRunningProcesses", "nvmlDeviceGetGraphicsRunningProcesses"):
            try:
                found = getattr(nv, getter)(handle)
            except Exception:
                continue
            for p in found:
                pid = int(p.pid)
                used = getattr(p, "usedGpuMemory", None)
                entry = procs.setdefault(pid, {"pid": pid, "memory_bytes": None, "name": None})
                if isinstance(used, int) and used >= 0 and used < 2**63:
                    entry["memory_bytes"] = used
        for pid, entry in procs.items():
            entry["training"] = pid in self.training_pids
            if self._psutil is not None:
                try:
                    p = self._psutil.Process(pid)
                    entry["name"] = p.name()
                    entry["user"] = p.username()
                except Exception:
                    pass
        info["processes"] = sorted(procs.values(), key=lambda e: (not e["training"], e["pid"]))
        return info

    def sample(self) -> System:
        gpus = [self._gpu(i, h) for i, h in enumerate(self._handles)] if self._nvml_ok else []
        cpu = ram_used = ram_total = rss = None
        if self._psutil is not None:
            try:
                cpu = float(self._psutil.cpu_percent(None))
                vm = self._psutil.virtual_memory()
                ram_used, ram_total = int(vm.total - vm.available), int(vm.total)
                if self._proc is not None:
                    rss = int(self._proc.memory_info().rss)
            except Exception:
                pass
        return System(
            gpus=gpus,
            cpu_percent=cpu,
            ram_used_bytes=ram_used,
            ram_total_bytes=ram_total,
            process_rss_bytes=rss,
        )

    def start(self, emit: Callable[[System], None]) -> None:
        def loop() -> None:
            while not self._stop.wait(self.interval_s):
                try:
                    emit(self.sample())
                except Exception as exc:  # telemetry must never take training down
                    log.debug("telemetry sample failed: %s", exc)

        self._thread = threading.Thread(target=loop, name="tui-trainer-telemetry", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._nvml_ok:
            try:
                self._nvml.nvmlShutdown()
            except Exception:
                pass
