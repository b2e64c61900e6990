"""Config loading: typed values, overrides, errors that name the key, the expected type and the file."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.engine.conftest import write_config
from tui_trainer import schema
from tui_trainer.engine.config import (
    ConfigError,
    TrainConfig,
    config_from_dict,
    config_to_dict,
    load_config,
    parse_override,
    save_config,
)
from tui_trainer.errors import UserError


def test_load_config_reads_tables_and_defaults(table_config):
    cfg = load_config(table_config)
    assert cfg.data.label == "label"
    assert cfg.model.hidden == [16]
    assert cfg.optim.lr == 0.01
    assert cfg.train.epochs == 3
    assert cfg.train.precision == "fp32"  # default
    assert cfg.resolve(cfg.data.path) == table_config.parent / "data.csv"


def test_unknown_key_is_named_with_file(tmp_path):
    path = write_config(tmp_path, "\n[optim]\nlearning_rate = 0.1\n".replace("[optim]", "[diagnostics]"))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "diagnostics.learning_rate" in str(err.value)
    assert str(path) in str(err.value)
    assert isinstance(err.value, UserError)


def test_wrong_type_names_key_expected_type_and_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[data]\npath = "x.csv"\n[train]\nepochs = "ten"\n')
    with pytest.raises(ConfigError) as err:
        load_config(path)
    msg = str(err.value)
    assert "train.epochs" in msg and "integer" in msg and "'ten'" in msg and str(path) in msg


def test_unknown_table_is_named(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[data]\npath = "x.csv"\n[trian]\nepochs = 3\n')
    with pytest.raises(ConfigError, match=r"unknown table `\[trian\]`"):
        load_config(path)


def test_choice_values_are_checked(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[data]\npath = "x.csv"\n[train]\nprecision = "fp8"\n')
    with pytest.raises(ConfigError, match="train.precision.*one of 'bf16', 'fp16', 'fp32', got 'fp8'"):
        load_config(path)


def test_ranges_are_checked(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[data]\npath = "x.csv"\n[optim]\nlr = -1\n')
    with pytest.raises(ConfigError, match="optim.lr"):
        load_config(path)


def test_overrides_are_toml_typed(table_config):
    cfg = load_config(
        table_config,
        [
            "optim.lr=0.5",
            "model.hidden=[8, 4]",
            "train.grad_clip=1",
            "data.label=colour",
            "train.stop_on_nan=false",
        ],
    )
    assert cfg.optim.lr == 0.5 and isinstance(cfg.optim.lr, float)
    assert cfg.model.hidden == [8, 4]
    assert cfg.train.grad_clip == 1.0
    assert cfg.data.label == "colour"  # a bare word is a string
    assert cfg.train.stop_on_nan is False


def test_override_wrong_type_names_the_override(table_config):
    with pytest.raises(ConfigError) as err:
        load_config(table_config, ["train.batch_size=big"])
    assert "train.batch_size" in str(err.value) and "integer" in str(err.value) and "--set" in str(err.value)


def test_override_unknown_key(table_config):
    with pytest.raises(ConfigError, match="optim.lrr"):
        load_config(table_config, ["optim.lrr=0.1"])


def test_override_needs_key_value():
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_override("optim.lr")
    with pytest.raises(ConfigError, match="SECTION.NAME"):
        parse_override("lr=0.1")


def test_missing_file_and_bad_toml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[data\npath=1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_save_config_round_trips(table_config, tmp_path):
    cfg = load_config(table_config, ["optim.lr=0.02"])
    out = tmp_path / "run" / "config.toml"
    save_config(cfg, out, absolute_paths=True)
    again = load_config(out)
    assert config_to_dict(again) == config_to_dict(cfg, absolute_paths=True)
    assert again.resolve(again.data.path) == table_config.parent / "data.csv"
    assert not list(out.parent.glob("*.tmp"))


def test_override_paths_are_relative_to_the_current_directory(table_config, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cfg = load_config(table_config, ["data.path=mine.csv", "augment.pipeline=/abs/aug.toml"])
    assert cfg.resolve(cfg.data.path) == elsewhere / "mine.csv"
    assert cfg.augment.pipeline == "/abs/aug.toml"
    assert cfg.resolve(load_config(table_config).data.path) == table_config.parent / "data.csv"


def test_new_loader_keys_have_their_defaults_and_choices(table_config):
    cfg = load_config(table_config)
    assert (cfg.train.class_weights, cfg.data.sampler, cfg.data.num_workers, cfg.data.pin_memory) == (
        None,
        "none",
        0,
        False,
    )
    cfg = load_config(
        table_config,
        [
            "train.class_weights=balanced",
            "data.sampler=balanced",
            "data.num_workers=2",
            "data.pin_memory=true",
        ],
    )
    assert (cfg.train.class_weights, cfg.data.sampler, cfg.data.num_workers, cfg.data.pin_memory) == (
        "balanced",
        "balanced",
        2,
        True,
    )
    assert load_config(table_config, ["train.class_weights=[1, 2.5, 0.5]"]).train.class_weights == [
        1.0,
        2.5,
        0.5,
    ]
    for bad in ("train.class_weights=[1, 0]", "train.class_weights=heavy", "train.class_weights=[]"):
        with pytest.raises(ConfigError, match="train.class_weights"):
            load_config(table_config, [bad])


def test_unset_class_weights_stay_out_of_the_saved_toml(table_config, tmp_path):
    out = save_config(load_config(table_config), tmp_path / "saved.toml")
    assert "class_weights" not in out.read_text()
    out = save_config(load_config(table_config, ["train.class_weights=[2, 1, 1]"]), tmp_path / "w.toml")
    assert load_config(out).train.class_weights == [2.0, 1.0, 1.0]


@pytest.mark.parametrize(
    ("section", "line", "message"),
    [
        ("data", "image_size = [-32, 32]", "`data.image_size[0]` must be an integer in [1, 8192], got -32"),
        ("data", "image_size = [32]", "`data.image_size` must be [] or [height, width], got [32]"),
        ("data", "max_rows = -1", "`data.max_rows` must be an integer >= 0, got -1"),
        ("data", "num_workers = -1", "`data.num_workers` must be an integer in [0, 256], got -1"),
        (
            "data",
            'sampler = "oversample"',
            "`data.sampler` must be one of 'balanced', 'none', got 'oversample'",
        ),
        ("data", "pin_memory = 1", "`data.pin_memory` must be true or false, got 1"),
        ("optim", "momentum = -1", "`optim.momentum` must be a number in [0, 1), got -1"),
        ("optim", "step_size = 0", "`optim.step_size` must be an integer >= 1, got 0"),
        ("optim", "lr = nan", "`optim.lr` must be a number > 0, got nan"),
        ("train", "seed = -1", "`train.seed` must be an integer in [0, 4294967295], got -1"),
        ("train", "seed = 18446744073709551616", "`train.seed` must be an integer in [0, 4294967295]"),
        ("train", "batch_size = 0", "`train.batch_size` must be an integer >= 1, got 0"),
        ("train", "epochs = 99999999999999999999", "`train.epochs` must be an integer >= 1"),
        ("train", "log_every = inf", "`train.log_every` must be an integer >= 0, got inf"),
    ],
)
def test_bad_values_exit_2_naming_key_and_expected_form(tmp_path, section, line, message):
    """Through the real command, as a user meets it: exit 2, one line naming the file, key and form."""
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT

    path = tmp_path / "bad.toml"
    table = f"{line}\n" if section == "data" else f"[{section}]\n{line}\n"
    path.write_text('[data]\npath = "data.csv"\n' + table)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tui_trainer",
            "train",
            str(path),
            "--headless",
            "--run-dir",
            str(tmp_path / "run"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and str(path) in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_override_names_the_set_flag(table_config):
    with pytest.raises(ConfigError) as err:
        load_config(table_config, ["train.seed=-1"])
    assert str(err.value).startswith("--set 'train.seed=-1' (config ")
    assert "`train.seed` must be an integer in [0, 4294967295], got -1" in str(err.value)
    with pytest.raises(ConfigError, match="`data.path` must be a string, got 3"):
        load_config(table_config, ["data.path=3"])


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda p: p.mkdir(), "is a folder"),
        (lambda p: p.write_bytes(b"\xff\xfe[\x00d\x00"), "not UTF-8"),
        (lambda p: p.write_text("\ufeff[data]\npath = 'x.csv'\n"), None),
        (lambda p: p.write_text("a = " + "[" * 5000 + "]" * 5000 + "\n"), "not valid TOML"),
        (lambda p: __import__("os").mkfifo(p), "not a regular file"),
    ],
)
def test_unreadable_configs_are_user_errors(tmp_path, make, needle):
    path = tmp_path / "c.toml"
    make(path)
    if needle is None:
        assert load_config(path).data.path == "x.csv"  # a byte-order mark is fine
        return
    with pytest.raises(ConfigError, match=needle):
        load_config(path)


_toml_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
_SCHEMA_KEYS = [name.split(".") for name, _ in schema.keys(TrainConfig)]


@settings(max_examples=150, deadline=None)
@given(
    picks=st.lists(
        st.tuples(st.sampled_from(_SCHEMA_KEYS + [["train", "nope"], ["x", "y"]]), _toml_values), max_size=4
    )
)
def test_any_value_for_any_key_is_a_config_or_a_config_error_naming_the_key(picks):
    data: dict = {"data": {"path": "x.csv"}}
    for (section, name), value in picks:
        if value is None:
            continue
        data.setdefault(section, {})[name] = value
    try:
        config = config_from_dict(data, where="cfg.toml")
    except ConfigError as exc:
        text = str(exc)
        assert text.startswith("cfg.toml: ") and "\n" not in text
        assert any(f"{s}.{n}" in text or f"[{s}]" in text for (s, n), v in picks if v is not None), text
    else:
        assert config_from_dict(config_to_dict(config), where="again") == config
