"""EDA text ops: exact edit counts, labels kept, seeds, and the shipped WordNet lexicon."""

from __future__ import annotations

import numpy as np
import pytest

from tui_trainer.augment.lexicon import LEXICON_PATH, synonym_table, synonyms
from tui_trainer.augment.text import TextSpec, augment_csv, augment_example, augment_text, tokenize

SENTENCE = "The quick brown fox jumps over the lazy dog while a big happy child runs around the old house."


def _words(text: str) -> list[str]:
    return [t.text for t in tokenize(text) if t.is_word]


def test_lexicon_is_a_real_wordnet_extract() -> None:
    table = synonym_table()
    assert len(table) > 5000
    assert "fast" in synonyms("quick") and "large" in synonyms("big")
    assert synonyms("the") == ()  # stopwords never get replaced
    assert LEXICON_PATH.with_name("WORDNET_LICENSE.txt").read_text().count("Princeton") >= 2
    assert LEXICON_PATH.stat().st_size < 2_000_000


@pytest.mark.parametrize("n", [1, 2, 3])
def test_synonym_replacement_makes_exactly_n_edits(n: int) -> None:
    res = augment_text(SENTENCE, TextSpec(synonym_replacement=n), np.random.default_rng(n))
    before, after = _words(SENTENCE), _words(res.text)
    assert len(before) == len(after)
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert len(changed) == n == res.edits["synonym_replacement"]
    for old, new in changed:
        assert new.lower() in synonyms(old)


@pytest.mark.parametrize("n", [1, 3])
def test_random_insertion_adds_n_synonyms(n: int) -> None:
    res = augment_text(SENTENCE, TextSpec(random_insertion=n), np.random.default_rng(0))
    assert len(_words(res.text)) == len(_words(SENTENCE)) + n
    inserted = [t.text for t in res.tokens if t.edit == "insert"]
    assert len(inserted) == n
    assert all(any(w in synonyms(o) for o in _words(SENTENCE)) for w in inserted)


@pytest.mark.parametrize("n", [1, 2, 4])
def test_random_swap_swaps_n_pairs(n: int) -> None:
    res = augment_text(SENTENCE, TextSpec(random_swap=n), np.random.default_rng(1))
    before, after = _words(SENTENCE), _words(res.text)
    assert sorted(before) == sorted(after)
    assert sum(a != b for a, b in zip(before, after, strict=True)) == 2 * n
    assert res.edits["random_swap"] == n


@pytest.mark.parametrize("n", [1, 5])
def test_random_deletion_deletes_exactly_n_words(n: int) -> None:
    res = augment_text(SENTENCE, TextSpec(random_deletion=n), np.random.default_rng(2))
    assert len(_words(res.text)) == len(_words(SENTENCE)) - n
    assert not res.text.startswith(" ") and "  " not in res.text


def test_deletion_keeps_one_word_and_reports_the_shortfall() -> None:
    res = augment_text("just two", TextSpec(random_deletion=5), np.random.default_rng(0))
    assert len(_words(res.text)) == 1
    assert res.shortfall == {"random_deletion": 4}


@pytest.mark.parametrize("n", [1, 3])
def test_typos_change_exactly_n_words_by_one_edit(n: int) -> None:
    res = augment_text(SENTENCE, TextSpec(typos=n), np.random.default_rng(3))
    before, after = _words(SENTENCE), _words(res.text)
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert len(changed) == n
    for a, b in changed:
        assert abs(len(a) - len(b)) <= 1


def test_all_ops_together_make_the_total_number_of_edits() -> None:
    spec = TextSpec(1, 1, 1, 1, 1)
    res = augment_text(SENTENCE, spec, np.random.default_rng(4))
    assert res.edit_count == spec.total and not res.shortfall
    assert sum(t.edit is not None for t in res.tokens) == 6  # a swap marks two words


def test_labels_are_kept() -> None:
    text, label = augment_example(SENTENCE, "positive", TextSpec(2, 1, 1, 1, 1), np.random.default_rng(0))
    assert label == "positive" and text != SENTENCE


def test_csv_keeps_the_label_column() -> None:
    csv_text = 'text,label\n"The quick brown fox jumps over the lazy dog.",animals\nA big old house stood there,homes\n'
    out = augment_csv(csv_text, TextSpec(random_swap=1), np.random.default_rng(0))
    lines = out.splitlines()
    assert lines[0] == "text,label"
    assert lines[1].endswith(",animals") and lines[2].endswith(",homes")
    assert out != csv_text


def test_same_seed_same_text_other_seed_other_text() -> None:
    spec = TextSpec(2, 1, 1, 1, 1)
    a = augment_text(SENTENCE, spec, np.random.default_rng(9)).text
    assert a == augment_text(SENTENCE, spec, np.random.default_rng(9)).text
    assert a != augment_text(SENTENCE, spec, np.random.default_rng(10)).text


def test_punctuation_and_case_are_kept() -> None:
    res = augment_text("Quick, quick!", TextSpec(synonym_replacement=2), np.random.default_rng(0))
    assert res.text[0].isupper() and "," in res.text and res.text.endswith("!")
