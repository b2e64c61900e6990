"""Shared test helpers for the data area: inspect a frame in-process and index findings."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from tui_trainer.data.checks import CheckOptions, Thresholds, run_checks
from tui_trainer.data.profile import Profile, profile_frame
from tui_trainer.findings import Finding


def inspect_frame(
    df: pl.DataFrame, label: str | None = None, thresholds: Thresholds | None = None, **options
) -> tuple[Profile, list[Finding]]:
    t = thresholds or Thresholds()
    lf = df.lazy()
    profile = profile_frame(lf, zscore=t.zscore, iqr=t.iqr, engine="auto", categorical=t.categorical)
    findings = run_checks(lf, profile, CheckOptions(label=label, thresholds=t, engine="auto", **options))
    return profile, findings


def by_id(findings: list[Finding], id: str) -> dict[tuple[str, ...], Finding]:
    return {tuple(f.evidence["columns"]): f for f in findings if f.id == id}


def count(findings: list[Finding], id: str, column: str) -> int:
    """The count of the one-column finding `id` on `column`, 0 when there is none."""
    found = by_id(findings, id).get((column,))
    return found.evidence["count"] if found else 0


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path
