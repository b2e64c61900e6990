"""Training configs in TOML: the schema (types, choices, ranges on each key), loading, `--set KEY=VALUE` overrides.

Relative paths in a config (data, recipe, augment pipeline, val file) are relative to the config file's
folder, so a config travels with its data; paths given with `--set` are relative to the current directory.
`TrainConfig.base_dir` remembers that folder; it is not written back. A run directory gets a copy with absolute
paths (`config_to_dict(config, absolute_paths=True)`), so `--resume RUN_DIR` works from anywhere.

Each table is a `msgspec.Struct` that forbids unknown keys; `tui_trainer.schema` turns a mistake into a message
naming the file, the key and the expected form, and docs/configuration.md's tables are generated from here.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from tui_trainer import schema
from tui_trainer.errors import UserError


class ConfigError(UserError):
    """A config file or override that is not valid; the message names the key, the expected type and the file."""


def _list(*items: Any) -> Any:
    return msgspec.field(default_factory=lambda: list(items))


class _Table(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One `[table]` of a training config: unknown keys are an error naming the key."""


Size = Annotated[int, Meta(ge=1)]
Fraction = Annotated[float, Meta(ge=0, le=1)]
MAX_IMAGE_SIDE = 8192


class DataConfig(_Table):
    path: Annotated[
        str,
        Meta(
            description="a table file (CSV/TSV/Parquet/JSON/NDJSON/Arrow) or an image folder "
            "with one sub-folder per class; required"
        ),
    ] = ""
    kind: Annotated[Literal["auto", "table", "images"], Meta(description="what `path` holds")] = "auto"
    label: Annotated[str, Meta(description="table: the column to predict")] = "label"
    features: Annotated[
        list[str], Meta(description="table: feature columns ([] = every column but the label)")
    ] = []
    recipe: Annotated[str, Meta(description="table: a Data-pane fix recipe applied before training")] = ""
    task: Annotated[
        Literal["auto", "classification", "regression"],
        Meta(
            description="auto: text/bool labels and integers with <= 50 values are classes, floats regression"
        ),
    ] = "auto"
    val_fraction: Annotated[
        float,
        Meta(
            ge=0,
            lt=1,
            description="share held out for validation, seeded by train.seed; ignored when val_file is set",
        ),
    ] = 0.2
    val_file: Annotated[str, Meta(description="a separate validation file or folder")] = ""
    image_size: Annotated[
        list[Annotated[int, Meta(ge=1, le=MAX_IMAGE_SIDE)]],
        Meta(
            max_length=2,
            description="images: [height, width] to resize to ([] = as found)",
            extra={"expected": f"[] or [height, width] (integers in [1, {MAX_IMAGE_SIDE}])"},
        ),
    ] = []
    max_rows: Annotated[int, Meta(ge=0, description="rows/images used; 0 = all")] = 0
    sampler: Annotated[
        Literal["none", "balanced"],
        Meta(description='"balanced" draws each class equally often per epoch (classification)'),
    ] = "none"
    num_workers: Annotated[
        int, Meta(ge=0, le=256, description="DataLoader worker processes; 0 = load in the training process")
    ] = 0
    pin_memory: Annotated[bool, Meta(description="DataLoader pin_memory (faster copies to a CUDA GPU)")] = (
        False
    )


class ModelConfig(_Table):
    name: Annotated[
        Literal["auto", "mlp", "cnn"],
        Meta(description="built-in model; auto = mlp for tables, cnn for images"),
    ] = "auto"
    factory: Annotated[str, Meta(description='"module:function" returning an nn.Module; overrides name')] = ""
    factory_path: Annotated[
        str,
        Meta(description="folder searched first for the factory's module (\"\" = the config file's folder)"),
    ] = ""
    kwargs: Annotated[dict[str, Any], Meta(description="keyword arguments passed to the factory")] = {}
    hidden: Annotated[list[Size], Meta(description="mlp hidden layer sizes")] = _list(64, 64)
    channels: Annotated[list[Size], Meta(description="cnn conv channels")] = _list(16, 32)
    dropout: Annotated[float, Meta(ge=0, lt=1, description="built-in models' dropout")] = 0.0


class OptimConfig(_Table):
    name: Annotated[Literal["adam", "adamw", "sgd"], Meta(description="the optimiser")] = "adam"
    lr: Annotated[float, Meta(gt=0, description="learning rate")] = 1e-3
    weight_decay: Annotated[float, Meta(ge=0, description="L2 penalty (decoupled for adamw)")] = 0.0
    momentum: Annotated[float, Meta(ge=0, lt=1, description="sgd only")] = 0.9
    schedule: Annotated[
        Literal["none", "step", "cosine", "plateau"],
        Meta(
            description="step: x gamma every step_size epochs; cosine: over all steps; plateau: x gamma after "
            "plateau_patience evals without val improvement"
        ),
    ] = "none"
    step_size: Annotated[int, Meta(ge=1, description='schedule "step": epochs between decays')] = 10
    gamma: Annotated[float, Meta(gt=0, lt=1, description='schedule "step"/"plateau": decay factor')] = 0.1
    plateau_patience: Annotated[
        int, Meta(ge=0, description='schedule "plateau": evals without improvement before decaying')
    ] = 2


class TrainSettings(_Table):
    epochs: Annotated[int, Meta(ge=1, description="passes over the training data")] = 10
    batch_size: Annotated[int, Meta(ge=1, description="samples per step (per process under DDP)")] = 32
    seed: Annotated[int, Meta(ge=0, le=2**32 - 1, description="seeds torch, numpy, random and the split")] = 0
    checkpoint_every: Annotated[
        int, Meta(ge=0, description="steps; 0 = only at the end of the run and when stopped")
    ] = 200
    keep_checkpoints: Annotated[int, Meta(ge=1, description="newest checkpoints kept")] = 3
    eval_every: Annotated[int, Meta(ge=0, description="steps; 0 = at the end of each epoch")] = 0
    # The step before each eval always reports; 0 = adaptive: every step for the first 20, then ~10 a second.
    log_every: Annotated[int, Meta(ge=0, description="steps between `step` events; 0 = adaptive")] = 0
    max_steps: Annotated[int, Meta(ge=0, description="0 = no limit beyond epochs")] = 0
    device: Annotated[
        Literal["auto", "cpu", "cuda", "mps"],
        Meta(
            description="auto: cuda, then mps, then cpu; an absent device falls back to the CPU with a note"
        ),
    ] = "auto"
    precision: Annotated[
        Literal["fp32", "bf16", "fp16"],
        Meta(
            description="bf16: autocast; fp16: autocast + GradScaler (CUDA only, elsewhere fp32 with a note)"
        ),
    ] = "fp32"
    grad_clip: Annotated[float, Meta(ge=0, description="max global grad norm; 0 = off")] = 0.0
    early_stopping_patience: Annotated[
        int, Meta(ge=0, description="evals without val improvement before stopping; 0 = off")
    ] = 0
    early_stopping_min_delta: Annotated[
        float, Meta(ge=0, description="smallest val-loss improvement that counts")
    ] = 0.0
    stop_on_nan: Annotated[
        bool, Meta(description="a non-finite loss stops the run (failed, code nan_loss)")
    ] = True
    class_weights: Annotated[
        Literal["balanced"] | Annotated[list[Annotated[float, Meta(gt=0)]], Meta(min_length=1)] | None,
        Meta(
            description='loss weight per class: "balanced" (inverse class frequency) or one positive number '
            "per class; unset = equal"
        ),
    ] = None


class AugmentConfig(_Table):
    pipeline: Annotated[
        str, Meta(description="an augment pipeline TOML (Augment pane), applied per training batch of images")
    ] = ""


class DiagnosticsConfig(_Table):
    # The rules these thresholds feed are written out in docs/diagnostics.md; "chance" is the loss of a model
    # that ignores its inputs (label entropy, log K when balanced; the target variance for regression).
    enabled: bool = True
    overfit_patience: Annotated[
        int, Meta(ge=1, description="evals since the best val loss before overfitting can be called")
    ] = 3
    overfit_min_delta: Annotated[
        float, Meta(ge=0, description="the val loss must exceed its best by more than this")
    ] = 0.0
    overfit_min_rise: Annotated[
        float, Meta(ge=0, description="and by at least this share of the best val loss (or chance, if larger)")
    ] = 0.1
    overfit_min_gap: Annotated[
        float, Meta(ge=0, description="val minus train loss must reach this share of the chance loss")
    ] = 0.15
    plateau_steps: Annotated[
        int, Meta(ge=2, description="window (steps): its recent half against its older half")
    ] = 200
    plateau_min_improvement: Annotated[
        float, Meta(ge=0, description="relative improvement of the mean loss between the two halves")
    ] = 0.01
    plateau_floor: Annotated[
        float,
        Meta(
            ge=0, le=1, description='below this share of the chance loss, flat is "converged", not a plateau'
        ),
    ] = 0.1
    underfit_chance_ratio: Annotated[
        float,
        Meta(ge=0, le=2, description="a stall at or above this share of the chance loss is underfitting"),
    ] = 0.9
    underfit_ratio: Annotated[
        float,
        Meta(ge=0, le=1, description="no chance loss known: a stall above this share of the first loss"),
    ] = 0.7
    explode_grad_norm: Annotated[
        float, Meta(gt=0, description="global grad norm above this is exploding")
    ] = 1000.0
    vanish_grad_norm: Annotated[float, Meta(gt=0, description="global grad norm below this is vanishing")] = (
        1e-7
    )
    layer_vanish_ratio: Annotated[
        float, Meta(gt=0, lt=1, description="a layer below this share of the largest layer grad norm starves")
    ] = 1e-5
    dead_unit_share: Annotated[
        float, Meta(gt=0, le=1, description="share of a ReLU layer's units zero on the whole batch")
    ] = 0.9
    grad_patience: Annotated[
        int, Meta(ge=1, description="consecutive step reports for the gradient and dead-unit rules")
    ] = 3
    diverge_factor: Annotated[
        float, Meta(gt=1, description="smoothed loss this many times its best, and above the initial loss")
    ] = 3.0
    nan_small_lr: Annotated[
        float, Meta(ge=0, description="at or below this lr, a NaN after calm steps is a numerical bug")
    ] = 1e-3
    data_wait_fraction: Annotated[
        float, Meta(ge=0, le=1, description="share of step time spent waiting for data")
    ] = 0.6
    data_wait_hysteresis: Annotated[
        float, Meta(ge=0, le=1, description="the state clears only below data_wait_fraction minus this")
    ] = 0.1
    data_wait_window: Annotated[int, Meta(ge=1, description="steps per measured window")] = 50
    data_wait_patience: Annotated[int, Meta(ge=1, description="windows in a row above the threshold")] = 3
    data_wait_warmup_steps: Annotated[int, Meta(ge=0, description="first steps not measured")] = 50
    majority_min_other: Annotated[
        float, Meta(ge=0, le=1, description="the other classes' true share must be at least this")
    ] = 0.02
    majority_other_ratio: Annotated[
        float, Meta(ge=0, le=1, description="they get at most this fraction of their share of predictions")
    ] = 0.2
    majority_patience: Annotated[int, Meta(ge=1, description="evals")] = 3
    majority_min_steps: Annotated[
        int, Meta(ge=0, description="and the collapse must have lasted this many steps")
    ] = 100
    leak_score: Annotated[
        float, Meta(ge=0, le=1, description="first-eval accuracy (or R^2) at or above this looks leaked")
    ] = 0.99
    leak_feature_gain: Annotated[
        float, Meta(ge=0, le=1, description="preflight: one feature alone this close to perfect is a leak")
    ] = 0.98
    leak_min_samples: Annotated[
        int, Meta(ge=1, description="validation rows needed before a perfect score means anything")
    ] = 30


class TelemetryConfig(_Table):
    enabled: Annotated[bool, Meta(description="`system` events (GPU, CPU, RAM samples)")] = True
    interval_s: Annotated[
        float, Meta(gt=0, description="seconds between `system` samples (NVML per GPU, psutil CPU/RAM)")
    ] = 1.0


@dataclass
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainSettings = field(default_factory=TrainSettings)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    diagnostics: DiagnosticsConfig = field(default_factory=DiagnosticsConfig)
    telemetry: TelemetryConfig = field(default_factory=TelemetryConfig)
    # Where relative paths are resolved from (the config file's folder); not part of the TOML.
    base_dir: Path = field(default_factory=Path.cwd, compare=False, repr=False)
    source: Path | None = field(default=None, compare=False, repr=False)

    def resolve(self, value: str) -> Path:
        """A path from this config, made absolute against the config file's folder."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else (self.base_dir / path)


SECTIONS: tuple[str, ...] = ("data", "model", "optim", "train", "augment", "diagnostics", "telemetry")
PATH_KEYS: tuple[tuple[str, str], ...] = (
    ("data", "path"),
    ("data", "recipe"),
    ("data", "val_file"),
    ("augment", "pipeline"),
    ("model", "factory_path"),
)


def _check_rules(config: TrainConfig, where: schema.Where) -> None:
    """The rules a key's type cannot state on its own."""

    def need(ok: bool, key: tuple[str, str], what: str, value: Any) -> None:
        if not ok:
            raise schema.invalid(where, key, what, value, error=ConfigError)

    d, m = config.data, config.model
    need(len(d.image_size) != 1, ("data", "image_size"), "[] or [height, width]", d.image_size)
    if m.factory:
        need(":" in m.factory, ("model", "factory"), 'of the form "module:function"', m.factory)
    need(bool(d.path), ("data", "path"), "set to a table file or an image folder", d.path)


def config_from_dict(
    data: dict[str, Any], where: schema.Where = "config", base_dir: Path | None = None
) -> TrainConfig:
    """Build and validate a TrainConfig from a TOML-shaped dict; `where` names the file in messages."""
    config = schema.convert(data, TrainConfig, where, error=ConfigError)
    config.base_dir = base_dir or Path.cwd()
    _check_rules(config, where)
    return config


def parse_override(text: str) -> tuple[str, str, Any]:
    """`section.key=VALUE` → (section, key, value). VALUE is read as TOML (`0.01`, `true`, `[8, 8]`,
    `"x"`); anything TOML cannot read is taken as a bare string, so `--set data.path=penguins.csv` works."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. --set optim.lr=0.01")
    key, raw = text.split("=", 1)
    key = key.strip()
    parts = key.split(".")
    if len(parts) != 2 or not all(parts):
        raise ConfigError(
            f"--set {text!r}: KEY must be SECTION.NAME, e.g. optim.lr (tables: {', '.join(SECTIONS)})"
        )
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except (tomllib.TOMLDecodeError, RecursionError, KeyError):
        value = raw.strip()
    return parts[0], parts[1], value


def load_config(path: Path, overrides: Sequence[str] = ()) -> TrainConfig:
    """Read, override and validate a training config; any problem is a ConfigError naming the key and file.

    A mistake in a value given with `--set` names that `--set`, not the file.
    """
    path = Path(path)
    data = schema.read_toml(path, "config", ConfigError)
    given: dict[tuple[str | int, ...], str] = {}
    for text in overrides:
        section, name, value = parse_override(text)
        if section not in SECTIONS:
            raise ConfigError(
                f"--set {text!r}: unknown table `{section}`; known tables: {', '.join(SECTIONS)}"
            )
        table = data.setdefault(section, {})
        if not isinstance(table, dict):
            raise ConfigError(f"--set {text!r}: `{section}` in {path} is not a table")
        if (section, name) in PATH_KEYS and isinstance(value, str) and value:
            if not Path(value).expanduser().is_absolute():
                # A path typed on the command line means what the shell means: relative to the current directory.
                value = str(Path.cwd() / Path(value).expanduser())
        table[name] = value
        given[(section, name)] = text

    def where(key: tuple[str | int, ...]) -> str:
        text = given.get(key[:2])
        return f"--set {text!r} (config {path})" if text is not None else str(path)

    config = config_from_dict(data, where=where, base_dir=path.resolve().parent)
    config.source = path.resolve()
    return config


def config_to_dict(config: TrainConfig, absolute_paths: bool = False) -> dict[str, Any]:
    """The TOML-shaped dict of a config (every key that is set, defaults included); optionally absolute paths."""
    out: dict[str, Any] = {}
    for section in SECTIONS:
        table = msgspec.to_builtins(getattr(config, section))
        out[section] = {k: v for k, v in table.items() if v is not None}  # TOML has no null: unset stays out
    if absolute_paths:
        for section, name in PATH_KEYS:
            if out[section][name]:
                out[section][name] = str(config.resolve(out[section][name]))
        if out["model"]["factory"] and not out["model"]["factory_path"]:
            # A copy saved elsewhere (the run folder) must still find the factory beside the original config.
            out["model"]["factory_path"] = str(config.base_dir)
    return out


def save_config(config: TrainConfig, path: Path, absolute_paths: bool = False) -> Path:
    """Write the config as TOML atomically (temp + rename)."""
    import tomli_w

    from tui_trainer.atomic import atomic_write_text

    return atomic_write_text(Path(path), tomli_w.dumps(config_to_dict(config, absolute_paths=absolute_paths)))
