"""GPU probe through NVML (the `audit.nvml` wrapper: every call guarded), CUDA_VISIBLE_DEVICES honoured.

`collect(nvml)` takes the NVML module as a parameter so tests pass a fake one; `assess` is pure.
"""

from __future__ import annotations

import os
from typing import Any

from tui_trainer.audit.nvml import NVML, Device
from tui_trainer.findings import Finding, Severity

HOT_CELSIUS = 85
MIB = 1024 * 1024


def _process_name(pid: int) -> str | None:
    try:
        import psutil

        return psutil.Process(pid).name()
    except Exception:
        return None


def parse_visible_devices(value: str | None, devices: list[dict[str, Any]]) -> tuple[list[int], list[str]]:
    """Which NVML indices CUDA will see, in CUDA order, and the entries that matched nothing.

    Follows the CUDA runtime: unset means all; empty or an invalid entry ends the list (later entries are
    ignored even if valid); entries are indices or (prefixes of) GPU UUIDs.
    """
    if value is None:
        return [d["index"] for d in devices], []
    visible: list[int] = []
    tokens = [t.strip() for t in value.split(",")]
    for position, token in enumerate(tokens):
        if not token:
            if position == 0 and len(tokens) == 1:
                return [], []
            return visible, tokens[position:]
        match: int | None = None
        if token.lstrip("-").isdigit():
            number = int(token)
            if 0 <= number < len(devices):
                match = devices[number]["index"]
        else:
            wanted = token if token.upper().startswith(("GPU-", "MIG-")) else f"GPU-{token}"
            hits = [
                d["index"] for d in devices if str(d.get("uuid") or "").lower().startswith(wanted.lower())
            ]
            if len(hits) == 1:
                match = hits[0]
        if match is None or match in visible:
            return visible, [t for t in tokens[position:] if t]
        visible.append(match)
    return visible, []


def collect(nvml: Any = None, environ: dict[str, str] | None = None) -> dict[str, Any]:
    """NVML facts: driver, CUDA driver version and every GPU. `nvml` defaults to the real `pynvml`."""
    environ = dict(os.environ if environ is None else environ)
    facts: dict[str, Any] = {
        "nvml": False,
        "error": None,
        "driver": None,
        "cuda_driver": None,
        "cuda_visible_devices": environ.get("CUDA_VISIBLE_DEVICES"),
        "cuda_device_order": environ.get("CUDA_DEVICE_ORDER"),
        "devices": [],
        "unmatched_visible": [],
    }
    session = NVML("auto" if nvml is None else nvml)
    if not session.open():
        facts["error"] = session.error
        return facts
    try:
        facts["nvml"] = True
        facts["driver"] = session.driver_version()
        facts["cuda_driver"] = session.cuda_driver_version()
        for device in session.devices():
            facts["devices"].append(_device(device, facts))
        visible, unmatched = parse_visible_devices(facts["cuda_visible_devices"], facts["devices"])
        facts["unmatched_visible"] = unmatched
        for device in facts["devices"]:
            device["visible"] = device["index"] in visible
            device["cuda_index"] = visible.index(device["index"]) if device["index"] in visible else None
    finally:
        session.close()
    return facts


def _device(gpu: Device, facts: dict[str, Any]) -> dict[str, Any]:
    device: dict[str, Any] = {
        "index": gpu.index,
        "driver": facts["driver"],
        "cuda_driver": facts["cuda_driver"],
    }
    if not gpu.opened:
        device["error"] = "NVML could not open this GPU"
        return device
    device["name"] = gpu.name()
    device["uuid"] = gpu.uuid()
    device["pci_bus_id"] = gpu.pci_bus_id()
    device["capability"] = gpu.capability()
    memory = gpu.memory()
    device["memory_total_mib"] = memory[1] // MIB if memory is not None else None
    device["memory_used_mib"] = memory[0] // MIB if memory is not None else None
    rates = gpu.utilization()
    device["utilization_pct"] = int(rates[0]) if rates is not None else None
    temperature = gpu.temperature_c()
    device["temperature_c"] = int(temperature) if temperature is not None else None
    power, limit = gpu.power_w(), gpu.power_limit_w()
    device["power_w"] = round(power, 1) if power is not None else None
    device["power_limit_w"] = round(limit, 1) if limit is not None else None
    device["ecc_uncorrected"] = gpu.ecc_uncorrected()
    device["processes"] = [
        {
            "pid": proc.pid,
            "name": _process_name(proc.pid),
            "used_mib": proc.used_bytes // MIB if proc.used_bytes is not None else None,
        }
        for proc in gpu.processes()
    ]
    return device


def label(device: dict[str, Any]) -> str:
    return f"GPU {device.get('index')} ({device.get('name') or 'unknown model'})"


def assess(facts: dict[str, Any]) -> list[Finding]:
    findings: list[Finding] = []
    if not facts.get("nvml"):
        findings.append(
            Finding(
                "gpus.nvml_unavailable",
                Severity.INFO,
                "No NVIDIA GPU found (NVML unavailable)",
                f"NVML could not start: {facts.get('error') or 'unknown reason'}. Training will use the CPU "
                "(or a non-NVIDIA accelerator). If this machine has an NVIDIA GPU, its driver is not loaded.",
                "nvidia-smi",
                {"error": facts.get("error")},
            )
        )
        return findings
    devices = facts.get("devices") or []
    if not devices:
        findings.append(
            Finding(
                "gpus.none",
                Severity.INFO,
                "NVIDIA driver loaded but no GPU attached",
                f"Driver {facts.get('driver')} reports 0 devices.",
                "nvidia-smi -L",
                {"driver": facts.get("driver")},
            )
        )
        return findings
    for device in devices:
        memory = device.get("memory_total_mib")
        findings.append(
            Finding(
                "gpus.device",
                Severity.OK,
                f"{label(device)}, {memory / 1024:.0f} GiB" if memory else label(device),
                f"Compute capability {device.get('capability')}, driver {facts.get('driver')} "
                f"(CUDA {facts.get('cuda_driver')}), {'visible' if device.get('visible') else 'hidden'} to CUDA.",
                "",
                {
                    k: device.get(k)
                    for k in ("index", "uuid", "capability", "memory_total_mib", "temperature_c")
                },
            )
        )
        findings.extend(_device_findings(device))
    raw = facts.get("cuda_visible_devices")
    unmatched = facts.get("unmatched_visible") or []
    visible = [d for d in devices if d.get("visible")]
    valid = ",".join(str(d["index"]) for d in devices)
    if unmatched:
        findings.append(
            Finding(
                "gpus.visible_devices_invalid",
                Severity.WARNING,
                f"CUDA_VISIBLE_DEVICES has entries that match no GPU: {', '.join(unmatched)}",
                f"CUDA_VISIBLE_DEVICES={raw!r}. CUDA stops reading the list at the first entry that matches no "
                f"GPU, so {len(visible)} of {len(devices)} GPUs are visible. Valid indices: {valid}.",
                f"export CUDA_VISIBLE_DEVICES={valid}",
                {"CUDA_VISIBLE_DEVICES": raw, "unmatched": unmatched},
            )
        )
    elif raw is not None and not visible:
        findings.append(
            Finding(
                "gpus.all_hidden",
                Severity.WARNING,
                "CUDA_VISIBLE_DEVICES hides every GPU",
                f"CUDA_VISIBLE_DEVICES={raw!r}, so PyTorch will see no GPU and train on the CPU.",
                "unset CUDA_VISIBLE_DEVICES",
                {"CUDA_VISIBLE_DEVICES": raw},
            )
        )
    names = {d.get("name") for d in visible}
    if len(visible) > 1 and len(names) > 1 and facts.get("cuda_device_order") != "PCI_BUS_ID":
        findings.append(
            Finding(
                "gpus.device_order",
                Severity.INFO,
                "CUDA and nvidia-smi may number these mixed GPUs differently",
                "CUDA orders devices fastest first unless CUDA_DEVICE_ORDER=PCI_BUS_ID; nvidia-smi and NVML use "
                "PCI order, so `cuda:0` may not be GPU 0.",
                "export CUDA_DEVICE_ORDER=PCI_BUS_ID",
                {"models": sorted(str(n) for n in names)},
            )
        )
    return findings


def _device_findings(device: dict[str, Any]) -> list[Finding]:
    findings: list[Finding] = []
    index = device.get("index")
    ecc = device.get("ecc_uncorrected")
    if ecc:
        findings.append(
            Finding(
                "gpus.ecc_errors",
                Severity.WARNING,
                f"{label(device)} has {ecc} uncorrected ECC errors",
                "Uncorrected memory errors can silently corrupt weights or crash kernels; the GPU needs a reset "
                "or servicing.",
                f"nvidia-smi -q -d ECC -i {index}",
                {"index": index, "ecc_uncorrected": ecc},
            )
        )
    temperature = device.get("temperature_c")
    if temperature is not None and temperature >= HOT_CELSIUS:
        findings.append(
            Finding(
                "gpus.hot",
                Severity.WARNING,
                f"{label(device)} is at {temperature} °C",
                "A GPU this hot throttles its clocks: training runs slower than it should.",
                f"nvidia-smi -q -d TEMPERATURE,PERFORMANCE -i {index}",
                {"index": index, "temperature_c": temperature},
            )
        )
    total, used = device.get("memory_total_mib"), device.get("memory_used_mib")
    if total and used is not None and used > 0.5 * total:
        who = (
            ", ".join(f"{p.get('name') or '?'} (pid {p['pid']})" for p in device.get("processes") or [])
            or "unknown"
        )
        findings.append(
            Finding(
                "gpus.memory_in_use",
                Severity.WARNING,
                f"{label(device)}: {used} of {total} MiB already in use",
                f"Other processes hold most of this GPU's memory ({who}); a training run may hit out-of-memory.",
                f"nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv -i {index}",
                {"index": index, "memory_used_mib": used, "memory_total_mib": total},
            )
        )
    busy = device.get("utilization_pct")
    if busy is not None and busy >= 50:
        findings.append(
            Finding(
                "gpus.busy",
                Severity.INFO,
                f"{label(device)} is {busy}% busy",
                "Another job is computing on this GPU; a training run here will share it.",
                f"nvidia-smi -i {index}",
                {"index": index, "utilization_pct": busy},
            )
        )
    if device.get("error"):
        findings.append(
            Finding(
                "gpus.device_error",
                Severity.WARNING,
                f"GPU {index}: {device['error']}",
                "NVML lists this GPU but cannot query it; it may be in a bad state or reserved.",
                f"nvidia-smi -q -i {index}",
                {"index": index},
            )
        )
    return findings
