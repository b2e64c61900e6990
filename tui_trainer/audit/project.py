"""Project hygiene probe: is the working dir under git, uncommitted changes, pinned requirements, logging."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from tui_trainer.findings import Finding, Severity

LOCK_FILES = (
    "uv.lock",
    "poetry.lock",
    "pdm.lock",
    "Pipfile.lock",
    "conda-lock.yml",
    "pixi.lock",
    "requirements.lock",
)
LOGGING_MARKERS = ("logging.conf", "logging.ini", "logging.yaml", "logging.yml", "logging.json")
TRACKING_DIRS = ("runs", "wandb", "mlruns", "lightning_logs", "tb_logs", "logs", "outputs")


def _git_root(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


def _pinned_requirements(folder: Path) -> list[str]:
    """requirements*.txt files where every requirement is pinned with `==` (a lock in all but name)."""
    pinned = []
    for path in sorted(folder.glob("requirements*.txt")):
        try:
            lines = [ln.split("#", 1)[0].strip() for ln in path.read_text(errors="replace").splitlines()]
        except OSError:
            continue
        reqs = [ln for ln in lines if ln and not ln.startswith("-")]
        if reqs and all("==" in ln for ln in reqs):
            pinned.append(path.name)
    return pinned


def collect(cwd: Path | None = None, timeout: float = 5.0) -> dict[str, Any]:
    cwd = Path(cwd or Path.cwd()).resolve()
    root = _git_root(cwd)
    facts: dict[str, Any] = {
        "cwd": str(cwd),
        "git_root": str(root) if root else None,
        "dirty_files": None,
        "git_error": None,
    }
    base = root or cwd
    if root is not None:
        try:
            result = subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=cwd,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
            if result.returncode == 0:
                facts["dirty_files"] = len([ln for ln in result.stdout.splitlines() if ln.strip()])
            else:
                facts["git_error"] = (result.stderr.strip().splitlines() or ["git status failed"])[0]
        except (OSError, subprocess.TimeoutExpired) as exc:
            facts["git_error"] = str(exc)
    facts["lock_files"] = [name for name in LOCK_FILES if (base / name).is_file()]
    facts["pinned_requirements"] = _pinned_requirements(base)
    facts["requirement_files"] = (
        sorted(
            p.name for p in base.iterdir() if p.name == "pyproject.toml" or p.name.startswith("requirements")
        )
        if base.is_dir()
        else []
    )
    facts["logging_config"] = [name for name in LOGGING_MARKERS if (base / name).is_file()]
    facts["tracking_dirs"] = [name for name in TRACKING_DIRS if (base / name).is_dir()]
    return facts


def assess(facts: dict[str, Any]) -> list[Finding]:
    findings: list[Finding] = []
    cwd = facts.get("cwd")
    if facts.get("git_root") is None:
        findings.append(
            Finding(
                "project.no_git",
                Severity.WARNING,
                "The working directory is not under git",
                f"{cwd}: without version control a result cannot be tied to the code that produced it.",
                "git init && git add -A && git commit -m 'Start of experiments'",
                {"cwd": cwd},
            )
        )
    elif facts.get("dirty_files"):
        findings.append(
            Finding(
                "project.uncommitted_changes",
                Severity.WARNING,
                f"{facts['dirty_files']} file(s) with uncommitted changes",
                "A run started now cannot be reproduced from any commit; commit (or stash) before training.",
                "git status --short && git commit -am 'Snapshot before training'",
                {"git_root": facts.get("git_root"), "dirty_files": facts["dirty_files"]},
            )
        )
    else:
        findings.append(
            Finding(
                "project.git_clean",
                Severity.OK,
                "Working directory is a clean git checkout"
                if facts.get("dirty_files") == 0
                else "Working directory is under git",
                f"{facts.get('git_root')}" + (f" ({facts['git_error']})" if facts.get("git_error") else ""),
                "",
                {"git_root": facts.get("git_root")},
            )
        )
    locks = (facts.get("lock_files") or []) + (facts.get("pinned_requirements") or [])
    if locks:
        findings.append(
            Finding(
                "project.locked",
                Severity.OK,
                f"Dependencies pinned in {', '.join(locks)}",
                "The exact package set can be reinstalled elsewhere.",
                "",
                {"files": locks},
            )
        )
    else:
        findings.append(
            Finding(
                "project.no_lock",
                Severity.WARNING,
                "No lock file or pinned requirements",
                "Without exact versions, the same code on another machine trains against different packages. "
                f"Found: {', '.join(facts.get('requirement_files') or []) or 'no requirements files'}.",
                "pip freeze > requirements.lock",
                {"requirement_files": facts.get("requirement_files")},
            )
        )
    if facts.get("logging_config") or facts.get("tracking_dirs"):
        found = (facts.get("logging_config") or []) + [f"{d}/" for d in facts.get("tracking_dirs") or []]
        findings.append(
            Finding(
                "project.logging",
                Severity.OK,
                f"Logging configured ({', '.join(found)})",
                "Runs leave a record to compare against.",
                "",
                {"found": found},
            )
        )
    else:
        findings.append(
            Finding(
                "project.no_logging",
                Severity.INFO,
                "No logging configuration or experiment log directory found",
                "Without logged metrics and configs, a good run cannot be told from a lucky one later.",
                "mkdir runs  # then log each run's config and metrics there (tui-trainer train writes events.jsonl)",
                {"looked_for": list(LOGGING_MARKERS) + [f"{d}/" for d in TRACKING_DIRS]},
            )
        )
    return findings
