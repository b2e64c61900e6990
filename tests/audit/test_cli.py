"""`tui-trainer audit` end to end: JSON on this real machine, requirement errors, export/compare, exit codes."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from importlib import metadata

import pytest


def audit(*args, env, cwd):
    return subprocess.run(
        [sys.executable, "-m", "tui_trainer", "audit", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


@pytest.fixture(scope="module")
def real_json(tmp_path_factory):
    import os

    cwd = tmp_path_factory.mktemp("cwd")
    env = dict(os.environ, NO_COLOR="1")
    proc = audit("--json", env=env, cwd=cwd)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout), proc.returncode


def test_json_agrees_with_independent_sources(real_json):
    doc, code = real_json
    assert doc["python"]["version"] == platform.python_version()
    assert doc["python"]["executable"] == sys.executable
    assert doc["python"]["venv"] == (sys.prefix != sys.base_prefix)
    installed = {}
    for dist in metadata.distributions():
        installed.setdefault(dist.metadata["Name"].lower().replace("_", "-"), dist.version)
    listed = {p["name"].lower().replace("_", "-"): p["version"] for p in doc["packages"]}
    assert listed == installed
    import torch

    assert doc["torch"]["installed"] is True and doc["torch"]["version"] == torch.__version__
    assert doc["torch"]["cuda"] == torch.version.cuda
    assert doc["torch"]["cuda_available"] == torch.cuda.is_available()
    assert isinstance(doc["gpus"], list) and isinstance(doc["host"], dict)
    assert {"id", "severity", "title", "detail", "fix"} <= set(doc["findings"][0])
    assert "differences" not in doc
    assert code == (1 if any(f["severity"] == "error" for f in doc["findings"]) else 0)
    assert doc["summary"]["exit_code"] == code


def test_requirements_asking_for_old_numpy_and_a_missing_package_exit_1(tmp_path, subprocess_env):
    req = tmp_path / "requirements.txt"
    req.write_text("numpy<1\nno-such-package-tui-trainer-test>=1.0\n")
    proc = audit("--json", "--no-smoke", "--requirements", str(req), env=subprocess_env, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    findings = json.loads(proc.stdout)["findings"]
    wrong = [f for f in findings if f["id"] == "packages.wrong_version"]
    missing = [f for f in findings if f["id"] == "packages.missing"]
    assert [f["evidence"]["package"] for f in wrong] == ["numpy"] and wrong[0][
        "fix"
    ] == "pip install 'numpy<1'"
    assert [f["evidence"]["package"] for f in missing] == ["no-such-package-tui-trainer-test"]
    assert all(f["severity"] == "error" for f in wrong + missing)


def test_unreadable_requirements_file_exits_2_naming_it(tmp_path, subprocess_env):
    proc = audit("--requirements", str(tmp_path / "missing.txt"), env=subprocess_env, cwd=tmp_path)
    assert proc.returncode == 2 and "missing.txt" in proc.stderr and "Traceback" not in proc.stderr


def test_export_then_compare_then_edited_numpy_then_malformed(tmp_path, subprocess_env):
    snap = tmp_path / "env.toml"
    exported = audit("--no-smoke", "--export", str(snap), env=subprocess_env, cwd=tmp_path)
    assert exported.returncode in (0, 1), exported.stderr
    assert snap.is_file() and str(snap) in exported.stderr

    same = audit("--json", "--no-smoke", "--compare", str(snap), env=subprocess_env, cwd=tmp_path)
    assert json.loads(same.stdout)["differences"] == []

    numpy_version = metadata.version("numpy")
    text = snap.read_text()
    assert f'numpy = "{numpy_version}"' in text
    snap.write_text(text.replace(f'numpy = "{numpy_version}"', 'numpy = "1.0.0"'))
    edited = audit("--json", "--no-smoke", "--compare", str(snap), env=subprocess_env, cwd=tmp_path)
    assert json.loads(edited.stdout)["differences"] == [
        {"kind": "package", "name": "numpy", "snapshot": "1.0.0", "current": numpy_version}
    ]
    text_report = audit("--no-smoke", "--compare", str(snap), env=subprocess_env, cwd=tmp_path)
    assert f"package numpy: 1.0.0 → {numpy_version}" in text_report.stdout

    snap.write_text("[snapshot\nformat = 1\n")
    bad = audit("--compare", str(snap), env=subprocess_env, cwd=tmp_path)
    assert bad.returncode == 2 and str(snap) in bad.stderr and "not valid TOML" in bad.stderr
    assert bad.stdout == ""


def test_export_into_a_missing_folder_fails_fast(tmp_path, subprocess_env):
    proc = audit("--export", str(tmp_path / "no" / "env.toml"), env=subprocess_env, cwd=tmp_path)
    assert proc.returncode == 2 and "does not exist" in proc.stderr and proc.stdout == ""


def test_bad_timeout_is_a_usage_error(tmp_path, subprocess_env):
    proc = audit("--timeout", "0", env=subprocess_env, cwd=tmp_path)
    assert proc.returncode == 2 and "--timeout" in proc.stderr
