"""FakeEngine: the EngineHandle methods over a scripted event list, so the Train pane is tested without torch.

It goes through the real `TrainBridge`: the pane's worker polls it exactly as it polls a live engine process.
Commands behave like the engine's: pause/resume emit `paused` / `resumed` events, stop ends with a checkpoint and a
`finished` event with status `stopped`, and the "process" is gone once a finished or failed event was read.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable

from tui_trainer.engine.events import (
    Checkpoint,
    Diagnostic,
    Eval,
    Event,
    Failed,
    Finished,
    Paused,
    Resumed,
    RunStarted,
    Step,
    System,
)

T0 = 1_800_000_000.0  # a fixed clock, so snapshots and rates are the same on every machine


class FakeEngine:
    def __init__(self, events: Iterable[Event] = (), *, chunk: int | None = None, hold: bool = False) -> None:
        self._pending: deque[Event] = deque(events)
        self._lock = threading.Lock()
        self.chunk = chunk
        self.released = threading.Event()
        if not hold:
            self.released.set()
        self.calls: list[str] = []
        self.exitcode: int | None = None
        self._alive = True
        self._crashed = False
        self._reported = False
        self.step = 0
        self.polls = 0

    # ----- the EngineHandle surface --------------------------------------------------------
    def poll(self, timeout: float) -> list[Event]:
        self.polls += 1
        if not self._alive:
            if self._crashed and not self._reported:
                # As EngineHandle.poll does: a process gone without an end event is reported once, worded
                # by the one function that words it.
                from tui_trainer.engine.process import lost_engine_failure

                self._reported = True
                return [lost_engine_failure(self.exitcode, "/runs/fake")]
            return []
        if not self.released.wait(timeout):
            return []
        with self._lock:
            n = len(self._pending) if self.chunk is None else min(self.chunk, len(self._pending))
            out = [self._pending.popleft() for _ in range(n)]
        for event in out:
            if isinstance(event, Step):
                self.step = event.step
            if isinstance(event, Finished | Failed):
                self.exitcode = 1 if isinstance(event, Failed) else 0
                self._alive = False
        if not out:
            time.sleep(min(timeout, 0.01))
        return out

    def pause(self) -> None:
        self.calls.append("pause")
        self.feed([Paused(step=self.step, time=T0 + 500)])

    def resume(self) -> None:
        self.calls.append("resume")
        self.feed([Resumed(step=self.step, time=T0 + 501)])

    def stop(self) -> None:
        self.calls.append("stop")
        self.feed(
            [
                Checkpoint(
                    step=self.step,
                    path=f"/runs/fake/checkpoints/step_{self.step}.pt",
                    reason="stop",
                    time=T0 + 600,
                ),
                Finished(step=self.step, status="stopped", time=T0 + 601),
            ]
        )

    def checkpoint(self) -> None:
        self.calls.append("checkpoint")
        self.feed(
            [
                Checkpoint(
                    step=self.step,
                    path=f"/runs/fake/checkpoints/step_{self.step}.pt",
                    reason="user",
                    time=T0 + 400,
                )
            ]
        )

    def is_alive(self) -> bool:
        return self._alive

    def kill(self) -> None:
        self.calls.append("kill")
        self._alive = False
        self.exitcode = -9

    # ----- test controls ------------------------------------------------------------------
    def feed(self, events: Iterable[Event]) -> None:
        with self._lock:
            self._pending.extend(events)

    def release(self) -> None:
        self.released.set()

    def crash(self, exitcode: int = -9) -> None:
        """The process dies without a last event (SIGKILL, segfault)."""
        self._alive = False
        self._crashed = True
        self.exitcode = exitcode


def scripted_run(
    steps: int = 60,
    *,
    total_steps: int = 200,
    eval_every: int = 20,
    diagnostics: bool = True,
    system: bool = True,
    finish: bool = False,
    run_id: str = "fake-run",
    loss_scale: float = 1.0,
) -> list[Event]:
    """A healthy-looking run with fixed times: falling loss, evals, a system sample and an overfitting warning."""
    events: list[Event] = [
        RunStarted(
            run_id=run_id,
            run_dir=f"/runs/{run_id}",
            device="cpu",
            total_steps=total_steps,
            pid=4242,
            time=T0,
            config={"train": {"batch_size": 32}},  # 10 steps/s x 32 = the 320 samples/s the steps report
        )
    ]
    for i in range(1, steps + 1):
        loss = loss_scale * (2.0 / (1 + i / 10) + 0.05 * ((i * 7) % 5) / 5)
        events.append(
            Step(
                step=i,
                epoch=(i - 1) // 20,
                loss=loss,
                lr=1e-3,
                grad_norm=1.5 - i / steps,
                samples_per_s=320.0,
                metrics={"accuracy": min(0.99, 0.3 + i / (steps * 1.2))},
                time=T0 + i * 0.1,
            )
        )
        if i % eval_every == 0:
            events.append(
                Eval(
                    step=i,
                    val_loss=loss_scale * (1.2 + (i / steps) ** 2 * 0.3),
                    metrics={"accuracy": 0.3 + i / (steps * 1.5)},
                    time=T0 + i * 0.1,
                )
            )
    if system:
        events.append(
            System(
                gpus=[
                    {
                        "index": 0,
                        "name": "NVIDIA H100 80GB HBM3",
                        "utilization_percent": 87.0,
                        "memory_used_bytes": 20 * 1024**3,
                        "memory_total_bytes": 80 * 1024**3,
                        "temperature_c": 61.0,
                        "power_w": 312.0,
                        "power_limit_w": 700.0,
                        "processes": [
                            {
                                "pid": 4242,
                                "name": "python",
                                "user": "alice",
                                "memory_bytes": 18 * 1024**3,
                                "training": True,
                            },
                            {
                                "pid": 999,
                                "name": "jupyter",
                                "user": "bob",
                                "memory_bytes": 2 * 1024**3,
                                "training": False,
                            },
                        ],
                    }
                ],
                cpu_percent=35.0,
                ram_used_bytes=12 * 1024**3,
                ram_total_bytes=64 * 1024**3,
                time=T0 + steps * 0.1,
            )
        )
    if diagnostics:
        events.append(
            Diagnostic(
                code="overfitting",
                severity="warning",
                step=steps,
                message="Validation loss rose for 3 evals while train loss fell",
                evidence={"val_loss": [1.2, 1.3, 1.5], "evals": 3},
                fix="Add regularisation (dropout, weight decay), more data or augmentation, or stop early.",
                time=T0 + steps * 0.1,
            )
        )
    if finish:
        events.append(Finished(step=steps, status="completed", time=T0 + steps * 0.1 + 1))
    return events
