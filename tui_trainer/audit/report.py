"""The audit as a readable text report and as one JSON document (the schema the README documents)."""

from __future__ import annotations

from typing import Any

from tui_trainer import __version__
from tui_trainer.audit.packages import package_list
from tui_trainer.audit.runner import AuditResult
from tui_trainer.audit.snapshot import describe
from tui_trainer.findings import Severity, sort_findings, worst_severity

SYMBOL = {Severity.ERROR: "✖", Severity.WARNING: "▲", Severity.INFO: "●", Severity.OK: "✔"}
GIB = 1024**3


def exit_code(result: AuditResult) -> int:
    """0 when no finding is an error, 1 when one is."""
    return 1 if worst_severity(result.findings) is Severity.ERROR else 0


def counts(result: AuditResult) -> dict[str, int]:
    totals = {s.value: 0 for s in (Severity.ERROR, Severity.WARNING, Severity.INFO, Severity.OK)}
    for finding in result.findings:
        totals[finding.severity.value] += 1
    return totals


def to_json(result: AuditResult, differences: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    torch = dict(result.torch)
    torch.pop("smoke_requested", None)
    doc: dict[str, Any] = {
        "tool": {"name": "tui-trainer", "version": __version__},
        "python": result.python,
        "packages": package_list(result.packages.get("installed", [])),
        "torch": torch,
        "nvidia": {
            k: result.gpus.get(k)
            for k in ("nvml", "error", "driver", "cuda_driver", "cuda_visible_devices", "unmatched_visible")
        },
        "gpus": list(result.gpus.get("devices") or []),
        "host": result.host,
        "project": result.project,
        "findings": [f.to_dict() for f in sort_findings(result.findings)],
        "summary": {
            "worst": worst_severity(result.findings).value,
            "counts": counts(result),
            "exit_code": exit_code(result),
        },
        "probes": [p.to_dict() for p in result.probes],
        "seconds": round(result.seconds, 3),
    }
    if differences is not None:
        doc["differences"] = differences
    return doc


def _gib(value: Any) -> str:
    if value is None:
        return "?"
    return f"{value / GIB:.1f} GiB" if value >= GIB else f"{value / 1024**2:.0f} MiB"


def summary_lines(result: AuditResult) -> list[tuple[str, str]]:
    """(label, text) rows shared by the text report and the pane's summary."""
    py = result.python
    rows = [
        (
            "Python",
            f"{py.get('version', '?')} ({py.get('env_kind', '?')}) {py.get('executable', '')}"
            f" · pip {py.get('pip_version') or 'missing'}",
        )
    ]
    torch = result.torch
    if not torch.get("installed"):
        rows.append(("PyTorch", "not installed"))
    elif torch.get("version") is None:
        rows.append(
            ("PyTorch", f"unknown ({torch.get('import_error') or torch.get('probe_error') or 'no answer'})")
        )
    else:
        build = {"cpu": "CPU-only", "rocm": f"ROCm {torch.get('hip')}"}.get(
            torch.get("build") or "", f"CUDA {torch.get('cuda')}"
        )
        rows.append(
            (
                "PyTorch",
                f"{torch['version']} · {build} · cuDNN {torch.get('cudnn') or '-'} · "
                f"CUDA available: {'yes' if torch.get('cuda_available') else 'no'}"
                + (" · MPS available" if torch.get("mps_available") else ""),
            )
        )
    gpus = result.gpus
    if not gpus.get("nvml"):
        rows.append(("GPUs", f"none (NVML: {gpus.get('error') or 'unavailable'})"))
    else:
        devices = gpus.get("devices") or []
        names = ", ".join(f"{d.get('index')}: {d.get('name')}" for d in devices) or "no devices"
        rows.append(("GPUs", f"{names} · driver {gpus.get('driver')} (CUDA {gpus.get('cuda_driver')})"))
    host = result.host
    shm = (host.get("shm") or {}).get("total_bytes")
    rows.append(
        (
            "Host",
            f"{host.get('cpu_usable', '?')} cores · RAM {_gib(host.get('ram_total_bytes'))} "
            f"({_gib(host.get('ram_available_bytes'))} free) · /dev/shm {_gib(shm)}",
        )
    )
    project = result.project
    if project:
        where = project.get("git_root") or project.get("cwd")
        state = (
            "not under git"
            if not project.get("git_root")
            else (f"{project.get('dirty_files')} uncommitted" if project.get("dirty_files") else "clean")
        )
        rows.append(("Project", f"{where} ({state})"))
    return rows


def render_text(
    result: AuditResult, differences: list[dict[str, Any]] | None = None, compared_with: str | None = None
) -> str:
    lines = [f"tui-trainer audit (tui-trainer {__version__})", ""]
    width = max(len(label) for label, _ in summary_lines(result))
    lines += [f"{label:<{width}}  {text}" for label, text in summary_lines(result)]
    lines += ["", "Findings, worst first:"]
    for finding in sort_findings(result.findings):
        lines.append(f"{SYMBOL[finding.severity]} {finding.severity.value:<7} {finding.id}: {finding.title}")
        if finding.severity is not Severity.OK:
            if finding.detail:
                lines.append(f"    {finding.detail}")
            if finding.fix:
                lines.append(f"    fix: {finding.fix}")
    if differences is not None:
        lines += ["", f"Differences from {compared_with or 'the snapshot'}: {len(differences) or 'none'}"]
        lines += [f"  {describe(diff)}" for diff in differences]
    total = counts(result)
    lines += [
        "",
        f"{total['error']} error(s), {total['warning']} warning(s), {total['info']} info, "
        f"{total['ok']} ok · {result.seconds:.2f} s",
    ]
    return "\n".join(lines) + "\n"
