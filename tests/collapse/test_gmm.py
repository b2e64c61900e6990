"""The 2-D mixture collapse: EM recovers a known mixture, and refitting on its own samples loses modes and tails."""

from __future__ import annotations

import numpy as np
import pytest

from tui_trainer.collapse import gmm
from tui_trainer.collapse.experiment import CollapseParams, run_experiment


def _real(r: int):
    w, m, c = (np.asarray(gmm.REAL[k], dtype=float) for k in ("weights", "means", "covariances"))
    return np.repeat(w[None], r, 0), np.repeat(m[None], r, 0), np.repeat(c[None], r, 0)


def test_sampler_matches_mixture_moments():
    rng = np.random.default_rng(0)
    w, m, c = _real(2)
    x = gmm.sample_mixture(rng, w, m, c, 40_000)
    sample_mean = x.mean(axis=1)
    expected_mean = np.einsum("rk,rki->ri", w, m)
    # Standard error of a mean of 40k points with per-axis variance ≤ 4.
    assert np.all(np.abs(sample_mean - expected_mean) < 4 * np.sqrt(4 / 40_000))
    total = x.var(axis=1).sum(axis=1)
    assert np.allclose(total, gmm.total_variance(w, m, c), rtol=0.03)


def test_em_recovers_the_real_mixture_from_a_large_sample():
    rng = np.random.default_rng(1)
    w, m, c = _real(3)
    x = gmm.sample_mixture(rng, w, m, c, 6000)
    weights, means, covs, _ = gmm.fit_em(rng, x)
    for r in range(3):
        order = np.argsort(-weights[r])
        assert np.allclose(weights[r][order], gmm.REAL["weights"], atol=0.03)
        assert np.allclose(means[r][order], gmm.REAL["means"], atol=0.12)
        assert np.allclose(covs[r][order], gmm.REAL["covariances"], atol=0.12)


def test_em_survives_a_component_with_no_points():
    rng = np.random.default_rng(2)
    # Two tight clusters and three components: one component must end up empty or split, never NaN.
    x = np.concatenate([rng.normal(-5, 0.01, (1, 30, 2)), rng.normal(5, 0.01, (1, 30, 2))], axis=1)
    weights, means, covs, _ = gmm.fit_em(rng, x)
    assert np.all(np.isfinite(weights)) and np.all(np.isfinite(means)) and np.all(np.isfinite(covs))
    assert weights.sum() == pytest.approx(1.0)


def test_refitting_loses_modes_and_real_tails_while_accumulating_keeps_them():
    kw = dict(model="gmm", generations=30, samples=150, repeats=6, seed=3)
    replace = run_experiment(CollapseParams(**kw)).generations
    keep = run_experiment(CollapseParams(**kw, accumulate=True)).generations
    first, last = replace[0], replace[-1]
    assert first.fitted["modes_covered_mean"] >= 2.5
    assert last.fitted["modes_covered_mean"] < first.fitted["modes_covered_mean"] - 0.8
    # The real mass outside the fit's own 95% region starts near 5% and grows as the fit forgets the real tails.
    assert first.fitted["real_outside_fit_mean"] < 0.12
    assert last.fitted["real_outside_fit_mean"] > 2 * first.fitted["real_outside_fit_mean"]
    assert last.w2_mean > 5 * first.w2_mean
    assert keep[-1].fitted["modes_covered_mean"] >= 2.3
    assert keep[-1].fitted["real_outside_fit_mean"] < 0.12
    assert keep[-1].w2_mean < 0.5 * last.w2_mean


def test_sliced_w2_floor_is_small_next_to_a_shifted_mixture():
    ref = gmm._reference()
    rng = np.random.default_rng(4)
    w, m, c = _real(20)
    shifted = gmm.sample_mixture(rng, w, m + 1.0, c, gmm.N_EVAL)
    # Shifting by (1, 1) moves every projection by cos θ + sin θ; its mean square over the directions is 1.
    # The cross term with each sample's own mean error (sd ≈ 0.16 per sample) averages out over 20 samples.
    assert ref.sliced_w2(shifted).mean() == pytest.approx(1.0 + ref.w2_floor, abs=0.15)
    assert ref.w2_floor < 0.02


def test_gmm_same_seed_same_numbers():
    kw = dict(model="gmm", generations=3, samples=60, repeats=2)
    a = run_experiment(CollapseParams(**kw, seed=5)).generations
    b = run_experiment(CollapseParams(**kw, seed=5)).generations
    c = run_experiment(CollapseParams(**kw, seed=6)).generations
    assert [s.to_dict() for s in a] == [s.to_dict() for s in b]
    assert a[-1].w2_mean != c[-1].w2_mean
