"""Packages probe: installed distributions, `pip check`-style conflicts, and requirement files checked against them.

Works on plain dicts (`{"name", "version", "requires"}`) so the conflict logic is tested with fake metadata.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.markers import UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from tui_trainer.errors import UserError
from tui_trainer.findings import Finding, Severity

PROJECT_DIST = "tui-trainer"


def collect() -> dict[str, Any]:
    """Every installed distribution visible to this interpreter, in sys.path order (first one wins, as in pip)."""
    dists: list[dict[str, Any]] = []
    for dist in metadata.distributions():
        try:
            name = dist.metadata["Name"]
            if not name:
                continue
            dists.append(
                {"name": str(name), "version": str(dist.version), "requires": list(dist.requires or [])}
            )
        except Exception:  # one broken METADATA file must not hide every other package
            continue
    return {"installed": dists}


def index(installed: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Canonical name → first distribution with that name (the one `import` would find)."""
    result: dict[str, dict[str, Any]] = {}
    for dist in installed:
        result.setdefault(canonicalize_name(dist["name"]), dist)
    return result


def package_list(installed: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The `packages` JSON list: [{name, version}] sorted by canonical name, one entry per name."""
    return [
        {"name": dist["name"], "version": dist["version"]} for _key, dist in sorted(index(installed).items())
    ]


# ----- requirement files -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequirementLine:
    requirement: Requirement
    source: str  # "file:line", or "tui-trainer" for a distribution's own metadata


@dataclass
class RequirementsFile:
    path: Path
    requirements: list[RequirementLine] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # lines we cannot check (editables, local paths, URLs)


_OPTION_WITH_FILE = {
    "-r": "include",
    "--requirement": "include",
    "-c": "constraint",
    "--constraint": "constraint",
}


def load_requirements(path: Path) -> RequirementsFile:
    """Read a requirements.txt (comments, continuations, `-r` includes, markers) or a pyproject.toml.

    Raises UserError naming the file (and line or key) when it cannot be read or parsed.
    """
    path = Path(path)
    result = RequirementsFile(path=path)
    if path.name.endswith(".toml"):
        _load_pyproject(path, result)
    else:
        _load_requirements_txt(path, result, seen=set(), chain=())
    return result


# `-r` includes deeper than this are refused: pip has no limit, but no real project nests 32 files, and a
# 1,500-deep chain would otherwise end in a RecursionError.
MAX_INCLUDE_DEPTH = 32
MAX_REQUIREMENTS_BYTES = 16 * 1024 * 1024


def _read_text(path: Path) -> str:
    import stat

    try:
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError
        if not stat.S_ISREG(mode):
            # A FIFO or a device would block the read (or never end); only regular files are requirements.
            raise UserError(f"cannot read requirements file {path}: not a regular file (a FIFO or device?)")
        with open(path, "rb") as fh:
            raw = fh.read(MAX_REQUIREMENTS_BYTES + 1)
        if len(raw) > MAX_REQUIREMENTS_BYTES:
            raise UserError(
                f"cannot read requirements file {path}: larger than {MAX_REQUIREMENTS_BYTES // 2**20} MB"
            )
        return raw.decode("utf-8-sig")
    except FileNotFoundError:
        raise UserError(f"requirements file not found: {path}") from None
    except IsADirectoryError:
        raise UserError(f"requirements path is a directory, not a file: {path}") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"cannot read requirements file {path}: not UTF-8 text ({exc.reason})") from None
    except RuntimeError:  # Path.stat/resolve on a symlink loop
        raise UserError(f"cannot read requirements file {path}: a symlink loop") from None
    except OSError as exc:
        raise UserError(f"cannot read requirements file {path}: {exc.strerror or exc}") from None


def _load_pyproject(path: Path, result: RequirementsFile) -> None:
    try:
        data = tomllib.loads(_read_text(path))
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        raise UserError(
            f"{path}: not a pyproject.toml (arrays or tables nested too deeply to read)"
        ) from None
    project = data.get("project")
    if not isinstance(project, dict) or "dependencies" not in project:
        raise UserError(f"{path}: no [project] dependencies list to check (key project.dependencies)")
    deps = project["dependencies"]
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
        raise UserError(f"{path}: project.dependencies must be a list of requirement strings")
    for number, text in enumerate(deps, start=1):
        try:
            req = Requirement(text)
        except InvalidRequirement as exc:
            reason = str(exc).splitlines()[0]
            raise UserError(
                f"{path}: project.dependencies[{number - 1}] {text!r} is not a valid requirement: {reason}"
            ) from None
        result.requirements.append(RequirementLine(req, f"{path.name} project.dependencies"))


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, line) with comments removed and backslash continuations joined."""
    lines: list[tuple[int, str]] = []
    buffer, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        # A '#' starts a comment only at the line start or after whitespace (URLs may hold '#egg=').
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if not buffer:
            start = number
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        buffer += line
        if buffer.strip():
            lines.append((start, buffer.strip()))
        buffer = ""
    if buffer.strip():
        lines.append((start, buffer.strip()))
    return lines


def _load_requirements_txt(
    path: Path, result: RequirementsFile, seen: set[Path], chain: tuple[str, ...]
) -> None:
    try:
        resolved = path.resolve()
    except (RuntimeError, OSError):
        raise UserError(f"cannot read requirements file {path}: a symlink loop") from None
    if resolved in seen:
        return  # `-r` cycles are harmless to pip; read each file once
    seen.add(resolved)
    text = _read_text(path)
    for number, line in _logical_lines(text):
        where = f"{path.name}:{number}"
        if line.startswith("-"):
            option, _, value = line.partition(" ")
            if "=" in option and option.startswith("--"):
                option, _, value = option.partition("=")
            value = value.strip()
            kind = _OPTION_WITH_FILE.get(option)
            if kind == "include":
                if not value:
                    raise UserError(f"{path}:{number}: {option} needs a file name")
                here = (*chain, f"{path}:{number}")
                if len(here) >= MAX_INCLUDE_DEPTH:
                    shown = (
                        " -> ".join([*here[:3], "...", *here[-2:]]) if len(here) > 6 else " -> ".join(here)
                    )
                    raise UserError(
                        f"{path}:{number}: `{option}` includes nest {len(here)} files deep ({shown} -> {value}); "
                        f"expected at most {MAX_INCLUDE_DEPTH - 1} levels of -r"
                    )
                _load_requirements_txt((path.parent / value), result, seen, here)
            elif option in ("-e", "--editable"):
                result.skipped.append(f"{where}: editable {value} (not checked)")
            elif kind == "constraint":
                result.skipped.append(
                    f"{where}: constraints file {value} (constraints do not require installs)"
                )
            # Other options (--index-url, --find-links, --hash, ...) change where pip looks, not what is needed.
            continue
        # Per-requirement options such as `--hash=sha256:...` follow the requirement itself.
        spec = re.split(r"\s+--?[a-zA-Z]", line, maxsplit=1)[0].strip()
        if spec.startswith((".", "/", "~")) or re.match(r"^[a-z+]+://", spec):
            result.skipped.append(f"{where}: {spec} (a path or URL without a name; not checked)")
            continue
        try:
            req = Requirement(spec)
        except InvalidRequirement as exc:
            reason = str(exc).splitlines()[0]
            raise UserError(f"{path}:{number}: not a valid requirement {spec!r}: {reason}") from None
        result.requirements.append(RequirementLine(req, where))


# ----- checks -------------------------------------------------------------------------------------------------


def _applies(req: Requirement, environment: dict[str, str] | None, extra: str = "") -> bool:
    if req.marker is None:
        return True
    env = dict(environment or {})
    env["extra"] = extra
    try:
        return bool(req.marker.evaluate(env))
    except (UndefinedComparison, UndefinedEnvironmentName, InvalidVersion):
        return True  # when in doubt, check it: a false alarm is cheaper than a silent gap


def _satisfied(req: Requirement, version: str) -> bool | None:
    """True/False, or None when the installed version cannot be compared (a legacy version string)."""
    if not req.specifier:
        return True
    try:
        Version(version)
    except InvalidVersion:
        return None
    return req.specifier.contains(version, prereleases=True)


def pip_spec(req: Requirement) -> str:
    """The requirement as it goes on a pip command line (no marker), shell-quoted."""
    extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    return shlex.quote(f"{req.name}{extras}{req.specifier}")


def check_requirements(
    requirements: list[RequirementLine],
    installed: list[dict[str, Any]],
    environment: dict[str, str] | None = None,
) -> list[Finding]:
    """Missing and wrong-version findings for requirements the user (or the project) asked for."""
    idx = index(installed)
    findings: list[Finding] = []
    for line in requirements:
        req = line.requirement
        if not _applies(req, environment):
            continue
        dist = idx.get(canonicalize_name(req.name))
        wanted = str(req.specifier) or "any version"
        if dist is None:
            findings.append(
                Finding(
                    "packages.missing",
                    Severity.ERROR,
                    f"{req.name} is required but not installed",
                    f"{line.source} asks for {req.name} ({wanted}); no distribution named {req.name!r} is "
                    "installed in this environment (check the spelling if pip cannot find it either).",
                    f"pip install {pip_spec(req)}",
                    {"package": req.name, "required": wanted, "installed": None, "source": line.source},
                )
            )
            continue
        ok = _satisfied(req, dist["version"])
        if ok is False:
            findings.append(
                Finding(
                    "packages.wrong_version",
                    Severity.ERROR,
                    f"{req.name} {dist['version']} does not satisfy {req.name}{req.specifier}",
                    f"{line.source} asks for {req.name}{req.specifier} but {dist['name']} {dist['version']} "
                    "is installed.",
                    f"pip install {pip_spec(req)}",
                    {
                        "package": req.name,
                        "required": wanted,
                        "installed": dist["version"],
                        "source": line.source,
                    },
                )
            )
        elif ok is None:
            findings.append(
                Finding(
                    "packages.unparseable_version",
                    Severity.WARNING,
                    f"{dist['name']} {dist['version']}: version cannot be compared",
                    f"{line.source} asks for {req.name}{req.specifier}; the installed version string is not "
                    "PEP 440, so it cannot be checked.",
                    f"pip install --force-reinstall {pip_spec(req)}",
                    {
                        "package": req.name,
                        "required": wanted,
                        "installed": dist["version"],
                        "source": line.source,
                    },
                )
            )
        if req.extras:
            findings.extend(_check_extras(line, dist, installed, environment))
    return findings


def _check_extras(
    line: RequirementLine,
    dist: dict[str, Any],
    installed: list[dict[str, Any]],
    environment: dict[str, str] | None,
) -> list[Finding]:
    """`torch[opt]` also needs what the `opt` extra pulls in: check those the same way."""
    req = line.requirement
    needed: list[RequirementLine] = []
    for text in dist.get("requires") or []:
        try:
            dep = Requirement(text)
        except InvalidRequirement:
            continue
        if dep.marker is None or "extra" not in str(dep.marker):
            continue  # base requirements are the pip-check's business
        for extra in sorted(req.extras):
            if _applies(dep, environment, extra=extra):
                # Strip the marker: it has been evaluated, and check_requirements must not re-evaluate it.
                bare = Requirement(
                    f"{dep.name}{'[' + ','.join(sorted(dep.extras)) + ']' if dep.extras else ''}"
                    f"{dep.specifier}"
                )
                needed.append(RequirementLine(bare, f"{line.source} ({req.name}[{extra}])"))
                break
    return check_requirements(needed, installed, environment)


def find_conflicts(
    installed: list[dict[str, Any]], environment: dict[str, str] | None = None
) -> list[Finding]:
    """What `pip check` finds: a dependency of an installed distribution missing or at a version it rejects."""
    idx = index(installed)
    findings: list[Finding] = []
    for _key, dist in sorted(idx.items()):
        for text in dist.get("requires") or []:
            try:
                req = Requirement(text)
            except InvalidRequirement:
                continue  # pip check skips requirements it cannot parse too
            if not _applies(req, environment):
                continue
            dep = idx.get(canonicalize_name(req.name))
            evidence = {"package": dist["name"], "version": dist["version"], "requires": str(req)}
            if dep is None:
                findings.append(
                    Finding(
                        "packages.conflict",
                        Severity.ERROR,
                        f"{dist['name']} {dist['version']} requires {req.name}, which is not installed",
                        f"{dist['name']} declares `{text}`; importing it may fail.",
                        f"pip install {pip_spec(req)}",
                        {**evidence, "installed": None},
                    )
                )
            elif _satisfied(req, dep["version"]) is False:
                findings.append(
                    Finding(
                        "packages.conflict",
                        Severity.ERROR,
                        f"{dist['name']} {dist['version']} requires {req.name}{req.specifier}, "
                        f"but {dep['version']} is installed",
                        f"{dist['name']} declares `{text}`. Either move {req.name} into range, or upgrade "
                        f"{dist['name']} to a release that accepts {req.name} {dep['version']}.",
                        f"pip install {pip_spec(req)}",
                        {**evidence, "installed": dep["version"]},
                    )
                )
    return findings


def find_duplicates(installed: list[dict[str, Any]]) -> list[Finding]:
    """The same distribution installed twice on sys.path: `import` gets the first, pip may upgrade the other."""
    seen: dict[str, list[str]] = {}
    for dist in installed:
        seen.setdefault(canonicalize_name(dist["name"]), []).append(dist["version"])
    findings = []
    for name, versions in sorted(seen.items()):
        # The same version twice is one install seen through two sys.path entries (an editable install
        # run from its checkout): harmless. Two versions mean imports and pip disagree.
        if len(set(versions)) > 1:
            findings.append(
                Finding(
                    "packages.duplicate",
                    Severity.WARNING,
                    f"{name} is installed {len(versions)} times ({', '.join(versions)})",
                    "Two copies on sys.path: imports use the first, and pip may change the other one.",
                    f"pip uninstall -y {name} && pip install {shlex.quote(name + '==' + versions[0])}",
                    {"package": name, "versions": versions},
                )
            )
    return findings


def project_requirements(
    installed: list[dict[str, Any]], project: str = PROJECT_DIST
) -> list[RequirementLine]:
    """The requirements tui-trainer itself declares (from its installed metadata)."""
    dist = index(installed).get(canonicalize_name(project))
    if dist is None:
        return []
    lines = []
    for text in dist.get("requires") or []:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue
        if req.marker is not None and "extra" in str(req.marker):
            continue  # optional extras (dev, bench) are not needed to run
        lines.append(RequirementLine(req, f"{project} requirements"))
    return lines


def assess(
    facts: dict[str, Any],
    requirements: RequirementsFile | None = None,
    environment: dict[str, str] | None = None,
) -> list[Finding]:
    installed = facts.get("installed", [])
    findings: list[Finding] = []
    conflicts = find_conflicts(installed, environment)
    findings.extend(conflicts)
    findings.extend(find_duplicates(installed))
    # The project's own requirements are part of the `pip check` above (it is an installed distribution);
    # say so explicitly when they hold, since a broken tui-trainer install is the first thing to rule out.
    own = project_requirements(installed)
    if own and not check_requirements(own, installed, environment):
        findings.append(
            Finding(
                "packages.project_requirements",
                Severity.OK,
                f"{PROJECT_DIST}'s {len(own)} requirements are met",
                ", ".join(str(line.requirement) for line in own),
                "",
                {"count": len(own)},
            )
        )
    if not conflicts:
        findings.append(
            Finding(
                "packages.consistent",
                Severity.OK,
                f"{len(index(installed))} packages installed, no dependency conflicts",
                "Every installed distribution's requirements are met (the `pip check` test).",
                "",
                {"count": len(index(installed))},
            )
        )
    if requirements is not None:
        problems = check_requirements(requirements.requirements, installed, environment)
        findings.extend(problems)
        if not problems:
            findings.append(
                Finding(
                    "packages.requirements_met",
                    Severity.OK,
                    f"All {len(requirements.requirements)} requirements in {requirements.path.name} are met",
                    f"Checked {requirements.path} against the installed distributions.",
                    "",
                    {"file": str(requirements.path), "count": len(requirements.requirements)},
                )
            )
        for note in requirements.skipped:
            findings.append(
                Finding(
                    "packages.requirement_not_checked",
                    Severity.INFO,
                    "A requirement line was not checked",
                    note,
                    "",
                    {"file": str(requirements.path)},
                )
            )
    return findings
