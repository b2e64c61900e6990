"""Image ops against independent numpy references, numpy/torch agreement, and seeds."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tui_trainer.augment.image import (
    FILL_MODES,
    INTERPOLATIONS,
    ImageSpec,
    apply_params_numpy,
    apply_params_torch,
    augment_batch_torch,
    augment_numpy,
    sample_params,
)


def _img(h: int, w: int, c: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, c), dtype=np.uint8)


def _apply(img: np.ndarray, **spec) -> np.ndarray:
    return augment_numpy(img, ImageSpec(**spec), np.random.default_rng(0))


def _shift_reference(img: np.ndarray, shift: int, axis: int, fill: str, cval: int = 0) -> np.ndarray:
    """np.roll, then the exposed edge filled by the Keras fill rule (independent of the library)."""
    out = np.roll(img, shift, axis=axis)
    n = img.shape[axis]
    if fill == "wrap" or shift == 0:
        return out
    idx = np.arange(n)
    src = idx - shift  # where each output index reads from
    exposed = (src < 0) | (src >= n)
    if fill == "constant":
        fill_vals = np.full_like(np.take(img, idx[exposed], axis=axis), cval)
    elif fill == "nearest":
        fill_vals = np.take(img, np.clip(src[exposed], 0, n - 1), axis=axis)
    else:  # reflect: d c b a | a b c d | d c b a
        s = src[exposed]
        fill_vals = np.take(img, np.where(s < 0, -s - 1, 2 * n - 1 - s), axis=axis)
    index = [slice(None)] * img.ndim
    index[axis] = idx[exposed]
    out[tuple(index)] = fill_vals
    return out


@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
@pytest.mark.parametrize("fill", FILL_MODES)
@pytest.mark.parametrize("k", [1, 2, 3])
def test_quarter_turns_equal_rot90_counter_clockwise(k: int, fill: str, interpolation: str) -> None:
    img = _img(13, 13)
    out = _apply(img, rotation=(90.0 * k, 90.0 * k), fill_mode=fill, interpolation=interpolation)
    assert np.array_equal(out, np.rot90(img, k))


def test_negative_quarter_turn_is_clockwise() -> None:
    img = _img(8, 8)
    assert np.array_equal(_apply(img, rotation=(-90.0, -90.0)), np.rot90(img, -1))


@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
def test_flips_equal_np_flip(interpolation: str) -> None:
    img = _img(9, 14)
    assert np.array_equal(_apply(img, hflip=True, interpolation=interpolation), np.flip(img, axis=1))
    assert np.array_equal(_apply(img, vflip=True, interpolation=interpolation), np.flip(img, axis=0))
    assert np.array_equal(_apply(img, hflip=True, vflip=True), np.flip(img, axis=(0, 1)))


@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
@pytest.mark.parametrize("fill", FILL_MODES)
@pytest.mark.parametrize("shift", [-5, -1, 1, 3, 7])
def test_integer_shifts_equal_roll_with_fill_rule(shift: int, fill: str, interpolation: str) -> None:
    img = _img(10, 12)
    cval = 77
    kw = {"fill_mode": fill, "interpolation": interpolation, "cval": float(cval)}
    out_x = _apply(img, shift_x=(float(shift),) * 2, **kw)
    assert np.array_equal(out_x, _shift_reference(img, shift, axis=1, fill=fill, cval=cval))
    out_y = _apply(img, shift_y=(float(shift),) * 2, **kw)
    assert np.array_equal(out_y, _shift_reference(img, shift, axis=0, fill=fill, cval=cval))


def test_positive_shift_moves_content_right_and_down() -> None:
    img = np.zeros((5, 5), dtype=np.uint8)
    img[2, 2] = 255
    out = _apply(img, shift_x=(1.0, 1.0), shift_y=(2.0, 2.0), fill_mode="constant")
    assert out[4, 3] == 255 and out.sum() == 255


def test_rotation_direction_matches_scipy_for_a_marker() -> None:
    # A dot right of the centre must go up (counter-clockwise on screen) for +90°.
    img = np.zeros((9, 9), dtype=np.uint8)
    img[4, 8] = 255
    out = _apply(img, rotation=(90.0, 90.0), fill_mode="constant")
    assert out[0, 4] == 255 and out.sum() == 255


@pytest.mark.parametrize(
    "spec",
    [
        {},
        {"zoom_x": (1.0, 1.0)},
        {"rotation": (0.0, 0.0)},
        {"shift_x": (0.0, 0.0)},
        {"rotation": (360.0, 360.0)},
    ],
)
def test_identities(spec: dict) -> None:
    img = _img(11, 7)
    assert np.array_equal(_apply(img, **spec), img)


def test_zoom_two_magnifies_about_the_centre() -> None:
    img = _img(8, 8)
    out = _apply(img, zoom_x=(2.0, 2.0), zoom_y=(2.0, 2.0), interpolation="nearest")
    # output pixel (x, y) samples input ((x − 3.5)/2 + 3.5, …): the central 4×4 block, each pixel twice
    src = np.floor((np.arange(8) - 3.5) / 2 + 3.5 + 0.5).astype(int)
    assert np.array_equal(out, img[src][:, src])


def test_same_seed_same_output_other_seed_other_output() -> None:
    img = _img(32, 32)
    spec = ImageSpec(
        rotation=(-40, 40),
        shift_x_frac=(-0.2, 0.2),
        zoom_keras=(0.8, 1.2),
        hflip_p=0.5,
        brightness=(0.7, 1.3),
    )
    a = augment_numpy(img, spec, np.random.default_rng(5))
    b = augment_numpy(img, spec, np.random.default_rng(5))
    c = augment_numpy(img, spec, np.random.default_rng(6))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_keras_rotation_range_is_uniform_in_plus_minus() -> None:
    rng = np.random.default_rng(0)
    angles = [sample_params(ImageSpec(rotation=(-40, 40)), rng, 8, 8).extra["rotation"] for _ in range(400)]
    assert -40 <= min(angles) < -35 and 35 < max(angles) <= 40


def test_float_image_keeps_dtype_and_grayscale_keeps_shape() -> None:
    f = _img(6, 6).astype(np.float32) / 255
    assert _apply(f, hflip=True).dtype == np.float32
    g = _img(6, 6, 1)[..., 0]
    out = _apply(g, rotation=(90, 90))
    assert out.shape == g.shape and np.array_equal(out, np.rot90(g))


def test_normalisation_returns_float_per_channel() -> None:
    img = np.full((4, 4, 3), 255, dtype=np.uint8)
    out = _apply(img, normalize_mean=(0.5, 0.5, 0.5), normalize_std=(0.25, 0.5, 1.0))
    assert out.dtype == np.float32
    assert np.allclose(out[0, 0], [2.0, 1.0, 0.5])


def test_colour_ops_brightness_and_saturation() -> None:
    img = np.full((4, 4, 3), 100, dtype=np.uint8)
    assert np.all(_apply(img, brightness=(1.5, 1.5)) == 150)
    colour = np.zeros((2, 2, 3), dtype=np.uint8)
    colour[..., 0] = 200
    gray = _apply(colour, saturation=(0.0, 0.0))
    assert np.all(gray[..., 0] == gray[..., 1]) and np.all(gray[..., 1] == gray[..., 2])


def test_hue_full_turn_is_identity_and_third_turn_rotates_channels() -> None:
    img = np.zeros((2, 2, 3), dtype=np.uint8)
    img[..., 0] = 200  # pure red
    assert np.array_equal(_apply(img, hue=(1.0, 1.0)), img)
    out = _apply(img, hue=(1 / 3, 1 / 3))
    assert np.array_equal(out[0, 0], [0, 200, 0])  # red → green


def test_random_erasing_zeroes_a_box() -> None:
    img = np.full((20, 20, 3), 200, dtype=np.uint8)
    out = _apply(img, erase_p=1.0, erase_scale=(0.1, 0.1), erase_ratio=(1.0, 1.0))
    erased = np.all(out == 0, axis=2)
    assert erased.sum() == 36  # round(sqrt(40)) = 6 → a 6×6 box
    assert np.all(out[~erased] == 200)


def test_noise_has_the_requested_std() -> None:
    img = np.full((64, 64, 3), 0.5, dtype=np.float32)
    out = _apply(img, noise_std=(0.05, 0.05))
    assert abs(float((out - img).std()) - 0.05) < 0.003


def test_blur_keeps_constant_images_and_smooths_an_impulse() -> None:
    flat = np.full((9, 9, 3), 80, dtype=np.uint8)
    assert np.array_equal(_apply(flat, blur_sigma=(1.5, 1.5)), flat)
    impulse = np.zeros((9, 9, 1), dtype=np.float32)
    impulse[4, 4] = 1
    out = _apply(impulse, blur_sigma=(1.0, 1.0))
    assert out[4, 4] < 0.5 and abs(float(out.sum()) - 1.0) < 1e-4


def _batch(img: np.ndarray, n: int) -> torch.Tensor:
    return torch.from_numpy(np.repeat(img[None], n, axis=0)).permute(0, 3, 1, 2).contiguous()


@pytest.mark.parametrize("fill", FILL_MODES)
@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
def test_numpy_and_torch_agree_on_random_geometry_and_colour(fill: str, interpolation: str) -> None:
    img = _img(15, 21, seed=3)
    spec = ImageSpec(
        rotation=(-40, 40),
        shear=(-15, 15),
        shift_x_frac=(-0.2, 0.2),
        shift_y=(-3, 3),
        zoom_keras=(0.7, 1.3),
        hflip_p=0.5,
        vflip_p=0.5,
        fill_mode=fill,
        cval=30,
        interpolation=interpolation,
        crop_scale=(0.5, 1.0),
        brightness=(0.7, 1.3),
        contrast=(0.6, 1.4),
        saturation=(0.5, 1.5),
        hue=(-0.2, 0.2),
        blur_sigma=(0.0, 1.2),
        erase_p=0.5,
    )
    rng = np.random.default_rng(1)
    params = [sample_params(spec, rng, 15, 21) for _ in range(20)]  # > one CPU chunk
    ref = np.stack([apply_params_numpy(img, p) for p in params])
    got = apply_params_torch(_batch(img, 20), params).permute(0, 2, 3, 1).numpy()
    diff = np.abs(ref.astype(int) - got.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.002


def test_apply_batch_torch_is_seeded_by_the_generator() -> None:
    img = _img(16, 16)
    spec = ImageSpec(rotation=(-30, 30), noise_std=(0.05, 0.05))
    a = augment_batch_torch(_batch(img, 4), spec, torch.Generator().manual_seed(1))
    b = augment_batch_torch(_batch(img, 4), spec, torch.Generator().manual_seed(1))
    c = augment_batch_torch(_batch(img, 4), spec, torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.dtype == torch.uint8 and a.shape == (4, 3, 16, 16)


def test_torch_exact_ops_match_numpy_references() -> None:
    img = _img(12, 12)
    gen = torch.Generator().manual_seed(0)
    out = augment_batch_torch(_batch(img, 2), ImageSpec(rotation=(90, 90)), gen).permute(0, 2, 3, 1).numpy()
    assert np.array_equal(out[0], np.rot90(img)) and np.array_equal(out[1], np.rot90(img))
    out = (
        augment_batch_torch(_batch(img, 1), ImageSpec(shift_x=(4, 4), fill_mode="wrap"), gen)
        .permute(0, 2, 3, 1)
        .numpy()
    )
    assert np.array_equal(out[0], np.roll(img, 4, axis=1))


@settings(max_examples=25, deadline=None)
@given(
    img=arrays(np.uint8, st.tuples(st.integers(1, 12), st.integers(1, 12), st.sampled_from([1, 3, 4]))),
    k=st.integers(0, 3),
    flip=st.booleans(),
)
def test_any_size_and_channels_rot90_and_flip_hold(img: np.ndarray, k: int, flip: bool) -> None:
    h, w = img.shape[:2]
    out = _apply(img, hflip=flip)
    assert np.array_equal(out, np.flip(img, axis=1) if flip else img)
    if h == w:
        assert np.array_equal(_apply(img, rotation=(90.0 * k,) * 2), np.rot90(img, k))


@settings(max_examples=20, deadline=None)
@given(
    img=arrays(np.uint8, st.tuples(st.integers(2, 10), st.integers(2, 10), st.sampled_from([1, 3]))),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_size_numpy_and_torch_agree(img: np.ndarray, seed: int) -> None:
    h, w = img.shape[:2]
    spec = ImageSpec(
        rotation=(-180, 180),
        zoom_keras=(0.5, 1.5),
        fill_mode="reflect",
        brightness=(0.5, 1.5),
        contrast=(0.5, 1.5),
    )
    params = [sample_params(spec, np.random.default_rng(seed), h, w)]
    ref = apply_params_numpy(img, params[0])
    got = apply_params_torch(_batch(img, 1), params).permute(0, 2, 3, 1).numpy()[0]
    assert np.abs(ref.astype(int) - got.astype(int)).max() <= 1


def test_colour_and_noise_leave_alpha_alone_in_both_paths() -> None:
    img = _img(9, 9, 4)
    spec = ImageSpec(brightness=(0.5, 0.5), hue=(0.2, 0.2), noise_std=(0.1, 0.1))
    out = augment_numpy(img, spec, np.random.default_rng(0))
    assert np.array_equal(out[..., 3], img[..., 3]) and not np.array_equal(out[..., :3], img[..., :3])
    batch = _batch(img, 10)
    got = augment_batch_torch(batch, spec, torch.Generator().manual_seed(0))
    assert torch.equal(got[:, 3], batch[:, 3])


def test_positive_shear_moves_rows_below_the_centre_left() -> None:
    img = np.zeros((9, 9), dtype=np.uint8)
    img[6, 4] = 255  # two rows below the centre (4, 4)
    out = _apply(img, shear=(45.0, 45.0), fill_mode="constant", interpolation="nearest")
    assert out[6, 2] == 255 and out.sum() == 255


def test_random_crop_is_a_window_resized_back() -> None:
    img = _img(8, 8)
    out = _apply(img, crop_scale=(0.25, 0.25), crop_ratio=(1.0, 1.0), interpolation="nearest")
    windows = [
        np.repeat(np.repeat(img[t : t + 4, left : left + 4], 2, axis=0), 2, axis=1)
        for t in range(5)
        for left in range(5)
    ]
    assert any(np.array_equal(out, w) for w in windows)
