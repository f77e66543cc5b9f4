"""The app as its screens see it: the runs root, the open run, the runs marked for comparison,
and one follower per followed run, comparison or sweep.

SeqtuiApp (seqtui.app.app) adds the screens themselves. Screens are typed against this class, not
that one, as that one imports them: the screens' modules cannot import it back (no import circles).
"""

from __future__ import annotations

import asyncio
import gc
import shutil
import subprocess
from pathlib import Path
from typing import TypeAlias, overload

from textual import work
from textual.app import App
from textual.reactive import reactive
from textual.widget import AwaitMount

from seqtui.app.followed import ComparisonKey, FollowKey, SweepKey
from seqtui.app.messages import FollowedChanged
from seqtui.session.launch import PreparedTrainer, reap
from seqtui.settings.errors import SeqtuiError
from seqtui.store.history import RunFollower
from seqtui.store.run import Run
from seqtui.sweep.compare import ComparisonFollower
from seqtui.sweep.follow import SweepFollower

MIN_SIZE = (80, 24)
LOADING_TORCH = "loading torch for "  # what a screen that needs torch says while it loads

Follower: TypeAlias = RunFollower | ComparisonFollower | SweepFollower


class SeqtuiAppBase(App[None]):
    """The state and the followers the screens share; SeqtuiApp adds the screens."""

    current: reactive[Run | None] = reactive(None, always_update=True)

    def __init__(self, root: Path, run: Path | None = None, read_only: bool = False) -> None:
        super().__init__()
        self.root = Path(root)
        self.read_only = read_only  # served to a browser: look and probe, change nothing
        self.initial_run = run
        self.compare: set[Path] = set()  # runs marked for comparison in the runs list
        self.launching: set[Path] = set()  # runs whose trainer this app is starting (loading torch)
        self.opening_form = False  # the new-run form is being built (the first time it is asked for)
        self.torch_loaded_here = False  # by a screen that needs it (then its screens are built ahead)
        self.prepared: PreparedTrainer | None = None  # a trainer loading torch while the form is filled
        self.compare_group: str | None = None  # a comparison started here, shown until a run is opened
        # the `seqtui compare` started here, while it may still run
        self.comparison_process: subprocess.Popen[bytes] | None = None
        self.comparison_name = ""
        self.followers: dict[FollowKey, Follower] = {}
        self.followed_by: dict[FollowKey, set[int]] = {}  # key -> who asked for its follower

    # -- following runs --------------------------------------------------------------------------
    @overload
    def follow(self, key: Path, owner: object) -> RunFollower: ...
    @overload
    def follow(self, key: ComparisonKey, owner: object) -> ComparisonFollower: ...
    @overload
    def follow(self, key: SweepKey, owner: object) -> SweepFollower: ...

    def follow(self, key: FollowKey, owner: object) -> Follower:
        """The one follower of a run, a comparison or a sweep, up to date; it is polled until every
        owner has let go of it."""
        follower = self.followers.get(key)
        if follower is None:
            if isinstance(key, ComparisonKey):
                follower = ComparisonFollower(self.root, key.name)
            elif isinstance(key, SweepKey):
                follower = SweepFollower(key.path)
            else:
                follower = RunFollower(Run(key))
            follower.poll()
            self.followers[key] = follower
        self.followed_by.setdefault(key, set()).add(id(owner))
        return follower

    def unfollow(self, key: FollowKey, owner: object) -> None:
        owners = self.followed_by.get(key, set())
        owners.discard(id(owner))
        if not owners:
            self.followed_by.pop(key, None)
            self.followers.pop(key, None)

    def poll_followed(self) -> None:
        reap()  # trainers and comparisons started from here that have ended: no zombies
        changed = {key for key, follower in list(self.followers.items()) if follower.poll()}
        if changed and self.screen_stack:  # the timer may tick once more as the app closes its screens
            self.screen.post_message(FollowedChanged(changed))

    # -- what screens ask of the app -------------------------------------------------------------
    def open_run(self, run: Run, mode: str = "train") -> None:
        self.compare_group = None
        self.current = run
        self.show_mode(mode)

    def prepare_trainer(self) -> None:
        """Start a trainer loading torch now, for the run the form is about to describe."""
        if self.read_only or (self.prepared is not None and self.prepared.alive()):
            return
        try:
            self.prepared = PreparedTrainer()
        except SeqtuiError:  # it cannot be started here: the run starts the usual way
            self.prepared = None

    def take_prepared(self) -> PreparedTrainer | None:
        prepared, self.prepared = self.prepared, None
        return prepared

    def on_unmount(self) -> None:
        if self.prepared is not None:  # told nothing: ended now, not left loading torch after the app
            self.prepared.discard()

    # -- switching screens -----------------------------------------------------------------------
    # Textual's switch_mode holds every frame for a fixed 50 ms (delay_update) so that a screen
    # still being built is not painted half-built. Here frames are held until the new screen is
    # whole (_hold_until_ready), and no longer: a screen shown again is painted 5-10 ms after its
    # key (measured in the app) instead of 55.
    _switching = False
    _switch_held = False

    def switch_mode(self, mode: str) -> AwaitMount:
        mounted = None
        if mode != self._current_mode and mode in self._modes and mode not in self._screen_stacks:
            mounted = self.build_mode(mode)
        outer = self._switching, self._switch_held  # a switch within a switch keeps the outer's hold
        self._switching, self._switch_held = True, False
        try:
            switched = super().switch_mode(mode)
        finally:
            held = self._switch_held
            self._switching, self._switch_held = outer
            if held:
                self._hold_until_ready()
        return mounted or switched  # awaiting it waits for a screen built here to be mounted

    def build_mode(self, mode: str) -> AwaitMount | None:
        """Build a screen (compose and mount it) without showing it. Textual's own first switch to
        a screen tells it twice that it is shown (two ScreenResume: each restyles and redraws it);
        built here, it is told once, when it is."""
        if mode in self._screen_stacks or mode not in self._modes:  # built, or the app is closing
            return None
        factory = self._modes[mode]
        screen, mounted = self._get_screen(factory() if callable(factory) else factory)
        self._load_screen_css(screen)
        self._screen_stacks[mode] = [screen]
        return mounted

    # the screens built hidden one at a time once the app has started (those that need no torch),
    # and the torch screens once torch is loaded, so that a first showing costs what showing one
    # again does (building one: ~20-30 ms of the app's time)
    BUILT_AHEAD: tuple[str, ...] = ()
    BUILD_AHEAD_SECONDS = 0.5  # after start-up (or torch), and between two screens

    def build_ahead(self) -> None:
        if not self.is_running:  # closing: Textual is taking the screens down (a new one would
            return  # change the stacks it goes through)
        modes = self.BUILT_AHEAD + (tuple(self.TORCH_MODES) if self.torch_loaded_here else ())
        for mode in modes:
            if mode not in self._screen_stacks:
                self.build_mode(mode)
                self.set_timer(self.BUILD_AHEAD_SECONDS, self.build_ahead)
                return

    def delay_update(self, delay: float = 0.05) -> None:
        if self._switching:  # held by switch_mode itself: released when the screen is ready
            self._begin_batch()
            self._switch_held = True
            return
        super().delay_update(delay)

    def _hold_until_ready(self) -> None:
        """Let frames go once the current screen has handled what is queued for it now (its
        Compose and Mount the first time, its ScreenResume) and what waits for a refresh, or after
        half a second at most."""
        released = False
        screen = self.screen

        def release(now: bool = True) -> None:
            nonlocal released
            if released:
                return
            released = True
            self._end_batch()
            if self._batch_count:
                return
            self.screen.refresh()
            if now and self.screen is screen:
                # painted now, in the screen's own task: its update timer would wait for its next
                # tick (up to 1/60 s) and lay it out again
                screen._on_timer_update()

        async def when_settled() -> None:
            # and its widgets have handled what was sent to them meanwhile (a table measures its
            # columns when it has nothing else to do): a few turns of the event loop at most
            for _turn in range(20):
                if all(widget._message_queue.empty() for widget in screen.walk_children()):
                    break
                await asyncio.sleep(0)
            # then behind what they asked of the screen meanwhile (a new layout, a scroll)
            if not screen.call_later(release):
                release(now=False)

        # queued behind its ScreenResume; then behind what its widgets asked to do after a refresh
        # (the keys line reads the screen's keys then): those run while frames are held
        if not screen.call_later(screen.call_after_refresh, when_settled):  # it takes no messages
            release(now=False)
            return
        self.set_timer(0.5, lambda: release(now=False), name="switch_mode release")

    # the screens whose module loads torch (seconds, the first time), and what they are for
    TORCH_MODES = {"probe": "the probe", "evaluate": "evaluation"}

    def action_switch_mode(self, mode: str) -> None:  # type: ignore[override]  # F2-F8 and the palette
        self.show_mode(mode)

    def show_mode(self, mode: str) -> None:
        """Switch to a screen; one that needs torch, before torch is loaded, says so at once and
        loads it in the background (the app answers meanwhile), then opens."""
        if mode not in self.TORCH_MODES or self.torch_loaded():
            self.switch_mode(mode)
            return
        self.notify(f"{LOADING_TORCH}{self.TORCH_MODES[mode]} (a few seconds) ...", timeout=4)
        # started once the notice is painted: the import holds the interpreter for long stretches
        # and once delayed the notice to 0.2 s
        self.call_after_refresh(self.load_torch_then, mode)

    def torch_loaded(self) -> bool:
        import sys

        return "torch" in sys.modules

    @work(thread=True, exclusive=True, group="torch", exit_on_error=False)
    def load_torch_then(self, mode: str) -> None:
        import torch  # noqa: F401  (what the screen's module would load, off the app's thread)

        self.call_from_thread(self.torch_ready, mode)

    def torch_ready(self, mode: str) -> None:
        """Torch is loaded now: its objects are put out of the collector's way, as the app's own
        are at start-up (each full collection went through them all: ~0.1 s on a 2-core box, twice
        within a probe screen's first showing), and the screen opens."""
        for notification in list(self._notifications):  # no longer true: not left up to its timeout
            if notification.message.startswith(LOADING_TORCH):
                self._unnotify(notification, refresh=False)
        self._refresh_notifications()
        gc.freeze()
        self.torch_loaded_here = True
        self.show_mode(mode)
        self.set_timer(self.BUILD_AHEAD_SECONDS, self.build_ahead)  # the other one that needs torch

    @property
    def too_small(self) -> bool:
        return self.size.width < MIN_SIZE[0] or self.size.height < MIN_SIZE[1]

    def delete_run(self, run: Run) -> str:
        """Delete a run that nothing trains (a link to a run: only the link). Says what was done."""
        if run.path.is_symlink():
            try:
                run.path.unlink()
            except OSError as error:
                raise SeqtuiError(f"cannot remove {run.path}: {error.strerror or error}") from None
            said = f"removed the link {run.shown_name} (the run it points to is kept)"
        else:
            with run.locked(f"{run.shown_name} is being trained: stop it first"):
                try:
                    shutil.rmtree(run.path)
                except OSError as error:
                    raise SeqtuiError(f"cannot delete {run.path}: {error.strerror or error}") from None
            said = f"deleted {run.shown_name}"
        self.compare.discard(run.path)
        if self.current is not None and self.current.path == run.path:
            self.current = None
        return said
