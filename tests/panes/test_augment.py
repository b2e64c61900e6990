"""The Augment pane: variants rendered in a worker are the library's (and the CLI's) pixels; keys edit, re-roll,
save and load; text and audio previews; one deterministic SVG snapshot of the half-block renderer."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from rich.style import Style
from textual.widgets import Input, OptionList, Static

from tui_trainer import paths
from tui_trainer.app import make_app
from tui_trainer.augment.pipeline import Pipeline, load_pipeline
from tui_trainer.panes.augment import AudioCell, AugmentPane, VariantCell
from tui_trainer.widgets.pixel_image import PixelImage, fit_size, half_block_rows

SIZE = (120, 40)


def _gradient(h: int = 24, w: int = 32) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 255 // (w - 1), y * 255 // (h - 1), ((x // 4 + y // 4) % 2) * 200], axis=-1)
    return img.astype(np.uint8)


@pytest.fixture
def samples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A sample_data dir with one known image, one text and one WAV, so no test depends on the real samples."""
    root = tmp_path / "sample_data"
    (root / "images").mkdir(parents=True)
    Image.fromarray(_gradient()).save(root / "images" / "gradient.png")
    (root / "text").mkdir()
    (root / "text" / "story.txt").write_text(
        "The quick brown fox jumps over the lazy dog near the big old house.\n\nA happy child runs around the garden.\n"
    )
    (root / "audio").mkdir()
    t = np.arange(4000) / 8000
    pcm = (0.4 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16)
    with wave.open(str(root / "audio" / "tone.wav"), "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(8000)
        fh.writeframes(pcm.tobytes())
    monkeypatch.setattr(paths, "sample_data_dir", lambda: root)
    return root


async def _settle(app, pilot) -> None:
    for _ in range(3):
        await app.workers.wait_for_complete()
        await pilot.pause()


def _cell_images(pane: AugmentPane) -> list[np.ndarray]:
    return [image.image for cell in pane.query(VariantCell) for image in cell.query(PixelImage)]


def _expected(pipeline: Pipeline, img: np.ndarray, seed: int, k: int) -> np.ndarray:
    return pipeline.apply_numpy(img, np.random.default_rng([seed, k]), skip_normalize=True)


async def test_opens_a_sample_image_and_renders_the_librarys_variants(samples: Path) -> None:
    messages: list = []
    app = make_app(initial_pane="augment")
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await _settle(app, pilot)
        pane = app.query_one(AugmentPane)
        assert pane.kind == "image" and pane.path == samples / "images" / "gradient.png"
        images = _cell_images(pane)
        assert len(images) == 9
        assert np.array_equal(images[0], _gradient())
        for k in range(8):
            assert np.array_equal(images[k + 1], _expected(pane.pipeline, _gradient(), 0, k))
        assert sum(isinstance(m, AugmentPane.PreviewReady) for m in messages) >= 1
        assert "gradient.png · image 32×24" in str(app.query_one("#aug-file", Static).content)


async def test_arrow_keys_change_the_selected_parameter_and_rerender(samples: Path) -> None:
    app = make_app(initial_pane="augment")
    async with app.run_test(size=SIZE) as pilot:
        await _settle(app, pilot)
        pane = app.query_one(AugmentPane)
        before = _cell_images(pane)
        assert pane.pipeline.image["rotation_range"] == 20.0
        await pilot.press("right", "right", "plus")
        await _settle(app, pilot)
        assert pane.pipeline.image["rotation_range"] == 35.0
        assert "35°" in str(app.query_one("#aug-params", OptionList).get_option_at_index(0).prompt)
        after = _cell_images(pane)
        assert not np.array_equal(before[1], after[1])
        assert np.array_equal(after[1], _expected(pane.pipeline, _gradient(), 0, 0))
        await pilot.press("down", "down", "down", "down", "down", "left")  # horizontal flip: toggles off
        await _settle(app, pilot)
        assert pane.pipeline.image["horizontal_flip"] is False


async def test_brackets_change_the_number_of_variants(samples: Path) -> None:
    from textual.containers import Grid

    app = make_app(initial_pane="augment")
    async with app.run_test(size=SIZE) as pilot:
        await _settle(app, pilot)
        pane = app.query_one(AugmentPane)
        assert len(_cell_images(pane)) == 9
        await pilot.press("left_square_bracket", "left_square_bracket")
        await _settle(app, pilot)
        images = _cell_images(pane)
        assert len(images) == 7  # the original and 6 variants, still the library's own outputs
        for k in range(6):
            assert np.array_equal(images[k + 1], _expected(pane.pipeline, _gradient(), 0, k))
        for _ in range(12):
            await pilot.press("right_square_bracket")
        await _settle(app, pilot)
        assert len(_cell_images(pane)) == 17  # capped at 16 variants
        assert app.query_one("#aug-grid", Grid).styles.grid_size_columns == 4
        assert "16 variants" in str(app.query_one("#aug-status", Static).content)


async def test_space_rerolls_the_seed(samples: Path) -> None:
    app = make_app(initial_pane="augment")
    async with app.run_test(size=SIZE) as pilot:
        await _settle(app, pilot)
        pane = app.query_one(AugmentPane)
        first = _cell_images(pane)
        await pilot.press("space")
        await _settle(app, pilot)
        assert pane.seed == 1
        second = _cell_images(pane)
        assert not np.array_equal(first[1], second[1])
        assert np.array_equal(second[1], _expected(pane.pipeline, _gradient(), 1, 0))
        assert "seed 1" in str(app.query_one("#aug-status", Static).content)


async def test_save_then_load_pipeline_through_the_prompt(samples: Path, tmp_path: Path) -> None:
    app = make_app(initial_pane="augment")
    target = tmp_path / "mine.toml"
    async with app.run_test(size=SIZE) as pilot:
        await _settle(app, pilot)
        pane = app.query_one(AugmentPane)
        await pilot.press("right")
        await pilot.press("s")
        await pilot.pause()
        app.screen.query_one(Input).value = str(target)
        await pilot.press("enter")
        await _settle(app, pilot)
        assert load_pipeline(target).to_dict() == pane.pipeline.to_dict()

        exact = tmp_path / "exact.toml"
        exact.write_text("[image]\nrotate = 90\n")
        await pilot.press("l")
        await pilot.pause()
        app.screen.query_one(Input).value = str(exact)
        await pilot.press("enter")
        await _settle(app, pilot)
        assert pane.pipeline.to_dict() == {"image": {"rotate": 90}}
        images = _cell_images(pane)
        # a 32×24 image turned a quarter about its centre: compare against the library's exact path
        assert all(np.array_equal(images[k + 1], images[1]) for k in range(8))
        square = np.asarray(Image.fromarray(_gradient()).crop((0, 0, 24, 24)))
        assert np.array_equal(pane.pipeline.apply_numpy(square, np.random.default_rng(0)), np.rot90(square))


async def test_bad_pipeline_file_is_reported_and_changes_nothing(samples: Path, tmp_path: Path) -> None:
    app = make_app(initial_pane="augment")
    async with app.run_test(size=SIZE) as pilot:
        await _settle(app, pilot)
        pane = app.query_one(AugmentPane)
        before = pane.pipeline.to_dict()
        bad = tmp_path / "bad.toml"
        bad.write_text("[image]\nspin = 3\n")
        assert pane.load_pipeline_file(bad) is False
        await pilot.pause()
        assert pane.pipeline.to_dict() == before
        assert any("spin: unknown op" in n.message for n in list(app._notifications))


async def test_unreadable_file_is_reported_and_the_previous_one_stays(samples: Path, tmp_path: Path) -> None:
    app = make_app(initial_pane="augment")
    async with app.run_test(size=SIZE) as pilot:
        await _settle(app, pilot)
        pane = app.query_one(AugmentPane)
        junk = tmp_path / "junk.png"
        junk.write_bytes(b"nope")
        pane.open_path(junk)
        await _settle(app, pilot)
        assert any("junk.png: not a readable image" in n.message for n in list(app._notifications))
        assert pane.path == samples / "images" / "gradient.png" and pane.kind == "image"


async def test_text_preview_highlights_edits(samples: Path) -> None:
    app = make_app(initial_pane="augment")
    async with app.run_test(size=SIZE) as pilot:
        await _settle(app, pilot)
        pane = app.query_one(AugmentPane)
        pane.open_path(samples / "text" / "story.txt")
        await _settle(app, pilot)
        assert pane.kind == "text"
        assert [o.id for o in app.query_one("#aug-params", OptionList).options][
            0
        ] == "text.synonym_replacement"
        original = str(app.query_one("#aug-cell-0").query_one(".text-body", Static).content)
        assert original.startswith("The quick brown fox jumps")
        markup = str(app.query_one("#aug-cell-1").query_one(".text-body", Static).content)
        # the default pipeline makes a synonym replacement, a swap and a deletion per example
        assert (
            "[bold $success]" in markup and "[bold $warning]" in markup and "[strike $text-muted]" in markup
        )


async def test_hard_wrapped_prose_is_previewed_a_paragraph_per_example(samples: Path) -> None:
    """A novel wrapped at 70 columns: the first example shown is its first real paragraph, whole (it spans
    the file's line breaks), not the first line cut mid-sentence."""
    from tests.conftest import SAMPLE_DATA

    novel = samples / "text" / "persuasion.txt"
    novel.write_text((SAMPLE_DATA / "text" / "persuasion_ch01-03.txt").read_text(encoding="utf-8"))
    app = make_app(initial_pane="augment")
    async with app.run_test(size=SIZE) as pilot:
        await _settle(app, pilot)
        pane = app.query_one(AugmentPane)
        pane.open_path(novel)
        await _settle(app, pilot)
        original = str(app.query_one("#aug-cell-0").query_one(".text-body", Static).content)
        assert original.startswith("Sir Walter Elliot, of Kellynch Hall")
        assert "for his own amusement" in original  # the next line of the file is the same example
        assert "was the page at which the favourite volume always opened:" in original


async def test_audio_preview_shows_waveform_and_spectrogram(samples: Path) -> None:
    app = make_app(initial_pane="augment")
    async with app.run_test(size=SIZE) as pilot:
        await _settle(app, pilot)
        pane = app.query_one(AugmentPane)
        pane.open_path(samples / "audio" / "tone.wav")
        await _settle(app, pilot)
        cells = list(pane.query(AudioCell))
        assert pane.kind == "audio" and len(cells) == 4
        for cell in cells:
            assert cell.query_one(".wave", PixelImage).image is not None
            assert cell.query_one(".spectrogram", PixelImage).image is not None


def test_half_block_cells_put_the_top_pixel_in_front_and_the_bottom_behind() -> None:
    img = np.array([[[255, 0, 0]], [[0, 0, 255]]], dtype=np.uint8)  # red above blue
    rows = half_block_rows(img)
    assert rows == [[("▀", Style(color="#ff0000", bgcolor="#0000ff"))]]
    assert fit_size(8, 8, 40, 10) == (16, 16)  # whole-number upscale of an 8×8 digit
    assert fit_size(100, 200, 50, 10) == (20, 40)
    assert fit_size(10, 10, 30, 5, stretch=True) == (10, 30)


def test_snapshot_half_block_grid(snap_compare, samples: Path) -> None:
    app = make_app(theme="textual-dark", initial_pane="augment")

    async def run_before(pilot) -> None:
        await _settle(app, pilot)
        app.clear_notifications()
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)], ids=["80x24", "120x40", "200x60"])
def test_snapshot_text_preview(snap_compare, samples: Path, size) -> None:
    app = make_app(theme="textual-dark", initial_pane="augment")

    async def run_before(pilot) -> None:
        await _settle(app, pilot)
        app.query_one(AugmentPane).open_path(samples / "text" / "story.txt")
        await _settle(app, pilot)
        app.clear_notifications()
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


async def test_o_opens_a_file_through_the_file_picker_and_f_cycles_samples(samples: Path) -> None:
    app = make_app(initial_pane="augment")
    async with app.run_test(size=SIZE) as pilot:
        await _settle(app, pilot)
        pane = app.query_one(AugmentPane)
        await pilot.press("o")
        await pilot.pause()
        from tui_trainer.widgets.file_picker import FilePicker

        assert isinstance(app.screen, FilePicker)  # the Data pane's file tree, rooted at sample_data/
        assert str(app.screen.query_one("DirectoryTree").path) == str(samples)
        app.screen.query_one(Input).value = str(samples / "audio" / "tone.wav")
        await pilot.press("enter")
        await _settle(app, pilot)
        assert pane.kind == "audio" and pane.path == samples / "audio" / "tone.wav"
        assert "tone.wav · audio 0.50 s · 8000 Hz" in str(app.query_one("#aug-file", Static).content)
        await pilot.press("f")  # after the last sample comes the first again
        await _settle(app, pilot)
        assert pane.path == samples / "images" / "gradient.png" and pane.kind == "image"
        await pilot.press("f")
        await _settle(app, pilot)
        assert pane.path == samples / "text" / "story.txt" and pane.kind == "text"


async def test_g_switches_to_full_resolution_images_where_supported(samples: Path, monkeypatch) -> None:
    from tui_trainer.widgets import terminal_images

    # As if the terminal had answered the start-up query with Sixel support.
    monkeypatch.setattr(terminal_images, "_detected", terminal_images.TerminalGraphics("sixel", (9, 18)))
    graphics_image = terminal_images.image_widget_class()
    if graphics_image is None:
        pytest.skip("textual-image is not installed")
    app = make_app(initial_pane="augment")
    async with app.run_test(size=SIZE) as pilot:
        await _settle(app, pilot)
        pane = app.query_one(AugmentPane)
        images = list(pane.query(graphics_image))  # full resolution is the default where supported
        assert pane.graphics and len(images) == 9 and not _cell_images(pane)
        assert images[0].image.size == (32, 24)  # the original at full resolution, as a PIL image
        await pilot.press("g")
        await _settle(app, pilot)
        assert len(_cell_images(pane)) == 9 and not list(pane.query(graphics_image))
        await pilot.press("g")
        await _settle(app, pilot)
        assert len(list(pane.query(graphics_image))) == 9


async def test_g_without_graphics_support_says_so(samples: Path) -> None:
    app = make_app(initial_pane="augment")
    async with app.run_test(size=SIZE) as pilot:
        await _settle(app, pilot)
        pane = app.query_one(AugmentPane)
        await pilot.press("g")
        await pilot.pause()
        assert not pane.graphics
        assert any("half-block images only" in n.message for n in list(app._notifications))


async def test_text_preview_uses_the_whole_width_and_shows_each_example_whole(samples: Path) -> None:
    """Text variants are drawn across the whole grid width (words never broken in a narrow column), each
    example whole: no example has its own clipped scroll box, the grid scrolls them all."""
    from textual.containers import Grid, VerticalScroll

    app = make_app(initial_pane="augment")
    async with app.run_test(size=(160, 50)) as pilot:
        await _settle(app, pilot)
        pane = app.query_one(AugmentPane)
        pane.open_path(samples / "images" / "gradient.png")  # an image first: its 3-column grid must not stay
        await _settle(app, pilot)
        pane.open_path(samples / "text" / "story.txt")
        await _settle(app, pilot)
        grid = app.query_one("#aug-grid", Grid)
        cell = app.query_one("#aug-cell-0")
        assert cell.region.width >= grid.region.width - 3  # one column across the grid, not three slivers
        assert not list(grid.query(VerticalScroll)) and grid.can_focus
