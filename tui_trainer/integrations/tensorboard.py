"""TensorBoard event files in, and out: an incremental scalar reader, and `SummaryWriter`, a drop-in writer.

Reading: `EventFileReader` follows one `events.out.tfevents.*` file as it grows, from the byte where it
stopped (never re-reading the file), keeping a record cut by the writer for the next read, in chunks of at
most `max_bytes`. A 100 MB log holds two million scalar records, so no Python code runs per record: the
records are framed and decoded with numpy over the whole chunk (`_frame`, `_decode_simple`). The records
every writer uses for `add_scalar` (one `simple_value` per event: torch.utils.tensorboard, tensorboardX,
Lightning, Hugging Face) are decoded that way; histograms, images, audio and the file's header are skipped
by their field tag; the rest (TF2-style tensor scalars, several values in one event) go through the
`tensorboard` package's `Event` protobuf, one by one (an optional extra: `pip install
tui-trainer[integrations]`, imported only when such a record appears). TensorBoard's own loader is not
used: without TensorFlow it checks each record's CRC in pure Python and reads ~1 MB/s.

Writing: `tui_trainer.monitor.SummaryWriter` takes the calls a script makes on
`torch.utils.tensorboard.SummaryWriter` (`add_scalar`, `add_scalars`, `add_hparams`, `flush`, `close`)
and writes them as the run's events, so switching a script over is one changed import; with
`tensorboard=True` it also writes the usual TensorBoard files beside them.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

TFEVENTS_MARK = "tfevents"
_HEADER = struct.Struct("<QI")  # record length, masked CRC of the length
_MAX_RECORD = 256 * 1024 * 1024
READ_BYTES = 4 * 1024 * 1024  # one chunk: its numpy temporaries stay around five times this (cache-sized)

# Field tags (field number << 3 | wire type) of the protobuf messages the fast path reads.
_WALL_TIME, _STEP, _SUMMARY = 0x09, 0x10, 0x2A  # Event.wall_time (double), .step (varint), .summary
_VALUE, _TAG, _SIMPLE = 0x0A, 0x0A, 0x12 + 3  # Summary.value, Value.tag, Value.simple_value (float, 0x15)
_NOT_SCALAR_VALUES = (0x22, 0x2A, 0x32)  # Value.image, .histo, .audio
_OTHER_EVENTS = (0x1A, 0x22, 0x32, 0x3A, 0x42, 0x4A)  # file_version, graph_def, log_message, session_log...


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


# ----- framing and decoding a chunk with numpy ------------------------------------------------------------
def _view(a: np.ndarray, dtype: str) -> np.ndarray:
    """`a` read as `dtype` at every byte offset (unaligned), so `_view(a, "<f8")[p]` is the double at byte p."""
    width = np.dtype(dtype).itemsize
    return np.ndarray((max(0, len(a) - width + 1),), dtype=dtype, buffer=a, strides=(1,))


def _candidates(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Byte positions that look like the start of a record under 64 KB holding an event with a wall time
    (the length's six high bytes zero, 0x09 twelve bytes on): (positions, record lengths, next positions)."""
    c = np.flatnonzero(a[12:] == _WALL_TIME)
    c = c[(_view(a, "<u8")[c] >> np.uint64(16)) == 0]
    lengths = a[c].astype(np.int64) | (a[c + 1].astype(np.int64) << 8)
    return c, lengths, c + 16 + lengths


def _frame(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, bool]:
    """Record starts and lengths of the whole records in chunk `a`, the bytes they cover, and whether a
    record header cannot be right (a damaged file: nothing after it is read).

    Candidates are the byte positions that look like a record of under 64 KB holding an event with a wall
    time (the length's six high bytes zero, 0x09 twelve bytes on); a candidate is a record when the chain of
    records from the chunk's start reaches it (start + 16 + length is the next one). Runs of records that
    follow each other are checked at once; a record the pattern misses (a large histogram) is framed alone.
    """
    n = len(a)
    if n < 16:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), 0, False
    c, lengths, nxt = _candidates(a)
    # A position that only looks like a record (bytes inside one) almost never points at another candidate:
    # drop those, so the chain below is checked in a few long runs. A record dropped wrongly is framed alone.
    at = np.minimum(np.searchsorted(c, nxt), max(len(c) - 1, 0))
    real = (c[at] == nxt) | (nxt >= n - 12) if len(c) else np.zeros(0, bool)
    c, lengths, nxt = c[real], lengths[real], nxt[real]
    follows = nxt[:-1] == c[1:]
    breaks = np.flatnonzero(~follows)  # candidate i whose successor is not candidate i + 1
    starts: list[np.ndarray] = []
    lens: list[np.ndarray] = []
    pos, corrupt = 0, False
    unpack = _HEADER.unpack_from
    while pos + 12 <= n:
        j = int(np.searchsorted(c, pos))
        if j < len(c) and c[j] == pos:
            b = int(np.searchsorted(breaks, j))
            last = int(breaks[b]) if b < len(breaks) else len(c) - 1
            run_end = nxt[j : last + 1]
            whole = int(np.searchsorted(run_end, n, side="right"))  # records that end inside the chunk
            if whole == 0:
                break
            starts.append(c[j : j + whole])
            lens.append(lengths[j : j + whole])
            pos = int(run_end[whole - 1])
            if whole < last + 1 - j:
                break
            continue
        length = unpack(a, pos)[0]
        if length > _MAX_RECORD:
            corrupt = True
            break
        if pos + 16 + length > n:
            break
        starts.append(np.array([pos], np.int64))
        lens.append(np.array([length], np.int64))
        pos += 16 + length
    if not starts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), pos, corrupt
    return np.concatenate(starts), np.concatenate(lens), pos, corrupt


def _varint(a: np.ndarray, p: np.ndarray, most: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Varints at byte positions `p`: (values, positions after them, whether each ended within `most` bytes)."""
    last = len(a) - 1
    first = a[np.minimum(p, last)]
    value = first.astype(np.uint64)
    after = p + 1
    ended = np.ones(len(p), bool)
    long = np.flatnonzero(first >= 0x80)  # most varints here (lengths, steps under 128) are one byte
    if len(long):
        value[long] &= np.uint64(0x7F)
        ended[long] = False
        going = long
        for k in range(1, most):  # byte k of the varints still going, on those only
            byte = a[np.minimum(p[going] + k, last)]
            value[going] |= (byte & 0x7F).astype(np.uint64) << np.uint64(7 * k)
            done = byte < 0x80
            after[going[done]] = p[going[done]] + k + 1
            ended[going[done]] = True
            going = going[~done]
            if not len(going):
                break
    return value, after, ended


def _decode_simple(a: np.ndarray, start: np.ndarray, length: np.ndarray) -> dict[str, np.ndarray]:
    """Decode the records at `start` (lengths `length`) that hold one `simple_value` each.

    Returns arrays over the records: `kind` (0 scalar, 1 no scalar in it, 2 needs the protobuf decoder), and
    for the scalars `step`, `wall`, `value`, the tag's byte position `tag_at` and length `tag_len`.
    """
    last = len(a) - 1
    e = start + 12
    end = e + length
    kind = np.full(len(e), 2, np.int8)
    ok = (length >= 9) & (a[np.minimum(e, last)] == _WALL_TIME)
    wall = np.full(len(e), np.nan)
    wall[ok] = _view(a, "<f8")[e[ok] + 1]
    p = e + 9
    has_step = ok & (a[np.minimum(p, last)] == _STEP)
    step = np.zeros(len(e), np.uint64)
    sv, sp, sok = _varint(a, p[has_step] + 1, 10)
    step[has_step] = sv
    p[has_step] = sp
    ok[has_step] &= sok
    head = a[np.minimum(p, last)]
    kind[ok & ((p >= end) | np.isin(head, _OTHER_EVENTS))] = 1  # no summary: the header, a graph, a log line
    ok &= (head == _SUMMARY) & (p < end)
    slen, p2, lok = _varint(a, p + 1, 5)
    ok &= lok & (p2 + slen.astype(np.int64) == end) & (a[np.minimum(p2, last)] == _VALUE)
    vlen, p3, vok = _varint(a, p2 + 1, 5)
    ok &= vok & (p3 + vlen.astype(np.int64) == end) & (a[np.minimum(p3, last)] == _TAG)
    tlen, p4, tok = _varint(a, p3 + 1, 2)
    ok &= tok
    q = p4 + tlen.astype(np.int64)
    after = a[np.minimum(q, last)]
    scalar = ok & (after == _SIMPLE) & (q + 5 == end)
    kind[ok & np.isin(after, _NOT_SCALAR_VALUES)] = 1
    kind[scalar] = 0
    value = np.full(len(e), np.nan)
    value[scalar] = _view(a, "<f4")[q[scalar] + 1]
    return {
        "kind": kind,
        "step_end": p,
        "step": step.view(np.int64),
        "wall": wall,
        "value": value,
        "tag_at": p4,
        "tag_len": tlen.astype(np.int64),
    }


def _decode_by_template(
    a: np.ndarray, start: np.ndarray, length: np.ndarray, reader: EventFileReader
) -> dict:
    """`_decode_simple` for records that repeat a layout, which is nearly all of them.

    A writer's scalar records of one tag and one step width have the same bytes everywhere but the wall
    time, the step and the value. So the records are grouped by length; the first record of a group is
    decoded in full and its layout (where the step, the tag and the value are) becomes a template; every
    record of the group that has the template's bytes between its step and its value (a few 64-bit words
    compared) is read at those offsets. Records no template fits go through `_decode_simple`.
    """
    n = len(start)
    kind = np.full(n, 2, np.int8)
    step = np.zeros(n, np.int64)
    wall = np.full(n, np.nan)
    value = np.full(n, np.nan)
    tag = np.zeros(n, np.int32)
    e = start + 12
    words = _view(a, "<u8")
    doubles, floats = _view(a, "<f8"), _view(a, "<f4")
    left = np.ones(n, bool)
    order = np.argsort(length, kind="stable")
    bounds = np.flatnonzero(np.diff(length[order])) + 1
    for members in np.split(order, bounds):
        while len(members) >= 64:  # a few layouts of one length (tags of equal length, say); small groups: no
            r0 = int(members[0])
            d = _decode_simple(a, start[r0 : r0 + 1], length[r0 : r0 + 1])
            if d["kind"][0] != 0:
                break
            e0 = int(e[r0])
            has_step = bool(a[e0 + 9] == _STEP)
            width = int(d["step_end"][0]) - (e0 + 10) if has_step else 0
            if width > 7:
                break  # a step past 2**49 or negative: one 64-bit word does not hold its varint
            fixed_at = e0 + 9 + (1 + width if has_step else 0)  # summary tag .. the value's field tag
            fixed_len = int(d["tag_at"][0]) + int(d["tag_len"][0]) + 1 - fixed_at
            rel = fixed_at - e0
            em = e[members]
            ok = a[em] == _WALL_TIME
            if has_step:
                x = words[em + 9]  # the step's field tag and varint bytes
                high = sum(0x80 << (8 * k) for k in range(1, width + 1))
                cont = sum(0x80 << (8 * k) for k in range(1, width))
                ok &= ((x & np.uint64(0xFF)) == _STEP) & ((x & np.uint64(high)) == np.uint64(cont))
            for k in range(0, fixed_len, 8):
                take = min(8, fixed_len - k)
                mask = np.uint64((1 << (8 * take)) - 1)
                ok &= (words[em + (rel + k)] & mask) == (words[fixed_at + k] & mask)
            hit = members[ok]
            eh = em[ok]
            if has_step:
                xh = x[ok]
                steps = np.zeros(len(hit), np.uint64)
                for k in range(width):
                    steps |= ((xh >> np.uint64(8 * (k + 1))) & np.uint64(0x7F)) << np.uint64(7 * k)
                step[hit] = steps.view(np.int64)
            raw = bytes(a[int(d["tag_at"][0]) : int(d["tag_at"][0]) + int(d["tag_len"][0])])
            tag[hit] = reader._tag_id(raw.decode("utf-8", "replace"))
            wall[hit] = doubles[eh + 1]
            value[hit] = floats[eh + (rel + fixed_len)]
            kind[hit] = 0
            left[hit] = False
            members = members[~ok]
    rest = np.flatnonzero(left)
    if len(rest):
        d = _decode_simple(a, start[rest], length[rest])
        kind[rest], step[rest], wall[rest], value[rest] = d["kind"], d["step"], d["wall"], d["value"]
        fast = rest[d["kind"] == 0]
        if len(fast):
            at, tl = d["tag_at"][d["kind"] == 0], d["tag_len"][d["kind"] == 0]
            tag[fast] = reader._ids_of(_tag_keys(a, at, tl), a, at, tl)
    return {"kind": kind, "step": step, "wall": wall, "value": value, "tag": tag}


def _tag_keys(a: np.ndarray, at: np.ndarray, length: np.ndarray) -> np.ndarray:
    """A 64-bit key per tag (its length and every byte), so equal keys are equal tags.

    A collision of two different tags needs a 64-bit hash collision among the few tags of one log.
    """
    words = _view(a, "<u8")
    limit = len(words) - 1
    key = length.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    mult = np.uint64(0xBF58476D1CE4E5B9)
    first = words[np.minimum(at, limit)]
    keep = np.minimum(length, 8)
    mask = np.where(
        keep >= 8,
        np.uint64(0xFFFFFFFFFFFFFFFF),
        (np.uint64(1) << (keep * 8).astype(np.uint64)) - np.uint64(1),
    )
    key = (key ^ (first & mask)) * mult
    k = 8
    while True:  # the middle words, then the last 8 bytes
        more = length > k + 8
        if not more.any():
            break
        key[more] = (key[more] ^ words[np.minimum(at[more] + k, limit)]) * mult
        k += 8
    tail = length > 8
    key[tail] = (key[tail] ^ words[np.minimum(at[tail] + length[tail] - 8, limit)]) * mult
    return key


PEEK_BYTES = 256 * 1024
_CRC32C: np.ndarray | None = None


def _masked_crc32c_of_lengths(a: np.ndarray, at: np.ndarray) -> np.ndarray:
    """TFRecord's masked CRC32C of the 8 length bytes at each position `at`, all at once."""
    global _CRC32C
    if _CRC32C is None:
        table = np.zeros(256, np.uint32)
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
            table[i] = c
        _CRC32C = table
    crc = np.full(len(at), 0xFFFFFFFF, np.uint32)
    for k in range(8):
        crc = _CRC32C[(crc ^ a[at + k]) & 0xFF] ^ (crc >> 8)
    crc ^= np.uint32(0xFFFFFFFF)
    return ((crc >> 15) | (crc << 17)) + np.uint32(0xA282EAD8)


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
    start, length, _, _ = _frame(a)
    if len(start):
        wall = _decode_simple(a, start[:1], length[:1])["wall"][0]
        first = float(wall) if np.isfinite(wall) else None
    a = np.frombuffer(tail, np.uint8)
    if len(a) < 16:
        return first, ScalarColumns.empty()
    c, lengths, nxt = _candidates(a)
    # Backwards there is no known record start to chain from, so each candidate's header must carry the
    # right CRC of its length: a position inside a record that looks like one fails it (odds 2**-32).
    keep = (nxt <= len(a)) & (_view(a, "<u4")[c + 8] == _masked_crc32c_of_lengths(a, c))
    c, lengths, nxt = c[keep], lengths[keep], nxt[keep]
    ends = nxt
    if not len(ends):
        return first, ScalarColumns.empty()
    by_end = {int(e): i for i, e in enumerate(nxt.tolist()) if e <= len(a)}
    chain = [by_end[int(ends.max())]]
    while (prev := by_end.get(int(c[chain[-1]]))) is not None and len(chain) < len(c):
        chain.append(prev)
    chain.reverse()
    d = _decode_by_template(a, c[chain], lengths[chain], reader)
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

    def _tag_id(self, tag: str) -> int:
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
                if size - self.offset < _HEADER.size:
                    return ScalarColumns.empty(self.tags)
                fh.seek(self.offset)
                data = fh.read(self.max_bytes)
                whole = _HEADER.size + 4 + _HEADER.unpack_from(data)[0] if len(data) >= _HEADER.size else 0
                if len(data) < whole <= min(_MAX_RECORD, size - self.offset):
                    fh.seek(self.offset)  # one record larger than a chunk (a big histogram): read it whole
                    data = fh.read(whole)
        except OSError:
            return ScalarColumns.empty(self.tags)
        a = np.frombuffer(data, np.uint8)
        start, length, used, self.corrupt = _frame(a)
        self.offset += used
        self.records += len(start)
        if not len(start):
            return ScalarColumns.empty(self.tags)
        d = _decode_by_template(a, start, length, self)
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
                tag_ids = np.concatenate([tag_ids, np.array([self._tag_id(r[3]) for r in extra], np.int32)])[
                    sort
                ]
        return ScalarColumns(step.astype(np.int64), tag_ids, value.astype(np.float64), wall, self.tags)

    def _ids_of(self, keys: np.ndarray, a: np.ndarray, at: np.ndarray, length: np.ndarray) -> np.ndarray:
        """Tag ids of the records' tag keys: the few distinct keys are looked up once each."""
        ids = np.empty(len(keys), np.int32)
        todo = np.ones(len(keys), bool)
        while todo.any():
            first = int(np.argmax(todo))
            key = int(keys[first])
            tag_id = self._keys.get(key)
            if tag_id is None:
                raw = bytes(a[int(at[first]) : int(at[first]) + int(length[first])])
                tag_id = self._keys[key] = self._tag_id(raw.decode("utf-8", "replace"))
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
