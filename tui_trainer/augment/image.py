"""Image augmentation: one affine path for geometry plus colour, noise, blur, erasing and normalisation.

Every random choice is drawn once into an `ImageParams` record by `sample_params`; the numpy
(H×W×C) and torch (N×C×H×W) implementations then apply the same record with the same arithmetic,
so the preview (numpy) and training (torch, on the tensor's device) produce the same pixels.

Conventions (those of scipy.ndimage.rotate, PIL and Keras' ImageDataGenerator):
- coordinates are (x = column, y = row), the origin is the top-left pixel centre;
- positive angles rotate counter-clockwise about the centre ((w−1)/2, (h−1)/2);
- a positive x shift moves content right, a positive y shift moves it down;
- fill modes say what appears where the transform exposes pixels outside the input, as Keras does:
  `constant` (kkkk|abcd|kkkk with k = cval), `nearest` (aaaa|abcd|dddd), `reflect` (dcba|abcd|dcba),
  `wrap` (abcd|abcd|abcd).
Geometry is sampled by an exact inverse index mapping: an exact multiple of 90° uses exact 0/±1
cosines and integer shifts stay integers, so rot90, flips and rolls come out bit-for-bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported inside the functions that need it
    import torch

FILL_MODES: tuple[str, ...] = ("nearest", "constant", "reflect", "wrap")
INTERPOLATIONS: tuple[str, ...] = ("bilinear", "nearest")
Range = tuple[float, float]


@dataclass(frozen=True)
class ImageSpec:
    """What to do to an image; every random quantity is a closed range [lo, hi] (lo == hi: exact).

    Geometry (degrees and pixels): rotation, shear, shift_x/shift_y (pixels) plus shift_*_frac (a
    fraction of the width/height, Keras' float shift range < 1) plus shift_*_int (a whole number of
    pixels drawn from [−k, k], Keras' int shift range), zoom_x/zoom_y (content magnification, 2 = twice as large),
    zoom_keras (Keras' zoom_range: a coordinate scale z, so the content scale is 1/z; drawn per axis),
    hflip/vflip (always), hflip_p/vflip_p (probability), fill_mode, cval, interpolation.
    Crop: crop_scale (area fraction) and crop_ratio (aspect w/h) of a random crop resized back to the
    input size; None = no crop. Colour (torchvision ColorJitter meanings): brightness/contrast/
    saturation factors, hue offset in turns. noise_std: Gaussian noise std on the [0, 1] scale.
    blur_sigma: Gaussian blur sigma in pixels. erase_p/erase_scale/erase_ratio/erase_value: random
    erasing. normalize_mean/normalize_std: per-channel (x − mean) / std on [0, 1] values; output float.
    """

    rotation: Range = (0.0, 0.0)
    shear: Range = (0.0, 0.0)
    shift_x: Range = (0.0, 0.0)
    shift_y: Range = (0.0, 0.0)
    shift_x_frac: Range = (0.0, 0.0)
    shift_y_frac: Range = (0.0, 0.0)
    shift_x_int: int = 0
    shift_y_int: int = 0
    zoom_x: Range = (1.0, 1.0)
    zoom_y: Range = (1.0, 1.0)
    zoom_keras: Range = (1.0, 1.0)
    hflip: bool = False
    vflip: bool = False
    hflip_p: float = 0.0
    vflip_p: float = 0.0
    fill_mode: str = "nearest"
    cval: float = 0.0
    interpolation: str = "bilinear"
    crop_scale: Range | None = None
    crop_ratio: Range = (3 / 4, 4 / 3)
    brightness: Range = (1.0, 1.0)
    contrast: Range = (1.0, 1.0)
    saturation: Range = (1.0, 1.0)
    hue: Range = (0.0, 0.0)
    noise_std: Range = (0.0, 0.0)
    blur_sigma: Range = (0.0, 0.0)
    erase_p: float = 0.0
    erase_scale: Range = (0.02, 0.33)
    erase_ratio: Range = (0.3, 3.3)
    erase_value: float = 0.0
    normalize_mean: tuple[float, ...] | None = None
    normalize_std: tuple[float, ...] | None = None


@dataclass(frozen=True)
class ImageParams:
    """The concrete values drawn for one image: what `apply_params_*` apply, with no randomness left.

    `inverse` maps an output pixel (x, y, 1) to the input position it samples (3×3, float64).
    """

    inverse: np.ndarray
    is_identity: bool
    fill_mode: str
    cval: float
    interpolation: str
    brightness: float = 1.0
    contrast: float = 1.0
    saturation: float = 1.0
    hue: float = 0.0
    noise_std: float = 0.0
    blur_sigma: float = 0.0
    erase_box: tuple[int, int, int, int] | None = None  # (top, left, height, width)
    erase_value: float = 0.0
    normalize_mean: tuple[float, ...] | None = None
    normalize_std: tuple[float, ...] | None = None
    noise_seed: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def is_index_mapping(self) -> bool:
        """True when every output pixel is a copy of one input pixel (integral inverse map, no value ops,
        no constant fill), so the op can run on palette indices."""
        return (
            bool(np.array_equal(self.inverse, np.round(self.inverse)))
            and self.fill_mode != "constant"
            and not self.has_colour
            and self.blur_sigma == 0
            and self.noise_std == 0
            and self.erase_box is None
            and self.normalize_mean is None
        )

    @property
    def has_colour(self) -> bool:
        return (self.brightness, self.contrast, self.saturation, self.hue) != (1.0, 1.0, 1.0, 0.0)


# ----- the affine matrix ---------------------------------------------------------------------------


def _cos_sin(degrees: float) -> tuple[float, float]:
    """cos and sin of an angle, exact (0, ±1) for multiples of 90° so quarter turns stay exact."""
    if float(degrees) % 90.0 == 0.0:
        quarter = int(round(degrees / 90.0)) % 4
        return ((1.0, 0.0), (0.0, 1.0), (-1.0, 0.0), (0.0, -1.0))[quarter]
    rad = math.radians(degrees)
    return math.cos(rad), math.sin(rad)


def forward_matrix(
    h: int,
    w: int,
    *,
    rotation: float = 0.0,
    shear: float = 0.0,
    shift_x: float = 0.0,
    shift_y: float = 0.0,
    zoom_x: float = 1.0,
    zoom_y: float = 1.0,
    hflip: bool = False,
    vflip: bool = False,
    crop: tuple[float, float, float, float] | None = None,
) -> np.ndarray:
    """The 3×3 matrix taking an input pixel (x, y, 1) to where it lands in the output.

    Order: crop-and-resize, then zoom, shear, rotation about the centre, then the shift, then flips
    (as Keras flips after its affine transform). Shear is horizontal: a point d pixels below the
    centre moves tan(shear)·d to the left (so positive shear, like positive rotation, turns the
    vertical axis counter-clockwise). `crop` = (left, top, width, height) in input pixels.
    """
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    m = np.eye(3)
    if crop is not None:
        left, top, cw, ch = crop
        sx, sy = w / cw, h / ch
        # pixel centre mapping: input x → (x − left + 0.5)·sx − 0.5
        m = (
            np.array([[sx, 0.0, (0.5 - left) * sx - 0.5], [0.0, sy, (0.5 - top) * sy - 0.5], [0.0, 0.0, 1.0]])
            @ m
        )
    to_origin = np.array([[1.0, 0.0, -cx], [0.0, 1.0, -cy], [0.0, 0.0, 1.0]])
    back = np.array([[1.0, 0.0, cx], [0.0, 1.0, cy], [0.0, 0.0, 1.0]])
    zoom = np.diag([float(zoom_x), float(zoom_y), 1.0])
    shear_m = np.array(
        [[1.0, -math.tan(math.radians(shear)) if shear else 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    )
    c, s = _cos_sin(rotation)
    # y points down, so a counter-clockwise turn on screen is x' = c·x + s·y, y' = −s·x + c·y.
    rot = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
    centred = back @ rot @ shear_m @ zoom @ to_origin
    m = centred @ m
    m = np.array([[1.0, 0.0, float(shift_x)], [0.0, 1.0, float(shift_y)], [0.0, 0.0, 1.0]]) @ m
    if hflip:
        m = np.array([[-1.0, 0.0, w - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]) @ m
    if vflip:
        m = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, h - 1.0], [0.0, 0.0, 1.0]]) @ m
    return m


def invert_affine(m: np.ndarray) -> np.ndarray:
    """Inverse of an affine 3×3 by the adjugate: exact when the determinant is ±1 and entries are small."""
    a, b, tx = m[0]
    c, d, ty = m[1]
    det = a * d - b * c
    if det == 0:
        raise ValueError("the affine transform is singular (a zoom of 0?)")
    ia, ib, ic, id_ = d / det, -b / det, -c / det, a / det
    if det in (1.0, -1.0):
        ia, ib, ic, id_ = d * det, -b * det, -c * det, a * det
    return np.array([[ia, ib, -(ia * tx + ib * ty)], [ic, id_, -(ic * tx + id_ * ty)], [0.0, 0.0, 1.0]])


# ----- sampling ------------------------------------------------------------------------------------


def _uniform(rng: np.random.Generator, r: Range) -> float:
    lo, hi = float(r[0]), float(r[1])
    if lo == hi:
        return lo
    return float(rng.uniform(lo, hi))


def sample_params(spec: ImageSpec, rng: np.random.Generator, h: int, w: int) -> ImageParams:
    """Draw every random value for one h×w image. The draw order is fixed, so a seed fixes the result."""
    crop = None
    if spec.crop_scale is not None:
        crop = _sample_box(rng, h, w, spec.crop_scale, spec.crop_ratio, fallback_full=True)
        top, left, ch, cw = crop
        crop = (float(left), float(top), float(cw), float(ch))
    rotation = _uniform(rng, spec.rotation)
    shear = _uniform(rng, spec.shear)
    sx = _uniform(rng, spec.shift_x) + _uniform(rng, spec.shift_x_frac) * w
    sy = _uniform(rng, spec.shift_y) + _uniform(rng, spec.shift_y_frac) * h
    if spec.shift_x_int:
        sx += float(rng.integers(-spec.shift_x_int, spec.shift_x_int + 1))
    if spec.shift_y_int:
        sy += float(rng.integers(-spec.shift_y_int, spec.shift_y_int + 1))
    kx, ky = _uniform(rng, spec.zoom_keras), _uniform(rng, spec.zoom_keras)
    zx = _uniform(rng, spec.zoom_x) / kx
    zy = _uniform(rng, spec.zoom_y) / ky
    hflip = spec.hflip ^ (spec.hflip_p > 0 and bool(rng.random() < spec.hflip_p))
    vflip = spec.vflip ^ (spec.vflip_p > 0 and bool(rng.random() < spec.vflip_p))
    fwd = forward_matrix(
        h,
        w,
        rotation=rotation,
        shear=shear,
        shift_x=sx,
        shift_y=sy,
        zoom_x=zx,
        zoom_y=zy,
        hflip=hflip,
        vflip=vflip,
        crop=crop,
    )
    inverse = invert_affine(fwd)
    brightness = _uniform(rng, spec.brightness)
    contrast = _uniform(rng, spec.contrast)
    saturation = _uniform(rng, spec.saturation)
    hue = _uniform(rng, spec.hue)
    blur = _uniform(rng, spec.blur_sigma)
    noise = _uniform(rng, spec.noise_std)
    erase_box = None
    if spec.erase_p > 0 and rng.random() < spec.erase_p:
        erase_box = _sample_box(rng, h, w, spec.erase_scale, spec.erase_ratio, fallback_full=False)
    noise_seed = int(rng.integers(0, 2**63 - 1))
    return ImageParams(
        inverse=inverse,
        is_identity=bool(np.array_equal(inverse, np.eye(3))),
        fill_mode=spec.fill_mode,
        cval=float(spec.cval),
        interpolation=spec.interpolation,
        brightness=brightness,
        contrast=contrast,
        saturation=saturation,
        hue=hue,
        noise_std=noise,
        blur_sigma=blur,
        erase_box=erase_box,
        erase_value=float(spec.erase_value),
        normalize_mean=spec.normalize_mean,
        normalize_std=spec.normalize_std,
        noise_seed=noise_seed,
        extra={
            "rotation": rotation,
            "shear": shear,
            "shift": (sx, sy),
            "zoom": (zx, zy),
            "hflip": hflip,
            "vflip": vflip,
        },
    )


def _sample_box(
    rng: np.random.Generator, h: int, w: int, scale: Range, ratio: Range, *, fallback_full: bool
) -> tuple[int, int, int, int] | None:
    """A (top, left, height, width) box of area fraction in `scale`, aspect w/h in `ratio` (torchvision's rule)."""
    area = h * w
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    for _ in range(10):
        target = area * _uniform(rng, scale)
        aspect = math.exp(_uniform(rng, (log_lo, log_hi)))
        bw = int(round(math.sqrt(target * aspect)))
        bh = int(round(math.sqrt(target / aspect)))
        if 0 < bw <= w and 0 < bh <= h:
            top = int(rng.integers(0, h - bh + 1))
            left = int(rng.integers(0, w - bw + 1))
            return top, left, bh, bw
    if fallback_full:
        return 0, 0, h, w
    return None


# ----- numpy -----------------------------------------------------------------------------------------


def _fill_index_np(idx: np.ndarray, n: int, mode: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Map integer indices outside [0, n) by the fill mode; also return the validity mask for `constant`."""
    if mode == "nearest":
        return np.clip(idx, 0, n - 1), None
    if mode == "wrap":
        return np.mod(idx, n), None
    if mode == "reflect":
        m = np.mod(idx, 2 * n)
        return np.where(m >= n, 2 * n - 1 - m, m), None
    valid = (idx >= 0) & (idx < n)
    return np.clip(idx, 0, n - 1), valid


def _source_coords_np(
    inverse: np.ndarray, h: int, w: int, rows: tuple[int, int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    inv = inverse.astype(np.float32)
    xs = np.arange(w, dtype=np.float32)[None, :]
    ys = np.arange(*(rows or (0, h)), dtype=np.float32)[:, None]
    sx = inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2]
    sy = inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2]
    # Far outside the image every fill rule has long since decided; the clip keeps the int64 casts defined.
    return np.clip(sx, -_COORD_LIMIT, _COORD_LIMIT), np.clip(sy, -_COORD_LIMIT, _COORD_LIMIT)


_COORD_LIMIT = np.float32(2.0**30)


BAND_PIXELS = (
    1 << 18
)  # output pixels resampled at a time: the gather temporaries stay ~50 MB at any image size


def warp_numpy(img: np.ndarray, p: ImageParams) -> np.ndarray:
    """Resample an H×W×C float32 image through `p.inverse` with the fill mode; returns float32.

    The output is computed in bands of rows, so the index and weight arrays (~150 bytes a pixel) never
    exist for the whole image at once; a band's result is the same as the whole image's rows.
    """
    h, w = img.shape[:2]
    flat = np.ascontiguousarray(img, dtype=np.float32).reshape(h * w, img.shape[2])
    band = max(1, BAND_PIXELS // max(1, w))
    if band >= h:
        return _warp_rows(flat, h, w, p, (0, h))
    out = np.empty((h, w, img.shape[2]), dtype=np.float32)
    for top in range(0, h, band):
        bottom = min(h, top + band)
        out[top:bottom] = _warp_rows(flat, h, w, p, (top, bottom))
    return out


def _warp_rows(flat: np.ndarray, h: int, w: int, p: ImageParams, rows: tuple[int, int]) -> np.ndarray:
    """Output rows [rows[0], rows[1]) of the warp of the H·W×C image `flat`."""
    sx, sy = _source_coords_np(p.inverse, h, w, rows)
    if p.interpolation == "nearest":
        ix = np.floor(sx + np.float32(0.5)).astype(np.int64)
        iy = np.floor(sy + np.float32(0.5)).astype(np.int64)
        ix, vx = _fill_index_np(ix, w, p.fill_mode)
        iy, vy = _fill_index_np(iy, h, p.fill_mode)
        out = np.take(flat, iy * w + ix, axis=0)
        if vx is not None:
            out = np.where((vx & vy)[..., None], out, np.float32(p.cval))
        return out.astype(np.float32, copy=False)
    x0f = np.floor(sx)
    y0f = np.floor(sy)
    fx = (sx - x0f)[..., None]
    fy = (sy - y0f)[..., None]
    x0 = x0f.astype(np.int64)
    y0 = y0f.astype(np.int64)
    # One flat gather per corner (np.take on a contiguous H·W×C view) is ~3× faster than 2-D fancy indexing.
    ix0, vx0 = _fill_index_np(x0, w, p.fill_mode)
    ix1, vx1 = _fill_index_np(x0 + 1, w, p.fill_mode)
    iy0, vy0 = _fill_index_np(y0, h, p.fill_mode)
    iy1, vy1 = _fill_index_np(y0 + 1, h, p.fill_mode)
    r0, r1 = iy0 * w, iy1 * w
    corners = []
    for rows, vy, cols, vx in (
        (r0, vy0, ix0, vx0),
        (r0, vy0, ix1, vx1),
        (r1, vy1, ix0, vx0),
        (r1, vy1, ix1, vx1),
    ):
        v = np.take(flat, rows + cols, axis=0)
        if vx is not None:
            v = np.where((vx & vy)[..., None], v, np.float32(p.cval))
        corners.append(v)
    one = np.float32(1.0)
    gx = one - fx
    top = corners[0] * gx + corners[1] * fx
    bottom = corners[2] * gx + corners[3] * fx
    return (top * (one - fy) + bottom * fy).astype(np.float32, copy=False)


def _gray_np(x: np.ndarray) -> np.ndarray:
    return (np.float32(0.299) * x[..., 0] + np.float32(0.587) * x[..., 1] + np.float32(0.114) * x[..., 2])[
        ..., None
    ]


def _rgb_to_hsv_np(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    maxc = np.maximum(np.maximum(r, g), b)
    minc = np.minimum(np.minimum(r, g), b)
    delta = maxc - minc
    safe_max = np.where(maxc > 0, maxc, np.float32(1.0))
    s = np.where(maxc > 0, delta / safe_max, np.float32(0.0))
    safe_d = np.where(delta > 0, delta, np.float32(1.0))
    rc = (maxc - r) / safe_d
    gc = (maxc - g) / safe_d
    bc = (maxc - b) / safe_d
    hh = np.where(
        maxc == r, bc - gc, np.where(maxc == g, np.float32(2.0) + rc - bc, np.float32(4.0) + gc - rc)
    )
    hh = np.where(delta > 0, hh, np.float32(0.0))
    hh = np.mod(hh / np.float32(6.0), np.float32(1.0))
    return hh, s, maxc


def _hsv_to_rgb_np(hh: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    h6 = hh * np.float32(6.0)
    i = np.floor(h6)
    f = h6 - i
    i = np.mod(i, 6).astype(np.int64)
    one = np.float32(1.0)
    p = v * (one - s)
    q = v * (one - s * f)
    t = v * (one - s * (one - f))
    choices_r = [v, q, p, p, t, v]
    choices_g = [t, v, v, q, p, p]
    choices_b = [p, p, t, v, v, q]
    r = np.choose(i, choices_r)
    g = np.choose(i, choices_g)
    b = np.choose(i, choices_b)
    return np.stack([r, g, b], axis=-1)


def _gaussian_kernel(sigma: float) -> np.ndarray:
    radius = max(1, int(math.ceil(3.0 * sigma)))
    xs = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (xs / sigma) ** 2)
    return (k / k.sum()).astype(np.float32)


def _blur_np(x: np.ndarray, sigma: float) -> np.ndarray:
    k = _gaussian_kernel(sigma)
    r = len(k) // 2
    h, w = x.shape[:2]
    padded = (
        np.pad(x, ((r, r), (0, 0), (0, 0)), mode="symmetric")
        if r < h
        else np.pad(x, ((r, r), (0, 0), (0, 0)), mode="edge")
    )
    acc = np.zeros_like(x)
    for i, kv in enumerate(k):
        acc = acc + kv * padded[i : i + h]
    padded = (
        np.pad(acc, ((0, 0), (r, r), (0, 0)), mode="symmetric")
        if r < w
        else np.pad(acc, ((0, 0), (r, r), (0, 0)), mode="edge")
    )
    out = np.zeros_like(x)
    for i, kv in enumerate(k):
        out = out + kv * padded[:, i : i + w]
    return out


def apply_params_numpy(image: np.ndarray, p: ImageParams) -> np.ndarray:
    """Apply drawn parameters to one H×W or H×W×C image (uint8 0–255, uint16 0–65535 or float 0–1).

    Returns the same shape and dtype, except that normalisation returns float32. `cval` is in the
    image's own units (0–255 for uint8). With 2 or 4 channels the last is alpha, which colour and
    noise leave alone.
    """
    img = np.asarray(image)
    squeeze = img.ndim == 2
    if squeeze:
        img = img[..., None]
    if img.ndim != 3:
        raise ValueError(f"expected an H×W or H×W×C image, got shape {image.shape}")
    if np.issubdtype(img.dtype, np.unsignedinteger):
        scale = float(np.iinfo(img.dtype).max)
    elif np.issubdtype(img.dtype, np.floating):
        scale = 0.0
    else:
        raise ValueError(f"expected an unsigned-integer or float image, got {img.dtype}")
    x = img.astype(np.float32) / np.float32(scale) if scale else img.astype(np.float32)
    if not p.is_identity:
        cval = np.float32(p.cval / scale) if scale else np.float32(p.cval)
        x = warp_numpy(x, _with_cval(p, float(cval)))
    # Colour and noise leave an alpha channel alone: transparency is not a colour.
    k = x.shape[2] - 1 if x.shape[2] in (2, 4) else x.shape[2]
    if p.has_colour:
        x = (
            np.concatenate([_colour_np(x[..., :k], p), x[..., k:]], axis=-1)
            if k < x.shape[2]
            else _colour_np(x, p)
        )
    if p.blur_sigma > 0:
        x = _blur_np(x, p.blur_sigma)
    if p.noise_std > 0:
        noise = np.random.default_rng(p.noise_seed).standard_normal((*x.shape[:2], k), dtype=np.float32)
        x = x.copy()
        x[..., :k] = np.clip(x[..., :k] + np.float32(p.noise_std) * noise, 0.0, 1.0)
    if p.erase_box is not None:
        top, left, bh, bw = p.erase_box
        x = x.copy()
        x[top : top + bh, left : left + bw] = np.float32(p.erase_value)
    if p.normalize_mean is not None:
        mean = _per_channel(p.normalize_mean, x.shape[2])
        std = _per_channel(p.normalize_std or (1.0,), x.shape[2])
        x = (x - mean) / std
        return x[..., 0] if squeeze else x
    if scale:
        out = np.clip(np.floor(x * np.float32(scale) + np.float32(0.5)), 0, scale).astype(img.dtype)
    else:
        out = x.astype(img.dtype, copy=False)
    return out[..., 0] if squeeze else out


def _with_cval(p: ImageParams, cval: float) -> ImageParams:
    from dataclasses import replace

    return replace(p, cval=cval)


def _per_channel(values: tuple[float, ...], c: int) -> np.ndarray:
    v = np.asarray(values, dtype=np.float32)
    if v.size == 1:
        v = np.repeat(v, c)
    if v.size != c:
        raise ValueError(f"normalisation has {v.size} values for an image with {c} channels")
    return v


def _colour_np(x: np.ndarray, p: ImageParams) -> np.ndarray:
    rgb = x.shape[2] >= 3
    one = np.float32(1.0)
    if p.brightness != 1.0:
        x = np.clip(x * np.float32(p.brightness), 0.0, 1.0)
    if p.contrast != 1.0:
        gray = _gray_np(x) if rgb else x
        mean = np.float32(gray.mean(dtype=np.float64))
        x = np.clip(np.float32(p.contrast) * x + (one - np.float32(p.contrast)) * mean, 0.0, 1.0)
    if p.saturation != 1.0 and rgb:
        gray = _gray_np(x)
        x = np.clip(np.float32(p.saturation) * x + (one - np.float32(p.saturation)) * gray, 0.0, 1.0)
    if p.hue != 0.0 and rgb:
        hh, s, v = _rgb_to_hsv_np(x[..., :3])
        hh = np.mod(hh + np.float32(p.hue), one)
        rgb3 = _hsv_to_rgb_np(hh, s, v)
        x = np.concatenate([rgb3, x[..., 3:]], axis=-1) if x.shape[2] > 3 else rgb3
    return x.astype(np.float32, copy=False)


def augment_numpy(image: np.ndarray, spec: ImageSpec, rng: np.random.Generator) -> np.ndarray:
    """Draw parameters from `rng` and apply them: the preview's (and the CLI's) one-image path."""
    arr = np.asarray(image)
    return apply_params_numpy(arr, sample_params(spec, rng, arr.shape[0], arr.shape[1]))


# ----- torch (image_torch.py; imported on first use so the preview never pays for torch) ------------------


def apply_params_torch(
    images: torch.Tensor, params: list[ImageParams], generator: torch.Generator | None = None
):
    """Apply one drawn parameter record per image to an N×C×H×W batch on its device (see `image_torch`)."""
    from tui_trainer.augment import image_torch

    return image_torch.apply_params_torch(images, params, generator)


def augment_batch_torch(images: torch.Tensor, spec: ImageSpec, generator: torch.Generator) -> torch.Tensor:
    """Augment an N×C×H×W batch: parameters drawn from `generator` (one seed), pixels on the batch's device."""
    from tui_trainer.augment import image_torch

    return image_torch.augment_batch_torch(images, spec, generator)
