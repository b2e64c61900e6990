"""`tui-trainer watch -- CMD ARGS…`: run the user's own training command as a run, whatever it is written with.

`Watch` is the supervisor (the headless `watch` command runs it in its process): it starts CMD in its own
process group with `TUI_TRAINER_RUN_DIR` set, so `monitor.start()`, the Lightning and transformers callbacks
and `monitor.SummaryWriter` write into the run. The supervisor is the run's one writer (it holds
`RUN_DIR/events.jsonl`, whose lock says the run is alive for as long as it watches): the command's own
events go to `RUN_DIR/command/` (that is what `TUI_TRAINER_RUN_DIR` names) and are relayed into the run's
events.jsonl as they appear, beside the supervisor's own. It writes the child's stdout/stderr to
`RUN_DIR/console.log` (tqdm's carriage-return redraws folded into their final state, ANSI codes stripped),
mirrors TensorBoard / CSVLogger logs the child writes when the child reports no events itself, samples
telemetry for every process of the child's tree, and turns the exit code into `finished` / `failed`.

`WatchProcess` is the Train pane's handle on a watch: it runs the `watch` command as a process and offers
the interface of the engine's `EngineHandle` (events by `poll`, `stop` / `kill` / `pause`), so the pane
treats a watched command like a run it started. It imports nothing heavy: the UI process loads it.

Signals to a headless watch: SIGINT interrupts the command (a second SIGINT sends it SIGTERM, a third
SIGKILL), SIGTERM sends it SIGTERM, SIGUSR1 pauses / resumes it (SIGSTOP / SIGCONT), SIGUSR2 kills its whole
process tree at once.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tui_trainer.engine.events import Event, Failed, Finished, Log, Paused, Resumed, RunStarted, Step
from tui_trainer.integrations import RUN_DIR_ENV, close_without_end, write_event

CONSOLE_LOG = "console.log"
COMMAND_DIR = "command"  # where the command's own integrations write; relayed into RUN_DIR/events.jsonl
WATCH_LOG = "watch.log"  # the supervisor's own stderr when the pane starts it
HISTORY_FILE = "watch_history"
HISTORY_MAX = 50
POLL_S = 0.2
TELEMETRY_S = 2.0
# A redrawn line (a tqdm bar) is written to console.log at most this often while it keeps changing, so the
# file shows progress without one line per redraw.
PARTIAL_EVERY_S = 5.0

# CSI (colours, cursor moves, erase), OSC (titles, hyperlinks) and two-byte escapes.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


class ConsoleLines:
    """Turns a terminal byte stream into clean lines: what a terminal would finally show on each line.

    A carriage return starts the line over (tqdm redraws its bar that way), so a finished line is its last
    segment; ANSI escape codes are removed. `feed` returns the lines completed by a newline; `partial` is
    the line being redrawn now.
    """

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[str]:
        self._buffer += data
        if b"\n" not in data:
            return []
        *done, self._buffer = self._buffer.split(b"\n")
        return [self._clean(raw) for raw in done]

    @property
    def partial(self) -> str:
        return self._clean(self._buffer)

    def flush(self) -> list[str]:
        """The unfinished last line as a line (the stream ended), if it has any text."""
        rest, self._buffer = self._clean(self._buffer), b""
        return [rest] if rest.strip() else []

    @staticmethod
    def _clean(raw: bytes) -> str:
        text = strip_ansi(raw.decode("utf-8", "replace")).rstrip("\r")
        if "\r" in text:
            text = text.rsplit("\r", 1)[1]
        return text.rstrip()


def script_stem(cmd: Sequence[str]) -> str:
    """The name a run of `cmd` is called after: the script (`train.py` → `train`) or module, else the program."""
    args = list(cmd)
    for i, arg in enumerate(args):
        if arg == "-m" and i + 1 < len(args):
            return args[i + 1].rsplit(".", 1)[-1]
        if i > 0 and not arg.startswith("-") and Path(arg).suffix in (".py", ".sh", ".ipynb"):
            return Path(arg).stem
    return Path(args[0]).stem if args else "run"


def default_watch_dir(cmd: Sequence[str], root: Path = Path("runs")) -> Path:
    """`runs/<script stem>-<time>`, never a folder that exists."""
    from tui_trainer.engine.runs import default_run_dir

    return default_run_dir(Path(script_stem(cmd)), root)


def check_command(cmd: Sequence[str]) -> str:
    """The executable `cmd` starts, or UserError naming it when there is none."""
    from tui_trainer.errors import UserError

    if not cmd:
        raise UserError(
            "watch: give the command to run after `--`, e.g. tui-trainer watch -- python train.py"
        )
    program = cmd[0]
    found = shutil.which(program)
    if found is None:
        where = "no such file" if os.sep in program else "not found on PATH"
        raise UserError(f"watch: command {program!r}: {where}")
    return found


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(code).name
    except ValueError:
        return f"signal {code}"


def tree_pids(pid: int) -> set[int]:
    """`pid` and every live descendant (torchrun ranks, DataLoader workers)."""
    import psutil

    try:
        proc = psutil.Process(pid)
        return {pid} | {p.pid for p in proc.children(recursive=True)}
    except psutil.Error:
        return set()


class Watch:
    """Supervise one command as a run; see the module docstring. `run()` blocks until the command ends."""

    def __init__(
        self,
        cmd: Sequence[str],
        run_dir: Path,
        *,
        cwd: Path | None = None,
        emit: Callable[[Event], None] | None = None,
        telemetry_s: float | None = TELEMETRY_S,
        mirror_logs: bool = True,
        sampler: Any = None,
    ) -> None:
        from tui_trainer import monitor
        from tui_trainer.engine.follow import EventFollower

        self.cmd = list(cmd)
        self.run_dir = Path(run_dir)
        self.cwd = Path(cwd) if cwd else Path.cwd()
        self._emit = emit
        self._telemetry_s = telemetry_s
        self._sampler = (
            sampler  # a TelemetrySampler (tests give one with a fake NVML); None: made when started
        )
        self.program = check_command(self.cmd)
        self.run = monitor.start(
            self.run_dir,
            config={"watch": {"command": self.cmd, "cwd": str(self.cwd)}},
            echo=False,
            flush_interval_s=1.0,
        )
        self.command_dir = self.run_dir / COMMAND_DIR
        self._relay = EventFollower(self.command_dir)
        self._follower = EventFollower(self.run_dir)
        self.process: subprocess.Popen[bytes] | None = None
        self._interrupts = 0
        self._stop_requested = False
        self._killed = False
        self.paused = False
        self._console_lines: deque[str] = deque()
        self._console_done = threading.Event()
        self.last_step = 0
        self._child_started = False  # the command writes its own events (an integration or monitor)
        self._ended = False  # an end event was read after the last run_started
        self._mirror: Any = None
        if mirror_logs:
            from tui_trainer.integrations.logdirs import LogDiscovery

            self._mirror = LogDiscovery(self.cwd, since=time.time() - 1.0, run_dir=self.run_dir)

    # -- control ---------------------------------------------------------------------------------------
    def _signal(self, sig: int) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def interrupt(self) -> None:
        """Ask the command to stop: SIGINT first (Ctrl-C to it), SIGTERM the second time, SIGKILL the third."""
        self._stop_requested = True
        self._interrupts += 1
        if self._interrupts >= 3:
            self.kill()
        else:
            if self.paused:
                self.resume()
            self._signal(signal.SIGINT if self._interrupts == 1 else signal.SIGTERM)

    def terminate(self) -> None:
        self._stop_requested = True
        self._signal(signal.SIGCONT)
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL every process of the command's tree (its group, and any that left it)."""
        self._stop_requested = self._killed = True
        pids = tree_pids(self.process.pid) if self.process is not None else set()
        self._signal(signal.SIGKILL)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def pause(self) -> None:
        if not self.paused:
            self._signal(signal.SIGSTOP)
            self.paused = True
            write_event(self.run, Paused(step=self.last_step))

    def resume(self) -> None:
        if self.paused:
            self._signal(signal.SIGCONT)
            self.paused = False
            write_event(self.run, Resumed(step=self.last_step))

    def toggle_pause(self) -> None:
        self.resume() if self.paused else self.pause()

    # -- running ---------------------------------------------------------------------------------------
    def start(self) -> None:
        env = dict(os.environ)
        env[RUN_DIR_ENV] = str(self.command_dir.resolve())
        env.setdefault("PYTHONUNBUFFERED", "1")  # lines reach console.log as they are printed
        self.run.message(f"watch: {shlex.join(self.cmd)} (in {self.cwd})")
        self.run.flush()
        self.process = subprocess.Popen(
            [self.program, *self.cmd[1:]],
            cwd=self.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: our Ctrl-C reaches it only as we forward it
        )
        threading.Thread(target=self._read_console, name="tui-trainer-watch-console", daemon=True).start()
        if self._telemetry_s:
            threading.Thread(target=self._telemetry, name="tui-trainer-watch-telemetry", daemon=True).start()

    def _read_console(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        lines = ConsoleLines()
        last_partial_write = time.monotonic()
        with open(self.run_dir / CONSOLE_LOG, "a", encoding="utf-8") as log:
            fd = self.process.stdout.fileno()
            while True:
                data = os.read(fd, 65536)
                if not data:
                    break
                done = lines.feed(data)
                if not done and b"\r" in data and time.monotonic() - last_partial_write >= PARTIAL_EVERY_S:
                    done = [lines.partial]  # a bar redrawn for a long time: one snapshot now and then
                if done:
                    last_partial_write = time.monotonic()
                    log.write("\n".join(done) + "\n")
                    log.flush()
                    self._console_lines.extend(done)
            rest = lines.flush()
            if rest:
                log.write(rest[0] + "\n")
                self._console_lines.extend(rest)
        self._console_done.set()

    def _telemetry(self) -> None:
        from tui_trainer.engine.telemetry import TelemetrySampler

        sampler = self._sampler or TelemetrySampler(interval_s=self._telemetry_s or TELEMETRY_S)
        try:
            while self.process is not None and self.process.poll() is None:
                time.sleep(self._telemetry_s or TELEMETRY_S)
                sampler.training_pids = tree_pids(self.process.pid) or sampler.training_pids
                try:
                    write_event(self.run, sampler.sample(), flush=False)  # not this thread's to flush
                except Exception:  # telemetry never takes the watch down
                    pass
        finally:
            sampler.stop()

    def _pump(self) -> None:
        """Pass on what happened since the last call: console lines, the command's events, mirrored logs."""
        while self._console_lines:
            line = self._console_lines.popleft()
            if self._emit is not None:
                self._emit(Log(message=line, level="info"))
        relayed = self._relay.poll()
        for event in relayed:
            if isinstance(event, RunStarted):
                self._child_started, self._ended = True, False
            elif isinstance(event, Finished | Failed):
                self._ended = True
            elif isinstance(event, Step):
                self.last_step = max(self.last_step, event.step)
        if relayed:
            write_event(self.run, *(self._adopt(e) for e in relayed))
        if self._mirror is not None and not self._child_started:
            self._mirror.poll_into(self.run)
            self.last_step = max(self.last_step, self.run.last_step)
        for event in self._follower.poll():
            if self._emit is not None:
                self._emit(event)

    def _adopt(self, event: Event) -> Event:
        # The command's run_started names the folder it wrote to; in the run it names the run.
        if isinstance(event, RunStarted):
            return dataclasses.replace(event, run_dir=str(self.run_dir.resolve()), run_id=self.run_dir.name)
        return event

    def wait(self) -> int:
        """Until the command ends: pass events on, then write how it ended. Returns its exit status."""
        assert self.process is not None, "call start() first"
        while self.process.poll() is None:
            self._pump()
            time.sleep(POLL_S)
        self._console_done.wait(5.0)
        code = self.process.returncode
        self.run.flush()
        self._pump()
        self._end(code)
        self._pump()
        return code if code >= 0 else 128 - code

    def _end(self, code: int) -> None:
        self.run.last_step = self.last_step
        if self._mirror is not None and not self._child_started:
            self._mirror.poll_into(self.run, final=True)
            self.run.last_step = max(self.last_step, self.run.last_step)
        if self._ended:
            close_without_end(self.run)  # the command's own end event says how it ended
            return
        if code == 0:
            self.run.finish("completed")
        elif self._killed:
            self.run.fail("the command was killed (SIGKILL) on request")
        elif self._stop_requested:
            self.run.finish("stopped")
        else:
            why = f"killed by {_signal_name(-code)}" if code < 0 else f"exited with code {code}"
            tail = "\n".join(self._tail_of_console())
            self.run.fail(f"the command {why}", tail)

    def _tail_of_console(self, lines: int = 20) -> list[str]:
        try:
            with open(self.run_dir / CONSOLE_LOG, "rb") as fh:
                fh.seek(max(0, fh.seek(0, os.SEEK_END) - 16384))
                return fh.read().decode("utf-8", "replace").splitlines()[-lines:]
        except OSError:
            return []


def run_watch(cmd: Sequence[str], run_dir: Path, *, emit: Callable[[Event], None] | None = None) -> int:
    """The headless `watch`: supervise `cmd` with the signals of the module docstring; returns its exit status."""
    watch = Watch(cmd, run_dir, emit=emit)
    handlers = {
        signal.SIGINT: lambda s, f: watch.interrupt(),
        signal.SIGTERM: lambda s, f: watch.terminate(),
        signal.SIGUSR1: lambda s, f: watch.toggle_pause(),
        signal.SIGUSR2: lambda s, f: watch.kill(),
    }
    previous = {}
    for sig, handler in handlers.items():
        try:
            previous[sig] = signal.signal(sig, handler)
        except ValueError:  # not the main thread
            pass
    try:
        watch.start()
        return watch.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# ----- the Train pane's side ---------------------------------------------------------------------------
def history_path() -> Path:
    from tui_trainer.paths import state_dir

    return state_dir() / HISTORY_FILE


def load_history() -> list[str]:
    """Commands watched before, newest first."""
    try:
        lines = history_path().read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    return [line for line in lines if line.strip()]


def remember(command: str) -> None:
    entries = [command] + [c for c in load_history() if c != command]
    path = history_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(entries[:HISTORY_MAX]) + "\n", encoding="utf-8")
    except OSError:
        pass


class WatchProcess:
    """The pane's handle on a `tui-trainer watch` process: the `EngineHandle` interface (see module docstring)."""

    def __init__(self, cmd: Sequence[str], run_dir: Path, cwd: Path | None = None) -> None:
        from tui_trainer.engine.follow import EventFollower

        self.cmd = list(cmd)
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with open(self.run_dir / WATCH_LOG, "ab") as err:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tui_trainer",
                    "watch",
                    "--headless",
                    "--run-dir",
                    str(self.run_dir),
                    "--",
                ]
                + self.cmd,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,
            )
        self._follower = EventFollower(self.run_dir)
        self._console_offset = 0
        self._console_partial = b""
        self._stops = 0
        self._paused = False

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def exitcode(self) -> int | None:
        return self.process.poll()

    def is_alive(self) -> bool:
        return self.process.poll() is None

    def _console(self) -> list[Event]:
        try:
            with open(self.run_dir / CONSOLE_LOG, "rb") as fh:
                fh.seek(self._console_offset)
                data = fh.read(1 << 20)
        except OSError:
            return []
        self._console_offset += len(data)
        data = self._console_partial + data
        cut = data.rfind(b"\n")
        self._console_partial = data[cut + 1 :]
        if cut < 0:
            return []
        return [Log(message=line) for line in data[:cut].decode("utf-8", "replace").split("\n")]

    def poll(self, timeout: float = 0.0) -> list[Event]:
        events = self._console() + self._follower.poll()
        if not events and timeout > 0:
            time.sleep(min(timeout, POLL_S))
        return events

    def _signal(self, sig: int) -> None:
        if self.is_alive():
            try:
                os.kill(self.process.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self) -> None:
        """SIGINT to the command the first time, SIGTERM the second (the watch forwards and escalates)."""
        self._stops += 1
        self._signal(signal.SIGINT)

    def kill(self) -> None:
        """SIGKILL the command's whole tree; the watch then writes `failed` and exits."""
        self._signal(signal.SIGUSR2)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)

    def pause(self) -> None:
        if not self._paused:
            self._paused = True
            self._signal(signal.SIGUSR1)

    def resume(self) -> None:
        if self._paused:
            self._paused = False
            self._signal(signal.SIGUSR1)

    def checkpoint(self) -> None:
        """A watched command saves checkpoints on its own schedule; there is nothing to ask it."""

    def join(self, timeout: float | None = None) -> int | None:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None


def start_watch(
    command: str, run_dir: Path | None = None, cwd: Path | None = None
) -> tuple[WatchProcess, Path]:
    """Parse a command line typed in the pane, check it, remember it, and start watching it."""
    from tui_trainer.errors import UserError

    try:
        cmd = shlex.split(command)
    except ValueError as exc:
        raise UserError(f"watch: cannot parse the command line ({exc})") from None
    check_command(cmd)
    run_dir = Path(run_dir) if run_dir else default_watch_dir(cmd)
    remember(command.strip())
    return WatchProcess(cmd, run_dir, cwd), run_dir


def last_command(default: str = "python train.py") -> str:
    """The command the pane's `w` prompt starts with: the one watched last."""
    history = load_history()
    return history[0] if history else default
