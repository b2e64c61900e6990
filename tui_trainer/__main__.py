"""`python -m tui_trainer`: the same entry point as the `tui-trainer` command."""

import sys

from tui_trainer.cli import main

sys.exit(main())
