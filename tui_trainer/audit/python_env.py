"""Python probe: interpreter version, executable, virtual environment or conda or system, pip version."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from tui_trainer.findings import Finding, Severity


def collect() -> dict[str, Any]:
    """Facts about the running interpreter (the one that would run training)."""
    prefix = Path(sys.prefix)
    in_venv = sys.prefix != sys.base_prefix
    conda = (prefix / "conda-meta").is_dir()
    if in_venv:
        kind = "venv"
    elif conda:
        kind = "conda"
    else:
        kind = "system"
    try:
        pip_version: str | None = metadata.version("pip")
    except metadata.PackageNotFoundError:
        pip_version = None
    return {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "prefix": sys.prefix,
        "base_prefix": sys.base_prefix,
        "venv": in_venv,
        "env_kind": kind,
        "conda_env": os.environ.get("CONDA_DEFAULT_ENV") if conda else None,
        "pip_version": pip_version,
        "platform": platform.system().lower(),
        "machine": platform.machine(),
    }


def assess(facts: dict[str, Any]) -> list[Finding]:
    findings: list[Finding] = []
    version = facts.get("version", "?")
    kind = facts.get("env_kind")
    evidence = {"version": version, "executable": facts.get("executable"), "env_kind": kind}
    if kind == "system":
        findings.append(
            Finding(
                "python.system_interpreter",
                Severity.WARNING,
                "Training from the system interpreter",
                f"{facts.get('executable')} is not inside a virtual environment or conda env, so installing "
                "training packages can break system tools and nobody can reproduce the exact set later.",
                "python -m venv .venv && . .venv/bin/activate && pip install -r requirements.txt",
                evidence,
            )
        )
    else:
        where = "conda env" if kind == "conda" else "virtual environment"
        findings.append(
            Finding(
                "python.environment",
                Severity.OK,
                f"Python {version} in a {where}",
                f"{facts.get('executable')} (prefix {facts.get('prefix')}).",
                "",
                evidence,
            )
        )
    parts = _version_tuple(version)
    if parts and parts < (3, 9):
        findings.append(
            Finding(
                "python.too_old",
                Severity.ERROR,
                f"Python {version} is too old for current PyTorch",
                "PyTorch 2.x wheels need Python 3.9 or newer; pip will fall back to ancient releases or fail.",
                "python3.11 -m venv .venv && . .venv/bin/activate",
                evidence,
            )
        )
    if facts.get("pip_version") is None:
        findings.append(
            Finding(
                "python.pip_missing",
                Severity.WARNING,
                "pip is not installed in this environment",
                "Without pip in this interpreter, `pip install` fixes would go to another Python.",
                f"{facts.get('executable') or 'python'} -m ensurepip --upgrade",
                evidence,
            )
        )
    return findings


def _version_tuple(version: str) -> tuple[int, ...]:
    parts: list[int] = []
    for piece in str(version).split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)
