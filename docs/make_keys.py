"""Regenerate the README's table of pane keys from the panes' own bindings (the `?` screen's source).

Run: python docs/make_keys.py            rewrite the block between <!-- section:keys --> markers
     python docs/make_keys.py --check    exit 1 when the README's table differs from the bindings
tests/test_readme_keys.py runs the check, so a key added to a pane and not to the README fails the tests.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- section:keys -->", "<!-- /section:keys -->"


def pane_key_table() -> str:
    from tui_trainer.app import make_app

    lines = [
        "Each pane's own keys (also in the palette and on the `?` screen):",
        "",
        "| pane | key | what |",
        "| --- | --- | --- |",
    ]
    for section, rows in make_app().key_sections()[1:]:  # [0] is the global keys, tabled by hand above
        pane = section.removesuffix(" pane")
        for keys, description in rows:
            if not keys:
                continue
            shown = " ".join(f"`{key.strip()}`" for key in keys.split(","))
            lines.append(f"| {pane} | {shown} | {description} |")
    return "\n".join(lines)


def readme_block(text: str) -> str:
    start = text.index(START) + len(START)
    return text[start : text.index(END, start)].strip("\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    text = README.read_text(encoding="utf-8")
    table = pane_key_table()
    if args.check:
        same = readme_block(text) == table
        if not same:
            print("README key table differs from the bindings: run python docs/make_keys.py", file=sys.stderr)
        return 0 if same else 1
    start = text.index(START) + len(START)
    end = text.index(END, start)
    README.write_text(text[:start] + "\n" + table + "\n" + text[end:], encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
