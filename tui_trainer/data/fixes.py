"""A finding's fix as recipe steps: what the Data pane's `r` key adds for the highlighted finding.

One place maps finding ids to recipe edits, so the pane and any other caller offer the same fix the
finding's text describes (docs/data-findings.md).
"""

from __future__ import annotations

from tui_trainer.data.recipe import Recipe
from tui_trainer.findings import Finding


def add_fix(recipe: Recipe, finding: Finding) -> str | None:
    """Add the finding's fix to `recipe` (in place); return what was added, or None when it has no recipe fix."""
    ev = finding.evidence
    columns = ev.get("columns") or []
    if finding.id == "missing_marker":
        tokens = [t for t in ev.get("tokens", {}) if t not in recipe.na_values]
        recipe.na_values.extend(tokens)
        return f"read {', '.join(map(repr, ev.get('tokens', {})))} as missing (na_values)"
    if finding.id == "numeric_formatted" and columns:
        recipe.parse_numbers[columns[0]] = ev["style"]
        return f"parse {columns[0]} as numbers ({ev['style']})"
    if finding.id == "date_text" and columns:
        recipe.parse_dates[columns[0]] = ev["format"]
        return f"parse {columns[0]} as dates ({ev['format']})"
    if finding.id == "date_ambiguous" and columns:
        fmt = ev["formats"][0]
        recipe.parse_dates[columns[0]] = fmt
        return f"parse {columns[0]} as dates with {fmt} (check: the day/month order is a guess you can edit)"
    if finding.id == "category_variants" and columns:
        recipe.merge_categories.setdefault(columns[0], {}).update(ev.get("merge", {}))
        return f"merge {ev.get('group_count', 0)} spelling groups of {columns[0]}"
    if finding.id == "correlated":
        dropped = []
        kept = set()
        for pair in ev.get("pairs", []):
            a, b = pair["columns"]
            if a in recipe.drop_columns or b in recipe.drop_columns:
                continue
            victim = b if a not in dropped else a
            if victim in kept:
                continue
            kept.add(a if victim == b else b)
            dropped.append(victim)
        recipe.drop_columns.extend(c for c in dropped if c not in recipe.drop_columns)
        return (
            f"drop {', '.join(dropped)} (one of each correlated pair)" if dropped else "nothing left to drop"
        )
    if finding.id == "feature_predicts_label" and ev.get("feature"):
        if ev["feature"] not in recipe.drop_columns:
            recipe.drop_columns.append(ev["feature"])
        return f"drop {ev['feature']}"
    if finding.id in ("id_like", "constant") and len(columns) == 1:
        if columns[0] not in recipe.drop_columns:
            recipe.drop_columns.append(columns[0])
        return f"drop {columns[0]}"
    if finding.id == "duplicates":
        recipe.drop_duplicates = True
        return "drop duplicate rows"
    return None


def read_steps_summary(recipe: Recipe) -> list[str]:
    """The recipe's reading steps in words, for the recipe bar."""
    parts = []
    if recipe.na_values:
        parts.append("missing " + " ".join(map(repr, recipe.na_values)))
    for name, style in recipe.parse_numbers.items():
        parts.append(f"parse {name} ({style})")
    for name, fmt in recipe.parse_dates.items():
        parts.append(f"dates {name} {fmt}")
    for name, mapping in recipe.merge_categories.items():
        parts.append(f"merge {len(mapping)} spellings in {name}")
    if recipe.drop_columns:
        parts.append("drop " + ", ".join(recipe.drop_columns))
    return parts


def with_read_steps(recipe: Recipe, findings: list[Finding]) -> Recipe:
    """A copy of `recipe` plus how the profile read the file (markers read as missing, formatted numbers and
    dates parsed), so the saved recipe applied to the raw file works on the same columns the pane showed."""
    from tui_trainer.data.recipe import parse_recipe

    out = parse_recipe(recipe.to_toml(), "recipe")
    for finding in findings:
        converted = finding.id == "missing_marker" and finding.evidence.get("converted")
        if converted or finding.id in ("numeric_formatted", "date_text"):
            add_fix(out, finding)
    return out
