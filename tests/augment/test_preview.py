"""The pane's domain half: parameter knobs, sample discovery, preview variants equal to the CLI's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui_trainer.augment.pipeline import Pipeline, default_pipeline
from tui_trainer.augment.preview import (
    AUDIO_PARAMS,
    IMAGE_PARAMS,
    Source,
    load_source,
    render_preview,
    sample_files,
    spectrogram_image,
    waveform_image,
)
from tui_trainer.augment.text import TextSpec, augment_text, tokenize
from tui_trainer.errors import UserError


def _param(params, key):
    return next(p for p in params if p.key == key)


def test_knobs_step_within_bounds_and_cycle() -> None:
    p = Pipeline()
    rot = _param(IMAGE_PARAMS, "rotation_range")
    rot.nudge(p, -1)
    assert p.image["rotation_range"] == 0  # clamped at the lower bound
    for _ in range(3):
        rot.nudge(p, 1)
    assert p.image["rotation_range"] == 15 and rot.display(p) == "15°"
    fill = _param(IMAGE_PARAMS, "fill_mode")
    seen = []
    for _ in range(4):
        fill.nudge(p, 1)
        seen.append(p.image["fill_mode"])
    assert seen == ["constant", "reflect", "wrap", "nearest"]
    flip = _param(IMAGE_PARAMS, "horizontal_flip")
    flip.nudge(p, 1)
    assert p.image["horizontal_flip"] is True


def test_symmetric_knob_stores_a_range_around_its_centre() -> None:
    p = Pipeline()
    bright = _param(IMAGE_PARAMS, "brightness")
    bright.nudge(p, 1)
    bright.nudge(p, 1)
    assert p.image["brightness"] == [0.8, 1.2] and bright.display(p) == "±0.2"
    bright.nudge(p, -1)
    bright.nudge(p, -1)
    assert "brightness" not in p.image and bright.display(p) == "off"


def test_optional_knob_turns_on_and_off() -> None:
    p = Pipeline()
    snr = _param(AUDIO_PARAMS, "snr_db")
    assert snr.display(p) == "off"
    snr.nudge(p, 1)
    assert p.audio["snr_db"] == 0 and snr.display(p) == "0 dB"
    snr.nudge(p, -1)
    assert "snr_db" not in p.audio


def test_preview_variants_are_the_cli_variants(tmp_path: Path) -> None:
    img = np.random.default_rng(0).integers(0, 256, (12, 10, 3), dtype=np.uint8)
    source = Source(tmp_path / "x.png", "image", image=img)
    p = default_pipeline()
    preview = render_preview(source, p, seed=3, n=4)
    assert preview is not None and len(preview.variants) == 4
    for k, v in enumerate(preview.variants):
        assert np.array_equal(v, p.apply_numpy(img, np.random.default_rng([3, k])))


def test_cancelled_render_returns_nothing(tmp_path: Path) -> None:
    source = Source(tmp_path / "x.png", "image", image=np.zeros((4, 4, 3), dtype=np.uint8))
    assert render_preview(source, default_pipeline(), 0, 8, cancelled=lambda: True) is None


def test_sample_files_and_loading(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "text").mkdir()
    from PIL import Image

    Image.fromarray(np.zeros((3, 3, 3), dtype=np.uint8)).save(tmp_path / "images" / "a.png")
    (tmp_path / "text" / "t.csv").write_text('text,label\n"one two three four five six seven",x\n')
    files = sample_files(tmp_path)
    assert files == [tmp_path / "images" / "a.png", tmp_path / "text" / "t.csv"]
    src = load_source(files[1])
    assert src.kind == "text" and src.lines == ["one two three four five six seven"] and src.shown == [0]
    with pytest.raises(UserError, match="no such file"):
        load_source(tmp_path / "missing.wav")


def test_waveform_and_spectrogram_images_have_their_sizes() -> None:
    t = np.arange(4000) / 8000
    x = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    wave = waveform_image(x, (255, 0, 0), (0, 0, 0), width=50, height=10)
    assert wave.shape == (10, 50, 3) and (wave[..., 0] == 255).any()
    spec = spectrogram_image(x, 8000, (0, 0, 0), (255, 255, 255), width=40, height=16)
    assert spec.shape == (16, 40, 3)
    # 1 kHz of 4 kHz Nyquist: the brightest row is a quarter of the way up from the bottom
    row = int(np.argmax(spec[..., 0].mean(axis=1)))
    assert 10 <= row <= 13


_WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "big",
    "house",
    "good",
    "run",
    "dog",
    "happy",
    "old",
    "fast",
    "car",
    "tree",
]


@settings(max_examples=40, deadline=None)
@given(
    words=st.lists(st.sampled_from(_WORDS), min_size=8, max_size=20),
    swaps=st.integers(0, 2),
    deletions=st.integers(0, 2),
    typos=st.integers(0, 2),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_sentence_gets_exactly_the_requested_edits(words, swaps, deletions, typos, seed) -> None:
    text = " ".join(words) + "."
    spec = TextSpec(random_swap=swaps, random_deletion=deletions, typos=typos)
    res = augment_text(text, spec, np.random.default_rng(seed))
    assert not res.shortfall  # eight words: 2 swaps (4 words), 2 deletions and 2 typos never share a word
    assert res.edit_count == swaps + deletions + typos
    n_words = len([t for t in tokenize(res.text) if t.is_word])
    assert n_words == len(words) - deletions


@pytest.mark.parametrize("labelled", [False, True])
def test_text_preview_lines_are_the_cli_lines(tmp_path: Path, labelled: bool) -> None:
    from tui_trainer.augment.text import augment_document, document_text

    lines = [
        "A Title",
        "pos\tThe quick brown fox jumps over the lazy dog.",
        "",
        "neg\tA big old house stood on the hill.",
        "x\tGood dogs run fast.",
    ]
    path = tmp_path / "d.txt"
    path.write_text("\n".join(lines) + "\n")
    p = default_pipeline()
    p.set("text", "labelled", labelled)
    preview = render_preview(load_source(path), p, seed=2, n=2)
    assert preview is not None
    for k, variant in enumerate(preview.variants):
        spec = p.text_spec()
        cli = document_text(
            augment_document(path.read_text(), spec, np.random.default_rng([2, k]), labelled=labelled)
        )
        shown = [label + result.text for label, result in variant]
        cli_lines = [line for line in cli.splitlines() if line.strip()]
        # "A Title" and "x\tGood dogs run fast." have under six words: augmented (drawing from the rng) but not shown
        assert shown == cli_lines[1:3]
        if labelled:
            assert [label for label, _ in variant] == ["pos\t", "neg\t"]


def test_large_images_are_previewed_on_a_smaller_copy(tmp_path: Path, monkeypatch) -> None:
    from PIL import Image

    from tui_trainer.augment import preview

    monkeypatch.setattr(preview, "PREVIEW_MAX_SIDE", 16)
    Image.fromarray(np.zeros((20, 40, 3), dtype=np.uint8)).save(tmp_path / "big.png")
    Image.fromarray(np.zeros((10, 12, 3), dtype=np.uint8)).save(tmp_path / "small.png")
    big = load_source(tmp_path / "big.png")
    assert big.image.shape == (8, 16, 3) and "40×20, previewed at 16×8" in big.describe()
    small = load_source(tmp_path / "small.png")
    assert small.image.shape == (10, 12, 3) and small.full_size is None


@pytest.mark.parametrize("name", ["persuasion_ch01-03.txt", "pride_and_prejudice_ch01-06.txt"])
def test_hard_wrapped_prose_is_previewed_a_paragraph_per_example_like_the_cli(
    tmp_path: Path, name: str
) -> None:
    """A novel wrapped at 70 columns: each example is a whole paragraph (its line breaks kept), not a line cut
    mid-sentence; the pane's variants are the paragraphs `tui-trainer augment` writes."""
    from tests.conftest import SAMPLE_DATA
    from tui_trainer.augment.preview import augment_text_file, paragraphs, reads_as_prose
    from tui_trainer.augment.text import document_text

    text = (SAMPLE_DATA / "text" / name).read_text(encoding="utf-8")
    assert reads_as_prose(text) and "".join(paragraphs(text)) == text
    source = load_source(SAMPLE_DATA / "text" / name)
    shown = [source.lines[i] for i in source.shown]
    whole = [run for run in paragraphs(text) if run.strip()]
    assert all(example in whole for example in shown)  # whole paragraphs, not lines cut mid-sentence
    assert any("\n" in example for example in shown)
    p = default_pipeline()
    preview = render_preview(source, p, seed=3, n=2)
    assert preview is not None
    for k, variant in enumerate(preview.variants):
        cli = document_text(augment_text_file(text, p.text_spec(), np.random.default_rng([3, k])))
        cli_paragraphs = [run for run in paragraphs(cli) if run.strip()]
        shown_indices = source.shown
        assert [result.text for _, result in variant] == [cli_paragraphs[i] for i in shown_indices]


def test_one_sentence_per_line_stays_one_example_per_line(tmp_path: Path) -> None:
    from tui_trainer.augment.preview import reads_as_prose, text_examples

    text = (
        "The cat sat on the mat all day.\nA dog barked at the mailman twice.\nrain fell on the quiet town.\n"
    )
    assert not reads_as_prose(text)
    assert text_examples(text) == text.splitlines()
    labelled = "pos\tgreat film, would watch\nagain and again\n"  # a tab: records, whatever the breaks
    assert not reads_as_prose(labelled)


def test_cli_writes_hard_wrapped_prose_a_paragraph_at_a_time(tmp_path: Path, subprocess_env) -> None:
    """`tui-trainer augment` on prose: no edit moves a word across a paragraph break, every blank line stays."""
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT, SAMPLE_DATA
    from tui_trainer.augment.preview import paragraphs

    src = tmp_path / "novel.txt"
    original = (SAMPLE_DATA / "text" / "persuasion_ch01-03.txt").read_text(encoding="utf-8")[:6000]
    src.write_text(original, encoding="utf-8")
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "tui_trainer", "augment", str(src), "--out", str(out), "--n", "1"],
        cwd=REPO_ROOT,
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    written = next(out.rglob("*.txt")).read_text(encoding="utf-8")
    separators = [run for run in paragraphs(original) if not run.strip()]
    assert [run for run in paragraphs(written) if not run.strip()] == separators
    assert written != original
