"""System telemetry for `system` events: per-GPU readings and processes via NVML, host CPU/RAM via psutil.

The sampler takes the NVML module as a parameter (default: `pynvml` from nvidia-ml-py), so tests drive the
GPU path with a fake on machines without a GPU. NVML goes through `audit.nvml`, the wrapper the GPU audit uses:
a reading a driver does not support (power on some boards, processes in containers) is left out, never fatal.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from tui_trainer.audit.nvml import NVML, Device
from tui_trainer.engine.events import System

log = logging.getLogger("tui_trainer.engine.telemetry")


def _load_nvml() -> Any:
    """The NVML binding the sampler uses by default (tests replace this)."""
    return "auto"


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
        self._nvml = NVML(_load_nvml() if nvml == "auto" else nvml)
        self._devices: list[Device] = []
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
        if self._nvml.open():
            self._devices = [d for d in self._nvml.devices() if d.opened]
        else:  # no driver, no GPU: CPU/RAM only
            log.debug("NVML unavailable: %s", self._nvml.error)

    @property
    def has_gpus(self) -> bool:
        return bool(self._devices)

    def _gpu(self, gpu: Device) -> dict[str, Any]:
        info: dict[str, Any] = {"index": gpu.index}
        readings = {
            "name": gpu.name(),
            "uuid": gpu.uuid(),
        }
        rates = gpu.utilization()
        if rates is not None:
            readings["utilization_percent"], readings["memory_utilization_percent"] = rates
        memory = gpu.memory()
        if memory is not None:
            readings["memory_used_bytes"], readings["memory_total_bytes"] = memory
        readings["temperature_c"] = gpu.temperature_c()
        readings["power_w"] = gpu.power_w()
        readings["power_limit_w"] = gpu.power_limit_w()
        info.update({k: v for k, v in readings.items() if v is not None})  # unsupported readings are left out
        procs = []
        for proc in gpu.processes(graphics=True):
            entry: dict[str, Any] = {"pid": proc.pid, "memory_bytes": proc.used_bytes, "name": None}
            entry["training"] = proc.pid in self.training_pids
            if self._psutil is not None:
                try:
                    p = self._psutil.Process(proc.pid)
                    entry["name"] = p.name()
                    entry["user"] = p.username()
                except Exception:
                    pass
            procs.append(entry)
        info["processes"] = sorted(procs, key=lambda e: (not e["training"], e["pid"]))
        return info

    def sample(self) -> System:
        gpus = [self._gpu(d) for d in self._devices]
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
        self._nvml.close()
