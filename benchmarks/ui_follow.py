"""UI cost of following a run: CPU of the app process while it attaches to a growing events.jsonl, and a 10k events/s burst.

    python benchmarks/ui_follow.py [--seconds 8] [--rate 50] [--burst-rate 10000] [--flood-rate 100000]

A separate writer process appends step events to RUN_DIR/events.jsonl at a steady rate (a typical run logs
tens of steps a second), while this process runs the real app headless on the Train pane, attached to it.
CPU is measured with psutil as process CPU time over wall time (percent of one core). The baseline is the same
app, in the same process, sitting idle on the Train pane for the same time, so the figure that matters is
the difference: what following costs. Target (issue 6): under 5% of a core while following.

The burst phase writes 10,000 events/s and reports whether the pane kept up (every event ingested, lag at the
end) and how many redraws it made (target: at most ~10 a second, however many events arrive).

The flood phase writes 100,000 lines/s (issue 13) and measures key latency while the pane reads them: every
0.25 s a key (`l`, log scale) is delivered as the terminal driver delivers one and timed until its action has
run. Target: the worst key within 0.3 s, and the pane caught up soon after the writer stops. It prints the
ratio of the flood's worst key latency to the idle one.

TensorBoard logs (time to a 100 MB log's whole curve, the UI's CPU while a real SummaryWriter grows a log,
TensorBoard's EventAccumulator as the baseline): `python benchmarks/tb_follow.py`.
"""

from __future__ import annotations

import sys
from pathlib import Path

# benchmarks/ holds scripts named like stdlib modules (inspect.py); keep them from shadowing the real ones.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import psutil  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WRITER = r"""
import sys, time
from tui_trainer.engine.events import RunStarted, Step, System, to_json
path, rate, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
# One real step line as a template: formatting numbers into it keeps up with 100k lines/s; the lines are the
# engine's own (to_json of a Step), so the reader parses exactly what a run writes.
template = to_json(Step(step=123456789, epoch=0, loss=0.5, lr=1e-3, grad_norm=1.0, samples_per_s=1000.0, time=1.5))
head, tail = template.split("123456789")
time_head, time_tail = head.split("1.5")
system = to_json(System(cpu_percent=50.0, ram_used_bytes=1, ram_total_bytes=2))
with open(path, "a", encoding="utf-8") as fh:
    fh.write(to_json(RunStarted(run_id="bench", run_dir=path, total_steps=10**9)) + "\n")
    fh.flush()
    start = time.monotonic()
    step = 0
    tick = 0.02  # write in 50 batches a second, flushed, like the engine
    while True:
        now = time.monotonic() - start
        if now >= seconds:
            break
        due = int(now * rate)
        stamp = repr(time.time())
        prefix = time_head + stamp + time_tail
        lines = []
        while step < due:
            step += 1
            lines.append(prefix + str(step) + tail)
            if step % 500 == 0:
                lines.append(system)
        if lines:
            fh.write("\n".join(lines) + "\n")
            fh.flush()
        time.sleep(tick)
print(step)
"""


async def key_latency(app, pane) -> float:
    """Seconds from a key reaching the app (as the terminal driver delivers it) to its action having run.

    The key is `l` (log scale), a Train pane binding: it goes through the app, the focused pane and its
    parents, as a user's key does, and its action flips the charts' `log_scale`.
    """
    from textual import events

    from tui_trainer.widgets.chart import Chart

    chart = pane.query_one("#loss-chart", Chart)
    before = chart.log_scale
    key = events.Key("l", "l")
    key.set_sender(app)
    t0 = time.monotonic()
    app._driver.send_message(key)
    while chart.log_scale == before and time.monotonic() - t0 < 30:
        await asyncio.sleep(0.001)
    return time.monotonic() - t0


def cpu_seconds(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


async def measure(seconds: float, run_dir: Path | None, rate: float) -> dict:
    from tui_trainer.app import make_app
    from tui_trainer.panes.train import TrainPane

    app = make_app(initial_pane="train", theme="textual-dark")
    proc = psutil.Process()
    result: dict = {}
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(TrainPane)
        await pilot.pause(0.5)  # let start-up work finish before measuring
        writer = None
        if run_dir is not None:
            writer = subprocess.Popen(
                [sys.executable, "-c", WRITER, str(run_dir / "events.jsonl"), str(rate), str(seconds)],
                stdout=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            while not (run_dir / "events.jsonl").exists() and writer.poll() is None:
                await asyncio.sleep(0.02)
            pane.attach(run_dir)
        pane.focus()
        await pilot.pause(0.1)
        redraws0 = pane.redraws
        cpu0, wall0 = cpu_seconds(proc), time.monotonic()
        latencies: list[float] = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            latencies.append(await key_latency(app, pane))
            await asyncio.sleep(0.25)  # four keys a second: each redraws both charts in the other scale
        cpu1, wall1 = cpu_seconds(proc), time.monotonic()
        result["worst_answer_s"] = max(latencies) if latencies else 0.0
        result["median_answer_s"] = sorted(latencies)[len(latencies) // 2] if latencies else 0.0
        result["cpu_percent"] = 100 * (cpu1 - cpu0) / (wall1 - wall0)
        result["redraws_per_s"] = (pane.redraws - redraws0) / (wall1 - wall0)
        if writer is not None:
            written = int(writer.communicate(timeout=30)[0].strip() or 0)
            history = pane.runs[pane.primary].history
            seen_at_end = history.steps_seen
            catch_up_start = time.monotonic()
            while history.steps_seen < written and time.monotonic() - catch_up_start < 30:
                await pilot.pause(0.05)
            result.update(
                written=written,
                seen_at_end=seen_at_end,
                seen=history.steps_seen,
                catch_up_s=time.monotonic() - catch_up_start,
                buckets=history.bucket_count(),
            )
        app.exit()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each measured phase")
    parser.add_argument(
        "--rate", type=float, default=50.0, help="steady steps/s the writer appends while following"
    )
    parser.add_argument("--burst-rate", type=float, default=10_000.0, help="events/s of the burst phase")
    parser.add_argument("--flood-rate", type=float, default=100_000.0, help="lines/s of the flood phase")
    args = parser.parse_args()

    print(
        f"cpu cores: {psutil.cpu_count()}, load average: {', '.join(f'{x:.2f}' for x in psutil.getloadavg())}"
    )
    idle = asyncio.run(measure(args.seconds, None, 0))
    print(
        f"baseline  idle Train pane:           {idle['cpu_percent']:5.1f}% of a core, {idle['redraws_per_s']:.1f} redraws/s"
    )
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "steady"
        run_dir.mkdir()
        steady = asyncio.run(measure(args.seconds, run_dir, args.rate))
    extra = steady["cpu_percent"] - idle["cpu_percent"]
    print(
        f"following {args.rate:.0f} steps/s:            {steady['cpu_percent']:5.1f}% of a core "
        f"(+{extra:.1f} over idle), {steady['redraws_per_s']:.1f} redraws/s, "
        f"{steady['seen']}/{steady['written']} steps ingested"
    )
    print(f"  target: under 5% of a core while following -> {'OK' if steady['cpu_percent'] < 5 else 'OVER'}")
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "burst"
        run_dir.mkdir()
        burst = asyncio.run(measure(min(args.seconds, 4.0), run_dir, args.burst_rate))
    print(
        f"burst {args.burst_rate:.0f} events/s:          {burst['cpu_percent']:5.1f}% of a core, "
        f"{burst['redraws_per_s']:.1f} redraws/s, {burst['seen_at_end']}/{burst['written']} ingested when the "
        f"writer stopped, all {burst['seen']} after {burst['catch_up_s']:.2f}s more; {burst['buckets']} buckets held"
    )
    kept_up = burst["seen"] == burst["written"] and burst["redraws_per_s"] <= 11
    print(f"  target: keep up with redraws <= ~10/s -> {'OK' if kept_up else 'NO'}")
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "flood"
        run_dir.mkdir()
        flood = asyncio.run(measure(min(args.seconds, 4.0), run_dir, args.flood_rate))
    print(
        f"flood {args.flood_rate:.0f} lines/s:         {flood['cpu_percent']:5.1f}% of a core, keys answered in "
        f"{flood['median_answer_s'] * 1000:.0f} ms median, {flood['worst_answer_s'] * 1000:.0f} ms worst (idle: "
        f"{idle['worst_answer_s'] * 1000:.0f} ms); {flood['seen_at_end']}/{flood['written']} ingested when the "
        f"writer stopped, all {flood['seen']} after {flood['catch_up_s']:.2f}s more"
    )
    ok = flood["worst_answer_s"] <= 0.3 and flood["seen"] == flood["written"]
    print(f"  target: keys within 0.3 s and every line ingested -> {'OK' if ok else 'NO'}")
    print(f"ratio following/idle CPU: {steady['cpu_percent'] / max(idle['cpu_percent'], 1e-9):.2f}")
    print(f"ratio flood/idle worst key latency: {flood['worst_answer_s'] / max(idle['worst_answer_s'], 1e-4):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
