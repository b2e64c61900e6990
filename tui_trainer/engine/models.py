"""Models: the built-in MLP (tables) and small CNN (images), or the user's own `module:function` factory.

A factory is called with `model.kwargs`, plus `input_shape` (one sample, no batch dimension) and
`num_classes` when its signature accepts them (by name or through `**kwargs`), so a factory written for
one dataset can adapt to another without editing the config.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from typing import Any

from tui_trainer.engine.config import TrainConfig
from tui_trainer.errors import UserError


def build_mlp(input_shape: tuple[int, ...], num_classes: int, hidden: list[int], dropout: float = 0.0):
    import torch.nn as nn

    layers: list[nn.Module] = []
    width = 1
    for d in input_shape:
        width *= d
    if len(input_shape) > 1:
        layers.append(nn.Flatten())
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = h
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)


def build_cnn(input_shape: tuple[int, ...], num_classes: int, channels: list[int], dropout: float = 0.0):
    import torch.nn as nn

    if len(input_shape) != 3:
        raise UserError(
            f"model.name = 'cnn' needs images (channels, height, width); the data has shape {input_shape}"
        )
    in_ch, h, w = input_shape
    layers: list[nn.Module] = []
    for ch in channels:
        layers += [nn.Conv2d(in_ch, ch, kernel_size=3, padding=1), nn.BatchNorm2d(ch), nn.ReLU()]
        if min(h, w) >= 4:  # pool while there is room, so tiny 8x8 digits keep some spatial detail
            layers.append(nn.MaxPool2d(2))
            h, w = h // 2, w // 2
        in_ch = ch
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(in_ch, num_classes))
    return nn.Sequential(*layers)


def load_factory(spec: str):
    """Import `module:function` (build_model puts model.factory_path and the cwd on sys.path first)."""
    module_name, _, func_name = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UserError(f"model.factory: cannot import module {module_name!r} ({exc})") from None
    func = getattr(module, func_name, None)
    if func is None or not callable(func):
        raise UserError(f"model.factory: {module_name!r} has no function {func_name!r}")
    return func


def build_model(config: TrainConfig, input_shape: tuple[int, ...], num_classes: int):
    import torch.nn as nn

    m = config.model
    if m.factory:
        folders = [str(config.resolve(m.factory_path) if m.factory_path else config.base_dir), os.getcwd()]
        for folder in reversed(folders):
            if folder not in sys.path:
                sys.path.insert(0, folder)
        func = load_factory(m.factory)
        kwargs: dict[str, Any] = dict(m.kwargs)
        try:
            params = inspect.signature(func).parameters
        except (TypeError, ValueError):
            params = {}
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        for name, value in (("input_shape", tuple(input_shape)), ("num_classes", num_classes)):
            if name not in kwargs and (takes_any or name in params):
                kwargs[name] = value
        try:
            model = func(**kwargs)
        except TypeError as exc:
            raise UserError(
                f"model.factory {m.factory}: calling it with {sorted(kwargs)} failed: {exc}"
            ) from None
        if not isinstance(model, nn.Module):
            raise UserError(
                f"model.factory {m.factory} returned {type(model).__name__}, not a torch.nn.Module"
            )
        return model
    name = m.name
    if name == "auto":
        name = "cnn" if len(input_shape) == 3 else "mlp"
    if name == "cnn":
        return build_cnn(input_shape, num_classes, m.channels, m.dropout)
    return build_mlp(input_shape, num_classes, m.hidden, m.dropout)
