"""Following a TensorBoard log in the app: time to the whole curve, UI CPU while the log grows, a 1-GB listing.

    python benchmarks/tb_follow.py [--mb 20] [--baseline-mb 3] [--seconds 8] [--rate 50] [--runs 8 --run-mb 4]

1. A log of `--mb` MB (scalars of a long run: train/loss, train/lr, train/grad_norm every step, val/loss and
   val/accuracy every 1000 steps, one step every 50 ms of wall time; the bytes TensorBoard's writer writes,
   CRCs included) is opened in the real app, headless, on the Train pane, as `tui-trainer attach LOGDIR`
   does. Reported: seconds to the first curve and to the whole curve (the pane's run at the log's last step).
   Target (issue 11): the whole curve of a 100 MB log within 2 s (`--mb 100`).
2. Baseline: TensorBoard's own `EventAccumulator` (size_guidance 0: every scalar) reading a `--baseline-mb`
   log, against the app opening the same file, and against tui-trainer's reader alone (the mirror, in this
   process); rounds alternate (ours, baseline, ours, baseline...) and the median ratio is printed
   (TensorBoard checks every CRC in pure Python without TensorFlow, so the baseline is kept small).
3. A script writing with torch's real SummaryWriter (`--rate` steps/s, three scalars a step, flushed every
   second) while the app follows it: the app process's CPU (psutil, % of one core) against the same app idle
   for the same time. Target: under 5% of a core. The follower process (which reads the log) is reported
   apart: it is not the UI.
4. `--runs` log folders of `--run-mb` MB each (`--runs 10 --run-mb 100` is the issue's 1-GB folder): the time
   `tui-trainer runs ROOT` takes and the bytes it read, and the time the app takes to open the folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

# benchmarks/ holds scripts named like stdlib modules (inspect.py); keep them from shadowing the real ones.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import struct  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import psutil  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tui_trainer.integrations.event_records import masked_crc32c_rows  # noqa: E402


def _ui_follow():
    # The sibling benchmark's key-latency and CPU helpers, loaded by path: this folder is off sys.path
    # (benchmarks/inspect.py would shadow the standard library's inspect).
    import importlib.util

    spec = importlib.util.spec_from_file_location("ui_follow", Path(__file__).with_name("ui_follow.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_UI_FOLLOW = _ui_follow()
key_latency, cpu_seconds = _UI_FOLLOW.key_latency, _UI_FOLLOW.cpu_seconds

STEP_S = 0.05  # wall time between the log's steps
TAGS = ("train/loss", "train/lr", "train/grad_norm")


# ----- writing a log as TensorBoard does, fast ----------------------------------------------------------
def frame(events: list[bytes]) -> bytes:
    """Records as TensorBoard's RecordWriter writes them: length, CRC of the length, event, CRC of the event."""
    out = [b""] * len(events)
    by_len: dict[int, list[int]] = {}
    for i, e in enumerate(events):
        by_len.setdefault(len(e), []).append(i)
    for length, idx in by_len.items():
        body = np.frombuffer(b"".join(events[i] for i in idx), np.uint8).reshape(len(idx), length)
        head = struct.pack("<Q", length)
        head_crc = struct.pack("<I", int(masked_crc32c_rows(np.frombuffer(head, np.uint8)[None, :])[0]))
        crcs = masked_crc32c_rows(body)
        for i, crc in zip(idx, crcs.tolist(), strict=True):
            out[i] = head + head_crc + events[i] + struct.pack("<I", crc)
    return b"".join(out)


def write_log(folder: Path, megabytes: float, t0: float) -> int:
    """A finished run's log of about `megabytes` MB; returns its last step."""
    from tensorboard.compat.proto import event_pb2

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"events.out.tfevents.{int(t0)}.bench.{os.getpid()}.0"
    head = event_pb2.Event(wall_time=t0, file_version="brain.Event:2").SerializeToString()
    steps = max(10, int(megabytes * 1e6 / 150))  # ~150 bytes of records per step
    with open(path, "wb") as fh:
        fh.write(frame([head]))
        chunk = 20_000
        for lo in range(1, steps + 1, chunk):
            events = []
            for step in range(lo, min(steps, lo + chunk - 1) + 1):
                wall = t0 + step * STEP_S
                loss = 2.0 * np.exp(-step / (steps / 4)) + 0.05
                for tag, value in zip(TAGS, (loss, 1e-3, 1.0 + 0.1 * np.sin(step)), strict=True):
                    e = event_pb2.Event(wall_time=wall, step=step)
                    e.summary.value.add(tag=tag, simple_value=value)
                    events.append(e.SerializeToString())
                if step % 1000 == 0:
                    for tag, value in (("val/loss", loss + 0.1), ("val/accuracy", 0.9)):
                        e = event_pb2.Event(wall_time=wall, step=step)
                        e.summary.value.add(tag=tag, simple_value=value)
                        events.append(e.SerializeToString())
            fh.write(frame(events))
    old = time.time() - 3600  # a finished run's log: not written for an hour
    os.utime(path, (old, old))
    return steps


GROWER = r"""
import sys, time, math
from torch.utils.tensorboard import SummaryWriter
folder, rate, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
w = SummaryWriter(folder, flush_secs=1)
start = time.monotonic(); step = 0
while time.monotonic() - start < seconds:
    due = int((time.monotonic() - start) * rate)
    while step < due:
        step += 1
        w.add_scalar("train/loss", 2.0 * math.exp(-step / 500) + 0.05, step)
        w.add_scalar("train/lr", 1e-3, step)
        w.add_scalar("train/grad_norm", 1.0, step)
    time.sleep(0.02)
w.close()
print(step)
"""


# ----- the app ----------------------------------------------------------------------------------------
def children_cpu(proc: psutil.Process) -> float:
    total = 0.0
    for child in proc.children(recursive=True):
        try:
            total += cpu_seconds(child)
        except psutil.Error:
            pass
    return total


async def open_log(folder: Path, last_step: int, timeout: float = 120) -> dict:
    """Seconds from `attach` in the Train pane to the first curve and to the log's last step."""
    from tui_trainer.app import make_app
    from tui_trainer.panes.train import TrainPane

    app = make_app(initial_pane="train", theme="textual-dark")
    out: dict = {}
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(TrainPane)
        pane.focus()
        await pilot.pause(0.3)
        t0 = time.monotonic()
        ui0 = cpu_seconds(psutil.Process())
        pane.attach(folder)
        keys: list[float] = []
        next_key = t0
        while time.monotonic() - t0 < timeout:
            slot = pane.runs.get(pane.primary) if pane.primary else None
            step = slot.history.step if slot is not None else None
            if step is not None and "first_s" not in out:
                out["first_s"] = time.monotonic() - t0
            if step is not None and step >= last_step:
                out["full_s"] = time.monotonic() - t0
                out["events"] = slot.history.steps_seen
                break
            if time.monotonic() >= next_key:  # a key every 0.25 s while the log opens: does the UI answer?
                keys.append(await key_latency(app, pane))
                next_key = time.monotonic() + 0.25
            await asyncio.sleep(0.01)
        out["worst_key_s"] = max(keys, default=0.0)
        out["follower_cpu_s"] = children_cpu(psutil.Process())  # the reading itself, whatever the load
        out["ui_cpu_s"] = cpu_seconds(psutil.Process()) - ui0
        app.exit()
    end_followers()
    return out


async def follow_growing(folder: Path | None, seconds: float, rate: float) -> dict:
    from tui_trainer.app import make_app
    from tui_trainer.panes.train import TrainPane

    app = make_app(initial_pane="train", theme="textual-dark")
    proc = psutil.Process()
    out: dict = {}
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(TrainPane)
        await pilot.pause(0.5)
        writer = None
        if folder is not None:
            writer = subprocess.Popen(
                [sys.executable, "-c", GROWER, str(folder), str(rate), str(seconds + 2)],
                stdout=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            while not list(folder.glob("events.out.tfevents.*")) and writer.poll() is None:
                await asyncio.sleep(0.05)
            pane.attach(folder)
            await pilot.pause(1.5)  # the follower starts and reads what is there
        cpu0, kids0, wall0 = cpu_seconds(proc), children_cpu(proc), time.monotonic()
        await asyncio.sleep(seconds)
        cpu1, kids1, wall1 = cpu_seconds(proc), children_cpu(proc), time.monotonic()
        out["cpu_percent"] = 100 * (cpu1 - cpu0) / (wall1 - wall0)
        out["follower_percent"] = 100 * (kids1 - kids0) / (wall1 - wall0)
        if writer is not None:
            written = int(writer.communicate(timeout=60)[0].strip() or 0)
            slot = pane.runs.get(pane.primary) if pane.primary else None
            t = time.monotonic()
            while slot is not None and (slot.history.step or 0) < written and time.monotonic() - t < 10:
                await pilot.pause(0.1)
            out["written"], out["seen"] = written, (slot.history.step if slot else None)
        app.exit()
    end_followers()
    return out


def end_followers() -> None:
    """The log followers the app started for this benchmark (they would live until this process ends)."""
    for child in psutil.Process().children(recursive=True):
        try:
            if "tui_trainer.integrations.logdirs" in " ".join(child.cmdline()):
                child.terminate()
                child.wait(5)
        except psutil.Error:
            pass


def tensorboard_baseline(folder: Path) -> float:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    t0 = time.perf_counter()
    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    acc.Reload()
    assert acc.Scalars("train/loss")
    return time.perf_counter() - t0


def mirror(folder: Path) -> None:
    from tui_trainer.integrations.logdirs import mirror as mirror_log

    mirror_log(folder)


def fresh(folder: Path) -> None:
    shutil.rmtree(folder / ".tui-trainer", ignore_errors=True)  # the mirror: opened as for the first time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=20.0, help="size of the log opened in phase 1")
    parser.add_argument("--baseline-mb", type=float, default=3.0, help="size of the log for the baseline")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of app vs baseline")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of the growing-log phase")
    parser.add_argument("--rate", type=float, default=50.0, help="steps/s the growing log gains")
    parser.add_argument("--runs", type=int, default=8, help="log folders in the listing phase")
    parser.add_argument("--run-mb", type=float, default=4.0, help="MB of each of those")
    args = parser.parse_args()
    print(
        f"cpu cores: {psutil.cpu_count()}, load average: {', '.join(f'{x:.2f}' for x in psutil.getloadavg())}"
    )

    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        tmp_path = Path(tmp)
        t0 = time.time() - 10 * 86400
        big = tmp_path / "big" / "run"
        t = time.perf_counter()
        last = write_log(big, args.mb, t0)
        size = sum(f.stat().st_size for f in big.glob("events.*")) / 1e6
        print(
            f"wrote a {size:.0f} MB log ({last} steps, {3 * last} scalars) in {time.perf_counter() - t:.1f}s"
        )
        fresh(big)
        got = asyncio.run(open_log(big, last))
        full = got.get("full_s")
        print(
            f"open {size:.0f} MB log: first curve {got.get('first_s', float('nan')):.2f}s, whole curve "
            f"{full if full is not None else float('nan'):.2f}s ({got.get('events')} step reports), "
            f"{size / full if full else 0:.0f} MB/s; keys answered within {got['worst_key_s'] * 1000:.0f} ms meanwhile"
        )
        print(
            f"  the follower process used {got['follower_cpu_s']:.2f}s of CPU for it (start-up included), "
            f"the UI {got['ui_cpu_s']:.2f}s"
        )
        if size >= 99 and full is not None:
            print(
                f"  target: a 100 MB log's whole curve within 2 s -> {'OK' if full <= 2 else 'OVER'} at this load"
            )

        small = tmp_path / "small" / "run"
        small_last = write_log(small, args.baseline_mb, t0)
        ours, theirs = [], []
        for _ in range(args.rounds):
            fresh(small)
            ours.append(asyncio.run(open_log(small, small_last))["full_s"])
            theirs.append(tensorboard_baseline(small))
        ratio = statistics.median(t / o for o, t in zip(ours, theirs, strict=True))
        print(
            f"baseline {args.baseline_mb:.0f} MB: app whole curve {statistics.median(ours):.2f}s (its start-up "
            f"included), TensorBoard EventAccumulator {statistics.median(theirs):.2f}s -> EventAccumulator / app "
            f"= {ratio:.1f}x (median of {args.rounds} alternating rounds)"
        )

        mirror_s, accumulator_s = [], []
        for _ in range(args.rounds):  # the readers alone, in this process: no start-up on either side
            fresh(small)
            t = time.perf_counter()
            mirror(small)
            mirror_s.append(time.perf_counter() - t)
            accumulator_s.append(tensorboard_baseline(small))
        ratio = statistics.median(t / o for o, t in zip(mirror_s, accumulator_s, strict=True))
        print(
            f"reader alone {args.baseline_mb:.0f} MB: tui-trainer's mirror {statistics.median(mirror_s):.3f}s, "
            f"EventAccumulator {statistics.median(accumulator_s):.2f}s -> {ratio:.0f}x faster"
        )

        grow = tmp_path / "grow" / "run"
        grow.mkdir(parents=True)
        idle = asyncio.run(follow_growing(None, args.seconds, 0))
        live = asyncio.run(follow_growing(grow, args.seconds, args.rate))
        print(
            f"growing log, {args.rate:.0f} steps/s: UI {live['cpu_percent']:.1f}% of a core (idle app "
            f"{idle['cpu_percent']:.1f}%), follower process {live['follower_percent']:.1f}%; "
            f"{live.get('seen')}/{live.get('written')} steps shown at the end"
        )
        print(
            f"  target: UI under 5% of a core -> {'OK' if live['cpu_percent'] < 5 else 'OVER'}; "
            f"ratio following/idle {live['cpu_percent'] / max(idle['cpu_percent'], 1e-9):.2f}"
        )

        many = tmp_path / "many"
        for i in range(args.runs):
            write_log(many / f"run{i:02d}", args.run_mb, t0 + i * 3600)
        total = sum(f.stat().st_size for f in many.rglob("events.*")) / 1e6
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        t = time.perf_counter()
        listed = subprocess.run(
            [sys.executable, "-m", "tui_trainer", "runs", str(many), "--json"],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp,
            timeout=600,
        )
        took = time.perf_counter() - t
        import json

        runs = json.loads(listed.stdout) if listed.returncode == 0 else []
        unread = sum(1 for r in runs if "not read yet" in (r.get("detail") or ""))
        print(
            f"tui-trainer runs over {args.runs} logs, {total:.0f} MB: {took:.2f}s, {len(runs)} listed "
            f"({unread} with part of the log left for later: a listing reads at most 32 MB in all)"
        )
        newest = many / f"run{args.runs - 1:02d}"
        fresh(newest)
        t = time.perf_counter()
        got = asyncio.run(open_log(many, write_log_steps(args.run_mb)))
        print(
            f"open the {total:.0f} MB folder in the app ({min(args.runs, 8)} runs followed live): the main run's "
            f"whole curve in {got.get('full_s', float('nan')):.2f}s, keys answered within "
            f"{got['worst_key_s'] * 1000:.0f} ms meanwhile; the UI used {got['ui_cpu_s']:.2f}s of CPU, the "
            f"followers {got['follower_cpu_s']:.2f}s"
        )
    return 0


def write_log_steps(megabytes: float) -> int:
    return max(10, int(megabytes * 1e6 / 150))


if __name__ == "__main__":
    sys.exit(main())
