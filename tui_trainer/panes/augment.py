"""The Augment pane: a file beside a grid of augmented variants, re-rendered in a worker as parameters change.

The pixels come from `tui_trainer.augment` (the library the training engine runs), through
`augment.preview`, with the same per-variant seeds as `tui-trainer augment`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.color import Color
from textual.containers import Grid, Horizontal, Vertical
from textual.markup import escape
from textual.message import Message
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState, get_current_worker

from tui_trainer import paths
from tui_trainer.augment.pipeline import Pipeline, default_pipeline, load_pipeline, save_pipeline
from tui_trainer.augment.preview import (
    PARAMS,
    VARIANT_COUNTS,
    Preview,
    Source,
    load_source,
    render_preview,
    sample_files,
)
from tui_trainer.augment.text import TextResult
from tui_trainer.errors import UserError
from tui_trainer.panes.base import Pane
from tui_trainer.widgets import terminal_images
from tui_trainer.widgets.path_prompt import PathPrompt
from tui_trainer.widgets.pixel_image import PixelImage

log = logging.getLogger(__name__)


def graphics_widget():
    """The full-resolution image widget for this terminal (Kitty/Sixel, asked before the app started by
    widgets.terminal_images), or None: half-block images only."""
    return terminal_images.image_widget_class()


EDIT_STYLES = {
    "synonym": "bold $success",
    "insert": "bold $accent",
    "swap": "bold $warning",
    "typo": "bold $error",
    "delete": "strike $text-muted",
}


MAX_VARIANTS = 16  # a 4x4 grid: more cells than that are too small to read in a terminal


@dataclass
class _Request:
    generation: int
    path: Path
    pipeline: Pipeline
    seed: int
    counts: dict[str, int]  # variants to draw per kind of file (image/text/audio)
    colours: dict[str, tuple[int, int, int]]


def highlight_edits(result: TextResult) -> str:
    """Content markup of an augmented text, each edited word styled by its operation."""
    out = []
    for tok in result.tokens:
        style = EDIT_STYLES.get(tok.edit or "")
        text = escape(tok.text)
        out.append(f"[{style}]{text}[/]" if style and tok.is_word else text)
    return "".join(out)


class VariantCell(Vertical):
    """One tile of the grid: a title and an image (half-block, or full resolution where the terminal can)."""

    def __init__(self, title: str, graphics: bool, **kwargs) -> None:
        super().__init__(**kwargs)
        self._title = title
        self._graphics = graphics

    def compose(self) -> ComposeResult:
        yield Label(self._title, classes="cell-title")
        widget = graphics_widget() if self._graphics else None
        if widget is not None:
            yield widget(classes="cell-image")
        else:
            yield PixelImage(classes="cell-image")

    def show(self, image) -> None:
        widget = self.query_one(".cell-image")
        if isinstance(widget, PixelImage):
            widget.set_image(image)
        else:
            from PIL import Image

            from tui_trainer.widgets.pixel_image import to_rgb8

            widget.image = Image.fromarray(to_rgb8(image))


class AudioCell(Vertical):
    """A tile with a waveform above its spectrogram."""

    def __init__(self, title: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self._title = title

    def compose(self) -> ComposeResult:
        yield Label(self._title, classes="cell-title")
        yield PixelImage(classes="wave", stretch=True)
        yield PixelImage(classes="spectrogram", stretch=True)

    def show(self, wave, spectrogram) -> None:
        self.query_one(".wave", PixelImage).set_image(wave)
        self.query_one(".spectrogram", PixelImage).set_image(spectrogram)


class AugmentPane(Pane):
    PANE_ID = "augment"
    TITLE = "Augment"
    DEFAULT_CSS = Path(__file__).with_suffix(".tcss").read_text(encoding="utf-8")

    class PreviewReady(Message):
        """A render finished; `generation` says which request it answers (older ones are dropped)."""

        def __init__(self, generation: int, source: Source, preview: Preview, seconds: float) -> None:
            super().__init__()
            self.generation = generation
            self.source = source
            self.preview = preview
            self.seconds = seconds

    class PreviewFailed(Message):
        """The file could not be read (a UserError's message); older requests are dropped the same way."""

        def __init__(self, generation: int, message: str) -> None:
            super().__init__()
            self.generation = generation
            self.message = message

    BINDINGS = [
        Binding("right,plus,equals_sign", "nudge(1)", "Increase parameter"),
        Binding("left,minus", "nudge(-1)", "Decrease parameter"),
        Binding("space", "reroll", "Re-roll seed"),
        Binding("o", "open", "Open file"),
        Binding("f", "next_sample", "Next sample file"),
        Binding("s", "save", "Save pipeline"),
        Binding("l", "load", "Load pipeline"),
        Binding("r", "reset", "Reset pipeline"),
        Binding("g", "toggle_graphics", "Full-resolution images"),
        Binding("right_square_bracket", "variants(1)", "More variants"),
        Binding("left_square_bracket", "variants(-1)", "Fewer variants"),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.pipeline: Pipeline = default_pipeline()
        self.variant_counts: dict[str, int] = dict(VARIANT_COUNTS)  # [ and ] change the current kind's count
        self.seed = 0
        self.source: Source | None = None
        self.path: Path | None = None
        self.kind = "image"
        self.graphics = graphics_widget() is not None
        self._generation = 0
        self._started = False
        self._layout: tuple[str, int, bool] | None = None
        self._pipeline_path = Path("augment.toml")

    # ----- layout ---------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(id="aug-body"):
            with Vertical(id="aug-side"):
                yield Static("no file yet", id="aug-file")
                yield OptionList(id="aug-params")
                yield Static("", id="aug-status")
                yield Static(
                    "←/→ change · space re-roll · o open · f next sample · s/l save/load",
                    id="aug-hint",
                    classes="hint",
                )
            yield Grid(id="aug-grid")

    def on_mount(self) -> None:
        self._fill_params()

    def default_focus(self) -> OptionList:
        # Keys (arrows, +/-, space) act on the parameter list, so it takes focus with the pane.
        return self.query_one("#aug-params", OptionList)

    def on_pane_activated(self) -> None:
        if self._started:
            return
        self._started = True
        files = sample_files(paths.sample_data_dir())
        if files:
            self.open_path(files[0])
        else:
            self.query_one("#aug-file", Static).update("no sample data found: press o to open a file")

    # ----- parameters -----------------------------------------------------------------------------
    @property
    def params(self):
        return PARAMS[self.kind]

    def _fill_params(self) -> None:
        options = self.query_one("#aug-params", OptionList)
        keep = options.highlighted or 0
        options.clear_options()
        options.add_options([Option(self._param_prompt(p), id=f"{p.section}.{p.key}") for p in self.params])
        options.highlighted = min(keep, len(self.params) - 1)

    def _param_prompt(self, param) -> str:
        return f"{param.label:<19} {param.display(self.pipeline):>9}"

    def _refresh_params(self) -> None:
        options = self.query_one("#aug-params", OptionList)
        for i, p in enumerate(self.params):
            options.replace_option_prompt_at_index(i, self._param_prompt(p))

    def action_nudge(self, direction: int) -> None:
        index = self.query_one("#aug-params", OptionList).highlighted
        if index is None:
            return
        self.params[index].nudge(self.pipeline, direction)
        self._refresh_params()
        self.request_render()

    @on(OptionList.OptionSelected, "#aug-params")
    def _on_param_selected(self, event: OptionList.OptionSelected) -> None:
        # Enter on a parameter steps it up (and cycles choices), for keyboards without easy arrows.
        self.action_nudge(1)

    def action_variants(self, step: int) -> None:
        kind = self.kind or "image"
        current = self.variant_counts.get(kind, VARIANT_COUNTS.get(kind, 8))
        wanted = max(1, min(MAX_VARIANTS, current + step))
        if wanted == current:
            self.notify(f"{current} variants: the range is 1..{MAX_VARIANTS}", severity="warning")
            return
        self.variant_counts[kind] = wanted
        self.request_render()

    def action_reroll(self) -> None:
        self.seed += 1
        self.request_render()

    def action_reset(self) -> None:
        self.pipeline = default_pipeline()
        self._refresh_params()
        self.request_render()
        self.notify("pipeline reset to the defaults")

    def action_toggle_graphics(self) -> None:
        if graphics_widget() is None:
            self.notify(
                "this terminal shows no Kitty/Sixel graphics: half-block images only", severity="warning"
            )
            return
        self.graphics = not self.graphics
        self.request_render()

    # ----- files ----------------------------------------------------------------------------------
    def open_path(self, path: Path) -> None:
        self.path = Path(path)
        self.request_render()

    def action_next_sample(self) -> None:
        files = sample_files(paths.sample_data_dir())
        if not files:
            self.notify("no sample data found", severity="warning")
            return
        i = files.index(self.path) if self.path in files else -1
        self.open_path(files[(i + 1) % len(files)])

    def action_open(self) -> None:
        """The same file tree as the Data pane's `o`, rooted at sample_data/ (or the working folder)."""
        from tui_trainer.widgets.file_picker import FilePicker

        def chosen(path: Path | None) -> None:
            if path is not None:
                self.open_path(path)

        root = paths.sample_data_dir()
        root = root if root.is_dir() else Path.cwd()
        current = str(self.path) if self.path else ""
        title = "Preview which file? (an image, .txt/.csv text, .wav audio)"
        self.app.push_screen(FilePicker(root, current, title=title), chosen)

    def action_save(self) -> None:
        def chosen(value: str | None) -> None:
            if not value:
                return
            target = Path(value).expanduser()
            try:
                save_pipeline(self.pipeline, target)
            except OSError as exc:
                self.notify(f"could not save {target}: {exc.strerror or exc}", severity="error")
                return
            self._pipeline_path = target
            self.notify(f"pipeline saved to {target}")

        self.app.push_screen(PathPrompt("Save the pipeline as TOML to:", str(self._pipeline_path)), chosen)

    def action_load(self) -> None:
        def chosen(value: str | None) -> None:
            if value:
                self.load_pipeline_file(Path(value).expanduser())

        self.app.push_screen(PathPrompt("Load a pipeline TOML from:", str(self._pipeline_path)), chosen)

    def load_pipeline_file(self, path: Path) -> bool:
        try:
            self.pipeline = load_pipeline(path)
        except UserError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return False
        self._pipeline_path = path
        self._refresh_params()
        self.request_render()
        self.notify(f"pipeline loaded from {path}")
        return True

    # ----- rendering ------------------------------------------------------------------------------
    def _colours(self) -> dict[str, tuple[int, int, int]]:
        variables = self.app.theme_variables

        def rgb(name: str, fallback: str) -> tuple[int, int, int]:
            try:
                return Color.parse(variables.get(name, fallback)).rgb
            except Exception:
                return Color.parse(fallback).rgb

        return {
            "wave": rgb("primary", "#0178d4"),
            "background": rgb("surface", "#1e1e1e"),
            "low": rgb("surface", "#1e1e1e"),
            "high": rgb("warning", "#ffa62b"),
        }

    def request_render(self) -> None:
        if self.path is None:
            return
        self._generation += 1
        request = _Request(
            self._generation,
            self.path,
            self.pipeline.copy(),
            self.seed,
            dict(self.variant_counts),
            self._colours(),
        )
        self.query_one("#aug-status", Static).update(f"seed {self.seed} · rendering…")
        self._render_worker(request, self.source if self.source and self.source.path == self.path else None)

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="augment-render",
        description="Rendering variants",
    )
    def _render_worker(self, request: _Request, source: Source | None) -> None:
        worker = get_current_worker()
        try:
            if source is None:
                source = load_source(request.path)
            n = request.counts.get(source.kind, VARIANT_COUNTS[source.kind])
            started = time.perf_counter()
            preview = render_preview(
                source,
                request.pipeline,
                request.seed,
                n,
                cancelled=lambda: worker.is_cancelled,
                colours=request.colours,
            )
            if preview is None:
                return
            self.post_message(
                AugmentPane.PreviewReady(request.generation, source, preview, time.perf_counter() - started)
            )
        except UserError as exc:
            self.post_message(AugmentPane.PreviewFailed(request.generation, str(exc)))

    @on(Worker.StateChanged)
    def _on_worker_state(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "augment-render" and event.state == WorkerState.ERROR:
            log.error("augment preview failed: %s", event.worker.error)
            self.query_one("#aug-status", Static).update(f"seed {self.seed} · render failed")

    def on_augment_pane_preview_failed(self, message: AugmentPane.PreviewFailed) -> None:
        if message.generation != self._generation:
            return
        self.notify(message.message, severity="error", markup=False)
        self.query_one("#aug-status", Static).update(f"seed {self.seed} · could not open the file")
        if self.source is not None:
            self.path = self.source.path  # stay on the file that worked

    async def on_augment_pane_preview_ready(self, message: AugmentPane.PreviewReady) -> None:
        if message.generation != self._generation:
            return  # a newer request is on its way
        kind_changed = message.source.kind != self.kind
        self.source = message.source
        self.kind = message.source.kind
        log.debug("augment preview rendered in %.1f ms", message.seconds * 1000)
        if kind_changed:
            self._fill_params()
        self.query_one("#aug-file", Static).update(message.source.describe())
        await self._show(message.preview)
        edits = ""
        if self.kind == "text":
            edits = " · [$success]synonym[/] [$accent]insert[/] [$warning]swap[/] [$error]typo[/] [strike]deleted[/]"
        self.query_one("#aug-status", Static).update(
            f"seed {self.seed} · {len(message.preview.variants)} variants{edits}"
        )

    async def _show(self, preview: Preview) -> None:
        grid = self.query_one("#aug-grid", Grid)
        layout = (preview.kind, len(preview.variants), self.graphics)
        if layout != self._layout:
            await grid.remove_children()
            grid.set_classes(f"kind-{preview.kind}")
            if preview.kind == "image":
                # Original + variants: 3 columns up to 9 tiles, then 4, so a long list does not become tall slivers.
                grid.styles.grid_size_columns = 3 if len(preview.variants) + 1 <= 9 else 4
            else:
                # Text reads across the whole width (words never broken in a narrow column); audio in pairs.
                grid.styles.grid_size_columns = 1 if preview.kind == "text" else 2
            cells = []
            titles = ["original"] + [f"variant {k}" for k in range(len(preview.variants))]
            for i, title in enumerate(titles):
                if preview.kind == "image":
                    cells.append(VariantCell(title, self.graphics, id=f"aug-cell-{i}"))
                elif preview.kind == "audio":
                    cells.append(AudioCell(title, id=f"aug-cell-{i}"))
                else:
                    # Not a scroll of its own: each example shows whole and the grid scrolls them all.
                    box = Vertical(
                        Label(title, classes="cell-title"),
                        Static("", classes="text-body"),
                        id=f"aug-cell-{i}",
                    )
                    cells.append(box)
            await grid.mount_all(cells)
            grid.can_focus = preview.kind == "text"  # Tab to the texts, then ↑/↓ scroll them
            self._layout = layout
        items = [preview.original, *preview.variants]
        for i, item in enumerate(items):
            cell = grid.query_one(f"#aug-cell-{i}")
            if preview.kind == "image":
                cell.show(item)
            elif preview.kind == "audio":
                cell.show(item, preview.spectrograms[i])
            else:
                if i == 0:
                    body = "\n\n".join(escape(line) for line in item)
                else:
                    body = "\n\n".join(escape(label) + highlight_edits(r) for label, r in item)
                cell.query_one(".text-body", Static).update(body)
