"""docs/configuration.md's key tables are the schemas': regenerated text equals the file, every table is there."""

from __future__ import annotations

import re

from tests.conftest import REPO_ROOT
from tui_trainer import schema
from tui_trainer.engine.config import SECTIONS, TrainConfig

DOC = REPO_ROOT / "docs" / "configuration.md"


def test_documented_keys_match_the_schemas_exactly():
    text = DOC.read_text(encoding="utf-8")
    assert schema.update_markdown(text) == text, (
        "docs/configuration.md is out of date with the schemas: run `python -m tui_trainer.schema "
        "docs/configuration.md`"
    )


def test_every_config_kind_and_train_table_is_documented():
    text = DOC.read_text(encoding="utf-8")
    targets = set(re.findall(r"<!-- schema: (\S+)", text))
    for section in SECTIONS:
        cls = type(getattr(TrainConfig(), section))
        assert f"tui_trainer.engine.config:{cls.__name__}" in targets, f"[{section}] has no key table"
    for target in (
        "tui_trainer.data.recipe:Recipe",
        "tui_trainer.augment.pipeline:ImageOps",
        "tui_trainer.augment.pipeline:TextOps",
        "tui_trainer.augment.pipeline:AudioOps",
        "tui_trainer.themes:ThemeFile",
        "tui_trainer.config:UserSettings",
    ):
        assert target in targets
    documented = set(re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \|", text, re.M))
    expected = {name for name, _ in schema.keys(TrainConfig)}
    assert expected <= documented


def test_a_key_added_to_a_schema_makes_the_docs_stale():
    text = DOC.read_text(encoding="utf-8")
    block = re.search(
        r"<!-- schema: tui_trainer.engine.config:TelemetryConfig telemetry. -->\n.*?<!-- /schema -->",
        text,
        re.S,
    )
    assert block is not None
    stale = text.replace(
        block.group(0), block.group(0).replace("| `telemetry.enabled`", "| `telemetry.enable`")
    )
    assert schema.update_markdown(stale) != stale
