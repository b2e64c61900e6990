"""The driver facade between a run's events and the Train pane: a thread worker drains them and posts Messages.

A live run (an `EngineHandle` from `engine.process`) and an attached run (an `EventFollower` tailing
`events.jsonl`) are the same code path: both are an `EventSource` with `poll(timeout)`. No engine code knows a
widget, and no widget is touched from the worker thread: the bridge only calls `post_message`, which is
thread-safe. Commands from the UI to the engine go through the handle's methods (they put small dataclasses on
the engine's command queue).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from textual.message import Message
from textual.message_pump import MessagePump
from textual.worker import get_current_worker

from tui_trainer.engine.events import Event, Failed, Finished, RunStarted

# How long one poll waits for events: short enough that cancelling a worker is prompt.
POLL_TIMEOUT_S = 0.1
# A run writing 10,000 events/s yields ~1,000 per poll: one message, not 1,000. While the pane ingests a batch
# the event loop serves nothing else, and a key hops through several widgets' queues, so a batch is kept to
# what the pane ingests in a few milliseconds: 1,000 events.
MAX_BATCH = 1000
# Back-pressure: while the pane has this many messages waiting, the worker waits instead of piling on, so a
# key press never queues behind more than a few batches (a 100,000 lines/s flood included).
MAX_PENDING_MESSAGES = 2
# How much of a followed file one poll reads: ~1,200 lines of a typical run, about one batch.
FOLLOW_CHUNK_BYTES = 256 * 1024


class EventSource(Protocol):
    def poll(self, timeout: float) -> list[Event]: ...


class EngineControl(Protocol):
    """What the pane may ask of a live run (the `EngineHandle` of `engine.process`, or a test's fake)."""

    def poll(self, timeout: float) -> list[Event]: ...
    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def stop(self) -> None: ...
    def checkpoint(self) -> None: ...
    def is_alive(self) -> bool: ...
    def kill(self) -> None: ...


class FollowSource:
    """An `EventFollower` (non-blocking `poll()`) as an `EventSource`: waits `timeout` when nothing is new.

    A file says nothing when its writer is SIGKILLed, so while the followed segment has no end event the
    source asks `engine.runs.liveness` (the rule `runs` uses) every LIVENESS_INTERVAL_S of silence; a writer
    that is gone yields one `failed` event (code `killed`, in memory only: attach never writes), so the pane
    says killed instead of `running … ETA 1s` forever. A later `run_started` (the run resumed) starts over.
    """

    INTERVAL_S = 0.25
    LIVENESS_INTERVAL_S = 2.0

    def __init__(self, run_dir: Path, interval: float = INTERVAL_S) -> None:
        from tui_trainer.engine.follow import EventFollower

        self.run_dir = Path(run_dir)
        self.follower = EventFollower(self.run_dir, max_bytes_per_poll=FOLLOW_CHUNK_BYTES)
        self.interval = interval
        self._wake = threading.Event()
        self._start: RunStarted | None = None
        self._ended = False
        self._quiet_since = time.monotonic()
        self._last_step: int | None = None

    def poll(self, timeout: float) -> list[Event]:
        events = self.follower.poll()
        if events:
            self._track(events)
            return events
        gone = self._writer_gone()
        if gone is not None:
            return [gone]
        # Polling a file at 4 Hz costs one stat() per wake-up: this is what keeps attach under 5% of a core.
        self._wake.wait(min(timeout, self.interval) if timeout else 0)
        return events

    def _track(self, events: list[Event]) -> None:
        self._quiet_since = time.monotonic()
        for event in events:
            if isinstance(event, RunStarted):
                self._start, self._ended = event, False
            elif isinstance(event, Finished | Failed):
                self._ended = True
            step = getattr(event, "step", None)
            if isinstance(step, int):
                self._last_step = step

    def _writer_gone(self) -> Failed | None:
        if self._start is None or self._ended or self.follower.behind_bytes:
            return None
        now = time.monotonic()
        if now - self._quiet_since < self.LIVENESS_INTERVAL_S:
            return None
        self._quiet_since = now
        from tui_trainer.engine.runs import liveness

        status, detail = liveness(self.run_dir, self._start.pid, self._start.host, self._start.time)
        if status != "killed":
            return None
        self._ended = True
        return Failed(error=detail, step=self._last_step, code="killed")

    @property
    def behind_bytes(self) -> int:
        """Bytes of the file not read yet: non-zero while a follow catches up with a fast writer."""
        return self.follower.behind_bytes

    def wake(self) -> None:
        self._wake.set()


# ----- messages ------------------------------------------------------------------------------
@dataclass
class RunEvents(Message):
    """A batch of events of run `key`, in order: the one message the bridge posts for events.

    Never coalesced (no `can_replace`): every event lands in the run store, and the pane reacts to the ones
    that matter (a checkpoint asked for, a failure, the end) inside the batch.
    """

    key: str
    events: tuple[Event, ...]


@dataclass
class SourceEnded(Message):
    """The live engine process is gone (after its last events were delivered)."""

    key: str
    exitcode: int | None


class TrainBridge:
    """Drains one run's events in a worker thread and posts them to `target` (the Train pane)."""

    def __init__(
        self,
        key: str,
        target: MessagePump,
        source: EventSource,
        handle: EngineControl | None = None,
        *,
        poll_timeout: float = POLL_TIMEOUT_S,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self.key = key
        self.target = target
        self.source = source
        self.handle = handle
        self.poll_timeout = poll_timeout
        self.max_batch = max_batch
        self.events_posted = 0
        self.batches_posted = 0

    @classmethod
    def follow(cls, key: str, target: MessagePump, run_dir: Path) -> TrainBridge:
        # A file is polled at 4 Hz: attach shows a step a quarter of a second late and costs almost nothing.
        return cls(key, target, FollowSource(run_dir), poll_timeout=FollowSource.INTERVAL_S)

    @classmethod
    def live(cls, key: str, target: MessagePump, handle: EngineControl) -> TrainBridge:
        return cls(key, target, handle, handle)

    @property
    def is_live(self) -> bool:
        return self.handle is not None

    @property
    def behind_bytes(self) -> int:
        """How far a followed file is ahead of what was read (0 for a live run): for "catching up" in the pane."""
        return int(getattr(self.source, "behind_bytes", 0) or 0)

    # ----- the worker body ----------------------------------------------------------------
    def drain(self) -> None:
        """Run in a thread worker until cancelled or, for a live run, until the engine process has exited."""
        worker = get_current_worker()
        while not worker.is_cancelled:
            while self.target.message_queue_size > MAX_PENDING_MESSAGES and not worker.is_cancelled:
                time.sleep(0.01)
            events = self.source.poll(self.poll_timeout)
            if events:
                self._publish(events)
                continue
            if self.handle is not None and not self.handle.is_alive():
                # The process is gone: pick up whatever it put on the queue before it exited, then say so.
                events = self.source.poll(0)
                if events:
                    self._publish(events)
                    continue
                self.target.post_message(SourceEnded(self.key, getattr(self.handle, "exitcode", None)))
                return

    def _publish(self, events: list[Event]) -> None:
        for start in range(0, len(events), self.max_batch):
            batch = tuple(events[start : start + self.max_batch])
            self.target.post_message(RunEvents(self.key, batch))
            self.events_posted += len(batch)
            self.batches_posted += 1

    # ----- commands UI → engine -----------------------------------------------------------
    def _require_handle(self) -> EngineControl:
        if self.handle is None:
            raise RuntimeError(
                "this run is attached from its events.jsonl; only a run started here takes commands"
            )
        return self.handle

    def pause(self) -> None:
        self._require_handle().pause()

    def resume(self) -> None:
        self._require_handle().resume()

    def stop(self) -> None:
        self._require_handle().stop()

    def checkpoint(self) -> None:
        self._require_handle().checkpoint()

    def stop_and_wait(self, timeout: float) -> bool:
        """Ask the live run to stop and wait up to `timeout` s for its process to end; True when it ended.

        For quitting the app: the engine child is a daemon, so leaving without waiting would kill it before its
        stop checkpoint. The queue is drained meanwhile (its events are already in events.jsonl), because a
        child whose queue pipe is full cannot flush it and exit.
        """
        handle = self._require_handle()
        handle.stop()
        deadline = time.monotonic() + timeout
        while handle.is_alive() and time.monotonic() < deadline:
            handle.poll(0.1)
        return not handle.is_alive()

    def is_alive(self) -> bool:
        return self.handle is not None and self.handle.is_alive()
