"""What every seqtui screen shares: header, footer, a status line and the too-small notice.

Screens never read run files themselves: the app keeps one follower per followed run (see
SeqtuiApp.follow) and tells the shown screen, with a FollowedChanged message, which runs changed.
A hidden screen catches up from the same followers when it is shown again.
"""

from __future__ import annotations

from textual import events, getters
from textual._context import NoActiveAppError
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static

from seqtui.app.base import SeqtuiAppBase
from seqtui.app.messages import FollowedChanged
from seqtui.app.widgets.keybar import KeyBar
from seqtui.store.history import RunFollower
from seqtui.store.run import Run

TOO_SMALL = "terminal too small: seqtui needs at least 80 x 24 (this one is {w} x {h})"
MODES = [
    ("f2", "runs", "Runs"),
    ("f3", "train", "Train"),
    ("f4", "probe", "Probe"),
    ("f5", "evaluate", "Evaluate"),
    ("f6", "gradients", "Gradients"),
    ("f7", "compare", "Compare"),
    ("f8", "sweep", "Sweeps"),
]


SHORT_LABELS = {"Evaluate": "Eval", "Gradients": "Grads"}  # below NARROW columns, so every key shows


NARROW = 90
# what starts, stops, continues or deletes a run or writes a file: neither shown nor taken in a
# read-only app (seqtui serve), whose footer then keeps what a viewer can do
WRITES = frozenset({"new_run", "pause_resume", "stop", "continue_run", "export", "compare_models", "delete"})


def nav_text(current: str, width: int = 120) -> str:
    """The screens and their keys, the current one highlighted."""
    parts = []
    for key, mode, label in MODES:
        if width < NARROW:
            label = SHORT_LABELS.get(label, label)
        if mode == current:
            parts.append(f"[reverse b] {key.upper()} {label} [/]")
        else:
            parts.append(f" [b]{key.upper()}[/] {label} ")
    return "[b]seqtui[/]  " + "".join(parts)


class SeqtuiScreen(Screen):
    """Handlers here run for every screen (Textual calls each class's handler in the MRO, so
    subclasses add their own without calling these)."""

    MODE = ""
    # first in every footer, so it shows at 80 columns (the app's own ctrl+q is the same action)
    BINDINGS = [Binding("ctrl+q", "app.quit", "Quit")]

    # Textual types `app` as a bare App; typed as seqtui's, every use of it by a screen is checked
    app = getters.app(SeqtuiAppBase)
    _narrow_nav = False  # the nav bar drawn with short labels

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # A screen never shown is taken by Textual as behind on CSS, so its first showing parses
        # every stylesheet again and restyles the whole app: 0.1-0.2 s on a 2-core box, most of a
        # first visit. Nothing is behind: the stylesheet and its variables are current, and this
        # screen's widgets are styled as they mount (a new widget's own CSS is parsed then). A
        # later theme change still counts as a change and refreshes it.
        try:
            self._css_update_count = self.app._css_update_count
        except NoActiveAppError:  # built outside an app: Textual's way
            pass

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action in WRITES and self.app.read_only)

    def compose_frame(self) -> ComposeResult:
        yield Static(nav_text(self.MODE), id="nav", markup=True)
        yield Static("", id="too-small")

    def compose_footer(self) -> ComposeResult:
        yield KeyBar()

    def on_resize(self, event: events.Resize) -> None:
        self._check_size()

    def on_screen_resume(self) -> None:
        self._check_size()

    def _check_size(self) -> None:
        narrow = self.app.size.width < NARROW
        if narrow != self._narrow_nav:
            self._narrow_nav = narrow
            self.query_one("#nav", Static).update(nav_text(self.MODE, self.app.size.width))
        small = self.app.too_small
        self.set_class(small, "-too-small")
        if small:
            self.query_one("#too-small", Static).update(TOO_SMALL.format(w=self.app.size.width, h=self.app.size.height))


class RunFollowingScreen(SeqtuiScreen):
    """A screen that shows the app's current run, from the app's follower of it."""

    def __init__(self) -> None:
        super().__init__()
        self.follower: RunFollower | None = None
        self.dirty = True  # something changed that the screen does not show yet
        self.seen = -1  # the follower's version the screen last caught up with

    def on_mount(self) -> None:
        self.watch(self.app, "current", self.attach)

    def on_screen_resume(self) -> None:
        self.attach(self.app.current)
        if self.follower is not None and (self.dirty or self.follower.version != self.seen):
            self.catch_up()

    def attach(self, run: Run | None) -> None:
        if run is None:
            if self.follower is not None:
                self.app.unfollow(self.follower.run.path, self)
                self.follower = None
                self.detached()
            return
        if self.follower is not None and self.follower.run.path == run.path:
            return
        if self.follower is not None:
            self.app.unfollow(self.follower.run.path, self)
        self.follower = self.app.follow(run.path, self)
        self.dirty = True
        self.attached(run)
        if self.is_current:  # a hidden screen (one built ahead) catches up when it is shown: a
            self.catch_up()  # probe would load the run's model meanwhile, beside the switch itself

    def on_followed_changed(self, message: FollowedChanged) -> None:
        if self.follower is not None and self.follower.run.path in message.keys:
            self.dirty = True
            if self.is_current:
                self.catch_up()

    def catch_up(self) -> None:
        self.seen = self.follower.version if self.follower is not None else -1
        self.changed()

    def attached(self, run: Run) -> None:
        """A new run to follow: reset what the screen showed of the previous one."""

    def detached(self) -> None:
        """The run followed is gone (deleted)."""

    def changed(self) -> None:
        """The followed run changed (or the screen is shown again after it did): redraw."""
