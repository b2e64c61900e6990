"""Logging setup: DEBUG to a rotating file in the state dir; optional echo to stderr for headless commands."""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

from tui_trainer import paths

LOGGER_NAME = "tui_trainer"
_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def setup_logging(debug_to_stderr: bool = False, log_path: Path | None = None) -> Path | None:
    """Configure the `tui_trainer` logger once; returns the log file path (None if it cannot be opened).

    A read-only home must never stop the tool, so a failure to open the file only drops file logging.
    """
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(logging.DEBUG)
    for handler in list(logger.handlers):
        if getattr(handler, "_tui_trainer", False):
            logger.removeHandler(handler)
            handler.close()
    log_path = log_path or paths.log_file()
    opened: Path | None = None
    try:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.handlers.RotatingFileHandler(
            log_path, maxBytes=2_000_000, backupCount=3, encoding="utf-8", delay=True
        )
        file_handler.setLevel(logging.DEBUG)
        file_handler.setFormatter(logging.Formatter(_FORMAT))
        file_handler._tui_trainer = True  # type: ignore[attr-defined]
        logger.addHandler(file_handler)
        opened = log_path
    except OSError:
        pass
    if debug_to_stderr:
        stream = logging.StreamHandler(sys.stderr)
        stream.setLevel(logging.DEBUG)
        stream.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        stream._tui_trainer = True  # type: ignore[attr-defined]
        logger.addHandler(stream)
    logger.propagate = False
    return opened
