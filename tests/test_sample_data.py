"""sample_data/ is what a new user opens first: check it is all there, real, small and documented."""

from __future__ import annotations

import csv
import importlib.util
import re
import struct
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_DATA

NUMERIC_COLUMNS = ("bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "year")
PENGUIN_COLUMNS = ["species", "island", *NUMERIC_COLUMNS[:4], "sex", "year"]
TEXT_LABELS = {"pride_and_prejudice", "persuasion"}


def _files(root: Path) -> list[Path]:
    # Bytecode caches are build output (git-ignored), not sample data.
    return sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def test_total_size_under_5_mb() -> None:
    total = sum(p.stat().st_size for p in _files(SAMPLE_DATA))
    assert 0 < total < 5 * 1024 * 1024, f"sample_data/ holds {total} bytes"


def test_penguins_csv_reads_with_numbers_and_real_nulls() -> None:
    import polars as pl

    df = pl.read_csv(SAMPLE_DATA / "penguins.csv")
    assert df.height == 344
    assert df.columns == PENGUIN_COLUMNS
    for column in NUMERIC_COLUMNS:
        assert df.schema[column].is_numeric(), f"{column} parsed as {df.schema[column]}"
    nulls = df.null_count().row(0, named=True)
    assert nulls["bill_length_mm"] == 2 and nulls["body_mass_g"] == 2
    assert nulls["sex"] == 11
    assert nulls["species"] == 0 and nulls["year"] == 0
    assert set(df["sex"].drop_nulls()) == {"male", "female"}


def test_penguins_species_are_imbalanced() -> None:
    import polars as pl

    counts = dict(pl.read_csv(SAMPLE_DATA / "penguins.csv")["species"].value_counts().iter_rows())
    assert counts == {"Adelie": 152, "Gentoo": 124, "Chinstrap": 68}
    assert max(counts.values()) / min(counts.values()) > 2


def test_digit_folders_hold_8x8_grayscale_pngs() -> None:
    import numpy as np
    from PIL import Image

    root = SAMPLE_DATA / "digits"
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == [str(d) for d in range(10)]
    total = 0
    for label in range(10):
        pngs = sorted((root / str(label)).glob("*.png"))
        assert len(pngs) >= 30, f"digits/{label} has {len(pngs)} images"
        for path in pngs:
            assert re.fullmatch(rf"{label}_\d+\.png", path.name), path
            with Image.open(path) as im:
                assert im.format == "PNG" and im.size == (8, 8) and im.mode == "L", path
                pixels = np.asarray(im)
            # Real strokes: ink and background both present, on the 17-level grid scaled to 0..255.
            assert pixels.max() > 100 and pixels.min() == 0, path
            assert set(np.unique(pixels)) <= {round(v * 255 / 16) for v in range(17)}, path
        total += len(pngs)
    assert 300 <= total <= 1000


def test_digit_indices_are_unique_source_rows() -> None:
    indices = [int(p.stem.split("_")[1]) for p in (SAMPLE_DATA / "digits").glob("*/*.png")]
    assert len(indices) == len(set(indices))


def test_photos_open_and_are_small() -> None:
    from PIL import Image

    photos = sorted((SAMPLE_DATA / "images").glob("*.jpg"))
    assert [p.name for p in photos] == ["china.jpg", "flower.jpg"]
    for path in photos:
        with Image.open(path) as im:
            im.load()
            assert im.format == "JPEG" and im.mode == "RGB"
            assert max(im.size) <= 320 and min(im.size) >= 100, (path, im.size)


def test_text_corpus_is_substantial_utf8_prose() -> None:
    texts = sorted((SAMPLE_DATA / "text").glob("*.txt"))
    assert len(texts) == 2
    total = 0
    for path in texts:
        raw = path.read_bytes()
        text = raw.decode("utf-8")  # raises if not UTF-8
        words = re.findall(r"[A-Za-z']+", text)
        assert len(words) > 5000, path
        assert len(re.findall(r"[.!?]", text)) > 200, path
        assert "\ufffd" not in text and "\r" not in text, path
        total += len(raw)
    assert 20_000 <= total <= 100_000


def _squash(text: str) -> str:
    return " ".join(text.split())


def test_sentences_csv_has_both_labels_and_real_sentences() -> None:
    with (SAMPLE_DATA / "text" / "sentences.csv").open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == ["text", "label"]
        rows = list(reader)
    assert 100 <= len(rows) <= 300
    assert {row["label"] for row in rows} == TEXT_LABELS
    corpus = {
        "pride_and_prejudice": _squash(
            (SAMPLE_DATA / "text" / "pride_and_prejudice_ch01-06.txt").read_text()
        ),
        "persuasion": _squash((SAMPLE_DATA / "text" / "persuasion_ch01-03.txt").read_text()),
    }
    for row in rows:
        assert len(row["text"]) >= 40, row
        # The label rule: a row's sentence occurs verbatim in the novel it is labelled with.
        assert row["text"] in corpus[row["label"]], row


def test_speech_wav_is_mono_int16_16k_of_3_to_6_seconds() -> None:
    import numpy as np
    from scipy.io import wavfile

    rate, audio = wavfile.read(SAMPLE_DATA / "audio" / "speech.wav")
    assert rate == 16_000
    assert audio.dtype == np.int16 and audio.ndim == 1
    assert 3.0 <= len(audio) / rate <= 6.0
    assert np.abs(audio.astype(np.int32)).max() > 3000  # not silence


def _documented_patterns(readme: str) -> list[re.Pattern[str]]:
    """Each `code span` in the README as a path pattern; `<label>`-style placeholders match one name."""
    patterns = []
    for span in re.findall(r"`([^`\n]+)`", readme):
        parts = re.split(r"(<[^>/]+>)", span)
        body = "".join("[^/]+" if p.startswith("<") and p.endswith(">") else re.escape(p) for p in parts)
        patterns.append(re.compile(body))
    return patterns


def test_readme_names_every_file() -> None:
    readme = (SAMPLE_DATA / "README.md").read_text(encoding="utf-8")
    patterns = _documented_patterns(readme)
    undocumented = []
    for path in _files(SAMPLE_DATA):
        rel = path.relative_to(SAMPLE_DATA).as_posix()
        if rel.startswith("configs/"):
            continue  # the training engine's configs, documented by their owner
        if not any(p.fullmatch(rel) for p in patterns):
            undocumented.append(rel)
    assert undocumented == [], f"sample_data/README.md does not name: {undocumented}"


def test_readme_pattern_matching_is_strict() -> None:
    # Guard the check above: a placeholder stands for one path component, nothing more.
    patterns = _documented_patterns("`digits/<label>/<label>_<index>.png` and `penguins.csv`")
    assert any(p.fullmatch("digits/3/3_17.png") for p in patterns)
    assert not any(p.fullmatch("digits/3/extra/3_17.png") for p in patterns)
    assert not any(p.fullmatch("penguins.csv.bak") for p in patterns)


@pytest.fixture(scope="module")
def maker():
    """The regeneration script as a module (importing it runs nothing; it needs only the stdlib)."""
    spec = importlib.util.spec_from_file_location("make_sample_data", SAMPLE_DATA / "make_sample_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sentence_splitter_keeps_titles_and_dialogue_together(maker) -> None:
    paragraph = 'Mr. Bennet was silent. "Is he married?" asked she. Mrs. Long said so!'
    assert maker._sentences(paragraph) == [
        "Mr. Bennet was silent.",
        '"Is he married?" asked she.',
        "Mrs. Long said so!",
    ]
    assert maker._is_whole('"It is," said he.')
    assert not maker._is_whole('But it is," returned she.')
    assert not maker._is_whole("This was the page at which the volume opened:")


def test_r_unserializer_reads_a_named_character_vector(maker) -> None:
    # R: serialize(c(a = "hi", b = NA), NULL, xdr = TRUE, version = 2) by the format's rules.
    def i(v: int) -> bytes:
        return struct.pack(">i", v)

    def charsxp(s: bytes) -> bytes:
        return i(0x00040009) + i(len(s)) + s

    names_attr = (
        i(0x00000402) + i(1) + charsxp(b"names") + i(16) + i(2) + charsxp(b"a") + charsxp(b"b") + i(254)
    )
    blob = b"X\n" + i(2) + i(0x040201) + i(0x020300) + i(0x00000210) + i(2) + charsxp(b"hi") + i(9) + i(-1)
    assert maker._RUnserializer(blob + names_attr).read() == {"a": "hi", "b": None}
    with pytest.raises(ValueError, match="not supported"):
        maker._RUnserializer(b"X\n" + i(2) + i(0) + i(0) + i(0x00000018)).read()
