"""The 2-D Gaussian-mixture collapse: a 3-component mixture fit by EM, refit each generation on its own samples.

EM is written here with numpy, all repeats side by side (arrays shaped repeats × points × components), with a
seeded k-means++ start. The real distribution is the fixed mixture `REAL` below.

W₂ between mixtures has no closed form, so `w2` here is a documented proxy, the sliced squared W₂: for each of
`N_DIRECTIONS` fixed unit directions θ (angles kπ/N), project `N_EVAL` samples of the fitted mixture onto θ, sort
them, and take the mean squared difference to the real mixture's projected quantiles at the same levels
((i + ½)/N_EVAL, from a large fixed real sample); average over directions. It is zero only when every projection
matches; `reference["w2_floor"]` is its value for a sample of the real mixture itself (the estimator's noise).

Also per generation: the mixture's total variance (trace of its covariance), tail mass (share of the fitted
mixture's mass where the real density is below the level that leaves 5% of the real mass outside), the modes
covered (real components with a fitted component of weight ≥ 2% within Mahalanobis distance 1 of their mean),
the share of real mass outside the fit's own 95% region, and the sorted mixture weights.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

from tui_trainer.collapse.experiment import CollapseParams, GenerationStats, summarise

# The real mixture: three well-separated, differently shaped components with unequal weights.
REAL = {
    "weights": [0.5, 0.3, 0.2],
    "means": [[-2.0, 0.0], [2.0, 0.0], [0.0, 3.0]],
    "covariances": [
        [[1.0, 0.3], [0.3, 0.5]],
        [[0.6, -0.2], [-0.2, 0.8]],
        [[0.4, 0.0], [0.0, 0.4]],
    ],
}
K = 3
N_DIRECTIONS = 16
N_EVAL = 1000
N_REFERENCE = 40_000
TAIL_SHARE = 0.05
MODE_WEIGHT = 0.02
MODE_DISTANCE = 1.0
# sklearn's defaults: stop when the mean log-likelihood per point moves less than EM_TOL in every repeat.
EM_MAX_ITER = 100
EM_TOL = 1e-3
# Added to every covariance diagonal so a component on a handful of points stays invertible.
REG = 1e-6
# Fixed, not the user's seed: the real reference quantiles are the same for every run.
REFERENCE_SEED = 20240724


def _real_arrays():
    import numpy as np

    return (
        np.asarray(REAL["weights"], dtype=float),
        np.asarray(REAL["means"], dtype=float),
        np.asarray(REAL["covariances"], dtype=float),
    )


def sample_mixture(rng, weights, means, covs, n: int):
    """n points from each repeat's mixture: weights (R,K), means (R,K,2), covs (R,K,2,2) → (R,n,2)."""
    import numpy as np

    r = weights.shape[0]
    cum = np.cumsum(weights, axis=1)
    cum[:, -1] = np.inf  # rounding must never leave a draw without a component
    u = rng.random((r, n))
    comp = (u[:, :, None] >= cum[:, None, :]).sum(axis=2)
    chol = np.linalg.cholesky(covs + REG * np.eye(2))
    rows = np.arange(r)[:, None]
    z = rng.standard_normal((r, n, 2))
    return means[rows, comp] + np.einsum("rnij,rnj->rni", chol[rows, comp], z)


def _log_gauss(x, means, covs):
    """log N(x | mean_k, cov_k) for x (R,n,2), means (R,K,2), covs (R,K,2,2) → (R,n,K), closed-form 2×2."""
    import numpy as np

    a = covs[..., 0, 0]
    b = covs[..., 0, 1]
    d = covs[..., 1, 1]
    det = np.maximum(a * d - b * b, 1e-300)
    diff = x[:, :, None, :] - means[:, None, :, :]
    dx, dy = diff[..., 0], diff[..., 1]
    maha = (d[:, None] * dx * dx - 2 * b[:, None] * dx * dy + a[:, None] * dy * dy) / det[:, None]
    return -math.log(2 * math.pi) - 0.5 * np.log(det)[:, None] - 0.5 * maha


def _logsumexp(a, axis: int):
    import numpy as np

    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return (m + np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True))).squeeze(axis)


def kmeans_pp(rng, x, k: int):
    """k-means++ seeding for every repeat at once: first centre uniform, then ∝ squared distance."""
    import numpy as np

    r, n, _ = x.shape
    rows = np.arange(r)
    centres = np.empty((r, k, 2))
    centres[:, 0] = x[rows, rng.integers(0, n, size=r)]
    d2 = ((x - centres[:, :1]) ** 2).sum(axis=2)
    for j in range(1, k):
        cum = np.cumsum(d2, axis=1)
        u = rng.random(r) * cum[:, -1]
        idx = np.minimum((cum < u[:, None]).sum(axis=1), n - 1)
        centres[:, j] = x[rows, idx]
        d2 = np.minimum(d2, ((x - centres[:, j : j + 1]) ** 2).sum(axis=2))
    return centres


def fit_em(rng, x, k: int = K):
    """Fit a k-component mixture to each repeat's points x (R,n,2); returns weights, means, covs, iterations."""
    import numpy as np

    r, n, _ = x.shape
    means = kmeans_pp(rng, x, k)
    centred = x - x.mean(axis=1, keepdims=True)
    overall = np.einsum("rni,rnj->rij", centred, centred) / n
    covs = np.repeat(overall[:, None], k, axis=1) + REG * np.eye(2)
    weights = np.full((r, k), 1.0 / k)
    previous = np.full(r, -np.inf)
    iterations = 0
    for iterations in range(1, EM_MAX_ITER + 1):  # noqa: B007 - the count is returned
        with np.errstate(divide="ignore"):
            log_p = np.log(weights)[:, None, :] + _log_gauss(x, means, covs)
        log_norm = _logsumexp(log_p, axis=2)
        resp = np.exp(log_p - log_norm[..., None])
        loglik = log_norm.mean(axis=1)
        nk = resp.sum(axis=1)
        alive = nk > 1e-8
        safe = np.where(alive, nk, 1.0)
        new_means = np.einsum("rnk,rni->rki", resp, x) / safe[..., None]
        diff = x[:, :, None, :] - new_means[:, None, :, :]
        new_covs = np.einsum("rnk,rnki,rnkj->rkij", resp, diff, diff) / safe[..., None, None] + REG * np.eye(
            2
        )
        # A component with no points keeps its last shape and gets weight 0: it is lost, not NaN.
        means = np.where(alive[..., None], new_means, means)
        covs = np.where(alive[..., None, None], new_covs, covs)
        weights = nk / n
        if np.all(np.abs(loglik - previous) < EM_TOL):
            break
        previous = loglik
    return weights, means, covs, iterations


def mixture_log_density(points, weights, means, covs):
    """log density of each repeat's mixture at its own points: points (R,m,2) → (R,m)."""
    import numpy as np

    with np.errstate(divide="ignore"):
        return _logsumexp(np.log(weights)[:, None, :] + _log_gauss(points, means, covs), axis=2)


def total_variance(weights, means, covs):
    """Trace of the mixture's covariance: Σ w_k(tr C_k + |m_k|²) − |Σ w_k m_k|²."""
    import numpy as np

    centre = np.einsum("rk,rki->ri", weights, means)
    second = np.einsum("rk,rk->r", weights, np.trace(covs, axis1=2, axis2=3) + (means**2).sum(axis=2))
    return second - (centre**2).sum(axis=1)


class _Reference:
    """The real mixture's projected quantiles and tail level, computed once per run from a fixed seed."""

    def __init__(self) -> None:
        import numpy as np

        w, m, c = _real_arrays()
        self.weights, self.means, self.covs = w[None], m[None], c[None]
        rng = np.random.default_rng(REFERENCE_SEED)
        big = sample_mixture(rng, self.weights, self.means, self.covs, N_REFERENCE)
        angles = np.pi * np.arange(N_DIRECTIONS) / N_DIRECTIONS
        self.directions = np.stack([np.cos(angles), np.sin(angles)], axis=1)  # (L,2)
        levels = (np.arange(N_EVAL) + 0.5) / N_EVAL
        self.quantiles = np.quantile(big[0] @ self.directions.T, levels, axis=0)  # (N_EVAL, L)
        self.tail_level = float(
            np.quantile(mixture_log_density(big, self.weights, self.means, self.covs)[0], TAIL_SHARE)
        )
        self.real_points = big[:, :N_EVAL]  # (1, N_EVAL, 2)
        self.variance = float(total_variance(self.weights, self.means, self.covs)[0])
        floor_sample = sample_mixture(rng, self.weights, self.means, self.covs, N_EVAL)
        self.w2_floor = float(self.sliced_w2(floor_sample)[0])

    def sliced_w2(self, points):
        import numpy as np

        proj = np.sort(points @ self.directions.T, axis=1)  # (R, N_EVAL, L)
        return ((proj - self.quantiles[None]) ** 2).mean(axis=(1, 2))

    def tail_mass(self, points):
        r = points.shape[0]
        import numpy as np

        log_real = mixture_log_density(
            points, np.repeat(self.weights, r, 0), np.repeat(self.means, r, 0), np.repeat(self.covs, r, 0)
        )
        return (log_real < self.tail_level).mean(axis=1)

    def real_outside_fit(self, points, weights, means, covs):
        """Share of real mass outside each fit's own 95% region: the real tails the model no longer makes."""
        import numpy as np

        r = points.shape[0]
        own = mixture_log_density(points, weights, means, covs)
        level = np.quantile(own, TAIL_SHARE, axis=1)
        real = mixture_log_density(np.repeat(self.real_points, r, 0), weights, means, covs)
        return (real < level[:, None]).mean(axis=1)

    def modes_covered(self, weights, means):
        import numpy as np

        _, real_means, real_covs = _real_arrays()
        inv = np.linalg.inv(real_covs)  # (K,2,2)
        diff = means[:, :, None, :] - real_means[None, None, :, :]  # (R, fitted, real, 2)
        maha = np.sqrt(np.einsum("rfki,kij,rfkj->rfk", diff, inv, diff))
        close = (maha <= MODE_DISTANCE) & (weights[:, :, None] >= MODE_WEIGHT)
        return close.any(axis=1).sum(axis=1)


_REFERENCE: _Reference | None = None


def _reference() -> _Reference:
    global _REFERENCE
    if _REFERENCE is None:
        _REFERENCE = _Reference()
    return _REFERENCE


def reference(params: CollapseParams) -> dict[str, Any]:
    ref = _reference()
    return {
        "distribution": "gaussian mixture, 2-D",
        **REAL,
        "variance": ref.variance,
        "variance_definition": "trace of the mixture covariance",
        "tail_mass": TAIL_SHARE,
        "tail_mass_definition": f"share of the fitted mixture's mass where the real density is below its {TAIL_SHARE:.0%} level",
        "w2": (
            f"sliced squared W2 proxy: mean over {N_DIRECTIONS} fixed directions of the squared 1-D W2 between "
            f"{N_EVAL} projected samples of the fit and the real mixture's projected quantiles"
        ),
        "w2_floor": ref.w2_floor,
        "real_outside_fit_definition": (
            f"fitted['real_outside_fit_mean']: share of real samples outside the fitted mixture's own "
            f"{1 - TAIL_SHARE:.0%} region ({TAIL_SHARE:.0%} for a perfect fit)"
        ),
        "modes_definition": f"real components with a fitted component of weight >= {MODE_WEIGHT} within Mahalanobis distance {MODE_DISTANCE:g}",
    }


def simulate(params: CollapseParams) -> Generator[GenerationStats, None, None]:
    import numpy as np

    ref = _reference()
    rng = np.random.default_rng(params.seed)
    r, n = params.repeats, params.samples
    n_real = params.real_per_generation
    real_w, real_m, real_c = (np.repeat(a[None], r, axis=0) for a in _real_arrays())
    kept: list[np.ndarray] = []
    weights = means = covs = None
    for g in range(params.generations):
        if g == 0:
            x = sample_mixture(rng, real_w, real_m, real_c, n)
        else:
            real = sample_mixture(rng, real_w, real_m, real_c, n_real)
            synthetic = sample_mixture(rng, weights, means, covs, n - n_real)
            x = np.concatenate([real, synthetic], axis=1)
        if params.accumulate:
            kept.append(x)
            x = np.concatenate(kept, axis=1)
        weights, means, covs, iterations = fit_em(rng, x)
        evaluation = sample_mixture(rng, weights, means, covs, N_EVAL)
        variance = total_variance(weights, means, covs)
        modes = ref.modes_covered(weights, means)
        sorted_w = -np.sort(-weights, axis=1)
        fitted = {
            "modes_covered_mean": float(modes.mean()),
            "modes_covered_min": int(modes.min()),
            "real_outside_fit_mean": float(ref.real_outside_fit(evaluation, weights, means, covs).mean()),
            "weights_sorted_mean": [float(v) for v in sorted_w.mean(axis=0)],
            "weight_min_mean": float(sorted_w[:, -1].mean()),
            "em_iterations": int(iterations),
            "train_size": int(x.shape[1]),
            # Repeat 0's mixture in full, so one fit can be drawn or checked by hand.
            "repeat0": {
                "weights": [float(v) for v in weights[0]],
                "means": means[0].round(6).tolist(),
                "covariances": covs[0].round(6).tolist(),
            },
        }
        yield summarise(g, variance, ref.sliced_w2(evaluation), ref.tail_mass(evaluation), fitted=fitted)
