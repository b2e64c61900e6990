"""Which full-resolution image protocol the terminal speaks (Sixel, Kitty), asked once before the app starts.

textual-image asks the terminal itself when it is imported: three questions one after another, each waiting up
to 0.1 s for an answer many terminals never send (and printing a traceback when the cell-size one gets none).
That cost the first frame up to 0.4 s. Here the three go out together, followed by a Primary Device
Attributes request (`ESC [ c`), which every terminal answers and answers last, so the wait ends with that
answer. The result tells the Augment pane whether `g` can offer full-resolution images; textual-image is
imported only when the pane first draws one, told the answers so it asks nothing (Textual owns stdin then).
"""

from __future__ import annotations

import io
import os
import re
import select
import sys
import time
from dataclasses import dataclass

KITTY_QUERY = b"\x1b_Gi=31,s=1,v=1,a=q,t=d,f=24;AAAA\x1b\\"  # a 1x1 RGB image, query only: nothing drawn
CELL_SIZE_QUERY = b"\x1b[16t"
DEVICE_ATTRIBUTES_QUERY = b"\x1b[c"
_DA1 = re.compile(rb"\x1b\[\?([\d;]*)c")
_KITTY_OK = re.compile(rb"\x1b_Gi=31;OK\x1b\\")
_CELL = re.compile(rb"\x1b\[6;(\d+);(\d+)t")


@dataclass(frozen=True)
class TerminalGraphics:
    protocol: str | None = None  # "sixel", "kitty", or None: half-block images only
    cell_size: tuple[int, int] | None = None  # (width, height) of one cell in pixels, when the terminal says


_detected = TerminalGraphics()


def detected() -> TerminalGraphics:
    """What `detect` found (nothing, unless it ran: tests, pipes and the browser get half-blocks)."""
    return _detected


def parse_answers(answers: bytes) -> TerminalGraphics:
    """Read the terminal's answers to the three queries (Sixel is preferred, as textual-image prefers it)."""
    protocol = None
    da1 = _DA1.search(answers)
    if da1 and "4" in da1.group(1).decode().split(";"):
        protocol = "sixel"
    elif _KITTY_OK.search(answers):
        protocol = "kitty"
    cell = _CELL.search(answers)
    cell_size = (int(cell.group(2)), int(cell.group(1))) if cell else None
    return TerminalGraphics(protocol, cell_size)


def detect(timeout: float = 0.3) -> TerminalGraphics:
    """Ask the terminal on stdin/stdout (both must be terminals) and remember the answer. Call before Textual
    starts reading stdin. Waits for the device-attributes answer, at most `timeout` seconds."""
    global _detected
    stdin, stdout = sys.__stdin__, sys.__stdout__
    if stdin is None or stdout is None or not (stdin.isatty() and stdout.isatty()):
        return _detected
    import termios

    fd_in, fd_out = stdin.fileno(), stdout.fileno()
    try:
        saved = termios.tcgetattr(fd_in)
    except termios.error:
        return _detected
    answers = b""
    try:
        quiet = termios.tcgetattr(fd_in)
        quiet[3] &= ~(termios.ICANON | termios.ECHO)  # answers must not echo, nor wait for a newline
        termios.tcsetattr(fd_in, termios.TCSANOW, quiet)
        os.write(fd_out, KITTY_QUERY + CELL_SIZE_QUERY + DEVICE_ATTRIBUTES_QUERY)
        deadline = time.monotonic() + timeout
        while not _DA1.search(answers):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd_in], [], [], left)[0]:
                break
            chunk = os.read(fd_in, 1024)
            if not chunk:
                break
            answers += chunk
    except OSError:
        pass
    finally:
        termios.tcsetattr(fd_in, termios.TCSANOW, saved)
    _detected = parse_answers(answers)
    return _detected


def image_widget_class(graphics: TerminalGraphics | None = None):
    """textual-image's widget for the detected protocol, or None (no protocol, or textual-image missing)."""
    graphics = graphics or _detected
    if graphics.protocol is None:
        return None
    try:
        from textual_image import _terminal

        width, height = graphics.cell_size or (10, 20)  # textual-image's own fallback (VT340 cells)
        _terminal.get_cell_size._result = _terminal.CellSize(width, height)  # its cache: it asks nothing
        real_stdout = sys.__stdout__
        sys.__stdout__ = io.StringIO()  # not a terminal: importing textual_image.renderable asks nothing
        try:
            from textual_image import widget
        finally:
            sys.__stdout__ = real_stdout
    except Exception:  # textual-image missing or changed: half-block images
        return None
    return widget.SixelImage if graphics.protocol == "sixel" else widget.TGPImage
