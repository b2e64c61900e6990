"""Pipeline config: TOML round trip, Keras meanings, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tui_trainer.augment.pipeline import Pipeline, default_pipeline, load_pipeline, save_pipeline
from tui_trainer.errors import UserError


def test_save_then_load_round_trips(tmp_path: Path) -> None:
    p = default_pipeline()
    p.set("image", "brightness", [0.8, 1.2])
    p.set("image", "normalize_mean", [0.5, 0.5, 0.5])
    p.set("image", "normalize_std", [0.2, 0.2, 0.2])
    target = save_pipeline(p, tmp_path / "aug.toml")
    loaded = load_pipeline(target)
    assert loaded.to_dict() == p.to_dict()
    assert not list(tmp_path.glob(".*.tmp"))  # the temp file was renamed away


def test_keras_names_mean_what_keras_means() -> None:
    spec = Pipeline.from_dict(
        {
            "image": {
                "rotation_range": 40,
                "width_shift_range": 0.2,
                "height_shift_range": 5,
                "zoom_range": 0.3,
                "horizontal_flip": True,
            }
        }
    ).image_spec()
    assert spec.rotation == (-40.0, 40.0)
    assert spec.shift_x_frac == (-0.2, 0.2)
    assert spec.shift_y_int == 5
    assert spec.zoom_keras == pytest.approx((0.7, 1.3))
    assert spec.hflip_p == 0.5
    pixels = Pipeline.from_dict({"image": {"width_shift_range": 3.5}}).image_spec()
    assert pixels.shift_x == (-3.5, 3.5)


def test_exact_keys_add_to_ranges() -> None:
    spec = Pipeline.from_dict({"image": {"rotate": 90, "rotation_range": 10, "zoom": 2.0}}).image_spec()
    assert spec.rotation == (80.0, 100.0)
    assert spec.zoom_x == (2.0, 2.0) and spec.zoom_y == (2.0, 2.0)


@pytest.mark.parametrize(
    ("toml", "needle"),
    [
        ("[image]\nrotate = 'x'\n", "[image] rotate"),
        ("[image]\nspin = 3\n", "[image] spin: unknown op"),
        ("[video]\nx = 1\n", "unknown section [video]"),
        ("[image]\nfill_mode = 'mirror'\n", "[image] fill_mode"),
        ("[image]\nzoom_range = 1.5\n", "[image] zoom_range"),
        ("[text]\nrandom_swap = -1\n", "[text] random_swap"),
        ("[audio]\nspeed = [2, 1]\n", "[audio] speed"),
        ("[image]\nnormalize_mean = [0.5]\n", "normalize_mean and normalize_std"),
        ("[image\n", "not valid TOML"),
        ("image = 3\n", "[image] must be a table"),
        ("[audio]\nspeed = 0\n", "[audio] speed: values must be > 0"),
        ("[image]\ncrop_scale = [0.0, 1.0]\n", "[image] crop_scale: values must be > 0 and ≤ 1"),
        ("[image]\nblur_sigma = -1\n", "[image] blur_sigma: values must be ≥ 0"),
    ],
)
def test_malformed_config_names_the_key(tmp_path: Path, toml: str, needle: str) -> None:
    path = tmp_path / "aug.toml"
    path.write_text(toml)
    with pytest.raises(UserError) as err:
        load_pipeline(path)
    assert needle in str(err.value) and str(path) in str(err.value)


def test_missing_config_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not found"):
        load_pipeline(tmp_path / "nope.toml")


def test_apply_batch_torch_runs_the_same_geometry_as_apply_numpy() -> None:
    p = Pipeline.from_dict({"image": {"rotate": 90, "hflip": True}})
    img = np.random.default_rng(0).integers(0, 256, (10, 10, 3), dtype=np.uint8)
    ref = p.apply_numpy(img, np.random.default_rng(0))
    batch = torch.from_numpy(img).permute(2, 0, 1)[None].contiguous()
    got = p.apply_batch_torch(batch, torch.Generator().manual_seed(0))[0].permute(1, 2, 0).numpy()
    assert np.array_equal(ref, got)
    assert np.array_equal(ref, np.flip(np.rot90(img), axis=1))
