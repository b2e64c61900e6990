"""Environment snapshots: export this machine as TOML, and list every difference between a snapshot and now.

Compared: Python version and implementation, OS and CPU architecture, every package version, torch
(installed, version, build, CUDA, cuDNN, ROCm, arch list), NVIDIA driver and its CUDA version, and each GPU's
model and compute capability. Not compared (they change from minute to minute or from path to path): free
memory, utilisation, temperatures, processes, the interpreter's path, timestamps.
"""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from tui_trainer import __version__
from tui_trainer.atomic import atomic_write_bytes
from tui_trainer.errors import UserError

FORMAT = 1
# Section of the snapshot → the probe whose failure makes that section unknown (and so not compared).
SECTION_PROBE = {
    "python": "python",
    "platform": "python",
    "packages": "packages",
    "torch": "torch",
    "nvidia": "gpus",
    "gpus": "gpus",
}


def _put(table: dict[str, Any], key: str, value: Any) -> None:
    """TOML has no null: a missing value is simply left out."""
    if value is not None:
        table[key] = value


def build(result: Any, created: datetime | None = None) -> dict[str, Any]:
    """The snapshot document (TOML-ready: no None anywhere) of an AuditResult."""
    created = created or datetime.now(UTC)
    failed = sorted({section for section, probe in SECTION_PROBE.items() if probe in result.failed_probes()})
    snap: dict[str, Any] = {
        "snapshot": {
            "format": FORMAT,
            "tool": f"tui-trainer {__version__}",
            "created": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    }
    if failed:
        snap["snapshot"]["incomplete"] = failed
    python: dict[str, Any] = {}
    for key in ("version", "implementation", "executable", "env_kind"):
        _put(python, key, result.python.get(key))
    snap["python"] = python
    platform: dict[str, Any] = {}
    _put(platform, "system", result.python.get("platform"))
    _put(platform, "machine", result.python.get("machine"))
    snap["platform"] = platform
    torch: dict[str, Any] = {"installed": bool(result.torch.get("installed"))}
    for key in ("version", "build", "cuda", "hip"):
        _put(torch, key, result.torch.get(key))
    if result.torch.get("cudnn") is not None:
        torch["cudnn"] = str(result.torch["cudnn"])
    if result.torch.get("version") is not None:
        torch["arch_list"] = list(result.torch.get("arch_list") or [])
    snap["torch"] = torch
    nvidia: dict[str, Any] = {}
    _put(nvidia, "driver", result.gpus.get("driver"))
    _put(nvidia, "cuda_driver", result.gpus.get("cuda_driver"))
    snap["nvidia"] = nvidia
    gpus = []
    for device in result.gpus.get("devices") or []:
        entry: dict[str, Any] = {}
        _put(entry, "name", device.get("name"))
        _put(entry, "capability", device.get("capability"))
        _put(entry, "memory_total_mib", device.get("memory_total_mib"))
        gpus.append(entry)
    if gpus:
        snap["gpus"] = gpus  # an empty array would land above every table: leave it out, load() defaults it
    from tui_trainer.audit.packages import index

    snap["packages"] = {
        key: dist["version"] for key, dist in sorted(index(result.packages.get("installed", [])).items())
    }
    return snap


def export(result: Any, path: Path) -> Path:
    import tomli_w

    data = tomli_w.dumps(build(result)).encode("utf-8")
    try:
        return atomic_write_bytes(Path(path), data)
    except OSError as exc:
        raise UserError(f"cannot write snapshot {path}: {exc.strerror or exc}") from None


# ----- loading ------------------------------------------------------------------------------------------------


def _expect(value: Any, kind: type, path: Path, key: str, what: str) -> Any:
    if not isinstance(value, kind):
        raise UserError(f"{path}: key {key} must be {what}, not {type(value).__name__} {value!r}")
    return value


MAX_SNAPSHOT_BYTES = 16 * 1024 * 1024


def load(path: Path) -> dict[str, Any]:
    """Read and validate a snapshot; UserError names the file, and the key for schema problems."""
    import stat

    path = Path(path)
    try:
        if not stat.S_ISREG(path.stat().st_mode) and not path.is_dir():
            # A FIFO or a device would block the read or never end.
            raise UserError(f"cannot read snapshot {path}: not a regular file (a FIFO or device?)")
        with open(path, "rb") as fh:
            raw = fh.read(MAX_SNAPSHOT_BYTES + 1)
        if len(raw) > MAX_SNAPSHOT_BYTES:
            raise UserError(f"{path}: larger than {MAX_SNAPSHOT_BYTES // 2**20} MB; not a snapshot")
        text = raw.decode("utf-8-sig")
    except FileNotFoundError:
        raise UserError(f"snapshot file not found: {path}") from None
    except IsADirectoryError:
        raise UserError(f"snapshot path is a directory, not a file: {path}") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a snapshot (not UTF-8 text)") from None
    except RuntimeError:  # a symlink loop
        raise UserError(f"cannot read snapshot {path}: a symlink loop") from None
    except OSError as exc:
        raise UserError(f"cannot read snapshot {path}: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        raise UserError(f"{path}: not a snapshot (arrays or tables nested too deeply to read)") from None
    meta = data.get("snapshot")
    if not isinstance(meta, dict):
        raise UserError(
            f"{path}: missing [snapshot] table (is this a file written by `tui-trainer audit --export`?)"
        )
    if meta.get("format") != FORMAT:
        raise UserError(f"{path}: key snapshot.format must be {FORMAT}, not {meta.get('format')!r}")
    incomplete = _expect(
        meta.get("incomplete", []), list, path, "snapshot.incomplete", "a list of section names"
    )
    for item in incomplete:
        _expect(item, str, path, "snapshot.incomplete", "a list of section names")
    for section in ("python", "platform", "torch", "nvidia"):
        table = _expect(data.get(section, {}), dict, path, section, "a table")
        for key, value in table.items():
            if section == "torch" and key == "installed":
                _expect(value, bool, path, f"{section}.{key}", "true or false")
            elif section == "torch" and key == "arch_list":
                _expect(value, list, path, f"{section}.{key}", "a list of strings")
                for item in value:
                    _expect(item, str, path, f"{section}.{key}", "a list of strings")
            else:
                _expect(value, str, path, f"{section}.{key}", "a string")
    gpus = _expect(data.get("gpus", []), list, path, "gpus", "an array of tables ([[gpus]])")
    for number, gpu in enumerate(gpus):
        _expect(gpu, dict, path, f"gpus[{number}]", "a table")
        for key in ("name", "capability"):
            if key in gpu:
                _expect(gpu[key], str, path, f"gpus[{number}].{key}", "a string")
    packages = data.get("packages")
    if packages is None:
        raise UserError(f"{path}: missing [packages] table")
    _expect(packages, dict, path, "packages", 'a table of name = "version"')
    for name, version in packages.items():
        _expect(version, str, path, f"packages.{name}", "a version string")
    data.setdefault("snapshot", {})["incomplete"] = list(incomplete)
    return data


# ----- comparing ----------------------------------------------------------------------------------------------


def _gpu_label(gpu: dict[str, Any]) -> str:
    return f"{gpu.get('name', '?')} (capability {gpu.get('capability', '?')})"


def compare(snapshot: dict[str, Any], current: dict[str, Any]) -> list[dict[str, Any]]:
    """Every difference, as {kind, name, snapshot, current} (None where one side lacks the item)."""
    skip = set(snapshot.get("snapshot", {}).get("incomplete", [])) | set(
        current.get("snapshot", {}).get("incomplete", [])
    )
    diffs: list[dict[str, Any]] = []

    def add(kind: str, name: str, old: Any, new: Any) -> None:
        if old != new:
            diffs.append({"kind": kind, "name": name, "snapshot": old, "current": new})

    if "python" not in skip:
        for key in ("version", "implementation"):
            add("python", key, snapshot.get("python", {}).get(key), current.get("python", {}).get(key))
    if "platform" not in skip:
        for key in ("system", "machine"):
            add("platform", key, snapshot.get("platform", {}).get(key), current.get("platform", {}).get(key))
    if "torch" not in skip:
        old, new = snapshot.get("torch", {}), current.get("torch", {})
        add("torch", "installed", old.get("installed"), new.get("installed"))
        add("torch", "version", old.get("version"), new.get("version"))
        add("torch", "build", old.get("build"), new.get("build"))
        add("cuda", "torch.cuda", old.get("cuda"), new.get("cuda"))
        add("cudnn", "torch.cudnn", old.get("cudnn"), new.get("cudnn"))
        add("rocm", "torch.hip", old.get("hip"), new.get("hip"))
        old_arch, new_arch = old.get("arch_list"), new.get("arch_list")
        add(
            "torch",
            "arch_list",
            " ".join(old_arch) if old_arch is not None else None,
            " ".join(new_arch) if new_arch is not None else None,
        )
    if "nvidia" not in skip:
        old, new = snapshot.get("nvidia", {}), current.get("nvidia", {})
        add("driver", "nvidia.driver", old.get("driver"), new.get("driver"))
        add("driver", "nvidia.cuda_driver", old.get("cuda_driver"), new.get("cuda_driver"))
    if "gpus" not in skip:
        old_gpus, new_gpus = snapshot.get("gpus", []), current.get("gpus", [])
        for index in range(max(len(old_gpus), len(new_gpus))):
            add(
                "gpu",
                f"gpu {index}",
                _gpu_label(old_gpus[index]) if index < len(old_gpus) else None,
                _gpu_label(new_gpus[index]) if index < len(new_gpus) else None,
            )
    if "packages" not in skip:
        old_pk = {canonicalize_name(k): v for k, v in snapshot.get("packages", {}).items()}
        new_pk = {canonicalize_name(k): v for k, v in current.get("packages", {}).items()}
        for name in sorted(set(old_pk) | set(new_pk)):
            add("package", name, old_pk.get(name), new_pk.get(name))
    return diffs


def describe(diff: dict[str, Any]) -> str:
    old, new = diff["snapshot"], diff["current"]
    if old is None:
        return f"{diff['kind']} {diff['name']}: added ({new})"
    if new is None:
        return f"{diff['kind']} {diff['name']}: removed (was {old})"
    return f"{diff['kind']} {diff['name']}: {old} → {new}"
