"""Training data as in-memory tensors: a table (label column, encoded features) or an image folder (class sub-folders).

The sample-scale datasets this tool trains fit in memory, and indexing one tensor per batch costs far less
than a DataLoader's per-sample collate, which keeps the engine close to a bare loop. Table encoding
(standardised numbers with missing values filled by the training mean, one-hot categories, class names) is
computed on the training split only and saved as `RUN_DIR/encoding.json`, so validation data never leaks
into the statistics and the mapping travels with the run.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui_trainer.data.suffixes import IMAGE_SUFFIXES
from tui_trainer.engine.config import TrainConfig
from tui_trainer.engine.events import Log
from tui_trainer.errors import UserError

log = logging.getLogger("tui_trainer.engine.datasets")

# An integer label with at most this many distinct values is taken as classes, not a quantity.
MAX_INT_CLASSES = 50


@dataclass
class TrainingData:
    """Train/val tensors plus what the model and the diagnostics need to know about them."""

    x_train: Any
    y_train: Any
    x_val: Any | None
    y_val: Any | None
    kind: str  # "table" | "images"
    task: str  # "classification" | "regression"
    input_shape: tuple[int, ...]  # one sample, without the batch dimension
    num_classes: int  # classification: number of classes; regression: 1
    class_names: list[str] = field(default_factory=list)
    majority_share: float | None = None  # share of the most common class in the training split
    encoding: dict[str, Any] = field(default_factory=dict)
    notes: list[Log] = field(default_factory=list)  # said to the user as they are


def load_training_data(config: TrainConfig) -> TrainingData:
    kind = config.data.kind
    path = config.resolve(config.data.path)
    if not path.exists():
        raise UserError(f"data.path: {path} does not exist")
    if kind == "auto":
        kind = "images" if path.is_dir() else "table"
    if kind == "images":
        if not path.is_dir():
            raise UserError(
                f"data.kind = 'images' needs data.path to be a folder <class>/<image>, but {path} is a file; "
                f"set data.kind = 'table' (or 'auto') for a table file"
            )
        return _load_images(config, path)
    if path.is_dir():
        raise UserError(f"data.kind = 'table' needs data.path to be a table file, but {path} is a folder")
    return _load_table(config, path)


def save_encoding(data: TrainingData, run_dir: Path) -> None:
    from tui_trainer.atomic import atomic_write_text

    payload = {
        "kind": data.kind,
        "task": data.task,
        "input_shape": list(data.input_shape),
        "num_classes": data.num_classes,
        "class_names": data.class_names,
        **data.encoding,
    }
    atomic_write_text(Path(run_dir) / "encoding.json", json.dumps(payload, indent=2, sort_keys=True))


def describe_inputs(encoding: dict[str, Any]) -> str | None:
    """Where a table's input width comes from: "10 inputs: 5 numeric + island (3) + sex (2)"; None if unknown."""
    features = encoding.get("features") or []
    if not features or not all(isinstance(f, dict) for f in features):
        return None
    numeric = sum(1 for f in features if f.get("type") == "number")
    one_hot = [(str(f["name"]), len(f.get("categories", []))) for f in features if f.get("type") == "one_hot"]
    total = numeric + sum(k for _, k in one_hot)
    if not one_hot:
        return f"{total} inputs ({total} numeric columns)"
    parts = ([f"{numeric} numeric"] if numeric else []) + [f"{name} ({k})" for name, k in one_hot]
    return f"{total} inputs: " + " + ".join(parts)


# --- tables -------------------------------------------------------------------------------------------------


def _read_table(config: TrainConfig, path: Path):
    import polars as pl

    from tui_trainer.data.load import open_dataset

    dataset = open_dataset(path)
    lazy = dataset.lazy
    if config.data.recipe:
        recipe_path = config.resolve(config.data.recipe)
        if not recipe_path.is_file():
            raise UserError(f"data.recipe: {recipe_path} does not exist")
        try:
            from tui_trainer.data.recipe import apply_recipe, load_recipe
        except ImportError as exc:
            raise UserError(
                f"data.recipe is set but recipes are not available in this version ({exc})"
            ) from None
        lazy = apply_recipe(lazy, load_recipe(recipe_path))
    try:
        frame = lazy.collect()
    except pl.exceptions.PolarsError as exc:
        from tui_trainer.data.load import explain_error

        raise explain_error(path, dataset.format, exc) from None
    if config.data.max_rows and frame.height > config.data.max_rows:
        # A random subset (seeded), not the first rows: files are often sorted by class.
        frame = (
            frame.with_row_index("_row")
            .sample(n=config.data.max_rows, seed=config.train.seed)
            .sort("_row")
            .drop("_row")
        )
    return frame


def _load_table(config: TrainConfig, path: Path) -> TrainingData:
    import numpy as np
    import polars as pl
    import torch

    frame = _read_table(config, path)
    label = config.data.label
    if label not in frame.columns:
        raise UserError(
            f"data.label: column {label!r} is not in {path.name}; columns: {', '.join(frame.columns)}"
        )
    notes: list[Log] = []
    before = frame.height
    frame = frame.filter(pl.col(label).is_not_null())
    if frame.height < before:
        notes.append(
            Log(message=f"dropped {before - frame.height} row(s) of {path.name} with no {label!r} value")
        )
    if frame.height < 2:
        raise UserError(f"{path}: fewer than 2 rows with a {label!r} value; nothing to train on")

    features = list(config.data.features) or [c for c in frame.columns if c != label]
    if label in config.data.features:
        raise UserError(f"data.features lists the label {label!r}: the model would be shown the answer")
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise UserError(f"data.features: {', '.join(map(repr, missing))} not in {path.name}")
    if not features:
        raise UserError(f"{path}: no feature columns besides the label {label!r}")

    val_frame = None
    if config.data.val_file:
        val_path = config.resolve(config.data.val_file)
        if not val_path.is_file():
            raise UserError(f"data.val_file: {val_path} does not exist")
        val_frame = _read_table(config, val_path)
        if label not in val_frame.columns:
            raise UserError(f"data.val_file: column {label!r} is not in {val_path.name}")
        val_frame = val_frame.filter(pl.col(label).is_not_null())
        train_frame = frame
    else:
        order = np.random.default_rng(config.train.seed).permutation(frame.height)
        n_val = int(round(frame.height * config.data.val_fraction))
        if config.data.val_fraction > 0 and n_val == 0:
            n_val = 1
        val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
        train_frame = frame[train_idx.tolist()]
        val_frame = frame[val_idx.tolist()] if n_val else None

    # Label: classes or a quantity.
    y_dtype = frame.schema[label]
    task = config.data.task
    if task == "auto":
        if y_dtype.is_float():
            task = "regression"
        elif y_dtype.is_integer() and frame[label].n_unique() > MAX_INT_CLASSES:
            task = "regression"
        else:
            task = "classification"
    encoding: dict[str, Any] = {"label": label, "features": []}
    class_names: list[str] = []
    if task == "classification":
        values = sorted(frame[label].unique().to_list(), key=lambda v: (str(type(v)), v))
        class_names = [str(v) for v in values]
        index = {v: i for i, v in enumerate(values)}
        y_train = torch.tensor([index[v] for v in train_frame[label].to_list()], dtype=torch.long)
        y_val = None
        if val_frame is not None:
            unknown = sorted({str(v) for v in val_frame[label].to_list() if v not in index})
            if unknown:
                raise UserError(
                    f"data.val_file: label value(s) {', '.join(unknown[:5])} never appear in the training data"
                )
            y_val = torch.tensor([index[v] for v in val_frame[label].to_list()], dtype=torch.long)
        counts = torch.bincount(y_train, minlength=len(values))
        majority = float(counts.max()) / max(1, int(counts.sum()))
        encoding["classes"] = class_names
        num_classes = len(values)
        if num_classes < 2:
            notes.append(
                Log(
                    message=f"{label!r} has a single class ({class_names[0]!r}); there is nothing to learn",
                    level="warning",
                )
            )
        elif majority >= 0.9:
            notes.append(
                Log(
                    message=f"the majority class {class_names[int(counts.argmax())]!r} is {majority:.0%} of the training rows",
                    level="warning",
                )
            )
    else:
        if not (y_dtype.is_numeric()):
            raise UserError(f"data.task = 'regression' needs a numeric label, but {label!r} is {y_dtype}")
        y_train = torch.tensor(train_frame[label].cast(pl.Float64).to_numpy(), dtype=torch.float32).unsqueeze(
            1
        )
        y_val = (
            torch.tensor(val_frame[label].cast(pl.Float64).to_numpy(), dtype=torch.float32).unsqueeze(1)
            if val_frame is not None
            else None
        )
        majority = None
        num_classes = 1

    train_cols: list[Any] = []
    val_cols: list[Any] = []
    for name in features:
        dtype = train_frame.schema[name]
        if dtype.is_numeric():
            col = train_frame[name].cast(pl.Float64)
            mean = col.mean()
            std = col.std()
            mean = 0.0 if mean is None else float(mean)
            std = 1.0 if (std is None or std == 0 or std != std) else float(std)
            nulls = col.null_count() + int(col.is_nan().sum())
            if nulls:
                notes.append(
                    Log(
                        message=f"{name}: {nulls} missing value(s) in the training split filled with the mean {mean:.4g}"
                    )
                )

            def enc(s, mean=mean, std=std):
                arr = s.cast(pl.Float64).fill_nan(None).fill_null(mean).to_numpy()
                return ((arr - mean) / std).reshape(-1, 1)

            train_cols.append(enc(train_frame[name]))
            if val_frame is not None:
                if name not in val_frame.columns:
                    raise UserError(f"data.val_file: feature column {name!r} is missing")
                val_cols.append(enc(val_frame[name]))
            encoding["features"].append({"name": name, "type": "number", "mean": mean, "std": std})
        else:
            cats = sorted({str(v) for v in train_frame[name].to_list() if v is not None})

            def onehot(s, cats=cats):
                idx = {c: i for i, c in enumerate(cats)}
                out = np.zeros((len(s), len(cats)), dtype=np.float64)
                for row, v in enumerate(s.to_list()):
                    j = idx.get(str(v)) if v is not None else None
                    if j is not None:
                        out[row, j] = 1.0
                return out

            if len(cats) > 256:
                raise UserError(
                    f"{path.name}: column {name!r} has {len(cats)} distinct text values; too many to one-hot encode. "
                    "Drop it with data.features or encode it in a recipe."
                )
            train_cols.append(onehot(train_frame[name]))
            if val_frame is not None:
                val_cols.append(onehot(val_frame[name]))
            encoding["features"].append({"name": name, "type": "one_hot", "categories": cats})

    x_train = torch.tensor(np.hstack(train_cols), dtype=torch.float32)
    x_val = torch.tensor(np.hstack(val_cols), dtype=torch.float32) if val_frame is not None else None
    return TrainingData(
        x_train=x_train,
        y_train=y_train,
        x_val=x_val,
        y_val=y_val,
        kind="table",
        task=task,
        input_shape=(x_train.shape[1],),
        num_classes=num_classes,
        class_names=class_names,
        majority_share=majority,
        encoding=encoding,
        notes=notes,
    )


# --- images -------------------------------------------------------------------------------------------------


def _image_files(root: Path) -> tuple[list[str], list[tuple[Path, int]]]:
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise UserError(f"data.path: {root} has no class sub-folders (expected {root}/<class>/<image>)")
    files: list[tuple[Path, int]] = []
    for i, name in enumerate(classes):
        for path in sorted((root / name).rglob("*")):
            if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
                files.append((path, i))
    if not files:
        raise UserError(f"data.path: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) under {root}")
    return classes, files


def _load_image_tensor(files: list[tuple[Path, int]], size: tuple[int, int] | None, mode: str):
    import numpy as np
    import torch
    from PIL import Image, UnidentifiedImageError

    from tui_trainer.data.limits import max_pixels, open_image

    limit = max_pixels()
    arrays = []
    for path, _ in files:
        try:
            with open_image(path, limit) as im:  # the pixel limit is checked from the header first
                im = im.convert(mode)
                if size is not None and im.size != (size[1], size[0]):
                    im = im.resize((size[1], size[0]), Image.Resampling.BILINEAR)
                arr = np.asarray(im, dtype=np.float32) / 255.0
        except (UnidentifiedImageError, OSError) as exc:
            raise UserError(f"{path}: not a readable image ({exc})") from None
        if arr.ndim == 2:
            arr = arr[None, :, :]
        else:
            arr = arr.transpose(2, 0, 1)
        if arrays and arr.shape != arrays[0].shape:
            raise UserError(
                f"{path}: image size {arr.shape[2]}x{arr.shape[1]} differs from {files[0][0].name} "
                f"({arrays[0].shape[2]}x{arrays[0].shape[1]}); set data.image_size = [height, width]"
            )
        arrays.append(arr)
    x = torch.from_numpy(np.stack(arrays))
    y = torch.tensor([label for _, label in files], dtype=torch.long)
    return x, y


def _load_images(config: TrainConfig, root: Path) -> TrainingData:
    import numpy as np
    import torch

    from tui_trainer.data.limits import open_image

    classes, files = _image_files(root)
    if config.data.max_rows:
        rng = np.random.default_rng(config.train.seed)
        keep = np.sort(rng.permutation(len(files))[: config.data.max_rows])
        files = [files[i] for i in keep]
    with open_image(files[0][0]) as first:
        mode = "L" if first.mode in ("L", "1", "I", "I;16", "F", "LA") else "RGB"
    size = tuple(config.data.image_size) if config.data.image_size else None
    val_files: list[tuple[Path, int]] = []
    if config.data.val_file:
        val_root = config.resolve(config.data.val_file)
        if not val_root.is_dir():
            raise UserError(f"data.val_file: {val_root} is not an image folder with class sub-folders")
        val_classes, val_files = _image_files(val_root)
        unknown = sorted(set(val_classes) - set(classes))
        if unknown:
            raise UserError(f"data.val_file: class folder(s) {', '.join(unknown)} are not in data.path")
        remap = {i: classes.index(name) for i, name in enumerate(val_classes)}
        val_files = [(p, remap[c]) for p, c in val_files]
        train_files = files
    else:
        order = np.random.default_rng(config.train.seed).permutation(len(files))
        n_val = int(round(len(files) * config.data.val_fraction))
        if config.data.val_fraction > 0 and n_val == 0:
            n_val = 1
        val_files = [files[i] for i in sorted(order[:n_val])]
        train_files = [files[i] for i in sorted(order[n_val:])]
    x_train, y_train = _load_image_tensor(train_files, size, mode)
    x_val = y_val = None
    if val_files:
        x_val, y_val = _load_image_tensor(val_files, size or (x_train.shape[2], x_train.shape[3]), mode)
    counts = torch.bincount(y_train, minlength=len(classes))
    return TrainingData(
        x_train=x_train,
        y_train=y_train,
        x_val=x_val,
        y_val=y_val,
        kind="images",
        task="classification",
        input_shape=tuple(x_train.shape[1:]),
        num_classes=len(classes),
        class_names=classes,
        majority_share=float(counts.max()) / max(1, int(counts.sum())),
        encoding={"classes": classes, "mode": mode, "scale": "pixels / 255"},
        notes=[
            Log(
                message=f"{len(train_files)} training and {len(val_files)} validation images, {len(classes)} classes, {mode}"
            )
        ],
    )
