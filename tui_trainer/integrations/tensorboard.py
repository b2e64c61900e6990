"""TensorBoard event files in, and out: an incremental scalar reader, and `SummaryWriter`, a drop-in writer.

Reading: `EventFileReader` follows one `events.out.tfevents.*` file as it grows, from the byte where it
stopped (never re-reading the file), keeping a record cut by the writer for the next read. The records
are decoded with the `tensorboard` package's `Event` protobuf (an optional extra: `pip install
tui-trainer[integrations]`). Its own loader is not used: without TensorFlow it checks each record's CRC in
pure Python, about 30 times slower than the decoding, and a 100 MB log would take a minute to open.

Writing: `tui_trainer.monitor.SummaryWriter` takes the calls a script makes on
`torch.utils.tensorboard.SummaryWriter` (`add_scalar`, `add_scalars`, `add_hparams`, `flush`, `close`)
and writes them as the run's events, so switching a script over is one changed import; with
`tensorboard=True` it also writes the usual TensorBoard files beside them.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TFEVENTS_MARK = "tfevents"
_HEADER = struct.Struct("<QI")  # record length, masked CRC of the length
_MAX_RECORD = 256 * 1024 * 1024


@dataclass(frozen=True)
class Scalar:
    step: int
    tag: str
    value: float
    wall_time: float


def is_event_file(path: Path) -> bool:
    return path.is_file() and path.name.startswith("events.out.") and TFEVENTS_MARK in path.name


def _load_proto() -> Any:
    try:
        from tensorboard.compat.proto import event_pb2
    except ImportError as exc:  # pragma: no cover - the extra is part of dev
        from tui_trainer.errors import UserError

        raise UserError(
            "reading TensorBoard logs needs the tensorboard package: pip install 'tui-trainer[integrations]'"
        ) from exc
    return event_pb2


def _tensor_value(tensor: Any) -> float | None:
    """The number in a scalar TensorProto (new-style summaries write these instead of simple_value)."""
    if tensor.float_val:
        return float(tensor.float_val[0])
    if tensor.double_val:
        return float(tensor.double_val[0])
    if tensor.int_val:
        return float(tensor.int_val[0])
    if tensor.int64_val:
        return float(tensor.int64_val[0])
    if tensor.tensor_content:
        from tensorboard.util import tensor_util

        array = tensor_util.make_ndarray(tensor)
        if array.size == 1:
            return float(array.reshape(()))
    return None


class EventFileReader:
    """Scalars of one event file, read incrementally: `read()` returns those added since the last call."""

    def __init__(self, path: Path, offset: int = 0, max_bytes: int = 8 * 1024 * 1024) -> None:
        self.path = Path(path)
        self.offset = offset  # the byte after the last whole record read
        self.max_bytes = max_bytes
        self.records = 0
        self.corrupt = False  # a record header that cannot be right: the rest of the file is not read
        self._event_pb2 = _load_proto()

    def read(self) -> list[Scalar]:
        return list(self._scalars())

    def _scalars(self) -> Iterator[Scalar]:
        if self.corrupt:
            return
        try:
            with open(self.path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                if size < self.offset:  # replaced by a shorter file: start again
                    self.offset = 0
                if size - self.offset < _HEADER.size:
                    return
                fh.seek(self.offset)
                data = fh.read(self.max_bytes)
        except OSError:
            return
        parse = self._event_pb2.Event.FromString
        pos, end = 0, len(data)
        unpack = _HEADER.unpack_from
        while pos + _HEADER.size <= end:
            length, _crc = unpack(data, pos)
            if length > _MAX_RECORD:
                self.corrupt = True
                break
            stop = pos + _HEADER.size + length + 4
            if stop > end:
                break  # the writer has not finished this record: read it next time
            record = data[pos + _HEADER.size : stop - 4]
            pos = stop
            self.records += 1
            try:
                event = parse(record)
            except Exception:  # a damaged record: skip it, keep the rest
                continue
            if not event.HasField("summary"):
                continue
            step, wall = int(event.step), float(event.wall_time)
            for value in event.summary.value:
                kind = value.WhichOneof("value")
                if kind == "simple_value":
                    number: float | None = float(value.simple_value)
                elif kind == "tensor":
                    number = _tensor_value(value.tensor)
                else:
                    continue  # images, histograms, audio, text
                if number is not None:
                    yield Scalar(step, value.tag, number, wall)
        self.offset += pos


# ----- the drop-in writer -----------------------------------------------------------------------------
class SummaryWriter:
    """`torch.utils.tensorboard.SummaryWriter`'s scalar calls, written as a tui-trainer run.

    `log_dir` is the run folder (default: `$TUI_TRAINER_RUN_DIR`, else `runs/<time>` as TensorBoard does).
    Scalars logged at the same step become one `step` event (or `eval` for validation tags), mapped by
    their tags like a TensorBoard log we read (`train/loss` → loss, `val_loss` → val_loss, `lr` → lr...;
    `tag_map={"my/tag": "loss"}` overrides). `tensorboard=True` also writes TensorBoard's own files there.
    """

    def __init__(
        self,
        log_dir: str | Path | None = None,
        comment: str = "",
        *,
        tensorboard: bool = False,
        tag_map: dict[str, str] | None = None,
        **monitor_options: Any,
    ) -> None:
        from tui_trainer import monitor
        from tui_trainer.integrations.log_tags import ScalarAssembler, TagMap

        if log_dir is None:
            env = os.environ.get("TUI_TRAINER_RUN_DIR")
            if env:
                log_dir = env
            else:
                import socket
                import time

                stamp = time.strftime("%b%d_%H-%M-%S")
                log_dir = Path("runs") / f"{stamp}_{socket.gethostname()}{comment}"
        self.log_dir = str(log_dir)
        self.run = monitor.start(Path(self.log_dir), **monitor_options)
        self._assembler = ScalarAssembler(TagMap(tag_map or {}))
        self._tb: Any = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter as TorchWriter

            self._tb = TorchWriter(self.log_dir)

    def get_logdir(self) -> str:
        return self.log_dir

    def add_scalar(
        self,
        tag: str,
        scalar_value: Any,
        global_step: int | None = None,
        walltime: float | None = None,
        **_: Any,
    ) -> None:
        value = float(scalar_value.item() if hasattr(scalar_value, "item") else scalar_value)
        step = int(global_step) if global_step is not None else self._assembler.last_step
        self._assembler.add(step, tag, value, self.run)
        if self._tb is not None:
            self._tb.add_scalar(tag, value, global_step, walltime)

    def add_scalars(
        self,
        main_tag: str,
        tag_scalar_dict: dict[str, Any],
        global_step: int | None = None,
        walltime: float | None = None,
    ) -> None:
        for name, value in tag_scalar_dict.items():
            self.add_scalar(f"{main_tag}/{name}", value, global_step, walltime)

    def add_hparams(self, hparam_dict: dict[str, Any], metric_dict: dict[str, Any], **_: Any) -> None:
        """Hyperparameters go in the run's log; the metrics are logged as scalars, as TensorBoard does."""
        text = ", ".join(f"{k}={v}" for k, v in hparam_dict.items())
        self.run.message(f"hparams: {text}")
        for tag, value in metric_dict.items():
            self.add_scalar(tag, value, self._assembler.last_step)
        if self._tb is not None:
            self._tb.add_hparams(hparam_dict, metric_dict)

    def flush(self) -> None:
        self._assembler.flush(self.run)
        self.run.flush()
        if self._tb is not None:
            self._tb.flush()

    def close(self) -> None:
        if self.run.closed:
            return
        self._assembler.flush(self.run)
        self.run.finish()
        if self._tb is not None:
            self._tb.close()

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None or issubclass(exc_type, KeyboardInterrupt):
            self._assembler.flush(self.run)
            self.run.finish("completed" if exc_type is None else "stopped")
        else:
            self._assembler.flush(self.run)
            self.run.__exit__(exc_type, exc, tb)
        if self._tb is not None:
            self._tb.close()

    def __getattr__(self, name: str) -> Any:
        # add_histogram, add_image, add_graph...: forwarded to TensorBoard's writer when there is one, else
        # accepted and ignored, so a script that calls them still runs after switching the import.
        if name.startswith("add_"):
            tb = self.__dict__.get("_tb")
            return getattr(tb, name) if tb is not None else (lambda *a, **k: None)
        raise AttributeError(name)
