"""The table view model: only the page is collected, sort and filter keep row identity, bad filters come back as text."""

from __future__ import annotations

import polars as pl
import pytest

from tui_trainer.data.paging import FilterError, Pager, parse_filter


def pager() -> Pager:
    return Pager(pl.DataFrame({"x": [5, 3, 9, 1, 7], "s": ["a", "b", "a", "c", "b"]}).lazy())


def test_page_slices_and_keeps_original_row_index():
    p = pager()
    page = p.page(1, 2)
    assert page["#"].to_list() == [1, 2] and page["x"].to_list() == [3, 9]
    assert p.total_rows() == 5


def test_sort_descending_keeps_row_identity():
    p = pager()
    p.set_sort("x", descending=True)
    page = p.page(0, 5)
    assert page["x"].to_list() == [9, 7, 5, 3, 1] and page["#"].to_list() == [2, 4, 0, 1, 3]


def test_filter_by_polars_expression_and_sql():
    p = pager()
    assert p.set_filter('pl.col("x") > 4') is None
    assert p.page(0, 10)["x"].to_list() == [5, 9, 7] and p.total_rows() == 3
    assert p.set_filter("s = 'b' AND x < 5") is None
    assert p.page(0, 10)["#"].to_list() == [1]
    assert p.set_filter('pl.col("s").is_in(["a", "c"]) & (pl.col("x") != 9)') is None
    assert p.page(0, 10)["x"].to_list() == [5, 1]


def test_bad_filters_return_messages_and_keep_the_old_filter():
    p = pager()
    assert p.set_filter('pl.col("x") > 4') is None
    for bad in [
        'pl.col("nope") > 1',
        'pl.read_csv("/etc/passwd")',
        "__import__('os').system('true')",
        'pl.col("x").__class__',
        "pl.col(",
        "x >>> 2",
    ]:
        message = p.set_filter(bad)
        assert message, bad
    assert p.total_rows() == 3


def test_parse_filter_rejects_names_and_dunders():
    with pytest.raises(FilterError):
        parse_filter("pl.col('x').__init__")
    with pytest.raises(FilterError):
        parse_filter("open('x')  if pl.col('x') else 1")


def test_show_rows_limits_view_to_finding_examples():
    p = pager()
    p.show_rows([4, 0])
    assert p.page(0, 10)["#"].to_list() == [0, 4]
    p.show_rows(None)
    assert p.total_rows() == 5
