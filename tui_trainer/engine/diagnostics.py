"""Training diagnostics: fed `step` and `eval` events, returns `diagnostic` events (pure Python, no torch).

The same object runs inside the engine and inside `monitor` (a user's own loop), so both get the same
findings. Each code is raised once per run (a diagnosis repeated every step would drown the log), with
the numbers that triggered it as evidence and a concrete fix. Thresholds come from `[diagnostics]`.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

from tui_trainer.engine.events import Diagnostic, Eval, Event, Step

CODES: tuple[str, ...] = (
    "overfitting",
    "underfitting",
    "plateau",
    "exploding_gradients",
    "vanishing_gradients",
    "nan_loss",
    "lr_too_high",
    "dataloader_bottleneck",
    "majority_class",
)


@dataclass
class Thresholds:
    """The `[diagnostics]` table's numbers (see engine/config.py DiagnosticsConfig for meanings)."""

    overfit_patience: int = 3
    overfit_min_delta: float = 0.0
    overfit_min_rise: float = 0.05
    plateau_steps: int = 200
    plateau_min_improvement: float = 0.01
    plateau_floor: float = 0.1
    underfit_ratio: float = 0.7
    explode_grad_norm: float = 1000.0
    vanish_grad_norm: float = 1e-7
    grad_patience: int = 3
    diverge_factor: float = 3.0
    data_wait_fraction: float = 0.5
    data_wait_window: int = 20
    majority_margin: float = 0.02
    majority_patience: int = 3

    @classmethod
    def from_config(cls, cfg: Any) -> Thresholds:
        names = cls.__dataclass_fields__
        return cls(**{k: getattr(cfg, k) for k in names if hasattr(cfg, k)})


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)


class Diagnostics:
    """Stateful detector; `feed(event)` returns the new Diagnostic events (usually none)."""

    # The EMA keeps noisy per-batch losses from tripping divergence and plateau checks.
    EMA_ALPHA = 0.1

    def __init__(self, thresholds: Thresholds | None = None, majority_share: float | None = None) -> None:
        self.t = thresholds or Thresholds()
        self.majority_share = majority_share
        self.raised: dict[str, Diagnostic] = {}
        self.initial_loss: float | None = None
        self.ema: float | None = None
        self.best_ema: float | None = None
        self._ema_history: deque[tuple[int, float]] = deque()  # (step, ema) within plateau window + margin
        self._recent_losses: deque[float] = deque(maxlen=8)
        self._high_grad = 0
        self._low_grad = 0
        self._waits: deque[tuple[float, float]] = deque(maxlen=max(1, self.t.data_wait_window))
        self._train_since_eval: list[float] = []
        self._evals: list[
            tuple[int, float, float | None]
        ] = []  # (step, val_loss, train loss since previous eval)
        self._majority_hits = 0
        self._last_step = 0

    # -- public ------------------------------------------------------------------------------------------

    def feed(self, event: Event) -> list[Diagnostic]:
        if isinstance(event, Step):
            return self._on_step(event)
        if isinstance(event, Eval):
            return self._on_eval(event)
        return []

    def feed_all(self, events: list[Event]) -> list[Diagnostic]:
        out: list[Diagnostic] = []
        for event in events:
            out.extend(self.feed(event))
        return out

    # -- helpers -----------------------------------------------------------------------------------------

    def _raise(
        self, code: str, severity: str, at_step: int | None, message: str, fix: str, **evidence: Any
    ) -> list[Diagnostic]:
        if code in self.raised:
            return []
        diag = Diagnostic(
            code=code, severity=severity, step=at_step, message=message, evidence=evidence, fix=fix
        )
        self.raised[code] = diag
        return [diag]

    def _on_step(self, ev: Step) -> list[Diagnostic]:
        out: list[Diagnostic] = []
        self._last_step = ev.step
        loss, gn = ev.loss, ev.grad_norm
        if not _finite(loss) or (gn is not None and not _finite(gn)):
            what = "loss" if not _finite(loss) else "gradient norm"
            out += self._raise(
                "nan_loss",
                "error",
                ev.step,
                f"the {what} became {loss if what == 'loss' else gn} at step {ev.step}",
                "Lower the learning rate, enable gradient clipping (train.grad_clip), check inputs for NaN/inf, "
                "or train in fp32 instead of fp16.",
                epoch=ev.epoch,
                loss=loss,
                grad_norm=gn,
                last_finite_losses=list(self._recent_losses),
            )
            # A blow-up to NaN after the loss had been climbing is divergence: say that too, it names the cause.
            recent = list(self._recent_losses)
            if (
                len(recent) >= 2
                and recent[-1] > recent[0]
                and (self.initial_loss is None or recent[-1] >= self.initial_loss)
            ):
                out += self._diverged(ev.step, recent[-1], recent)
            return out
        loss = float(loss)
        self._recent_losses.append(loss)
        if self.initial_loss is None:
            self.initial_loss = loss
        self.ema = loss if self.ema is None else self.EMA_ALPHA * loss + (1 - self.EMA_ALPHA) * self.ema
        self.best_ema = self.ema if self.best_ema is None else min(self.best_ema, self.ema)
        self._train_since_eval.append(loss)

        # lr_too_high: the smoothed loss well above its best, and above where training started.
        if (
            len(self._recent_losses) >= 3
            and self.best_ema is not None
            and self.initial_loss is not None
            and self.ema > self.t.diverge_factor * max(self.best_ema, 1e-12)
            and self.ema > self.initial_loss
        ):
            out += self._diverged(ev.step, self.ema, list(self._recent_losses))

        if gn is not None:
            gn = float(gn)
            self._high_grad = self._high_grad + 1 if gn > self.t.explode_grad_norm else 0
            if self._high_grad >= self.t.grad_patience:
                out += self._raise(
                    "exploding_gradients",
                    "warning",
                    ev.step,
                    f"global gradient norm {gn:.3g} above {self.t.explode_grad_norm:g} for {self._high_grad} step events",
                    "Enable gradient clipping (train.grad_clip = 1.0), lower the learning rate, or add normalisation layers.",
                    grad_norm=gn,
                    threshold=self.t.explode_grad_norm,
                    consecutive=self._high_grad,
                )
            far_from_done = self.initial_loss is not None and loss > 0.1 * self.initial_loss
            self._low_grad = self._low_grad + 1 if (gn < self.t.vanish_grad_norm and far_from_done) else 0
            if self._low_grad >= self.t.grad_patience:
                out += self._raise(
                    "vanishing_gradients",
                    "warning",
                    ev.step,
                    f"global gradient norm {gn:.3g} below {self.t.vanish_grad_norm:g} for {self._low_grad} step events "
                    f"while the loss ({loss:.4g}) is still far from converged",
                    "Use ReLU-family activations, better initialisation, normalisation layers or residual connections; "
                    "check for saturated sigmoids/tanh and a learning rate that is too low.",
                    grad_norm=gn,
                    threshold=self.t.vanish_grad_norm,
                    loss=loss,
                )

        if ev.data_wait_s is not None and ev.compute_s is not None:
            self._waits.append((float(ev.data_wait_s), float(ev.compute_s)))
            if len(self._waits) >= self._waits.maxlen:
                wait = sum(w for w, _ in self._waits)
                total = wait + sum(c for _, c in self._waits)
                share = wait / total if total > 0 else 0.0
                if share > self.t.data_wait_fraction:
                    out += self._raise(
                        "dataloader_bottleneck",
                        "warning",
                        ev.step,
                        f"{share:.0%} of step time is spent waiting for data (threshold {self.t.data_wait_fraction:.0%})",
                        "Make loading/augmentation cheaper or move it off the training loop (DataLoader workers, "
                        "pin_memory, cached decoded data), or give each step more compute (a larger batch or model); "
                        "raise diagnostics.data_wait_fraction if this is expected.",
                        data_wait_share=round(share, 4),
                        window=len(self._waits),
                    )

        out += self._check_plateau(ev.step)
        return out

    def _diverged(self, step: int, level: float, recent: list[float]) -> list[Diagnostic]:
        return self._raise(
            "lr_too_high",
            "error",
            step,
            f"the loss is diverging: {level:.4g} against a best of {self.best_ema if self.best_ema is not None else float('nan'):.4g}"
            f" (initial {self.initial_loss if self.initial_loss is not None else float('nan'):.4g})",
            "Lower optim.lr by 10x (or use a warm-up / LR schedule), and consider gradient clipping.",
            smoothed_loss=level,
            best_smoothed_loss=self.best_ema,
            initial_loss=self.initial_loss,
            recent_losses=recent,
        )

    def _check_plateau(self, step: int) -> list[Diagnostic]:
        assert self.ema is not None
        self._ema_history.append((step, self.ema))
        window = max(1, self.t.plateau_steps)
        # Keep the oldest sample that is still at least one window back, to compare against.
        while len(self._ema_history) >= 2 and self._ema_history[1][0] <= step - window:
            self._ema_history.popleft()
        first_step, then = self._ema_history[0]
        if step - first_step < window or self.initial_loss is None or self.initial_loss <= 0:
            return []
        improvement = (then - self.ema) / max(abs(then), 1e-12)
        if improvement >= self.t.plateau_min_improvement:
            return []
        share = self.ema / self.initial_loss
        evidence = dict(
            window_steps=step - first_step,
            smoothed_loss_then=then,
            smoothed_loss_now=self.ema,
            relative_improvement=improvement,
            initial_loss=self.initial_loss,
            share_of_initial=share,
        )
        if share > self.t.underfit_ratio:
            return self._raise(
                "underfitting",
                "warning",
                step,
                f"the training loss has stalled at {share:.0%} of its initial value ({self.ema:.4g}) over the last "
                f"{step - first_step} steps",
                "Use a bigger model (model.hidden / model.channels), train longer, raise the learning rate, "
                "reduce regularisation (dropout, weight decay), or check that features carry signal about the label.",
                **evidence,
            )
        if share > self.t.plateau_floor:
            return self._raise(
                "plateau",
                "info",
                step,
                f"the training loss improved only {improvement:.2%} over the last {step - first_step} steps "
                f"(at {share:.0%} of its initial value)",
                'Try an LR schedule (optim.schedule = "plateau" or "cosine"), a higher learning rate, '
                "or a different optimiser (adam).",
                **evidence,
            )
        return []

    def _on_eval(self, ev: Eval) -> list[Diagnostic]:
        out: list[Diagnostic] = []
        train = sum(self._train_since_eval) / len(self._train_since_eval) if self._train_since_eval else None
        self._train_since_eval = []
        if _finite(ev.val_loss):
            self._evals.append((ev.step, float(ev.val_loss), train))
        k = max(1, self.t.overfit_patience)
        if len(self._evals) >= k + 1:
            tail = self._evals[-(k + 1) :]
            rising = all(b[1] > a[1] + self.t.overfit_min_delta for a, b in zip(tail, tail[1:], strict=False))
            trains = [t for _, _, t in tail]
            falling = all(t is not None for t in trains) and trains[-1] < trains[0]  # type: ignore[operator]
            # Noise around a converged minimum rises in tiny steps; only a real relative rise counts.
            risen = tail[-1][1] - tail[0][1] >= self.t.overfit_min_rise * abs(tail[0][1])
            if rising and falling and risen:
                best = min(v for _, v, _ in self._evals)
                best_step = next(s for s, v, _ in self._evals if v == best)
                out += self._raise(
                    "overfitting",
                    "warning",
                    ev.step,
                    f"validation loss rose for {k} evaluations in a row ({tail[0][1]:.4g} → {tail[-1][1]:.4g}) "
                    f"while the training loss fell ({trains[0]:.4g} → {trains[-1]:.4g})",
                    "Stop earlier (train.early_stopping_patience), add regularisation (model.dropout, "
                    "optim.weight_decay), augment the data, or get more of it. The best validation loss was "
                    f"{best:.4g} at step {best_step}.",
                    val_losses=[v for _, v, _ in tail],
                    train_losses=trains,
                    best_val_loss=best,
                    best_step=best_step,
                )
        share = ev.metrics.get("majority_share", self.majority_share)
        acc = ev.metrics.get("accuracy")
        # With (nearly) one class, matching the majority share is right, not a symptom.
        if _finite(acc) and _finite(share) and float(share) < 1.0 - 2 * self.t.majority_margin:
            if abs(float(acc) - float(share)) <= self.t.majority_margin:
                self._majority_hits += 1
            else:
                self._majority_hits = 0
            if self._majority_hits >= self.t.majority_patience:
                out += self._raise(
                    "majority_class",
                    "warning",
                    ev.step,
                    f"validation accuracy {float(acc):.1%} has stayed at the majority-class share {float(share):.1%} "
                    f"for {self._majority_hits} evaluations: the model is likely predicting one class",
                    "Balance the classes (class weights, resampling), check the labels and features, lower the "
                    "learning rate if the loss collapsed, or train longer.",
                    accuracy=float(acc),
                    majority_share=float(share),
                    evals=self._majority_hits,
                )
        return out
