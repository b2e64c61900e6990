"""The Gaussian collapse against its closed forms, with tolerances from the standard error over repeats."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tui_trainer.collapse import gaussian
from tui_trainer.collapse.experiment import CollapseParams, run_experiment
from tui_trainer.errors import UserError

# A mean over R repeats lies within Z standard errors of its expectation with probability ~0.9999 per check;
# with a few dozen checks per test a false alarm stays rare while a 5% bias (one fit off) is caught.
Z = 4.0


def _run(**kw):
    return run_experiment(CollapseParams(**kw)).generations


def test_mle_variance_follows_closed_form_with_generation_zero_as_the_first_fit():
    n = 20
    gens = _run(estimator="mle", generations=12, samples=n, repeats=4000, seed=1)
    for s in gens:
        expect = ((n - 1) / n) ** (s.generation + 1)
        assert s.fits == s.generation + 1
        assert s.expected["variance_mean"] == pytest.approx(expect)
        assert abs(s.variance_mean - expect) < Z * s.variance_se, (s.generation, s.variance_mean, expect)
    # One fit off in the indexing would move generation 11 by a factor 0.95: far outside the tolerance.
    last = gens[-1]
    assert abs(last.variance_mean - ((n - 1) / n) ** last.generation) > Z * last.variance_se


def test_unbiased_keeps_mean_variance_while_median_and_log_variance_fall():
    gens = _run(estimator="unbiased", generations=30, samples=20, repeats=3000, seed=2)
    for s in gens:
        assert abs(s.variance_mean - 1.0) < Z * s.variance_se
    # E[log σ²] is known exactly; its spread over repeats gives the tolerance.
    first, last = gens[0], gens[-1]
    assert last.variance_median < 0.6 < first.variance_median
    assert last.log_variance_mean < first.log_variance_mean < 0
    t = last.fits
    log_sd = math.sqrt(t * 2 / 19)  # Var[log(χ²_19/19)] ≈ 2/19 per fit
    assert abs(last.log_variance_mean - last.expected["log_variance_mean"]) < Z * log_sd / math.sqrt(3000)


def test_unbiased_w2_grows_as_three_halves_sum_of_inverse_samples():
    gens = _run(estimator="unbiased", generations=11, samples=100, repeats=4000, seed=3)
    g10 = gens[10]
    assert g10.fits == 11
    assert g10.expected["w2_first_order"] == pytest.approx(0.165)
    assert abs(g10.w2_mean - g10.expected["w2_mean"]) < Z * g10.w2_se
    # The first-order formula is within a few percent of the exact one at this size.
    assert g10.w2_mean == pytest.approx(0.165, rel=0.08)
    for s in gens:
        assert abs(s.w2_mean - s.expected["w2_mean"]) < Z * s.w2_se


def test_mle_w2_matches_exact_closed_form():
    gens = _run(estimator="mle", generations=20, samples=20, repeats=4000, seed=4)
    for s in gens:
        assert abs(s.w2_mean - s.expected["w2_mean"]) < Z * s.w2_se


def test_ten_percent_real_data_keeps_variance_away_from_zero():
    collapsed = _run(estimator="mle", generations=200, samples=20, repeats=400, seed=5)
    kept = _run(estimator="mle", generations=200, samples=20, repeats=400, seed=5, real_fraction=0.1)
    assert collapsed[-1].variance_median < 0.01
    # Stationary point of E[σ²] ≥ σ0²·cF/(1 - c(1-F)) with c = 19/20, F = 0.1: ≈ 0.66.
    assert kept[-1].variance_mean > 0.5
    assert kept[-1].variance_q05 > 0.1
    assert min(s.variance_median for s in kept[100:]) > 0.3


def test_real_fraction_one_never_drifts():
    gens = _run(estimator="unbiased", generations=30, samples=50, repeats=500, seed=6, real_fraction=1.0)
    assert abs(gens[-1].variance_mean - 1.0) < Z * gens[-1].variance_se
    assert gens[-1].w2_mean < 2 * gens[0].w2_mean


def test_accumulate_keeps_w2_bounded_while_replace_grows():
    n = 20
    replace = _run(estimator="unbiased", generations=60, samples=n, repeats=1500, seed=7)
    keep = _run(estimator="unbiased", generations=60, samples=n, repeats=1500, seed=7, accumulate=True)
    bound = 1.5 / n * math.pi**2 / 6
    for s in keep:
        assert s.w2_mean < bound + Z * s.w2_se
    assert keep[-1].w2_mean - keep[30].w2_mean < 0.1 * keep[-1].w2_mean
    assert replace[-1].w2_mean > 10 * keep[-1].w2_mean
    assert keep[-1].fitted["train_size"] == n * 60


def test_accumulate_pooled_statistics_equal_direct_fit_on_all_data():
    # The running merge must equal fitting on the concatenation; rebuild the concatenation with the same draws.
    p = CollapseParams(estimator="mle", generations=4, samples=7, repeats=3, seed=8, accumulate=True)
    gens = run_experiment(p).generations
    rng = np.random.default_rng(8)
    data = rng.normal(0, 1, size=(3, 7))
    mu, var = data.mean(1), data.var(1)
    for _generation in range(1, 4):
        rng.normal(0, 1, size=(3, 0))  # the (empty) real share is drawn first, as in the simulation
        new = mu[:, None] + np.sqrt(var)[:, None] * rng.standard_normal((3, 7))
        data = np.concatenate([data, new], axis=1)
        mu, var = data.mean(1), data.var(1)
    assert gens[-1].variance_mean == pytest.approx(var.mean(), rel=1e-12)
    assert gens[-1].fitted["mu_mean"] == pytest.approx(mu.mean(), rel=1e-12)


def test_same_seed_same_numbers_other_seed_different():
    a = _run(estimator="unbiased", generations=5, samples=30, repeats=50, seed=11)
    b = _run(estimator="unbiased", generations=5, samples=30, repeats=50, seed=11)
    c = _run(estimator="unbiased", generations=5, samples=30, repeats=50, seed=12)
    assert [s.to_dict() for s in a] == [s.to_dict() for s in b]
    assert [s.w2_mean for s in a] != [s.w2_mean for s in c]


def test_tail_mass_shrinks_as_the_mle_fit_collapses():
    gens = _run(estimator="mle", generations=80, samples=20, repeats=400, seed=9)
    real = 2 * (1 - 0.5 * (1 + math.erf(2 / math.sqrt(2))))
    assert abs(gens[0].tail_mass_mean - real) < 0.01
    # The typical fit loses its tails; the mean over repeats does not, because a collapsed fit whose mean has
    # drifted past ±2σ0 puts all its mass in the tail: why both figures are reported.
    assert gens[-1].tail_mass_median < 0.01 * gens[0].tail_mass_median
    assert gens[-1].tail_mass_mean > 0.02


def test_c4_known_values():
    assert gaussian.c4(2) == pytest.approx(math.sqrt(2 / math.pi))
    assert gaussian.c4(100) == pytest.approx(1 - 1 / 400 - 7 / 320000, rel=1e-6)


@pytest.mark.parametrize(
    ("field", "value", "flag"),
    [
        ("samples", -3, "--samples"),
        ("samples", 1, "--samples"),
        ("generations", 0, "--generations"),
        ("repeats", 0, "--repeats"),
        ("real_fraction", 1.5, "--real-fraction"),
        ("real_fraction", -0.1, "--real-fraction"),
        ("real_fraction", float("nan"), "--real-fraction"),
        ("estimator", "median", "--estimator"),
        ("model", "vae", "--model"),
        ("seed", -1, "--seed"),
    ],
)
def test_bad_params_name_the_flag(field, value, flag):
    with pytest.raises(UserError, match=flag):
        CollapseParams(**{field: value}).validate()


def test_sizes_that_would_need_gigabytes_are_refused_before_running():
    with pytest.raises(UserError, match="--repeats × --samples"):
        CollapseParams(samples=1_000_000, repeats=1000).validate()
    with pytest.raises(UserError, match="with --accumulate"):
        CollapseParams(model="gmm", samples=1000, repeats=100, generations=50, accumulate=True).validate()
    CollapseParams(model="gmm", samples=1000, repeats=100, generations=50).validate()
