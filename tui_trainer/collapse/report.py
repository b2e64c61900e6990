"""A collapse result as JSON (the issue's schema plus extras) or CSV (one row per generation)."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import asdict
from typing import Any

from tui_trainer.collapse.experiment import CollapseResult, GenerationStats

INDEXING = (
    "generation 0 is the model fit on real data; generation g is the model after g + 1 fits (`fits`), "
    "each fit on samples of the generation before (plus the real share, or all data so far with accumulate)"
)

# The keys first, in its order; the rest follow.
LEADING_KEYS = ("generation", "variance_mean", "variance_median", "w2_mean", "heldout_loss")


def _clean(value: Any) -> Any:
    """JSON has no NaN or infinity: write them as null rather than emit a file other tools reject."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def generation_record(stats: GenerationStats) -> dict[str, Any]:
    data = stats.to_dict()
    ordered = {key: data.pop(key) for key in LEADING_KEYS}
    ordered.update(data)
    return _clean(ordered)


def to_dict(result: CollapseResult) -> dict[str, Any]:
    params = asdict(result.params)
    params["real_per_generation"] = result.params.real_per_generation if result.params.real_fraction else 0
    return _clean(
        {
            "generations": [generation_record(s) for s in result.generations],
            "params": params,
            "reference": result.reference,
            "indexing": INDEXING,
            "stopped": result.stopped,
        }
    )


def to_json(result: CollapseResult) -> str:
    return json.dumps(to_dict(result), indent=2, allow_nan=False) + "\n"


def _flat(stats: GenerationStats) -> dict[str, Any]:
    row = generation_record(stats)
    expected = row.pop("expected") or {}
    fitted = row.pop("fitted") or {}
    for key, value in expected.items():
        row[f"expected_{key}"] = value
    for key, value in fitted.items():
        # Lists (per-component parameters) stay in the JSON; a CSV cell holds one number.
        if isinstance(value, int | float | str) or value is None:
            row[f"fitted_{key}"] = value
    return row


def to_csv(result: CollapseResult) -> str:
    rows = [_flat(s) for s in result.generations]
    columns: list[str] = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})
    return buffer.getvalue()
