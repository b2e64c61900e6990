"""Theme files: parsing, validation messages that name the file and key, and the bundled set."""

from __future__ import annotations

import pytest

from tests.conftest import REPO_ROOT
from tui_trainer.themes import ThemeFileError, load_theme_specs, parse_theme_file


def test_at_least_three_bundled_themes_load_cleanly():
    specs, warnings = load_theme_specs([REPO_ROOT / "themes"])
    assert warnings == []
    assert len(specs) >= 3
    assert "trainer-dark" in {spec.name for spec in specs}


def test_bundled_themes_become_textual_themes():
    specs, _ = load_theme_specs([REPO_ROOT / "themes"])
    for spec in specs:
        theme = spec.to_textual()
        assert theme.name == spec.name
        assert theme.dark == spec.dark


@pytest.mark.parametrize(
    ("content", "key"),
    [
        ('primary = "#ffffff"\n', "name"),
        ('name = "x"\n', "primary"),
        ('name = "x"\nprimary = 12\n', "primary"),
        ('name = "x"\nprimary = "#fff"\ndark = "yes"\n', "dark"),
        ('name = "x"\nprimary = "#fff"\nsurface = "nope"\n', "surface"),
        ('name = "has space"\nprimary = "#fff"\n', "name"),
        ('name = "x"\nprimary = "#fff"\nprimry = "#000"\n', "primry"),
        ('name = "x"\nprimary = "#fff"\n[variables]\nfoo = 1\n', "variables.foo"),
    ],
)
def test_malformed_theme_error_names_file_and_key(tmp_path, content, key):
    path = tmp_path / "bad.toml"
    path.write_text(content)
    with pytest.raises(ThemeFileError) as info:
        parse_theme_file(path)
    assert str(path) in str(info.value)
    assert f"'{key}'" in str(info.value)


def test_invalid_toml_is_reported_with_the_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("name = \n")
    with pytest.raises(ThemeFileError, match="broken.toml"):
        parse_theme_file(path)


def test_bad_files_are_skipped_and_good_ones_kept(tmp_path):
    (tmp_path / "a.toml").write_text('name = "a"\nprimary = "#112233"\n')
    (tmp_path / "b.toml").write_text('name = "b"\n')
    specs, warnings = load_theme_specs([tmp_path])
    assert [s.name for s in specs] == ["a"]
    assert len(warnings) == 1 and "b.toml" in warnings[0] and "'primary'" in warnings[0]


def test_user_theme_overrides_bundled_theme_of_same_name(tmp_path):
    bundled, user = tmp_path / "bundled", tmp_path / "user"
    bundled.mkdir()
    user.mkdir()
    (bundled / "t.toml").write_text('name = "t"\nprimary = "#000000"\n')
    (user / "t.toml").write_text('name = "t"\nprimary = "#ffffff"\n')
    specs, _ = load_theme_specs([bundled, user])
    assert len(specs) == 1 and specs[0].colors["primary"] == "#ffffff"
