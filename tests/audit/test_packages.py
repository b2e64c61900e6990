"""Packages probe: pip-check conflicts, requirement files (txt and pyproject), missing and wrong versions."""

from __future__ import annotations

import pytest

from tests.fakes import fake_dist
from tui_trainer.audit import packages
from tui_trainer.errors import UserError
from tui_trainer.findings import Severity

ENV = {
    "python_version": "3.11",
    "python_full_version": "3.11.7",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "implementation_name": "cpython",
    "os_name": "posix",
    "platform_python_implementation": "CPython",
    "platform_release": "",
    "platform_version": "",
    "implementation_version": "3.11.7",
    "extra": "",
}


def by_id(findings, finding_id):
    return [f for f in findings if f.id == finding_id]


def test_conflict_when_a_dependency_is_out_of_range():
    installed = [fake_dist("pandas", "2.2.0", "numpy>=1.26"), fake_dist("numpy", "1.24.0")]
    conflicts = packages.find_conflicts(installed, ENV)
    assert len(conflicts) == 1
    finding = conflicts[0]
    assert finding.id == "packages.conflict" and finding.severity is Severity.ERROR
    assert "pandas" in finding.title and "numpy" in finding.title and "1.24.0" in finding.title
    assert finding.fix == "pip install 'numpy>=1.26'"


def test_conflict_when_a_dependency_is_missing_and_markers_are_evaluated():
    installed = [
        fake_dist(
            "app",
            "1.0",
            "requests",
            "pywin32; sys_platform == 'win32'",
            "pytest; extra == 'test'",
            "tomli>=1; python_version < '3.11'",
        ),
    ]
    conflicts = packages.find_conflicts(installed, ENV)
    assert [f.evidence["requires"] for f in conflicts] == ["requests"]
    assert conflicts[0].fix == "pip install requests"


def test_prerelease_installed_satisfies_like_pip_check():
    installed = [fake_dist("a", "1.0", "b>=2.0"), fake_dist("b", "2.1rc1")]
    assert packages.find_conflicts(installed, ENV) == []


def test_names_are_compared_canonically():
    installed = [fake_dist("a", "1.0", "Typing_Extensions>=4"), fake_dist("typing-extensions", "4.12.0")]
    assert packages.find_conflicts(installed, ENV) == []


def test_duplicate_install_with_different_versions_is_a_warning():
    installed = [
        fake_dist("numpy", "2.0.0"),
        fake_dist("numpy", "1.26.4"),
        fake_dist("six", "1"),
        fake_dist("six", "1"),
    ]
    found = packages.find_duplicates(installed)
    assert [f.evidence["package"] for f in found] == ["numpy"]
    assert found[0].severity is Severity.WARNING


def test_first_distribution_on_sys_path_wins():
    installed = [fake_dist("numpy", "2.0.0"), fake_dist("numpy", "1.26.4")]
    assert packages.package_list(installed) == [{"name": "numpy", "version": "2.0.0"}]


def test_requirements_txt_numpy_below_one_is_a_wrong_version_error(tmp_path):
    req = tmp_path / "requirements.txt"
    req.write_text("# pinned for the paper\nnumpy<1  # old API\n")
    loaded = packages.load_requirements(req)
    findings = packages.check_requirements(loaded.requirements, [fake_dist("numpy", "2.1.0")], ENV)
    assert len(findings) == 1
    assert findings[0].id == "packages.wrong_version"
    assert findings[0].severity is Severity.ERROR
    assert findings[0].fix == "pip install 'numpy<1'"
    assert findings[0].evidence["source"] == "requirements.txt:2"


def test_requirement_not_installed_is_an_error_naming_it(tmp_path):
    req = tmp_path / "requirements.txt"
    req.write_text("definitely-not-a-package==0.1\n")
    loaded = packages.load_requirements(req)
    findings = packages.check_requirements(loaded.requirements, [fake_dist("numpy", "2.1.0")], ENV)
    assert [f.id for f in findings] == ["packages.missing"]
    assert "definitely-not-a-package" in findings[0].title
    assert findings[0].fix == "pip install definitely-not-a-package==0.1"


def test_requirements_txt_includes_continuations_options_and_markers(tmp_path):
    (tmp_path / "base.txt").write_text("scipy>=1.0\n")
    req = tmp_path / "requirements.txt"
    req.write_text(
        "--index-url https://download.pytorch.org/whl/cu124\n"
        "-r base.txt\n"
        "torch>=2.0 \\\n    --hash=sha256:abc\n"
        "pywin32 ; sys_platform == 'win32'\n"
        "-e ./mylib\n"
        "./wheels/local.whl\n"
        "git+https://github.com/x/y#egg=y\n"
        "-c constraints.txt\n"
    )
    loaded = packages.load_requirements(req)
    assert [str(r.requirement) for r in loaded.requirements] == [
        "scipy>=1.0",
        "torch>=2.0",
        'pywin32; sys_platform == "win32"',
    ]
    assert len(loaded.skipped) == 4
    installed = [fake_dist("scipy", "1.14.0"), fake_dist("torch", "2.5.1")]
    assert packages.check_requirements(loaded.requirements, installed, ENV) == []  # pywin32 is for Windows


def test_include_cycles_are_read_once(tmp_path):
    (tmp_path / "a.txt").write_text("-r b.txt\nsix\n")
    (tmp_path / "b.txt").write_text("-r a.txt\nidna\n")
    loaded = packages.load_requirements(tmp_path / "a.txt")
    assert sorted(r.requirement.name for r in loaded.requirements) == ["idna", "six"]


def test_pyproject_dependencies_are_checked(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\ndependencies = ["numpy<1", "torch>=2"]\n')
    loaded = packages.load_requirements(pyproject)
    installed = [fake_dist("numpy", "2.1.0"), fake_dist("torch", "2.5.1")]
    findings = packages.check_requirements(loaded.requirements, installed, ENV)
    assert [(f.id, f.evidence["package"]) for f in findings] == [("packages.wrong_version", "numpy")]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("requirements.txt", "numpy>=1\nthis is not valid\n", "requirements.txt:2"),
        ("pyproject.toml", "[project\nname=1", "not valid TOML"),
        ("pyproject.toml", '[tool.poetry]\nname = "x"\n', "project.dependencies"),
        ("pyproject.toml", '[project]\ndependencies = "numpy"\n', "project.dependencies"),
        ("requirements.txt", "-r missing.txt\n", "missing.txt"),
    ],
)
def test_malformed_requirement_files_raise_user_errors_naming_them(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(UserError) as info:
        packages.load_requirements(path)
    assert expected in str(info.value)


def test_missing_requirements_file_names_the_path(tmp_path):
    with pytest.raises(UserError, match="nope.txt"):
        packages.load_requirements(tmp_path / "nope.txt")


def test_assess_reports_project_requirements_once():
    installed = [
        fake_dist("tui-trainer", "0.1.0", "numpy>=1.26", "pytest; extra == 'dev'"),
        fake_dist("numpy", "1.26.4"),
    ]
    findings = packages.assess({"installed": installed}, environment=ENV)
    assert sorted(f.id for f in findings) == ["packages.consistent", "packages.project_requirements"]
    installed[1] = fake_dist("numpy", "1.20.0")
    findings = packages.assess({"installed": installed}, environment=ENV)
    assert [f.id for f in findings] == ["packages.conflict"]  # reported once, as the pip-check conflict


def test_requested_extras_pull_in_their_own_requirements(tmp_path):
    req = tmp_path / "requirements.txt"
    req.write_text("textual[syntax]>=8\n")
    loaded = packages.load_requirements(req)
    installed = [
        fake_dist(
            "textual", "8.2.8", "rich>=13", "tree-sitter>=0.23; extra == 'syntax'", "pytest; extra == 'dev'"
        ),
        fake_dist("rich", "14.0.0"),
    ]
    findings = packages.check_requirements(loaded.requirements, installed, ENV)
    assert [(f.id, f.evidence["package"]) for f in findings] == [("packages.missing", "tree-sitter")]
    assert "textual[syntax]" in findings[0].evidence["source"]
    assert findings[0].fix == "pip install 'tree-sitter>=0.23'"
