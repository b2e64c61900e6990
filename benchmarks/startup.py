# ruff: noqa: E402
"""Start-up and quit as a user sees them: the app in a real pseudo-terminal, against a bare Textual app.

Figures (issue 14): `tui-trainer --version` (target < 0.3 s); the first frame, from spawn until the tab bar is on
the screen (target < 0.6 s, also printed as a ratio to a bare Textual app's first frame: a Header, a Static and a
Footer, the part no app can avoid); quit, from the `q` key until the terminal is restored (alt screen left) and
until the process has exited and the shell prompt would be back (target < 0.3 s, no run live).
Rounds interleave (bare, app, bare, app…) so load from other processes hits both alike; medians are reported.
Run: python benchmarks/startup.py [--repeats N] [--settle S]
"""

from __future__ import annotations

import os
import sys

# As a script, this folder is sys.path[0], and benchmarks/inspect.py would shadow the standard library's
# `inspect` (imported by numpy, torch, dataclasses); drop the folder before importing anything that needs it.
if sys.path and os.path.realpath(sys.path[0] or ".") == os.path.dirname(os.path.realpath(__file__)):
    sys.path.pop(0)

import argparse
import fcntl
import pty
import select
import signal
import statistics
import struct
import subprocess
import tempfile
import termios
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SIZE = (100, 30)  # columns, rows
LEAVE_ALT_SCREEN = b"\x1b[?1049l"
# The pty plays a plain VT220-class terminal: it answers Primary Device Attributes (every terminal does; the
# app asks once before starting, to learn whether Sixel/Kitty images are possible) and nothing else.
DEVICE_ATTRIBUTES_QUERY = b"\x1b[c"
DEVICE_ATTRIBUTES_ANSWER = b"\x1b[?62;22c"

BARE_TEXTUAL_APP = r"""
from textual.app import App
from textual.widgets import Footer, Header, Static

class Bare(App):
    BINDINGS = [("q", "quit", "Quit")]

    def compose(self):
        yield Header()
        yield Static("hello")
        yield Footer()

Bare().run()
"""


@dataclass
class Session:
    first_frame: float  # spawn → the marker text on screen
    first_frame_cpu: float  # CPU seconds the process had used by then (what load hardly changes)
    restored: float  # quit key → the alt screen left
    exited: float  # quit key → the process gone


def in_terminal(cmd: list[str], marker: bytes, settle: float, env: dict[str, str]) -> Session:
    """Run `cmd` in a pty of SIZE, wait for `marker` in its output, let it settle, press q, time the way out."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[1], SIZE[0], 0, 0))
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=REPO, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
    )
    os.close(slave)
    seen = bytearray()

    def read_until(predicate, deadline: float) -> float:
        while time.perf_counter() < deadline:
            ready, _, _ = select.select([master], [], [], 0.01)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    chunk = b""
                if DEVICE_ATTRIBUTES_QUERY in chunk:
                    os.write(master, DEVICE_ATTRIBUTES_ANSWER)  # as every terminal does
                seen.extend(chunk)
            if predicate():
                return time.perf_counter()
        raise SystemExit(f"{' '.join(cmd)}: timed out; last output {bytes(seen[-400:])!r}")

    try:
        first_frame = read_until(lambda: marker in seen, start + 30) - start
        first_frame_cpu = cpu_seconds(proc.pid)
        settled = start + first_frame + settle
        read_until(
            lambda: time.perf_counter() >= settled, settled + 1
        )  # keep reading: a full pty would block it
        seen.clear()
        pressed = time.perf_counter()
        os.write(master, b"q")
        restored = read_until(lambda: LEAVE_ALT_SCREEN in seen, pressed + 30) - pressed
        exited = read_until(lambda: proc.poll() is not None, pressed + 30) - pressed
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        os.close(master)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}")
    return Session(first_frame, first_frame_cpu, restored, exited)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process (Linux /proc), or NaN where that cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def wall(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--settle", type=float, default=2.0, help="seconds between the first frame and q (default 2)"
    )
    args = parser.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory() as home:
        # A fresh config/state/cache per run of the benchmark: no user theme or log folder changes the figures.
        env = dict(os.environ, TERM="xterm-256color", COLORTERM="truecolor")
        for var in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
            env[var] = os.path.join(home, var)
        env.pop("TEXTUAL", None)
        interpreter, version, bare, app = [], [], [], []
        for _ in range(args.repeats):  # interleaved rounds
            interpreter.append(wall([py, "-c", "pass"], env))
            version.append(wall([py, "-m", "tui_trainer", "--version"], env))
            bare.append(in_terminal([py, "-c", BARE_TEXTUAL_APP], b"hello", args.settle, env))
            app.append(in_terminal([py, "-m", "tui_trainer"], b"Environment", args.settle, env))

    def row(label: str, samples: list[float], target: float | None = None) -> None:
        med = statistics.median(samples)
        verdict = "" if target is None else ("  OK" if med < target else f"  OVER target {target:.1f} s")
        print(f"{label:<44} median {med * 1000:7.1f} ms  best {min(samples) * 1000:7.1f} ms{verdict}")

    print(f"{args.repeats} interleaved rounds, {SIZE[0]}x{SIZE[1]} pty, load {os.getloadavg()[0]:.2f}")
    row("bare interpreter", interpreter)
    row("tui-trainer --version", version, 0.3)
    row("bare Textual app: first frame", [s.first_frame for s in bare])
    row("tui-trainer: first frame", [s.first_frame for s in app], 0.6)
    row("bare Textual app: CPU time to first frame", [s.first_frame_cpu for s in bare])
    row("tui-trainer: CPU time to first frame", [s.first_frame_cpu for s in app])
    row("bare Textual app: q to restored terminal", [s.restored for s in bare])
    row("bare Textual app: q to process exit", [s.exited for s in bare])
    row("tui-trainer: q to restored terminal", [s.restored for s in app], 0.3)
    row("tui-trainer: q to process exit", [s.exited for s in app], 0.3)
    ratios = [a.first_frame / b.first_frame for a, b in zip(app, bare, strict=True)]
    print(f"first frame / bare Textual app's first frame: median x{statistics.median(ratios):.2f}")
    cpu = statistics.median(a.first_frame_cpu / b.first_frame_cpu for a, b in zip(app, bare, strict=True))
    print(f"CPU time to the first frame / bare Textual app's: median x{cpu:.2f} (load hardly moves this one)")


if __name__ == "__main__":
    main()
