"""The start-up image query: one round trip, ended by the device-attributes answer every terminal sends."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time

import pytest

from tui_trainer.widgets.terminal_images import TerminalGraphics, parse_answers

CHILD = (
    "import time; from tui_trainer.widgets import terminal_images as t; "
    "start = time.monotonic(); g = t.detect(timeout=1.0); "
    "print('RESULT', g.protocol, g.cell_size, round(time.monotonic() - start, 3), flush=True)"
)


def ask_in_a_terminal(answer: bytes | None) -> tuple[str, float]:
    """Run detect() in a child on a pty; play a terminal that sends `answer` to the device-attributes query."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-c", CHILD], stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 20
    try:
        while b"\r\n" not in seen.partition(b"RESULT")[2]:  # until the child's whole result line is in
            if time.monotonic() > deadline:
                raise AssertionError(f"no result: {seen!r}")
            if select.select([master], [], [], 0.05)[0]:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break
                seen += chunk
                if b"\x1b[c" in chunk and answer is not None:
                    os.write(master, answer)
    finally:
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:  # never leave the child behind
            proc.kill()
            proc.wait()
        os.close(master)
    line = seen.split(b"RESULT", 1)[1].split(b"\r\n")[0].decode().split()
    return " ".join(line[:-1]), float(line[-1])


def test_a_kitty_terminal_is_found_in_one_round_trip():
    kitty = b"\x1b_Gi=31;OK\x1b\\\x1b[6;18;9t\x1b[?62;22c"
    found, seconds = ask_in_a_terminal(kitty)
    assert found == "kitty (9, 18)"
    assert seconds < 0.5  # the answer ends the wait, not the 1 s timeout


def test_a_sixel_terminal_is_preferred_like_textual_image_does():
    found, _ = ask_in_a_terminal(b"\x1b_Gi=31;OK\x1b\\\x1b[?62;4;22c")
    assert found.startswith("sixel")


def test_a_plain_terminal_gets_half_blocks_without_waiting_out_the_timeout():
    found, seconds = ask_in_a_terminal(b"\x1b[?62;22c")
    assert found == "None None" and seconds < 0.5


def test_a_silent_terminal_costs_the_timeout_and_nothing_else():
    found, seconds = ask_in_a_terminal(None)
    assert found == "None None" and 0.9 <= seconds < 3


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        (b"", TerminalGraphics()),
        (b"\x1b[?64;1;2;4;6c", TerminalGraphics("sixel", None)),
        (b"\x1b[6;20;10t\x1b[?1;2c", TerminalGraphics(None, (10, 20))),
        (b"\x1b_Gi=31;ENOTSUPPORTED\x1b\\\x1b[?62c", TerminalGraphics()),
    ],
)
def test_answers_are_read_like_the_protocols_define_them(answers, expected):
    assert parse_answers(answers) == expected


def test_without_a_terminal_nothing_is_asked(capsys):
    from tui_trainer.widgets import terminal_images

    assert terminal_images.detect() == TerminalGraphics()  # pytest's stdin/stdout are not terminals
    assert terminal_images.image_widget_class() is None
