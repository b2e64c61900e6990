"""Categorical columns: spellings of one value that differ only in case, spaces, punctuation or accents
(`category_variants`), and imbalance of categorical features (`imbalance`, info level).

A value's key is its NFKD form without combining marks, lower-cased, with every character that is not a
letter or digit removed: "Abilene" and "Abilene.", "audi 100 ls" and "audi 100ls", "Zürich" and "zurich"
share a key. Columns with more than MAX_DISTINCT distinct values are not compared (their keys would need
a pass of their own per value).
"""

from __future__ import annotations

import unicodedata

import polars as pl

from tui_trainer.data.evidence import make_finding
from tui_trainer.data.profile import Profile
from tui_trainer.data.stream_profile import value_counts
from tui_trainer.data.thresholds import Thresholds
from tui_trainer.findings import Finding, Severity

MAX_DISTINCT = 100_000
GROUPS_SHOWN = 10


def variant_key(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(ch for ch in decomposed if ch.isalnum() and not unicodedata.combining(ch)).casefold()


def variant_groups(counts: dict[str, int]) -> list[dict[str, int]]:
    """Groups (spelling -> rows) of two or more spellings sharing a key, largest group first."""
    groups: dict[str, dict[str, int]] = {}
    for value, n in counts.items():
        key = variant_key(value)
        if key:
            groups.setdefault(key, {})[value] = n
    found = [dict(sorted(g.items(), key=lambda kv: (-kv[1], kv[0]))) for g in groups.values() if len(g) > 1]
    return sorted(found, key=lambda g: (-sum(g.values()), next(iter(g))))


def _text_markers(lf: pl.LazyFrame, name: str, counts: dict[str, int], engine: str) -> list[Finding]:
    """Missing values spelled as markers inside a text column ("none", "-", "?" beside real categories).

    Reported, not converted: in a text column "unknown" may be a category the user means to keep.
    """
    from tui_trainer.data.markers import MARKERS
    from tui_trainer.data.profile import first_rows

    tokens = {v: n for v, n in counts.items() if v.strip().lower() in MARKERS}
    if not tokens or len(counts) - len(tokens) < 2:
        return []
    cells = sum(tokens.values())
    listed = ", ".join(f"{t!r} ({n})" for t, n in tokens.items())
    return [
        make_finding(
            "missing_marker",
            Severity.WARNING,
            f"{name}: {cells} values look like missing-value markers ({', '.join(map(repr, tokens))})",
            f"Text column {name!r} holds {listed} beside {len(counts) - len(tokens)} other values; they are counted "
            "as categories now, and mixed with the empty/NA cells already read as missing.",
            f"If they mean missing: na_values = [{', '.join(repr(t) for t in tokens)}] in a fix recipe, or "
            f"--na-values '{','.join(tokens)}'.",
            [name],
            cells,
            first_rows(lf, pl.col(name).is_in(list(tokens)), engine),
            tokens=tokens,
            sentinel=False,
            converted=False,
        )
    ]


def category_findings(
    lf: pl.LazyFrame, profile: Profile, t: Thresholds, engine: str, label: str | None = None
) -> list[Finding]:
    text = [c for c in profile.columns if c.kind == "text" and c.unique and 2 <= c.unique <= MAX_DISTINCT]
    cats = [
        c
        for c in profile.columns
        if c.kind in ("text", "categorical", "bool")
        and c.unique
        and 2 <= c.unique <= t.high_cardinality
        and c.name != label
    ]
    wanted = {c.name for c in text} | {c.name for c in cats}
    if not wanted:
        return []
    tallies = value_counts(lf, [pl.col(n).cast(pl.String) for n in sorted(wanted)], engine)
    counts = {n: dict(c) for n, c in tallies.items()}
    out: list[Finding] = []
    for col in text:
        out += _text_markers(lf, col.name, counts[col.name], engine)
        groups = variant_groups(counts[col.name])
        if not groups:
            continue
        rows = sum(sum(list(g.values())[1:]) for g in groups)  # rows not written the group's commonest way
        shown = "; ".join(" / ".join(f"{v!r} ({n})" for v, n in g.items()) for g in groups[:3])
        merge = {v: next(iter(g)) for g in groups for v in list(g)[1:]}
        out.append(
            make_finding(
                "category_variants",
                Severity.WARNING,
                f"{col.name}: {len(groups)} values written several ways",
                f"{len(groups)} groups of values of {col.name!r} differ only in case, spaces, punctuation or accents: "
                f"{shown}{' ...' if len(groups) > 3 else ''}; {rows} rows use a less common spelling.",
                "Merge each group into its commonest spelling: merge_categories in a fix recipe "
                "(the pane offers the mapping).",
                [col.name],
                rows,
                [],
                groups=groups[:GROUPS_SHOWN],
                group_count=len(groups),
                merge=dict(list(merge.items())[:200]),
            )
        )
    for col in cats:
        c = counts[col.name]
        majority, minority = max(c.values()), min(c.values())
        ratio = majority / minority
        if ratio <= t.feature_imbalance:
            continue
        rare = [v for v, n in c.items() if n == minority]
        out.append(
            make_finding(
                "imbalance",
                Severity.INFO,
                f"{col.name}: feature majority/minority ratio {ratio:.1f} over {len(c)} values",
                f"Value counts of feature {col.name!r}: "
                + ", ".join(f"{v}={n}" for v, n in list(c.items())[:10])
                + (" ..." if len(c) > 10 else "")
                + f"; the rarest ({', '.join(map(str, rare[:3]))}) has {minority} rows.",
                "Rare values give the model few examples: group them (e.g. into 'other') or check they are typos.",
                [col.name],
                sum(c.values()),
                [],
                value_counts=dict(list(c.items())[:50]),
                ratio=ratio,
                minority=rare[:10],
                feature=True,
            )
        )
    return out
