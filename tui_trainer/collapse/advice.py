"""What to tell a user whose training data is partly synthetic: the collapse experiment that matches their share."""

from __future__ import annotations

import math

from tui_trainer.errors import UserError


def collapse_command(share: float) -> str:
    """The `tui-trainer collapse` command that keeps the user's real share (1 - synthetic share) each generation."""
    if not isinstance(share, int | float) or math.isnan(share) or not 0.0 <= share <= 1.0:
        raise UserError(f"synthetic share must be between 0 and 1, got {share!r}")
    real = 1.0 - float(share)
    # Four significant digits, as the Data pane's finding writes it, so both name the same command;
    # gaussian is the default model, the quickest to show the effect.
    return f"tui-trainer collapse --real-fraction {real:.4g}"


def synthetic_share_advice(share: float) -> str:
    """One sentence for the Data pane's `synthetic_share` finding: what the share risks and the command to see it."""
    command = collapse_command(share)
    percent = f"{share:.0%}" if share >= 0.01 or share == 0 else f"{share:.1%}"
    if share >= 1.0:
        return (
            f"All rows ({percent}) are model-generated: a model trained only on them refits its predecessor and "
            f"loses the tails of the real distribution generation by generation (model collapse); keep real data "
            f"in every round, and see it with `{command}`."
        )
    return (
        f"{percent} of the rows are model-generated: training rounds that reuse such data drift away from the "
        f"real distribution (model collapse) unless real data is kept; see how a {1 - share:.0%} real share "
        f"behaves with `{command}`, and compare `--accumulate` (keep earlier data rather than replace it)."
    )
