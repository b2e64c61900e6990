"""Hypothesis-generated malformed inputs: byte splices into every seed file, hostile flag and config values,
and typed-but-wrong event lines, each run as the CLI under the resource limits of the corpus.

Each test runs twice: a derandomised quick slice (a handful of examples, in the default run) and the full
search (`pytest -m fuzz`, TUI_TRAINER_FUZZ_EXAMPLES examples, default 40).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz import corpus
from tests.fuzz.harness import assert_contract, run_cli

FULL_EXAMPLES = int(os.environ.get("TUI_TRAINER_FUZZ_EXAMPLES", "40"))
MODES = [
    pytest.param(3, marks=[pytest.mark.fuzz, pytest.mark.fuzz_quick], id="quick"),
    pytest.param(FULL_EXAMPLES, marks=[pytest.mark.fuzz], id="full"),
]


def _run_property(examples: int, strategy, check) -> None:
    quick = examples <= 3
    prop = settings(
        max_examples=examples,
        deadline=None,
        derandomize=quick,  # the default run is the same every time; the full search explores
        database=None if quick else settings.default.database,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )(given(strategy)(check))
    prop()


# Splices: (position as a fraction of the file, bytes inserted, bytes removed).
splices = st.lists(
    st.tuples(
        st.floats(0, 1),
        st.binary(max_size=12)
        | st.sampled_from([b"\x00", b"\xff\xfe", b"\xef\xbb\xbf", b'"', b"\n", b"[", b","]),
        st.integers(0, 64),
    ),
    min_size=1,
    max_size=6,
)
FILE_TARGETS = sorted(name for name in corpus.TARGETS if not name.startswith("train"))


def _splice(data: bytes, edits) -> bytes:
    for where, insert, remove in edits:
        at = int(where * len(data))
        data = data[:at] + insert + data[at + remove :]
    return data


@pytest.mark.parametrize("examples", MODES)
def test_spliced_seed_files_keep_the_contract(examples: int) -> None:
    def check(target_name: str, edits) -> None:
        target = corpus.TARGETS[target_name]
        with tempfile.TemporaryDirectory() as tmp:
            tmp_path = Path(tmp)
            args, names = corpus.build(target, "empty", tmp_path)  # writes the extras and the victim's place
            victim = tmp_path / target.file_name
            victim.write_bytes(_splice(corpus.seed_for(target, tmp_path), edits))
            assert_contract(run_cli(args, cwd=tmp_path), names)

    _run_property(examples, st.tuples(st.sampled_from(FILE_TARGETS), splices), lambda a: check(*a))


odd_numbers = st.sampled_from(
    ["nan", "inf", "-inf", "1e308", "-1e308", "1e-320", "-0", "0", "-1", str(2**64)]
)
# What a shell can pass: no NUL byte (argv is C strings) and no lone surrogate (argv must encode).
argv_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
flag_values = odd_numbers | argv_text | st.floats(allow_nan=True).map(repr)
AUGMENT_FLAGS = [
    "--rotate", "--shift-x", "--zoom", "--zoom-x", "--shear", "--cval", "--rotation-range",
    "--width-shift-range", "--zoom-range", "--brightness", "--contrast", "--hue", "--noise-std",
    "--blur-sigma", "--crop-scale", "--erase-p", "--seed", "--n", "--max-pixels",
]  # fmt: skip


@pytest.mark.parametrize("examples", MODES)
def test_hostile_augment_flag_values_keep_the_contract(examples: int) -> None:
    def check(pairs) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            tmp_path = Path(tmp)
            (tmp_path / "photo.png").write_bytes(corpus.png_bytes())
            args = ["augment", str(tmp_path / "photo.png"), "--out", str(tmp_path / "out")]
            if not any(flag == "--n" for flag, _ in pairs):
                args += ["--n", "1"]
            for flag, value in pairs:
                args.append(f"{flag}={value}")
            outcome = run_cli(args, cwd=tmp_path)
            assert_contract(outcome, tuple(flag for flag, _ in pairs) + ("photo.png",))

    _run_property(
        examples,
        st.lists(st.tuples(st.sampled_from(AUGMENT_FLAGS), flag_values), min_size=1, max_size=3),
        check,
    )


toml_values = st.one_of(
    st.sampled_from(
        ["nan", "inf", "-inf", "-1", "0", "1e30", str(2**64), "-9223372036854775809", '""', "[]"]
    ),
    st.sampled_from(["true", '"images"', '"x"', "[1, -2]", "{a = 1}", "[[]]", '"../../../etc/passwd"']),
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=False).map(lambda v: repr(v) if math.isfinite(v) else "inf"),
)
TRAIN_KEYS = [
    "data.kind", "data.image_size", "data.max_rows", "data.val_fraction", "data.label", "data.features",
    "model.hidden", "model.dropout", "optim.lr", "optim.momentum", "optim.step_size", "optim.weight_decay",
    "train.epochs", "train.batch_size", "train.seed", "train.precision", "train.grad_clip",
    "train.checkpoint_every",
]  # fmt: skip


@pytest.mark.parametrize("examples", MODES)
def test_hostile_train_overrides_keep_the_contract(examples: int) -> None:
    def check(pairs) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            tmp_path = Path(tmp)
            (tmp_path / "penguins.csv").write_bytes(corpus.penguins_csv(60))
            (tmp_path / "train.toml").write_bytes(corpus.train_config(tmp_path / "penguins.csv"))
            args = ["train", str(tmp_path / "train.toml"), "--headless", "--run-dir", str(tmp_path / "run")]
            for key, value in pairs:
                args += ["--set", f"{key}={value}"]
            # A value the engine accepts may legitimately train: keep that short.
            args += ["--set", "train.epochs=1"] if not any(k == "train.epochs" for k, _ in pairs) else []
            outcome = run_cli(args, cwd=tmp_path, timeout=90)
            assert_contract(outcome, tuple(k for k, _ in pairs) + ("--set", "train.toml", "penguins.csv"))

    _run_property(
        max(1, examples // 2) if examples > 3 else 2,
        st.lists(st.tuples(st.sampled_from(TRAIN_KEYS), toml_values), min_size=1, max_size=2),
        check,
    )


json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=8)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)
EVENT_TYPES = [
    "run_started",
    "step",
    "eval",
    "checkpoint",
    "run_finished",
    "failed",
    "diagnostic",
    "paused",
    "x",
]
EVENT_FIELDS = [
    "type",
    "time",
    "step",
    "epoch",
    "loss",
    "val_loss",
    "lr",
    "status",
    "path",
    "run_id",
    "metrics",
]


@pytest.mark.parametrize("examples", MODES)
def test_typed_but_wrong_event_lines_keep_the_contract(examples: int, real_run: Path) -> None:
    def check(lines) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "runs"
            root.mkdir()
            run = corpus.copy_run(real_run, root)
            events = run / "events.jsonl"
            original = events.read_bytes().splitlines(keepends=True)
            injected = []
            for kind, fields in lines:
                fields = {"type": kind, **fields}
                injected.append(json.dumps(fields, allow_nan=True).encode() + b"\n")
            events.write_bytes(b"".join(original[:2] + injected + original[2:]))
            for args in (["runs", str(root), "--json"], ["attach", str(run), "--summary"]):
                outcome = run_cli(args, cwd=Path(tmp))
                assert_contract(outcome, (run.name, "events.jsonl"))

    event = st.tuples(
        st.sampled_from(EVENT_TYPES), st.dictionaries(st.sampled_from(EVENT_FIELDS), json_values, max_size=5)
    )
    _run_property(examples, st.lists(event, min_size=1, max_size=4), check)
