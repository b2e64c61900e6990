"""Data pane through Pilot: open, profile, findings → rows, paging, sort, filter errors, label, recipe, snapshot."""

from __future__ import annotations

import tomllib
from pathlib import Path

import polars as pl
import pytest
from textual.widgets import DataTable, Input, Static

from tests.conftest import SAMPLE_DATA
from tui_trainer.app import make_app
from tui_trainer.panes.data import PAGE_SIZE, ChooseLabelScreen, DataPane, OpenDataScreen
from tui_trainer.widgets.findings_table import FindingsTable

PENGUINS = SAMPLE_DATA / "penguins.csv"


async def _settle(app, pilot) -> None:
    for _ in range(4):
        await app.workers.wait_for_complete()
        await pilot.pause()


async def _open(app, pilot, path: Path) -> DataPane:
    pane = app.query_one(DataPane)
    pane.open_path(path)
    await _settle(app, pilot)
    return pane


def _status(pane: DataPane) -> str:
    return str(pane.query_one("#data-status", Static).render())


async def test_opening_penguins_shows_profile_findings_and_first_page():
    messages = []
    app = make_app(initial_pane="data")
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        pane = await _open(app, pilot, PENGUINS)
        assert pane.inspection is not None and pane.inspection.profile.rows == 344
        columns = pane.query_one("#data-columns", DataTable)
        assert columns.row_count == 8
        assert columns.get_row("sex")[2] == "11 (3.2%)"
        findings = pane.query_one(FindingsTable).findings
        assert {("missing", "sex")} <= {(f.id, f.evidence["columns"][0]) for f in findings}
        rows = pane.query_one("#data-rows", DataTable)
        assert rows.row_count == PAGE_SIZE
        assert "344 rows × 8 columns" in _status(pane)
        kinds = [
            type(m).__name__ for m in messages if type(m).__name__ in ("Opened", "Progress", "Inspected")
        ]
        assert kinds[0] == "Opened" and kinds[-1] == "Inspected" and "Progress" in kinds


async def test_enter_on_a_finding_jumps_to_its_rows():
    app = make_app(initial_pane="data")
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await _open(app, pilot, PENGUINS)
        table = pane.query_one(FindingsTable)
        index = next(
            i for i, f in enumerate(table.findings) if f.id == "missing" and f.evidence["columns"] == ["sex"]
        )
        table.focus()
        table.move_cursor(row=index)
        await pilot.press("enter")
        await _settle(app, pilot)
        rows = pane.query_one("#data-rows", DataTable)
        assert rows.row_count == 11  # every row missing sex, not only the examples
        frame = pl.read_csv(PENGUINS, null_values="NA")
        expected = frame.with_row_index("#").filter(pl.col("sex").is_null())["#"].to_list()
        assert [int(str(rows.get_row_at(i)[0])) for i in range(rows.row_count)] == expected
        assert "missing rows" in rows.border_title
        await pilot.press("escape")
        await _settle(app, pilot)
        assert rows.row_count == PAGE_SIZE


async def test_paging_and_sorting_materialise_only_a_page():
    app = make_app(initial_pane="data")
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await _open(app, pilot, PENGUINS)
        await pilot.press("n")
        await _settle(app, pilot)
        rows = pane.query_one("#data-rows", DataTable)
        assert str(rows.get_row_at(0)[0]) == str(PAGE_SIZE)
        await pilot.press("n", "n", "n")
        await _settle(app, pilot)
        assert rows.row_count == 344 - 3 * PAGE_SIZE  # the last page is partial; paging stops there
        rows.move_cursor(column=6)  # body_mass_g
        await pilot.press("s", "s")
        await _settle(app, pilot)
        values = [rows.get_row_at(i)[6] for i in range(3)]
        assert values == ["6300", "6050", "6000"]
        assert "sorted by body_mass_g ↓" in rows.border_title


async def test_bad_filter_is_shown_in_the_pane_and_a_good_one_applies():
    app = make_app(initial_pane="data")
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await _open(app, pilot, PENGUINS)
        await pilot.press("slash")
        box = pane.query_one("#data-filter", Input)
        assert box.has_focus
        box.value = 'pl.col("nope") > 1'
        await pilot.press("enter")
        await _settle(app, pilot)
        assert "filter not applied" in _status(pane) and "nope" in _status(pane)
        assert not box.has_focus  # keys typed next are pane keys, not more filter text
        await pilot.press("slash")
        assert box.has_focus and box.value == 'pl.col("nope") > 1'  # kept, to be corrected
        box.value = "species = 'Gentoo' AND body_mass_g > 5500"
        await pilot.press("enter")
        await _settle(app, pilot)
        rows = pane.query_one("#data-rows", DataTable)
        expected = pl.read_csv(PENGUINS, null_values="NA").filter(
            (pl.col("species") == "Gentoo") & (pl.col("body_mass_g") > 5500)
        )
        assert rows.row_count == expected.height > 0


async def test_unreadable_file_becomes_a_notification_not_a_crash(tmp_path: Path):
    bad = tmp_path / "ragged.csv"
    bad.write_text("a,b\n1,2\n3,4,5\n")
    app = make_app(initial_pane="data")
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await _open(app, pilot, bad)
        assert "ragged rows: line 3" in _status(pane) and str(bad) in _status(pane)
        assert any("ragged" in str(n.message) for n in app._notifications)
        assert pane.busy_reason() is None


async def test_file_picker_opens_typed_path():
    app = make_app(initial_pane="data")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert isinstance(app.focused, DataTable) and app.focused.id == "data-columns"  # keys work at once
        await pilot.press("o")
        await pilot.pause()
        assert isinstance(app.screen, OpenDataScreen)
        app.screen.query_one(Input).value = str(PENGUINS)
        await pilot.press("enter")
        await _settle(app, pilot)
        assert app.query_one(DataPane).inspection.profile.rows == 344


async def test_label_chooser_adds_imbalance_finding():
    app = make_app(initial_pane="data")
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await _open(app, pilot, PENGUINS)
        pane.query_one("#data-columns").focus()
        await pilot.press("l")
        await pilot.pause()
        assert isinstance(app.screen, ChooseLabelScreen)
        await pilot.press("down", "enter")  # first column after "(no label)": species
        await _settle(app, pilot)
        assert pane.label == "species"
        imbalance = [f for f in pane.query_one(FindingsTable).findings if f.id == "imbalance"]
        assert imbalance and imbalance[0].evidence["class_counts"] == {
            "Adelie": 152,
            "Gentoo": 124,
            "Chinstrap": 68,
        }


async def test_recipe_builder_shows_counts_and_saves_toml(tmp_path: Path):
    app = make_app(initial_pane="data")
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await _open(app, pilot, PENGUINS)
        columns = pane.query_one("#data-columns", DataTable)
        columns.focus()
        columns.move_cursor(row=6)  # sex
        await pilot.press("m")
        await _settle(app, pilot)
        recipe_text = str(pane.query_one("#data-recipe", Static).render())
        assert "drop rows missing sex" in recipe_text and "rows 344 → 333" in recipe_text
        columns.move_cursor(row=2)  # bill_length_mm
        await pilot.press("i")  # mean
        await _settle(app, pilot)
        assert pane.recipe.fill["bill_length_mm"].strategy == "mean"
        await pilot.press("x")  # clip by z-score
        await pilot.press("d")
        await _settle(app, pilot)
        assert "drop duplicates" in str(pane.query_one("#data-recipe", Static).render())
        target = tmp_path / "fix.toml"
        await pilot.press("w")
        await pilot.pause()
        app.screen.query_one(Input).value = str(target)
        await pilot.press("enter")
        await _settle(app, pilot)
        saved = tomllib.loads(target.read_text())
        assert saved["drop_missing"] == ["sex"] and saved["drop_duplicates"] is True
        assert saved["fill"]["bill_length_mm"] == {"strategy": "mean"}
        assert saved["outliers"][0] == {
            "columns": ["bill_length_mm"],
            "method": "zscore",
            "action": "clip",
            "threshold": 3.0,
        }


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)], ids=["80x24", "120x40", "200x60"])
def test_snapshot_of_penguins_profile(snap_compare, size):
    async def run_before(pilot) -> None:
        pane = pilot.app.query_one(DataPane)
        pane.open_path(PENGUINS)
        await _settle(pilot.app, pilot)
        pane.query_one("#data-columns").focus()
        # DataTable measures column widths when idle; wait (bounded) until the findings table has done so.
        table = pane.query_one(FindingsTable)
        for _ in range(100):
            if table.row_count and list(table.columns.values())[1].content_width > len("Id"):
                break
            await pilot.pause(0.05)
        await pilot.pause(0.4)  # the pane re-renders the findings once their widths are known (after 0.2 s)

    assert snap_compare(make_app(initial_pane="data"), terminal_size=size, run_before=run_before)


async def test_arrow_keys_scroll_across_page_boundaries():
    app = make_app(initial_pane="data")
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await _open(app, pilot, PENGUINS)
        await pilot.press("t")
        rows = pane.query_one("#data-rows", DataTable)
        rows.move_cursor(row=PAGE_SIZE - 1)
        await pilot.press("down")
        await _settle(app, pilot)
        assert str(rows.get_row_at(0)[0]) == str(PAGE_SIZE) and rows.cursor_row == 0
        await pilot.press("up")
        await _settle(app, pilot)
        assert str(rows.get_row_at(0)[0]) == "0" and rows.cursor_row == PAGE_SIZE - 1
        rows.move_cursor(row=0)
        await pilot.press("up")  # the first row of the first page: nothing before it
        await _settle(app, pilot)
        assert str(rows.get_row_at(0)[0]) == "0" and rows.cursor_row == 0


def test_snapshot_of_filtered_table_view(snap_compare):
    async def run_before(pilot) -> None:
        pane = pilot.app.query_one(DataPane)
        pane.open_path(PENGUINS)
        await _settle(pilot.app, pilot)
        await pilot.press("t", "slash")
        await pilot.press(*"sex is null", "enter")
        await _settle(pilot.app, pilot)
        pane.query_one("#data-rows").focus()
        await pilot.pause()

    assert snap_compare(make_app(initial_pane="data"), terminal_size=(120, 40), run_before=run_before)


async def test_k_measures_the_synthetic_share_and_opens_the_collapse_lab(tmp_path: Path):
    from textual.widgets import Input, OptionList

    from tui_trainer.panes.collapse_view import CollapseView

    path = tmp_path / "mixed.csv"
    rows = ["x,source"] + [f"{i},real" for i in range(180)] + [f"{i},synthetic" for i in range(20)]
    path.write_text("\n".join(rows) + "\n")
    app = make_app(initial_pane="data")
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await _open(app, pilot, path)
        await pilot.press("k")  # no provenance yet: asks for the column
        await pilot.pause()
        options = app.screen.query_one(OptionList)
        # Issue 14 item 7: a provenance column must be chosen (no "(no label)" first option), and the
        # picker's prompt is shown whole, not cut at the dialog's edge.
        assert [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)] == [
            "x",
            "source",
        ]
        prompt = app.screen.query_one("#picker-prompt")
        assert prompt.size.height * prompt.size.width >= len(str(prompt.render()))
        options.highlighted = options.get_option_index("source")
        await pilot.press("enter")
        await _settle(app, pilot)
        await pilot.pause()
        share = next(f for f in pane.inspection.findings if f.id == "synthetic_share")
        assert share.evidence["count"] == 20
        assert "tui-trainer collapse --real-fraction 0.9" in share.fix
        assert app.active_pane_id == "train"
        assert app.query_one("#train-views").current == "collapse-lab"
        assert app.query_one("#collapse-real-fraction", Input).value == "0.9"
        assert app.query_one(CollapseView).display


LEAKED = [3, 8, 15, 22, 30, 31, 37]  # rows of main.csv copied unchanged into other.csv


def _compare_files(tmp_path: Path) -> tuple[Path, Path]:
    """main.csv and other.csv: 7 identical rows; `y` shifted by +100 everywhere else, `x` the same values."""
    main = tmp_path / "main.csv"
    other = tmp_path / "other.csv"
    rows = [(i, i + 0.5, "ab"[i % 2]) for i in range(40)]
    main.write_text("x,y,cat\n" + "".join(f"{x},{y},{c}\n" for x, y, c in rows))
    shifted = [rows[i] if i in LEAKED else (x, y + 100, c) for i, (x, y, c) in enumerate(rows)]
    other.write_text("x,y,cat\n" + "".join(f"{x},{y},{c}\n" for x, y, c in shifted))
    return main, other


async def _compare(app, pilot, path: Path) -> None:
    await pilot.press("a")
    await pilot.pause()
    assert isinstance(app.screen, OpenDataScreen)
    app.screen.query_one(Input).value = str(path)
    await pilot.press("enter")
    await _settle(app, pilot)


async def test_a_compares_with_another_file_for_leakage_and_drift(tmp_path: Path):
    main, other = _compare_files(tmp_path)
    app = make_app(initial_pane="data")
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await _open(app, pilot, main)
        assert not [f for f in pane.query_one(FindingsTable).findings if f.id in ("leakage", "drift")]
        await _compare(app, pilot, other)
        findings = pane.query_one(FindingsTable).findings
        leakage = next(f for f in findings if f.id == "leakage")
        assert leakage.evidence["count"] == len(LEAKED)
        assert leakage.evidence["examples"] == LEAKED[:5]
        assert leakage.severity.value == "error"
        drift = {f.evidence["columns"][0]: f for f in findings if f.id == "drift"}
        assert drift["y"].severity.value == "warning" and drift["y"].evidence["p_value"] < 0.05
        assert drift["x"].severity.value == "ok"  # same values on both sides
        assert pane.against is not None and pane.against.path == other
        assert "compared with" in _status(pane) and "other.csv" in _status(pane)
        assert pane.busy_reason() is None

        # Enter on leakage shows its example rows in the table view.
        table = pane.query_one(FindingsTable)
        table.focus()
        table.move_cursor(row=table.findings.index(leakage))
        await pilot.press("enter")
        await _settle(app, pilot)
        rows = pane.query_one("#data-rows", DataTable)
        assert [int(str(rows.get_row_at(i)[0])) for i in range(rows.row_count)] == LEAKED[:5]
        assert "leakage rows" in rows.border_title
        assert any("first 5 of its 7 rows" in str(n.message) for n in app._notifications)

        # Choosing a label re-runs the checks and keeps the comparison.
        pane.query_one("#data-columns").focus()
        await pilot.press("l")
        await pilot.pause()
        await pilot.press("down", "down", "down", "enter")  # (no label), x, y, cat
        await _settle(app, pilot)
        assert pane.label == "cat"
        ids = {f.id for f in pane.query_one(FindingsTable).findings}
        assert {"leakage", "drift", "imbalance"} <= ids and "other.csv" in _status(pane)

        # Opening a dataset (o) clears the comparison.
        pane.open_path(main)
        await _settle(app, pilot)
        assert pane.against is None and "compared with" not in _status(pane)
        assert not [f for f in pane.query_one(FindingsTable).findings if f.id in ("leakage", "drift")]


async def test_a_with_a_bad_file_notifies_and_keeps_the_findings(tmp_path: Path):
    main, other = _compare_files(tmp_path)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("x,y,cat\n1,2,a\n3,4,b,5\n")
    missing = tmp_path / "nope.csv"
    app = make_app(initial_pane="data")
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await _open(app, pilot, main)
        await _compare(app, pilot, other)
        before = [(f.id, f.title) for f in pane.query_one(FindingsTable).findings]
        assert ("leakage", f"7 rows also present in {other}") in before
        for bad, words in ((missing, str(missing)), (ragged, "ragged")):
            app._notifications.clear()
            pane.query_one("#data-columns").focus()
            await _compare(app, pilot, bad)
            messages = [str(n.message) for n in app._notifications]
            assert any(str(bad) in m and words in m for m in messages), messages
            assert [(f.id, f.title) for f in pane.query_one(FindingsTable).findings] == before
            assert pane.against is not None and pane.against.path == other
            assert "other.csv" in _status(pane) and pane.busy_reason() is None


async def test_a_before_a_dataset_is_open_only_warns():
    app = make_app(initial_pane="data")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        assert not isinstance(app.screen, OpenDataScreen)
        assert any("Open a dataset first" in str(n.message) for n in app._notifications)


async def test_i_in_the_table_view_fills_the_column_under_the_table_cursor():
    app = make_app(initial_pane="data")
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await _open(app, pilot, PENGUINS)
        pane.query_one("#data-columns", DataTable).move_cursor(row=0)  # the profile is on species
        await pilot.press("t")
        rows = pane.query_one("#data-rows", DataTable)
        rows.move_cursor(column=3)  # "#", species, island, bill_length_mm
        await pilot.pause()
        await pilot.press("i")
        await _settle(app, pilot)
        assert (
            list(pane.recipe.fill) == ["bill_length_mm"]
            and pane.recipe.fill["bill_length_mm"].strategy == "mean"
        )
        assert "▸bill_length_mm" in str(
            rows.columns[rows.ordered_columns[3].key].label
        )  # the header marks it


async def test_esc_clears_a_typed_filter_and_closes_the_box():
    app = make_app(initial_pane="data")
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await _open(app, pilot, PENGUINS)
        await pilot.press("slash", *"sex is null", "enter")
        await _settle(app, pilot)
        rows = pane.query_one("#data-rows", DataTable)
        box = pane.query_one("#data-filter", Input)
        assert rows.row_count == 11
        await pilot.press("slash", "backspace", "backspace")  # typing in the box, then giving up
        assert box.has_focus
        await pilot.press("escape")
        await _settle(app, pilot)
        assert not box.display and box.value == "" and rows.has_focus
        assert rows.row_count == PAGE_SIZE and pane.pager.state.filter_text == ""
        assert "filter:" not in rows.border_title


async def test_a_bad_filter_is_one_sentence_naming_the_real_columns(monkeypatch):
    from tui_trainer.data.paging import Pager

    app = make_app(initial_pane="data")
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await _open(app, pilot, PENGUINS)
        await pilot.press("slash", *"nope > 1", "enter")
        await _settle(app, pilot)
        status = _status(pane)
        assert status.startswith('filter not applied: there is no column "nope"') and "\n" not in status
        assert "species, island" in status and '"#"' not in status and "#," not in status
        # Whatever the parser raises, the pane says one readable sentence, not its internals.
        dump = 'sql parser error: Dot(Function(Function { name: ObjectName([Ident { value: "x" }])\n  args: [] })'
        monkeypatch.setattr(Pager, "set_filter", lambda self, text: dump)
        await pilot.press("slash", "ctrl+u", *"x.y()", "enter")
        await _settle(app, pilot)
        status = _status(pane)
        assert (
            status.startswith("filter not applied: not a condition I can read") and "Function" not in status
        )
        assert not pane.query_one("#data-filter", Input).has_focus
