"""Snapshots: TOML export, validation of a loaded file, and the differences a compare lists."""

from __future__ import annotations

import tomllib

import pytest

from tests.fakes import fake_dist, fake_gpu_facts, fake_torch
from tui_trainer.audit import snapshot
from tui_trainer.audit.runner import AuditResult, ProbeReport
from tui_trainer.errors import UserError


def result(**overrides):
    base = AuditResult(
        python={
            "version": "3.11.7",
            "implementation": "CPython",
            "executable": "/v/bin/python",
            "env_kind": "venv",
            "platform": "linux",
            "machine": "x86_64",
        },
        packages={"installed": [fake_dist("numpy", "2.1.0"), fake_dist("Torch", "2.5.1")]},
        torch=fake_torch(),
        gpus=fake_gpu_facts(),
        probes=[
            ProbeReport(name, "ok", 0.1)
            for name in ("torch", "python", "packages", "gpus", "host", "project")
        ],
    )
    for key, value in overrides.items():
        setattr(base, key, value)
    return base


def test_export_writes_valid_toml_without_nulls(tmp_path):
    path = snapshot.export(result(), tmp_path / "env.toml")
    data = tomllib.loads(path.read_text())
    assert data["packages"] == {"numpy": "2.1.0", "torch": "2.5.1"}
    assert data["torch"]["cuda"] == "12.4" and data["torch"]["cudnn"] == "90100"
    assert data["nvidia"]["driver"] == "550.54.14"
    assert data["gpus"][0] == {
        "name": "NVIDIA A100-SXM4-80GB",
        "capability": "8.0",
        "memory_total_mib": 81920,
    }
    assert "hip" not in data["torch"]  # None is left out, TOML has no null
    assert list(tmp_path.iterdir()) == [path]  # no temp file left behind


def test_same_environment_has_no_difference(tmp_path):
    path = snapshot.export(result(), tmp_path / "env.toml")
    assert snapshot.compare(snapshot.load(path), snapshot.build(result())) == []


def test_edited_numpy_version_is_exactly_one_difference(tmp_path):
    path = snapshot.export(result(), tmp_path / "env.toml")
    path.write_text(path.read_text().replace('numpy = "2.1.0"', 'numpy = "1.26.4"'))
    diffs = snapshot.compare(snapshot.load(path), snapshot.build(result()))
    assert diffs == [{"kind": "package", "name": "numpy", "snapshot": "1.26.4", "current": "2.1.0"}]


def test_every_kind_of_difference_is_listed():
    old = snapshot.build(result())
    new = snapshot.build(
        result(
            python={
                "version": "3.12.1",
                "implementation": "CPython",
                "platform": "linux",
                "machine": "x86_64",
            },
            packages={"installed": [fake_dist("numpy", "2.1.0"), fake_dist("scipy", "1.14.0")]},
            torch=fake_torch(version="2.7.0+cu128", cuda="12.8", cudnn=90800),
            gpus=fake_gpu_facts(driver="570.86.10", cuda_driver="12.8"),
        )
    )
    kinds = {(d["kind"], d["name"]) for d in snapshot.compare(old, new)}
    assert kinds == {
        ("python", "version"),
        ("package", "torch"),
        ("package", "scipy"),
        ("torch", "version"),
        ("cuda", "torch.cuda"),
        ("cudnn", "torch.cudnn"),
        ("driver", "nvidia.driver"),
        ("driver", "nvidia.cuda_driver"),
    }
    removed = next(d for d in snapshot.compare(old, new) if d["name"] == "torch" and d["kind"] == "package")
    assert removed["current"] is None and removed["snapshot"] == "2.5.1"


def test_gpu_model_change_and_sections_with_failed_probes_are_skipped():
    old = snapshot.build(result())
    other = fake_gpu_facts(gpus=[{"index": 0, "name": "NVIDIA H100 80GB HBM3", "capability": "9.0"}])
    assert [d["kind"] for d in snapshot.compare(old, snapshot.build(result(gpus=other)))] == ["gpu"]
    failed = result(torch=fake_torch(version=None, probe_error="timed out after 15 s"))
    current = snapshot.build(failed)
    assert current["snapshot"]["incomplete"] == ["torch"]
    assert snapshot.compare(old, current) == []


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("this is [not toml", "not valid TOML"),
        ("[python]\nversion = '3.11'\n", "missing [snapshot]"),
        ("[snapshot]\nformat = 99\n[packages]\n", "snapshot.format"),
        ("[snapshot]\nformat = 1\n[packages]\nnumpy = 2\n", "packages.numpy"),
        ("[snapshot]\nformat = 1\n", "missing [packages]"),
        ("[snapshot]\nformat = 1\n[torch]\ninstalled = 'yes'\n[packages]\n", "torch.installed"),
        ("gpus = 3\n[snapshot]\nformat = 1\n[packages]\n", "key gpus"),
    ],
)
def test_malformed_snapshots_raise_user_errors_naming_file_and_key(tmp_path, content, expected):
    path = tmp_path / "env.toml"
    path.write_text(content)
    with pytest.raises(UserError) as info:
        snapshot.load(path)
    assert str(path) in str(info.value) and expected in str(info.value)


def test_missing_snapshot_file(tmp_path):
    with pytest.raises(UserError, match="not found"):
        snapshot.load(tmp_path / "nope.toml")
