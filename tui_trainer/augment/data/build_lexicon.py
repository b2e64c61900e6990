"""Build wordnet_synonyms.json.gz from WordNet 3.0 (run once by hand; not run by tests or CI).

    apt-get install wordnet-base
    python tui_trainer/augment/data/build_lexicon.py [/usr/share/wordnet]

Keeps the table small by keeping only common words: a lemma is kept when WordNet's index says at
least one of its senses was seen in the SemCor sense-tagged corpus (tagsense_cnt > 0). A word's
synonyms are the other single-word lemmas of its tagged senses, most frequent sense first
(WordNet lists synsets by frequency), so replacements stay close to the word's usual meaning.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

POS = ("noun", "verb", "adj", "adv")
MAX_SENSES = 4
MAX_SYNONYMS = 12


def _index(wn: Path, pos: str) -> dict[str, list[str]]:
    """lemma → offsets of its sense-tagged synsets (most frequent first)."""
    out: dict[str, list[str]] = {}
    for line in (wn / f"index.{pos}").read_text(encoding="latin-1").splitlines():
        if line.startswith(" "):
            continue  # licence header
        parts = line.split()
        lemma, synset_cnt, p_cnt = parts[0], int(parts[2]), int(parts[3])
        tagged = int(parts[5 + p_cnt])
        offsets = parts[6 + p_cnt : 6 + p_cnt + synset_cnt]
        if tagged > 0 and lemma.isalpha():
            out[lemma] = offsets[: min(tagged, MAX_SENSES)]
    return out


def _synsets(wn: Path, pos: str) -> dict[str, list[str]]:
    """synset offset → its lemmas (lower case, WordNet's adjective markers removed)."""
    out: dict[str, list[str]] = {}
    for line in (wn / f"data.{pos}").read_text(encoding="latin-1").splitlines():
        if line.startswith(" "):
            continue
        parts = line.split()
        count = int(parts[3], 16)
        words = [parts[4 + 2 * i].split("(")[0].lower() for i in range(count)]
        out[parts[0]] = words
    return out


def build(wn: Path) -> dict[str, list[str]]:
    table: dict[str, list[str]] = {}
    indexes = {pos: _index(wn, pos) for pos in POS}
    for pos in POS:
        synsets = _synsets(wn, pos)
        for lemma, offsets in indexes[pos].items():
            syns = table.setdefault(lemma, [])
            for off in offsets:
                for word in synsets.get(off, []):
                    if word != lemma and word.isalpha() and word not in syns:
                        syns.append(word)
    return {w: s[:MAX_SYNONYMS] for w, s in sorted(table.items()) if s}


def main() -> None:
    wn = Path(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/wordnet")
    table = build(wn)
    out = Path(__file__).with_name("wordnet_synonyms.json.gz")
    data = json.dumps(table, separators=(",", ":"), sort_keys=True).encode("utf-8")
    # mtime=0 keeps the file byte-identical across rebuilds.
    out.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
    print(f"{len(table)} words, {out.stat().st_size} bytes -> {out}")


if __name__ == "__main__":
    main()
