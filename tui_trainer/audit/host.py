"""Host probe: CPU, RAM, free disk where training writes, /dev/shm, open-file limit, training-related env vars."""

from __future__ import annotations

import os
import platform
import shutil
from pathlib import Path
from typing import Any

from tui_trainer import paths
from tui_trainer.findings import Finding, Severity

GIB = 1024**3
# Variables that change what a training run does; shown so "works on my machine" has an explanation.
TRAINING_ENV_VARS = (
    "CUDA_VISIBLE_DEVICES",
    "CUDA_DEVICE_ORDER",
    "CUDA_LAUNCH_BLOCKING",
    "PYTORCH_CUDA_ALLOC_CONF",
    "PYTORCH_ALLOC_CONF",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "CUBLAS_WORKSPACE_CONFIG",
    "NCCL_DEBUG",
    "NCCL_P2P_DISABLE",
    "NCCL_IB_DISABLE",
    "TORCH_HOME",
    "HF_HOME",
    "HF_DATASETS_CACHE",
    "TRANSFORMERS_CACHE",
    "TORCH_CUDA_ARCH_LIST",
    "PYTHONHASHSEED",
    "TORCH_COMPILE_DISABLE",
    "TORCHINDUCTOR_CACHE_DIR",
)
SHM_MIN_BYTES = 1 * GIB  # Docker's default 64 MiB kills DataLoader workers with "bus error"
NOFILE_MIN = 4096
DISK_MIN_BYTES = 10 * GIB
RAM_MIN_BYTES = 4 * GIB


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _disk(path: Path) -> dict[str, Any]:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent  # a cache dir that does not exist yet lives on its parent's filesystem
    try:
        usage = shutil.disk_usage(probe)
        return {"path": str(path), "free_bytes": usage.free, "total_bytes": usage.total}
    except OSError as exc:
        return {"path": str(path), "free_bytes": None, "total_bytes": None, "error": str(exc)}


def cache_dirs(environ: dict[str, str]) -> dict[str, Path]:
    home = Path.home()
    xdg_cache = Path(environ.get("XDG_CACHE_HOME") or home / ".cache")
    return {
        "torch": Path(environ.get("TORCH_HOME") or xdg_cache / "torch"),
        "huggingface": Path(environ.get("HF_HOME") or xdg_cache / "huggingface"),
        "tui-trainer": paths.cache_dir(),
    }


def collect(cwd: Path | None = None, environ: dict[str, str] | None = None) -> dict[str, Any]:
    environ = dict(os.environ if environ is None else environ)
    cwd = Path(cwd or Path.cwd())
    facts: dict[str, Any] = {
        "os": f"{platform.system()} {platform.release()}",
        "machine": platform.machine(),
        "cpu_model": _cpu_model(),
        "cpu_logical": os.cpu_count(),
        "cpu_physical": None,
        "cpu_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "ram_total_bytes": None,
        "ram_available_bytes": None,
    }
    try:
        import psutil

        facts["cpu_physical"] = psutil.cpu_count(logical=False)
        memory = psutil.virtual_memory()
        facts["ram_total_bytes"] = int(memory.total)
        facts["ram_available_bytes"] = int(memory.available)
    except Exception:
        pass
    facts["disk"] = {"cwd": _disk(cwd), **{name: _disk(path) for name, path in cache_dirs(environ).items()}}
    shm = Path("/dev/shm")
    facts["shm"] = _disk(shm) if shm.is_dir() else None
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        facts["nofile_soft"] = None if soft == resource.RLIM_INFINITY else soft
        facts["nofile_hard"] = None if hard == resource.RLIM_INFINITY else hard
    except (ImportError, OSError, ValueError):
        facts["nofile_soft"] = facts["nofile_hard"] = None
    facts["env"] = {name: environ[name] for name in TRAINING_ENV_VARS if name in environ}
    return facts


def _gib(value: int | None) -> str:
    return "?" if value is None else f"{value / GIB:.1f} GiB"


def assess(facts: dict[str, Any]) -> list[Finding]:
    findings: list[Finding] = [
        Finding(
            "host.summary",
            Severity.OK,
            f"{facts.get('cpu_usable')} usable CPU cores, {_gib(facts.get('ram_total_bytes'))} RAM",
            f"{facts.get('cpu_model')} ({facts.get('cpu_logical')} logical, {facts.get('cpu_physical')} physical); "
            f"{_gib(facts.get('ram_available_bytes'))} RAM available; {facts.get('os')}.",
            "",
            {k: facts.get(k) for k in ("cpu_model", "cpu_usable", "ram_total_bytes", "ram_available_bytes")},
        )
    ]
    available = facts.get("ram_available_bytes")
    if available is not None and available < RAM_MIN_BYTES:
        findings.append(
            Finding(
                "host.low_memory",
                Severity.WARNING,
                f"Only {_gib(available)} RAM available",
                "Loading a dataset or several DataLoader workers can push this machine into swap or the OOM killer.",
                "ps aux --sort=-rss | head",
                {"ram_available_bytes": available},
            )
        )
    shm = facts.get("shm")
    if shm and shm.get("total_bytes") is not None and shm["total_bytes"] < SHM_MIN_BYTES:
        findings.append(
            Finding(
                "host.small_shm",
                Severity.WARNING,
                f"/dev/shm is only {shm['total_bytes'] / 1024**2:.0f} MiB",
                "DataLoader workers pass batches through shared memory; a small /dev/shm makes them die with "
                "'bus error' or 'DataLoader worker exited unexpectedly' (Docker's default is 64 MiB).",
                "sudo mount -o remount,size=8G /dev/shm  # in a container: restart it with docker run --shm-size=8g",
                {"shm_bytes": shm["total_bytes"]},
            )
        )
    soft = facts.get("nofile_soft")
    if soft is not None and soft < NOFILE_MIN:
        findings.append(
            Finding(
                "host.low_nofile",
                Severity.WARNING,
                f"Open-file limit is {soft}",
                "DataLoader workers share tensors through file descriptors; many workers hit "
                "'Too many open files' below a few thousand.",
                f"ulimit -n {min(facts.get('nofile_hard') or 65536, 65536)}",
                {"nofile_soft": soft, "nofile_hard": facts.get("nofile_hard")},
            )
        )
    for name, disk in (facts.get("disk") or {}).items():
        free = disk.get("free_bytes")
        if free is not None and free < DISK_MIN_BYTES:
            findings.append(
                Finding(
                    "host.low_disk",
                    Severity.WARNING,
                    f"Only {_gib(free)} free for {name} ({disk['path']})",
                    "Checkpoints, datasets and caches fill a disk fast; a full disk mid-run loses the checkpoint.",
                    f"du -sh {disk['path']}/* | sort -h | tail",
                    {"where": name, "path": disk["path"], "free_bytes": free},
                )
            )
    env = facts.get("env") or {}
    omp = env.get("OMP_NUM_THREADS")
    usable = facts.get("cpu_usable")
    if omp and omp.isdigit() and usable and int(omp) > usable:
        findings.append(
            Finding(
                "host.omp_oversubscribed",
                Severity.WARNING,
                f"OMP_NUM_THREADS={omp} exceeds the {usable} usable cores",
                "More compute threads than cores makes CPU ops slower, not faster.",
                f"export OMP_NUM_THREADS={usable}",
                {"OMP_NUM_THREADS": omp, "cpu_usable": usable},
            )
        )
    if env.get("CUDA_LAUNCH_BLOCKING") not in (None, "", "0"):
        findings.append(
            Finding(
                "host.cuda_launch_blocking",
                Severity.WARNING,
                "CUDA_LAUNCH_BLOCKING is set",
                "Every CUDA kernel waits for the previous one: useful for debugging, much slower for training.",
                "unset CUDA_LAUNCH_BLOCKING",
                {"CUDA_LAUNCH_BLOCKING": env.get("CUDA_LAUNCH_BLOCKING")},
            )
        )
    if env:
        findings.append(
            Finding(
                "host.training_env",
                Severity.INFO,
                f"{len(env)} environment variable(s) that change training are set",
                "; ".join(f"{k}={v}" for k, v in env.items()),
                "env | grep -E 'CUDA|TORCH|OMP|NCCL|HF_|CUBLAS'",
                dict(env),
            )
        )
    return findings
