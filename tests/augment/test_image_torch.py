"""The batch path's fast lanes (geometry-only uint8 on 0–255, uint8 gathers for index mappings, the broadcast
affine grid) give what the numpy reference and torch's own affine_grid give."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tui_trainer.augment.image import ImageSpec, apply_params_numpy, sample_params
from tui_trainer.augment.image_torch import affine_grid, apply_params_torch


def _batch_of(images: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()


def test_affine_grid_equals_torchs_own() -> None:
    theta = torch.randn(6, 2, 3, generator=torch.Generator().manual_seed(0))
    for h, w in ((1, 1), (7, 13), (32, 24)):
        ref = F.affine_grid(theta, [6, 3, h, w], align_corners=False)
        assert torch.allclose(affine_grid(theta, h, w), ref, atol=2e-6)


@pytest.mark.parametrize("fill", ["nearest", "constant", "reflect", "wrap"])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_geometry_only_uint8_batches_match_numpy(fill: str, interpolation: str) -> None:
    rng = np.random.default_rng(5)
    images = [rng.integers(0, 256, (19, 23, 3), dtype=np.uint8) for _ in range(20)]  # > one CPU chunk
    spec = ImageSpec(
        rotation=(-40, 40),
        shear=(-10, 10),
        shift_x_frac=(-0.2, 0.2),
        zoom_keras=(0.8, 1.2),
        hflip_p=0.5,
        fill_mode=fill,
        cval=77,
        interpolation=interpolation,
    )
    params = [sample_params(spec, rng, 19, 23) for _ in images]
    ref = np.stack([apply_params_numpy(img, p) for img, p in zip(images, params, strict=True)])
    got = apply_params_torch(_batch_of(images), params)
    assert got.dtype == torch.uint8
    diff = np.abs(ref.astype(int) - got.permute(0, 2, 3, 1).numpy().astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.002


def test_index_mappings_stay_exact_uint8() -> None:
    rng = np.random.default_rng(2)
    images = [rng.integers(0, 256, (16, 16, 3), dtype=np.uint8) for _ in range(12)]
    spec = ImageSpec(rotation=(90, 90), hflip_p=0.5, shift_x=(3, 3), fill_mode="wrap")
    params = [sample_params(spec, rng, 16, 16) for _ in images]
    assert all(p.is_index_mapping for p in params)
    got = apply_params_torch(_batch_of(images), params).permute(0, 2, 3, 1).numpy()
    for img, p, out in zip(images, params, got, strict=True):
        assert np.array_equal(out, apply_params_numpy(img, p))


def test_identity_batch_is_a_copy() -> None:
    batch = torch.randint(0, 256, (3, 3, 8, 8), dtype=torch.uint8)
    params = [sample_params(ImageSpec(), np.random.default_rng(0), 8, 8) for _ in range(3)]
    out = apply_params_torch(batch, params)
    assert torch.equal(out, batch) and out.data_ptr() != batch.data_ptr()


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_batched_result_equals_the_per_image_path(interpolation: str) -> None:
    """Issue 16's op set through the batch path equals each image through the path on its own."""
    rng = np.random.default_rng(11)
    images = [rng.integers(0, 256, (3, 40, 48), dtype=np.uint8) for _ in range(21)]  # > one CPU chunk
    spec = ImageSpec(
        rotation=(-40, 40),
        shear=(-10, 10),
        shift_x_frac=(-0.2, 0.2),
        shift_y_frac=(-0.2, 0.2),
        zoom_keras=(0.8, 1.2),
        hflip_p=0.5,
        fill_mode="nearest",
        interpolation=interpolation,
    )
    params = [sample_params(spec, rng, 40, 48) for _ in images]
    batch = torch.from_numpy(np.stack(images))
    got = apply_params_torch(batch, params)
    alone = torch.cat([apply_params_torch(batch[i : i + 1], [p]) for i, p in enumerate(params)])
    assert got.dtype == torch.uint8 and got.shape == batch.shape
    diff = (got.int() - alone.int()).abs()
    assert diff.max() <= 1 and (diff > 0).float().mean() < 1e-3
    # and as float 0-1 input: the same pixels to float rounding
    floats = batch.float() / 255.0
    got_f = apply_params_torch(floats, params)
    alone_f = torch.cat([apply_params_torch(floats[i : i + 1], [p]) for i, p in enumerate(params)])
    assert got_f.dtype == torch.float32 and torch.allclose(got_f, alone_f, atol=1e-5)


def test_nearest_batches_round_half_pixel_shifts_as_numpy_does() -> None:
    """A half-pixel shift with a hair of rotation puts every source position next to a rounding tie."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    for shift in (0.5, 1.5, -0.5):
        spec = ImageSpec(
            shift_x=(shift, shift),
            shift_y=(shift, shift),
            rotation=(1e-4, 1e-4),
            fill_mode="nearest",
            interpolation="nearest",
        )
        params = [sample_params(spec, rng, 32, 32) for _ in range(3)]
        got = apply_params_torch(_batch_of([img] * 3), params).permute(0, 2, 3, 1).numpy()
        for out, p in zip(got, params, strict=True):
            assert np.array_equal(out, apply_params_numpy(img, p))
