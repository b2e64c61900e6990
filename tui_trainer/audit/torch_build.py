"""PyTorch probe: build facts from a child process, and the build ↔ driver ↔ GPU mismatch rules as pure functions.

torch is never imported here: `collect` runs `torch_child.py` with a timeout, so a broken install or a hung
CUDA call costs one killed child, never the audit (nor the app).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from tui_trainer.findings import Finding, Severity

CHILD_SCRIPT = Path(__file__).with_name("torch_child.py")
WHEEL_INDEX = "https://download.pytorch.org/whl"

# Minimum Linux driver per CUDA toolkit (NVIDIA's CUDA Toolkit release notes, table "CUDA Toolkit and
# Corresponding Driver Versions"). A driver below the toolkit's own minimum still runs a same-major toolkit
# through minor version compatibility (floor below) but loses PTX JIT and newer APIs.
TOOLKIT_MIN_DRIVER: dict[tuple[int, int], str] = {
    (10, 2): "440.33",
    (11, 0): "450.51.06",
    (11, 1): "455.32",
    (11, 2): "460.27.03",
    (11, 3): "465.19.01",
    (11, 4): "470.42.01",
    (11, 5): "495.29.05",
    (11, 6): "510.39.01",
    (11, 7): "515.43.04",
    (11, 8): "520.61.05",
    (12, 0): "525.60.13",
    (12, 1): "530.30.02",
    (12, 2): "535.54.03",
    (12, 3): "545.23.06",
    (12, 4): "550.54.14",
    (12, 5): "555.42.02",
    (12, 6): "560.28.03",
    (12, 8): "570.26",
    (12, 9): "575.51.03",
    (13, 0): "580.65.06",
}
# Minor version compatibility floor per CUDA major: below this, nothing built for that major runs.
MAJOR_MIN_DRIVER: dict[int, str] = {10: "440.33", 11: "450.80.02", 12: "525.60.13", 13: "580.65.06"}
# CUDA variants PyTorch publishes wheels for (newest first); used to suggest an --index-url.
WHEEL_CUDA: list[tuple[int, int]] = [(13, 0), (12, 9), (12, 8), (12, 6), (12, 4), (12, 1), (11, 8)]

# Error messages from CUDA that users meet, with what they mean and what fixes them.
KNOWN_ERRORS: list[tuple[str, str, str]] = [
    (
        "no kernel image is available",
        "This PyTorch build has no compiled kernels for this GPU's architecture (compute capability), so "
        "every CUDA operation fails.",
        "install a PyTorch build whose arch list includes this GPU",
    ),
    (
        "driver version is insufficient",
        "The NVIDIA driver is older than the CUDA version this PyTorch was built with.",
        "update the NVIDIA driver, or install a PyTorch built for an older CUDA",
    ),
    (
        "out of memory",
        "The GPU has no free memory left for even a tiny tensor: another process holds it.",
        "free the GPU (see nvidia-smi) or pick another one with CUDA_VISIBLE_DEVICES",
    ),
    (
        "busy or unavailable",
        "The GPU is in exclusive-process compute mode and another process owns it, or it is in a bad state.",
        "stop the other process, or reset the GPU",
    ),
    (
        "unspecified launch failure",
        "A kernel crashed on the GPU: often a driver/hardware fault (check ECC errors and dmesg for Xid).",
        "reset the GPU or reboot; check `dmesg | grep -i xid`",
    ),
]


# ----- version helpers ---------------------------------------------------------------------------------------


def version_tuple(text: str | None) -> tuple[int, ...]:
    if not text:
        return ()
    return tuple(int(part) for part in re.findall(r"\d+", str(text))[:3])


def cuda_tuple(text: str | None) -> tuple[int, int] | None:
    parts = version_tuple(text)
    if len(parts) < 2:
        return None
    return parts[0], parts[1]


def min_driver_for(cuda: tuple[int, int]) -> str | None:
    """The toolkit's own minimum driver; for a minor release missing from the table, the nearest older one."""
    known = [key for key in TOOLKIT_MIN_DRIVER if key[0] == cuda[0] and key <= cuda]
    return TOOLKIT_MIN_DRIVER[max(known)] if known else None


def driver_cuda_support(driver: str | None, cuda_driver: str | None = None) -> tuple[int, int] | None:
    """The newest CUDA version a driver runs natively: NVML tells us directly, else the table."""
    if cuda_driver and cuda_tuple(cuda_driver):
        return cuda_tuple(cuda_driver)
    have = version_tuple(driver)
    if not have:
        return None
    supported = [cuda for cuda, need in TOOLKIT_MIN_DRIVER.items() if have >= version_tuple(need)]
    return max(supported) if supported else None


def wheel_tag(
    driver: str | None, cuda_driver: str | None = None, capability: str | None = None
) -> str | None:
    """The newest `cuXYZ` PyTorch wheel index this driver (and GPU generation) can run, or None."""
    supported = driver_cuda_support(driver, cuda_driver)
    if supported is None:
        return None
    cap = version_tuple(capability)
    candidates = [c for c in WHEEL_CUDA if not (cap and cap[0] >= 10 and c < (12, 8))]
    # Blackwell (sm_100/sm_120) kernels first shipped in the CUDA 12.8 wheels, hence the filter above.
    for cuda in candidates:
        if cuda <= supported:
            return f"cu{cuda[0]}{cuda[1]}"
    # Same major, newer minor: runs through minor version compatibility (PyTorch wheels rely on it).
    for cuda in reversed(candidates):
        if cuda[0] == supported[0]:
            return f"cu{cuda[0]}{cuda[1]}"
    return None


def install_command(tag: str | None) -> str:
    if tag is None:
        return "pip install --force-reinstall torch"
    return f"pip install --force-reinstall torch --index-url {WHEEL_INDEX}/{tag}"


# ----- architecture (the "no kernel image is available" pitfall) ---------------------------------------------


def parse_arch(arch: str) -> tuple[str, int, int, str] | None:
    """'sm_86' → ('sm', 8, 6, ''); 'compute_90' → ('compute', 9, 0, ''); 'sm_90a' → ('sm', 9, 0, 'a')."""
    match = re.fullmatch(r"(sm|compute)_(\d+)([a-z]?)", arch.strip())
    if not match:
        return None
    digits = match.group(2)
    return match.group(1), int(digits[:-1] or 0), int(digits[-1]), match.group(3)


def kernel_support(capability: str, arch_list: list[str]) -> str:
    """How a GPU of `capability` gets kernels from a build: 'sass' (compiled), 'ptx' (JIT), or 'none'.

    CUDA rules: SASS for sm_XY runs on any GPU of major X and minor ≥ Y; PTX for compute_XY is JIT-compiled
    for any GPU of capability ≥ X.Y; arch-specific targets ('a') run on exactly that capability and
    family targets ('f') on the same major with minor ≥ Y.
    """
    cap = version_tuple(capability)
    if len(cap) < 2:
        return "none"
    major, minor = cap[0], cap[1]
    best = "none"
    for arch in arch_list:
        parsed = parse_arch(arch)
        if parsed is None:
            continue
        kind, a_major, a_minor, suffix = parsed
        if suffix == "a":
            fits = (a_major, a_minor) == (major, minor)
        elif kind == "sm" or suffix == "f":
            fits = a_major == major and a_minor <= minor
        else:
            fits = (a_major, a_minor) <= (major, minor)
        if fits and kind == "sm":
            return "sass"
        if fits:
            best = "ptx"
    return best


# ----- collection --------------------------------------------------------------------------------------------


def _torch_distribution() -> str | None:
    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return None


def collect(
    timeout: float = 15.0, smoke: bool = True, cancel: threading.Event | None = None
) -> dict[str, Any]:
    """Torch facts gathered in a child process; never raises for a broken torch, a hang or a crash."""
    facts: dict[str, Any] = {
        "installed": False,
        "distribution_version": _torch_distribution(),
        "version": None,
        "build": None,
        "cuda": None,
        "hip": None,
        "cudnn": None,
        "cuda_available": False,
        "mps_available": False,
        "device_count": 0,
        "arch_list": [],
        "bf16_supported": None,
        "devices": [],
        "import_error": None,
        "probe_error": None,
        "smoke": [],
        "smoke_requested": smoke,
    }
    if facts["distribution_version"] is None:
        return facts  # no torch distribution: no child to spawn
    facts["installed"] = True
    # -P: do not put the script's folder first on sys.path, so no module here can shadow one torch imports.
    command = [sys.executable, "-P", str(CHILD_SCRIPT)] + (["--smoke"] if smoke else [])
    started = time.monotonic()
    try:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except OSError as exc:
        facts["probe_error"] = f"could not start {sys.executable}: {exc}"
        return facts
    out, err, timed_out = "", "", False
    while True:
        try:
            out, err = proc.communicate(timeout=0.1)
            break
        except subprocess.TimeoutExpired:
            if (cancel is not None and cancel.is_set()) or time.monotonic() - started > timeout:
                timed_out = not (cancel is not None and cancel.is_set())
                proc.kill()
                out, err = proc.communicate()
                break
    _merge_child_output(facts, out or "")
    if timed_out:
        facts["probe_error"] = f"timed out after {timeout:g} s"
    elif cancel is not None and cancel.is_set():
        facts["probe_error"] = "cancelled"
    elif proc.returncode != 0 and facts["version"] is None and facts["import_error"] is None:
        last = (err or "").strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
        facts["probe_error"] = f"the torch child process failed: {last[0]}"
    if smoke and facts["version"] is not None:
        done = {record["device"] for record in facts["smoke"]}
        wanted = ["cpu"] + [f"cuda:{i}" for i in range(int(facts.get("device_count") or 0))]
        wanted += ["mps"] if facts.get("mps_available") else []
        for device in wanted:
            if device not in done and facts["probe_error"]:
                facts["smoke"].append(
                    {
                        "device": device,
                        "ok": False,
                        "error": f"smoke test did not finish: {facts['probe_error']}",
                        "max_abs_diff": None,
                        "seconds": None,
                    }
                )
    return facts


def _merge_child_output(facts: dict[str, Any], out: str) -> None:
    for line in out.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # torch or a plugin may print warnings to stdout
        if not isinstance(record, dict):
            continue
        kind = record.pop("kind", None)
        if kind == "import_error":
            facts["import_error"] = record.get("error")
        elif kind in ("build", "cuda"):
            facts.update(record)
        elif kind == "smoke":
            facts["smoke"].append(record)


# ----- assessment --------------------------------------------------------------------------------------------


def _nvidia_devices(gpus: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not gpus or not gpus.get("nvml"):
        return []
    return list(gpus.get("devices") or [])


def explain_error(error: str) -> tuple[str, str]:
    """A plain explanation and a fix hint for a CUDA error message (empty strings when unknown)."""
    lowered = error.lower()
    for needle, explanation, hint in KNOWN_ERRORS:
        if needle in lowered:
            return explanation, hint
    return "", ""


def assess(torch: dict[str, Any], gpus: dict[str, Any] | None = None) -> list[Finding]:
    """Mismatch findings from torch facts and NVML facts (both plain dicts)."""
    findings: list[Finding] = []
    nvidia = _nvidia_devices(gpus)
    driver = (gpus or {}).get("driver")
    cuda_driver = (gpus or {}).get("cuda_driver")
    first_cap = next((d.get("capability") for d in nvidia if d.get("capability")), None)
    tag = wheel_tag(driver, cuda_driver, first_cap) if nvidia else None
    suggested = install_command(tag) if nvidia else "pip install torch"

    if not torch.get("installed"):
        findings.append(
            Finding(
                "torch.missing",
                Severity.ERROR,
                "PyTorch is not installed",
                "No `torch` distribution in this environment"
                + (
                    f"; this machine has {len(nvidia)} NVIDIA GPU(s), so install a CUDA build."
                    if nvidia
                    else "."
                ),
                suggested.replace(" --force-reinstall", ""),
                {"gpus": len(nvidia), "driver": driver},
            )
        )
        return findings
    if torch.get("import_error"):
        findings.append(
            Finding(
                "torch.import_failed",
                Severity.ERROR,
                "`import torch` fails",
                f"torch {torch.get('distribution_version')} is installed but importing it fails: "
                f"{torch['import_error']}",
                suggested,
                {"error": torch["import_error"]},
            )
        )
        return findings
    if torch.get("version") is None:
        findings.append(
            Finding(
                "torch.probe_failed",
                Severity.ERROR,
                "Could not read PyTorch's build",
                f"The child process that imports torch did not report back: {torch.get('probe_error')}. "
                "A hang here usually means a driver call that never returns (on a very busy machine, retry with "
                "a longer --timeout).",
                f"{sys.executable} -c 'import torch; print(torch.__version__, torch.cuda.is_available())'",
                {"error": torch.get("probe_error")},
            )
        )
        return findings

    build = torch.get("build")
    cuda = cuda_tuple(torch.get("cuda"))
    describe = {"cpu": "CPU-only build", "rocm": f"ROCm {torch.get('hip')} build"}.get(
        build or "", f"CUDA {torch.get('cuda')} build"
    )
    findings.append(
        Finding(
            "torch.build",
            Severity.OK,
            f"PyTorch {torch['version']} ({describe})",
            f"cuDNN {torch.get('cudnn')}, CUDA available: {torch.get('cuda_available')}, "
            f"devices: {torch.get('device_count')}, arch list: {' '.join(torch.get('arch_list') or []) or 'none'}.",
            "",
            {
                k: torch.get(k)
                for k in ("version", "build", "cuda", "cudnn", "cuda_available", "device_count")
            },
        )
    )
    if nvidia and build == "cpu":
        findings.append(
            Finding(
                "torch.cpu_build_with_gpu",
                Severity.ERROR,
                "NVIDIA GPU present but PyTorch is a CPU-only build",
                f"torch {torch['version']} was built without CUDA, so training ignores the "
                f"{len(nvidia)} GPU(s) here ({nvidia[0].get('name')}) and runs on the CPU.",
                suggested,
                {"version": torch["version"], "gpus": len(nvidia), "driver": driver, "wheel": tag},
            )
        )
    elif nvidia and build == "rocm":
        findings.append(
            Finding(
                "torch.rocm_build_with_nvidia",
                Severity.ERROR,
                "NVIDIA GPU present but PyTorch is a ROCm (AMD) build",
                f"torch {torch['version']} targets AMD GPUs (ROCm {torch.get('hip')}); it cannot use NVIDIA GPUs.",
                suggested,
                {"version": torch["version"], "gpus": len(nvidia), "wheel": tag},
            )
        )
    if build == "cuda" and not nvidia:
        findings.append(
            Finding(
                "torch.cuda_build_without_gpu",
                Severity.INFO,
                f"CUDA {torch.get('cuda')} build of PyTorch, but no NVIDIA GPU is visible to NVML",
                "It works on the CPU; the CPU wheel is about 2 GB smaller if this machine never gets a GPU.",
                f"pip install --force-reinstall torch --index-url {WHEEL_INDEX}/cpu",
                {"cuda": torch.get("cuda")},
            )
        )
    driver_ok = True
    if build == "cuda" and nvidia and cuda is not None:
        driver_ok, driver_findings = _driver_findings(torch, cuda, driver, cuda_driver, tag)
        findings.extend(driver_findings)
    if build == "cuda" and nvidia:
        findings.extend(_arch_findings(torch, nvidia))
    elif build == "cuda" and torch.get("devices"):
        # No NVML (some containers, WSL): torch's own view of the devices still shows an arch mismatch.
        findings.extend(_arch_findings(torch, list(torch["devices"])))
    hidden = bool(nvidia) and not any(d.get("visible", True) for d in nvidia)
    if build == "cuda" and nvidia and driver_ok and not hidden and not torch.get("cuda_available"):
        findings.append(
            Finding(
                "torch.cuda_unavailable",
                Severity.ERROR,
                "torch.cuda.is_available() is False although an NVIDIA GPU is present",
                f"NVML sees {len(nvidia)} GPU(s) but this CUDA {torch.get('cuda')} build of torch cannot open "
                f"any{': ' + torch['cuda_error'] if torch.get('cuda_error') else ''}. Common causes: a driver/"
                "library mismatch after a driver update (reboot), or a container started without GPU access.",
                f"{sys.executable} -c 'import torch; torch.zeros(1).cuda()'",
                {"cuda": torch.get("cuda"), "driver": driver, "error": torch.get("cuda_error")},
            )
        )
    if torch.get("cuda_available") and torch.get("bf16_supported") is False:
        findings.append(
            Finding(
                "torch.no_bf16",
                Severity.INFO,
                "This GPU has no bfloat16 support",
                "Mixed precision here means float16, which needs loss scaling to avoid underflow.",
                "use torch.autocast('cuda', dtype=torch.float16) with torch.amp.GradScaler('cuda')",
                {"bf16_supported": False},
            )
        )
    findings.extend(_smoke_findings(torch, nvidia))
    return findings


def _driver_findings(
    torch: dict[str, Any], cuda: tuple[int, int], driver: str | None, cuda_driver: str | None, tag: str | None
) -> tuple[bool, list[Finding]]:
    have = version_tuple(driver)
    supported = driver_cuda_support(driver, cuda_driver)
    floor = MAJOR_MIN_DRIVER.get(cuda[0])
    full = min_driver_for(cuda)
    evidence = {"torch_cuda": torch.get("cuda"), "driver": driver, "driver_cuda": cuda_driver, "wheel": tag}
    fix = (
        install_command(tag)
        if tag
        else "sudo apt install nvidia-driver-570  # or your distribution's newest driver"
    )
    too_old = False
    if have and floor:
        too_old = have < version_tuple(floor)
    elif supported is not None:
        too_old = supported[0] < cuda[0]
    if too_old:
        return False, [
            Finding(
                "torch.driver_too_old",
                Severity.ERROR,
                f"NVIDIA driver {driver} is too old for PyTorch's CUDA {torch.get('cuda')}",
                f"CUDA {cuda[0]}.x needs driver ≥ {floor or '?'} (this driver runs CUDA up to "
                f"{'.'.join(map(str, supported)) if supported else '?'}); torch will report no GPU or fail with "
                "'CUDA driver version is insufficient'. Update the driver, or install a torch built for the "
                "CUDA this driver supports.",
                fix,
                evidence,
            )
        ]
    if (have and full and have < version_tuple(full)) or (supported is not None and supported < cuda):
        return True, [
            Finding(
                "torch.driver_minor_compat",
                Severity.WARNING,
                f"Driver {driver} is older than CUDA {torch.get('cuda')} expects (runs via minor-version compatibility)",
                f"CUDA {torch.get('cuda')} ships with driver ≥ {full}. Most kernels work, but PTX JIT compilation "
                "and newer CUDA APIs fail on this driver.",
                fix,
                evidence,
            )
        ]
    return True, []


def _arch_findings(torch: dict[str, Any], nvidia: list[dict[str, Any]]) -> list[Finding]:
    arch_list = list(torch.get("arch_list") or [])
    findings: list[Finding] = []
    if not arch_list:
        return findings  # torch could not report it (no CUDA at all): the other findings say why
    for device in nvidia:
        capability = device.get("capability")
        if not capability or device.get("visible") is False:
            continue
        support = kernel_support(capability, arch_list)
        sm = "sm_" + capability.replace(".", "")
        evidence = {
            "index": device.get("index"),
            "name": device.get("name"),
            "capability": capability,
            "arch_list": arch_list,
        }
        if support == "none":
            newest = max((parse_arch(a)[1:3] for a in arch_list if parse_arch(a)), default=(0, 0))
            newer_gpu = version_tuple(capability)[:2] > newest
            fix = (
                install_command(wheel_tag(device.get("driver"), device.get("cuda_driver"), capability))
                if newer_gpu
                else "pip install 'torch<2.5'  # older releases still ship kernels for this GPU, or build from source"
            )
            findings.append(
                Finding(
                    "torch.arch_unsupported",
                    Severity.ERROR,
                    f"GPU {device.get('index')} ({device.get('name')}, {sm}) is not in torch's arch list",
                    f"This torch has kernels for {' '.join(arch_list)} only, so CUDA ops on this GPU fail with "
                    "'no kernel image is available for execution on the device'. "
                    + (
                        "The GPU is newer than this build: install a build for a newer CUDA."
                        if newer_gpu
                        else "The GPU is older than this build supports."
                    ),
                    fix,
                    evidence,
                )
            )
        elif support == "ptx":
            findings.append(
                Finding(
                    "torch.arch_ptx_only",
                    Severity.WARNING,
                    f"GPU {device.get('index')} ({sm}) runs torch only through PTX JIT",
                    f"No compiled kernels for {sm} in {' '.join(arch_list)}; the driver JIT-compiles PTX at first "
                    "use (minutes, cached) and some kernels may be slower.",
                    install_command(wheel_tag(device.get("driver"), device.get("cuda_driver"), capability)),
                    evidence,
                )
            )
    return findings


def _smoke_findings(torch: dict[str, Any], nvidia: list[dict[str, Any]]) -> list[Finding]:
    records = list(torch.get("smoke") or [])
    if not records:
        return []
    findings: list[Finding] = []
    passed = [r["device"] for r in records if r.get("ok")]
    for record in records:
        if record.get("ok"):
            continue
        error = str(record.get("error") or "unknown error")
        explanation, hint = explain_error(error)
        device = record.get("device")
        fix = f"{sys.executable} -c \"import torch; torch.ones(2, device='{device}').sum().item()\""
        if "no kernel image" in error.lower():
            cap = next((d.get("capability") for d in nvidia if d.get("capability")), None)
            fix = install_command(
                wheel_tag(
                    (nvidia[0] if nvidia else {}).get("driver"),
                    (nvidia[0] if nvidia else {}).get("cuda_driver"),
                    cap,
                )
            )
        findings.append(
            Finding(
                "torch.smoke_failed",
                Severity.ERROR,
                f"Kernel smoke test failed on {device}",
                f"A 64×64 matmul and backward on {device} failed: {error}."
                + (f" {explanation}" if explanation else "")
                + (f" Fix: {hint}." if hint else ""),
                fix,
                {"device": device, "error": error, "max_abs_diff": record.get("max_abs_diff")},
            )
        )
    if passed:
        findings.append(
            Finding(
                "torch.smoke",
                Severity.OK,
                f"Kernel smoke test passed on {', '.join(passed)}",
                "A matmul and backward pass ran on each device and matched the CPU result.",
                "",
                {"devices": passed},
            )
        )
    return findings
