"""The README's table of pane keys is the panes' own bindings (docs/make_keys.py regenerates it)."""

from __future__ import annotations

import importlib.util

from tests.conftest import REPO_ROOT


def _make_keys():
    spec = importlib.util.spec_from_file_location("make_keys", REPO_ROOT / "docs" / "make_keys.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_key_table_matches_the_bindings():
    make_keys = _make_keys()
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert make_keys.readme_block(readme) == make_keys.pane_key_table(), (
        "README key table differs from the panes' bindings: run python docs/make_keys.py"
    )


def test_every_pane_binding_is_in_the_table():
    table = _make_keys().pane_key_table()
    from tui_trainer.app import make_app

    for _section, rows in make_app().key_sections()[1:]:
        for keys, description in rows:
            if keys:
                assert f"| {description} |" in table
