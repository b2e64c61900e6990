"""The classic malformed inputs against every command that reads a file: exit 0, 1 or 2, never a traceback,
a signal, a hang or runaway memory; an exit 2 names the file.

The default test run takes the QUICK slice (one subprocess each, ~30 s); `pytest -m fuzz` runs every
(target, mutation) pair. A case that fails in an area another change is fixing carries an xfail naming the
area, so the case stays and flips to a pass (non-strict) once fixed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz import corpus
from tests.fuzz.harness import assert_contract, run_cli

# (target, mutation) pairs in the default run: each reader meets one truncation-like and one special file.
QUICK: set[tuple[str, str]] = {
    ("inspect_csv", "truncated_half"),
    ("inspect_csv", "fifo"),
    ("inspect_json", "deep_nesting"),
    ("inspect_ndjson", "nul_bytes"),
    ("inspect_image_folder", "bomb_60000"),
    ("augment_png", "bomb_12000"),
    ("augment_png", "truncated_half"),
    ("augment_wav", "truncated_half"),
    ("augment_wav", "dev_zero"),
    ("augment_txt", "utf16"),
    ("augment_csv", "giant_line"),
    ("augment_config", "deep_nesting"),
    ("train_config", "latin1"),
    ("train_data", "empty"),
    ("audit_requirements", "symlink_loop"),
    ("audit_requirements", "nul_bytes"),
    ("audit_pyproject", "deep_nesting"),
    ("audit_snapshot", "fifo"),
}

# Cases failing today in an area under repair elsewhere: "<area>: <what>". Remove an entry once it passes.
KNOWN: dict[tuple[str, str], str] = {
    ("inspect_csv", "giant_line"): "inspect (data/load.py): a 4 MB CSV field raises _csv.Error "
    "'field larger than field limit' in _locate_ragged",
    (
        "inspect_image_folder",
        "fifo",
    ): "inspect (data/images.py): a FIFO named img.png blocks Image.open (hang)",
    ("augment_config", "fifo"): "pipeline schema (augment/pipeline.py load_pipeline): reads a FIFO (hang)",
    (
        "augment_config",
        "dev_zero",
    ): "pipeline schema (load_pipeline): reads /dev/zero unbounded (MemoryError)",
    ("augment_config", "deep_nesting"): "pipeline schema (load_pipeline / schema.parse_toml): deeply nested "
    "TOML raises RecursionError",
    ("events_runs", "symlink_loop"): "integrations (integrations/logdirs.py _log_files): events.jsonl a "
    "symlink loop raises OSError ELOOP",
    ("events_attach", "symlink_loop"): "integrations (logdirs._log_files): events.jsonl a symlink loop "
    "raises OSError ELOOP",
}


def _cases():
    for target in corpus.TARGETS.values():
        for mutation in corpus.mutations_for(target):
            key = (target.name, mutation)
            marks = [] if key in QUICK else [pytest.mark.fuzz]
            if key in QUICK:
                marks.append(pytest.mark.fuzz_quick)
                marks.append(pytest.mark.fuzz)
            if key in KNOWN:
                marks.append(pytest.mark.xfail(strict=False, reason=KNOWN[key]))
            yield pytest.param(target.name, mutation, marks=marks, id=f"{target.name}-{mutation}")


@pytest.mark.parametrize(("target_name", "mutation"), list(_cases()))
def test_malformed_input_keeps_the_exit_code_contract(
    target_name: str, mutation: str, tmp_path: Path
) -> None:
    target = corpus.TARGETS[target_name]
    args, names = corpus.build(target, mutation, tmp_path)
    outcome = run_cli(args, cwd=tmp_path)
    assert_contract(outcome, names)
    if mutation in (
        "fifo",
        "symlink_loop",
        "dangling_symlink",
        "directory",
        "dev_zero",
    ) and not target_name.startswith("inspect_image_folder"):
        # Nothing readable was given: the command must refuse it, not report success.
        assert outcome.returncode == 2, outcome.describe()
    if mutation.startswith("bomb_") and target_name.startswith("augment"):
        assert outcome.returncode == 2 and "pixels" in outcome.stderr, outcome.describe()


EVENT_LINES = {
    "typed_wrong_step": b'{"type": "step", "time": 1.0, "step": "x", "epoch": 0, "loss": 1.0}\n',
    "typed_wrong_eval": b'{"type": "eval", "time": 1.0, "step": 3, "epoch": 0, "val_loss": "abc"}\n',
    "unknown_type": b'{"type": "nonsense", "time": 1.0}\n',
    "not_an_object": b"[1, 2, 3]\n",
    "huge_number": b'{"type": "step", "time": 1e999, "step": 1' + b"0" * 400 + b"}\n",
}


def _event_cases():
    quick = {"truncated_half", "typed_wrong_step", "deep_nesting", "fifo"}
    mutations = [*corpus.BYTE_MUTATIONS, *corpus.SPECIAL, "deep_nesting", *EVENT_LINES]
    for command in ("runs", "attach"):
        for mutation in mutations:
            marks = [pytest.mark.fuzz]
            if (
                mutation in quick
                and command == "runs"
                or (command == "attach" and mutation == "typed_wrong_eval")
            ):
                marks.append(pytest.mark.fuzz_quick)
            key = (f"events_{command}", mutation)
            if key in KNOWN:
                marks.append(pytest.mark.xfail(strict=False, reason=KNOWN[key]))
            yield pytest.param(command, mutation, marks=marks, id=f"events_{command}-{mutation}")


@pytest.mark.parametrize(("command", "mutation"), list(_event_cases()))
def test_malformed_events_file_keeps_the_contract(
    command: str, mutation: str, real_run: Path, tmp_path: Path
) -> None:
    root = tmp_path / "runs"
    root.mkdir()
    run = corpus.copy_run(real_run, root)
    # A healthy sibling: one broken run must never take the listing of the others down.
    sibling = corpus.copy_run(real_run, root / "sibling-root")
    sibling = sibling.rename(root / "healthy")
    (root / "sibling-root").rmdir()
    events = run / "events.jsonl"
    original = events.read_bytes()
    events.unlink()
    if mutation in corpus.SPECIAL:
        corpus.place_special(events, mutation)
    elif mutation == "deep_nesting":
        events.write_bytes(original + corpus.NESTING["jsonl"]())
    elif mutation in EVENT_LINES:
        lines = original.splitlines(keepends=True)
        events.write_bytes(b"".join(lines[:3]) + EVENT_LINES[mutation] + b"".join(lines[3:]))
    else:
        events.write_bytes(corpus.BYTE_MUTATIONS[mutation](original))
    args = ["runs", str(root), "--json"] if command == "runs" else ["attach", str(run), "--summary"]
    outcome = run_cli(args, cwd=tmp_path)
    assert_contract(outcome, (run.name, "events.jsonl"))
    if command == "runs":
        assert outcome.returncode == 0, outcome.describe()
        assert "healthy" in outcome.stdout, "a broken run hid its healthy sibling: " + outcome.describe()


def _checkpoint_cases():
    mutations = [*corpus.BYTE_MUTATIONS, "fifo", "directory", "symlink_loop", "dev_zero"]
    for mutation in mutations:
        marks = [pytest.mark.fuzz]
        if mutation == "truncated_half":
            marks.append(pytest.mark.fuzz_quick)
        key = ("checkpoint_resume", mutation)
        if key in KNOWN:
            marks.append(pytest.mark.xfail(strict=False, reason=KNOWN[key]))
        yield pytest.param(mutation, marks=marks, id=f"checkpoint_resume-{mutation}")


@pytest.mark.parametrize("mutation", list(_checkpoint_cases()))
def test_corrupt_newest_checkpoint_keeps_the_contract(mutation: str, real_run: Path, tmp_path: Path) -> None:
    run = corpus.copy_run(real_run, tmp_path)
    newest = sorted((run / "checkpoints").glob("step-*.pt"))[-1]
    original = newest.read_bytes()
    newest.unlink()
    if mutation in corpus.SPECIAL:
        corpus.place_special(newest, mutation)
    else:
        newest.write_bytes(corpus.BYTE_MUTATIONS[mutation](original))
    outcome = run_cli(["train", "--resume", str(run), "--headless", "--set", "train.epochs=3"], cwd=tmp_path)
    assert_contract(outcome, (run.name, newest.name, "checkpoint"))
