"""Where and in what precision a run trains: `train.device` and `train.precision` resolved against this machine.

What was asked but is not available falls back (to the CPU, to fp32) with a warning `log` event saying why,
so a config written on a GPU box still runs on a laptop.
"""

from __future__ import annotations

from typing import Any

from tui_trainer.engine.events import Log


def _warn(message: str) -> Log:
    return Log(message=message, level="warning")


def pick_device(asked: str, local_rank: int = 0) -> tuple[Any, list[Log]]:
    """The torch.device for `train.device` (auto: CUDA, then MPS, then CPU), and the fallback notes."""
    import torch

    cuda = torch.cuda.is_available()
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    if asked in ("auto", "cuda") and cuda:
        return torch.device("cuda", local_rank % max(1, torch.cuda.device_count())), []
    if asked == "auto":
        return torch.device("mps" if mps else "cpu"), []
    if asked == "cuda":
        build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU-only"
        return torch.device("cpu"), [
            _warn(
                f"train.device = 'cuda' but no CUDA device is available (torch {torch.__version__}, {build} build); "
                "training on the CPU"
            )
        ]
    if asked == "mps":
        if mps:
            return torch.device("mps"), []
        return torch.device("cpu"), [
            _warn("train.device = 'mps' but Apple MPS is not available here; training on the CPU")
        ]
    return torch.device("cpu"), []


def pick_precision(asked: str, device: Any) -> tuple[str, list[Log]]:
    """`train.precision` if this device can train in it, else fp32 with a note."""
    import torch

    if asked == "fp16" and device.type != "cuda":
        why = f"train.precision = 'fp16' needs a CUDA device (GradScaler); on {device.type} training in fp32 instead"
        return "fp32", [_warn(why)]
    if asked == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return "fp32", [
            _warn("train.precision = 'bf16' is not supported by this GPU; training in fp32 instead")
        ]
    if asked == "bf16" and device.type == "mps":
        return "fp32", [
            _warn("train.precision = 'bf16' autocast is not supported on MPS here; training in fp32 instead")
        ]
    return asked, []


def autocast_dtype(precision: str) -> Any:
    """The autocast dtype of a precision; None for fp32."""
    import torch

    return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
