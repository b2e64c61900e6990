"""TensorBoard event files in, and out: an incremental scalar reader, and `SummaryWriter`, a drop-in writer.

Reading: `EventFileReader` follows one `events.out.tfevents.*` file as it grows, from the byte where it
stopped (never re-reading the file), keeping a record cut by the writer for the next read, in chunks of at
most `max_bytes`. The records are framed and the `add_scalar` ones decoded with numpy over a whole chunk
(`event_records`: no Python code per record); the rest (TF2-style tensor scalars, several values in one
event) go through the `tensorboard` package's `Event` protobuf, one by one (an optional extra: `pip install
tui-trainer[integrations]`, imported only when such a record appears). TensorBoard's own loader is not
used: without TensorFlow it checks each record's CRC in pure Python and reads ~1 MB/s. `peek` reads what a
listing shows of a log (its start, its last scalars) from the file's first and last records only.

Writing: `tui_trainer.monitor.SummaryWriter` takes the calls a script makes on
`torch.utils.tensorboard.SummaryWriter` (`add_scalar`, `add_scalars`, `add_hparams`, `flush`, `close`)
and writes them as the run's events, so switching a script over is one changed import; with
`tensorboard=True` it also writes the usual TensorBoard files beside them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tui_trainer.integrations import event_records as records

TFEVENTS_MARK = "tfevents"
READ_BYTES = 4 * 1024 * 1024  # one chunk: its numpy temporaries stay around five times this (cache-sized)


@dataclass(frozen=True)
class Scalar:
    step: int
    tag: str
    value: float
    wall_time: float


@dataclass
class ScalarColumns:
    """Scalars as columns: `tag[i]` indexes `tags`; `wall` is NaN where the log holds no time."""

    step: np.ndarray  # int64
    tag: np.ndarray  # int32
    value: np.ndarray  # float64
    wall: np.ndarray  # float64
    tags: list[str] = field(default_factory=list)

    @classmethod
    def empty(cls, tags: list[str] | None = None) -> ScalarColumns:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0), np.zeros(0), list(tags or []))

    def __len__(self) -> int:
        return len(self.step)

    @classmethod
    def concat(cls, parts: list[ScalarColumns]) -> ScalarColumns:
        """Columns of several readers as one (their tag ids mapped onto one list of tags)."""
        parts = [c for c in parts if len(c)]
        if len(parts) == 1:
            return parts[0]
        tags: dict[str, int] = {}
        ids = []
        for c in parts:
            remap = np.array([tags.setdefault(t, len(tags)) for t in c.tags], np.int32)
            ids.append(remap[c.tag] if len(c.tags) else c.tag)
        if not parts:
            return cls.empty()
        return cls(
            np.concatenate([c.step for c in parts]),
            np.concatenate(ids),
            np.concatenate([c.value for c in parts]),
            np.concatenate([c.wall for c in parts]),
            list(tags),
        )

    def scalars(self) -> list[Scalar]:
        tags = self.tags
        return [
            Scalar(int(s), tags[t], float(v), float(w))
            for s, t, v, w in zip(
                self.step.tolist(), self.tag.tolist(), self.value.tolist(), self.wall.tolist(), strict=True
            )
        ]


def is_event_file(path: Path) -> bool:
    return path.is_file() and path.name.startswith("events.out.") and TFEVENTS_MARK in path.name


def _load_proto() -> Any:
    try:
        from tensorboard.compat.proto import event_pb2
    except ImportError as exc:  # pragma: no cover - the extra is part of dev
        from tui_trainer.errors import UserError

        raise UserError(
            "reading this TensorBoard log (TF2-style tensor scalars) needs the tensorboard package: "
            "pip install 'tui-trainer[integrations]'"
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


PEEK_BYTES = 256 * 1024


def peek(path: Path, tail_bytes: int = PEEK_BYTES) -> tuple[float | None, ScalarColumns]:
    """What a listing needs of a log it does not read: the wall time of the file's first record (its
    header) and the scalars of its last records, from its first 4 KB and its last `tail_bytes` only.

    The tail is framed backwards from the end of the file: the records are the chain of candidates whose
    last one ends exactly where the file (or the last whole record) ends.
    """
    reader = EventFileReader(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
            size = os.fstat(fh.fileno()).st_size
            fh.seek(max(0, size - tail_bytes))
            tail = fh.read(tail_bytes)
    except OSError:
        return None, ScalarColumns.empty()
    first = None
    a = np.frombuffer(head, np.uint8)
    start, length, _, _ = records.frame(a)
    if len(start):
        wall = records.decode_simple(a, start[:1], length[:1])["wall"][0]
        first = float(wall) if np.isfinite(wall) else None
    a = np.frombuffer(tail, np.uint8)
    if len(a) < 16:
        return first, ScalarColumns.empty()
    c, lengths, nxt = records.candidates(a)
    # Backwards there is no known record start to chain from, so each candidate's header must carry the
    # right CRC of its length: a position inside a record that looks like one fails it (odds 2**-32).
    keep = (nxt <= len(a)) & (records.view(a, "<u4")[c + 8] == records.masked_crc32c_of_lengths(a, c))
    c, lengths, nxt = c[keep], lengths[keep], nxt[keep]
    ends = nxt
    if not len(ends):
        return first, ScalarColumns.empty()
    by_end = {int(e): i for i, e in enumerate(nxt.tolist()) if e <= len(a)}
    chain = [by_end[int(ends.max())]]
    while (prev := by_end.get(int(c[chain[-1]]))) is not None and len(chain) < len(c):
        chain.append(prev)
    chain.reverse()
    d = records.decode_by_template(a, c[chain], lengths[chain], reader)
    ok = d["kind"] == 0
    return first, ScalarColumns(d["step"][ok], d["tag"][ok], d["value"][ok], d["wall"][ok], reader.tags)


class EventFileReader:
    """Scalars of one event file, read incrementally: `read()` returns those added since the last call."""

    def __init__(self, path: Path, offset: int = 0, max_bytes: int = READ_BYTES) -> None:
        self.path = Path(path)
        self.offset = offset  # the byte after the last whole record read
        self.max_bytes = max_bytes
        self.records = 0
        self.corrupt = False  # a record header that cannot be right: the rest of the file is not read
        self.tags: list[str] = []  # tag ids are stable across reads
        self._tag_ids: dict[str, int] = {}
        self._keys: dict[int, int] = {}  # tag key -> tag id
        self._event_pb2: Any = None

    def read(self) -> list[Scalar]:
        return self.read_columns().scalars()

    def tag_id(self, tag: str) -> int:
        found = self._tag_ids.get(tag)
        if found is None:
            found = self._tag_ids[tag] = len(self.tags)
            self.tags.append(tag)
        return found

    def read_columns(self) -> ScalarColumns:
        """The scalars of the whole records added since the last read (at most `max_bytes` of the file)."""
        if self.corrupt:
            return ScalarColumns.empty(self.tags)
        try:
            with open(self.path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                if size < self.offset:  # replaced by a shorter file: start again
                    self.offset = 0
                if size - self.offset < records.HEADER.size:
                    return ScalarColumns.empty(self.tags)
                fh.seek(self.offset)
                data = fh.read(self.max_bytes)
                whole = (
                    records.HEADER.size + 4 + records.HEADER.unpack_from(data)[0]
                    if len(data) >= records.HEADER.size
                    else 0
                )
                if len(data) < whole <= min(records.MAX_RECORD, size - self.offset):
                    fh.seek(self.offset)  # one record larger than a chunk (a big histogram): read it whole
                    data = fh.read(whole)
        except OSError:
            return ScalarColumns.empty(self.tags)
        a = np.frombuffer(data, np.uint8)
        start, length, used, self.corrupt = records.frame(a)
        self.offset += used
        self.records += len(start)
        if not len(start):
            return ScalarColumns.empty(self.tags)
        d = records.decode_by_template(a, start, length, self)
        fast = np.flatnonzero(d["kind"] == 0)
        tag_ids = d["tag"][fast]
        step, wall, value = d["step"][fast], d["wall"][fast], d["value"][fast]
        slow = np.flatnonzero(d["kind"] == 2)
        if len(slow):
            extra = self._decode_slow(data, start[slow], length[slow])
            if extra:
                order = np.concatenate([fast, slow[np.array([i for i, *_ in extra], np.int64)]])
                sort = np.argsort(order, kind="stable")
                step = np.concatenate([step, np.array([r[1] for r in extra], np.int64)])[sort]
                wall = np.concatenate([wall, np.array([r[2] for r in extra], float)])[sort]
                value = np.concatenate([value, np.array([r[4] for r in extra], float)])[sort]
                tag_ids = np.concatenate([tag_ids, np.array([self.tag_id(r[3]) for r in extra], np.int32)])[
                    sort
                ]
        return ScalarColumns(step.astype(np.int64), tag_ids, value.astype(np.float64), wall, self.tags)

    def ids_of(self, keys: np.ndarray, a: np.ndarray, at: np.ndarray, length: np.ndarray) -> np.ndarray:
        """Tag ids of the records' tag keys: the few distinct keys are looked up once each."""
        ids = np.empty(len(keys), np.int32)
        todo = np.ones(len(keys), bool)
        while todo.any():
            first = int(np.argmax(todo))
            key = int(keys[first])
            tag_id = self._keys.get(key)
            if tag_id is None:
                raw = bytes(a[int(at[first]) : int(at[first]) + int(length[first])])
                tag_id = self._keys[key] = self.tag_id(raw.decode("utf-8", "replace"))
            same = todo & (keys == keys[first])
            ids[same] = tag_id
            todo &= ~same
        return ids

    def _decode_slow(self, data: bytes, starts: np.ndarray, lengths: np.ndarray) -> list[tuple]:
        """(index, step, wall, tag, value) of the scalars in records the fast path does not read."""
        if self._event_pb2 is None:
            self._event_pb2 = _load_proto()
        parse = self._event_pb2.Event.FromString
        out = []
        for i, (pos, length) in enumerate(zip(starts.tolist(), lengths.tolist(), strict=True)):
            try:
                event = parse(data[pos + 12 : pos + 12 + length])
            except Exception:  # a damaged record: skip it, keep the rest
                continue
            if not event.HasField("summary"):
                continue
            for value in event.summary.value:
                kind = value.WhichOneof("value")
                if kind == "simple_value":
                    number: float | None = float(value.simple_value)
                elif kind == "tensor":
                    number = _tensor_value(value.tensor)
                else:
                    continue
                if number is not None:
                    out.append((i, int(event.step), float(event.wall_time), value.tag, number))
        return out


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
