"""Augmentation speed: the preview's re-render and a training batch on the CPU, against a baseline in-process.

    python benchmarks/augment.py [--repeats 5] [--batch 256] [--size 224] [--threads N] [--device cuda]
                                 [--interpolation bilinear|nearest]

1. Re-rendering 8 variants of a 256×256 RGB image with the Keras parameter set (numpy path, what the
   Augment pane does on each key press). Target: < 100 ms.
2. A batch of 256 uint8 images 224×224 through `Pipeline.apply_batch_torch` (rotation, shifts, shear,
   zoom, horizontal flip, fill nearest: issue 16's op set) against albumentations 2.0.8 doing the same
   ops per image (cv2.warpAffine), one thread each, printed as a time ratio (target ≤ 1×). albumentations
   is in the `bench` extra (pip install -e '.[bench]'); without it the script says so and compares against
   a plain-torch baseline instead: a per-image `affine_grid` + `grid_sample` loop with the same parameters.
Rounds are interleaved (ours, baseline, ours, ...) in this process; the ratio is the median of the rounds'
ratios, with the best and median times beside it.
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


def albumentations_transform(threads: int, interpolation: str = "bilinear", fill_mode: str = "nearest"):
    """The same op set in albumentations (the `bench` extra), with the pipeline's interpolation and fill,
    or None with the reason printed."""
    try:
        import albumentations as A
        import cv2

        flags = {"bilinear": cv2.INTER_LINEAR, "nearest": cv2.INTER_NEAREST}[interpolation]
        border = {
            "nearest": cv2.BORDER_REPLICATE,
            "reflect": cv2.BORDER_REFLECT,
            "wrap": cv2.BORDER_WRAP,
            "constant": cv2.BORDER_CONSTANT,
        }[fill_mode]

        cv2.setNumThreads(threads)  # as many threads as torch has: a like-for-like comparison
        return A.Compose(
            [
                A.Affine(
                    rotate=(-40, 40),
                    translate_percent=(-0.2, 0.2),
                    shear=(-10, 10),
                    scale=(0.8, 1.2),
                    interpolation=flags,
                    border_mode=border,
                    p=1.0,
                ),
                A.HorizontalFlip(p=0.5),
            ]
        )
    except Exception as exc:  # noqa: BLE001 - any failure means "not available", reported below
        print(
            f"albumentations baseline: not run ({type(exc).__name__}: {str(exc).splitlines()[0][:100]}); "
            "install the bench extra: pip install -e '.[bench]'"
        )
        return None


def geometry_pipeline(interpolation: str = "bilinear"):
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
                "interpolation": interpolation,
            }
        }
    )


def interleaved(fns: dict, rounds: int) -> dict[str, list[float]]:
    """Each function's time in each of `rounds` rounds, run A B A B so machine noise hits both alike."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return times


def bench_batch(
    repeats: int, batch: int, size: int, device: str = "cpu", interpolation: str = "bilinear"
) -> None:
    """Issue 16's op set (rotate, shift, shear, zoom, hflip) on a uint8 batch, against albumentations."""
    import torch
    import torch.nn.functional as F

    from tui_trainer.augment.image import sample_params
    from tui_trainer.augment.image_torch import normalised_theta

    pipeline = geometry_pipeline(interpolation)
    images = torch.from_numpy(
        np.random.default_rng(0).integers(0, 256, (batch, 3, size, size), dtype=np.uint8)
    )
    if device == "cuda" and not torch.cuda.is_available():
        print("--device cuda: no CUDA GPU visible, measuring on the CPU")
        device = "cpu"
    on_device = images.to(device)

    def ours() -> None:
        pipeline.apply_batch_torch(on_device, torch.Generator().manual_seed(0))
        if device == "cuda":
            torch.cuda.synchronize()

    fns = {"tui-trainer apply_batch_torch": ours}
    spec = pipeline.image_spec()
    transform = albumentations_transform(torch.get_num_threads(), spec.interpolation, spec.fill_mode)
    if transform is not None:
        import albumentations

        hwc = [np.ascontiguousarray(images[i].permute(1, 2, 0).numpy()) for i in range(batch)]
        baseline = f"albumentations {albumentations.__version__} (per image, cv2.warpAffine)"
        fns[baseline] = lambda: [transform(image=img)["image"] for img in hwc]
    else:
        spec = pipeline.image_spec()
        rng = np.random.default_rng(0)
        params = [sample_params(spec, rng, size, size) for _ in range(batch)]
        thetas = [
            torch.as_tensor(normalised_theta(p.inverse, size, size)[None], dtype=torch.float32)
            for p in params
        ]

        def plain_torch() -> None:
            out = torch.empty_like(images)
            for i in range(batch):
                x = images[i : i + 1].float()
                grid = F.affine_grid(thetas[i], [1, 3, size, size], align_corners=False)
                x = F.grid_sample(x, grid, mode=interpolation, padding_mode="border", align_corners=False)
                out[i] = x.clamp(0, 255).add(0.5).to(torch.uint8)[0]

        baseline = "plain-torch baseline (per-image affine_grid + grid_sample, same ops)"
        fns[baseline] = plain_torch
    times = interleaved(fns, repeats)
    for name, rounds in times.items():
        where = f" on {device}" if name.startswith("tui-trainer") else ""
        seconds = min(rounds)
        print(
            f"{name}{where}: {batch}x3x{size}x{size} uint8: best {seconds:.3f} s = {batch / seconds:.0f} images/s, "
            f"median {statistics.median(rounds):.3f} s"
        )
    # The ratio of each round (ours / theirs, measured back to back), then their median: load from other
    # processes hits both sides of a round alike.
    ratio = statistics.median(
        a / b for a, b in zip(times["tui-trainer apply_batch_torch"], times[baseline], strict=True)
    )
    verdict = "meets" if ratio <= 1.0 else "MISSES"
    one, five, _ = os.getloadavg()
    print(
        f"ratio tui-trainer / {baseline.split(' (')[0]} time: {ratio:.2f}x, median of {repeats} interleaved rounds "
        f"(throughput {1 / ratio:.2f}x; {verdict} the <= 1x target; torch threads={torch.get_num_threads()}; "
        f"load {one:.1f}/{five:.1f} on {os.cpu_count()} cores)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (default 1; 0: torch's default)"
    )
    parser.add_argument(
        "--device", choices=("cpu", "cuda"), default="cpu", help="where apply_batch_torch runs (default cpu)"
    )
    parser.add_argument(
        "--interpolation",
        choices=("bilinear", "nearest"),
        default="bilinear",
        help="the batch pipeline's interpolation; the baseline uses the same (default bilinear)",
    )
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    bench_preview(args.repeats)
    bench_batch(args.repeats, args.batch, args.size, args.device, args.interpolation)


if __name__ == "__main__":
    main()
