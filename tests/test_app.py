"""The app shell through Pilot: four panes, keys 1-4, palette, help, themes, quit confirmation, notifications."""

from __future__ import annotations

import logging
import tomllib

import pytest
from textual.widgets import ContentSwitcher, TabbedContent

from tui_trainer.app import PANE_IDS, PANES, TrainerApp, make_app, pane_classes
from tui_trainer.panes.base import Pane, PaneSlot
from tui_trainer.screens import ConfirmScreen, HelpScreen


async def test_app_shows_the_four_panes_in_order():
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        tabs = app.query_one("#panes", TabbedContent)
        # The four tabs are in the first frame; the hidden panes are built just after it, by themselves.
        assert [tabs.get_pane(pane_id).id for pane_id in PANE_IDS] == ["env", "data", "augment", "train"]
        assert tabs.active == "env"
        assert PANE_IDS == ("env", "data", "augment", "train")
        await app.load_all_panes()
        await pilot.pause()
        assert [pane.id for pane in app.query(Pane)] == ["env", "data", "augment", "train"]
        assert not list(app.query(PaneSlot))


def test_pane_table_matches_the_pane_classes():
    """The ids and titles the tab bar draws before any pane is imported are the panes' own."""
    assert [(spec.pane_id, spec.title) for spec in PANES] == [
        (cls.PANE_ID, cls.TITLE) for cls in pane_classes()
    ]


async def test_first_frame_builds_only_the_visible_pane():
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.3)
        # Still so after a while: the hidden panes are built on their first visit, never behind the user's keys.
        assert [pane.id for pane in app.query(Pane)] == ["env"]
        assert [slot.id for slot in app.query(PaneSlot)] == ["data", "augment", "train"]


@pytest.mark.parametrize(
    ("key", "pane_id", "pane_key"), [("2", "data", "o"), ("3", "augment", "o"), ("4", "train", "n")]
)
async def test_a_pane_built_on_its_first_visit_shows_and_takes_its_keys(monkeypatch, key, pane_id, pane_key):
    monkeypatch.setattr(TrainerApp, "PRELOAD_PANES", False)
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press(key)
        await app.workers.wait_for_complete()
        await pilot.pause()
        pane = app.query_one(f"#{pane_id}", Pane)  # the real pane, in its slot's place
        assert app.active_pane_id == pane_id and pane.display and pane.region.height > 10
        switcher = app.query_one("#panes", TabbedContent).get_child_by_type(ContentSwitcher)
        assert [child.id for child in switcher.children] == list(PANE_IDS)  # tab order kept
        assert app.focused is not None and (app.focused is pane or pane in app.focused.ancestors)
        assert pane_key in _footer_keys(app)
        await pilot.press("1")
        await pilot.pause()
        assert app.active_pane_id == "env" and not pane.display


async def test_clicking_the_tab_of_a_pane_not_built_yet_shows_it():
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.click("#--content-tab-augment")
        await app.workers.wait_for_complete()
        await pilot.pause()
        pane = app.query_one("#augment", Pane)
        assert (
            app.active_pane_id == "augment"
            and pane.display
            and not list(app.query(PaneSlot).filter("#augment"))
        )


def test_importing_the_app_leaves_the_heavy_libraries_for_later():
    """The first frame pays for Textual and the Environment pane only: no polars, numpy, PIL, textual-image,
    nor the audit's probes (imported by the audit's worker)."""
    import subprocess
    import sys

    code = (
        "import sys, tui_trainer.app, tui_trainer.panes.env; "
        "print(sorted(m for m in ('polars', 'numpy', 'PIL', 'textual_image', 'torch', "
        "'tui_trainer.audit.packages', 'tui_trainer.panes.data') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


async def test_number_keys_switch_panes():
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        # As a user types them: whatever widget each pane focuses when it opens must let 1-4 through.
        for key, pane_id in (("2", "data"), ("3", "augment"), ("4", "train"), ("1", "env"), ("3", "augment")):
            await pilot.press(key)
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert app.active_pane_id == pane_id


async def test_initial_pane_can_be_chosen():
    app = make_app(initial_pane="train")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert app.active_pane_id == "train"


async def test_question_mark_opens_help_listing_every_global_key_and_the_log_path():
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        app.set_focus(None)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one("#help-text").render())
        for label in ("Environment", "Data", "Augment", "Train", "Quit", "Command palette"):
            assert label in text
        assert str(app.log_path) in text.replace("\n", "")
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


async def test_palette_lists_pane_switching_and_theme_commands():
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for title in (
            "Go to Environment",
            "Go to Data",
            "Go to Augment",
            "Go to Train",
            "Theme: trainer-light",
        ):
            assert title in titles
        # Every pane binding with a description is offered as a command, built panes or not.
        assert [pane.id for pane in app.query(Pane)] == ["env"]
        for cls in pane_classes():
            for binding in cls.BINDINGS:
                description = getattr(binding, "description", None) or (
                    binding[2] if isinstance(binding, tuple) and len(binding) > 2 else ""
                )
                if description:
                    assert f"{cls.TITLE}: {description}" in titles


async def test_palette_opens_and_switches_pane():
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        app.set_focus(None)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Go to Augment")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert app.active_pane_id == "augment"


async def test_theme_change_is_applied_and_persisted(isolated_xdg):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert app.theme == "trainer-dark"
        app.theme = "solarized-dark"
        await pilot.pause()
        assert app.current_theme.name == "solarized-dark"
    config = isolated_xdg / "config" / "tui-trainer" / "config.toml"
    assert tomllib.loads(config.read_text())["theme"] == "solarized-dark"
    # The next start uses the persisted theme.
    assert make_app().theme == "solarized-dark"


async def test_starting_the_app_does_not_write_config(isolated_xdg):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
    assert not (isolated_xdg / "config" / "tui-trainer" / "config.toml").exists()


async def test_malformed_theme_file_is_skipped_with_a_warning_naming_file_and_key(isolated_xdg):
    themes = isolated_xdg / "config" / "tui-trainer" / "themes"
    themes.mkdir(parents=True)
    (themes / "broken.toml").write_text('name = "broken"\nprimary = "not-a-colour"\n')
    (themes / "mine.toml").write_text('name = "mine"\nprimary = "#ff0000"\ndark = true\n')
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert "mine" in app.available_themes
        assert "broken" not in app.available_themes
        messages = [n.message for n in app._notifications]
        assert any("broken.toml" in m and "primary" in m for m in messages), messages


async def test_unknown_configured_theme_falls_back_with_a_notice(isolated_xdg):
    config = isolated_xdg / "config" / "tui-trainer" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('theme = "gone"\n')
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert app.theme == "trainer-dark"
        assert any("gone" in n.message for n in app._notifications)


async def test_quit_without_live_work_exits_at_once():
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        app.set_focus(None)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_quit_asks_first_while_a_pane_is_busy(monkeypatch):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        train = await app.ensure_pane("train")
        monkeypatch.setattr(train, "busy_reason", lambda: "a training run is live")
        app.set_focus(None)
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause()
        assert app.is_running and not isinstance(app.screen, ConfirmScreen)
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await pilot.pause()
    assert app.return_code == 0


async def test_logged_warnings_become_notifications():
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        logging.getLogger("tui_trainer.test").warning("disk almost full")
        await pilot.pause()
        assert any(n.message == "disk almost full" for n in app._notifications)


async def test_app_is_usable_at_80x24():
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        for key in "2341":
            app.set_focus(None)
            await pilot.press(key)
            await pilot.pause()
        assert app.active_pane_id == "env"


def test_boot_headless_returns_pane_ids():
    assert make_app().boot_headless() == ["env", "data", "augment", "train"]


def test_trainer_app_is_the_app_class():
    assert isinstance(make_app(), TrainerApp)


async def test_nested_view_keys_are_in_help_and_palette():
    from tui_trainer.panes.collapse_view import CollapseView

    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()  # the Train pane is not built yet: its palette commands build it
        train_rows = dict(app.key_sections())["Train pane"]
        assert ("r", "Collapse lab: Run collapse experiment") in train_rows
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        assert "Train: Collapse lab: Stop collapse experiment" in commands
        # Running one shows the Train pane and the lab inside it.
        await commands["Train: Collapse lab: Collapse charts: log scale"].callback()
        await pilot.pause()
        assert app.active_pane_id == "train"
        assert app.query_one("#train-views").current == "collapse-lab"
        assert app.query_one(CollapseView).display


async def _switch(app, pilot, keys: str) -> None:
    for key in keys:
        await pilot.press(key)
        await app.workers.wait_for_complete()
        await pilot.pause()
    await pilot.pause()


def _footer_keys(app) -> set[str]:
    return {key for key, active in app.screen.active_bindings.items() if active.binding.show}


@pytest.mark.parametrize("keys", ["121", "41", "31", "2341", "4321"])
async def test_environment_keys_work_after_any_pane_switch_sequence(keys):
    """After 1 2 1, 4 1, 3 1 (...) focus is back inside the Environment pane: r/y/e work, the footer lists them."""
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await _switch(app, pilot, keys)
        env = app.query_one("#env", Pane)
        assert app.active_pane_id == "env"
        assert app.focused is not None and env in app.focused.ancestors
        assert {"r", "y", "e"} <= _footer_keys(app)
        runs = env._run
        await pilot.press("r")
        await app.workers.wait_for_complete()
        assert env._run == runs + 1  # the key reached the pane


@pytest.mark.parametrize(
    ("keys", "pane_id", "pane_key"), [("12", "data", "o"), ("413", "augment", "o"), ("14", "train", "n")]
)
async def test_every_pane_takes_focus_when_shown(keys, pane_id, pane_key):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await _switch(app, pilot, keys)
        pane = app.query_one(f"#{pane_id}", Pane)
        assert app.focused is not None and (app.focused is pane or pane in app.focused.ancestors)
        assert pane_key in _footer_keys(app)


@pytest.mark.parametrize("pane_id", ["train", "augment"])
async def test_a_path_typed_before_the_prompt_has_drawn_is_not_lost(pane_id, tmp_path):
    """Train `a` / Augment `l`: keys typed at once after the key that opens the prompt (as fast typists and
    `tmux send-keys` do) reach its input, Enter included."""
    from textual import events

    from tui_trainer.widgets.path_prompt import PathPrompt

    app = make_app(initial_pane=pane_id)
    async with app.run_test(size=(100, 30)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        answers: list[str | None] = []
        prompt = PathPrompt("Where?", "")
        app.push_screen(prompt, answers.append)  # no await: the keys below race the prompt's mounting
        typed = str(tmp_path / "x")
        for ch in typed:
            app.post_message(events.Key(ch, ch))
        app.post_message(events.Key("enter", None))
        for _ in range(20):
            await pilot.pause()
            if answers:
                break
        assert answers == [typed]


def test_docs_app_key_table_is_the_bindings():
    """docs/app.md lists the panes' keys exactly as the bindings (and the `?` screen) have them."""
    import importlib.util

    from tests.conftest import REPO_ROOT

    spec = importlib.util.spec_from_file_location("make_keys", REPO_ROOT / "docs" / "make_keys.py")
    make_keys = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_keys)
    doc = (REPO_ROOT / "docs" / "app.md").read_text(encoding="utf-8")
    expected = make_keys.pane_key_table()
    assert make_keys.readme_block(doc) == expected, (
        "docs/app.md's key table differs from the bindings; put this between its section:keys markers:\n"
        + expected
    )
