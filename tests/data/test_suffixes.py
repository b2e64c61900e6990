"""One list of image suffixes: a folder of PPM/PGM images the Data and Augment panes accept also trains."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tui_trainer.data.suffixes import IMAGE_SUFFIXES, media_kind


def _folder(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for label, suffix, mode in (("cats", ".ppm", "RGB"), ("dogs", ".pgm", "L")):
        (root / label).mkdir(parents=True)
        for i in range(3):
            shape = (8, 8, 3) if mode == "RGB" else (8, 8)
            Image.fromarray(rng.integers(0, 255, shape, dtype=np.uint8), mode).save(
                root / label / f"{i}{suffix}"
            )
    return root


def test_ppm_and_pgm_folders_are_seen_by_inspect_augment_and_training(tmp_path):
    from tui_trainer.augment.preview import load_source
    from tui_trainer.data.images import scan_image_folder
    from tui_trainer.engine.config import config_from_dict
    from tui_trainer.engine.datasets import load_training_data

    root = _folder(tmp_path / "pets")
    table = scan_image_folder(root).collect()
    assert table.height == 6 and sorted(set(table["label"])) == ["cats", "dogs"]
    assert load_source(root / "cats" / "0.ppm").kind == "image"
    config = config_from_dict(
        {"data": {"path": str(root), "kind": "images", "image_size": [8, 8], "val_fraction": 0.0}},
        base_dir=tmp_path,
    )
    data = load_training_data(config)
    assert data.class_names == ["cats", "dogs"] and len(data.y_train) == 6


@pytest.mark.parametrize(
    ("name", "kind"),
    [("a.PNG", "image"), ("a.pgm", "image"), ("a.wav", "audio"), ("a.md", "text"), ("a.csv", "text")],
)
def test_media_kind_by_suffix(name, kind):
    assert media_kind(name) == kind
    assert (Path(name).suffix.lower() in IMAGE_SUFFIXES) == (kind == "image")
