"""Training diagnostics: fed `step` and `eval` events, returns `diagnostic` events (pure Python, no torch).

The same object runs inside the engine and inside `monitor` (a user's own loop), so both get the same
findings. Each code is raised once per run (a diagnosis repeated every step would drown the log), with the
numbers behind it in `evidence` (always including `first_step`, the step where its condition first held)
and a fix that names a setting that exists or a code change. Thresholds are `[diagnostics]`
(`engine/config.py` DiagnosticsConfig); the rules are written out in docs/diagnostics.md.

Windows are measured in steps, never in events: a `step` event stands for every step since the previous
one (its loss is their mean), so the same run gives the same answer whether it reports every step or once
an epoch.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from tui_trainer.engine.config import DiagnosticsConfig
from tui_trainer.engine.diagnostics_evals import EvalRules
from tui_trainer.engine.events import Diagnostic, Eval, Event, Step
from tui_trainer.engine.loss_levels import LossSeries, chance_loss
from tui_trainer.engine.loss_levels import finite_number as _finite

CODES: tuple[str, ...] = (
    "overfitting",
    "underfitting",
    "plateau",
    "exploding_gradients",
    "vanishing_gradients",
    "dead_units",
    "nan_loss",
    "lr_too_high",
    "dataloader_bottleneck",
    "majority_class",
    "leakage",
)

# Smoothing for the divergence rule, in steps (a per-step EMA whatever the reporting cadence).
EMA_STEPS = 10
_KEEP = 1.0 - 1.0 / EMA_STEPS  # the EMA's weight on the past, per step
# Named layers listed in a message (all of them stay in the evidence).
MAX_NAMED = 5


def describe_nonfinite(trace: dict[str, Any] | None) -> str:
    """ "; the first module whose output was non-finite is ..." from a `layer_stats.nonfinite_trace`, or ""."""
    if not trace:
        return ""
    module = trace.get("module")
    if module is None:
        if trace.get("result_finite") is False:
            return "; every module's output was finite, so the loss computation itself produced it"
        return ""
    where = f"; the first module whose output was non-finite is `{module}` ({trace.get('module_type')})"
    after = f"`{trace['previous']}`" if trace.get("previous") else ""
    if trace.get("input_finite") is False and trace.get("model_input_finite") is False:
        return where + ", and the batch itself holds NaN/inf"
    if trace.get("input_finite") is False:
        return (
            where
            + f", whose input was already non-finite: code in forward() {'after ' + after + ' ' if after else ''}before it produced it"
        )
    if trace.get("params_finite") is False:
        return where + ", whose weights are already non-finite (an update wrote NaN/inf into them)"
    if trace.get("container"):
        return (
            where
            + f": its own forward() code{' after ' + after if after else ''} produced it (the sub-modules' outputs were finite)"
        )
    return where


# The usual numerical causes of a NaN that is not divergence; preflight's step-0 check says the same.
NUMERICAL_CAUSES = (
    "a log or division of zero (add an epsilon, torch.log(x + 1e-8) or torch.clamp), an overflowing exp, or a "
    "softmax computed by hand (use torch.log_softmax, or give nn.CrossEntropyLoss the raw logits)."
)


class Diagnostics(EvalRules):
    """Stateful detector; `feed(event)` returns the new Diagnostic events (usually none).

    Tell it about the task with `set_task` (the engine does, from the training split) so loss levels are
    judged against chance; `note_nonfinite` (the first module whose output went NaN) before feeding the
    failing step, and `note_leaky_features` (preflight) when single features predict the label.
    """

    def __init__(self, config: DiagnosticsConfig | None = None) -> None:
        self.t = config or DiagnosticsConfig()
        self.raised: dict[str, Diagnostic] = {}
        self.task: str | None = None
        self.num_classes: int | None = None
        self.class_names: list[str] = []
        self.train_label_counts: list[int] | None = None
        self.target_variance: float | None = None
        self.val_label_counts: list[int] | None = None
        self.initial_loss: float | None = None
        self.ema: float | None = None
        self.best_ema: float | None = None
        self.series = LossSeries()
        self._recent: deque[tuple[int, float]] = deque(maxlen=8)
        self._lrs: deque[tuple[int, float]] = deque()  # (step, lr) where the lr changed, two plateau windows
        self._last_grad_norm: float | None = None
        self._layered = False  # a report has carried per-layer norms: they decide vanishing from then on
        self._explode_from = math.inf  # the loss when the current run of large gradient norms began
        self._streaks: dict[str, int] = {}  # rule -> first step of the current run of reports where it holds
        self._counts: dict[str, int] = {}  # rule -> reports in that run
        self._wait: list[float] = [0.0, 0.0, 0.0]  # data wait, compute, steps in the open window
        self._wait_windows: list[tuple[int, float]] = []  # (end step, share) while the share is high
        self._wait_on = False
        self._evals: list[
            tuple[int, float, float | None]
        ] = []  # (step, val loss, train loss) from the best window on
        self._nonfinite: dict[str, Any] | None = None
        self._leaky: list[dict[str, Any]] = []
        self._last_eval_step = 0
        self._collapsed_vals: list[float] = []  # val losses of the last collapsed evals
        # Overfitting's running state: the window (mean val/train over the last overfit_patience evals) with
        # the lowest val loss, windows since it, the first of them where the rule held, the lowest single val.
        self._best_window: tuple[int, float, float | None] | None = None  # (step, mean val, mean train)
        self._since_best = 0
        self._overfit_first: int | None = None
        self._min_val = math.inf
        self._chance: float | None = None
        self._chance_stale = True  # set_task and new validation label counts make it stale

    # -- public ------------------------------------------------------------------------------------------

    def set_task(
        self,
        task: str | None,
        num_classes: int | None = None,
        label_counts: list[int] | None = None,
        target_variance: float | None = None,
        class_names: list[str] | None = None,
    ) -> None:
        """What is predicted: `label_counts` (training split) or `target_variance` fix the chance-level loss."""
        self.task = task
        self.num_classes = num_classes
        self.train_label_counts = list(label_counts) if label_counts else None
        self.target_variance = target_variance
        self.class_names = list(class_names or [])
        self._chance_stale = True

    @property
    def chance(self) -> float | None:
        """Chance-level loss of this task (nats for cross-entropy, target variance for MSE), if known."""
        if self._chance_stale:  # computed once per task / label counts, not per report
            counts = self.train_label_counts or self.val_label_counts
            task = self.task or ("classification" if counts else None)
            self._chance = chance_loss(task, self.num_classes, counts, self.target_variance)
            self._chance_stale = False
        return self._chance

    def note_nonfinite(self, trace: dict[str, Any] | None) -> None:
        """Where the failing forward first went non-finite (`layer_stats.nonfinite_trace`); used by nan_loss."""
        self._nonfinite = trace

    def note_leaky_features(self, features: list[dict[str, Any]], step: int = 0) -> list[Diagnostic]:
        """Preflight found features that alone predict the label; returns the `leakage` warning to emit."""
        # Only a feature that is a lookup of the label (one value per class) is a leak for certain; one that
        # merely separates the classes (many values) may be an easy task, so it is said as info.
        leaks = [f for f in features if f.get("kind", "function_of_label") == "function_of_label"]
        self._leaky = leaks
        if not features:
            return []
        shown = leaks or features
        names = ", ".join(f"`{f['feature']}`" for f in shown[:MAX_NAMED])
        best = shown[0]
        return self._raise(
            "leakage",
            "warning" if leaks else "info",
            step,
            step,
            f"{names} alone predict{'s' if len(shown) == 1 else ''} the label on the training split "
            f"({best['metric']} {best['score']:.3f} from `{best['feature']}` by itself"
            + (")" if leaks else f", {best.get('distinct_values')} distinct values: an easy task or a leak)"),
            "Drop the column(s) from data.features (or from the file): a feature that is a copy or a function "
            "of the label is not available when the model is used, so the validation score is not real.",
            features=features,
        )

    def feed(self, event: Event) -> list[Diagnostic]:
        if isinstance(event, Step):
            return self._on_step(event)
        if isinstance(event, Eval):
            return self._on_eval(event)
        if isinstance(event, Diagnostic):
            self.raised.setdefault(event.code, event)  # said elsewhere (preflight, a replay): not again
        return []

    def feed_all(self, events: list[Event]) -> list[Diagnostic]:
        out: list[Diagnostic] = []
        for event in events:
            out.extend(self.feed(event))
        return out

    # -- helpers -----------------------------------------------------------------------------------------

    def _raise(
        self,
        code: str,
        severity: str,
        at_step: int | None,
        first_step: int | None,
        message: str,
        fix: str,
        **evidence: Any,
    ) -> list[Diagnostic]:
        if code in self.raised:
            return []
        evidence = {"first_step": first_step, **evidence}
        diag = Diagnostic(
            code=code, severity=severity, step=at_step, message=message, evidence=evidence, fix=fix
        )
        self.raised[code] = diag
        return [diag]

    def _streak(self, rule: str, holds: bool, step: int) -> tuple[int, int]:
        """Count consecutive reports where `rule` holds; returns (reports, first step of the run)."""
        if not holds:
            self._streaks.pop(rule, None)
            self._counts.pop(rule, None)
            return 0, step
        self._streaks.setdefault(rule, step)
        self._counts[rule] = self._counts.get(rule, 0) + 1
        return self._counts[rule], self._streaks[rule]

    def _scale(self) -> float | None:
        """The loss a model with no signal has: chance when known, else the run's first loss."""
        chance = self.chance
        return chance if chance is not None else self.initial_loss

    def _far_from_done(self, loss: float) -> bool:
        chance = self.chance
        if chance is not None:
            return loss > 0.5 * chance
        return self.initial_loss is not None and loss > 0.1 * self.initial_loss

    # -- steps -------------------------------------------------------------------------------------------

    def _on_step(self, ev: Step) -> list[Diagnostic]:
        # Called at every report: plain floats and early-outs (rules already raised, rules that cannot hold
        # yet), since the step rules cost a share of every monitored run.
        loss, gn, step = ev.loss, ev.grad_norm, ev.step
        if not (type(loss) is float and math.isfinite(loss)):  # (the engine's case first: a finite float)
            if not _finite(loss):
                return self._nan(ev)
            loss = float(loss)
        if gn is not None and not _finite(gn):
            return self._nan(ev)
        out: list[Diagnostic] = []
        series = self.series
        covered = step - series.last_step if series.last_step < step else 1
        series.add(step, loss)
        lr, lrs = ev.lr, self._lrs
        # The lr as change points (step, lr from that report on): all the warm-up check needs, and a
        # constant lr (the usual case) appends nothing.
        if lr is not None and (not lrs or lr != lrs[-1][1]) and _finite(lr):
            lrs.append((step, float(lr)))  # type: ignore[arg-type]
            horizon = step - 2 * self.t.plateau_steps
            while len(lrs) > 2 and lrs[1][0] <= horizon:
                lrs.popleft()
        self._recent.append((step, loss))
        if self.initial_loss is None:
            self.initial_loss = loss
        if self.ema is None:
            ema = loss
        else:
            past = _KEEP**covered
            ema = self.ema * past + loss * (1 - past)
        self.ema = ema
        if self.best_ema is None or ema < self.best_ema:
            self.best_ema = ema

        if (
            ema > self.initial_loss
            and len(self._recent) >= 3
            and ema > self.t.diverge_factor * max(self.best_ema, 1e-12)
        ):
            out += self._diverged(step, ema)
        layered = ev.layer_grad_norms
        if layered:
            self._layered = True
        if gn is not None:
            self._last_grad_norm = float(gn)
            out += self._gradients(ev, float(gn), loss)
        if layered:
            out += self._layer_gradients(ev, loss)
        if ev.dead_units:
            out += self._dead_units(ev, loss)
        wait, compute = ev.data_wait_s, ev.compute_s
        if (
            wait is not None
            and compute is not None
            and step > self.t.data_wait_warmup_steps  # first batches: lazy init, caches, page faults
        ):
            acc = self._wait  # the open window's data wait, compute and steps; decided once it is full
            acc[0] += max(0.0, float(wait))
            acc[1] += max(0.0, float(compute))
            acc[2] += covered
            if acc[2] >= self.t.data_wait_window and "dataloader_bottleneck" not in self.raised:
                out += self._data_wait(ev)
        out += self._check_plateau(step)
        return out

    def _nan(self, ev: Step) -> list[Diagnostic]:
        loss, gn = ev.loss, ev.grad_norm
        what = "loss" if not _finite(loss) else "gradient norm"
        value = loss if what == "loss" else gn
        recent = [v for _, v in self._recent]
        # Climbing: well above the best recent loss and above the start, not one noisy report above another.
        climbing = (
            len(recent) >= 3 and recent[-1] > 1.5 * min(recent) and recent[-1] >= (self.initial_loss or 0)
        )
        lr = ev.lr
        small_lr = _finite(lr) and float(lr) <= self.t.nan_small_lr  # type: ignore[arg-type]
        # Calm: no climb and no large gradient before (a NaN at the very first step has no history: calm).
        calm = not climbing and (
            self._last_grad_norm is None or self._last_grad_norm < self.t.explode_grad_norm
        )
        trace = self._nonfinite or {}
        module = trace.get("module")
        evidence: dict[str, Any] = dict(
            epoch=ev.epoch,
            loss=loss,
            grad_norm=gn,
            lr=lr,
            last_finite_losses=recent,
            last_finite_grad_norm=self._last_grad_norm,
            first_nonfinite_module=module,
            nonfinite_trace=trace or None,
        )
        where = describe_nonfinite(trace)
        message = f"the {what} became {value} at step {ev.step}{where}"
        if calm and (small_lr or not _finite(lr)):
            evidence["likely_cause"] = "numerical"
            fix = (
                "The learning rate is small and the gradients were finite just before, so this is more likely a "
                "numerical bug than divergence: "
                + NUMERICAL_CAUSES
                + (f" Start looking in `{module}` and the code right before it." if module else "")
            )
        else:
            evidence["likely_cause"] = "divergence"
            fix = (
                "Lower the learning rate (optim.lr) by 10x, enable gradient clipping (train.grad_clip = 1.0), "
                "check the inputs for NaN/inf, or train in fp32 (train.precision = 'fp32') instead of fp16."
            )
        out = self._raise("nan_loss", "error", ev.step, ev.step, message, fix, **evidence)
        if (
            climbing
        ):  # a blow-up after the loss had been climbing is divergence: say that too, it names the cause
            out += self._diverged(ev.step, recent[-1])
        return out

    def _diverged(self, step: int, level: float) -> list[Diagnostic]:
        best = self.best_ema if self.best_ema is not None else float("nan")
        initial = self.initial_loss if self.initial_loss is not None else float("nan")
        return self._raise(
            "lr_too_high",
            "error",
            step,
            step,
            f"the loss is diverging: {level:.4g} against a best of {best:.4g} (initial {initial:.4g})",
            "Lower optim.lr by 10x (or use a warm-up / LR schedule), and consider gradient clipping "
            "(train.grad_clip = 1.0).",
            smoothed_loss=level,
            best_smoothed_loss=self.best_ema,
            initial_loss=self.initial_loss,
            recent_losses=[v for _, v in self._recent],
        )

    def _gradients(self, ev: Step, gn: float, loss: float) -> list[Diagnostic]:
        out: list[Diagnostic] = []
        n, first = self._streak("explode", gn > self.t.explode_grad_norm, ev.step)
        if n == 1:
            self._explode_from = loss
        # Large but with the loss falling well (an unscaled regression target the optimiser copes with) is not
        # an explosion; growing gradients with a loss that does not fall are.
        coping = n > 1 and loss < 0.9 * self._explode_from
        if n >= self.t.grad_patience and not coping:
            layers = sorted(ev.layer_grad_norms.items(), key=lambda kv: -kv[1] if _finite(kv[1]) else 0)
            named = [k for k, v in layers[:MAX_NAMED] if _finite(v)]
            where = f"; largest in {', '.join(f'`{k}`' for k in named)}" if named else ""
            out += self._raise(
                "exploding_gradients",
                "warning",
                ev.step,
                first,
                f"gradient norm {gn:.3g} above {self.t.explode_grad_norm:g} for {n} reports in a row{where}",
                "Enable gradient clipping (train.grad_clip = 1.0), lower the learning rate (optim.lr), or add "
                "normalisation layers"
                + (f" after `{named[0]}`" if named else "")
                + "; check for unscaled inputs or targets.",
                grad_norm=gn,
                threshold=self.t.explode_grad_norm,
                reports=n,
                loss=loss,
                loss_at_first_step=self._explode_from,
                layers=named,
                layer_grad_norms=dict(layers[:20]),
            )
        # Per-layer norms decide vanishing once a run has any: the reports between readings (the ones before an
        # eval, or skipped for the reading budget) leave the per-layer streak as it was.
        if not self._layered:
            low = gn < self.t.vanish_grad_norm and self._far_from_done(loss)
            n, first = self._streak("vanish", low, ev.step)
            if n >= self.t.grad_patience:
                out += self._raise(
                    "vanishing_gradients",
                    "warning",
                    ev.step,
                    first,
                    f"gradient norm {gn:.3g} below {self.t.vanish_grad_norm:g} for {n} reports in a row while "
                    f"the loss ({loss:.4g}) is still far from converged",
                    "Use ReLU-family activations, better initialisation, normalisation layers or residual "
                    "connections; check for saturated sigmoid/tanh layers and a learning rate that is too low.",
                    grad_norm=gn,
                    threshold=self.t.vanish_grad_norm,
                    loss=loss,
                    chance_loss=self.chance,
                )
        return out

    def _layer_gradients(self, ev: Step, loss: float) -> list[Diagnostic]:
        if "vanishing_gradients" in self.raised:
            return []
        norms = {k: float(v) for k, v in ev.layer_grad_norms.items() if _finite(v)}
        if not norms:
            return []
        top_name = max(norms, key=norms.__getitem__)
        top = norms[top_name]
        cut = max(top * self.t.layer_vanish_ratio, 0.0)
        # Exactly zero is an unused module (or dead ReLUs, which dead_units reports), not a vanishing one.
        zero = sorted(k for k, v in norms.items() if v == 0.0)
        starved = sorted(
            (k for k, v in norms.items() if 0.0 < v and (v < cut or v < self.t.vanish_grad_norm)),
            key=norms.__getitem__,
        )
        holds = bool(starved) and top > 0 and self._far_from_done(loss)
        n, first = self._streak("layer_vanish", holds, ev.step)
        if n < self.t.grad_patience:
            return []
        orders = {k: round(math.log10(top / norms[k]), 1) if norms[k] > 0 else None for k in starved}
        shown = ", ".join(f"`{k}` ({norms[k]:.2g})" for k in starved[:MAX_NAMED]) + (
            "" if len(starved) <= MAX_NAMED else f" and {len(starved) - MAX_NAMED} more"
        )
        return self._raise(
            "vanishing_gradients",
            "warning",
            ev.step,
            first,
            f"{len(starved)} of {len(norms)} layers get almost no gradient: {shown}, against {top:.2g} in "
            f"`{top_name}`, for {n} reports in a row while the loss ({loss:.4g}) is far from converged",
            "The early layers are not learning. Use ReLU-family activations instead of sigmoid/tanh, "
            "normalisation layers (nn.BatchNorm1d / nn.LayerNorm) or residual connections, a standard "
            "initialisation (Kaiming for ReLU), or a shallower model.",
            layers=starved,
            layer_grad_norms={k: norms[k] for k in starved},
            orders_below_largest=orders,
            largest_layer=top_name,
            largest_grad_norm=top,
            ratio_threshold=self.t.layer_vanish_ratio,
            zero_grad_layers=zero,
            dead_units=dict(ev.dead_units),
            loss=loss,
            chance_loss=self.chance,
        )

    def _dead_units(self, ev: Step, loss: float) -> list[Diagnostic]:
        if "dead_units" in self.raised:
            return []
        dead = {k: float(v) for k, v in ev.dead_units.items() if _finite(v)}
        bad = sorted((k for k, v in dead.items() if v >= self.t.dead_unit_share), key=lambda k: -dead[k])
        n, first = self._streak("dead", bool(bad) and self._far_from_done(loss), ev.step)
        if n < self.t.grad_patience:
            return []
        shown = ", ".join(f"`{k}` {dead[k]:.0%}" for k in bad[:MAX_NAMED])
        return self._raise(
            "dead_units",
            "warning",
            ev.step,
            first,
            f"ReLU units that output zero for every sample of the batch: {shown}, for {n} reports in a row",
            "Dead ReLUs no longer learn. Lower the learning rate (optim.lr), use nn.LeakyReLU / nn.GELU, "
            "add normalisation before the activation, or check the initialisation and the input scaling.",
            layers=bad,
            dead_units=dead,
            threshold=self.t.dead_unit_share,
            loss=loss,
        )

    def _data_wait(self, ev: Step) -> list[Diagnostic]:
        """A full window of data wait (summed in _on_step): the share, the hysteresis state, the rule."""
        acc = self._wait
        total = acc[0] + acc[1]
        share = acc[0] / total if total > 0 else 0.0
        self._wait = [0.0, 0.0, 0.0]
        # Hysteresis: a window above the threshold turns the state on, only one below threshold - hysteresis
        # turns it off, so a share hovering at the threshold neither flaps nor accumulates to an alarm.
        if share > self.t.data_wait_fraction:
            self._wait_on = True
        elif share < self.t.data_wait_fraction - self.t.data_wait_hysteresis:
            self._wait_on = False
            self._wait_windows = []
        if not self._wait_on:
            return []
        self._wait_windows.append((ev.step, share))
        if len(self._wait_windows) < self.t.data_wait_patience:
            return []
        shares = [s for _, s in self._wait_windows]
        mean = sum(shares) / len(shares)
        return self._raise(
            "dataloader_bottleneck",
            "warning",
            ev.step,
            self._wait_windows[0][0],
            f"{mean:.0%} of step time is spent waiting for data over the last {len(shares)} windows of "
            f"{self.t.data_wait_window} steps (threshold {self.t.data_wait_fraction:.0%})",
            "Load batches in worker processes (data.num_workers = 4 in a config; DataLoader(num_workers=4, "
            "pin_memory=True) in your own loop), cache decoded data, make augmentation cheaper, or give each "
            "step more compute (a larger train.batch_size); raise diagnostics.data_wait_fraction if expected.",
            data_wait_share=round(mean, 4),
            window_shares=[round(s, 4) for s in shares],
            window_steps=self.t.data_wait_window,
            threshold=self.t.data_wait_fraction,
        )

    def _warming_up(self, since: int) -> bool:
        """The learning rate rose by more than 20 % since step `since`: an LR warm-up, not a stalled run."""
        if not self._lrs:
            return False
        then = next((lr for s, lr in reversed(self._lrs) if s <= since), self._lrs[0][1])
        return self._lrs[-1][1] > 1.2 * then

    def _check_plateau(self, step: int) -> list[Diagnostic]:
        t = self.t
        window = max(2, t.plateau_steps)
        half = window // 2
        series = self.series
        series.prune(step - 2 * window)
        initial = self.initial_loss
        if step - window < 0 or initial is None:
            return []
        # The recent level decides which code a stall would be (at chance: underfitting; above the floor:
        # plateau; below it: none), so the older half and the LR history are read only when one can be raised.
        recent = series.mean_over(step - half, step)
        if recent is None:
            return []
        chance = self.chance
        if chance is not None:
            at_chance = recent >= t.underfit_chance_ratio * chance
        else:
            at_chance = initial > 0 and recent / initial > t.underfit_ratio
        scale = (chance if chance is not None else initial) or 0.0
        if at_chance:
            code = "underfitting"
        elif scale > 0 and recent > t.plateau_floor * scale:
            code = "plateau"
        else:
            return []
        if code in self.raised:
            return []  # (each code is raised once: nothing left to decide)
        before = series.mean_over(step - window, step - half)
        if before is None:
            return []
        improvement = (before - recent) / max(abs(before), 1e-12)
        if improvement >= t.plateau_min_improvement or self._warming_up(step - window):
            return []
        evidence: dict[str, Any] = dict(
            window_steps=window,
            mean_loss_before=before,
            mean_loss_recent=recent,
            relative_improvement=round(improvement, 5),
            initial_loss=initial,
            chance_loss=chance,
        )
        if chance is not None:
            evidence["share_of_chance"] = round(recent / chance, 4)
        else:
            evidence["share_of_initial"] = round(recent / initial, 4) if initial else None
        if at_chance:
            level = (
                f"{recent / chance:.0%} of the chance-level loss {chance:.4g}"
                if chance is not None
                else f"{recent / self.initial_loss:.0%} of its initial value"
            )
            return self._raise(
                "underfitting",
                "warning",
                step,
                step,
                f"the training loss has stalled at {recent:.4g}, {level}, over the last {window} steps: the "
                "model has learnt (almost) nothing from the inputs",
                "Give the model capacity for a non-linear problem (model.hidden for the built-in MLP, "
                "model.channels for the CNN, model.kwargs for a factory model; hidden layers with ReLU in your "
                "own model), raise the learning rate (optim.lr), reduce regularisation, or check that the "
                "features carry signal about the label.",
                **evidence,
            )
        return self._raise(
            "plateau",
            "info",
            step,
            step,
            f"the training loss improved only {improvement:.2%} over the last {window} steps (mean "
            f"{recent:.4g})",
            'Try an LR schedule (optim.schedule = "plateau" or "cosine"), a higher learning rate, '
            'or another optimiser (optim.name = "adam").',
            **evidence,
        )
