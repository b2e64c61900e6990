"""Training configs in TOML: typed dataclasses, validation that names the key, `--set KEY=VALUE` overrides.

Relative paths in a config (data, recipe, augment pipeline, val file) are relative to the config file's
folder, so a config travels with its data; paths given with `--set` are relative to the current directory. `TrainConfig.base_dir` remembers that folder; it is not written
back. A run directory gets a copy with absolute paths (`config_to_dict(config, absolute_paths=True)`), so
`--resume RUN_DIR` works from anywhere.
"""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui_trainer.errors import UserError


class ConfigError(UserError):
    """A config file or override that is not valid; the message names the key, the expected type and the file."""


def _choices(*values: str) -> dict[str, Any]:
    return {"choices": values}


@dataclass
class DataConfig:
    path: str = (
        ""  # a table file (CSV/TSV/Parquet/JSON/NDJSON/Arrow) or an image folder with class sub-folders
    )
    kind: str = field(default="auto", metadata=_choices("auto", "table", "images"))
    label: str = "label"  # table: the column to predict
    features: list[str] = field(
        default_factory=list
    )  # table: feature columns ([] = every column but the label)
    recipe: str = ""  # table: a Data-pane recipe applied before training
    task: str = field(default="auto", metadata=_choices("auto", "classification", "regression"))
    val_fraction: float = 0.2  # held out, seeded by train.seed; ignored when val_file is set
    val_file: str = ""
    image_size: list[int] = field(
        default_factory=list
    )  # images: [height, width] to resize to ([] = as found)
    max_rows: int = 0  # 0 = all rows/images


@dataclass
class ModelConfig:
    name: str = field(default="auto", metadata=_choices("auto", "mlp", "cnn"))
    factory: str = ""  # "module:function" returning an nn.Module; overrides name
    factory_path: str = ""  # folder searched first for the factory's module ("" = the config file's folder)
    kwargs: dict[str, Any] = field(default_factory=dict)  # passed to the factory
    hidden: list[int] = field(default_factory=lambda: [64, 64])  # mlp hidden sizes
    channels: list[int] = field(default_factory=lambda: [16, 32])  # cnn conv channels
    dropout: float = 0.0


@dataclass
class OptimConfig:
    name: str = field(default="adam", metadata=_choices("adam", "adamw", "sgd"))
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9  # sgd only
    schedule: str = field(default="none", metadata=_choices("none", "step", "cosine", "plateau"))
    step_size: int = 10  # schedule "step": epochs between decays
    gamma: float = 0.1  # schedule "step"/"plateau": decay factor
    plateau_patience: int = 2  # schedule "plateau": evals without improvement before decaying


@dataclass
class TrainSettings:
    epochs: int = 10
    batch_size: int = 32
    seed: int = 0
    checkpoint_every: int = 200  # steps; 0 = only at the end of the run and when stopped
    keep_checkpoints: int = 3
    eval_every: int = 0  # steps; 0 = at the end of each epoch
    # Steps between `step` events (the step before each eval always reports); 0 = adaptive: every step for
    # the first 20, then ~10 a second.
    log_every: int = 0
    max_steps: int = 0  # 0 = no limit beyond epochs
    device: str = field(default="auto", metadata=_choices("auto", "cpu", "cuda", "mps"))
    precision: str = field(default="fp32", metadata=_choices("fp32", "bf16", "fp16"))
    grad_clip: float = 0.0  # max global grad norm; 0 = off
    early_stopping_patience: int = 0  # evals without val improvement before stopping; 0 = off
    early_stopping_min_delta: float = 0.0
    stop_on_nan: bool = True


@dataclass
class AugmentConfig:
    pipeline: str = ""  # an augment pipeline TOML (Augment pane), applied per training batch of images


@dataclass
class DiagnosticsConfig:
    enabled: bool = True
    overfit_patience: int = 3  # evals of rising val loss while train loss falls
    overfit_min_delta: float = 0.0  # each eval must exceed the previous by more than this
    overfit_min_rise: float = 0.05  # and the val loss must rise by this share over the window
    plateau_steps: int = 200  # window (steps) over which too little improvement means a plateau
    plateau_min_improvement: float = 0.01  # relative improvement of the smoothed loss over that window
    plateau_floor: float = 0.1  # below this share of the initial loss, flat is "converged", not a plateau
    underfit_ratio: float = 0.7  # a plateau above this share of the initial loss is underfitting
    explode_grad_norm: float = 1000.0
    vanish_grad_norm: float = 1e-7
    grad_patience: int = 3  # consecutive step events beyond a grad-norm threshold
    diverge_factor: float = 3.0  # smoothed loss this many times its best, and above the initial loss
    data_wait_fraction: float = 0.5  # share of step time spent waiting for data
    data_wait_window: int = 20  # step events
    majority_margin: float = 0.02  # accuracy within this of the majority-class share
    majority_patience: int = 3  # evals


@dataclass
class TelemetryConfig:
    enabled: bool = True
    interval_s: float = 1.0  # seconds between `system` samples (NVML per GPU, psutil CPU/RAM)


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
_HINTS_CACHE: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS_CACHE:
        _HINTS_CACHE[cls] = typing.get_type_hints(cls)
    return _HINTS_CACHE[cls]


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is list:
        (inner,) = typing.get_args(tp)
        return f"list of {_type_name(inner)}"
    if origin is dict:
        return "table"
    return {bool: "boolean", int: "integer", float: "number", str: "string"}.get(tp, str(tp))


def _coerce(value: Any, tp: Any, key: str, where: str) -> Any:
    """Check `value` against the field type; ints are accepted where numbers are expected."""

    def bad() -> ConfigError:
        shown = repr(value) if not isinstance(value, dict) else "a table"
        return ConfigError(
            f"{where}: `{key}` must be a {_type_name(tp)}, got {shown} ({type(value).__name__})"
        )

    origin = typing.get_origin(tp)
    if origin is list:
        (inner,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise bad()
        return [_coerce(v, inner, f"{key}[{i}]", where) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise bad()
        return dict(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise bad()
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad()
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad()
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise bad()
        return value
    raise bad()  # pragma: no cover - every field type is listed above


def _check_value(section: str, name: str, value: Any, where: str) -> Any:
    cls = type(getattr(TrainConfig(), section))
    hints = _hints(cls)
    key = f"{section}.{name}"
    if name not in hints:
        known = ", ".join(sorted(hints))
        raise ConfigError(f"{where}: unknown key `{key}`; [{section}] accepts: {known}")
    value = _coerce(value, hints[name], key, where)
    choices = next((f.metadata.get("choices") for f in dataclasses.fields(cls) if f.name == name), None)
    if choices and value not in choices:
        raise ConfigError(f"{where}: `{key}` must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def _validate_ranges(config: TrainConfig, where: str) -> None:
    def need(ok: bool, key: str, what: str, value: Any) -> None:
        if not ok:
            raise ConfigError(f"{where}: `{key}` must be {what}, got {value!r}")

    t, o, d = config.train, config.optim, config.data
    need(t.epochs >= 1, "train.epochs", "an integer >= 1", t.epochs)
    need(t.batch_size >= 1, "train.batch_size", "an integer >= 1", t.batch_size)
    need(
        t.checkpoint_every >= 0,
        "train.checkpoint_every",
        "an integer >= 0 (steps; 0 = end only)",
        t.checkpoint_every,
    )
    need(t.keep_checkpoints >= 1, "train.keep_checkpoints", "an integer >= 1", t.keep_checkpoints)
    need(t.log_every >= 0, "train.log_every", "an integer >= 0", t.log_every)
    need(t.eval_every >= 0, "train.eval_every", "an integer >= 0", t.eval_every)
    need(t.max_steps >= 0, "train.max_steps", "an integer >= 0", t.max_steps)
    need(t.grad_clip >= 0, "train.grad_clip", "a number >= 0", t.grad_clip)
    need(o.lr > 0, "optim.lr", "a number > 0", o.lr)
    need(o.weight_decay >= 0, "optim.weight_decay", "a number >= 0", o.weight_decay)
    need(0.0 <= d.val_fraction < 1.0, "data.val_fraction", "a number in [0, 1)", d.val_fraction)
    need(len(d.image_size) in (0, 2), "data.image_size", "[] or [height, width]", d.image_size)
    need(
        all(h >= 1 for h in config.model.hidden),
        "model.hidden",
        "a list of integers >= 1",
        config.model.hidden,
    )
    need(
        all(c >= 1 for c in config.model.channels),
        "model.channels",
        "a list of integers >= 1",
        config.model.channels,
    )
    need(0.0 <= config.model.dropout < 1.0, "model.dropout", "a number in [0, 1)", config.model.dropout)
    need(config.telemetry.interval_s > 0, "telemetry.interval_s", "a number > 0", config.telemetry.interval_s)
    if config.model.factory:
        need(
            ":" in config.model.factory,
            "model.factory",
            'of the form "module:function"',
            config.model.factory,
        )
    need(bool(d.path), "data.path", "set to a table file or an image folder", d.path)


def config_from_dict(
    data: dict[str, Any], where: str = "config", base_dir: Path | None = None
) -> TrainConfig:
    """Build and validate a TrainConfig from a TOML-shaped dict; `where` names the file in messages."""
    config = TrainConfig(base_dir=base_dir or Path.cwd())
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: a config must be a TOML table")
    for section, table in data.items():
        if section not in SECTIONS:
            raise ConfigError(f"{where}: unknown table `[{section}]`; known tables: {', '.join(SECTIONS)}")
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: `{section}` must be a table ([{section}]), got {table!r}")
        target = getattr(config, section)
        for name, value in table.items():
            setattr(target, name, _check_value(section, name, value, where))
    _validate_ranges(config, where)
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
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return parts[0], parts[1], value


def load_config(path: Path, overrides: Sequence[str] = ()) -> TrainConfig:
    """Read, override and validate a training config; any problem is a ConfigError naming the key and file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder; expected a TOML config file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; expected a TOML config file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    for text in overrides:
        section, name, value = parse_override(text)
        if section not in SECTIONS:
            raise ConfigError(
                f"--set {text!r}: unknown table `{section}`; known tables: {', '.join(SECTIONS)}"
            )
        table = data.setdefault(section, {})
        if not isinstance(table, dict):
            raise ConfigError(f"--set {text!r}: `{section}` in {path} is not a table")
        _check_value(section, name, value, f"--set {text!r} (config {path})")
        if (section, name) in PATH_KEYS and value and not Path(value).expanduser().is_absolute():
            # A path typed on the command line means what the shell means: relative to the current directory.
            value = str(Path.cwd() / Path(value).expanduser())
        table[name] = value
    config = config_from_dict(data, where=str(path), base_dir=path.resolve().parent)
    config.source = path.resolve()
    return config


def config_to_dict(config: TrainConfig, absolute_paths: bool = False) -> dict[str, Any]:
    """The TOML-shaped dict of a config (every key, defaults included); optionally with absolute paths."""
    out: dict[str, Any] = {}
    for section in SECTIONS:
        out[section] = dataclasses.asdict(getattr(config, section))
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
