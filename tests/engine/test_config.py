"""Config loading: typed values, overrides, errors that name the key, the expected type and the file."""

from __future__ import annotations

import pytest

from tests.engine.conftest import write_config
from tui_trainer.engine.config import ConfigError, config_to_dict, load_config, parse_override, save_config
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
    with pytest.raises(ConfigError, match="train.precision.*'fp32', 'bf16', 'fp16'"):
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
    with pytest.raises(ConfigError, match="invalid TOML"):
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
