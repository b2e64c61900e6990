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


# Issue 13's reproduced train settings: each must be exit 2 naming the key, not a run that crashes.
BAD_SETTINGS = [
    'data.kind="images"',
    "data.image_size=[-8, -8]",
    "optim.momentum=-1",
    "optim.step_size=0",
    "train.seed=-1",
    f"train.seed={2**64}",
    "data.max_rows=-1",
    "train.batch_size=0",
    "optim.lr=nan",
    "train.epochs=-3",
    "data.val_fraction=1.5",
    "model.hidden=[0]",
    "model.dropout=2.0",
]


def _setting_cases():
    for setting in BAD_SETTINGS:
        marks = [pytest.mark.fuzz]
        if setting == "optim.momentum=-1":
            marks.append(pytest.mark.fuzz_quick)
        key = ("train_setting", setting)
        if key in KNOWN:
            marks.append(pytest.mark.xfail(strict=False, reason=KNOWN[key]))
        yield pytest.param(
            setting, marks=marks, id=f"train_setting-{setting.split('=')[0]}={setting.split('=')[1][:12]}"
        )


@pytest.mark.parametrize("setting", list(_setting_cases()))
def test_bad_train_setting_exits_2_naming_the_key(setting: str, tmp_path: Path) -> None:
    (tmp_path / "penguins.csv").write_bytes(corpus.penguins_csv(60))
    (tmp_path / "train.toml").write_bytes(corpus.train_config(tmp_path / "penguins.csv"))
    args = [
        "train",
        str(tmp_path / "train.toml"),
        "--headless",
        "--run-dir",
        str(tmp_path / "run"),
        "--set",
        setting,
    ]
    outcome = run_cli(args, cwd=tmp_path, timeout=90)
    key = setting.split("=")[0]
    assert_contract(outcome, (key,), allowed=(2,))


def _image_folder_cases():
    for mutation in ("truncated_half", "garbage", "empty", "bomb_60000", "fifo"):
        marks = [pytest.mark.fuzz]
        key = ("train_image_folder", mutation)
        if key in KNOWN:
            marks.append(pytest.mark.xfail(strict=False, reason=KNOWN[key]))
        yield pytest.param(mutation, marks=marks, id=f"train_image_folder-{mutation}")


@pytest.mark.parametrize("mutation", list(_image_folder_cases()))
def test_image_folder_with_one_bad_image_keeps_the_contract(mutation: str, tmp_path: Path) -> None:
    """Train on a two-class folder where one file is broken: refused naming it, or trained without it."""
    for label in ("a", "b"):
        (tmp_path / "imgs" / label).mkdir(parents=True)
        for i in range(6):
            (tmp_path / "imgs" / label / f"{i}.png").write_bytes(corpus.png_bytes(8, 8))
    victim = tmp_path / "imgs" / "a" / "broken.png"
    if mutation in corpus.SPECIAL:
        corpus.place_special(victim, mutation)
    elif mutation.startswith("bomb_"):
        victim.write_bytes(corpus.png_declaring(60000, 60000))
    else:
        victim.write_bytes(corpus.BYTE_MUTATIONS[mutation](corpus.png_bytes(8, 8)))
    config = f"""[data]
path = "{tmp_path / "imgs"}"
val_fraction = 0.25

[model]
name = "cnn"
channels = [4]

[train]
epochs = 1
batch_size = 4
device = "cpu"
checkpoint_every = 0
"""
    (tmp_path / "train.toml").write_text(config)
    args = ["train", str(tmp_path / "train.toml"), "--headless", "--run-dir", str(tmp_path / "run")]
    outcome = run_cli(args, cwd=tmp_path, timeout=90)
    assert_contract(outcome, ("broken.png",), allowed=(0, 2))
