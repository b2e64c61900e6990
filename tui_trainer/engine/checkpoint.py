"""Checkpoints: written atomically under `RUN_DIR/checkpoints/step-XXXXXXXX.pt`, loaded with `weights_only=True`.

A checkpoint holds everything a resumed run needs to continue exactly: model, optimiser, scheduler and
scaler state, the RNG states (python, numpy, torch, cuda, the augment generator) and the position in the
data (epoch, batch within the epoch, step). Only tensors, numbers, strings, lists and dicts go in, so the
safe `weights_only` loader can read it back. A file that will not load (truncated by a crash before the
rename existed, or damaged since), or that loads but does not hold what a resume needs (keys and their types,
RNG states, and the model's parameter names and shapes against the model being resumed) is skipped for the
previous one and reported to the caller, which emits a `corrupt_checkpoint` diagnostic. Only regular files
are considered (a FIFO named like a checkpoint is never opened), and temp files left by a process killed
mid-write (`.step-*.pt.*.tmp`) are removed at the next start.
"""

from __future__ import annotations

import os
import random
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHECKPOINT_DIR = "checkpoints"
FORMAT_VERSION = 1
_NAME = re.compile(r"^step-(\d{8,})\.pt$")
_TEMP = re.compile(r"^\.step-\d{8,}\.pt\.[0-9a-f]+\.tmp$")  # atomic_write's temp name for a checkpoint
REQUIRED_KEYS = ("format", "model", "optimizer", "step", "epoch", "batch_in_epoch", "rng")


def checkpoint_dir(run_dir: Path) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR


def checkpoint_path(run_dir: Path, step: int) -> Path:
    return checkpoint_dir(run_dir) / f"step-{step:08d}.pt"


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def list_checkpoints(run_dir: Path, regular_only: bool = True) -> list[tuple[int, Path]]:
    """(step, path) of every checkpoint file, oldest first (temp files, and anything not a regular file, ignored)."""
    folder = checkpoint_dir(run_dir)
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = _NAME.match(path.name)
        if match and (not regular_only or _is_regular(path)):
            found.append((int(match.group(1)), path))
    return sorted(found)


def remove_stale_temps(run_dir: Path) -> list[Path]:
    """Delete `.step-*.pt.*.tmp` left by a process killed while writing a checkpoint; returns what went.

    Only one process writes a run (engine.eventlog's lock), so at its start every such file is stale.
    """
    folder = checkpoint_dir(run_dir)
    removed: list[Path] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for path in entries:
        if _TEMP.match(path.name) and _is_regular(path):
            try:
                path.unlink()
                removed.append(path)
            except OSError:
                pass
    return removed


def capture_rng(augment_generator: Any = None) -> dict[str, Any]:
    """Every RNG state as tensors/lists (weights_only-safe)."""
    import numpy as np
    import torch

    version, state, gauss = random.getstate()
    np_state = np.random.get_state()
    rng: dict[str, Any] = {
        "python": [version, list(state), gauss],
        "numpy": {
            "name": str(np_state[0]),
            "keys": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "torch": torch.get_rng_state(),
        "cuda": [s for s in torch.cuda.get_rng_state_all()] if torch.cuda.is_available() else [],
    }
    if augment_generator is not None:
        rng["augment"] = augment_generator.get_state()
    return rng


def restore_rng(rng: dict[str, Any], augment_generator: Any = None) -> None:
    import numpy as np
    import torch

    # RNG states must be CPU byte tensors, whatever map_location the checkpoint was loaded with.
    version, state, gauss = rng["python"]
    random.setstate((version, tuple(state), gauss))
    n = rng["numpy"]
    np.random.set_state(
        (n["name"], n["keys"].cpu().numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
    )
    torch.set_rng_state(rng["torch"].cpu())
    if rng.get("cuda") and torch.cuda.is_available():
        states = [s.cpu() for s in rng["cuda"]]
        if len(states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(states)
        else:  # another GPU count than when saved: restore the devices both have
            for index, s in enumerate(states[: torch.cuda.device_count()]):
                torch.cuda.set_rng_state(s, index)
    if augment_generator is not None and "augment" in rng:
        augment_generator.set_state(rng["augment"].cpu())


def save_checkpoint(run_dir: Path, step: int, state: dict[str, Any], keep: int = 3) -> Path:
    """torch.save to a temp file beside the target, fsync, rename; then prune all but the newest `keep`."""
    import torch

    from tui_trainer.atomic import atomic_write

    path = checkpoint_path(run_dir, step)
    remove_stale_temps(run_dir)
    payload = dict(state)
    payload["format"] = FORMAT_VERSION
    payload["step"] = int(step)
    try:
        atomic_write(path, lambda fh: torch.save(payload, fh))
    except OSError as exc:
        if exc.filename:
            raise
        raise type(exc)(exc.errno, exc.strerror or str(exc), str(path)) from exc  # name the file: disk full
    _fsync_dir(path.parent)
    existing = list_checkpoints(run_dir)
    for _, old in existing[: max(0, len(existing) - keep)]:
        try:
            old.unlink()
        except FileNotFoundError:
            pass
    return path


def _fsync_dir(folder: Path) -> None:
    # The rename is durable only once the directory entry is; without this a power cut can lose the file.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load_checkpoint_file(path: Path, map_location: str = "cpu") -> dict[str, Any]:
    """Load one checkpoint safely; raises ValueError saying why it cannot be used."""
    import torch

    if not _is_regular(path):
        raise ValueError(f"{path.name} is not a regular file")
    try:
        if os.path.getsize(path) == 0:
            raise ValueError("the file is empty")
        data = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # truncated zip, bad pickle, wrong file: all mean "do not use this one"
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise ValueError(
            f"{path.name} cannot be read ({type(exc).__name__}{': ' + first if first else ''})"
        ) from None
    problem = checkpoint_problem(data)
    if problem:
        raise ValueError(f"{path.name} {problem}")
    return data


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def checkpoint_problem(data: Any, expected: dict[str, Any] | None = None) -> str | None:
    """Why `data` (a loaded checkpoint) cannot be resumed from, or None. `expected`: the live `model` and
    `optimizer` state dicts, whose names and shapes the checkpoint must match."""
    import torch

    if not isinstance(data, dict):
        return "is not a tui-trainer checkpoint (not a dict)"
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        return f"is missing {', '.join(missing)}"
    if data["format"] != FORMAT_VERSION:
        return f"has format {data['format']!r}, this version reads {FORMAT_VERSION}"
    for key in ("step", "epoch", "batch_in_epoch"):
        if not _is_int(data[key]) or data[key] < 0:
            return f"has {key} = {data[key]!r}, expected a whole number >= 0"
    model = data["model"]
    if not isinstance(model, dict) or not model:
        return "has no model weights (model is empty)"
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in model.items()):
        return "has a model state that is not a mapping of names to tensors"
    optimizer = data["optimizer"]
    if (
        not isinstance(optimizer, dict)
        or not isinstance(optimizer.get("state"), dict)
        or not isinstance(optimizer.get("param_groups"), list)
    ):
        return "has an optimizer state without `state` and `param_groups`"
    for key in ("scheduler", "scaler"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            return f"has a {key} state that is not a dict"
    problem = _rng_problem(data["rng"])
    if problem:
        return problem
    if expected is not None:
        return _mismatch(data, expected)
    return None


def _rng_problem(rng: Any) -> str | None:
    import torch

    if not isinstance(rng, dict):
        return "has no RNG states (rng is not a dict)"
    python = rng.get("python")
    if not (isinstance(python, list | tuple) and len(python) == 3 and isinstance(python[1], list | tuple)):
        return "has no usable python RNG state"
    numpy_state = rng.get("numpy")
    if not (
        isinstance(numpy_state, dict)
        and isinstance(numpy_state.get("keys"), torch.Tensor)
        and numpy_state["keys"].numel() == 624
        and all(k in numpy_state for k in ("name", "pos", "has_gauss", "cached_gaussian"))
    ):
        return "has no usable numpy RNG state"
    torch_state = rng.get("torch")
    if not (
        isinstance(torch_state, torch.Tensor) and torch_state.dtype == torch.uint8 and torch_state.numel() > 0
    ):
        return "has no usable torch RNG state"
    if not isinstance(rng.get("cuda", []), list | tuple):
        return "has a cuda RNG state that is not a list"
    return None


def _mismatch(data: dict[str, Any], expected: dict[str, Any]) -> str | None:
    """Names and shapes of the saved model (and optimizer groups) against the live ones: another architecture
    loads fine with weights_only and then fails in load_state_dict, so it is caught here, before anything changes."""
    want = expected.get("model")
    if want is not None:
        have = data["model"]
        extra, absent = sorted(set(have) - set(want)), sorted(set(want) - set(have))
        if extra or absent:
            names = ", ".join((absent or extra)[:3])
            return f"was written by another model ({len(absent)} parameter(s) missing, {len(extra)} unexpected: {names})"
        for name, tensor in want.items():
            if tuple(have[name].shape) != tuple(tensor.shape):
                return (
                    f"was written by another model: {name} has shape {tuple(have[name].shape)}, "
                    f"the model has {tuple(tensor.shape)}"
                )
    opt = expected.get("optimizer")
    if opt is not None:
        saved_groups, live_groups = data["optimizer"]["param_groups"], opt.get("param_groups", [])
        if len(saved_groups) != len(live_groups) or any(
            not isinstance(s, dict) or len(s.get("params", ())) != len(g.get("params", ()))
            for s, g in zip(saved_groups, live_groups, strict=False)
        ):
            return "has optimizer parameter groups that do not match this model's optimizer"
    return None


@dataclass
class LoadedCheckpoint:
    path: Path
    state: dict[str, Any]
    skipped: list[str] = field(default_factory=list)  # one reason per newer checkpoint that could not be used


def load_latest_checkpoint(
    run_dir: Path, map_location: str = "cpu", expected: dict[str, Any] | None = None
) -> LoadedCheckpoint | None:
    """The newest checkpoint that loads and is valid; newer unusable ones are listed in `skipped`.

    `expected`: the live `model` (and `optimizer`) state dicts to check names and shapes against. None when
    there are no checkpoint files at all; a LoadedCheckpoint with an empty `state` when none is usable.
    Stale temp files of an interrupted write are removed first.
    """
    remove_stale_temps(run_dir)
    skipped: list[str] = []
    for _, path in reversed(list_checkpoints(run_dir, regular_only=False)):
        try:
            state = load_checkpoint_file(path, map_location)
            problem = _mismatch(state, expected) if expected is not None else None
            if problem:
                raise ValueError(f"{path.name} {problem}")
            return LoadedCheckpoint(path=path, state=state, skipped=skipped)
        except ValueError as exc:
            skipped.append(str(exc))
    if skipped:
        return LoadedCheckpoint(path=Path(), state={}, skipped=skipped)
    return None
