"""TensorBoard event files as bytes: records framed and the scalar events decoded with numpy, a whole chunk
at once (no Python code runs per record: a 100 MB log holds two million of them).

A record is `length (u64) · masked CRC32C of the length (u32) · an Event protobuf · CRC of it (u32)`. The
records every writer uses for `add_scalar` (torch.utils.tensorboard, tensorboardX, Lightning, Hugging Face:
an Event with a wall time, a step and one Summary.Value with a `simple_value`) are read here; `kind` marks
those that hold no scalar (the file's header, histograms, images, audio) and those that need the protobuf
decoder (TF2-style tensor scalars, several values in one event), which `tensorboard.EventFileReader` decodes.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

HEADER = struct.Struct("<QI")  # record length, masked CRC of the length
MAX_RECORD = 256 * 1024 * 1024

# Field tags (field number << 3 | wire type) of the protobuf messages the fast path reads.
_WALL_TIME, _STEP, _SUMMARY = 0x09, 0x10, 0x2A  # Event.wall_time (double), .step (varint), .summary
_VALUE, _TAG, _SIMPLE = 0x0A, 0x0A, 0x12 + 3  # Summary.value, Value.tag, Value.simple_value (float, 0x15)
_NOT_SCALAR_VALUES = (0x22, 0x2A, 0x32)  # Value.image, .histo, .audio
_OTHER_EVENTS = (0x1A, 0x22, 0x32, 0x3A, 0x42, 0x4A)  # file_version, graph_def, log_message, session_log...


def view(a: np.ndarray, dtype: str) -> np.ndarray:
    """`a` read as `dtype` at every byte offset (unaligned), so `view(a, "<f8")[p]` is the double at byte p."""
    width = np.dtype(dtype).itemsize
    return np.ndarray((max(0, len(a) - width + 1),), dtype=dtype, buffer=a, strides=(1,))


def candidates(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Byte positions that look like the start of a record under 64 KB holding an event with a wall time
    (the length's six high bytes zero, 0x09 twelve bytes on): (positions, record lengths, next positions)."""
    c = np.flatnonzero(a[12:] == _WALL_TIME)
    c = c[(view(a, "<u8")[c] >> np.uint64(16)) == 0]
    lengths = a[c].astype(np.int64) | (a[c + 1].astype(np.int64) << 8)
    return c, lengths, c + 16 + lengths


def frame(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, bool]:
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
    c, lengths, nxt = candidates(a)
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
    unpack = HEADER.unpack_from
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
        if length > MAX_RECORD:
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


def varint(a: np.ndarray, p: np.ndarray, most: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def decode_simple(a: np.ndarray, start: np.ndarray, length: np.ndarray) -> dict[str, np.ndarray]:
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
    wall[ok] = view(a, "<f8")[e[ok] + 1]
    p = e + 9
    has_step = ok & (a[np.minimum(p, last)] == _STEP)
    step = np.zeros(len(e), np.uint64)
    sv, sp, sok = varint(a, p[has_step] + 1, 10)
    step[has_step] = sv
    p[has_step] = sp
    ok[has_step] &= sok
    head = a[np.minimum(p, last)]
    kind[ok & ((p >= end) | np.isin(head, _OTHER_EVENTS))] = 1  # no summary: the header, a graph, a log line
    ok &= (head == _SUMMARY) & (p < end)
    slen, p2, lok = varint(a, p + 1, 5)
    ok &= lok & (p2 + slen.astype(np.int64) == end) & (a[np.minimum(p2, last)] == _VALUE)
    vlen, p3, vok = varint(a, p2 + 1, 5)
    ok &= vok & (p3 + vlen.astype(np.int64) == end) & (a[np.minimum(p3, last)] == _TAG)
    tlen, p4, tok = varint(a, p3 + 1, 2)
    ok &= tok
    q = p4 + tlen.astype(np.int64)
    after = a[np.minimum(q, last)]
    scalar = ok & (after == _SIMPLE) & (q + 5 == end)
    kind[ok & np.isin(after, _NOT_SCALAR_VALUES)] = 1
    kind[scalar] = 0
    value = np.full(len(e), np.nan)
    value[scalar] = view(a, "<f4")[q[scalar] + 1]
    return {
        "kind": kind,
        "step_end": p,
        "step": step.view(np.int64),
        "wall": wall,
        "value": value,
        "tag_at": p4,
        "tag_len": tlen.astype(np.int64),
    }


def decode_by_template(a: np.ndarray, start: np.ndarray, length: np.ndarray, reader: Any) -> dict:
    """`decode_simple` for records that repeat a layout, which is nearly all of them.

    A writer's scalar records of one tag and one step width have the same bytes everywhere but the wall
    time, the step and the value. So the records are grouped by length; the first record of a group is
    decoded in full and its layout (where the step, the tag and the value are) becomes a template; every
    record of the group that has the template's bytes between its step and its value (a few 64-bit words
    compared) is read at those offsets. Records no template fits go through `decode_simple`.
    """
    n = len(start)
    kind = np.full(n, 2, np.int8)
    step = np.zeros(n, np.int64)
    wall = np.full(n, np.nan)
    value = np.full(n, np.nan)
    tag = np.zeros(n, np.int32)
    e = start + 12
    words = view(a, "<u8")
    doubles, floats = view(a, "<f8"), view(a, "<f4")
    left = np.ones(n, bool)
    order = np.argsort(length, kind="stable")
    bounds = np.flatnonzero(np.diff(length[order])) + 1
    for members in np.split(order, bounds):
        while len(members) >= 64:  # a few layouts of one length (tags of equal length, say); small groups: no
            r0 = int(members[0])
            d = decode_simple(a, start[r0 : r0 + 1], length[r0 : r0 + 1])
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
            tag[hit] = reader.tag_id(raw.decode("utf-8", "replace"))
            wall[hit] = doubles[eh + 1]
            value[hit] = floats[eh + (rel + fixed_len)]
            kind[hit] = 0
            left[hit] = False
            members = members[~ok]
    rest = np.flatnonzero(left)
    if len(rest):
        d = decode_simple(a, start[rest], length[rest])
        kind[rest], step[rest], wall[rest], value[rest] = d["kind"], d["step"], d["wall"], d["value"]
        fast = rest[d["kind"] == 0]
        if len(fast):
            at, tl = d["tag_at"][d["kind"] == 0], d["tag_len"][d["kind"] == 0]
            tag[fast] = reader.ids_of(tag_keys(a, at, tl), a, at, tl)
    return {"kind": kind, "step": step, "wall": wall, "value": value, "tag": tag}


def tag_keys(a: np.ndarray, at: np.ndarray, length: np.ndarray) -> np.ndarray:
    """A 64-bit key per tag (its length and every byte), so equal keys are equal tags.

    A collision of two different tags needs a 64-bit hash collision among the few tags of one log.
    """
    words = view(a, "<u8")
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


_CRC32C: np.ndarray | None = None


def crc32c_table() -> np.ndarray:
    """The CRC32C (Castagnoli) byte table TFRecord framing uses, built on first use."""
    global _CRC32C
    if _CRC32C is None:
        table = np.zeros(256, np.uint32)
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
            table[i] = c
        _CRC32C = table
    return _CRC32C


def masked_crc32c_rows(rows: np.ndarray) -> np.ndarray:
    """TFRecord's masked CRC32C of each row of a (records, length) uint8 matrix, all rows at once."""
    table = crc32c_table()
    crc = np.full(len(rows), 0xFFFFFFFF, np.uint32)
    for k in range(rows.shape[1]):
        crc = table[(crc ^ rows[:, k]) & 0xFF] ^ (crc >> 8)
    crc ^= np.uint32(0xFFFFFFFF)
    return ((crc >> 15) | (crc << 17)) + np.uint32(0xA282EAD8)


def masked_crc32c_of_lengths(a: np.ndarray, at: np.ndarray) -> np.ndarray:
    """TFRecord's masked CRC32C of the 8 length bytes at each position `at`, all at once."""
    return masked_crc32c_rows(a[at[:, None] + np.arange(8)])
