"""Runs the probes concurrently, each with its own timeout, and turns every failure into a finding.

Collectors run in daemon threads: a collector stuck in a driver call is abandoned at its deadline (reported
as an error finding) instead of holding up the audit or the interpreter's exit.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui_trainer.audit import gpus, host, packages, project, python_env, torch_build
from tui_trainer.findings import Finding, Severity, sort_findings

PROBES: tuple[str, ...] = ("torch", "python", "packages", "gpus", "host", "project")
PROBE_TITLES = {
    "torch": "PyTorch",
    "python": "Python",
    "packages": "Packages",
    "gpus": "GPUs (NVML)",
    "host": "Host",
    "project": "Project",
}
DEFAULT_TIMEOUT = 15.0

ProgressCallback = Callable[[str, int, int], None]


@dataclass
class AuditOptions:
    requirements: packages.RequirementsFile | None = None
    smoke: bool = True
    timeout: float = DEFAULT_TIMEOUT
    cwd: Path | None = None


@dataclass
class ProbeReport:
    name: str
    status: str  # ok | error | timeout | cancelled
    seconds: float
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "seconds": round(self.seconds, 3),
            "error": self.error,
        }


@dataclass
class AuditResult:
    python: dict[str, Any] = field(default_factory=dict)
    packages: dict[str, Any] = field(default_factory=dict)
    torch: dict[str, Any] = field(default_factory=dict)
    gpus: dict[str, Any] = field(default_factory=dict)
    host: dict[str, Any] = field(default_factory=dict)
    project: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    probes: list[ProbeReport] = field(default_factory=list)
    seconds: float = 0.0

    def failed_probes(self) -> set[str]:
        failed = {p.name for p in self.probes if p.status != "ok"}
        if (
            self.torch.get("installed")
            and self.torch.get("version") is None
            and not self.torch.get("import_error")
        ):
            failed.add("torch")  # the child never reported a build: torch facts are unknown, not absent
        return failed


def default_collectors(options: AuditOptions, cancel: threading.Event) -> dict[str, Callable[[], Any]]:
    return {
        "torch": lambda: torch_build.collect(timeout=options.timeout, smoke=options.smoke, cancel=cancel),
        "python": python_env.collect,
        "packages": packages.collect,
        "gpus": gpus.collect,
        "host": lambda: host.collect(options.cwd),
        "project": lambda: project.collect(options.cwd, timeout=min(options.timeout, 5.0)),
    }


def _run_collector(name: str, fn: Callable[[], Any], results: queue.Queue) -> None:
    started = time.perf_counter()
    try:
        value = fn()
        results.put((name, value, None, time.perf_counter() - started))
    except BaseException as exc:  # noqa: B036 - a probe must never take the audit down, whatever it raises
        results.put((name, None, f"{type(exc).__name__}: {exc}", time.perf_counter() - started))


def run_audit(
    options: AuditOptions | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    collectors: dict[str, Callable[[], Any]] | None = None,
) -> AuditResult:
    """Collect every probe concurrently, then assess. `collectors` replaces probes (tests pass fakes)."""
    options = options or AuditOptions()
    cancel = cancel or threading.Event()
    table = default_collectors(options, cancel)
    table.update(collectors or {})
    started = time.perf_counter()
    results: queue.Queue = queue.Queue()
    deadlines: dict[str, float] = {}
    for name in PROBES:
        # The torch child enforces options.timeout itself; its thread gets a little grace to report that.
        grace = 2.0 if name == "torch" else 0.0
        deadlines[name] = time.perf_counter() + options.timeout + grace
        threading.Thread(
            target=_run_collector, args=(name, table[name], results), daemon=True, name=f"audit-{name}"
        ).start()
    facts: dict[str, Any] = {}
    reports: dict[str, ProbeReport] = {}
    pending = set(PROBES)
    while pending:
        now = time.perf_counter()
        if cancel.is_set():
            for name in sorted(pending):
                reports[name] = ProbeReport(name, "cancelled", now - started, "cancelled")
            break
        for name in sorted(pending):
            if now > deadlines[name]:
                pending.discard(name)
                reports[name] = ProbeReport(
                    name, "timeout", now - started, f"no answer after {options.timeout:g} s"
                )
                if progress:
                    progress(name, len(PROBES) - len(pending), len(PROBES))
        try:
            name, value, error, seconds = results.get(timeout=0.05)
        except queue.Empty:
            continue
        if name not in pending:
            continue  # it answered after its deadline: too late, already reported
        pending.discard(name)
        if error is None:
            facts[name] = value
            reports[name] = ProbeReport(name, "ok", seconds)
        else:
            reports[name] = ProbeReport(name, "error", seconds, error)
        if progress:
            progress(name, len(PROBES) - len(pending), len(PROBES))

    result = AuditResult(
        python=facts.get("python") or {},
        packages=facts.get("packages") or {"installed": []},
        torch=facts.get("torch") or {"installed": None},
        gpus=facts.get("gpus") or {"nvml": False, "error": "GPU probe did not answer", "devices": []},
        host=facts.get("host") or {},
        project=facts.get("project") or {},
        probes=[reports[name] for name in PROBES if name in reports],
    )
    result.findings = sort_findings(_assess(result, reports, options))
    result.seconds = time.perf_counter() - started
    return result


def _assess(result: AuditResult, reports: dict[str, ProbeReport], options: AuditOptions) -> list[Finding]:
    findings: list[Finding] = []
    for name in PROBES:
        report = reports.get(name)
        if report is not None and report.status != "ok":
            findings.append(_probe_failure(report))
    steps: list[tuple[str, Callable[[], list[Finding]]]] = [
        ("python", lambda: python_env.assess(result.python)),
        ("packages", lambda: packages.assess(result.packages, options.requirements)),
        ("torch", lambda: torch_build.assess(result.torch, result.gpus)),
        ("gpus", lambda: gpus.assess(result.gpus)),
        ("host", lambda: host.assess(result.host)),
        ("project", lambda: project.assess(result.project)),
    ]
    for name, step in steps:
        report = reports.get(name)
        if report is None or report.status != "ok":
            continue  # its failure finding says enough; judging empty facts would only add noise
        try:
            findings.extend(step())
        except Exception as exc:  # a bug in one assessment must not hide every other finding
            findings.append(
                Finding(
                    f"audit.{name}_assessment_failed",
                    Severity.ERROR,
                    f"The {PROBE_TITLES[name]} checks crashed",
                    f"{type(exc).__name__}: {exc}. The facts were collected; this is a tui-trainer bug.",
                    "tui-trainer --debug audit --json",
                    {"probe": name},
                )
            )
    return findings


def _probe_failure(report: ProbeReport) -> Finding:
    title = PROBE_TITLES.get(report.name, report.name)
    if report.status == "timeout":
        detail = (
            f"The {title} probe gave no answer within its timeout ({report.error}). For GPUs this usually "
            "means the NVIDIA driver is hung; its results are missing from this audit."
        )
        fix = (
            "nvidia-smi  # if this hangs too, the driver needs a reset or a reboot"
            if report.name == "gpus"
            else "tui-trainer audit --timeout 60"
        )
        return Finding(
            f"audit.{report.name}_timeout",
            Severity.ERROR,
            f"{title} probe timed out",
            detail,
            fix,
            {"probe": report.name, "error": report.error},
        )
    if report.status == "cancelled":
        return Finding(
            f"audit.{report.name}_cancelled",
            Severity.INFO,
            f"{title} probe cancelled",
            "The audit was stopped before this probe finished.",
            "",
            {"probe": report.name},
        )
    return Finding(
        f"audit.{report.name}_failed",
        Severity.ERROR,
        f"{title} probe failed",
        f"{report.error}. Its results are missing from this audit.",
        "tui-trainer --debug audit",
        {"probe": report.name, "error": report.error},
    )
