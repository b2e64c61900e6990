"""The Data pane, split by what it shows: pane (keys, workers), profile_view, rows_view, recipe_bar, pickers."""

from tui_trainer.data.paging import ROW_INDEX
from tui_trainer.panes.data.pane import DataPane
from tui_trainer.panes.data.pickers import ChooseLabelScreen, OpenDataScreen
from tui_trainer.panes.data.rows_view import PAGE_SIZE

__all__ = ["DataPane", "OpenDataScreen", "ChooseLabelScreen", "PAGE_SIZE", "ROW_INDEX"]
