"""TrainerApp: the tab bar of four panes, global keys, palette commands, themes and notifications."""

from __future__ import annotations

import asyncio
import gc
import importlib
import logging
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Header, TabbedContent

from tui_trainer import __version__, paths
from tui_trainer.config import DEFAULT_THEME, UserConfig, load_user_config_or_default, save_user_config
from tui_trainer.errors import UserError
from tui_trainer.panes.base import Pane, PaneSlot
from tui_trainer.panes.messages import OpenCollapseLab
from tui_trainer.screens import ConfirmScreen, HelpScreen
from tui_trainer.themes import load_theme_specs
from tui_trainer.widgets import terminal_images
from tui_trainer.widgets.key_footer import KeyFooter

if TYPE_CHECKING:
    from tui_trainer.panes.train import TrainPane
    from tui_trainer.panes.train_launch import TrainLaunch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PaneSpec:
    """Where a pane's class lives. Only the visible pane is imported and composed before the first frame; the
    others (polars, numpy, PIL behind them) load after it, so their ids and titles are written here."""

    pane_id: str
    title: str
    module: str
    class_name: str

    def load(self) -> type[Pane]:
        return getattr(importlib.import_module(self.module), self.class_name)


PANES: tuple[PaneSpec, ...] = (
    PaneSpec("env", "Environment", "tui_trainer.panes.env", "EnvPane"),
    PaneSpec("data", "Data", "tui_trainer.panes.data", "DataPane"),
    PaneSpec("augment", "Augment", "tui_trainer.panes.augment", "AugmentPane"),
    PaneSpec("train", "Train", "tui_trainer.panes.train", "TrainPane"),
)
PANE_IDS: tuple[str, ...] = tuple(spec.pane_id for spec in PANES)
_SPECS = {spec.pane_id: spec for spec in PANES}


def pane_classes() -> tuple[type[Pane], ...]:
    """Every pane class, in tab order (imports them all: for the help screen, the key tables and tests)."""
    return tuple(spec.load() for spec in PANES)


def __getattr__(name: str):
    # `PANE_CLASSES` is computed on first use, so importing this module stays as cheap as the first pane.
    if name == "PANE_CLASSES":
        return pane_classes()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
        self._pane_lock: asyncio.Lock | None = None
        self.farewell = ""  # printed once the terminal is restored (where a detached run can be followed)

    def run(self, *args, **kwargs):
        if kwargs.get("headless"):
            return super().run(*args, **kwargs)
        terminal_images.detect()  # asks the terminal about images; must come before Textual reads stdin
        try:
            result = super().run(*args, **kwargs)
            if self.farewell:  # after the terminal is restored, unwrapped: a path to copy stays whole
                print(self.farewell, file=sys.stderr)
            return result
        finally:
            # The terminal is restored and the process is about to end: everything allocated so far is
            # garbage, and the collector's last pass over it (the widget tree, polars...) took 0.4 s after
            # the screen was already back. Frozen objects are skipped by that pass; exit handlers still run.
            gc.freeze()

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
    # Only the visible pane is built before the first frame. The others' modules are imported in the
    # background just after it, and each pane is built on its first visit (0.1-0.2 s of composing, paid
    # once). Building them all in the background was tried: a key (q included) pressed meanwhile waited for
    # a whole pane's mount, 0.5 s each on a loaded machine. Set False (tests) to skip the background import.
    PRELOAD_PANES = True

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(initial=self._initial_pane, id="panes"):
            for spec in PANES:
                if spec.pane_id == self._initial_pane:
                    yield spec.load()()
                else:
                    yield PaneSlot(spec.pane_id, spec.title)
        yield KeyFooter()

    def on_mount(self) -> None:
        logging.getLogger("tui_trainer").addHandler(self._notify_handler)
        for warning in self._theme_warnings:
            self.notify(warning, severity="warning", markup=False, timeout=8)
        self._activate(self._initial_pane)
        if self.PRELOAD_PANES:
            self.call_after_refresh(self._import_panes)  # after the first frame is on the screen

    def on_unmount(self) -> None:
        logging.getLogger("tui_trainer").removeHandler(self._notify_handler)

    def _import_panes(self) -> None:
        """Import the hidden panes' modules (polars, numpy, PIL behind them) in a thread.

        A daemon thread, not a thread worker: quitting while it still imports must not wait for it, and
        Textual's shutdown joins its workers' threads. Imports take the GIL in bursts, so keys are still
        answered meanwhile."""

        def run() -> None:
            try:
                pane_classes()
            except Exception as exc:  # the pane that fails reports it when it is shown
                log.debug("background pane import failed: %s", exc)

        threading.Thread(target=run, name="import-panes", daemon=True).start()

    def _pane_or_slot(self, pane_id: str):
        return self.query_one("#panes", TabbedContent).get_pane(pane_id)

    async def ensure_pane(self, pane_id: str) -> Pane:
        """The pane with this id, built and mounted in place of its slot if it was not yet.

        Callers are the app's own handlers (keys, tab clicks, palette), so a click forwarded by the app cannot
        land between the slot's removal and the pane's mounting."""
        if self._pane_lock is None:
            self._pane_lock = asyncio.Lock()
        async with self._pane_lock:
            current = self._pane_or_slot(pane_id)
            if isinstance(current, Pane):
                return current
            pane = _SPECS[pane_id].load()()
            switcher = self.query_one("#panes", TabbedContent).get_child_by_type(ContentSwitcher)
            index = switcher.children.index(current)
            pane.display = switcher.current == pane_id
            await current.remove()  # first: two widgets with one id cannot be siblings
            if index < len(switcher.children):
                await switcher.mount(pane, before=index)
            else:
                await switcher.mount(pane)
            return pane

    async def load_all_panes(self) -> list[Pane]:
        """Every pane, built (waits for the background loading, or does it)."""
        return [await self.ensure_pane(pane_id) for pane_id in PANE_IDS]

    @property
    def panes(self) -> list[Pane]:
        return list(self.query(Pane))

    @property
    def active_pane_id(self) -> str:
        return self.query_one("#panes", TabbedContent).active

    async def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        pane_id = event.pane.id or ""
        if pane_id in _SPECS:
            await self.ensure_pane(pane_id)  # a tab clicked before its pane was built
        self._activate(pane_id)

    def _activate(self, pane_id: str) -> None:
        for pane in self.query(Pane):
            if pane.id == pane_id:
                pane.on_pane_activated()
                # Focus may still sit on a widget of the pane just hidden: its keys would not reach this one.
                self.call_after_refresh(pane.focus_inside)

    async def on_open_collapse_lab(self, message: OpenCollapseLab) -> None:
        train: TrainPane = await self.ensure_pane("train")  # type: ignore[assignment]
        await self.action_show_pane("train")
        train.show_collapse_lab(message.real_fraction)
        self.notify(f"Collapse lab: real fraction {message.real_fraction:.4g} filled in; press r to run.")

    # ----- actions ------------------------------------------------------------------------
    async def action_show_pane(self, pane_id: str) -> None:
        if pane_id in PANE_IDS:
            await self.ensure_pane(pane_id)  # built before it shows: never a blank slot on screen
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
        for cls in pane_classes():
            rows = [(_key_label(b.key), b.description) for b in _bindings(cls) if b.description]
            for view_title, bindings in cls.sub_view_bindings():
                rows += [(_key_label(b.key), f"{view_title}: {b.description}") for b in bindings]
            sections.append((f"{cls.TITLE} pane", _dedupe(rows) or [("", "(no keys)")]))
        return sections

    def action_request_quit(self) -> None:
        train = self._pane_or_slot("train")
        live = train.live_runs() if isinstance(train, Pane) else []  # type: ignore[attr-defined]
        reasons = [reason for pane in self.query(Pane) if (reason := pane.busy_reason())]
        if live:
            self._ask_about_live_runs(
                train, [r for pane in self.query(Pane) if pane is not train and (r := pane.busy_reason())]
            )
            return
        if not reasons:
            self.exit(0)
            return

        def answer(confirmed: bool | None) -> None:
            if confirmed:
                self.exit(0)

        self.push_screen(ConfirmScreen(f"{'; '.join(reasons)}. Quit anyway?"), answer)

    def _ask_about_live_runs(self, train, others: list[str]) -> None:
        """Detach (keeps training, attachable later) or stop (it checkpoints and ends by itself): the app quits
        at once either way, never waiting on the engine behind a blank screen."""
        from tui_trainer.quit_dialog import DETACH, STOP, QuitLiveRunScreen

        run_dirs = [slot.run_dir for slot in train.live_runs() if slot.run_dir is not None]

        def answer(choice: str | None) -> None:
            if choice not in (DETACH, STOP):
                return
            left = train.leave_live_runs(stop=choice == STOP)
            where = " ".join(str(d) for d in left)
            if choice == DETACH:
                note = f"tui-trainer: the run keeps training; follow it with: tui-trainer attach {where}"
            else:
                note = (
                    "tui-trainer: the run is stopping (it writes a checkpoint and ends on its own); "
                    f"watch it with: tui-trainer attach {where}"
                )
            self.farewell = note
            self.exit(0)

        self.push_screen(QuitLiveRunScreen(run_dirs, others), answer)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for spec in PANES:
            yield SystemCommand(
                f"Go to {spec.title}",
                f"Show the {spec.title} pane",
                _call(self.action_show_pane, spec.pane_id),
            )
        for spec in PANES:
            built = self._pane_or_slot(spec.pane_id)
            cls = type(built) if isinstance(built, Pane) else spec.load()
            for binding in _bindings(cls):
                if not binding.description:
                    continue
                yield SystemCommand(
                    f"{cls.TITLE}: {binding.description}",
                    f"key {_key_label(binding.key)} in the {cls.TITLE} pane",
                    _call(self._run_pane_action, spec.pane_id, binding.action),
                )
            if isinstance(built, Pane):
                for title, help_text, callback in built.sub_view_commands():
                    yield SystemCommand(
                        f"{cls.TITLE}: {title}", help_text, _call(self._run_in_pane, spec.pane_id, callback)
                    )
            else:  # not built yet: the same titles (Pane.sub_view_bindings), the command builds it first
                for view_title, bindings in cls.sub_view_bindings():
                    for binding in bindings:
                        title = f"{view_title}: {binding.description}"
                        yield SystemCommand(
                            f"{cls.TITLE}: {title}",
                            f"key {_key_label(binding.key)} in the {view_title}",
                            _call(self._run_sub_view_command, spec.pane_id, title),
                        )
        for name in sorted(self.available_themes):
            yield SystemCommand(
                f"Theme: {name}", "Switch to this theme (remembered)", _call(setattr, self, "theme", name)
            )
        yield SystemCommand("Help: keys", "List every key", self.action_help)

    async def _run_pane_action(self, pane_id: str, action: str) -> None:
        await self.action_show_pane(pane_id)
        pane = await self.ensure_pane(pane_id)
        await pane.run_action(action)

    async def _run_sub_view_command(self, pane_id: str, title: str) -> None:
        pane = await self.ensure_pane(pane_id)
        for command_title, _help, callback in pane.sub_view_commands():
            if command_title == title:
                await self._run_in_pane(pane_id, callback)
                return

    async def _run_in_pane(self, pane_id: str, callback) -> None:
        await self.action_show_pane(pane_id)
        result = callback()
        if result is not None:
            await result

    # ----- headless -----------------------------------------------------------------------
    def boot_headless(self, size: tuple[int, int] = (100, 30)) -> list[str]:
        """Start the app without a terminal, draw the first frame, and return the pane ids it shows."""

        async def boot() -> list[str]:
            async with self.run_test(size=size) as pilot:
                await pilot.pause()
                await self.load_all_panes()  # every pane builds, not only the first one shown
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
    from tui_trainer.panes.train_launch import TrainLaunch, ensure_resource_tracker

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
