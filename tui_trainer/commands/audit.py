"""`tui-trainer audit`: the Environment pane's headless twin (text report, JSON, snapshot export/compare)."""

from __future__ import annotations

import argparse

HELP = "Audit this environment: Python, packages, PyTorch build vs driver vs GPU, host, project."
DESCRIPTION = """\
Audit this environment and say whether it can train, with the command that fixes each problem.

Probes run concurrently, each with its own timeout: Python, packages (pip check, requirement files),
PyTorch (in a child process, plus a kernel smoke test on the CPU and each visible GPU), GPUs (NVML),
host (CPU, RAM, disk, /dev/shm, open files, env vars) and project hygiene.

exit status: 0 no error finding, 1 at least one error finding, 2 usage error or unreadable file."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", action="store_true", help="print one JSON document instead of the text report"
    )
    parser.add_argument(
        "--requirements",
        "-r",
        metavar="FILE",
        type=str,
        action="append",
        help="also check a requirements.txt or pyproject.toml against what is installed (repeatable)",
    )
    parser.add_argument("--export", metavar="FILE", help="write this environment as a TOML snapshot to FILE")
    parser.add_argument(
        "--compare",
        metavar="FILE",
        help="list every difference between the snapshot FILE and this environment",
    )
    parser.add_argument(
        "--no-smoke", action="store_true", help="skip the kernel smoke test (matmul + backward)"
    )
    parser.add_argument(
        "--timeout",
        metavar="S",
        type=float,
        default=None,
        help="seconds each probe may take before it is reported as hung (default 15)",
    )


def run(args: argparse.Namespace) -> int:
    import json
    import sys
    from pathlib import Path

    from tui_trainer.audit import packages, report, snapshot
    from tui_trainer.audit.runner import DEFAULT_TIMEOUT, AuditOptions, run_audit
    from tui_trainer.errors import UserError

    timeout = DEFAULT_TIMEOUT if args.timeout is None else args.timeout
    if not timeout > 0:
        raise UserError(f"--timeout must be a positive number of seconds, not {args.timeout}")
    requirements = None
    for name in args.requirements or []:
        loaded = packages.load_requirements(Path(name))
        if requirements is None:
            requirements = loaded
        else:
            requirements.requirements.extend(loaded.requirements)
            requirements.skipped.extend(loaded.skipped)
    # Read the snapshot and check the export folder before auditing, so a bad path fails fast with exit 2.
    old = snapshot.load(Path(args.compare)) if args.compare else None
    if args.export:
        from tui_trainer.atomic import check_destination

        folder = Path(args.export).parent
        if not folder.is_dir():
            raise UserError(f"cannot write snapshot {args.export}: folder {folder} does not exist")
        check_destination(Path(args.export))  # a device node, FIFO, folder or symlink: exit 2 now

    result = run_audit(AuditOptions(requirements=requirements, smoke=not args.no_smoke, timeout=timeout))
    differences = None
    if old is not None:
        differences = snapshot.compare(old, snapshot.build(result))
        _add_difference_finding(result, differences, args.compare)
    if args.export:
        written = snapshot.export(result, Path(args.export))
        print(f"tui-trainer audit: snapshot written to {written}", file=sys.stderr)
    if args.json:
        json.dump(report.to_json(result, differences), sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(report.render_text(result, differences, args.compare))
    return report.exit_code(result)


def _add_difference_finding(result, differences, path) -> None:
    from tui_trainer.audit.snapshot import describe
    from tui_trainer.findings import Finding, Severity, sort_findings

    if differences:
        shown = "; ".join(describe(d) for d in differences[:10])
        more = f" (and {len(differences) - 10} more)" if len(differences) > 10 else ""
        finding = Finding(
            "snapshot.differences",
            Severity.WARNING,
            f"{len(differences)} difference(s) from {path}",
            shown + more,
            f"tui-trainer audit --compare {path} --json",
            {"count": len(differences)},
        )
    else:
        finding = Finding("snapshot.same", Severity.OK, f"Same environment as {path}", "", "", {})
    result.findings = sort_findings(result.findings + [finding])
