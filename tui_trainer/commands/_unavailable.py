"""What a subcommand says before its pane's issue has landed."""

from __future__ import annotations

import sys


def not_available(name: str, issue: int) -> int:
    print(
        f"tui-trainer {name}: not available yet in this version (tracked in issue #{issue}).",
        file=sys.stderr,
    )
    return 2
