"""The Data pane shows the dirty-data findings and builds their fixes: r adds the highlighted finding's fix,
Enter shows its rows, and the saved recipe reads the raw file right (Pilot, the real app)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from textual.widgets import DataTable

from tests.conftest import SAMPLE_DATA
from tui_trainer.app import make_app
from tui_trainer.data.load import open_dataset
from tui_trainer.data.recipe import apply_recipe
from tui_trainer.panes.data import DataPane
from tui_trainer.widgets.findings_table import FindingsTable

FORMATTED = SAMPLE_DATA / "dirty" / "auto_mpg_formatted.csv"


async def _settle(app, pilot) -> None:
    for _ in range(4):
        await app.workers.wait_for_complete()
        await pilot.pause()


async def test_r_adds_each_highlighted_findings_fix_and_enter_shows_variant_rows(tmp_path: Path):
    app = make_app(initial_pane="data")
    async with app.run_test(size=(140, 44)) as pilot:
        pane = app.query_one(DataPane)
        pane.open_path(FORMATTED)
        await _settle(app, pilot)
        table = pane.query_one(FindingsTable)
        ids = [f.id for f in table.findings]
        for wanted in ("missing_marker", "numeric_formatted", "date_text", "category_variants", "correlated"):
            assert wanted in ids
        table.focus()
        for wanted in ("missing_marker", "numeric_formatted", "date_text", "category_variants"):
            for index, finding in enumerate(table.findings):
                if finding.id == wanted:
                    table.move_cursor(row=index)
                    await pilot.press("r")
        await _settle(app, pilot)
        recipe = pane.recipe
        assert recipe.na_values == ["-"] and recipe.parse_dates == {"Year": "%d.%m.%Y"}
        assert recipe.parse_numbers == {"Weight_in_lbs": "thousands_comma", "Acceleration": "decimal_comma"}
        assert recipe.merge_categories["Name"]["audi 100 ls"] == "audi 100ls"
        # The saved recipe, applied to the raw file, gives the numbers and dates the profile showed.
        clean = apply_recipe(open_dataset(FORMATTED).lazy, recipe).collect()
        profile = {c.name: c for c in pane.inspection.profile.columns}
        assert clean["Weight_in_lbs"].mean() == profile["Weight_in_lbs"].mean
        assert clean.schema["Year"] == pl.Date
        # Enter on the spelling variants: every row written a less common way.
        variants = next(i for i, f in enumerate(table.findings) if f.id == "category_variants")
        table.move_cursor(row=variants)
        await pilot.press("enter")
        await _settle(app, pilot)
        rows = pane.query_one("#data-rows", DataTable)
        assert rows.row_count == table.findings[variants].evidence["count"] == 4


async def test_saved_recipe_carries_the_reading_so_headless_apply_matches_the_pane(tmp_path: Path):
    import subprocess
    import sys
    import tomllib

    from textual.widgets import Input

    source = SAMPLE_DATA / "dirty" / "auto_mpg.csv"
    app = make_app(initial_pane="data")
    async with app.run_test(size=(140, 44)) as pilot:
        pane = app.query_one(DataPane)
        pane.open_path(source)
        await _settle(app, pilot)
        pane.recipe.drop_missing.append("Horsepower")  # what m on the Horsepower column does
        target = tmp_path / "fix.toml"
        await pilot.press("w")
        await pilot.pause()
        app.screen.query_one(Input).value = str(target)
        await pilot.press("enter")
        await _settle(app, pilot)
    saved = tomllib.loads(target.read_text(encoding="utf-8"))
    assert saved["na_values"] == ["?"] and saved["parse_dates"] == {"Year": "%Y-%m-%d"}
    out = tmp_path / "clean.parquet"
    result = subprocess.run(
        [sys.executable, "-m", "tui_trainer", "inspect", str(source), "--apply", str(target), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    clean = pl.read_parquet(out)
    assert clean.height == 400 and clean.schema["Year"] == pl.Date  # 6 rows with Horsepower "?" dropped
