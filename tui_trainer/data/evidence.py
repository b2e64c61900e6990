"""How a data finding carries its evidence: `columns`, `count` and `examples` (0-based rows) always, then extras."""

from __future__ import annotations

from typing import Any

from tui_trainer.findings import Finding, Severity

EXAMPLES = 5


def make_finding(
    id: str,
    severity: Severity | str,
    title: str,
    detail: str,
    fix: str,
    columns: list[str],
    count: int,
    examples: list[int] | None = None,
    **extra: Any,
) -> Finding:
    evidence = {
        "columns": list(columns),
        "count": int(count),
        "examples": [int(i) for i in (examples or [])][:EXAMPLES],
    }
    evidence.update(extra)
    return Finding(id=id, severity=severity, title=title, detail=detail, fix=fix, evidence=evidence)
