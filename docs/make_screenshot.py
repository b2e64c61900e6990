"""Regenerate docs/screenshot.svg, the picture of the app in the README.

Run: python docs/make_screenshot.py [--pane train] [--size 120x36]
The app is booted headless with its real panes; Textual saves the frame as SVG.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from tui_trainer.app import PANE_IDS, make_app

OUT = Path(__file__).resolve().parent / "screenshot.svg"


async def shoot(pane: str, size: tuple[int, int], settle: float) -> None:
    app = make_app(initial_pane=pane)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause(settle)
        app.save_screenshot(filename=OUT.name, path=str(OUT.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pane", choices=PANE_IDS, default="env")
    parser.add_argument("--size", default="120x36")
    parser.add_argument("--settle", type=float, default=1.0, help="seconds to let workers finish drawing")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    asyncio.run(shoot(args.pane, (width, height), args.settle))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
