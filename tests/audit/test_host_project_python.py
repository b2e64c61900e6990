"""Python, host and project probes: facts from this machine and findings from faked facts."""

from __future__ import annotations

import platform
import subprocess
import sys

from tui_trainer.audit import host, project, python_env
from tui_trainer.findings import Severity

GIB = 1024**3


def ids(findings):
    return [f.id for f in findings]


def test_python_facts_match_the_interpreter():
    facts = python_env.collect()
    assert facts["version"] == platform.python_version()
    assert facts["executable"] == sys.executable
    assert facts["venv"] == (sys.prefix != sys.base_prefix)


def test_system_interpreter_is_a_warning_and_a_venv_is_ok():
    system = {
        "version": "3.11.7",
        "executable": "/usr/bin/python3",
        "env_kind": "system",
        "pip_version": "24.0",
    }
    finding = python_env.assess(system)[0]
    assert finding.id == "python.system_interpreter" and finding.severity is Severity.WARNING
    assert finding.fix.startswith("python -m venv .venv")
    venv = dict(system, env_kind="venv", prefix="/p")
    assert ids(python_env.assess(venv)) == ["python.environment"]


def test_old_python_and_missing_pip():
    facts = {"version": "3.8.10", "executable": "/x/python", "env_kind": "conda", "pip_version": None}
    assert {"python.too_old", "python.pip_missing"} <= set(ids(python_env.assess(facts)))


def test_host_collects_cores_memory_disk_and_env(tmp_path):
    facts = host.collect(tmp_path, environ={"OMP_NUM_THREADS": "4", "HOME": "/nope", "UNRELATED": "1"})
    assert facts["cpu_logical"] >= 1 and facts["ram_total_bytes"] > 0
    assert facts["disk"]["cwd"]["free_bytes"] > 0
    assert facts["env"] == {"OMP_NUM_THREADS": "4"}


def _host(**overrides):
    facts = {
        "cpu_model": "x",
        "cpu_logical": 8,
        "cpu_physical": 4,
        "cpu_usable": 8,
        "ram_total_bytes": 64 * GIB,
        "ram_available_bytes": 60 * GIB,
        "disk": {"cwd": {"path": "/w", "free_bytes": 500 * GIB}},
        "shm": {"path": "/dev/shm", "total_bytes": 32 * GIB, "free_bytes": 32 * GIB},
        "nofile_soft": 65536,
        "nofile_hard": 65536,
        "env": {},
        "os": "Linux",
    }
    facts.update(overrides)
    return facts


def test_healthy_host_gives_one_ok_summary():
    assert ids(host.assess(_host())) == ["host.summary"]


def test_docker_default_shm_is_the_dataloader_warning():
    finding = next(
        f
        for f in host.assess(_host(shm={"path": "/dev/shm", "total_bytes": 64 * 1024**2}))
        if f.id == "host.small_shm"
    )
    assert finding.severity is Severity.WARNING and "--shm-size" in finding.fix and "64 MiB" in finding.title


def test_low_limits_and_disk_and_env_findings():
    facts = _host(
        nofile_soft=1024,
        nofile_hard=4096,
        ram_available_bytes=1 * GIB,
        disk={"cwd": {"path": "/w", "free_bytes": 2 * GIB}},
        env={"OMP_NUM_THREADS": "64", "CUDA_LAUNCH_BLOCKING": "1"},
    )
    found = ids(host.assess(facts))
    for expected in (
        "host.low_nofile",
        "host.low_memory",
        "host.low_disk",
        "host.omp_oversubscribed",
        "host.cuda_launch_blocking",
        "host.training_env",
    ):
        assert expected in found
    nofile = next(f for f in host.assess(facts) if f.id == "host.low_nofile")
    assert nofile.fix == "ulimit -n 4096"


def _git(cwd, *args):
    subprocess.run(
        ["git", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        env={
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@t",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@t",
            "PATH": "/usr/bin:/bin",
        },
    )


def test_project_without_git_lock_or_logging(tmp_path):
    found = ids(project.assess(project.collect(tmp_path)))
    assert found == ["project.no_git", "project.no_lock", "project.no_logging"]


def test_project_git_dirty_then_clean_with_lock_and_runs(tmp_path):
    _git(tmp_path, "init", "-q")
    (tmp_path / "train.py").write_text("print(1)\n")
    (tmp_path / "requirements.txt").write_text("torch==2.5.1\nnumpy==2.1.0  # pinned\n")
    (tmp_path / "runs").mkdir()
    _git(tmp_path, "add", "train.py", "requirements.txt")
    _git(tmp_path, "commit", "-q", "-m", "x")
    facts = project.collect(tmp_path)
    assert ids(project.assess(facts)) == ["project.git_clean", "project.locked", "project.logging"]
    (tmp_path / "train.py").write_text("print(2)\n")
    dirty = project.assess(project.collect(tmp_path))
    assert dirty[0].id == "project.uncommitted_changes" and dirty[0].evidence["dirty_files"] == 1
