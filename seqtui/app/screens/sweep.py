"""The sweep screen: a sweep's memory map, one heatmap per model, and its trials, live.

Which sweep: the one the open run is a trial of, else the newest under the runs root; `[` and
`]` step through the others. The map fills in as trials are measured (the app follows the sweep
through its files, like any run); enter on a trial opens it on the train screen.

Cells are coloured by the error (1 - accuracy) on a log scale, from chance (50%) to 0.1%, so
0.98, 0.99 and 0.999 look different; the number in each cell is the accuracy, mean over seeds.
"""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from rich.style import Style
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from seqtui.app.followed import SweepKey
from seqtui.app.messages import FollowedChanged
from seqtui.app.screens.base import SeqtuiScreen
from seqtui.app.widgets.heatmap import SEQUENTIAL, colour_of, error_position
from seqtui.app.widgets.tables import RowTable
from seqtui.store.layout import display_name
from seqtui.store.run import Run
from seqtui.sweep.follow import SweepFollower
from seqtui.sweep.manifest import find_sweeps
from seqtui.sweep.report import MapRow

CELL = 5  # characters per length: " .987"


def cell_style(accuracy: float) -> Style:
    position = error_position(accuracy)
    colour = colour_of(position, 0.0, 1.0, SEQUENTIAL)
    return Style(bgcolor=f"color({colour})", color="black" if position > 0.45 else "white")


def accuracy_text(value: float) -> str:
    return "1.00" if value >= 0.9995 else f"{value:.3f}"[1:]


def map_text(rows: list[MapRow], axes: list[str], width: int) -> Text:
    """One model's rows as a coloured grid: a line per row (the swept axis), a cell per length."""
    text = Text(no_wrap=True, overflow="crop")
    labels = [", ".join(r.key) or r.negatives for r in rows]
    label_width = max([len(x) for x in labels] + [len(", ".join(axes)) if axes else 1, 4])
    lengths = sorted(set().union(*(r.by_length for r in rows)))
    n_max = max(r.n_max for r in rows)
    room = max(1, (width - label_width - 2) // CELL)
    dropped = ""
    if len(lengths) > room:  # the longest lengths (past training) go first, and the header says so
        room = max(1, room - 2)
        dropped = f" +{len(lengths) - room} longer"
    lengths = lengths[:room]
    text.append((", ".join(axes) or "").rjust(label_width) + " ", style="dim")
    for n in lengths:
        text.append(f"{n}{'*' if n > 2 * n_max else ''}".rjust(CELL), style="dim")
    text.append(dropped, style="dim italic")
    for label, row in zip(labels, rows):
        text.append("\n" + display_name(label).rjust(label_width) + " ")
        for n in lengths:
            cell = row.by_length.get(n)
            if cell is None:
                text.append(" " * CELL)
            else:
                text.append(" " + accuracy_text(cell.mean), cell_style(cell.mean))
    return text


def legend() -> Text:
    text = Text("error ", style="dim")
    text.append("50% ", style="dim")
    for position in range(len(SEQUENTIAL)):
        text.append("█", Style(color=f"color({SEQUENTIAL[position]})"))
    text.append(" 0.1% (log scale)   * past the training range", style="dim")
    return text


class SweepScreen(SeqtuiScreen):
    MODE = "sweep"
    AUTO_FOCUS = "#sweep-trials"  # the trials take the keys (Down, Enter); the map scrolls with the wheel
    BINDINGS = [
        Binding("enter", "open_trial", "Open"),
        Binding("left_square_bracket", "other(-1)", "Previous"),
        Binding("right_square_bracket", "other(1)", "Next"),
        Binding("q", "app.quit", "Quit", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.directory: Path | None = None
        self.follower: SweepFollower | None = None
        self.seen = -1
        self.sweeps = 0  # under the root, counted when the screen is shown or another is chosen

    def compose(self) -> ComposeResult:
        yield from self.compose_frame()
        yield Static("", id="sweep-status", classes="status-line")
        with VerticalScroll(id="sweep-maps"):
            yield Static("", id="sweep-map")
        yield RowTable(id="sweep-trials", cursor_type="row", zebra_stripes=True)
        yield from self.compose_footer()

    def on_mount(self) -> None:
        table = self.query_one("#sweep-trials", DataTable)
        for name in ("trial", "state", "progress", "worst length", "to 99%"):
            table.add_column(name)

    def on_screen_resume(self) -> None:
        self.sweeps = len(find_sweeps(self.app.root))
        self.choose()
        self.redraw()

    def on_resize(self, event: events.Resize) -> None:
        self.redraw(force=True)

    def on_followed_changed(self, message: FollowedChanged) -> None:
        if self.is_current and self.directory is not None and SweepKey(self.directory) in message.keys:
            self.redraw()

    # -- which sweep ----------------------------------------------------------------------------
    def choose(self, directory: Path | None = None) -> None:
        app = self.app
        if directory is None:
            current = app.current.sweep if app.current is not None else None
            directory = current or self.directory
            if directory is None or not directory.exists():
                sweeps = find_sweeps(app.root)
                directory = max(sweeps, key=_modified) if sweeps else None
        if directory == self.directory:
            return
        if self.directory is not None:
            app.unfollow(SweepKey(self.directory), self)
        self.directory = directory
        self.follower = app.follow(SweepKey(directory), self) if directory is not None else None
        self.seen = -1

    def action_other(self, step: int) -> None:
        sweeps = find_sweeps(self.app.root)
        self.sweeps = len(sweeps)
        if not sweeps:
            return
        index = sweeps.index(self.directory) if self.directory in sweeps else -1
        self.choose(sweeps[(index + step) % len(sweeps)])
        self.redraw()

    def action_open_trial(self) -> None:
        table = self.query_one("#sweep-trials", DataTable)
        if self.follower is None or not self.follower.trials or table.cursor_row is None:
            return
        trial = self.follower.trials[min(table.cursor_row, len(self.follower.trials) - 1)]
        run = Run(self.follower.directory / trial.name)
        if not run.file("config.json").exists():
            self.notify(f"{trial.name} has not started yet", timeout=4)
            return
        self.app.open_run(run)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open_trial()

    # -- drawing --------------------------------------------------------------------------------
    def redraw(self, force: bool = False) -> None:
        status = self.query_one("#sweep-status", Static)
        follower = self.follower
        if follower is None:
            status.update(
                f"no sweep under {escape(display_name(str(self.app.root)))}: "
                "seqtui sweep --model rnn,lstm --hidden 16,64 --seeds 3 starts one"
            )
            self.query_one("#sweep-map", Static).update("")
            self.query_one("#sweep-trials", DataTable).clear()
            return
        if follower.version == self.seen and not force:
            return
        self.seen = follower.version
        name = escape(display_name(follower.directory.name))
        if follower.problem:
            status.update(f"[b]sweep {name}[/]: [red]{escape(display_name(follower.problem))}[/]")
            self.query_one("#sweep-map", Static).update("")
            self.query_one("#sweep-trials", DataTable).clear()
            return
        counts = follower.counts()
        others = self.sweeps - 1
        status.update(
            f"[b]sweep {name}[/]: {counts['finished']}/{len(follower.trials)} finished · "
            f"{counts['running']} running · {counts['failed']} failed · {counts['waiting']} waiting"
            + (f"   [dim]\\[ ] {others} other sweep{'s' if others != 1 else ''}[/]" if others > 0 else "")
        )
        self.draw_map(follower)
        self.draw_trials(follower)

    def draw_map(self, follower: SweepFollower) -> None:
        width = max(40, self.size.width - 4)
        text = Text(no_wrap=True, overflow="crop")
        if not follower.map:
            text.append("no trial measured yet: the map fills in as trials finish", style="dim")
        for model in dict.fromkeys(r.model for r in follower.map):
            rows = [r for r in follower.map if r.model == model]
            seeds = max(r.seeds for r in rows)
            if text:
                text.append("\n")
            text.append(f"{model}", style="bold")
            text.append(
                f"  accuracy by length on fresh examples, random negatives, mean of {seeds} seed(s)\n", style="dim"
            )
            text.append_text(map_text(rows, follower.axes, width))
            text.append("\n")
        if follower.map:
            text.append_text(legend())
        self.query_one("#sweep-map", Static).update(text)

    def draw_trials(self, follower: SweepFollower) -> None:
        table = self.query_one("#sweep-trials", DataTable)
        row = table.cursor_row
        table.clear()
        for trial in follower.trials:
            style = "red" if trial.state == "failed" else ("green" if trial.state == "finished" else "")
            table.add_row(
                Text(display_name(trial.name)),
                Text(trial.state, style=style),
                "-" if trial.progress is None else f"{trial.progress:.0%}",
                "-" if trial.worst is None else f"{trial.worst:.4f}",
                "-" if trial.reached_99 is None else f"{trial.reached_99:,}",
            )
        if row is not None and table.row_count:
            table.move_cursor(row=min(row, table.row_count - 1))


def _modified(path: Path) -> float:
    try:
        return (path / "sweep.json").stat().st_mtime
    except OSError:
        return 0.0
