"""A model-collapse experiment: parameters, per-generation aggregates over repeats, and the run loop.

Indexing, used everywhere (JSON, CSV, view): generation 0 is the model fit on real data, generation g is
the model after g + 1 fits (generation g was fit on samples of generation g - 1). A closed form written
"after t fits" is therefore compared with generation t - 1; each record carries `fits` so nobody has to
remember this.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from contextlib import closing
from dataclasses import asdict, dataclass, field
from typing import Any

from tui_trainer.errors import UserError

MODELS: tuple[str, ...] = ("gaussian", "gmm", "mlp")
ESTIMATORS: tuple[str, ...] = ("mle", "unbiased")

# Per-model defaults for the size flags: each is what makes that model's effect visible in seconds.
DEFAULTS: dict[str, dict[str, int]] = {
    "gaussian": {"generations": 50, "samples": 100, "repeats": 200},
    "gmm": {"generations": 50, "samples": 200, "repeats": 10},
    "mlp": {"generations": 4, "samples": 3000, "repeats": 1},
}

# Points one fit may hold (all repeats together) before the arrays outgrow a laptop's memory.
MAX_POINTS_PER_FIT: dict[str, int] = {"gaussian": 20_000_000, "gmm": 1_000_000}


@dataclass(frozen=True)
class CollapseParams:
    """What one experiment runs. `validate()` raises UserError naming the flag that is wrong."""

    model: str = "gaussian"
    estimator: str = "unbiased"
    generations: int = 50
    samples: int = 100
    repeats: int = 200
    seed: int = 0
    real_fraction: float = 0.0
    accumulate: bool = False

    @classmethod
    def for_model(cls, model: str, **overrides: Any) -> CollapseParams:
        """Params with `model`'s defaults for the size flags, then `overrides` (None means "default")."""
        base = dict(DEFAULTS.get(model, DEFAULTS["gaussian"]))
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls(model=model, **base)

    def validate(self) -> CollapseParams:
        if self.model not in MODELS:
            raise UserError(f"--model must be one of {', '.join(MODELS)}, got {self.model!r}")
        if self.estimator not in ESTIMATORS:
            raise UserError(f"--estimator must be one of {', '.join(ESTIMATORS)}, got {self.estimator!r}")
        if self.generations < 1:
            raise UserError(f"--generations must be at least 1, got {self.generations}")
        min_samples = 2 if self.model == "gaussian" else 10
        if self.samples < min_samples:
            raise UserError(
                f"--samples must be at least {min_samples} for --model {self.model} "
                f"(a variance needs two points per fit), got {self.samples}"
            )
        if self.repeats < 1:
            raise UserError(f"--repeats must be at least 1, got {self.repeats}")
        if self.seed < 0:
            raise UserError(f"--seed must be a non-negative integer, got {self.seed}")
        if not (0.0 <= self.real_fraction <= 1.0) or math.isnan(self.real_fraction):
            raise UserError(f"--real-fraction must be between 0 and 1, got {self.real_fraction}")
        # All repeats are one array per fit; beyond these sizes that array alone needs gigabytes. The
        # Gaussian keeps running sums when accumulating, the mixture refits every point kept.
        points = self.repeats * self.samples
        if self.accumulate and self.model == "gmm":
            points *= self.generations
        limit = MAX_POINTS_PER_FIT.get(self.model)
        if limit is not None and points > limit:
            flags = "--repeats × --samples" + (
                " × --generations (with --accumulate)" if points != self.repeats * self.samples else ""
            )
            raise UserError(
                f"{flags} = {points:,} points per fit for --model {self.model}; the most is {limit:,}"
            )
        return self

    @property
    def real_per_generation(self) -> int:
        """Fresh real samples mixed into each generation after the first (generation 0 is all real)."""
        return int(round(self.real_fraction * self.samples))


@dataclass(frozen=True)
class GenerationStats:
    """Aggregates over the repeats for one generation. `None` where a figure does not apply to the model."""

    generation: int
    fits: int
    variance_mean: float
    variance_median: float
    variance_std: float
    variance_q05: float
    variance_q25: float
    variance_q75: float
    variance_q95: float
    log_variance_mean: float
    w2_mean: float
    w2_se: float
    tail_mass_mean: float
    tail_mass_median: float = 0.0
    heldout_loss: float | None = None
    heldout_perplexity: float | None = None
    variance_se: float = 0.0
    # Closed forms where they exist (the Gaussian), keyed by name; empty otherwise.
    expected: dict[str, float] = field(default_factory=dict)
    # Mean fitted parameters over repeats (and model-specific figures such as modes covered).
    fitted: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarise(
    generation: int,
    variances,
    w2,
    tail_mass,
    *,
    heldout_loss: float | None = None,
    expected: dict[str, float] | None = None,
    fitted: dict[str, Any] | None = None,
) -> GenerationStats:
    """Turn per-repeat arrays (one value per repeat) into one generation's aggregates."""
    import numpy as np

    v = np.asarray(variances, dtype=float)
    w = np.asarray(w2, dtype=float)
    t = np.asarray(tail_mass, dtype=float)
    r = v.size
    # A diverged repeat (inf) makes a figure NaN rather than a warning; the report writes it as null.
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        q05, q25, median, q75, q95 = (float(x) for x in np.quantile(v, [0.05, 0.25, 0.5, 0.75, 0.95]))
        std = float(v.std(ddof=1)) if r > 1 else 0.0
        w2_std = float(w.std(ddof=1)) if r > 1 else 0.0
        log_v = np.log(np.maximum(v, np.finfo(float).tiny))
    return GenerationStats(
        generation=generation,
        fits=generation + 1,
        variance_mean=float(v.mean()),
        variance_median=median,
        variance_std=std,
        variance_q05=q05,
        variance_q25=q25,
        variance_q75=q75,
        variance_q95=q95,
        log_variance_mean=float(log_v.mean()),
        w2_mean=float(w.mean()),
        w2_se=w2_std / math.sqrt(r),
        tail_mass_mean=float(t.mean()),
        tail_mass_median=float(np.median(t)),
        heldout_loss=heldout_loss,
        heldout_perplexity=None if heldout_loss is None else float(math.exp(min(heldout_loss, 700.0))),
        variance_se=std / math.sqrt(r),
        expected=dict(expected or {}),
        fitted=dict(fitted or {}),
    )


@dataclass(frozen=True)
class CollapseResult:
    """A finished (or stopped) experiment: its params, the real distribution, and one record per generation."""

    params: CollapseParams
    reference: dict[str, Any]
    generations: list[GenerationStats]
    stopped: bool = False


Progress = Callable[[GenerationStats], None]
ShouldStop = Callable[[], bool]


def _generations_for(params: CollapseParams) -> tuple[dict[str, Any], Generator[GenerationStats, None, None]]:
    if params.model == "gaussian":
        from tui_trainer.collapse import gaussian

        return gaussian.reference(params), gaussian.simulate(params)
    if params.model == "gmm":
        from tui_trainer.collapse import gmm

        return gmm.reference(params), gmm.simulate(params)
    from tui_trainer.collapse import mlp

    return mlp.reference(params), mlp.simulate(params)


def run_experiment(
    params: CollapseParams,
    on_generation: Progress | None = None,
    should_stop: ShouldStop | None = None,
) -> CollapseResult:
    """Run every generation of `params`, calling `on_generation` after each; stop early if `should_stop()`."""
    params.validate()
    reference, stream = _generations_for(params)
    records: list[GenerationStats] = []
    stopped = False
    # closing(): a stopped run still runs the model's cleanup (temp run dirs, torch thread setting) now.
    with closing(stream):
        for stats in stream:
            records.append(stats)
            if on_generation is not None:
                on_generation(stats)
            if should_stop is not None and should_stop():
                stopped = True
                break
    return CollapseResult(params=params, reference=reference, generations=records, stopped=stopped)
