"""Text augmentation: the EDA operations (Wei & Zou 2019) plus character typos, with every edit recorded.

Each operation makes exactly the number of edits asked for whenever the text allows it (a swap
needs two words, a synonym needs a word the lexicon knows); `TextResult.shortfall` says how many
could not be made. Punctuation and spacing are kept; only word tokens are edited. Edits avoid
words already edited by an earlier operation, so the counts stay honest. Labels pass through
untouched (`augment_example`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from tui_trainer.augment.lexicon import synonyms

_TOKEN = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?|[^A-Za-z]+")
# Neighbouring keys on a QWERTY keyboard: typos hit a key next to the intended one.
_QWERTY_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
TYPO_KINDS = ("swap", "delete", "insert", "substitute")


def _neighbours() -> dict[str, str]:
    pos = {ch: (r, c) for r, row in enumerate(_QWERTY_ROWS) for c, ch in enumerate(row)}
    out = {}
    for ch, (r, c) in pos.items():
        out[ch] = "".join(
            o for o, (r2, c2) in pos.items() if o != ch and abs(r2 - r) <= 1 and abs(c2 - c) <= 1
        )
    return out


NEIGHBOURS = _neighbours()


@dataclass(frozen=True)
class TextSpec:
    """How many edits of each kind to make in each text (one line = one example)."""

    synonym_replacement: int = 0
    random_insertion: int = 0
    random_swap: int = 0
    random_deletion: int = 0
    typos: int = 0

    @property
    def total(self) -> int:
        return (
            self.synonym_replacement
            + self.random_insertion
            + self.random_swap
            + self.random_deletion
            + self.typos
        )


@dataclass
class Token:
    """A piece of the text; `edit` names the operation that produced or changed it (None: original)."""

    text: str
    is_word: bool
    edit: str | None = None
    original: str | None = None
    deleted: bool = False


@dataclass
class TextResult:
    tokens: list[Token]
    edits: dict[str, int] = field(default_factory=dict)
    shortfall: dict[str, int] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The augmented text (deleted words and the space before them removed)."""
        parts: list[str] = []
        strip_next = False  # a word deleted at the start of the text takes the space after it
        for tok in self.tokens:
            if tok.deleted:
                if parts and parts[-1].endswith(" "):
                    parts[-1] = parts[-1][:-1]
                elif not parts or not parts[-1]:
                    strip_next = True
                continue
            piece = tok.text
            if strip_next and not tok.is_word:
                piece = piece.lstrip(" ")
            strip_next = False
            parts.append(piece)
        return "".join(parts)

    @property
    def edit_count(self) -> int:
        return sum(self.edits.values())


def tokenize(text: str) -> list[Token]:
    return [Token(m.group(0), m.group(0)[0].isalpha()) for m in _TOKEN.finditer(text)]


def _match_case(word: str, like: str) -> str:
    if like.isupper() and len(like) > 1:
        return word.upper()
    if like[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def _live_words(tokens: list[Token], *, unedited: bool = True) -> list[int]:
    return [
        i for i, t in enumerate(tokens) if t.is_word and not t.deleted and (t.edit is None or not unedited)
    ]


def _pick(rng: np.random.Generator, candidates: list[int], k: int) -> list[int]:
    if k <= 0 or not candidates:
        return []
    k = min(k, len(candidates))
    return [candidates[i] for i in sorted(rng.choice(len(candidates), size=k, replace=False))]


def synonym_replacement(tokens: list[Token], n: int, rng: np.random.Generator) -> int:
    """Replace n distinct non-stopwords that have synonyms with a random synonym; returns edits made."""
    cands = [i for i in _live_words(tokens) if synonyms(tokens[i].text)]
    chosen = _pick(rng, cands, n)
    for i in chosen:
        tok = tokens[i]
        syn = synonyms(tok.text)
        tokens[i] = Token(_match_case(syn[int(rng.integers(len(syn)))], tok.text), True, "synonym", tok.text)
    return len(chosen)


def random_insertion(tokens: list[Token], n: int, rng: np.random.Generator) -> int:
    """n times: insert a synonym of a random word (that has one) at a random word boundary."""
    made = 0
    for _ in range(n):
        cands = [
            i
            for i in _live_words(tokens, unedited=False)
            if tokens[i].edit != "insert" and synonyms(tokens[i].text)
        ]
        if not cands:
            break
        src = cands[int(rng.integers(len(cands)))]
        syn = synonyms(tokens[src].text)
        word = syn[int(rng.integers(len(syn)))]
        words = _live_words(tokens, unedited=False)
        slot = int(rng.integers(len(words) + 1))
        if slot == len(words):
            at = words[-1] + 1
            tokens[at:at] = [Token(" ", False), Token(word, True, "insert")]
        else:
            at = words[slot]
            tokens[at:at] = [Token(word, True, "insert"), Token(" ", False)]
        made += 1
    return made


def random_swap(tokens: list[Token], n: int, rng: np.random.Generator) -> int:
    """n times: swap two words not yet edited (each swap is one edit and marks both words)."""
    made = 0
    for _ in range(n):
        cands = _live_words(tokens)
        if len(cands) < 2:
            break
        a, b = _pick(rng, cands, 2)
        ta, tb = tokens[a], tokens[b]
        tokens[a] = Token(tb.text, True, "swap", ta.text)
        tokens[b] = Token(ta.text, True, "swap", tb.text)
        made += 1
    return made


def random_deletion(tokens: list[Token], n: int, rng: np.random.Generator) -> int:
    """Delete exactly n words not yet edited, always keeping at least one word."""
    cands = _live_words(tokens)
    remaining = len(_live_words(tokens, unedited=False))
    chosen = _pick(rng, cands, min(n, remaining - 1))
    for i in chosen:
        tokens[i].deleted = True
        tokens[i].edit = "delete"
    return len(chosen)


def typo(word: str, rng: np.random.Generator) -> str:
    """One keyboard typo in `word` (swap adjacent letters, drop one, add or substitute a neighbouring key)."""
    kinds = list(TYPO_KINDS) if len(word) >= 2 else ["insert", "substitute"]
    while True:
        kind = kinds[int(rng.integers(len(kinds)))]
        i = int(rng.integers(len(word)))
        ch = word[i].lower()
        near = NEIGHBOURS.get(ch, "etaoin")
        key = near[int(rng.integers(len(near)))]
        key = key.upper() if word[i].isupper() else key
        if kind == "swap":
            i = min(i, len(word) - 2)
            out = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        elif kind == "delete":
            out = word[:i] + word[i + 1 :]
        elif kind == "insert":
            out = word[: i + 1] + key + word[i + 1 :]
        else:
            out = word[:i] + key + word[i + 1 :]
        if out != word:  # swapping "ee" changes nothing: try again
            return out


def typos(tokens: list[Token], n: int, rng: np.random.Generator) -> int:
    """Put one typo into each of n distinct unedited words."""
    chosen = _pick(rng, _live_words(tokens), n)
    for i in chosen:
        tok = tokens[i]
        tokens[i] = Token(typo(tok.text, rng), True, "typo", tok.text)
    return len(chosen)


_OPS = (
    ("synonym_replacement", synonym_replacement),
    ("random_insertion", random_insertion),
    ("random_swap", random_swap),
    ("random_deletion", random_deletion),
    ("typos", typos),
)


def augment_text(text: str, spec: TextSpec, rng: np.random.Generator) -> TextResult:
    """Apply the operations in a fixed order (synonyms, insertion, swap, deletion, typos) and record each edit."""
    tokens = tokenize(text)
    result = TextResult(tokens)
    for name, op in _OPS:
        asked = getattr(spec, name)
        if asked <= 0:
            continue
        made = op(tokens, asked, rng)
        result.edits[name] = made
        if made < asked:
            result.shortfall[name] = asked - made
    return result


def augment_example(text: str, label: str, spec: TextSpec, rng: np.random.Generator) -> tuple[str, str]:
    """Augment a labelled example; the label is returned unchanged (augmentation never relabels)."""
    return augment_text(text, spec, rng).text, label


def augment_document(
    text: str, spec: TextSpec, rng: np.random.Generator, *, labelled: bool = False
) -> list[TextResult | str]:
    """Augment each non-empty line as one example; blank lines stay. With `labelled`, a line is
    `label<TAB>text` and the label (with its tab) is kept verbatim as a plain-string entry before the result.
    """
    out: list[TextResult | str] = []
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        ending = line[len(body) :]
        if not body.strip():
            out.append(line)
            continue
        if labelled and "\t" in body:
            label, body = body.split("\t", 1)
            out.append(label + "\t")
        out.append(augment_text(body, spec, rng))
        if ending:
            out.append(ending)
    return out


def document_text(parts: list[TextResult | str]) -> str:
    return "".join(p if isinstance(p, str) else p.text for p in parts)


def augment_csv(text: str, spec: TextSpec, rng: np.random.Generator, column: str | None = None) -> str:
    """Augment one column of a CSV (default `text`, else the first); every other column (the label) is kept."""
    import csv
    import io

    from tui_trainer.errors import UserError

    # Python's default field limit (128 KiB) is an error on a long document; the text file as a whole is bounded.
    csv.field_size_limit(max(csv.field_size_limit(), 64 * 1024 * 1024))
    reader = csv.reader(io.StringIO(text))
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise UserError(
            f"CSV line {reader.line_num}: not valid CSV ({exc}); expected comma-separated fields"
        ) from None
    # Blank lines before the header are not the header (csv gives them as empty rows).
    while rows and not any(cell.strip() for cell in rows[0]):
        rows.pop(0)
    if not rows:
        raise UserError(
            "CSV has no header line and no rows; expected a header (e.g. text,label) and one row per example"
        )
    header = rows[0]
    name = column or ("text" if "text" in header else header[0])
    if name not in header:
        raise UserError(f"CSV has no column {name!r} (columns: {', '.join(header)})")
    if not any(header.index(name) < len(row) and row[header.index(name)].strip() for row in rows[1:]):
        raise UserError(f"CSV column {name!r} has no text in any row; expected one example per row")
    col = header.index(name)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows[1:]:
        if col < len(row) and row[col].strip():
            row = list(row)
            row[col] = augment_text(row[col], spec, rng).text
        writer.writerow(row)
    return out.getvalue()
