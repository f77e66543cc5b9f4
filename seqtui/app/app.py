"""The seqtui terminal application: runs, train, probe and evaluate screens over run directories.

The app never trains in its own process. It starts `seqtui train` detached (seqtui.launch) and
follows runs through their directories (seqtui.runs), so it may quit, lose its terminal or be
started again at any time without touching a run.
"""

from __future__ import annotations

import gc
from functools import partial
from pathlib import Path
from typing import Iterable

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from seqtui.app.screens.base import MODES
from seqtui.app.screens.compare import CompareScreen
from seqtui.app.screens.dialogs import QuitDialog
from seqtui.app.screens.evaluate import EvaluateScreen
from seqtui.app.screens.gradients import GradientsScreen
from seqtui.app.screens.probe import ProbeScreen
from seqtui.app.screens.runs import RunsScreen
from seqtui.app.screens.train import TrainScreen
from seqtui.runs import Run

MIN_SIZE = (80, 24)


class SeqtuiApp(App):
    CSS_PATH = "seqtui.tcss"
    TITLE = "seqtui"
    MODES = {"runs": RunsScreen, "train": TrainScreen, "probe": ProbeScreen, "evaluate": EvaluateScreen,
             "gradients": GradientsScreen, "compare": CompareScreen}
    BINDINGS = [
        Binding("f2", "switch_mode('runs')", "Runs", show=False),  # shown in the nav bar
        Binding("f3", "switch_mode('train')", "Train", show=False),  # shown in the nav bar
        Binding("f4", "switch_mode('probe')", "Probe", show=False),  # shown in the nav bar
        Binding("f5", "switch_mode('evaluate')", "Evaluate", show=False),  # shown in the nav bar
        Binding("f6", "switch_mode('gradients')", "Gradients", show=False),  # shown in the nav bar
        Binding("f7", "switch_mode('compare')", "Compare", show=False),  # shown in the nav bar
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("f12", "save_screen", "Save an SVG screenshot", show=False),
    ]

    current: reactive[Run | None] = reactive(None, always_update=True)

    def __init__(self, root: Path, run: Path | None = None):
        super().__init__()
        self.root = Path(root)
        self.initial_run = run
        self.compare: set[Path] = set()  # runs marked for comparison in the runs list
        self.compare_group: str | None = None  # a comparison started here, shown until a run is opened

    def on_mount(self) -> None:
        gc.freeze()  # torch's many long-lived objects make full collections stall the UI
        if self.initial_run is not None:
            self.current = Run.open(self.initial_run)
            self.switch_mode("train")
        else:
            self.switch_mode("runs")

    def open_run(self, run: Run, mode: str = "train") -> None:
        self.compare_group = None
        self.current = run
        self.switch_mode(mode)

    @property
    def too_small(self) -> bool:
        return self.size.width < MIN_SIZE[0] or self.size.height < MIN_SIZE[1]

    def action_save_screen(self) -> None:
        folder = self.root / "screenshots"
        folder.mkdir(parents=True, exist_ok=True)
        path = self.save_screenshot(path=str(folder))
        self.notify(f"saved {path}")

    async def action_quit(self) -> None:
        run = self.current
        if run is None or not run.is_active():
            self.exit()
            return

        def chosen(choice: str | None) -> None:
            if choice == "stop":
                run.request("stopped")
                self.exit(message=f"asked {run.name} to stop; it saves a checkpoint first")
            elif choice == "leave":
                self.exit(message=f"{run.name} keeps training; reattach with: seqtui open {run.path}")

        self.push_screen(QuitDialog(run.name), chosen)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Every key binding of the screens, so the command palette lists every action."""
        yield from super().get_system_commands(screen)
        for key, mode, label in MODES:
            yield SystemCommand(f"Go to {label}", f"the {label.lower()} screen ({key.upper()})",
                                partial(self.switch_mode, mode))
        for binding in screen.BINDINGS:
            if isinstance(binding, Binding) and binding.description and not binding.action.startswith("app."):
                key = binding.key.split(",")[0]
                where = getattr(screen, "MODE", "") or "this"
                yield SystemCommand(binding.description, f"{where} screen, key {key}",
                                    partial(screen.run_action, binding.action))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """One place that reports background failures (a damaged checkpoint, a bad run)."""
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            self.notify(str(event.worker.error), title="failed", severity="error", timeout=8)


def make_app(root: Path, run: Path | None = None) -> SeqtuiApp:
    """The one way to build the app: the CLI, the tests and the screenshot script use it."""
    return SeqtuiApp(root, run)
