"""TrainerApp: the tab bar of four panes, global keys, palette commands, themes and notifications."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from pathlib import Path

from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Header, TabbedContent

from tui_trainer import __version__, paths
from tui_trainer.config import DEFAULT_THEME, UserConfig, load_user_config_or_default, save_user_config
from tui_trainer.errors import UserError
from tui_trainer.panes.augment import AugmentPane
from tui_trainer.panes.base import Pane
from tui_trainer.panes.data import DataPane
from tui_trainer.panes.env import EnvPane
from tui_trainer.panes.messages import OpenCollapseLab
from tui_trainer.panes.train import TrainPane
from tui_trainer.panes.train_launch import TrainLaunch, ensure_resource_tracker
from tui_trainer.screens import ConfirmScreen, HelpScreen
from tui_trainer.themes import load_theme_specs
from tui_trainer.widgets.key_footer import KeyFooter

log = logging.getLogger(__name__)

PANE_CLASSES: tuple[type[Pane], ...] = (EnvPane, DataPane, AugmentPane, TrainPane)
PANE_IDS: tuple[str, ...] = tuple(cls.PANE_ID for cls in PANE_CLASSES)


def available_theme_names() -> list[str]:
    """Theme files (bundled and the user's) plus Textual's built-in themes."""
    from textual.theme import BUILTIN_THEMES

    specs, _warnings = load_theme_specs()
    names = [spec.name for spec in specs]
    return names + [name for name in BUILTIN_THEMES if name not in names]


def resolve_theme_name(name: str) -> str:
    """Return `name` if a theme by that name exists, else raise a UserError listing the ones that do."""
    names = available_theme_names()
    if name not in names:
        raise UserError(f"unknown theme {name!r}; available: {', '.join(names)}")
    return name


class _NotifyHandler(logging.Handler):
    """Shows WARNING and ERROR log records as notifications; App.notify is thread-safe."""

    def __init__(self, app: App) -> None:
        super().__init__(level=logging.WARNING)
        self._app = app

    def emit(self, record: logging.LogRecord) -> None:
        try:
            severity = "error" if record.levelno >= logging.ERROR else "warning"
            self._app.notify(record.getMessage(), severity=severity, markup=False)
        except Exception:  # a notification must never turn a log call into a crash
            pass


class TrainerApp(App[int]):
    """The tui-trainer workbench."""

    TITLE = "tui-trainer"
    SUB_TITLE = f"v{__version__}"
    CSS_PATH = "app.tcss"
    BINDINGS = [
        Binding("1", "show_pane('env')", "Environment", tooltip="Environment pane"),
        Binding("2", "show_pane('data')", "Data", tooltip="Data pane"),
        Binding("3", "show_pane('augment')", "Augment", tooltip="Augment pane"),
        Binding("4", "show_pane('train')", "Train", tooltip="Train pane"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "request_quit", "Quit"),
        Binding("ctrl+c", "request_quit", "Quit", show=False, priority=True),
        Binding("ctrl+q", "request_quit", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        theme: str | None = None,
        config_path: Path | None = None,
        initial_pane: str = "env",
        train_launch: TrainLaunch | None = None,
    ) -> None:
        super().__init__()
        self.train_launch = train_launch  # read (and cleared) by the Train pane once it is mounted
        self._config_path = config_path
        self._user_config: UserConfig = load_user_config_or_default(config_path)
        self._initial_pane = initial_pane if initial_pane in PANE_IDS else "env"
        self._theme_warnings: list[str] = []
        self._persist_theme = False
        self._register_theme_files()
        self.log_path = paths.log_file()
        wanted = theme or self._user_config.theme
        if wanted not in self.available_themes:
            self._theme_warnings.append(f"theme {wanted!r} not found; using {DEFAULT_THEME}")
            wanted = DEFAULT_THEME if DEFAULT_THEME in self.available_themes else "textual-dark"
        self.theme = wanted
        if theme is not None:
            self._save_theme(theme)  # a theme chosen by flag persists, like one chosen in the palette
        self._persist_theme = True
        self._notify_handler = _NotifyHandler(self)

    # ----- themes -------------------------------------------------------------------------
    def _register_theme_files(self) -> None:
        specs, warnings = load_theme_specs()
        self._theme_warnings.extend(warnings)
        for spec in specs:
            try:
                self.register_theme(spec.to_textual())
            except Exception as exc:  # a theme Textual rejects is skipped like a malformed file
                self._theme_warnings.append(f"theme skipped: {spec.source}: {exc}")

    def watch_theme(self, theme: str) -> None:
        # Starting the app writes nothing; only a theme the user picks (flag, palette) is written back.
        if self._persist_theme and theme != self._user_config.theme:
            self._save_theme(theme)

    def _save_theme(self, theme: str) -> None:
        self._user_config.theme = theme
        try:
            save_user_config(self._user_config, self._config_path)
        except OSError as exc:
            log.warning("could not save theme choice: %s", exc)

    # ----- layout -------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(initial=self._initial_pane, id="panes"):
            for cls in PANE_CLASSES:
                yield cls()
        yield KeyFooter()

    def on_mount(self) -> None:
        logging.getLogger("tui_trainer").addHandler(self._notify_handler)
        for warning in self._theme_warnings:
            self.notify(warning, severity="warning", markup=False, timeout=8)
        self._activate(self._initial_pane)

    def on_unmount(self) -> None:
        logging.getLogger("tui_trainer").removeHandler(self._notify_handler)

    @property
    def panes(self) -> list[Pane]:
        return list(self.query(Pane))

    @property
    def active_pane_id(self) -> str:
        return self.query_one("#panes", TabbedContent).active

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self._activate(event.pane.id or "")

    def _activate(self, pane_id: str) -> None:
        for pane in self.query(Pane):
            if pane.id == pane_id:
                pane.on_pane_activated()
                # Focus may still sit on a widget of the pane just hidden: its keys would not reach this one.
                self.call_after_refresh(pane.focus_inside)

    def on_open_collapse_lab(self, message: OpenCollapseLab) -> None:
        self.action_show_pane("train")
        self.query_one(TrainPane).show_collapse_lab(message.real_fraction)
        self.notify(f"Collapse lab: real fraction {message.real_fraction:.4g} filled in; press r to run.")

    # ----- actions ------------------------------------------------------------------------
    def action_show_pane(self, pane_id: str) -> None:
        if pane_id in PANE_IDS:
            self.query_one("#panes", TabbedContent).active = pane_id

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(self.key_sections(), str(self.log_path)))

    def key_sections(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """Every binding, grouped: global keys first, then each pane's."""
        global_rows = [
            (b.key_display or _key_label(b.key), b.description) for b in self.BINDINGS if b.description
        ]
        global_rows.append(("ctrl+p", "Command palette"))
        sections = [("Global", _dedupe(global_rows))]
        for cls in PANE_CLASSES:
            rows = [(_key_label(b.key), b.description) for b in _bindings(cls) if b.description]
            for view_title, bindings in cls.sub_view_bindings():
                rows += [(_key_label(b.key), f"{view_title}: {b.description}") for b in bindings]
            sections.append((f"{cls.TITLE} pane", _dedupe(rows) or [("", "(no keys)")]))
        return sections

    def action_request_quit(self) -> None:
        reasons = [reason for pane in self.query(Pane) if (reason := pane.busy_reason())]
        if not reasons:
            self.exit(0)
            return

        def answer(confirmed: bool | None) -> None:
            if confirmed:
                self.exit(0)

        self.push_screen(ConfirmScreen(f"{'; '.join(reasons)}. Quit anyway?"), answer)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for cls in PANE_CLASSES:
            yield SystemCommand(
                f"Go to {cls.TITLE}", f"Show the {cls.TITLE} pane", _call(self.action_show_pane, cls.PANE_ID)
            )
        for pane in self.query(Pane):
            for binding in _bindings(type(pane)):
                if not binding.description:
                    continue
                yield SystemCommand(
                    f"{pane.TITLE}: {binding.description}",
                    f"key {_key_label(binding.key)} in the {pane.TITLE} pane",
                    _call(self._run_pane_action, pane.id, binding.action),
                )
            for title, help_text, callback in pane.sub_view_commands():
                yield SystemCommand(
                    f"{pane.TITLE}: {title}", help_text, _call(self._run_in_pane, pane.id, callback)
                )
        for name in sorted(self.available_themes):
            yield SystemCommand(
                f"Theme: {name}", "Switch to this theme (remembered)", _call(setattr, self, "theme", name)
            )
        yield SystemCommand("Help: keys", "List every key", self.action_help)

    async def _run_pane_action(self, pane_id: str, action: str) -> None:
        self.action_show_pane(pane_id)
        pane = self.query_one(f"#{pane_id}", Pane)
        await pane.run_action(action)

    async def _run_in_pane(self, pane_id: str, callback) -> None:
        self.action_show_pane(pane_id)
        result = callback()
        if result is not None:
            await result

    # ----- headless -----------------------------------------------------------------------
    def boot_headless(self, size: tuple[int, int] = (100, 30)) -> list[str]:
        """Start the app without a terminal, draw the first frame, and return the pane ids it shows."""

        async def boot() -> list[str]:
            async with self.run_test(size=size) as pilot:
                await pilot.pause()
                return [pane.id or "" for pane in self.query(Pane)]

        return asyncio.run(boot())


def _bindings(cls: type) -> list[Binding]:
    result: list[Binding] = []
    for item in getattr(cls, "BINDINGS", []):
        if isinstance(item, Binding):
            result.append(item)
        elif isinstance(item, tuple) and len(item) >= 2:
            result.append(Binding(*item))
    return result


def _key_label(key: str) -> str:
    labels = {
        "question_mark": "?",
        "escape": "esc",
        "slash": "/",
        "plus": "+",
        "minus": "-",
        "equals_sign": "=",
        "left": "←",
        "right": "→",
        "up": "↑",
        "down": "↓",
        "left_square_bracket": "[",
        "right_square_bracket": "]",
    }
    return ", ".join(labels.get(k.strip(), k.strip()) for k in key.split(","))


def _dedupe(rows: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Merge rows that do the same thing into one line: `q, ctrl+c, ctrl+q  Quit`."""
    keys_by_description: dict[str, list[str]] = {}
    for key, description in rows:
        keys = keys_by_description.setdefault(description, [])
        if key not in keys:
            keys.append(key)
    return [(", ".join(keys), description) for description, keys in keys_by_description.items()]


def _call(fn, *args):
    def run():
        return fn(*args)

    return run


def make_app(
    theme: str | None = None,
    config_path: Path | None = None,
    initial_pane: str = "env",
    train_launch: TrainLaunch | None = None,
) -> TrainerApp:
    """The one way the CLI and the tests build the app."""
    return TrainerApp(
        theme=theme, config_path=config_path, initial_pane=initial_pane, train_launch=train_launch
    )


def open_train_app(
    *,
    config_path: Path | None = None,
    overrides=(),
    run_dir: Path | None = None,
    resume: bool = False,
    attach_dirs=(),
    watch_command: str | None = None,
) -> int:
    """Open the app on the Train pane, starting (or resuming) a run or following run folders; returns the exit code.

    `train`, `attach` and `watch` in a terminal come here: commands open the app, never a pane.
    """
    launch = TrainLaunch(
        Path(config_path) if config_path is not None else None,
        tuple(overrides),
        Path(run_dir) if run_dir is not None else None,
        resume,
        tuple(Path(d) for d in attach_dirs),
        watch_command,
    )
    if launch.starts_a_run:
        ensure_resource_tracker()  # before Textual captures stderr
    app = make_app(initial_pane="train", train_launch=launch)
    app.run()
    return int(app.return_code or 0)
