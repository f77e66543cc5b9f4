"""The train screen: start a run, watch it learn, pause, resume and stop it."""

from __future__ import annotations

import time
from typing import Callable

from rich.markup import escape
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import var
from textual.widgets import Static

from seqtui.app.messages import RunStarted
from seqtui.app.screens.base import RunFollowingScreen, SeqtuiScreen
from seqtui.app.screens.dialogs import NewRunDialog
from seqtui.app.widgets.chart import SMOOTHING, Chart, Line
from seqtui.app.widgets.heatmap import Heatmap
from seqtui.session.launch import PreparedTrainer, resume_training
from seqtui.settings.config import Budget, TrainConfig
from seqtui.settings.errors import SeqtuiError
from seqtui.settings.units import duration_text
from seqtui.store.catalogue import new_run_path
from seqtui.store.export import export_csv
from seqtui.store.history import Series, smooth, smoothing_weight
from seqtui.store.layout import display_name, distinct_names
from seqtui.store.run import Run
from seqtui.store.status import RunStatus

CHART_SECONDS = 1.0  # charts redraw at most this often; the status line at once
VERDICT_STYLE = {"chance": "red", "partial": "yellow", "short": "yellow"}


def length_map_columns(evaluations: list[dict], columns: int) -> list[dict | None]:
    """The evaluation in force at each of `columns` even steps of examples seen, 0 to the latest.

    Column c stands for examples up to (c + 1) / columns of the latest evaluation's; it shows the
    newest evaluation made by then (None before the first), so the x axis is examples, not count.
    """
    last = evaluations[-1]["examples"] or 1
    out, index = [], -1
    for column in range(columns):
        edge = (column + 1) * last / columns
        while index + 1 < len(evaluations) and evaluations[index + 1]["examples"] <= edge + 1e-9:
            index += 1
        out.append(evaluations[index] if index >= 0 else None)
    return out


NEW_RUN_FORM = "new-run"  # the app's one NewRunDialog, installed when first asked for


def open_new_run_form(screen: SeqtuiScreen, chosen: Callable[[TrainConfig | None], None]) -> None:
    """The new-run form over `screen`, its settings handed to `chosen` (None: cancelled). A trainer
    process starts loading torch meanwhile. One form, built once (about a hundred widgets to style:
    most of a second) and shown again as it was left; the first time, a word on screen before the
    app is busy building it, and a second key meanwhile opens it once."""
    app = screen.app
    app.prepare_trainer()
    if app.is_screen_installed(NEW_RUN_FORM):
        app.push_screen(NEW_RUN_FORM, chosen)
        return
    if app.opening_form:
        return
    app.opening_form = True
    screen.notify("opening the new-run form ...", timeout=2)

    def build() -> None:
        app.install_screen(NewRunDialog(), NEW_RUN_FORM)
        app.push_screen(NEW_RUN_FORM, chosen)
        app.opening_form = False

    screen.set_timer(0.05, build)  # time for the notice to be painted first


class TrainScreen(RunFollowingScreen):
    MODE = "train"
    BINDINGS = [
        Binding("n", "new_run", "New"),
        Binding("space", "pause_resume", "Pause"),
        Binding("s", "stop", "Stop"),
        Binding("c", "continue_run", "Continue"),
        Binding("plus,equals_sign", "smoothing(1)", "Smooth+", show=False),
        Binding("minus", "smoothing(-1)", "Smooth-", show=False),
        Binding("m", "smoothing(1)", "Smooth"),
        Binding("l", "log_scale", "Log"),
        Binding("x", "export", "Export"),
        Binding("left", "cursor(-1)", "Earlier", show=False),
        Binding("right", "cursor(1)", "Later", show=False),
        Binding("end", "cursor(0)", "Latest", show=False),
        Binding("q", "app.quit", "Quit", show=False),
    ]

    # what the charts show, set by keys; each change redraws
    smoothing = var(2, init=False)  # an index into SMOOTHING
    log_loss = var(True, init=False)
    _paused_shown = False  # the keys line says Resume (space) since the run was seen paused
    # fraction of the history to read values at; None: latest (end redraws even when it is already)
    cursor: var[float | None] = var(None, init=False, always_update=True)

    def __init__(self) -> None:
        super().__init__()
        self.pending = False  # metrics arrived that the charts do not show yet
        self.drawn_at = 0.0
        self.lengths_drawn = -1  # held-out evaluations the heatmap shows

    def compose(self) -> ComposeResult:
        yield from self.compose_frame()
        with Vertical(id="train-body"):
            yield Static(self._nothing_attached(), id="train-status", classes="status-line")
            yield Static("", id="train-values")
            with Horizontal(id="charts"):
                yield Chart("loss", id="loss-chart")
                yield Chart("accuracy", id="acc-chart")
            yield Heatmap(id="length-map")
        yield from self.compose_footer()

    # -- following a run ------------------------------------------------------------------------
    def on_mount(self) -> None:
        self.set_interval(CHART_SECONDS, self.draw_pending)

    def attached(self, run: Run) -> None:
        self.set_reactive(TrainScreen.cursor, None)  # catching up with the new run draws it

    def detached(self) -> None:
        self.query_one("#train-status", Static).update(self._nothing_attached())

    def _nothing_attached(self) -> str:
        if self.app.read_only:  # n is off here
            return "no run attached: open one from the runs list (F2)"
        return "no run attached: press n to start one (default preset), or F2 to open a run"

    def changed(self) -> None:
        """The status line at once; the charts at most once a second (draw_pending), but a new
        held-out evaluation at once (a few a run), so the header's worst length and the heatmap's
        title never speak of different evaluations."""
        self.draw_status()
        self.pending = True
        evaluations = self.follower.history.evaluations if self.follower is not None else []
        if time.monotonic() - self.drawn_at >= CHART_SECONDS:
            self.draw_pending()
        elif len(evaluations) != self.lengths_drawn and self.is_current:
            self._draw_lengths(evaluations)

    def draw_pending(self) -> None:
        if self.pending and self.follower is not None and self.is_current:
            self.pending = False
            self.dirty = False
            self.drawn_at = time.monotonic()
            self.draw_charts()

    def redraw(self) -> None:
        self.dirty = False
        self.draw_status()
        self.draw_charts()

    def key_label(self, action: str) -> str | None:
        """What space does now, in the keys line: resume a paused run."""
        follower = self.follower
        if action == "pause_resume" and follower is not None and follower.status.state == "paused":
            return "Resume"
        return None

    def draw_status(self) -> None:
        follower = self.follower
        if follower is None:
            return
        paused = follower.status.state == "paused"
        if paused != self._paused_shown:  # the keys line says Pause or Resume
            self._paused_shown = paused
            self.refresh_bindings()
        line = self.query_one("#train-status", Static)
        name = escape(follower.run.shown_name)
        config = follower.config
        if config is None:
            line.update(f"[b]{name}[/]  [red]damaged[/]\n[red]{escape(display_name(follower.problem or ''))}[/]")
            return
        history, status = follower.history, follower.status
        last = history.last_train or {}
        rate = last.get("examples_per_s")
        if status.state not in ("running", "paused") and status.elapsed:
            rate = status.examples / status.elapsed  # a finished run: its average
        progress = last.get("progress")
        elapsed = status.elapsed or last.get("elapsed")
        eta = None
        if progress and elapsed and 0 < progress < 1 and status.state == "running":
            eta = elapsed * (1 - progress) / progress
        # the figure every screen shows: held-out accuracy at the worst length, at the latest evaluation
        evaluated = [e["worst"] for e in history.evaluations[-1:] if e.get("worst") is not None]
        worst = evaluated[0] if evaluated else status.latest_worst
        state = status.state
        starting = follower.run.path in self.app.launching and not status.active
        if starting:
            state = "starting"
        style = VERDICT_STYLE.get(status.verdict or "") or ("red" if state in ("failed", "damaged") else "")
        parts = [
            f"[b]{name}[/]",
            f"[{style}]{state}[/]" if style else state,
            f"{config.model.model}{config.model.hidden} {escape(status.device or config.device)}",
            f"step {status.step:,}",
            f"{rate or 0:,.0f} ex/s",
            duration_text(elapsed),
        ]
        if eta is not None:
            parts.append(f"eta {duration_text(eta)}")
        parts.append(f"worst length {'-' if worst is None else f'{worst:.4f}'}")
        width = max(40, self.size.width - 2)  # one line: what matters least goes first
        for least in (2, 4, 5):  # the device, ex/s, the elapsed time
            if _plain_length(parts) <= width:
                break
            parts[least] = ""
        parts = [p for p in parts if p]
        room = width - _plain_length(parts[1:]) - 2
        if room < len(follower.run.shown_name):
            parts[0] = f"[b]{escape(distinct_names([follower.run.shown_name], max(8, room))[0])}[/]"
        message = status.message or follower.problem or ""
        if starting:
            message = "starting its trainer: loading torch (a few seconds), then the first step"
        if message:
            message = f"\n[{style or 'dim'}]{escape(display_name(message))}[/]"
        line.update("  ".join(parts) + message)

    def draw_charts(self) -> None:
        if self.follower is None:
            return
        history = self.follower.history
        last = history.last_train or {}
        loss, acc = history.loss, history.accuracy
        weight = SMOOTHING[self.smoothing]
        loss_points, acc_points = loss.points(), acc.points()
        loss_smooth = smooth(loss_points[1], weight)
        acc_smooth = smooth(acc_points[1], weight)
        values = self.query_one("#train-values", Static)
        marker: list[float] = []
        if self.cursor is None or not loss_points[0]:

            def numbers(series: Series) -> str:
                return "-" if series.last is None else f"{series.last:.4f} (best {series.best:.4f})"

            values.update(
                f"loss {numbers(loss)}   accuracy {numbers(acc)}"
                f"   at {last.get('examples', 0):,} examples   smoothing {self.smoothing_used():.2g}"
            )
        else:  # reading values at a point of the history (left/right move, end returns)
            i = min(int(self.cursor * len(loss_points[0])), len(loss_points[0]) - 1)
            marker = [loss_points[0][i]]
            values.update(
                f"[reverse] at {loss_points[0][i]:,.0f} examples [/]  loss {loss_points[1][i]:.4f} "
                f"(smoothed {loss_smooth[i]:.4f})  accuracy {acc_points[1][i]:.4f} "
                f"({acc_smooth[i]:.4f})  [dim]end: now[/]"
            )
        self._plot(self.query_one("#loss-chart", Chart), "loss", loss_points, loss_smooth, self.log_loss, marker)
        title = "train accuracy"
        longest, config = last.get("longest"), self.follower.config
        if isinstance(longest, int) and config is not None and longest < 2 * config.task.n_max:
            title += f", lengths ≤ {longest}"  # a curriculum: short sequences so far
        self._plot(self.query_one("#acc-chart", Chart), title, acc_points, acc_smooth, False, marker)
        self._draw_lengths(history.evaluations)

    def _plot(
        self,
        chart: Chart,
        title: str,
        points: tuple[list[float], list[float]],
        smoothed: list[float],
        log_y: bool,
        marker: list[float],
    ) -> None:
        xs, ys = points
        lines = [Line(xs, ys, None, "gray")]
        if SMOOTHING[self.smoothing]:
            lines.append(Line(xs, smoothed, "smoothed", "cyan"))
        chart.plot(lines, title=title + (" (log)" if log_y else ""), log_y=log_y, x_label="examples", vertical=marker)

    def _draw_lengths(self, evaluations: list[dict]) -> None:
        self.lengths_drawn = len(evaluations)
        heatmap = self.query_one("#length-map", Heatmap)
        if not evaluations:
            heatmap.show([], title="held-out accuracy by length: waiting for the first evaluation")
            return
        lengths = sorted({int(k) for e in evaluations for k in e["accuracy_by_length"]})
        label_width = 2 * len(str(lengths[-1])) + 2
        columns = max(10, self.size.width - label_width - 4)
        rows = [
            [
                None if e is None else e["accuracy_by_length"].get(str(n))
                for e in length_map_columns(evaluations, columns)
            ]
            for n in lengths
        ]
        latest = evaluations[-1]
        worst_length = min(latest["accuracy_by_length"], key=lambda k: latest["accuracy_by_length"][k])
        heatmap.show(
            rows,
            labels=[str(n) for n in lengths],
            accuracy=True,
            x_range=(evaluations[-1]["examples"] / columns, evaluations[-1]["examples"]),
            title=f"accuracy by length x examples: now mean {latest['accuracy']:.4f}, "
            f"worst {latest['worst']:.4f} at length {worst_length}",
        )

    # -- actions --------------------------------------------------------------------------------
    def action_new_run(self) -> None:
        open_new_run_form(self, self.start_new)

    def start_new(self, config: TrainConfig | None) -> None:
        """A run with the settings chosen in the form, created at once (no torch) and followed while
        its trainer (the one prepared as the form was filled) starts."""
        if config is None:
            return
        try:
            run = Run.create(new_run_path(self.app.root, config), config)
        except SeqtuiError as error:
            self.notify(str(error), severity="error", markup=False)
            return
        self.start(run, None, self.app.take_prepared())

    def start(self, run: Run, extra: Budget | None, prepared: PreparedTrainer | None = None) -> None:
        """Follow `run` now and start its trainer in the background; the status line says it is
        starting until the trainer has taken it, and the same run cannot be started twice meanwhile."""
        self.app.launching.add(run.path)
        if self.app.current is None or self.app.current.path != run.path:
            self.app.open_run(run)
        self.draw_status()
        self.launch(run, extra, prepared)

    @work(thread=True, group="launch", exit_on_error=False)
    def launch(self, run: Run, extra: Budget | None, prepared: PreparedTrainer | None) -> None:
        try:
            self.post_message(RunStarted(resume_training(run, extra, prepared=prepared)))
        finally:
            self.app.launching.discard(run.path)
            try:
                self.app.call_from_thread(self.launched)
            except RuntimeError:  # the app has closed meanwhile
                pass

    def launched(self) -> None:
        """The trainer has the run (or failed to start): read its status now, not at the next poll,
        so the line goes from starting to running, never back to new."""
        if self.follower is not None:
            self.follower.poll()
        self.draw_status()

    def action_continue_run(self) -> None:
        """Train the run further: from its checkpoint, as much again if its budget is spent."""
        follower = self.follower
        if follower is None:
            return
        if follower.status.active or follower.run.path in self.app.launching:
            self.notify(f"{follower.run.shown_name} is training already", severity="warning", markup=False)
            return
        if follower.config is None:
            self.notify(f"{follower.run.shown_name} is damaged: {follower.problem}", severity="error", markup=False)
            return
        extra = self._more(follower.config, follower.status)
        more = f" for {extra.describe()} more" if extra is not None else ""
        self.notify(f"starting {follower.run.shown_name}{more} ...", markup=False, timeout=4)  # at once
        self.start(follower.run, extra)

    @staticmethod
    def _more(config: TrainConfig, status: RunStatus) -> Budget | None:
        """As much again as the run's budget, if that is spent (or its last evaluation was poor)."""
        budget = config.budget
        if not budget.reached(status.step, status.examples, status.elapsed) and status.state != "finished":
            return None
        return budget.again()

    def on_run_started(self, message: RunStarted) -> None:
        self.notify(f"{message.run.shown_name} is training in the background", markup=False)
        if self.app.current is None or self.app.current.path != message.run.path:
            self.app.open_run(message.run)

    def action_pause_resume(self) -> None:
        run = self.follower.run if self.follower else None
        if run is None:
            return
        state = run.status().state
        if state == "running":
            run.request("paused")
            self.notify("pausing: the trainer saves a checkpoint and sleeps")
        elif state == "paused":
            run.request("running")
            self.notify("resuming")
        else:
            self.notify(
                f"{run.shown_name} is {state}: press c to continue training it", severity="warning", markup=False
            )

    def action_stop(self) -> None:
        run = self.follower.run if self.follower else None
        if run is None:
            return
        if run.is_active():
            run.request("stopped")
            self.notify(f"stopping {run.shown_name}", markup=False)
        elif run.path in self.app.launching:
            self.notify(f"{run.shown_name} is starting (loading torch): s stops it once it trains", markup=False)
        else:
            self.notify(f"{run.shown_name} is {run.status().state}: nothing to stop", markup=False)

    def smoothing_used(self) -> float:
        """The weight the curves are drawn with: the one chosen, lighter over few points."""
        points = len(self.follower.history.loss) if self.follower is not None else 0
        return smoothing_weight(SMOOTHING[self.smoothing], points)

    def action_smoothing(self, step: int) -> None:
        self.smoothing = (self.smoothing + step) % len(SMOOTHING)
        chosen, used = SMOOTHING[self.smoothing], self.smoothing_used()
        if used < chosen:
            points = len(self.follower.history.loss) if self.follower is not None else 0
            self.notify(
                f"smoothing {chosen:g} asked; {used:.2g} used: over {points} points a heavier average "
                "would draw the curves behind where the run is",
                timeout=4,
                markup=False,
            )

    def action_cursor(self, move: int) -> None:
        if move == 0:
            self.cursor = None
        else:
            start = 1.0 if self.cursor is None else self.cursor
            self.cursor = min(1.0, max(0.0, start + move / 40))

    def action_export(self) -> None:
        if self.follower is None:
            return
        try:
            paths = export_csv(self.follower.run)
        except SeqtuiError as error:
            self.notify(str(error), severity="error", markup=False)
            return
        self.notify(f"wrote {', '.join(str(p) for p in paths)}", timeout=6, markup=False)

    def action_log_scale(self) -> None:
        self.log_loss = not self.log_loss

    def watch_smoothing(self) -> None:
        self.redraw()

    def watch_log_loss(self) -> None:
        self.redraw()

    def watch_cursor(self) -> None:
        self.redraw()


def _plain_length(parts: list[str]) -> int:
    """Characters that `parts`, joined by two spaces, take on screen (markup not counted)."""
    return len(Text.from_markup("  ".join(p for p in parts if p)).plain)
