"""Checkpoints: written atomically under `RUN_DIR/checkpoints/step-XXXXXXXX.pt`, loaded with `weights_only=True`.

A checkpoint holds everything a resumed run needs to continue exactly: model, optimiser, scheduler and
scaler state, the RNG states (python, numpy, torch, cuda, the augment generator) and the position in the
data (epoch, batch within the epoch, step). Only tensors, numbers, strings, lists and dicts go in, so the
safe `weights_only` loader can read it back. A file that will not load (truncated by a crash before the
rename existed, or damaged since) is skipped for the previous one and reported to the caller.
"""

from __future__ import annotations

import os
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHECKPOINT_DIR = "checkpoints"
FORMAT_VERSION = 1
_NAME = re.compile(r"^step-(\d{8,})\.pt$")
REQUIRED_KEYS = ("format", "model", "optimizer", "step", "epoch", "batch_in_epoch", "rng")


def checkpoint_dir(run_dir: Path) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR


def checkpoint_path(run_dir: Path, step: int) -> Path:
    return checkpoint_dir(run_dir) / f"step-{step:08d}.pt"


def list_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, path) of every checkpoint file, oldest first (temp files are ignored)."""
    folder = checkpoint_dir(run_dir)
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = _NAME.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


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
    payload = dict(state)
    payload["format"] = FORMAT_VERSION
    payload["step"] = int(step)
    atomic_write(path, lambda fh: torch.save(payload, fh))
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

    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # truncated zip, bad pickle, wrong file: all mean "do not use this one"
        raise ValueError(
            f"{path.name} cannot be read ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
        ) from None
    if not isinstance(data, dict):
        raise ValueError(f"{path.name} is not a tui-trainer checkpoint (not a dict)")
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise ValueError(f"{path.name} is missing {', '.join(missing)}")
    return data


@dataclass
class LoadedCheckpoint:
    path: Path
    state: dict[str, Any]
    skipped: list[str] = field(default_factory=list)  # one reason per newer checkpoint that could not be used


def load_latest_checkpoint(run_dir: Path, map_location: str = "cpu") -> LoadedCheckpoint | None:
    """The newest checkpoint that loads; newer broken ones are listed in `skipped` (None if none loads)."""
    skipped: list[str] = []
    for _, path in reversed(list_checkpoints(run_dir)):
        try:
            return LoadedCheckpoint(
                path=path, state=load_checkpoint_file(path, map_location), skipped=skipped
            )
        except ValueError as exc:
            skipped.append(str(exc))
    if skipped:
        return LoadedCheckpoint(path=Path(), state={}, skipped=skipped)
    return None
