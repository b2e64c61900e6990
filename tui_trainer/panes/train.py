"""The Train pane: the live monitor of a run (curves, speed, ETA, telemetry, diagnostics, log) and the collapse lab.

Events reach it through `TrainBridge` workers (one per run: the live one, attached ones, overlays) as Messages;
handlers feed each run's `RunHistory`, and a timer redraws at most ten times a second from those stores, so a
burst of 10,000 events costs a handful of frames. Nothing here imports torch: starting a run goes through
`engine.process.start_engine`, imported when a run starts, which spawns the training process.
"""

from __future__ import annotations

import logging
from pathlib import Path
from time import monotonic

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import ContentSwitcher, RichLog, Static
from textual.worker import Worker, WorkerState

from tui_trainer.engine.events import Checkpoint, Failed, Finished
from tui_trainer.engine.history import RunHistory
from tui_trainer.panes.base import Pane
from tui_trainer.panes.collapse_view import CollapseView
from tui_trainer.panes.train_bridge import EngineControl, RunEvents, SourceEnded, TrainBridge
from tui_trainer.panes.train_charts import RUN_COLORS, RunSlot, run_series
from tui_trainer.panes.train_header import header_text, idle_text
from tui_trainer.panes.train_launch import (
    DEFAULT_CONFIG,
    TrainLaunch,
    config_for_editing,
    default_config,
    launch_engine,
)
from tui_trainer.widgets.chart import Chart
from tui_trainer.widgets.findings_table import FindingsTable, FindingsView
from tui_trainer.widgets.gpu_view import GpuView

# At most four redraws a second, however fast events arrive, and the charts (most of the screen) at most two:
# what a frame costs is Textual compositing the changed cells, so this is what keeps a follow under 5% of a
# core (benchmarks/ui_follow.py).
REDRAW_INTERVAL_S = 0.25
CHART_INTERVAL_S = 0.5
NO_RUN_TEXT = "no run yet: n starts one, a attaches to a run folder"
log = logging.getLogger(__name__)


class TrainPane(Pane):
    PANE_ID = "train"
    TITLE = "Train"
    # Focusable itself, so the pane's keys still work in a view with nothing focusable in it.
    can_focus = True
    DEFAULT_CSS = (Path(__file__).with_suffix(".tcss")).read_text(encoding="utf-8")

    BINDINGS = [
        Binding("n", "new_run", "New run from a config"),
        Binding("w", "watch_command", "Watch a command (your own training script)"),
        Binding("k", "kill_run", "Kill the run now (SIGKILL, asks first)"),
        Binding("p", "pause_resume", "Pause / resume the run"),
        Binding("s", "stop_run", "Stop the run (checkpoint)"),
        Binding("c", "checkpoint", "Checkpoint now"),
        Binding("a", "attach", "Attach to a run folder"),
        Binding("o", "overlay", "Overlay another run"),
        Binding("x", "clear_overlays", "Remove overlaid runs"),
        Binding("l", "toggle_log_scale", "Log scale on/off"),
        Binding("e", "edit_config", "View / edit the config"),
        Binding("v", "toggle_view", "Monitor / Collapse lab"),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.runs: dict[str, RunSlot] = {}
        self.primary: str | None = None
        self._left_at_quit: set[str] = set()  # runs detached or stopped by the quit dialog
        self._dirty = False
        self._log_owner: str | None = None
        self._findings_shown: list = []
        self._log_shown = 0
        self._counter = 0
        self.config_path: Path | None = None
        self.redraws = 0  # frames pushed to the widgets (what the burst test bounds)
        self.chart_redraws = 0
        self._charts_drawn_at = -1.0
        self._charts_stale = False
        self._launching = False
        self._header_lines = 1

    # ----- layout -------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with ContentSwitcher(initial="train-monitor", id="train-views"):
            with Vertical(id="train-monitor"):
                yield Static(self._idle_text(), id="run-header")
                with Horizontal(id="train-charts"):
                    yield Chart(
                        "Loss",
                        empty_text=NO_RUN_TEXT,
                        id="loss-chart",
                    )
                    yield Chart("Metrics", empty_text="metrics appear with the first eval", id="metric-chart")
                with Horizontal(id="train-bottom"):
                    with Vertical(id="train-side"):
                        yield GpuView(id="gpu-view")
                        yield RichLog(
                            id="train-log", max_lines=200, wrap=False, markup=False, auto_scroll=True
                        )
                    yield FindingsView(id="train-diagnostics")
            yield CollapseView(id="collapse-lab")

    def on_mount(self) -> None:
        self.set_interval(REDRAW_INTERVAL_S, self._redraw_if_dirty, name="train-redraw")
        launch: TrainLaunch | None = getattr(self.app, "train_launch", None)
        if launch is not None:
            self.app.train_launch = None  # type: ignore[attr-defined]  # once: a remount must not start it again
            self._apply_launch(launch)

    def on_resize(self) -> None:
        # A short terminal: the telemetry gives half the bottom row to the log tail instead of all of it.
        self.query_one("#train-side").set_class(self.size.height < 34, "-short")

    def _apply_launch(self, launch: TrainLaunch) -> None:
        if launch.attach_dirs:
            first, *rest = launch.attach_dirs
            self.attach(Path(first))
            for other in rest:
                self.overlay(Path(other))
        elif launch.watch_command:
            self.start_run(None, run_dir=launch.run_dir, watch=launch.watch_command)
        elif launch.config_path is not None or launch.resume:
            self.start_run(launch.config_path, launch.overrides, launch.run_dir, launch.resume)

    def on_pane_activated(self) -> None:
        # The pane's keys only reach it when focus is inside it; the tab bar holds focus after a switch.
        self.call_after_refresh(self._focus_inside)

    def _focus_inside(self) -> None:
        focused = self.app.focused
        if focused is not None and self in focused.ancestors and focused.display and focused.is_on_screen:
            return
        view = self.query_one("#train-views", ContentSwitcher).visible_content
        targets = [w for w in (view.query("*") if view else []) if w.focusable]
        (targets[0] if targets else self).focus()
        # A focus set before the Footer has subscribed leaves it blank; ask it to show this pane's keys.
        self.call_after_refresh(self.screen.refresh_bindings)

    def busy_reason(self) -> str | None:
        if self.live_runs():
            return "a training run is live"
        for lab in self.query(CollapseView):
            if reason := lab.busy_reason():
                return reason
        return None

    def live_runs(self) -> list[RunSlot]:
        """Runs started here whose engine is still training and not detached (quitting asks about them)."""
        return [
            s
            for s in self.runs.values()
            if s.live and s.bridge.is_alive() and not s.history.is_over and s.key not in self._left_at_quit
        ]

    def leave_live_runs(self, stop: bool) -> list[Path]:
        """Quitting: leave every live run's engine running (detach) or ask it to stop (it finishes the step,
        writes its checkpoint and ends on its own); never waits. Returns their run folders."""
        left = []
        for slot in self.live_runs():
            self._left_at_quit.add(slot.key)
            try:
                if stop:
                    slot.bridge.stop()
                getattr(slot.bridge.handle, "detach", lambda: None)()  # a test's fake engine has none
            except Exception:  # the process may be gone already; nothing to leave then
                log.debug("leaving the run on quit failed", exc_info=True)
            if slot.run_dir is not None:
                left.append(slot.run_dir)
        return left

    def on_unmount(self) -> None:
        # The app quit without asking (the quit dialog detaches or stops live runs first): stop what is still
        # live, without waiting behind a blank screen; the engine checkpoints and ends on its own.
        self.leave_live_runs(stop=True)

    # ----- starting and following runs ----------------------------------------------------
    def _new_key(self, stem: str) -> str:
        self._counter += 1
        return f"{stem}#{self._counter}"

    def _colors(self) -> tuple[str, str]:
        return RUN_COLORS[len(self.runs) % len(RUN_COLORS)]

    def start_run(
        self,
        config_path: Path | None,
        overrides: tuple[str, ...] = (),
        run_dir: Path | None = None,
        resume: bool = False,
        watch: str | None = None,
    ) -> None:
        if self.live_slot() is not None:
            self.notify(
                "A run is already live here: stop it (s) before starting another.", severity="warning"
            )
            return
        if self._launching:
            # A spawn cannot be cancelled half-way; a second one would start a second engine.
            self.notify("A run is already starting.", severity="warning")
            return
        self._launching = True
        if config_path is not None:
            self.config_path = Path(config_path)
        self._launch(config_path, tuple(overrides), run_dir, resume, watch)

    @work(
        thread=True, exclusive=True, exit_on_error=False, group="train-launch", description="Starting the run"
    )
    def _launch(
        self,
        config_path: Path | None,
        overrides: tuple[str, ...],
        run_dir: Path | None,
        resume: bool,
        watch: str | None = None,
    ) -> None:
        # Loading the config and spawning the process take a second or more: never on the UI thread.
        if watch:  # a command of the user's own, supervised by `tui-trainer watch` (integrations/watch.py)
            from tui_trainer.integrations.watch import start_watch

            handle, actual_dir = start_watch(watch, run_dir)
        else:
            handle, actual_dir = launch_engine(config_path, overrides, run_dir, resume)
        self.app.call_from_thread(self._add_live, handle, actual_dir, config_path)

    def _add_live(self, handle: EngineControl, run_dir: Path, config_path: Path | None) -> None:
        key = self._new_key(run_dir.name or "run")
        slot = RunSlot(
            key,
            RunHistory(label=run_dir.name),
            TrainBridge.live(key, self, handle),
            self._colors(),
            True,
            run_dir,
            config_path,
        )
        self._add_slot(slot, primary=True)
        self.notify(f"Run started in {run_dir}", timeout=4, markup=False)

    def attach(self, run_dir: Path) -> None:
        """Follow `run_dir/events.jsonl` as the main run on screen."""
        self._follow(Path(run_dir), primary=True)

    def overlay(self, run_dir: Path) -> None:
        """Follow another run and draw it on the same charts, for comparison."""
        self._follow(Path(run_dir), primary=self.primary is None)

    def _follow(self, run_dir: Path, primary: bool) -> None:
        from tui_trainer.engine.runs import check_run_dir
        from tui_trainer.integrations.logdirs import expand_log_dir

        if expand_log_dir(run_dir):  # a TensorBoard / CSVLogger folder: each of its runs, through a mirror
            self._follow_logs(run_dir, primary)
            return
        problem = check_run_dir(run_dir)
        if problem:
            self.notify(problem, severity="error", timeout=8, markup=False)
            return
        for slot in self.runs.values():
            if slot.run_dir is not None and slot.run_dir.resolve() == run_dir.resolve():
                if primary:
                    self.primary = slot.key
                    self._mark_dirty()
                self.notify(f"Already following {run_dir}", timeout=3, markup=False)
                return
        key = self._new_key(run_dir.name or "run")
        slot = RunSlot(
            key,
            RunHistory(label=run_dir.name),
            TrainBridge.follow(key, self, run_dir),
            self._colors(),
            False,
            run_dir,
        )
        self._add_slot(slot, primary=primary)

    @work(thread=True, exit_on_error=False, group="train-run-logs", description="Reading the log folder")
    def _follow_logs(self, log_dir: Path, primary: bool) -> None:
        from tui_trainer.integrations.logdirs import open_log_runs

        # The mirror processes read tensorboard's files (never this process); they end with the app.
        folders, _close = open_log_runs([log_dir], live=True)
        for i, folder in enumerate(folders):
            self.app.call_from_thread(self._follow, folder, primary and i == 0)

    def _add_slot(self, slot: RunSlot, primary: bool) -> None:
        self.runs[slot.key] = slot
        if primary or self.primary is None:
            self.primary = slot.key
        slot.worker = self.run_worker(
            slot.bridge.drain,
            name=f"bridge {slot.key}",
            group=f"train-run-{slot.key}",
            description=f"Following {slot.key}",
            thread=True,
            exclusive=True,
            exit_on_error=False,
        )
        self._mark_dirty()

    def live_slot(self) -> RunSlot | None:
        return next(iter(self.live_runs()), None)

    @on(Worker.StateChanged)
    def _worker_state(self, event: Worker.StateChanged) -> None:
        group = event.worker.group or ""
        if group == "train-launch" and event.state in (
            WorkerState.SUCCESS,
            WorkerState.ERROR,
            WorkerState.CANCELLED,
        ):
            self._launching = False
        # Only this pane's workers: the collapse lab's bubble up here too and it reports its own.
        if event.state != WorkerState.ERROR or not (
            group == "train-launch" or group.startswith("train-run-")
        ):
            return
        from tui_trainer.errors import UserError

        error = event.worker.error
        what = "start the run" if event.worker.group == "train-launch" else f"follow {event.worker.name}"
        message = str(error) if isinstance(error, UserError) else f"{type(error).__name__}: {error}"
        self.notify(f"Could not {what}: {message}", severity="error", timeout=10, markup=False)

    # ----- messages from the bridges ------------------------------------------------------
    @on(RunEvents)
    def _on_run_events(self, message: RunEvents) -> None:
        message.stop()
        slot = self.runs.get(message.key)
        if slot is None:
            return
        slot.history.extend(message.events)  # every event lands in the run store first
        label = slot.history.label or message.key
        for event in message.events:
            if isinstance(event, Checkpoint):
                # Periodic checkpoints are routine (they go to the log tail); a requested or final one is news.
                if message.key == self.primary and event.reason != "periodic":
                    self.notify(f"Checkpoint at step {event.step}: {event.path}", timeout=4, markup=False)
            elif isinstance(event, Failed):
                self.notify(f"Run {label} failed: {event.error}", severity="error", timeout=12, markup=False)
            elif isinstance(event, Finished):
                self.notify(f"Run {label} {event.status} at step {event.step}", timeout=6, markup=False)
        self._mark_dirty()

    @on(SourceEnded)
    def _on_source_ended(self, message: SourceEnded) -> None:
        # A process that died without a word was already reported by its handle (engine.process: a `failed`
        # event, code killed, in the last batch); here there is only the redraw.
        message.stop()
        self._mark_dirty()

    def _mark_dirty(self) -> None:
        self._dirty = True

    # ----- drawing ------------------------------------------------------------------------
    def _redraw_if_dirty(self) -> None:
        if self._dirty:
            self._dirty = False
            self.redraw()
        elif self._charts_stale and monotonic() - self._charts_drawn_at >= CHART_INTERVAL_S - 1e-3:
            self._redraw_charts()  # the last events of a burst reach the charts even when nothing follows

    def redraw(self, charts: bool | None = None) -> None:
        """Repaint from the run stores; charts at most every CHART_INTERVAL_S unless `charts` forces it."""
        self.redraws += 1
        primary = self.runs.get(self.primary) if self.primary else None
        # Repainting the header needs no layout pass (the costly part of a frame) unless its line count changed.
        header = self._header_text(primary)
        lines = header.plain.count("\n") + 1
        self.query_one("#run-header", Static).update(header, layout=lines != self._header_lines)
        self._header_lines = lines
        if charts or (charts is None and monotonic() - self._charts_drawn_at >= CHART_INTERVAL_S - 1e-3):
            self._redraw_charts()
        else:
            self._charts_stale = True
        if primary is not None:
            h = primary.history
            self.query_one(GpuView).show(h.system, h.pid)  # a no-op unless a new sample arrived
            self._append_logs(primary)
        findings = []
        for slot in self.runs.values():
            findings.extend(slot.history.findings())
        # Rebuilding a DataTable resets its cursor and column widths: only do it when the findings changed.
        if findings != self._findings_shown:
            self._findings_shown = findings
            self.query_one(FindingsView).set_findings(findings)
            # DataTable measures new rows when idle, but can keep painting the header at the old widths
            # until something else repaints it: repaint once the measuring has happened.
            self.set_timer(REDRAW_INTERVAL_S, self._repaint_findings)

    def _redraw_charts(self) -> None:
        self.chart_redraws += 1
        self._charts_drawn_at = monotonic()
        self._charts_stale = False
        loss_series, metric_series = run_series((slot.history, slot.colors) for slot in self.runs.values())
        loss_chart = self.query_one("#loss-chart", Chart)
        loss_chart.empty_text = "waiting for the first step" if self.runs else NO_RUN_TEXT
        loss_chart.set_series(loss_series)
        self.query_one("#metric-chart", Chart).set_series(metric_series)

    def _repaint_findings(self) -> None:
        self.query_one(FindingsTable).refresh(layout=True)

    def _append_logs(self, slot: RunSlot) -> None:
        log = self.query_one("#train-log", RichLog)
        h = slot.history
        if self._log_owner != slot.key:
            log.clear()
            self._log_owner, self._log_shown = slot.key, 0
        # The tail is a bounded deque; `logs_total` counts every line ever added, so only new ones are written.
        fresh = min(h.logs_total - self._log_shown, len(h.logs))
        if fresh > 0:
            for line in list(h.logs)[-fresh:]:
                log.write(line)
        self._log_shown = h.logs_total

    def _idle_text(self) -> Text:
        return idle_text(DEFAULT_CONFIG)

    def _header_text(self, slot: RunSlot | None) -> Text:
        if slot is None:
            return self._idle_text()
        width = self.query_one("#run-header", Static).content_size.width or self.size.width
        return header_text(
            slot.history,
            slot.key,
            live=slot.live,
            alive=slot.bridge.is_alive(),
            user_paused=slot.user_paused,
            width=width,
            theme=self.app.theme_variables,
        )

    # ----- actions ------------------------------------------------------------------------
    def action_new_run(self) -> None:
        from tui_trainer.widgets.path_prompt import PathPrompt

        default = str(self.config_path) if self.config_path else default_config()

        def chosen(value: str | None) -> None:
            if value:
                self.start_run(Path(value))

        self.app.push_screen(PathPrompt("Start a run from this config (TOML):", default), chosen)

    def action_kill_run(self) -> None:
        from tui_trainer.screens import ConfirmScreen

        slot = self._command("kill")
        if slot is None or slot.bridge.handle is None:
            return

        def answer(yes: bool | None) -> None:
            if yes and slot.bridge.handle is not None:
                slot.bridge.handle.kill()  # the bridge then reports the run as killed

        question = (
            "Kill the run now? SIGKILL to its whole process tree: no checkpoint, nothing more is saved."
        )
        self.app.push_screen(ConfirmScreen(question, yes="Kill", no="Keep running"), answer)

    def action_watch_command(self) -> None:
        from tui_trainer.integrations.watch import last_command
        from tui_trainer.widgets.path_prompt import PathPrompt

        def chosen(value: str | None) -> None:
            if value:
                self.start_run(None, watch=value)

        prompt = PathPrompt("Watch a command (your own training script):", last_command())
        self.app.push_screen(prompt, chosen)

    def _command(self, verb: str) -> RunSlot | None:
        slot = self.live_slot()
        if slot is None:
            self.notify(
                f"No live run to {verb}: only a run started here (n) takes commands.", severity="warning"
            )
        return slot

    def action_pause_resume(self) -> None:
        slot = self._command("pause or resume")
        if slot is None:
            return
        if slot.user_paused or slot.history.status == "paused":
            slot.bridge.resume()
            slot.user_paused = False
            self.notify("Resuming", timeout=2)
        else:
            slot.bridge.pause()
            slot.user_paused = True
            self.notify("Pausing after this step", timeout=2)
        self._mark_dirty()

    def action_stop_run(self) -> None:
        slot = self._command("stop")
        if slot is not None:
            slot.bridge.stop()
            self.notify("Stopping: finishing the step and writing a checkpoint", timeout=4)

    def action_checkpoint(self) -> None:
        slot = self._command("checkpoint")
        if slot is not None:
            slot.bridge.checkpoint()
            self.notify("Checkpoint requested", timeout=2)

    def action_attach(self) -> None:
        self._pick_run("Attach to a run (its curves become the main ones)", self.attach)

    def action_overlay(self) -> None:
        self._pick_run("Overlay another run on the charts", self.overlay)

    def _pick_run(self, title: str, then) -> None:
        """The runs under the runs root, newest first, as W&B and TensorBoard users expect; a typed path works too."""
        from tui_trainer.engine.runs import DEFAULT_RUNS_ROOT
        from tui_trainer.widgets.run_picker import RunPicker

        def chosen(run_dir: Path | None) -> None:
            if run_dir is not None:
                then(Path(run_dir))

        self.app.push_screen(RunPicker(DEFAULT_RUNS_ROOT, title), chosen)

    def action_clear_overlays(self) -> None:
        """Keep only the main run (and a live one): stop following the others and take them off the charts."""
        keep = {self.primary} | {
            slot.key for slot in self.runs.values() if slot.live and slot.bridge.is_alive()
        }
        removed = [key for key in self.runs if key not in keep]
        for key in removed:
            slot = self.runs.pop(key)
            if slot.worker is not None:
                slot.worker.cancel()
        if removed:
            self.redraw(charts=True)
            self.notify(f"Removed {len(removed)} overlaid run(s)", timeout=3)

    def action_toggle_log_scale(self) -> None:
        # Losses span decades; accuracy-like metrics live in [0, 1] and read wrong on a log axis.
        chart = self.query_one("#loss-chart", Chart)
        chart.log_scale = not chart.log_scale

    def action_edit_config(self) -> None:
        from tui_trainer.widgets.config_editor import ConfigEditor

        path = self._config_for_editing()
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            self.notify(f"{path}: cannot read config: {exc.strerror or exc}", severity="error", markup=False)
            return

        def saved(result: Path | None) -> None:
            if result is not None:
                self.config_path = result
                live = (
                    " (the live run keeps its config; the next run uses this one)" if self.live_slot() else ""
                )
                self.notify(f"Saved {result}{live}", timeout=5, markup=False)

        self.app.push_screen(ConfigEditor(path, text), saved)

    def _config_for_editing(self) -> Path:
        primary = self.runs.get(self.primary) if self.primary else None
        return config_for_editing(
            primary.config_path if primary else None, self.config_path, primary.run_dir if primary else None
        )

    @classmethod
    def sub_view_bindings(cls) -> list[tuple[str, list[Binding]]]:
        return [
            ("Collapse lab", [b for b in CollapseView.BINDINGS if isinstance(b, Binding) and b.description])
        ]

    def sub_view_commands(self):
        commands = []
        for binding in self.sub_view_bindings()[0][1]:

            async def run(action: str = binding.action) -> None:
                self.query_one("#train-views", ContentSwitcher).current = "collapse-lab"
                await self.query_one(CollapseView).run_action(action)

            commands.append(
                (f"Collapse lab: {binding.description}", f"key {binding.key} in the Collapse lab", run)
            )
        return commands

    def show_collapse_lab(self, real_fraction: float | None = None) -> None:
        self.query_one("#train-views", ContentSwitcher).current = "collapse-lab"
        lab = self.query_one(CollapseView)
        if real_fraction is not None:
            lab.set_real_fraction(real_fraction)

    def action_toggle_view(self) -> None:
        switcher = self.query_one("#train-views", ContentSwitcher)
        switcher.current = "collapse-lab" if switcher.current == "train-monitor" else "train-monitor"
        self.call_after_refresh(self._focus_inside)
