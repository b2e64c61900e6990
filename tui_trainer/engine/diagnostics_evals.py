"""The evaluation half of `Diagnostics`: overfitting, majority_class and leakage, decided at each `eval` event.

A mixin, so the rules read the same state (thresholds, the loss series, what was raised) as the step rules
in diagnostics.py; each rule is written out in docs/diagnostics.md.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from tui_trainer.engine.events import Diagnostic, Eval
from tui_trainer.engine.loss_levels import finite_number as _finite

# The val and train losses of an `_evals` entry (step, val, train); C-level reads, no comprehension per eval.
_VAL, _TRAIN = itemgetter(1), itemgetter(2)


class EvalRules:
    """Mixed into Diagnostics; uses its `t`, `series`, `raised`, `_raise`, `_streak`, `_scale`, `chance`."""

    t: Any
    series: Any
    raised: dict[str, Diagnostic]
    class_names: list[str]
    task: str | None
    initial_loss: float | None
    val_label_counts: list[int] | None
    _chance_stale: bool
    _evals: list[tuple[int, float, float | None]]
    _leaky: list[dict[str, Any]]
    _recent: Any
    _last_eval_step: int
    _best_window: tuple[int, float, float | None] | None
    _since_best: int
    _overfit_first: int | None
    _min_val: float
    _collapsed_vals: list[float]
    _raise: Any
    _streak: Any
    _scale: Any

    # -- evals -------------------------------------------------------------------------------------------

    def _on_eval(self, ev: Eval) -> list[Diagnostic]:
        # Constant work per eval, and none for a code already raised (each is raised once).
        out: list[Diagnostic] = []
        step, labels, raised = ev.step, ev.label_counts, self.raised
        if labels and labels != self.val_label_counts:
            self.val_label_counts = list(labels)
            self._chance_stale = True
        last = self._last_eval_step
        train = self.series.mean_over(last, step) if step > last else None
        if train is None and self._recent:
            train = self._recent[-1][1]
        first_eval = not self._evals
        if step > last:
            self._last_eval_step = step
        if _finite(ev.val_loss):
            val = float(ev.val_loss)
            self._evals.append((step, val, train))
            if val < self._min_val:
                self._min_val = val
            if "overfitting" not in raised:
                out += self._overfitting(ev)
        if "majority_class" not in raised:
            out += self._majority(ev)
        if (first_eval or ev.epoch == 0) and "leakage" not in raised:
            out += self._leakage(ev)
        return out

    def _overfitting(self, ev: Eval) -> list[Diagnostic]:
        # Judged on means over the last `overfit_patience` evals, not single evals: a noisy validation loss
        # (a small val split) dips to a lucky minimum and spikes, which no real trend does. Constant work per
        # eval (the best window, the evals since it and the first of them where the rule held are kept), so
        # a long run's evals cost what its first ones did.
        k = max(1, self.t.overfit_patience)
        evals = self._evals
        if len(evals) < k:
            return []
        tail = evals[-k:]
        now_val = sum(map(_VAL, tail)) / k
        trains = list(map(_TRAIN, tail))
        now_train = None if None in trains else sum(trains) / k
        best = self._best_window
        if best is None or now_val < best[1]:
            self._best_window, self._since_best, self._overfit_first = (ev.step, now_val, now_train), 0, None
            if len(evals) > 4 * k + 64:  # only the evals from the best window on are evidence: drop the rest
                del evals[:-k]
            return []
        best_step, best_val, best_train = best
        self._since_best += 1
        since = self._since_best  # evals since the best window; from k on, the windows do not overlap
        scale = self._scale()
        if scale is None:
            return []
        # The rise is measured against the larger of the best val loss and chance, so a 5 % wobble of a val
        # loss far below chance (a healthy model with its usual generalisation gap) is not a rise.
        rise_needed = max(self.t.overfit_min_delta, self.t.overfit_min_rise * max(abs(best_val), scale))
        if now_val - best_val <= rise_needed:
            return []  # no rise (the usual eval of a healthy run): the rule does not hold, nothing to note
        gap_needed = self.t.overfit_min_gap * scale
        held = now_train is not None and now_val - now_train >= gap_needed
        if held and self._overfit_first is None:
            self._overfit_first = ev.step  # the first eval after the best window where rise and gap held
        # A diverged run's validation loss rises for another reason (lr_too_high says which).
        if since < k or "lr_too_high" in self.raised:
            return []
        first = self._overfit_first if self._overfit_first is not None else ev.step
        falling = (
            best_train is not None
            and now_train is not None
            and now_train < best_train
            and self.initial_loss is not None
            and now_train < self.initial_loss
        )
        if not (falling and held):
            return []
        gap = now_val - now_train  # type: ignore[operator]
        return self._raise(
            "overfitting",
            "warning",
            ev.step,
            first,
            f"validation loss (mean of {k} evals) rose from {best_val:.4g} (step {best_step}) to "
            f"{now_val:.4g} while the training loss fell ({best_train:.4g} → {now_train:.4g}); "
            f"validation is {gap:.3g} above training",
            "Stop earlier (train.early_stopping_patience = 3), add regularisation (model.dropout, "
            "optim.weight_decay), augment the data, or get more of it. The best validation loss was "
            f"{self._min_val:.4g}, around step {best_step}.",
            val_losses=[e[1] for e in evals[-(since + k) :]],
            train_losses=[e[2] for e in evals[-(since + k) :]],
            mean_window_evals=k,
            best_val_loss=best_val,
            best_step=best_step,
            val_loss=now_val,
            train_loss=now_train,
            gap=gap,
            gap_threshold=gap_needed,
            evals_since_best=since,
        )

    def _majority(self, ev: Eval) -> list[Diagnostic]:
        pred, labels = ev.pred_counts, ev.label_counts
        if not pred or not labels or len(labels) < 2:
            return []
        n, m = sum(pred), sum(labels)
        if n <= 0 or m <= 0:
            return []
        top = max(pred)
        c = pred.index(top)  # the first most predicted class
        pred_share = top / n
        label_share = labels[c] / m if c < len(labels) else 0.0
        other_true = 1.0 - label_share
        other_pred = 1.0 - pred_share
        # Collapsed: the other classes, a real share of the labels, get a small fraction of their share of
        # the predictions. A near-chance model on balanced data spreads its predictions and stays silent.
        holds = (
            other_true >= self.t.majority_min_other and other_pred <= self.t.majority_other_ratio * other_true
        )
        count, first = self._streak("majority", holds, ev.step)
        if not holds:
            if self._collapsed_vals:
                self._collapsed_vals = []
            return []
        self._collapsed_vals = self._collapsed_vals[-(self.t.majority_patience - 1) :]
        if _finite(ev.val_loss):
            self._collapsed_vals.append(float(ev.val_loss))
        if count < self.t.majority_patience or ev.step - first < self.t.majority_min_steps:
            return []
        # A deep net often predicts one class for its first epochs while its loss still falls; only a
        # collapse whose validation loss has stopped improving is the model settling on one class.
        vals = self._collapsed_vals
        if len(vals) >= 2 and (vals[0] - vals[-1]) > self.t.plateau_min_improvement * abs(vals[0]):
            return []
        # Recall from the two histograms alone: exact (0) for classes never predicted, an upper bound otherwise.
        recall = [
            round(min(pred[i] if i < len(pred) else 0, labels[i]) / labels[i], 4) if labels[i] else None
            for i in range(len(labels))
        ]
        name = self.class_names[c] if c < len(self.class_names) else str(c)
        acc = ev.metrics.get("accuracy")
        majority = max(range(len(labels)), key=labels.__getitem__)
        which = "the majority class" if c == majority else "a class that is not the majority"
        return self._raise(
            "majority_class",
            "warning",
            ev.step,
            first,
            f"the model predicts class {name} ({which}) for {pred_share:.1%} of the validation rows, whose "
            f"true share is {label_share:.1%}, for {count} evaluations in a row",
            'Balance the classes (train.class_weights = "balanced" or data.sampler = "balanced"; '
            "nn.CrossEntropyLoss(weight=...) in your own loop), lower the learning rate if the loss collapsed, "
            "and check that the labels and features line up.",
            predicted_class=c,
            predicted_class_name=name,
            predicted_share=round(pred_share, 4),
            label_share=round(label_share, 4),
            pred_counts=list(pred),
            label_counts=list(labels),
            per_class_recall_at_most=recall,
            accuracy=acc,
            evals=count,
            val_losses=list(vals),
        )

    def _leakage(self, ev: Eval) -> list[Diagnostic]:
        acc = ev.metrics.get("accuracy")
        n_val = sum(ev.label_counts) if ev.label_counts else None
        if _finite(acc):
            if n_val and max(ev.label_counts) / n_val >= self.t.leak_score:
                return []  # one class is (nearly) every label: always answering it scores that high
            score, metric = float(acc), "accuracy"  # type: ignore[arg-type]
            perfect = score >= self.t.leak_score and (n_val is None or n_val >= self.t.leak_min_samples)
        elif self.task == "regression" and self.chance and _finite(ev.val_loss):
            score, metric = 1.0 - float(ev.val_loss) / self.chance, "r2"
            perfect = score >= self.t.leak_score
        else:
            return []
        if not perfect:
            return []
        features = [f["feature"] for f in self._leaky]
        # On its own a perfect first score can be an easy task; with a single-feature predictor it is a leak.
        severity = "warning" if features else "info"
        return self._raise(
            "leakage",
            severity,
            ev.step,
            ev.step,
            f"validation {metric} is {score:.3f} at the first evaluation (step {ev.step}): near perfect before "
            "the model could have learnt a real pattern"
            + (f"; {', '.join(f'`{f}`' for f in features)} alone predict the label" if features else ""),
            "Check for a feature that is a copy or a function of the label (an ID, a renamed label column, a "
            "value computed from the outcome) and drop it from data.features; check that validation rows are "
            "not duplicates of training rows (tui-trainer inspect TRAIN --against VAL).",
            score=score,
            metric=metric,
            val_samples=n_val,
            threshold=self.t.leak_score,
            leaky_features=features,
        )
