"""One inspection (open, profile, check) and its two renderings: the JSON document and the text report."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from tui_trainer.data.checks import CheckOptions, Thresholds, findings_to_json, run_checks
from tui_trainer.data.interpret import interpret
from tui_trainer.data.limits import Limits
from tui_trainer.data.load import (
    Dataset,
    check_mixed_columns,
    check_short_rows,
    explain_parse_failure,
    open_dataset,
)
from tui_trainer.data.markers import MARKERS, apply_na_values
from tui_trainer.data.profile import Profile, profile_frame
from tui_trainer.errors import UserError
from tui_trainer.findings import Finding

SPARK = "▁▂▃▄▅▆▇█"


@dataclass
class Inspection:
    dataset: Dataset
    profile: Profile
    findings: list[Finding]
    label: str | None = None
    lf: pl.LazyFrame | None = None  # what was profiled: the in-memory copy, or the scan when streaming
    engine: str = "streaming"


def inspect_dataset(
    path: str | Path,
    label: str | None = None,
    against: str | Path | None = None,
    provenance: str | None = None,
    thresholds: Thresholds | None = None,
    progress: Callable[[str, float], None] | None = None,
    dataset: Dataset | None = None,
    na_values: list[str] | tuple[str, ...] = (),
    date_format: str | None = None,
    task: str | None = None,
    limits: Limits | None = None,
    seed: int = 0,
) -> Inspection:
    """Open, profile and check a file. Every problem with the input is a UserError naming the file.

    `na_values` are extra missing-value tokens, `date_format` a strftime format tried first on text
    columns, `task` ("classification"/"regression") overrides the one inferred from the label.
    """
    tokens = list(na_values)
    for _attempt in range(MARKER_RETRIES):
        try:
            return _inspect(
                path,
                label,
                against,
                provenance,
                thresholds,
                progress,
                dataset,
                tokens,
                date_format,
                task,
                limits,
                seed,
            )
        except _LateMarker as late:
            # A marker after the rows polars inferred types from ("?" at row 20,000): read it as missing.
            tokens.append(late.token)
            dataset = None
    raise UserError(f"{path}: too many different missing-value markers; pass them with --na-values")


MARKER_RETRIES = 6


class _LateMarker(Exception):
    def __init__(self, token: str) -> None:
        self.token = token


def _inspect(
    path, label, against, provenance, thresholds, progress, dataset, tokens, date_format, task, limits, seed
):
    report = progress or (lambda _s, _f: None)
    dataset = dataset or open_dataset(path, na_values=tokens, limits=limits)
    other = open_dataset(against, na_values=tokens, limits=limits) if against is not None else None
    t = thresholds or Thresholds()
    try:
        lf, engine, rows_hint = in_memory(dataset, tokens)
        profile = profile_frame(
            lf,
            progress=report,
            zscore=t.zscore,
            iqr=t.iqr,
            engine=engine,
            rows_hint=rows_hint,
            categorical=t.categorical,
        )
        if profile.columns:
            check_short_rows(dataset, profile.columns[-1].nulls)
        meaning = interpret(lf, profile, date_format=date_format, engine=engine)
        if meaning.changed:
            lf = meaning.lf
            again = profile_frame(
                lf.select(meaning.changed),
                zscore=t.zscore,
                iqr=t.iqr,
                engine=engine,
                rows_hint=rows_hint,
                categorical=t.categorical,
            )
            replaced = {c.name: c for c in again.columns}
            profile.columns = [replaced.get(c.name, c) for c in profile.columns]
        mixed = {c.name: (c.count, c.numeric_strings or 0) for c in profile.columns if c.kind == "text"}
        check_mixed_columns(dataset, mixed)
        report("checks", 0.0)
        findings = run_checks(
            lf,
            profile,
            CheckOptions(
                label=label,
                against=other.lazy if other else None,
                against_name=str(against) if against is not None else "",
                provenance=provenance,
                thresholds=t,
                engine=engine,
                task=task,
                seed=seed,
                extra=meaning.findings,
            ),
        )
        report("checks", 1.0)
    except UserError:
        raise
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError, ValueError) as exc:
        failing = dataset
        if other is not None and not isinstance(exc, pl.exceptions.ColumnNotFoundError):
            try:
                other.lazy.head(1).collect()
            except Exception:  # noqa: BLE001 - we only want to know which file failed
                failing = other
        late = _late_marker(exc)
        if late is not None and failing is dataset and late not in tokens:
            raise _LateMarker(late) from None
        raise explain_parse_failure(failing.path, failing.format, exc) from None
    return Inspection(dataset, profile, findings, label, lf, engine)


def _late_marker(exc: BaseException) -> str | None:
    import re

    match = re.search(r"could not parse [`'\"]?(?P<value>.*?)[`'\"]? as dtype", str(exc))
    if match and match.group("value").strip().lower() in MARKERS:
        return match.group("value")
    return None


def in_memory(dataset: Dataset, na_values: list[str] | None = None) -> tuple[pl.LazyFrame, str, int | None]:
    """Read the data once into memory when it comfortably fits, else keep streaming it from disk.

    Profiling runs several passes; on a 10M-row Parquet, reading once and running them in memory is
    ~3x faster than streaming each pass from disk, for ~1 GB of RAM. `na_values` are read as missing
    in every format (CSV already did so while reading; numeric tokens such as -999 apply everywhere).
    """
    source = apply_na_values(dataset.lazy, list(na_values or []))
    if dataset.format == "images" or _fits(dataset.path):
        frame = source.collect()
        return frame.lazy(), "auto", frame.height
    rows = None
    if dataset.format in ("parquet", "ipc"):
        rows = int(dataset.lazy.select(pl.len()).collect().item())  # from the file's metadata
    elif dataset.format in ("csv", "tsv", "ndjson"):
        # Parsed once into a temp Parquet file that every later pass reads slice by slice (bounded memory).
        from tui_trainer.data.stream_profile import spill_text

        source, rows = spill_text(source)
    return source, "streaming", rows


def _fits(path: Path) -> bool:
    import psutil

    try:
        size = path.stat().st_size
        available = psutil.virtual_memory().available
    except OSError:
        return False
    # In memory a table takes ~1-3x its file size (Parquet is compressed); keep to a quarter of free RAM.
    return size * 3 <= available // 4


def to_json(inspection: Inspection) -> dict[str, Any]:
    profile = inspection.profile
    return {
        "file": str(inspection.dataset.path),
        "format": inspection.dataset.format,
        "rows": profile.rows,
        "duplicates": profile.duplicates,
        "label": inspection.label,
        "class_counts": _class_counts(inspection),
        "columns": [c.to_dict(profile.rows) for c in profile.columns],
        "findings": findings_to_json(inspection.findings),
    }


def _class_counts(inspection: Inspection) -> dict[str, int] | None:
    for finding in inspection.findings:
        if finding.id == "imbalance" and finding.evidence.get("columns") == [inspection.label]:
            return dict(finding.evidence["class_counts"])
    return None


def dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str, allow_nan=False)


def sparkline(counts: list[int]) -> str:
    if not counts:
        return ""
    top = max(counts)
    if top <= 0:
        return SPARK[0] * len(counts)
    return "".join(
        SPARK[min(len(SPARK) - 1, math.ceil(c / top * (len(SPARK) - 1)))] if c else " " for c in counts
    )


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def to_text(inspection: Inspection) -> str:
    profile = inspection.profile
    lines = [
        f"{inspection.dataset.path} ({inspection.dataset.format}): {profile.rows} rows x {len(profile.columns)} columns, "
        f"{profile.duplicates} duplicate rows",
        "",
        f"{'column':<24} {'dtype':<10} {'missing':>9} {'unique':>8} {'mean':>10} {'std':>10} {'min':>10} {'max':>10}  histogram",
    ]
    for c in profile.columns:
        lines.append(
            f"{c.name[:24]:<24} {c.dtype[:10]:<10} {c.missing:>9} {_fmt(c.unique):>8} {_fmt(c.mean):>10} "
            f"{_fmt(c.std):>10} {_fmt(c.min)[:10]:>10} {_fmt(c.max)[:10]:>10}  {sparkline(c.histogram)}"
        )
    lines.append("")
    shown = [f for f in inspection.findings if f.severity.value != "ok"] or inspection.findings
    lines.append(f"{len(inspection.findings)} findings:" if inspection.findings else "No findings.")
    for f in inspection.findings:
        ex = f.evidence.get("examples") or []
        ex_text = f" rows {', '.join(map(str, ex))}" if ex else ""
        lines.append(f"  [{f.severity.value:<7}] {f.id:<18} {f.title}{ex_text}")
        if f.fix and f in shown and f.severity.value != "ok":
            lines.append(f"  {'':<9} {'':<18} fix: {f.fix}")
    return "\n".join(lines)
