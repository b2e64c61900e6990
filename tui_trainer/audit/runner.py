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
from typing import TYPE_CHECKING, Any

from tui_trainer.findings import Finding, Severity, sort_findings

if TYPE_CHECKING:
    from tui_trainer.audit.packages import RequirementsFile

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
# The facts each probe's checks read, when more than its own: torch's compare the build with the GPUs.
ASSESS_NEEDS: dict[str, tuple[str, ...]] = {"torch": ("torch", "gpus")}
# What a probe that gave nothing stands for, so the checks of the others still run on its absence.
MISSING_FACTS: dict[str, dict[str, Any]] = {
    "packages": {"installed": []},
    "torch": {"installed": None},
    "gpus": {"nvml": False, "error": "GPU probe did not answer", "devices": []},
}


@dataclass
class AuditOptions:
    requirements: RequirementsFile | None = None
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


@dataclass(frozen=True)
class ProbeUpdate:
    """One probe finished (or timed out), with everything the audit can say so far: a UI shows it at once,
    while slower probes (the torch child) still run. Each update holds all earlier ones, so only the newest
    matters."""

    probe: str
    done: int
    total: int
    report: ProbeReport
    finished: tuple[str, ...]  # the probes done so far, in the order they finished
    findings: tuple[Finding, ...]  # every finding that can be judged so far, worst first


ProgressCallback = Callable[[ProbeUpdate], None]


def default_collectors(options: AuditOptions, cancel: threading.Event) -> dict[str, Callable[[], Any]]:
    # Imported here, not at the top: the app imports this module for its types before its first frame.
    from tui_trainer.audit import gpus, host, packages, project, python_env, torch_build

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
    """Collect every probe concurrently, judging each as soon as its facts are in; `progress` gets a
    ProbeUpdate per finished probe. `collectors` replaces probes (tests pass fakes)."""
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
    judge = _Judge(options)
    pending = set(PROBES)

    def finish(report: ProbeReport, value: Any = None) -> None:
        pending.discard(report.name)
        judge.add(report, value)
        if progress:
            progress(
                ProbeUpdate(
                    report.name,
                    len(PROBES) - len(pending),
                    len(PROBES),
                    report,
                    tuple(judge.order),
                    tuple(sort_findings(judge.findings())),
                )
            )

    while pending:
        now = time.perf_counter()
        if cancel.is_set():
            for name in sorted(pending):
                judge.add(ProbeReport(name, "cancelled", now - started, "cancelled"), None)
            break
        for name in sorted(pending):
            if now > deadlines[name]:
                finish(ProbeReport(name, "timeout", now - started, f"no answer after {options.timeout:g} s"))
        try:
            name, value, error, seconds = results.get(timeout=0.05)
        except queue.Empty:
            continue
        if name not in pending:
            continue  # it answered after its deadline: too late, already reported
        if error is None:
            finish(ProbeReport(name, "ok", seconds), value)
        else:
            finish(ProbeReport(name, "error", seconds, error))

    result = judge.result()
    result.findings = sort_findings(judge.findings())
    result.seconds = time.perf_counter() - started
    return result


class _Judge:
    """Facts and reports as probes finish; each probe is judged once the facts its checks read are in."""

    def __init__(self, options: AuditOptions) -> None:
        self.options = options
        self.facts: dict[str, Any] = {}
        self.reports: dict[str, ProbeReport] = {}
        self.order: list[str] = []
        self.failures: dict[str, Finding] = {}
        self.assessed: dict[str, list[Finding]] = {}

    def add(self, report: ProbeReport, value: Any) -> None:
        self.reports[report.name] = report
        self.order.append(report.name)
        if report.status == "ok":
            self.facts[report.name] = value
        else:
            self.failures[report.name] = _probe_failure(report)
        partial = self.result()
        for name in PROBES:
            if name in self.assessed or self.reports.get(name) is None:
                continue
            if any(need not in self.reports for need in ASSESS_NEEDS.get(name, (name,))):
                continue
            # A failed probe's failure finding says enough; judging empty facts would only add noise.
            self.assessed[name] = self._assess(name, partial) if self.reports[name].status == "ok" else []

    def result(self) -> AuditResult:
        def facts(name: str) -> dict[str, Any]:
            return self.facts.get(name) or dict(MISSING_FACTS.get(name, {}))

        return AuditResult(
            python=facts("python"),
            packages=facts("packages"),
            torch=facts("torch"),
            gpus=facts("gpus"),
            host=facts("host"),
            project=facts("project"),
            probes=[self.reports[name] for name in PROBES if name in self.reports],
        )

    def findings(self) -> list[Finding]:
        """Probe failures first, then each judged probe's findings, in a fixed order (sorting is stable)."""
        found = [self.failures[name] for name in PROBES if name in self.failures]
        for name in ASSESS_ORDER:
            found.extend(self.assessed.get(name, ()))
        return found

    def _assess(self, name: str, result: AuditResult) -> list[Finding]:
        from tui_trainer.audit import gpus, host, packages, project, python_env, torch_build

        steps: dict[str, Callable[[], list[Finding]]] = {
            "python": lambda: python_env.assess(result.python),
            "packages": lambda: packages.assess(result.packages, self.options.requirements),
            "torch": lambda: torch_build.assess(result.torch, result.gpus),
            "gpus": lambda: gpus.assess(result.gpus),
            "host": lambda: host.assess(result.host),
            "project": lambda: project.assess(result.project),
        }
        try:
            return list(steps[name]())
        except Exception as exc:  # a bug in one assessment must not hide every other finding
            return [
                Finding(
                    f"audit.{name}_assessment_failed",
                    Severity.ERROR,
                    f"The {PROBE_TITLES[name]} checks crashed",
                    f"{type(exc).__name__}: {exc}. The facts were collected; this is a tui-trainer bug.",
                    "tui-trainer --debug audit --json",
                    {"probe": name},
                )
            ]


ASSESS_ORDER: tuple[str, ...] = ("python", "packages", "torch", "gpus", "host", "project")


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
