"""Models: the built-in MLP (tables) and small CNN (images), or the user's own `module:function` factory.

A factory is called with `model.kwargs`, plus `input_shape` (one sample, no batch dimension) and
`num_classes` when its signature accepts them (by name or through `**kwargs`), so a factory written for
one dataset can adapt to another without editing the config. While a factory runs, each module notes the
line that constructed it, so a structure error can point at the layer's definition (`layer_definition`).
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import linecache
import os
import re
import sys
from collections.abc import Iterator
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
            with recording_definitions():
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


# --- where a layer is defined ---------------------------------------------------------------------------------

# Set on each module built by a factory (in the module's __dict__, so never in a state_dict): "file.py:12".
DEFINED_AT = "_tui_trainer_defined_at"


@contextlib.contextmanager
def recording_definitions() -> Iterator[None]:
    """While a model is built, note on each module the user's line that constructed it (`nn.Linear(...)`).

    nn.Module.__init__ is wrapped for the duration only; a structure error can then point at the layer's
    definition (the factory's line, or the `self.fc = ...` line in `__init__`) as well as the failing forward.
    """
    import torch.nn as nn

    original = nn.Module.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        if DEFINED_AT not in self.__dict__:
            site = _construction_site()
            if site:
                self.__dict__[DEFINED_AT] = site

    nn.Module.__init__ = init  # type: ignore[method-assign]
    try:
        yield
    finally:
        nn.Module.__init__ = original  # type: ignore[method-assign]


def _construction_site() -> str | None:
    import torch

    skip = (os.path.dirname(torch.__file__), os.path.abspath(__file__))
    frame = sys._getframe(2)
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if not filename.startswith(skip[0]) and filename != skip[1] and "contextlib" not in filename:
            return _site(filename, frame.f_lineno)
        frame = frame.f_back  # type: ignore[assignment]
    return None


def _site(filename: str, line: int) -> str:
    code = linecache.getline(filename, line).strip()
    return f"{os.path.basename(filename)}:{line}" + (f" `{code}`" if code else "")


def layer_definition(module: Any, parents: list[tuple[str, Any]] | None = None) -> str | None:
    """`file:line `code`` where `module` was constructed, if it can be found.

    A module built under `recording_definitions` knows its line. Otherwise `parents` (the (qualified name,
    module) chain from the model down to `module`'s parent) is searched from the inside out for a user class
    whose source assigns the child (`self.fc = ...` in `__init__`); torch containers (Sequential) are skipped.
    """
    site = getattr(module, "__dict__", {}).get(DEFINED_AT)
    if site:
        return site
    child = module
    for _, parent in reversed(parents or []):
        cls = type(parent)
        attr = next((k for k, v in parent.named_children() if v is child), None)
        if attr is not None and not cls.__module__.startswith("torch."):
            try:
                lines, start = inspect.getsourcelines(cls)
                filename = inspect.getsourcefile(cls) or ""
            except (OSError, TypeError):
                return None
            pattern = re.compile(rf"\bself\.{re.escape(attr)}\s*(:[^=]*)?=(?!=)")
            for offset, text in enumerate(lines):
                if pattern.search(text):
                    return _site(filename, start + offset)
            return None
        child = parent
    return None
