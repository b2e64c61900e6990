"""The synonym table used by text augmentation: a compact extract of WordNet 3.0 shipped with the package."""

from __future__ import annotations

import gzip
import json
from functools import lru_cache
from pathlib import Path

LEXICON_PATH = Path(__file__).with_name("data") / "wordnet_synonyms.json.gz"

# Words whose replacement changes grammar rather than meaning (EDA skips them too).
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having
    he her here hers herself him himself his how i if in into is it its itself just me more most my myself no
    nor not now of off on once only or other our ours ourselves out over own same she should so some such than
    that the their theirs them themselves then there these they this those through to too under until up very
    was we were what when where which while who whom why will with would you your yours yourself yourselves""".split()
)


@lru_cache(maxsize=1)
def synonym_table() -> dict[str, tuple[str, ...]]:
    """word (lower case) → its synonyms, loaded once from the shipped WordNet extract."""
    with gzip.open(LEXICON_PATH, "rt", encoding="utf-8") as fh:
        raw = json.load(fh)
    return {word: tuple(syns) for word, syns in raw.items()}


def synonyms(word: str) -> tuple[str, ...]:
    """Synonyms of `word` (case-insensitive); empty for stopwords and unknown words."""
    key = word.lower()
    if key in STOPWORDS:
        return ()
    return synonym_table().get(key, ())
