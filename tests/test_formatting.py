"""One number format and one duration format for the Train pane, charts, `attach` and the headless printer."""

from __future__ import annotations

import math

import pytest

from tui_trainer.formatting import format_duration, format_number


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "—"),
        (0, "0"),
        (0.5, "0.5"),
        (1.23456, "1.235"),
        (-2.5, "-2.5"),
        (3e-4, "3.00e-04"),
        (123456.0, "1.23e+05"),
        (math.nan, "nan"),
        (math.inf, "inf"),
        (-math.inf, "-inf"),
    ],
)
def test_numbers_keep_four_significant_digits_and_go_scientific_at_the_extremes(value, text):
    assert format_number(value) == text


def test_missing_marker_can_be_chosen():
    assert format_number(None, missing="-") == "-"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "—"), (math.nan, "—"), (0.4, "0s"), (42, "42s"), (185, "3m05s"), (3720, "1h02m")],
)
def test_durations(seconds, text):
    assert format_duration(seconds) == text
