"""Reports for any valid parameters: JSON that parses (no NaN), CSV with one row per generation, ordered spreads."""

from __future__ import annotations

import csv
import io
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui_trainer.collapse import report
from tui_trainer.collapse.experiment import CollapseParams, run_experiment, summarise

params_strategy = st.builds(
    CollapseParams,
    model=st.just("gaussian"),
    estimator=st.sampled_from(["mle", "unbiased"]),
    generations=st.integers(1, 6),
    samples=st.integers(2, 40),
    repeats=st.integers(1, 30),
    seed=st.integers(0, 2**32),
    real_fraction=st.floats(0, 1),
    accumulate=st.booleans(),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(params_strategy)
def test_any_valid_run_reports_consistently(params):
    result = run_experiment(params)
    data = json.loads(report.to_json(result))
    gens = data["generations"]
    assert [g["generation"] for g in gens] == list(range(params.generations))
    for g in gens:
        assert (
            g["variance_q05"]
            <= g["variance_q25"]
            <= g["variance_median"]
            <= g["variance_q75"]
            <= g["variance_q95"]
        )
        assert g["w2_mean"] >= 0 and 0 <= g["tail_mass_mean"] <= 1
    rows = list(csv.DictReader(io.StringIO(report.to_csv(result))))
    assert len(rows) == params.generations
    assert float(rows[-1]["w2_mean"]) == gens[-1]["w2_mean"]


def test_non_finite_numbers_become_null():
    stats = summarise(0, [1.0, float("inf")], [0.0, float("nan")], [0.0, 0.0])
    record = report.generation_record(stats)
    assert record["variance_mean"] is None and record["w2_mean"] is None
    json.dumps(record, allow_nan=False)
