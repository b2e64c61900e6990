"""tui-trainer: a terminal workbench that catches deep-learning training pitfalls."""

__version__ = "0.1.0"
