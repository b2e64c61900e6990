"""GpuView: per-GPU utilisation, memory, temperature and power with the processes on each, as nvitop shows them.

It renders one `System` telemetry event (NVML readings and psutil host figures) and never polls anything
itself: the engine samples, the run store keeps the latest sample, the pane hands it here. Where there is no
GPU it shows CPU and RAM instead, so the box is never empty on a laptop.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from tui_trainer.engine.events import System

GIB = 1024**3


def _bar(fraction: float | None, width: int = 10) -> str:
    if fraction is None:
        return " " * width
    fraction = min(1.0, max(0.0, fraction))
    full = int(fraction * width)
    partial = " ▏▎▍▌▋▊▉"[int((fraction * width - full) * 8)] if full < width else ""
    return ("█" * full + partial).ljust(width)


def _pick(data: dict[str, Any], *keys: str) -> Any:
    """The first of `keys` that is set: the engine's telemetry spells them `*_bytes`, `*_percent`, `*_c`."""
    for key in keys:
        if data.get(key) is not None:
            return data[key]
    return None


def _gib(value: Any) -> str:
    try:
        return f"{float(value) / GIB:.1f}"
    except (TypeError, ValueError):
        return "?"


def _num(value: Any, unit: str, digits: int = 0) -> str:
    try:
        return f"{float(value):.{digits}f}{unit}"
    except (TypeError, ValueError):
        return "—"


class GpuView(Static):
    """Telemetry of the machine the run trains on; `show(system, training_pid)` redraws it."""

    DEFAULT_CSS = """
    GpuView { height: auto; padding: 0 1; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__("", **kwargs)
        self._system: System | None = None
        self._training_pid: int | None = None
        self._shown = False

    def on_mount(self) -> None:
        self.update(self.render_text())

    def show(self, system: System | None, training_pid: int | None = None) -> None:
        # Called at the pane's redraw rate, but samples arrive at 1-2 Hz: re-render only on a new one.
        if self.is_mounted and self._shown and system is self._system and training_pid == self._training_pid:
            return
        self._shown = True
        self._system = system
        self._training_pid = training_pid
        self.update(self.render_text())

    def _var(self, name: str) -> str:
        return self.app.theme_variables.get(name, "") if self.is_attached else ""

    def _level_style(self, fraction: float | None) -> str:
        if fraction is None:
            return ""
        if fraction >= 0.9:
            return self._var("error")
        if fraction >= 0.7:
            return self._var("warning")
        return self._var("success")

    def render_text(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        system = self._system
        if system is None:
            text.append("No telemetry yet: GPU and CPU readings arrive with the run.", style="dim")
            return text
        if system.gpus:
            for gpu in system.gpus:
                self._gpu(text, gpu)
        else:
            text.append("No GPU: host telemetry\n", style="dim")
        self._host(text, system)
        return text

    def _gpu(self, text: Text, gpu: dict[str, Any]) -> None:
        util = _pick(gpu, "utilization_percent", "utilization")
        used = _pick(gpu, "memory_used_bytes", "memory_used")
        total = _pick(gpu, "memory_total_bytes", "memory_total")
        util_f = float(util) / 100 if isinstance(util, int | float) else None
        mem_f = (
            float(used) / float(total)
            if isinstance(used, int | float) and isinstance(total, int | float) and total
            else None
        )
        limit = gpu.get("power_limit_w")
        power = _num(gpu.get("power_w"), " W") + (
            f"/{_num(limit, ' W')}" if isinstance(limit, int | float) else ""
        )
        text.append(f"GPU{gpu.get('index', '?')} ", style="bold")
        text.append(
            f"{gpu.get('name', '')}  {_num(_pick(gpu, 'temperature_c', 'temperature'), '°C')}  {power}\n"
        )
        text.append(" util ")
        text.append(_bar(util_f), style=self._level_style(util_f))
        text.append(f" {_num(util, '%'):>5}")
        text.append("  mem ")
        text.append(_bar(mem_f), style=self._level_style(mem_f))
        text.append(f" {_gib(used)}/{_gib(total)} GiB\n")
        processes = gpu.get("processes") or []
        for proc in processes:
            training = bool(_pick(proc, "training", "is_training")) or (
                self._training_pid is not None and proc.get("pid") == self._training_pid
            )
            marker = "▶" if training else " "
            style = f"bold {self._var('accent')}".strip() if training else ""
            name = str(proc.get("name") or "?")[:24]
            user = str(proc.get("user") or "")[:12]
            memory = _gib(_pick(proc, "memory_bytes", "used_memory"))
            label = " (training)" if training else ""
            text.append(
                f"  {marker} {proc.get('pid', '?'):>7} {name:<24} {user:<12} {memory} GiB{label}\n",
                style=style,
            )
        if not processes:
            text.append("    no processes\n", style="dim")

    def _host(self, text: Text, system: System) -> None:
        cpu = system.cpu_percent
        cpu_f = cpu / 100 if cpu is not None else None
        text.append("CPU  ")
        text.append(_bar(cpu_f), style=self._level_style(cpu_f))
        text.append(f" {_num(cpu, '%'):>5}")
        used, total = system.ram_used_bytes, system.ram_total_bytes
        ram_f = used / total if used is not None and total else None
        text.append("  RAM ")
        text.append(_bar(ram_f), style=self._level_style(ram_f))
        text.append(f" {_gib(used)}/{_gib(total)} GiB")
        if system.process_rss_bytes is not None:
            text.append(f"  RSS {_gib(system.process_rss_bytes)} GiB")
