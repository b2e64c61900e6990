"""The 1-D Gaussian collapse (Shumailov et al., Nature 2024, Supplementary §3.1), vectorised over repeats.

Real distribution N(μ0, σ0²) = N(0, 1). Each generation draws `samples` points (from the previous fit, or a
share of them fresh from the real distribution) and refits mean and variance: `mle` divides by n (ddof=0),
`unbiased` by n - 1 (ddof=1, the paper's choice). All repeats run side by side as rows of one array, so
400 repeats × 50 generations × 20 samples is a few milliseconds.

Closed forms for replacement with no real data, t = number of fits = generation + 1, M = samples:
- mle:      E[σ_t²] = σ0²·a^t with a = (M-1)/M;  E[σ_t] = σ0·(c4·√a)^t;  E[(μ_t-μ0)²] = σ0²/M·Σ_{i<t} a^i
- unbiased: E[σ_t²] = σ0²;  E[σ_t] = σ0·c4^t;  E[(μ_t-μ0)²] = t·σ0²/M
  where c4 = E[s]/σ for n = M (the usual c4(M) = √(2/(M-1))·Γ(M/2)/Γ((M-1)/2)), because each fit multiplies σ
  by an independent √(χ²_{M-1}/(M-ddof)) and moves μ by σ·Z/√M.
- W₂² between N(μ, σ²) and N(μ0, σ0²) is (μ-μ0)² + (σ-σ0)², so E[W₂²] = E[(μ_t-μ0)²] + E[σ_t²] - 2σ0E[σ_t] + σ0²
  exactly; to first order in 1/M this is (3/2)·σ0²·t/M for `unbiased` (the paper's 0.165 for 11 fits of 100 is
  generation 10 here).
- E[log σ_t²] = log σ0² + t·(ψ((M-1)/2) + log 2 - log(M - ddof)): the log-variance falls even when the mean
  variance does not.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

from tui_trainer.collapse.experiment import CollapseParams, GenerationStats, summarise

MU0 = 0.0
SIGMA0 = 1.0
# Tail mass is the fitted model's probability beyond μ0 ± K_TAIL·σ0 (2·(1 - Φ(2)) ≈ 0.0455 for the real one).
K_TAIL = 2.0


def ddof_for(estimator: str) -> int:
    return 0 if estimator == "mle" else 1


def c4(m: int) -> float:
    """E[s]/σ for the ddof=1 standard deviation of m normal samples."""
    return math.sqrt(2.0 / (m - 1)) * math.exp(math.lgamma(m / 2.0) - math.lgamma((m - 1) / 2.0))


def expected(estimator: str, samples: int, fits: int, sigma0: float = SIGMA0) -> dict[str, float]:
    """Closed forms after `fits` fits of `samples` points each, replacing data, no real data mixed in."""
    from scipy.special import digamma

    m, t = samples, fits
    ddof = ddof_for(estimator)
    var0 = sigma0 * sigma0
    a = (m - 1) / (m - ddof)  # E[χ²_{m-1}/(m-ddof)]
    b = c4(m) * math.sqrt((m - 1) / (m - ddof))  # E[√(χ²_{m-1}/(m-ddof))]
    variance = var0 * a**t
    sigma = sigma0 * b**t
    # Σ_{i<t} E[σ_i²]/m, with σ_0 = σ0 the real distribution.
    mu_sq = var0 / m * (t if a == 1.0 else (1 - a**t) / (1 - a))
    w2 = mu_sq + variance - 2 * sigma0 * sigma + var0
    log_var = math.log(var0) + t * (float(digamma((m - 1) / 2.0)) + math.log(2.0) - math.log(m - ddof))
    out = {
        "variance_mean": variance,
        "sigma_mean": sigma,
        "mu_sq_mean": mu_sq,
        "w2_mean": w2,
        "log_variance_mean": log_var,
    }
    if estimator == "unbiased":
        out["w2_first_order"] = 1.5 * var0 * t / m
    return out


def expected_accumulate_first_order(samples: int, fits: int, sigma0: float = SIGMA0) -> float:
    """First-order E[W₂²] when every generation's data is kept: fit i adds 1/i of the data, so the error
    terms shrink as 1/i² and the sum stays below (3/2)·σ0²/M·π²/6 however many generations run."""
    return 1.5 * sigma0 * sigma0 / samples * sum(1.0 / (i * i) for i in range(1, fits + 1))


def reference(params: CollapseParams) -> dict[str, Any]:
    from scipy.special import ndtr

    return {
        "distribution": "normal",
        "mu0": MU0,
        "sigma0": SIGMA0,
        "variance": SIGMA0 * SIGMA0,
        "tail_k": K_TAIL,
        "tail_mass": float(2 * ndtr(-K_TAIL)),
        "w2": "closed form: (mu - mu0)^2 + (sigma - sigma0)^2",
        "tail_mass_definition": f"fitted probability outside mu0 ± {K_TAIL:g}·sigma0",
    }


def simulate(params: CollapseParams) -> Generator[GenerationStats, None, None]:
    """Yield one GenerationStats per generation, all repeats at once."""
    import numpy as np
    from scipy.special import ndtr

    rng = np.random.default_rng(params.seed)
    r, n = params.repeats, params.samples
    ddof = ddof_for(params.estimator)
    n_real = params.real_per_generation
    closed_form = params.real_fraction == 0.0

    def tail_mass(mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
        s = np.maximum(sigma, np.finfo(float).tiny)
        lo = MU0 - K_TAIL * SIGMA0
        hi = MU0 + K_TAIL * SIGMA0
        return ndtr((lo - mu) / s) + ndtr((mu - hi) / s)

    # Pooled statistics of everything seen (accumulate): count, mean and sum of squared deviations per repeat.
    count = np.zeros(r)
    mean = np.zeros(r)
    m2 = np.zeros(r)
    mu = np.full(r, MU0)
    sigma = np.full(r, SIGMA0)
    for g in range(params.generations):
        if g == 0:
            x = rng.normal(MU0, SIGMA0, size=(r, n))
        else:
            real = rng.normal(MU0, SIGMA0, size=(r, n_real))
            synthetic = mu[:, None] + sigma[:, None] * rng.standard_normal((r, n - n_real))
            x = np.concatenate([real, synthetic], axis=1)
        if params.accumulate:
            # Chan et al.'s pairwise merge: exact and stable, and memory stays O(repeats).
            b_mean = x.mean(axis=1)
            b_m2 = ((x - b_mean[:, None]) ** 2).sum(axis=1)
            total = count + n
            delta = b_mean - mean
            mean = mean + delta * n / total
            m2 = m2 + b_m2 + delta**2 * count * n / total
            count = total
            mu = mean.copy()
            var = m2 / (count - ddof)
        else:
            mu = x.mean(axis=1)
            var = x.var(axis=1, ddof=ddof)
        sigma = np.sqrt(var)
        w2 = (mu - MU0) ** 2 + (sigma - SIGMA0) ** 2
        fits = g + 1
        exp: dict[str, float] = {}
        if closed_form and not params.accumulate:
            exp = expected(params.estimator, n, fits)
        elif closed_form:
            exp = {"w2_first_order": expected_accumulate_first_order(n, fits)}
        fitted = {
            "mu_mean": float(mu.mean()),
            "mu_std": float(mu.std(ddof=1)) if r > 1 else 0.0,
            "sigma_mean": float(sigma.mean()),
            "mu_sq_mean": float(((mu - MU0) ** 2).mean()),
            "train_size": int(count[0]) if params.accumulate else n,
        }
        yield summarise(g, var, w2, tail_mass(mu, sigma), expected=exp, fitted=fitted)
