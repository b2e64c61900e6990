"""Ways into tui-trainer from training code that already exists: `watch`, Lightning, transformers, TensorBoard.

Each module maps its library's hooks onto the engine's events through `tui_trainer.monitor`'s run, so the
diagnostics, `attach` and `runs` treat these runs like our own. `integrations.lightning` and
`integrations.transformers` import their library when they are imported (only training code does that);
everything else imports torch or tensorboard inside the function that needs it, so the UI process, which
loads `watch`, `logdirs` and `tensorboard` (the module), never imports them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

RUN_DIR_ENV = "TUI_TRAINER_RUN_DIR"


def run_dir_for(explicit: str | Path | None, stem: str) -> Path:
    """The folder an integration writes to: the one given, else `$TUI_TRAINER_RUN_DIR` (set by `watch`),
    else a new `runs/<stem>-<time>`."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(RUN_DIR_ENV, "").strip()
    if env:
        return Path(env)
    from tui_trainer.engine.runs import default_run_dir

    return default_run_dir(Path(stem))


# `monitor`'s run API is growing while these integrations are written against it (issue 10: per-layer norms,
# epoch ends, strict keyword arguments); the integrations call it through these three functions only, so a
# change there is absorbed in one place.
_ACCEPTS: dict[tuple[Any, str], bool] = {}


def _accepts(fn: Any, name: str) -> bool:
    key = (getattr(fn, "__func__", fn), name)  # per function, not per bound method: this is on the step path
    found = _ACCEPTS.get(key)
    if found is None:
        import inspect

        params = inspect.signature(fn).parameters
        found = _ACCEPTS[key] = name in params and params[name].kind is not inspect.Parameter.VAR_KEYWORD
    return found


def start_run(
    run_dir: Path, config: dict[str, Any], model_summary: dict[str, Any] | None = None, **options: Any
) -> Any:
    """`monitor.start` with the model summary where the run takes one (else it goes in the config)."""
    from tui_trainer import monitor

    if model_summary:
        if _accepts(monitor.MonitorRun.__init__, "model_summary"):
            options["model_summary"] = model_summary
        else:
            config = {**config, "model_summary": model_summary}
    options.setdefault("echo", False)
    return monitor.start(run_dir, config, **options)


def log_step(
    run: Any,
    *,
    step: int,
    loss: Any,
    epoch: int = 0,
    lr: Any = None,
    grad_norm: Any = None,
    samples_per_s: Any = None,
    metrics: dict[str, Any] | None = None,
    layer_grad_norms: dict[str, float] | None = None,
) -> None:
    kw: dict[str, Any] = dict(
        step=step, loss=loss, lr=lr, grad_norm=grad_norm, epoch=epoch, samples_per_s=samples_per_s
    )
    if layer_grad_norms and _accepts(run.log, "layer_grad_norms"):
        kw["layer_grad_norms"] = layer_grad_norms
    if metrics:
        if _accepts(run.log, "metrics"):
            kw["metrics"] = metrics
        else:
            kw.update(metrics)
    run.log(**kw)


def log_eval(
    run: Any, *, step: int, val_loss: Any, epoch: int | None = None, metrics: dict[str, Any] | None = None
) -> None:
    if metrics and _accepts(run.eval, "metrics"):
        run.eval(step=step, val_loss=val_loss, epoch=epoch, metrics=metrics)
    else:
        run.eval(step=step, val_loss=val_loss, epoch=epoch, **(metrics or {}))


def log_epoch_end(
    run: Any, *, epoch: int, step: int, train_loss: float | None, duration_s: float | None
) -> None:
    if hasattr(run, "epoch_end"):
        run.epoch_end(epoch=epoch, step=step, train_loss=train_loss, duration_s=duration_s)
        return
    from tui_trainer.engine.events import EpochEnd

    run.flush()  # the steps before it first, then the event through the run's own writer (no API for it yet)
    run._write([EpochEnd(epoch=epoch, step=step, train_loss=train_loss, duration_s=duration_s)])


def takes_layer_norms(run: Any) -> bool:
    """Whether `run.log` takes per-layer gradient norms read by the caller (else `run.watch(model)` reads them)."""
    return _accepts(run.log, "layer_grad_norms")


def write_event(run: Any, *events: Any, flush: bool = True) -> None:
    """Events the run API has no call for (system, paused, relayed ones), through the run's own writer.

    `flush` first writes what the run has pending, so the file keeps the order the calls were made in.
    """
    if flush:
        run.flush()
    run._write(list(events))


def close_without_end(run: Any) -> None:
    """Flush and release the run's file without a finished/failed event (another writer's end stands)."""
    if run.closed:
        return
    run.flush()
    run._log.close()
    run.closed = True
