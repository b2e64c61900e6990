"""Run the engine in its own process (multiprocessing spawn) so a crash, NaN or CUDA OOM cannot take the UI down.

The child runs `loop.run_training` and puts every event on a queue (besides writing `events.jsonl`);
the UI side drains it with `EngineHandle.poll` from a thread worker. Commands go the other way on a
second queue. This module imports no torch: the app imports it, the child imports the loop.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import time
from pathlib import Path
from typing import Any

from tui_trainer.engine.control import Pause, Resume, SaveCheckpoint, Stop
from tui_trainer.engine.events import Event, Failed, Finished

# The child's events are small and bounded in rate, but a UI that stops draining must not make the
# engine block forever on a full queue; past this size the child drops queue copies (the file keeps all).
QUEUE_MAX = 10_000
FLUSH_GRACE_S = 10.0  # how long a finished child waits for the UI to take its last events


ENGINE_LOG = "engine.log"  # the training child's stdout and stderr, inside the run folder


def _redirect_output(path: Path) -> None:
    """Send this process's stdout and stderr (file descriptors 1 and 2) to `path`.

    The child inherits the app's terminal; a warning printed by torch, a C library or user code would be
    drawn over the Textual screen. At the fd level, so output from native code is caught too.
    """
    import os
    import sys

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError:
        fd = os.open(os.devnull, os.O_WRONLY)
    for stream, target in ((sys.stdout, 1), (sys.stderr, 2)):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass
        os.dup2(fd, target)
    os.close(fd)
    sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115


def _child_main(
    config_dict: dict[str, Any],
    base_dir: str,
    source: str | None,
    run_dir: str,
    resume: bool,
    events,
    commands,
) -> None:
    import logging
    import os
    import traceback

    try:
        # Its own session: closing the terminal (SIGHUP to that session) does not end a run the user chose to
        # detach when quitting the app (`tui-trainer attach RUN` follows it later).
        os.setsid()
    except OSError:
        pass
    _redirect_output(Path(run_dir) / ENGINE_LOG)
    parent = os.getppid()

    from tui_trainer.engine.config import config_from_dict
    from tui_trainer.engine.loop import run_training

    def emit(event: Event) -> None:
        if os.getppid() != parent:
            return  # the app quit and left this run detached: nobody reads the queue (events.jsonl has all)
        try:
            events.put_nowait(event)
        except queue.Full:
            pass

    try:
        config = config_from_dict(config_dict, where=source or "config", base_dir=Path(base_dir))
        config.source = Path(source) if source else None
        result = run_training(config, Path(run_dir), emit=emit, commands=commands, resume=resume)
        code = result.exit_code
    except Exception as exc:  # UserError: run_training already reported it as a `failed` event
        from tui_trainer.errors import UserError

        if not isinstance(exc, UserError):
            known = classify_failure(exc, 0, Path(run_dir))
            code, error = (known[0], known[1]) if known else ("crash", f"{type(exc).__name__}: {exc}")
            emit(Failed(error=error, traceback=traceback.format_exc(), code=code))
        logging.getLogger("tui_trainer.engine.process").debug("engine child failed", exc_info=True)
        code = 2 if isinstance(exc, UserError) else 1
    # Let the queue's feeder thread push the last events into the pipe, but not forever: if the UI stopped
    # reading, the pipe stays full; everything is in events.jsonl anyway, so leave after a grace period.
    events.close()
    import threading

    flusher = threading.Thread(target=events.join_thread, daemon=True)
    flusher.start()
    flusher.join(FLUSH_GRACE_S)
    if flusher.is_alive():
        os._exit(code)
    raise SystemExit(code)


OOM_FIX = "Lower train.batch_size, use train.precision = 'bf16'/'fp16', or a smaller model."


def classify_failure(exc: BaseException, step: int, run_dir: Path) -> tuple[str, str, str] | None:
    """(code, message, fix) for the failures that are not bugs: memory and the disk. None for anything else.

    Out of memory on the GPU (torch.cuda.OutOfMemoryError) and on the host (MemoryError, or the
    RuntimeError "DefaultCPUAllocator: can't allocate memory" torch raises) are `out_of_memory`; an OSError
    (disk full, read-only or vanished run folder, I/O error) is `io_error`, naming the path. No torch import:
    the class is recognised by name.
    """
    text = str(exc)
    first = (text.strip().splitlines() or [type(exc).__name__])[0][:300]
    if (
        isinstance(exc, MemoryError)
        or type(exc).__name__ == "OutOfMemoryError"
        or "out of memory" in text.lower()
        or "can't allocate memory" in text.lower()
        or "cannot allocate memory" in text.lower()
    ):
        return "out_of_memory", f"out of memory at step {step}: {first}", OOM_FIX
    if isinstance(exc, OSError):
        where = Path(exc.filename) if exc.filename else Path(run_dir)
        why = exc.strerror or first
        try:
            in_run = where.resolve().is_relative_to(Path(run_dir).resolve())
        except (OSError, RuntimeError, ValueError):
            in_run = False
        if in_run:
            return (
                "io_error",
                f"cannot write {where}: {why} (at step {step}); free space or fix the folder, then resume with "
                f"`tui-trainer train --resume {run_dir}`",
                "",
            )
        return "io_error", f"cannot read {where}: {why} (at step {step})", ""
    return None


def lost_engine_failure(exitcode: int | None, run_dir: Path) -> Failed:
    """The `failed` event (code `killed`) for an engine process that died without reporting an end.

    The one place this is worded: the live handle appends it to events.jsonl, and a test's fake engine uses it.
    """
    if exitcode is not None and exitcode < 0:
        import signal

        try:
            why = f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            why = f"killed by signal {-exitcode}"
    else:
        why = f"exited with code {exitcode}"
    return Failed(
        error=f"the engine process {why} without reporting an end; resume with `tui-trainer train --resume {run_dir}`",
        code="killed",
    )


class EngineHandle:
    """The UI's grip on a training child: events out, commands in, liveness."""

    def __init__(self, process: Any, run_dir: Path, events: Any, commands: Any) -> None:
        self.process = process
        self.run_dir = Path(run_dir)
        self._events = events
        self._commands = commands
        self._ended = False  # a `finished` or `failed` event has been seen
        self._synthesised = False
        self.detached = False  # left running when the app quit (see detach)

    @property
    def pid(self) -> int | None:
        return self.process.pid

    @property
    def exitcode(self) -> int | None:
        return self.process.exitcode

    def is_alive(self) -> bool:
        return self.process.is_alive()

    def poll(self, timeout: float = 0.0) -> list[Event]:
        """Drain the event queue, waiting at most `timeout` for the first event.

        A child that died without a `finished`/`failed` event (killed, segfault) gets a synthesised
        `failed` event, appended to events.jsonl too, so the run's history says what happened.
        """
        out: list[Event] = []
        try:
            out.append(self._events.get(timeout=timeout) if timeout > 0 else self._events.get_nowait())
        except (queue.Empty, EOFError, OSError, ValueError):
            pass
        while True:
            try:
                out.append(self._events.get_nowait())
            except (queue.Empty, EOFError, OSError, ValueError):
                break
        if any(isinstance(e, Finished | Failed) for e in out):
            self._ended = True
        if not out and not self._ended and not self._synthesised and not self.process.is_alive():
            # Give the feeder pipe a moment: the last events can arrive just after exit is observed.
            deadline = time.monotonic() + 0.5
            while time.monotonic() < deadline:
                try:
                    out.append(self._events.get(timeout=0.1))
                except (queue.Empty, EOFError, OSError, ValueError):
                    if out:
                        break
            if any(isinstance(e, Finished | Failed) for e in out):
                self._ended = True
            elif not out:
                out.append(self._synthesise_failure())
        return out

    def _synthesise_failure(self) -> Failed:
        self._synthesised = True
        self._ended = True
        event = lost_engine_failure(self.process.exitcode, self.run_dir)
        try:
            from tui_trainer.engine.eventlog import EventLog

            with EventLog(self.run_dir) as writer:
                writer.write(event)
        except OSError:
            pass
        return event

    def _send(self, command: Any) -> None:
        try:
            self._commands.put(command)
        except (OSError, ValueError):
            pass

    def pause(self) -> None:
        self._send(Pause())

    def resume(self) -> None:
        self._send(Resume())

    def stop(self) -> None:
        self._send(Stop())

    def checkpoint(self) -> None:
        self._send(SaveCheckpoint())

    def kill(self) -> None:
        """SIGKILL the child (no checkpoint); the next poll reports it as a `failed` event."""
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)

    def join(self, timeout: float | None = None) -> int | None:
        self.process.join(timeout)
        return self.process.exitcode

    def detach(self) -> None:
        """Let the child outlive this process (the app quits, the run goes on; `tui-trainer attach` follows it).

        The child is in its own session already (a closed terminal does not end it). multiprocessing's exit
        handler terminates daemonic children and joins the others; taking it off that list leaves it alone.
        Commands sent so far (a Stop) are flushed into the pipe first; events stop being read here (the child
        notices its parent is gone and only writes events.jsonl).
        """
        from multiprocessing import process as mp_process

        self.detached = True
        mp_process._children.discard(self.process)  # noqa: SLF001 - the only way to opt out of the exit handler
        for q in (self._commands, self._events):
            try:
                q.close()
            except (OSError, ValueError):
                pass
        try:
            self._commands.join_thread()
        except (AssertionError, OSError, ValueError):  # no feeder thread: nothing was ever sent
            pass
        self._events.cancel_join_thread()


def start_engine(config: Any, run_dir: Path, resume: bool = False) -> EngineHandle:
    """Spawn the training child for `config` (a TrainConfig) writing into `run_dir`."""
    from tui_trainer.engine.config import config_to_dict

    ctx = mp.get_context("spawn")
    events = ctx.Queue(QUEUE_MAX)
    commands = ctx.Queue()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    process = ctx.Process(
        target=_child_main,
        args=(
            config_to_dict(config),
            str(config.base_dir),
            str(config.source) if config.source else None,
            str(run_dir),
            resume,
            events,
            commands,
        ),
        name=f"tui-trainer-engine-{run_dir.name}",
        daemon=True,
    )
    process.start()
    return EngineHandle(process, run_dir, events, commands)
