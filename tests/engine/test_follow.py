"""EventFollower: complete lines only, partial lines kept for later, bad lines skipped, missing file tolerated."""

from __future__ import annotations

import logging

from tui_trainer.engine.events import Finished, Log, Step, to_json
from tui_trainer.engine.follow import EventFollower


def test_follower_copes_with_missing_file(tmp_path):
    follower = EventFollower(tmp_path / "not-yet")
    assert follower.poll() == []


def test_follower_keeps_partial_line_until_completed(tmp_path):
    path = tmp_path / "events.jsonl"
    first = to_json(Step(step=1, epoch=0, loss=0.5, time=1.0))
    second = to_json(Step(step=2, epoch=0, loss=0.4, time=2.0))
    path.write_text(first + "\n" + second[:10])
    follower = EventFollower(tmp_path)
    events = follower.poll()
    assert [e.step for e in events] == [1]
    assert follower.poll() == []
    with path.open("a") as fh:
        fh.write(second[10:] + "\n")
    events = follower.poll()
    assert len(events) == 1 and events[0].step == 2 and events[0].loss == 0.4


def test_follower_skips_malformed_line_with_warning(tmp_path, caplog):
    path = tmp_path / "events.jsonl"
    good = to_json(Log(message="hello", time=1.0))
    path.write_text("{not json\n" + '{"type":"mystery"}\n' + good + "\n")
    follower = EventFollower(tmp_path)
    with caplog.at_level(logging.WARNING, logger="tui_trainer.engine.follow"):
        events = follower.poll()
    assert [type(e) for e in events] == [Log]
    assert follower.skipped == 2
    assert "line 1" in caplog.text and "line 2" in caplog.text


def test_follower_restarts_when_file_is_replaced(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(
        to_json(Step(step=1, epoch=0, loss=1.0)) + "\n" + to_json(Step(step=2, epoch=0, loss=1.0)) + "\n"
    )
    follower = EventFollower(tmp_path)
    assert len(follower.poll()) == 2
    path.unlink()
    path.write_text(to_json(Finished(step=9)) + "\n")
    events = follower.poll()
    assert len(events) == 1 and isinstance(events[0], Finished)


def test_read_all_reads_a_large_file_in_chunks(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text("".join(to_json(Step(step=i, epoch=0, loss=float(i))) + "\n" for i in range(500)))
    follower = EventFollower(tmp_path, max_bytes_per_poll=1000)
    events = follower.read_all()
    assert [e.step for e in events] == list(range(500))


def test_follower_never_blocks_on_a_fifo_named_events_jsonl(tmp_path):
    import os

    os.mkfifo(tmp_path / "events.jsonl")  # opening it for reading without O_NONBLOCK would wait for a writer
    follower = EventFollower(tmp_path)
    assert follower.poll() == [] and follower.read_all() == []


def test_follower_skips_an_over_long_line_without_holding_it(tmp_path, monkeypatch):
    from tui_trainer.engine import follow as follow_mod

    monkeypatch.setattr(follow_mod, "MAX_LINE_BYTES", 1000)
    path = tmp_path / "events.jsonl"
    good = to_json(Step(step=1, epoch=0, loss=0.5, time=1.0))
    path.write_text(good + "\n" + "x" * 5000 + "\n" + good.replace('"step":1', '"step":2') + "\n")
    follower = EventFollower(tmp_path, max_bytes_per_poll=700)
    assert [e.step for e in follower.read_all()] == [1, 2]
    assert follower.skipped == 1 and len(follower._partial) <= 1000
