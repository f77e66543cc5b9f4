"""What every seqtui screen shares: header, footer, a status line and the too-small notice."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Static

from seqtui.history import RunFollower
from seqtui.runs import Run

TOO_SMALL = "terminal too small: seqtui needs at least 80 x 24 (this one is {w} x {h})"
MODES = [("f2", "runs", "Runs"), ("f3", "train", "Train"), ("f4", "probe", "Probe"), ("f5", "evaluate", "Evaluate"),
         ("f6", "gradients", "Gradients"), ("f7", "compare", "Compare")]


def nav_text(current: str) -> str:
    """The screens and their keys, the current one highlighted."""
    parts = []
    for key, mode, label in MODES:
        if mode == current:
            parts.append(f"[reverse b] {key.upper()} {label} [/]")
        else:
            parts.append(f" [b]{key.upper()}[/] {label} ")
    return "[b]seqtui[/]  " + "".join(parts)


class SeqtuiScreen(Screen):
    """Handlers here run for every screen (Textual calls each class's handler in the MRO, so
    subclasses add their own without calling these)."""

    POLL_SECONDS: float | None = None  # how often tick() runs while the screen is shown

    MODE = ""

    def compose_frame(self) -> ComposeResult:
        yield Static(nav_text(self.MODE), id="nav", markup=True)
        yield Static("", id="too-small")

    def compose_footer(self) -> ComposeResult:
        yield Footer()

    def on_mount(self) -> None:
        self.timer = self.set_interval(self.POLL_SECONDS, self.tick) if self.POLL_SECONDS else None

    def tick(self) -> None:
        """Periodic work while the screen is shown: reading what a trainer wrote."""

    def on_resize(self, event) -> None:
        self._check_size()

    def on_screen_resume(self) -> None:
        self._check_size()
        if self.timer is not None:
            self.timer.resume()

    def on_screen_suspend(self) -> None:
        if self.timer is not None:
            self.timer.pause()

    def _check_size(self) -> None:
        small = self.app.too_small
        self.set_class(small, "-too-small")
        if small:
            self.query_one("#too-small", Static).update(
                TOO_SMALL.format(w=self.app.size.width, h=self.app.size.height)
            )


class RunFollowingScreen(SeqtuiScreen):
    """A screen that follows the app's current run through its metrics log."""

    POLL_SECONDS = 0.5  # the trainer writes a metrics line every half second

    def __init__(self):
        super().__init__()
        self.follower: RunFollower | None = None
        self.dirty = True  # something changed that the metrics log does not show (a key, a new run)

    def on_mount(self) -> None:
        self.watch(self.app, "current", self.attach)

    def on_screen_resume(self) -> None:
        self.attach(self.app.current)

    def attach(self, run: Run | None) -> None:
        if run is None or (self.follower is not None and self.follower.run.path == run.path):
            return
        self.follower = RunFollower(run)
        self.dirty = True
        self.attached(run)
        self.tick()

    def attached(self, run: Run) -> None:
        """A new run to follow: read what the screen needs of it once."""
