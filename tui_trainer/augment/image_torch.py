"""The torch twin of `image.py`: the same drawn `ImageParams` applied to an N×C×H×W batch on its own device.

Geometry is one affine map per image, composed in `sample_params` (crop, zoom, shear, rotation, shift and
flips in one 3×3 matrix), so a batch costs one grid construction and one `grid_sample`, with no
intermediate image per op. uint8 stays uint8 where it can: a batch whose every map is an index mapping
(quarter turns, flips, whole-pixel shifts) is gathered as uint8 without a float copy, and geometry-only
uint8 batches are resampled on the 0–255 scale, skipping the /255 and ×255 passes. Works on CPU and CUDA.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tui_trainer.augment.image import ImageParams, ImageSpec, _gaussian_kernel, _per_channel, sample_params

if TYPE_CHECKING:
    import torch


def _fill_index_torch(idx: torch.Tensor, n: int, mode: str):
    import torch

    if mode == "nearest":
        return idx.clamp_(0, n - 1) if idx.is_floating_point() else idx.clamp(0, n - 1), None
    if mode == "wrap":
        return torch.remainder(idx, n), None
    if mode == "reflect":
        m = torch.remainder(idx, 2 * n)
        return torch.where(m >= n, 2 * n - 1 - m, m), None
    valid = (idx >= 0) & (idx < n)
    return idx.clamp(0, n - 1), valid


def _gather(x: torch.Tensor, iy: torch.Tensor, ix: torch.Tensor, w: int) -> torch.Tensor:
    """x: N×C×H×W, iy/ix: N×H×W indices → N×C×H×W values."""
    import torch

    n, c = x.shape[:2]
    flat = (iy * w + ix).reshape(n, 1, -1).expand(n, c, -1)
    return torch.gather(x.reshape(n, c, -1), 2, flat).reshape(n, c, *iy.shape[1:])


_GRID_SAMPLE_PADDING = {"nearest": "border", "reflect": "reflection", "constant": "zeros"}


def normalised_theta(inverse: np.ndarray, h: int, w: int) -> np.ndarray:
    """The 2×3 `affine_grid` theta (align_corners=False) of a pixel-space inverse matrix (3×3, or N×3×3
    for a batch: one broadcast matmul, no loop over images).

    Pixel x ↔ normalised u = (2x + 1)/w − 1, so theta = S · inverse · S⁻¹ with S that scaling.
    """
    s = np.array([[2.0 / w, 0.0, 1.0 / w - 1.0], [0.0, 2.0 / h, 1.0 / h - 1.0], [0.0, 0.0, 1.0]])
    s_inv = np.array([[w / 2.0, 0.0, (w - 1.0) / 2.0], [0.0, h / 2.0, (h - 1.0) / 2.0], [0.0, 0.0, 1.0]])
    return (s @ inverse @ s_inv)[..., :2, :]


def affine_grid(theta: torch.Tensor, h: int, w: int, out: torch.Tensor | None = None) -> torch.Tensor:
    """`F.affine_grid(theta, [n, c, h, w], align_corners=False)` by broadcasting, into `out` when given.

    Each grid row is 2w numbers, the (x, y) pairs: (a·u + c) along the row, plus b·v for row v. One
    `addcmul` writes the grid with 2w-long inner loops. The same values (to ~1e-6) as torch's, whose
    batched matmul over a 3-column base grid is ~10× slower on a CPU; an add broadcast over the
    trailing pair dimension is ~2× slower (its inner loops are 2 long).
    """
    import torch

    n = theta.shape[0]
    u = torch.arange(w, dtype=torch.float32, device=theta.device).mul_(2.0 / w).add_(1.0 / w - 1.0)
    v = torch.arange(h, dtype=torch.float32, device=theta.device).mul_(2.0 / h).add_(1.0 / h - 1.0)
    across = (theta[:, :, 0].repeat(1, w) * u.repeat_interleave(2)).add_(theta[:, :, 2].repeat(1, w))
    down = theta[:, :, 1].repeat(1, w)
    flat = None if out is None else out.view(n, h, 2 * w)
    grid = torch.addcmul(across.view(n, 1, 2 * w), down.view(n, 1, 2 * w), v.view(1, h, 1), out=flat)
    return grid.view(n, h, w, 2)


def warp_torch(
    x: torch.Tensor, inverses: np.ndarray, fill_mode: str, cval: float, interpolation: str
) -> torch.Tensor:
    """Resample a float32 N×C×H×W batch through per-image inverse matrices (N×3×3), as `warp_numpy` does."""
    import torch

    n, _c, h, w = x.shape
    if interpolation == "bilinear" and fill_mode in _GRID_SAMPLE_PADDING:
        # grid_sample's bilinear kernel with border/reflection/zeros padding is the same sampling rule as
        # the gather path below (clip, half-sample reflect, constant) and several times faster on a batch;
        # its normalised coordinates cost ~1e-5 px, invisible after rounding to 8 bits.
        import torch.nn.functional as F

        theta = normalised_theta(inverses, h, w).astype(np.float32)
        grid = affine_grid(torch.as_tensor(theta, device=x.device), h, w)
        padding = _GRID_SAMPLE_PADDING[fill_mode]
        if fill_mode == "constant" and cval != 0.0:
            return (
                F.grid_sample(x - cval, grid, mode="bilinear", padding_mode=padding, align_corners=False)
                + cval
            )
        return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding, align_corners=False)
    inv = torch.as_tensor(inverses.astype(np.float32), device=x.device)
    xs = torch.arange(w, dtype=torch.float32, device=x.device).view(1, 1, w)
    ys = torch.arange(h, dtype=torch.float32, device=x.device).view(1, h, 1)
    sx = inv[:, 0, 0].view(n, 1, 1) * xs + inv[:, 0, 1].view(n, 1, 1) * ys + inv[:, 0, 2].view(n, 1, 1)
    sy = inv[:, 1, 0].view(n, 1, 1) * xs + inv[:, 1, 1].view(n, 1, 1) * ys + inv[:, 1, 2].view(n, 1, 1)
    cv = torch.tensor(cval, dtype=torch.float32, device=x.device)
    if interpolation == "nearest" and h * w <= 2**24:
        # Indices stay float32 until the one flat index (whole numbers below 2**24 are exact there): the
        # same floor(x + 0.5) as the numpy path, in place, with one int64 conversion instead of four.
        ix, vx = _fill_index_torch(sx.add_(0.5).floor_(), w, fill_mode)
        iy, vy = _fill_index_torch(sy.add_(0.5).floor_(), h, fill_mode)
        flat = iy.mul_(w).add_(ix).long().view(n, 1, h * w).expand(n, x.shape[1], h * w)
        out = torch.gather(x.reshape(n, x.shape[1], h * w), 2, flat).view(x.shape)
        if vx is not None:
            out = torch.where((vx & vy).unsqueeze(1), out, cv)
        return out
    if interpolation == "nearest":
        ix = torch.floor(sx + 0.5).long()
        iy = torch.floor(sy + 0.5).long()
        ix, vx = _fill_index_torch(ix, w, fill_mode)
        iy, vy = _fill_index_torch(iy, h, fill_mode)
        out = _gather(x, iy, ix, w)
        if vx is not None:
            out = torch.where((vx & vy).unsqueeze(1), out, cv)
        return out
    x0f = torch.floor(sx)
    y0f = torch.floor(sy)
    fx = (sx - x0f).unsqueeze(1)
    fy = (sy - y0f).unsqueeze(1)
    x0 = x0f.long()
    y0 = y0f.long()
    corners = []
    for dy in (0, 1):
        iy, vy = _fill_index_torch(y0 + dy, h, fill_mode)
        for dx in (0, 1):
            ix, vx = _fill_index_torch(x0 + dx, w, fill_mode)
            v = _gather(x, iy, ix, w)
            if vx is not None:
                v = torch.where((vx & vy).unsqueeze(1), v, cv)
            corners.append(v)
    top = corners[0] * (1.0 - fx) + corners[1] * fx
    bottom = corners[2] * (1.0 - fx) + corners[3] * fx
    return top * (1.0 - fy) + bottom * fy


def _gray_torch(x: torch.Tensor) -> torch.Tensor:
    return (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1)


def _rgb_to_hsv_torch(x: torch.Tensor):
    import torch

    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    maxc = torch.maximum(torch.maximum(r, g), b)
    minc = torch.minimum(torch.minimum(r, g), b)
    delta = maxc - minc
    one = torch.ones((), dtype=x.dtype, device=x.device)
    zero = torch.zeros((), dtype=x.dtype, device=x.device)
    s = torch.where(maxc > 0, delta / torch.where(maxc > 0, maxc, one), zero)
    safe_d = torch.where(delta > 0, delta, one)
    rc = (maxc - r) / safe_d
    gc = (maxc - g) / safe_d
    bc = (maxc - b) / safe_d
    hh = torch.where(maxc == r, bc - gc, torch.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    hh = torch.where(delta > 0, hh, zero)
    hh = torch.remainder(hh / 6.0, 1.0)
    return hh, s, maxc


def _hsv_to_rgb_torch(hh, s, v):
    import torch

    h6 = hh * 6.0
    i = torch.floor(h6)
    f = h6 - i
    i = torch.remainder(i, 6).long()
    p = v * (1.0 - s)
    q = v * (1.0 - s * f)
    t = v * (1.0 - s * (1.0 - f))
    stack_r = torch.stack([v, q, p, p, t, v])
    stack_g = torch.stack([t, v, v, q, p, p])
    stack_b = torch.stack([p, p, t, v, v, q])
    idx = i.unsqueeze(0)
    r = torch.gather(stack_r, 0, idx)[0]
    g = torch.gather(stack_g, 0, idx)[0]
    b = torch.gather(stack_b, 0, idx)[0]
    return torch.stack([r, g, b], dim=1)


def _colour_torch(x: torch.Tensor, params: list[ImageParams]) -> torch.Tensor:
    import torch

    n, c = x.shape[:2]
    rgb = c >= 3

    def column(values: list[float]) -> torch.Tensor:
        return torch.tensor(values, dtype=torch.float32, device=x.device).view(n, 1, 1, 1)

    # In place: x is always this function's own tensor (a warp output or a fresh float copy).
    if any(p.brightness != 1.0 for p in params):
        x = x.mul_(column([p.brightness for p in params])).clamp_(0.0, 1.0)
    if any(p.contrast != 1.0 for p in params):
        gray = _gray_torch(x) if rgb else x
        mean = gray.mean(dim=(1, 2, 3), dtype=torch.float64).float().view(n, 1, 1, 1)
        cf = column([p.contrast for p in params])
        x = x.mul_(cf).add_((1.0 - cf) * mean).clamp_(0.0, 1.0)
    if rgb and any(p.saturation != 1.0 for p in params):
        sf = column([p.saturation for p in params])
        x = (sf * x + (1.0 - sf) * _gray_torch(x)).clamp(0.0, 1.0)
    if rgb and any(p.hue != 0.0 for p in params):
        hh, s, v = _rgb_to_hsv_torch(x[:, :3])
        shift = torch.tensor([p.hue for p in params], dtype=torch.float32, device=x.device).view(n, 1, 1)
        hh = torch.remainder(hh + shift, 1.0)
        rgb3 = _hsv_to_rgb_torch(hh, s, v)
        x = torch.cat([rgb3, x[:, 3:]], dim=1) if c > 3 else rgb3
    return x


def _blur_torch(x: torch.Tensor, sigma: float) -> torch.Tensor:
    import torch
    import torch.nn.functional as F

    k = torch.as_tensor(_gaussian_kernel(sigma), device=x.device)
    r = k.numel() // 2
    n, c, h, w = x.shape
    # torch's "reflect" omits the edge pixel; pad by hand to repeat it, as numpy's "symmetric" does.
    if r < h:
        xp = torch.cat([x[:, :, :r].flip(2), x, x[:, :, h - r :].flip(2)], dim=2)
    else:
        xp = F.pad(x, (0, 0, r, r), mode="replicate")
    acc = torch.zeros_like(x)
    for i in range(k.numel()):
        acc = acc + k[i] * xp[:, :, i : i + h]
    if r < w:
        xp = torch.cat([acc[:, :, :, :r].flip(3), acc, acc[:, :, :, w - r :].flip(3)], dim=3)
    else:
        xp = F.pad(acc, (r, r, 0, 0), mode="replicate")
    out = torch.zeros_like(x)
    for i in range(k.numel()):
        out = out + k[i] * xp[:, :, :, i : i + w]
    return out


def apply_params_torch(
    images: torch.Tensor, params: list[ImageParams], generator: torch.Generator | None = None
):
    """Apply one drawn parameter record per image to an N×C×H×W batch (uint8 0–255 or float 0–1) on its device.

    Geometry and colour match `apply_params_numpy` pixel for pixel (up to float rounding in the
    bilinear weights); noise is drawn from `generator` on the batch's device.
    """
    import torch

    if images.ndim != 4:
        raise ValueError(f"expected an N×C×H×W batch, got shape {tuple(images.shape)}")
    if len(params) != images.shape[0]:
        raise ValueError(f"{len(params)} parameter records for a batch of {images.shape[0]}")
    n = images.shape[0]
    if _bilinear_lane(images, params):
        p0 = params[0]
        inverses = np.stack([p.inverse for p in params])
        return _bilinear_uint8(images, inverses, p0.fill_mode, float(np.float32(p0.cval)))
    if images.device.type == "cpu" and n > CPU_CHUNK:
        # On a CPU, a few images at a time keep every intermediate in cache: streaming the whole batch
        # through each op in turn is several times slower than the same arithmetic chunk by chunk.
        first = _apply_chunk(images[:CPU_CHUNK], params[:CPU_CHUNK], generator)
        out = torch.empty((n, *first.shape[1:]), dtype=first.dtype, device=first.device)
        out[:CPU_CHUNK] = first
        for i in range(CPU_CHUNK, n, CPU_CHUNK):
            part = out[i : i + CPU_CHUNK]
            got = _apply_chunk(images[i : i + CPU_CHUNK], params[i : i + CPU_CHUNK], generator, out=part)
            if got is not part:
                part.copy_(got)
        return out
    return _apply_chunk(images, params, generator)


CPU_CHUNK = 8
# The geometry-only uint8 bilinear lane on a CPU: images per grid_sample. Its float copy, grid and result
# take ~1.8 MB per 224×224 RGB image; 2 at a time stay in cache (256×3×224×224, one thread, shared
# machine: chunks of 2 ran ~1.2× faster than 8, chunks of 1 alike).
GEOMETRY_CHUNK = 2


def _bilinear_lane(images: torch.Tensor, params: list[ImageParams]) -> bool:
    """Geometry alone, bilinear, on uint8 with a padding grid_sample has, and not every map an index
    mapping (those stay exact uint8 gathers): the common training case, `_bilinear_uint8`'s.

    Nearest sampling keeps the gather path: its pixel-space float32 positions round exactly as the numpy
    path's floor(x + 0.5) near half-pixel ties, where grid_sample's normalised ones (and its
    round-half-even) pick the other pixel for a visible share of a near-half-pixel shift."""
    import torch

    p0 = params[0]
    return (
        images.dtype == torch.uint8
        and p0.interpolation == "bilinear"
        and p0.fill_mode in _GRID_SAMPLE_PADDING
        and not _has_value_ops(params)
        and not all(p.is_identity for p in params)
        and not all(p.is_index_mapping for p in params)
    )


def _bilinear_uint8(images: torch.Tensor, inverses: np.ndarray, fill_mode: str, cval: float) -> torch.Tensor:
    """`warp_torch`'s bilinear grid_sample over a uint8 batch, chunk by chunk, one float pass each way.

    The +0.5 that makes truncation round is added to the float copy (a convex mix of x + 0.5 is the mix
    of x, plus 0.5; zero padding samples x − cval and adds cval + 0.5 back), and the result is truncated
    straight into the uint8 output. On a CPU the batch goes GEOMETRY_CHUNK images at a time through one
    float buffer and one grid buffer, reused: a fresh 1 MB tensor per step costs more in page faults than
    its arithmetic; on a GPU the whole batch is one grid and one grid_sample.
    """
    import torch
    import torch.nn.functional as F

    n, c, h, w = images.shape
    device = images.device
    theta = torch.as_tensor(normalised_theta(inverses, h, w).astype(np.float32), device=device)
    chunk = min(n, GEOMETRY_CHUNK) if device.type == "cpu" else n
    x = torch.empty((chunk, c, h, w), dtype=torch.float32, device=device)
    grid = torch.empty((chunk, h, w, 2), dtype=torch.float32, device=device)
    out = torch.empty_like(images)
    padding = _GRID_SAMPLE_PADDING[fill_mode]
    constant = fill_mode == "constant"
    for i in range(0, n, chunk):
        m = min(chunk, n - i)
        affine_grid(theta[i : i + m], h, w, out=grid[:m])
        x[:m].copy_(images[i : i + m]).add_(-cval if constant else 0.5)
        y = F.grid_sample(x[:m], grid[:m], "bilinear", padding, align_corners=False)
        if constant:
            y = y.add_(cval + 0.5)
            if not 0.0 <= cval <= 255.0:
                y = y.clamp_(0.5, 255.5)
        out[i : i + m].copy_(y)  # truncation: floor(value + 0.5)
        del y  # freed before the next step allocates its twin, so the allocator can hand the memory back
    return out


def _has_value_ops(params: list[ImageParams]) -> bool:
    """Anything besides geometry: colour, blur, noise, erasing, normalisation."""
    return any(
        p.has_colour or p.blur_sigma > 0 or p.noise_std > 0 or p.erase_box is not None for p in params
    ) or any(p.normalize_mean is not None for p in params)


def _geometry_uint8(
    images: torch.Tensor, params: list[ImageParams], out: torch.Tensor | None = None
) -> torch.Tensor:
    """Geometry alone on a uint8 batch: exact uint8 gathers for index mappings, else resampling on 0–255."""
    import torch

    p0 = params[0]
    inverses = np.stack([p.inverse for p in params])
    if all(p.is_index_mapping for p in params):
        # Integral maps sample whole pixels: bilinear equals nearest, and a gather needs no float copy.
        return warp_torch(images, inverses, p0.fill_mode, 0.0, "nearest")
    x = warp_torch(images.float(), inverses, p0.fill_mode, float(np.float32(p0.cval)), p0.interpolation)
    if p0.fill_mode == "constant" and not 0.0 <= p0.cval <= 255.0:
        x = x.clamp_(0.0, 255.0)
    # Otherwise every output is a convex mix of 0–255 values, so +0.5 and truncation is floor(x + 0.5).
    if out is None:
        return x.add_(0.5).to(torch.uint8)
    return out.copy_(x.add_(0.5))  # straight into the batch's output: no uint8 temporary, no second copy


def _apply_chunk(
    images: torch.Tensor,
    params: list[ImageParams],
    generator: torch.Generator | None,
    out: torch.Tensor | None = None,
):
    """One chunk's result; the geometry-only uint8 lane writes it into `out` when given (returning `out`)."""
    import torch

    is_uint8 = images.dtype == torch.uint8
    if not _has_value_ops(params):
        if all(p.is_identity for p in params):
            return images.clone()
        if is_uint8:
            return _geometry_uint8(
                images, params, out if out is not None and out.dtype == torch.uint8 else None
            )
    x = images.float().div_(255.0) if is_uint8 else images.float()
    n, c, h, w = x.shape
    if not all(p.is_identity for p in params):
        p0 = params[0]
        cval = p0.cval / 255.0 if is_uint8 else p0.cval
        inverses = np.stack([p.inverse for p in params])
        x = warp_torch(x, inverses, p0.fill_mode, float(np.float32(cval)), p0.interpolation)
    k = c - 1 if c in (2, 4) else c  # colour and noise leave an alpha channel alone
    if any(p.has_colour for p in params):
        x = (
            torch.cat([_colour_torch(x[:, :k], params), x[:, k:]], dim=1)
            if k < c
            else _colour_torch(x, params)
        )
    for sigma in sorted({p.blur_sigma for p in params if p.blur_sigma > 0}):
        sel = torch.tensor([p.blur_sigma == sigma for p in params], device=x.device)
        x = (
            torch.where(sel.view(n, 1, 1, 1), _blur_torch(x, sigma), x)
            if len(params) > 1
            else _blur_torch(x, sigma)
        )
    stds = [p.noise_std for p in params]
    if any(s > 0 for s in stds):
        gen_device = generator.device if generator is not None else torch.device("cpu")
        noise = torch.randn((n, k, h, w), generator=generator, device=gen_device).to(x.device)
        std = torch.tensor(stds, dtype=torch.float32, device=x.device).view(n, 1, 1, 1)
        x[:, :k] = (x[:, :k] + std * noise).clamp(0.0, 1.0)
    for i, p in enumerate(params):
        if p.erase_box is not None:
            top, left, bh, bw = p.erase_box
            x[i, :, top : top + bh, left : left + bw] = p.erase_value
    p0 = params[0]
    if p0.normalize_mean is not None:
        mean = torch.as_tensor(_per_channel(p0.normalize_mean, c), device=x.device).view(1, c, 1, 1)
        std = torch.as_tensor(_per_channel(p0.normalize_std or (1.0,), c), device=x.device).view(1, c, 1, 1)
        return (x - mean) / std
    if is_uint8:
        return x.mul_(255.0).add_(0.5).floor_().clamp_(0, 255).to(torch.uint8)
    return x.to(images.dtype)


def augment_batch_torch(images: torch.Tensor, spec: ImageSpec, generator: torch.Generator) -> torch.Tensor:
    """Augment an N×C×H×W batch: parameters drawn from `generator` (one seed), pixels on the batch's device."""
    import torch

    seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device).item())
    rng = np.random.default_rng(seed)
    n, _c, h, w = images.shape
    params = [sample_params(spec, rng, h, w) for _ in range(n)]
    return apply_params_torch(images, params, generator)
