"""Runs in a child process: import torch, print its build facts, then run the kernel smoke test.

Standard library and torch only, and nothing at import time, so a broken torch (or a hung driver call) can
only fail or hang this child; the parent reads one JSON object per line and kills it on timeout.
Lines: {"kind": "build", ...}, then {"kind": "cuda", ...}, then {"kind": "smoke", ...} per device.
"""

from __future__ import annotations

import json
import sys
import time
import traceback


def _emit(record: dict) -> None:
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()  # the parent may kill us at any moment; what is printed must already be out


def _error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text.splitlines()[0] if text else type(exc).__name__


def build_facts(torch) -> dict:
    hip = getattr(torch.version, "hip", None)
    cuda = getattr(torch.version, "cuda", None)
    build = "rocm" if hip else ("cuda" if cuda else "cpu")
    try:
        cudnn = torch.backends.cudnn.version() if cuda or hip else None
    except Exception:
        cudnn = None
    return {
        "kind": "build",
        "version": torch.__version__,
        "build": build,
        "cuda": cuda,
        "hip": hip,
        "cudnn": cudnn,
    }


def cuda_facts(torch) -> dict:
    facts = {
        "kind": "cuda",
        "cuda_available": False,
        "device_count": 0,
        "arch_list": [],
        "bf16_supported": None,
        "devices": [],
        "cuda_error": None,
    }
    try:
        facts["cuda_available"] = bool(torch.cuda.is_available())
        facts["arch_list"] = list(torch.cuda.get_arch_list())
        if facts["cuda_available"]:
            facts["device_count"] = int(torch.cuda.device_count())
            for index in range(facts["device_count"]):
                major, minor = torch.cuda.get_device_capability(index)
                facts["devices"].append(
                    {
                        "index": index,
                        "name": torch.cuda.get_device_name(index),
                        "capability": f"{major}.{minor}",
                    }
                )
            facts["bf16_supported"] = bool(torch.cuda.is_bf16_supported())
    except Exception as exc:
        facts["cuda_error"] = _error_text(exc)
    try:  # Apple GPUs: not CUDA, but a device the smoke test should prove too
        facts["mps_available"] = bool(torch.backends.mps.is_available())
    except Exception:
        facts["mps_available"] = False
    return facts


def smoke(torch, device: str) -> dict:
    """A 64×64 matmul and its backward on `device`, compared with the same computation on the CPU."""
    started = time.perf_counter()
    record = {"kind": "smoke", "device": device, "ok": False, "error": None, "max_abs_diff": None}
    try:
        generator = torch.Generator().manual_seed(0)
        a = torch.randn(64, 64, generator=generator)
        b = torch.randn(64, 64, generator=generator)

        def run(dev):
            x = a.to(dev).requires_grad_(True)
            y = b.to(dev).requires_grad_(True)
            loss = (x @ y).tanh().square().mean()
            loss.backward()
            return [t.detach().to("cpu") for t in (loss, x.grad, y.grad)]

        reference = run("cpu")
        if device != "cpu":
            torch.backends.cuda.matmul.allow_tf32 = False  # compare full fp32 with the CPU, not TF32
        got = run(device) if device != "cpu" else reference
        if device.startswith("cuda"):
            torch.cuda.synchronize(device)
        diff = max(float((r - g).abs().max()) for r, g in zip(reference, got, strict=True))
        record["max_abs_diff"] = diff
        record["ok"] = diff <= 1e-3 and all(bool(torch.isfinite(g).all()) for g in got)
        if not record["ok"]:
            record["error"] = f"results differ from the CPU by {diff:.3g} (tolerance 1e-3)"
    except Exception as exc:
        record["error"] = _error_text(exc)
    record["seconds"] = round(time.perf_counter() - started, 4)
    return record


def main(argv: list[str]) -> int:
    try:
        import torch
    except BaseException as exc:  # a broken install can raise anything, even SystemExit
        _emit(
            {"kind": "import_error", "error": _error_text(exc), "traceback": traceback.format_exc()[-2000:]}
        )
        return 0
    _emit(build_facts(torch))
    cuda = cuda_facts(torch)
    _emit(cuda)
    if "--smoke" in argv:
        _emit(smoke(torch, "cpu"))
        for index in range(cuda["device_count"]):
            _emit(smoke(torch, f"cuda:{index}"))
        if cuda.get("mps_available"):
            _emit(smoke(torch, "mps"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
