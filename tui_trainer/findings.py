"""The one Finding type shared by the environment audit, data checks and training diagnostics."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    """How bad a finding is; ordered so that sorting puts errors first."""

    OK = "ok"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        """Larger is worse: ok 0, info 1, warning 2, error 3."""
        return _RANK[self]

    @classmethod
    def parse(cls, value: str | Severity) -> Severity:
        if isinstance(value, Severity):
            return value
        try:
            return cls(str(value).lower())
        except ValueError:
            allowed = ", ".join(s.value for s in cls)
            raise ValueError(f"unknown severity {value!r}; expected one of {allowed}") from None


_RANK = {Severity.OK: 0, Severity.INFO: 1, Severity.WARNING: 2, Severity.ERROR: 3}


@dataclass(frozen=True)
class Finding:
    """One thing found: what it is, how bad, why we think so, and how to fix it.

    `evidence` carries the numbers behind the finding (counts, columns, versions, steps) so a
    table can show them and JSON output keeps them machine-readable.
    """

    id: str
    severity: Severity
    title: str
    detail: str = ""
    fix: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "severity", Severity.parse(self.severity))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["severity"] = self.severity.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        return cls(
            id=str(data["id"]),
            severity=Severity.parse(data["severity"]),
            title=str(data.get("title", "")),
            detail=str(data.get("detail", "")),
            fix=str(data.get("fix", "")),
            evidence=dict(data.get("evidence", {})),
        )


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Worst first, then by id, so reports and tables read the same way every time."""
    return sorted(findings, key=lambda f: (-f.severity.rank, f.id, f.title))


def worst_severity(findings: list[Finding]) -> Severity:
    """The most severe level among `findings` (OK when there are none)."""
    worst = Severity.OK
    for finding in findings:
        if finding.severity.rank > worst.rank:
            worst = finding.severity
    return worst
