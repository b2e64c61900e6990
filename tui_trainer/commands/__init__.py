"""One module per `tui-trainer` subcommand: `HELP`, `add_arguments(parser)`, `run(args) -> int`.

Top-level imports here are standard library only; anything heavy is imported inside `run`.
"""
