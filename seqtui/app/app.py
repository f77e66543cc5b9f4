"""The seqtui terminal application: runs, train, probe and evaluate screens over run directories.

The app never trains in its own process. It starts `seqtui train` detached (seqtui.session.launch) and
follows runs through their directories (seqtui.store), so it may quit, lose its terminal or be
started again at any time without touching a run. It keeps one follower per followed run (and
per followed comparison or sweep), polls them on one timer and tells the shown screen what changed;
that part, all the screens use of the app, is SeqtuiAppBase (seqtui.app.base).

The runs list needs no torch: the probe and evaluate screens, which do, are imported when first
shown, so `seqtui` opens at once.
"""

from __future__ import annotations

import gc
import signal
from functools import partial
from pathlib import Path
from typing import Iterable

from textual.app import SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from seqtui.app.base import SeqtuiAppBase
from seqtui.app.screens.base import MODES
from seqtui.app.screens.compare import CompareScreen
from seqtui.app.screens.dialogs import QuitDialog
from seqtui.app.screens.gradients import GradientsScreen
from seqtui.app.screens.runs import RunsScreen
from seqtui.app.screens.sweep import SweepScreen
from seqtui.app.screens.train import TrainScreen
from seqtui.store.run import Run

POLL_SECONDS = 0.5  # the trainer writes a metrics line every half second


def probe_screen() -> Screen:
    from seqtui.app.screens.probe import ProbeScreen

    return ProbeScreen()


def evaluate_screen() -> Screen:
    from seqtui.app.screens.evaluate import EvaluateScreen

    return EvaluateScreen()


class SeqtuiApp(SeqtuiAppBase):
    CSS_PATH = "seqtui.tcss"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]  # classes on each screen, for the stylesheet
    TITLE = "seqtui"
    MODES = {
        "runs": RunsScreen,
        "train": TrainScreen,
        "probe": probe_screen,
        "evaluate": evaluate_screen,
        "gradients": GradientsScreen,
        "compare": CompareScreen,
        "sweep": SweepScreen,
    }
    BINDINGS = [
        Binding("f2", "switch_mode('runs')", "Runs", show=False),  # shown in the nav bar
        Binding("f3", "switch_mode('train')", "Train", show=False),  # shown in the nav bar
        Binding("f4", "switch_mode('probe')", "Probe", show=False),  # shown in the nav bar
        Binding("f5", "switch_mode('evaluate')", "Evaluate", show=False),  # shown in the nav bar
        Binding("f6", "switch_mode('gradients')", "Gradients", show=False),  # shown in the nav bar
        Binding("f7", "switch_mode('compare')", "Compare", show=False),  # shown in the nav bar
        Binding("f8", "switch_mode('sweep')", "Sweeps", show=False),  # shown in the nav bar
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("f1,question_mark", "toggle_help", "Help", show=False),  # ? types into a field that has focus
        Binding("escape", "hide_help", "Hide the keys", show=False),  # where the screen has no use for esc
        Binding("f12", "save_screen", "Save an SVG screenshot", show=False),
    ]

    # built hidden after start-up (probe and evaluate follow once a screen has loaded torch)
    BUILT_AHEAD = ("train", "gradients", "compare", "sweep")

    def on_mount(self) -> None:
        gc.freeze()  # torch's many long-lived objects make full collections stall the UI
        self.set_interval(POLL_SECONDS, self.poll_followed)
        if self.initial_run is not None:
            self.current = Run.open(self.initial_run)
            self.switch_mode("train")
        else:
            self.switch_mode("runs")
        self.set_timer(self.BUILD_AHEAD_SECONDS, self.build_ahead)

    def action_toggle_help(self) -> None:
        """The keys of this screen and of the focused widget, beside it (again: hidden)."""
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    def action_hide_help(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()

    def action_save_screen(self) -> None:
        if not self.writable("save a screenshot on the server"):
            return
        folder = self.root / "screenshots"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = self.save_screenshot(path=str(folder))
        except OSError as error:
            self.notify(f"cannot save a screenshot in {folder}: {error.strerror or error}", severity="error")
            return
        self.notify(f"saved {path}")

    def writable(self, what: str) -> bool:
        """False (and says why) when this app is read-only: nothing may start, stop, continue or
        delete a run, nor write into the runs root."""
        if self.read_only:
            self.notify(
                f"read-only view: it cannot {what} (seqtui serve shows runs; change them from a terminal, "
                "or serve with --writable)",
                severity="warning",
                timeout=6,
                markup=False,
            )
        return not self.read_only

    async def action_quit(self) -> None:
        if self.read_only:  # it started nothing: nothing to ask about
            self.exit()
            return
        comparison = self.comparison_process
        if comparison is not None and comparison.poll() is None:  # a comparison started here trains on
            name = f"comparison {self.comparison_name}"

            def decided(choice: str | None) -> None:
                if choice == "stop":
                    comparison.send_signal(signal.SIGTERM)  # its models stop with a checkpoint
                    self.exit(
                        message=f"asked {name} to stop; `seqtui sweep --name cmp-{self.comparison_name}` continues it"
                    )
                elif choice == "leave":
                    self.exit(message=f"{name} keeps training; its log: {self.root}/compare-{self.comparison_name}.log")
                elif choice == "ended":
                    self.exit(message=f"{name} has ended: nothing was left running")

            self.push_screen(QuitDialog(name, lambda: comparison.poll() is None), decided)
            return
        run = self.current
        if run is None or not run.is_active():
            self.exit()
            return

        def chosen(choice: str | None) -> None:
            if choice == "stop":
                run.request("stopped")
                self.exit(message=f"asked {run.shown_name} to stop; it saves a checkpoint first")
            elif choice == "leave":
                self.exit(message=f"{run.shown_name} keeps training; reattach with: seqtui open {run.path}")
            elif choice == "ended":  # it finished (or stopped) while the question was asked
                self.exit(message=f"{run.shown_name} is {run.status().state}: nothing was left running")

        self.push_screen(QuitDialog(run.shown_name, run.is_active), chosen)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Every key binding of the screens, so the command palette lists every action."""
        yield from super().get_system_commands(screen)
        yield SystemCommand(
            "Help", "the keys of this screen and of the focused widget (F1, ?)", self.action_toggle_help
        )
        for key, mode, label in MODES:
            yield SystemCommand(
                f"Go to {label}", f"the {label.lower()} screen ({key.upper()})", partial(self.show_mode, mode)
            )
        for binding in screen.BINDINGS:
            if (
                isinstance(binding, Binding)
                and binding.description
                and not binding.action.startswith("app.")
                and screen.check_action(binding.action, ())
            ):
                key = binding.key.split(",")[0]
                where = getattr(screen, "MODE", "") or "this"
                yield SystemCommand(
                    binding.description, f"{where} screen, key {key}", partial(screen.run_action, binding.action)
                )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """One place that reports background failures (a damaged checkpoint, a bad run)."""
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            self.notify(str(event.worker.error), title="failed", severity="error", timeout=8)


def make_app(root: Path, run: Path | None = None, read_only: bool = False) -> SeqtuiApp:
    """The one way to build the app: the CLI, the tests and the screenshot script use it."""
    return SeqtuiApp(root, run, read_only)
