"""The schema glue on hostile values: every TOML file kind answers any value with its own error naming the key."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui_trainer import schema
from tui_trainer.augment.pipeline import SECTIONS, Pipeline
from tui_trainer.data.recipe import Recipe, parse_recipe
from tui_trainer.errors import UserError

values = st.recursive(
    st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=2),
    max_leaves=6,
)
OPS = [(section, name) for section, cls in SECTIONS.items() for name in cls.__struct_fields__]


@settings(max_examples=150, deadline=None)
@given(
    picks=st.lists(st.tuples(st.sampled_from(OPS + [("image", "spin"), ("video", "x")]), values), max_size=3)
)
def test_any_pipeline_value_is_a_pipeline_or_an_error_naming_section_and_op(picks):
    data: dict = {}
    for (section, name), value in picks:
        data.setdefault(section, {})[name] = value
    try:
        pipeline = Pipeline.from_dict(data, source="aug.toml")
    except UserError as exc:
        text = str(exc)
        assert text.startswith("aug.toml: ") and "\n" not in text
        assert any(f"[{s}]" in text for (s, _), _v in picks), text
    else:
        assert Pipeline.from_dict(pipeline.to_dict(), source="again") == pipeline


RECIPE_KEYS = list(Recipe.__struct_fields__)


@settings(max_examples=150, deadline=None)
@given(picks=st.dictionaries(st.sampled_from(RECIPE_KEYS + ["drop_dupes"]), values, max_size=3))
def test_any_recipe_value_is_a_recipe_or_an_error_naming_the_key(picks):
    try:
        recipe = parse_recipe(picks, "fix.toml")
    except UserError as exc:
        text = str(exc)
        assert text.startswith("fix.toml: ") and "\n" not in text
        assert any(key in text for key in picks), text
    else:
        assert parse_recipe(recipe.to_toml(), "again").to_toml() == recipe.to_toml()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("\ufeffx = 1\n", None),
        ("x = " + "[" * 600 + "]" * 600, "f.toml: not valid TOML (nested too deeply)"),
        ("x = \n", "f.toml: not valid TOML (Invalid value (at line 1, column 5))"),
    ],
    ids=["byte-order-mark", "deep-nesting", "bad-value"],
)
def test_the_one_toml_reader(tmp_path, body, message):
    path = tmp_path / "f.toml"
    path.write_text(body, encoding="utf-8")
    if message is None:
        assert schema.read_toml(path, "test") == {"x": 1}
        return
    with pytest.raises(UserError) as err:
        schema.read_toml(path, "test")
    assert str(err.value) == message.replace("f.toml", str(path))


def test_oversized_files_are_refused_before_parsing(tmp_path, monkeypatch):
    monkeypatch.setattr(schema, "MAX_TOML_BYTES", 64)
    path = tmp_path / "big.toml"
    path.write_text("x = 1\n" * 20)
    with pytest.raises(UserError, match="larger than"):
        schema.read_toml(path, "test")


def test_describe_words_types_ranges_and_choices():
    from typing import Annotated, Literal

    from msgspec import Meta

    assert schema.describe(Annotated[int, Meta(ge=1)]) == "an integer >= 1"
    assert schema.describe(Annotated[float, Meta(ge=0, lt=1)]) == "a number in [0, 1)"
    assert schema.describe(list[Annotated[int, Meta(ge=1)]]) == "a list of integers >= 1"
    assert schema.describe(Literal["a", "b"]) == "one of 'a', 'b'"
    assert schema.describe(Literal["x"] | Annotated[list[float], Meta(min_length=1)] | None) == (
        "'x' or a non-empty list of numbers"
    )
