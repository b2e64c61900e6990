"""User config (TOML via tomllib/tomli-w, atomic) and logging to the state dir."""

from __future__ import annotations

import logging

import pytest

from tui_trainer import paths
from tui_trainer.atomic import atomic_write_text
from tui_trainer.config import UserConfig, load_user_config, load_user_config_or_default, save_user_config
from tui_trainer.errors import UserError
from tui_trainer.findings import Finding, Severity, sort_findings, worst_severity
from tui_trainer.logs import setup_logging


def test_config_round_trip_keeps_unknown_keys(isolated_xdg):
    path = paths.config_file()
    path.parent.mkdir(parents=True)
    path.write_text('theme = "trainer-light"\n[train]\ndefault_run_root = "runs"\n')
    config = load_user_config()
    assert config.theme == "trainer-light"
    config.theme = "high-contrast"
    save_user_config(config)
    again = load_user_config()
    assert again.theme == "high-contrast"
    assert again.extra == {"train": {"default_run_root": "runs"}}


def test_config_dir_follows_xdg(isolated_xdg):
    assert paths.config_file() == isolated_xdg / "config" / "tui-trainer" / "config.toml"
    assert paths.log_file() == isolated_xdg / "state" / "tui-trainer" / "tui-trainer.log"


def test_malformed_config_names_the_file(isolated_xdg):
    path = paths.config_file()
    path.parent.mkdir(parents=True)
    path.write_text("theme = [\n")
    with pytest.raises(UserError, match="config.toml"):
        load_user_config()
    assert load_user_config_or_default() == UserConfig()


def test_config_with_wrong_type_names_the_key(isolated_xdg):
    path = paths.config_file()
    path.parent.mkdir(parents=True)
    path.write_text("theme = 3\n")
    with pytest.raises(UserError, match="'theme'"):
        load_user_config()


def test_atomic_write_leaves_no_temp_files(tmp_path):
    target = tmp_path / "out.txt"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_write_failure_keeps_old_content(tmp_path):
    from tui_trainer.atomic import atomic_write

    target = tmp_path / "out.txt"
    target.write_text("original")

    def explode(fh):
        fh.write(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, explode)
    assert target.read_text() == "original"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_logging_writes_debug_to_the_state_dir(isolated_xdg):
    log_path = setup_logging()
    logging.getLogger("tui_trainer.test").debug("hello from a test")
    for handler in logging.getLogger("tui_trainer").handlers:
        handler.flush()
    assert log_path == paths.log_file()
    assert "hello from a test" in log_path.read_text()


def test_debug_flag_echoes_to_stderr(isolated_xdg, capsys):
    setup_logging(debug_to_stderr=True)
    logging.getLogger("tui_trainer.test").debug("echoed")
    assert "echoed" in capsys.readouterr().err
    setup_logging(debug_to_stderr=False)


def test_findings_sort_worst_first_and_parse_severity():
    findings = [
        Finding("b", "info", "B"),
        Finding("a", Severity.ERROR, "A"),
        Finding("c", "warning", "C"),
        Finding("d", "ok", "D"),
    ]
    assert [f.id for f in sort_findings(findings)] == ["a", "c", "b", "d"]
    assert worst_severity(findings) is Severity.ERROR
    assert worst_severity([]) is Severity.OK
    with pytest.raises(ValueError, match="severity"):
        Finding("x", "fatal", "X")
    assert Finding.from_dict(findings[1].to_dict()) == findings[1]
