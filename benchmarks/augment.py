"""Augmentation speed: the preview's re-render and a training batch on the CPU, against a baseline in-process.

    python benchmarks/augment.py [--repeats 5] [--batch 256] [--size 224] [--threads N]

1. Re-rendering 8 variants of a 256×256 RGB image with the Keras parameter set (numpy path, what the
   Augment pane does on each key press). Target: < 100 ms.
2. A batch of 256 uint8 images 224×224 through `Pipeline.apply_batch_torch` (rotation, shifts, shear,
   zoom, horizontal flip, fill nearest, brightness/contrast jitter) against torchvision.transforms.v2
   doing the same ops, printed as a ratio (target ≤ 2×). torchvision is a benchmark extra: when it does
   not import beside the installed torch (PyPI's torchvision fails beside the CPU torch 2.13.0 wheel used
   here), the script says so and compares against a plain-torch baseline instead: a per-image
   `affine_grid` + `grid_sample` loop with the same parameters and the same colour arithmetic.
Times are the best of --repeats runs, each measured in this process.
"""

from __future__ import annotations

import os
import sys

# `python benchmarks/augment.py` puts benchmarks/ first on sys.path, where benchmarks/inspect.py would
# shadow the standard library's inspect (numpy imports it); the script's own folder is not needed.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402


def best_of(fn, repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times)


def keras_pipeline():
    from tui_trainer.augment.pipeline import Pipeline

    return Pipeline.from_dict(
        {
            "image": {
                "rotation_range": 40,
                "width_shift_range": 0.2,
                "height_shift_range": 0.2,
                "shear_range": 10,
                "zoom_range": 0.2,
                "horizontal_flip": True,
                "fill_mode": "nearest",
                "brightness": [0.8, 1.2],
                "contrast": [0.8, 1.2],
            }
        }
    )


def bench_preview(repeats: int) -> None:
    pipeline = keras_pipeline()
    img = np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)

    def render() -> None:
        for k in range(8):
            pipeline.apply_numpy(img, np.random.default_rng([0, k]))

    best, median = best_of(render, repeats)
    verdict = "meets" if best < 0.100 else "MISSES"
    print(
        f"preview: 8 variants of 256x256: best {best * 1000:.1f} ms, median {median * 1000:.1f} ms ({verdict} the < 100 ms target)"
    )


def torchvision_v2():
    try:
        import torchvision  # noqa: F401
        from torchvision.transforms import v2

        v2.RandomAffine(degrees=1)  # the import can succeed and the ops still fail to register
        return v2
    except Exception as exc:  # noqa: BLE001 - any failure means "not available", reported below
        print(
            f"torchvision.transforms.v2: unavailable here ({type(exc).__name__}: {str(exc).splitlines()[0][:100]})"
        )
        return None


def bench_batch(repeats: int, batch: int, size: int) -> None:
    import torch
    import torch.nn.functional as F

    from tui_trainer.augment.image import normalised_theta, sample_params

    pipeline = keras_pipeline()
    spec = pipeline.image_spec()
    images = torch.from_numpy(
        np.random.default_rng(0).integers(0, 256, (batch, 3, size, size), dtype=np.uint8)
    )

    def ours() -> None:
        pipeline.apply_batch_torch(images, torch.Generator().manual_seed(0))

    ours_best, ours_median = best_of(ours, repeats)
    print(
        f"tui-trainer apply_batch_torch: {batch}x3x{size}x{size} uint8: best {ours_best:.3f} s, median {ours_median:.3f} s"
    )

    v2 = torchvision_v2()
    if v2 is not None:
        transform = v2.Compose(
            [
                v2.RandomAffine(degrees=40, translate=(0.2, 0.2), scale=(0.8, 1.2), shear=10),
                v2.RandomHorizontalFlip(),
                v2.ColorJitter(brightness=0.2, contrast=0.2),
            ]
        )

        def theirs() -> None:
            for i in range(batch):  # v2 draws one set of parameters per call, so per image
                transform(images[i])

        name = "torchvision.transforms.v2 (per image)"
    else:
        rng = np.random.default_rng(0)
        params = [sample_params(spec, rng, size, size) for _ in range(batch)]
        thetas = [
            torch.as_tensor(normalised_theta(p.inverse, size, size)[None], dtype=torch.float32)
            for p in params
        ]

        def theirs() -> None:
            out = torch.empty_like(images)
            for i, p in enumerate(params):
                x = images[i : i + 1].float() / 255.0
                grid = F.affine_grid(thetas[i], [1, 3, size, size], align_corners=False)
                x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
                x = (x * p.brightness).clamp(0, 1)
                gray = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).mean()
                x = (p.contrast * x + (1 - p.contrast) * gray).clamp(0, 1)
                out[i] = torch.floor(x * 255.0 + 0.5).clamp(0, 255).to(torch.uint8)[0]

        name = "plain-torch baseline (per-image affine_grid + grid_sample loop, same ops)"
    theirs_best, theirs_median = best_of(theirs, repeats)
    ratio = ours_best / theirs_best
    verdict = "meets" if ratio <= 2.0 else "MISSES"
    print(f"{name}: best {theirs_best:.3f} s, median {theirs_median:.3f} s")
    print(
        f"ratio tui-trainer / baseline: {ratio:.2f}x ({verdict} the <= 2x target; threads={torch.get_num_threads()})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    bench_preview(args.repeats)
    bench_batch(args.repeats, args.batch, args.size)


if __name__ == "__main__":
    main()
