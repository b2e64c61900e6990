"""GPU paths proven on a real GPU: one PASS/FAIL line per CUDA path the tool has (issue 13, Deliver 7).

Checks, each as a user (or the engine) would run it:
  audit        `tui-trainer audit --json`: NVML sees every GPU torch sees, the kernel smoke test passed on each
  train        both sample configs (tabular MLP, digits CNN with augmentation) × fp32, bf16, fp16 on `cuda`:
               exit 0, status completed, finite losses; fp16 checkpoints carry GradScaler state
  augment      `apply_params_torch` on a CUDA uint8 and float batch equals the CPU result (≤ 1 level, rare)
  ddp          `torchrun --nproc-per-node N -m tui_trainer train ...` with the NCCL backend, world size N
  telemetry    NVML telemetry lists this process, marked as the training process, while it holds memory
  oom          a forward pass asking for twice the GPU's memory ends the run with code `out_of_memory`
Without a CUDA GPU it says so and exits 0. Exit 1 when any check fails.
Run: python benchmarks/gpu_check.py [--only audit,train,...] [--epochs N] [--keep DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder comes first on sys.path, where a sibling benchmark may shadow a stdlib module.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from collections.abc import Callable  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
CONFIGS = REPO / "sample_data" / "configs"
CHECKS = ("audit", "train", "augment", "ddp", "telemetry", "oom")


class Report:
    def __init__(self) -> None:
        self.failed = 0
        self.passed = 0

    def line(self, name: str, ok: bool, detail: str) -> None:
        self.passed += ok
        self.failed += not ok
        print(f"{'PASS' if ok else 'FAIL'} {name}: {detail}", flush=True)

    def run(self, name: str, fn: Callable[[], str]) -> None:
        """fn returns a detail on success and raises AssertionError (or anything) on failure."""
        start = time.perf_counter()
        try:
            detail = fn()
        except AssertionError as exc:
            self.line(name, False, f"{exc} ({time.perf_counter() - start:.1f}s)")
        except Exception as exc:  # noqa: BLE001 - one check's crash must not hide the others
            last = traceback.format_exc().strip().splitlines()[-1]
            self.line(
                name, False, f"{type(exc).__name__}: {exc} [{last}] ({time.perf_counter() - start:.1f}s)"
            )
        else:
            self.line(name, True, f"{detail} ({time.perf_counter() - start:.1f}s)")


def cli(
    args: list[str], cwd: Path, timeout: float = 600, prefix: list[str] | None = None
) -> subprocess.CompletedProcess:
    env = dict(os.environ, NO_COLOR="1", PYTHONUNBUFFERED="1")
    command = (prefix or [sys.executable, "-m", "tui_trainer"]) + args
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def events(run_dir: Path) -> list[dict]:
    lines = (run_dir / "events.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _tail(proc: subprocess.CompletedProcess) -> str:
    return " | ".join((proc.stderr or proc.stdout or "").strip().splitlines()[-3:])[-400:]


# ----- checks ---------------------------------------------------------------------------------------------------


def check_audit(work: Path, gpu_count: int) -> str:
    proc = cli(["audit", "--json"], cwd=work, timeout=300)
    assert proc.returncode in (0, 1), f"audit exit {proc.returncode}: {_tail(proc)}"
    doc = json.loads(proc.stdout)
    assert doc["nvidia"].get("nvml"), f"NVML not loaded: {doc['nvidia'].get('error')}"
    gpus = doc["gpus"]
    assert len(gpus) >= gpu_count, f"NVML lists {len(gpus)} GPU(s), torch sees {gpu_count}"
    smoke = doc["torch"].get("smoke") or []
    cuda = [r for r in smoke if str(r.get("device", "")).startswith("cuda")]
    assert len(cuda) >= gpu_count, (
        f"smoke test ran on {[r.get('device') for r in smoke]}, expected {gpu_count} cuda device(s)"
    )
    bad = [f"{r['device']}: {r.get('error')}" for r in cuda if not r.get("ok")]
    assert not bad, "smoke test failed on " + "; ".join(bad)
    names = ", ".join(sorted({str(g.get("name")) for g in gpus}))
    return f"NVML driver {doc['nvidia'].get('driver')}, {len(gpus)} GPU(s) ({names}); smoke passed on {len(cuda)} cuda device(s)"


def _train_once(work: Path, config: str, precision: str, epochs: int) -> str:
    run = work / f"{Path(config).stem}-{precision}"
    shutil.rmtree(run, ignore_errors=True)
    args = [
        "train", str(CONFIGS / config), "--headless", "--run-dir", str(run),
        "--set", 'train.device="cuda"', "--set", f'train.precision="{precision}"',
        "--set", f"train.epochs={epochs}", "--set", "train.checkpoint_every=5",
    ]  # fmt: skip
    proc = cli(args, cwd=work, timeout=900)
    assert proc.returncode == 0, f"exit {proc.returncode}: {_tail(proc)}"
    evs = events(run)
    started = next(e for e in evs if e["type"] == "run_started")
    assert str(started.get("device", "")).startswith("cuda"), f"ran on {started.get('device')}, not cuda"
    fallbacks = [e["message"] for e in evs if e["type"] == "log" and "instead" in e.get("message", "")]
    assert not fallbacks, f"precision fell back: {fallbacks[0]}"
    finished = [e for e in evs if e["type"] == "finished"]
    assert finished and finished[-1]["status"] == "completed", (
        f"no completed finish event ({evs[-1]['type']})"
    )
    losses = [e["loss"] for e in evs if e["type"] == "step"]
    assert losses and all(isinstance(v, float) and math.isfinite(v) for v in losses), "non-finite step losses"
    detail = f"{len(losses)} steps, loss {losses[0]:.3f} -> {losses[-1]:.3f}"
    if precision == "fp16":
        import torch

        newest = sorted((run / "checkpoints").glob("step-*.pt"))[-1]
        state = torch.load(newest, map_location="cpu", weights_only=True)
        scaler = (state.get("state") or state).get("scaler") if isinstance(state, dict) else None
        assert scaler, f"{newest.name} has no GradScaler state: fp16 ran without the scaler"
        detail += f", GradScaler scale {scaler.get('scale')}"
    return detail


def check_train(report: Report, work: Path, epochs: int) -> None:
    for config in ("tabular.toml", "images.toml"):
        for precision in ("fp32", "bf16", "fp16"):
            report.run(
                f"train {config} {precision}", lambda c=config, p=precision: _train_once(work, c, p, epochs)
            )


def check_augment() -> str:
    import dataclasses

    import numpy as np
    import torch

    from tui_trainer.augment.image import apply_params_torch, sample_params
    from tui_trainer.augment.pipeline import load_pipeline

    pipeline = load_pipeline(CONFIGS / "digits_aug.toml")
    spec = pipeline.image_spec()
    rng = np.random.default_rng(0)
    n, c, h, w = 64, 3, 96, 96
    batch = torch.from_numpy(np.random.default_rng(1).integers(0, 256, (n, c, h, w), dtype=np.uint8))
    params = [sample_params(spec, rng, h, w) for _ in range(n)]
    # Noise is drawn from the generator, on its own device: compare everything but noise.
    params = [dataclasses.replace(p, noise_std=0.0) for p in params]
    details = []
    for dtype in ("uint8", "float32"):
        x = batch if dtype == "uint8" else batch.float() / 255.0
        cpu = apply_params_torch(x, params)
        gpu = apply_params_torch(x.cuda(), params)
        assert gpu.device.type == "cuda", f"result came back on {gpu.device}"
        scale = 1.0 if dtype == "uint8" else 255.0
        diff = (gpu.cpu().double() - cpu.double()).abs() * scale
        off = float((diff > 0.5).double().mean())
        assert float(diff.max()) <= 1.0 + 1e-6 and off < 0.01, (
            f"{dtype}: CUDA differs from CPU by up to {float(diff.max()):.2f} levels on {off:.2%} of values"
        )
        torch.cuda.synchronize()
        details.append(f"{dtype} max {float(diff.max()):.2f} level(s) on {off:.3%}")
    # Throughput on the GPU against the CPU, issue 16's op set on 256×3×224×224 uint8.
    from tui_trainer.augment.pipeline import Pipeline

    geometry = Pipeline.from_dict(
        {"image": {"rotation_range": 40, "width_shift_range": 0.2, "height_shift_range": 0.2,
                   "shear_range": 10, "zoom_range": 0.2, "horizontal_flip": True}}
    )  # fmt: skip
    big = torch.from_numpy(np.random.default_rng(2).integers(0, 256, (256, 3, 224, 224), dtype=np.uint8))
    rates = {}
    for device in ("cpu", "cuda"):
        x = big.to(device)
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            geometry.apply_batch_torch(x, torch.Generator().manual_seed(0))
            if device == "cuda":
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - start)
        rates[device] = 256 / best
    details.append(
        f"256×3×224² geometry: {rates['cuda']:.0f} images/s on CUDA, {rates['cpu']:.0f} on the CPU "
        f"({rates['cuda'] / rates['cpu']:.1f}×)"
    )
    return f"{n}×{c}×{h}×{w} digits_aug pipeline: " + ", ".join(details)


def check_ddp(work: Path, gpu_count: int) -> str:
    nproc = min(2, gpu_count)
    run = work / "ddp"
    shutil.rmtree(run, ignore_errors=True)
    torchrun = shutil.which("torchrun") or ""
    prefix = [torchrun] if torchrun else [sys.executable, "-m", "torch.distributed.run"]
    args = [
        "--standalone", f"--nproc-per-node={nproc}", "-m", "tui_trainer", "train", str(CONFIGS / "tabular.toml"),
        "--headless", "--run-dir", str(run), "--set", 'train.device="cuda"', "--set", "train.epochs=2",
    ]  # fmt: skip
    os.environ["NCCL_DEBUG"] = "INFO"  # NCCL's own log lines prove the backend (events do not name it)
    try:
        proc = cli(args, cwd=work, timeout=600, prefix=prefix)
    finally:
        os.environ.pop("NCCL_DEBUG", None)
    assert proc.returncode == 0, f"torchrun exit {proc.returncode}: {_tail(proc)}"
    evs = events(run)
    started = next(e for e in evs if e["type"] == "run_started")
    assert started.get("world_size") == nproc, f"world size {started.get('world_size')}, expected {nproc}"
    assert "NCCL INFO" in proc.stdout + proc.stderr, "no NCCL log line: the run did not use the NCCL backend"
    finished = [e for e in evs if e["type"] == "finished"]
    assert finished and finished[-1]["status"] == "completed", "the DDP run did not complete"
    return f"{nproc} rank(s), NCCL, {sum(e['type'] == 'step' for e in evs)} steps logged by rank 0"


def check_telemetry() -> str:
    import torch

    from tui_trainer.engine.telemetry import TelemetrySampler

    hold = torch.empty(256 * 2**20, dtype=torch.uint8, device="cuda")  # 256 MB, so NVML lists us
    torch.cuda.synchronize()
    try:
        sampler = TelemetrySampler(1.0, training_pids={os.getpid()})
        event = sampler.sample()
    finally:
        del hold
    assert event.gpus, "the System event has no GPU readings"
    procs = [p for g in event.gpus for p in (g.get("processes") or [])]
    ours = [p for p in procs if p.get("pid") == os.getpid()]
    assert ours, (
        f"NVML lists pids {[p.get('pid') for p in procs]}, not this process {os.getpid()} "
        "(a container with its own pid namespace hides host pids)"
    )
    assert ours[0].get("training") is True, f"this process is listed but not marked training: {ours[0]}"
    return (
        f"pid {os.getpid()} listed as training ({ours[0].get('name')}, {ours[0].get('memory_bytes')} bytes)"
    )


OOM_FACTORY = """
import torch
from torch import nn


class Greedy(nn.Module):
    \"\"\"A linear model whose forward asks for more memory than the GPU has (the engine's real OOM path).\"\"\"

    def __init__(self, input_shape, num_classes, nbytes):
        super().__init__()
        self.fc = nn.Linear(int(torch.tensor(input_shape).prod()), num_classes)
        self.nbytes = int(nbytes)

    def forward(self, x):
        hog = torch.empty(self.nbytes, dtype=torch.uint8, device=x.device)
        return self.fc(x.flatten(1)) + hog[:1].float() * 0


def build(input_shape, num_classes, nbytes):
    return Greedy(input_shape, num_classes, nbytes)
"""


def check_oom(work: Path) -> str:
    import torch

    total = torch.cuda.get_device_properties(0).total_memory
    run = work / "oom"
    shutil.rmtree(run, ignore_errors=True)
    (work / "greedy_model.py").write_text(OOM_FACTORY, encoding="utf-8")
    nbytes = 2 * total  # twice the whole GPU: a CUDA allocation failure inside the training step
    args = [
        "train", str(CONFIGS / "tabular.toml"), "--headless", "--run-dir", str(run),
        "--set", 'train.device="cuda"', "--set", "train.epochs=1",
        "--set", 'model.factory="greedy_model:build"', "--set", f'model.factory_path="{work}"',
        "--set", f"model.kwargs={{nbytes = {nbytes}}}",
    ]  # fmt: skip
    proc = cli(args, cwd=work, timeout=600)
    assert proc.returncode == 1, f"exit {proc.returncode}, expected 1: {_tail(proc)}"
    failed = [e for e in events(run) if e["type"] == "failed"]
    assert failed, "no failed event"
    assert failed[-1].get("code") == "out_of_memory", (
        f"failed with code {failed[-1].get('code')}: {failed[-1]['error'][:200]}"
    )
    return f"a {nbytes / 2**30:.0f} GiB allocation in forward -> out_of_memory: {failed[-1]['error'][:90]}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", default=",".join(CHECKS), help=f"comma-separated subset of {','.join(CHECKS)}"
    )
    parser.add_argument("--epochs", type=int, default=2, help="epochs per training check (default 2)")
    parser.add_argument("--keep", metavar="DIR", help="keep the runs in DIR instead of a temp folder")
    args = parser.parse_args()
    only = [c.strip() for c in args.only.split(",") if c.strip()]
    unknown = sorted(set(only) - set(CHECKS))
    if unknown:
        parser.error(f"unknown check(s) {unknown}; choose from {', '.join(CHECKS)}")

    import torch

    if not torch.cuda.is_available():
        print(
            f"gpu_check: no CUDA GPU visible (torch {torch.__version__}, built for CUDA {torch.version.cuda}; "
            f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')}): nothing to check, "
            "run it on a machine with an NVIDIA GPU"
        )
        return 0
    count = torch.cuda.device_count()
    print(f"gpu_check: {count} GPU(s): {', '.join(torch.cuda.get_device_name(i) for i in range(count))}; "
          f"torch {torch.__version__}, CUDA {torch.version.cuda}", flush=True)  # fmt: skip
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="gpu_check-"))
    work.mkdir(parents=True, exist_ok=True)
    report = Report()
    try:
        if "audit" in only:
            report.run("audit NVML + kernel smoke test", lambda: check_audit(work, count))
        if "train" in only:
            check_train(report, work, args.epochs)
        if "augment" in only:
            report.run("apply_batch_torch CUDA vs CPU", check_augment)
        if "ddp" in only:
            report.run("torchrun DDP (NCCL)", lambda: check_ddp(work, count))
        if "telemetry" in only:
            report.run("telemetry names the training process", check_telemetry)
        if "oom" in only:
            report.run("CUDA OOM -> out_of_memory", lambda: check_oom(work))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"gpu_check: {report.passed} passed, {report.failed} failed")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
