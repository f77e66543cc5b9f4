"""The compare screen: several runs' training curves overlaid, and what each reached, side by side.

Which runs: the open run and those marked on the runs list (space); with none marked, the
comparison the open run belongs to (`seqtui compare`, or C on the runs list), growing as its
models start. Every run is followed like the train screen follows one, in bounded memory.
"""

from __future__ import annotations

import math
from pathlib import Path

from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import var
from textual.widgets import DataTable, Static

from seqtui.app.followed import ComparisonKey, FollowKey
from seqtui.app.messages import FollowedChanged
from seqtui.app.screens.base import SeqtuiScreen
from seqtui.app.widgets.chart import COLOURS, RICH_COLOURS, SMOOTHING, Chart, Line
from seqtui.app.widgets.tables import room_left
from seqtui.settings.units import duration_text
from seqtui.store.history import RunFollower, RunHistory, smooth
from seqtui.store.layout import display_name, distinct_names
from seqtui.store.run import Run
from seqtui.sweep.compare import ComparisonFollower, group_of


def gradient_ratio(history: RunHistory) -> float | None:
    """The latest first/last gradient ratio at the longest measured length."""
    for evaluation in reversed(history.evaluations):
        ratios = evaluation.get("gradient_ratio_by_length")
        if ratios:
            return ratios[max(ratios, key=int)]
    return None


class CompareScreen(SeqtuiScreen):
    MODE = "compare"
    BINDINGS = [
        Binding("t", "toggle_time", "Time axis"),
        Binding("a", "toggle_accuracy", "Accuracy"),  # worst held-out, training, by length (report)
        Binding("m", "smoothing(1)", "Smoothing"),
        Binding("l", "log_scale", "Log loss"),
        Binding("e", "evaluate", "By length"),
        Binding("q", "app.quit", "Quit", show=False),
    ]

    # what the charts show, set by keys; each change redraws
    by_time = var(False, init=False)  # x axis: training seconds instead of examples seen
    accuracy = var(0, init=False)  # accuracy chart: worst held-out length, training accuracy, by length (report)
    smoothing = var(2, init=False)  # an index into SMOOTHING
    log_loss = var(True, init=False)

    def __init__(self) -> None:
        super().__init__()
        self.followers: dict[Path, RunFollower] = {}
        self.group: str | None = None
        self.comparison: ComparisonFollower | None = None

    def compose(self) -> ComposeResult:
        yield from self.compose_frame()
        with Vertical(id="compare-body"):
            yield Static("", id="compare-runs", classes="status-line")
            with Horizontal(id="compare-charts"):
                yield Chart("loss", id="compare-loss")
                yield Chart("accuracy", id="compare-acc")
            yield DataTable(id="compare-table", cursor_type="none", zebra_stripes=True)
        yield from self.compose_footer()

    def on_screen_resume(self) -> None:
        self.sync()
        self.redraw()

    def on_followed_changed(self, message: FollowedChanged) -> None:
        if not self.is_current:
            return
        shown: set[FollowKey] = set(self.followers)
        if self.group is not None:
            shown.add(ComparisonKey(self.group))
        if message.keys & shown:
            self.sync()
            self.redraw()

    # -- which runs -----------------------------------------------------------------------------
    def sync(self) -> None:
        """Follow (through the app) the runs to compare: the open run and the marked ones, or with
        none marked, the comparison the open run belongs to, as its runs appear."""
        app = self.app
        current = app.current.path if app.current is not None else None
        group = None
        if app.compare:
            paths = ([current] if current else []) + sorted(p for p in app.compare if p != current)
        else:
            group = app.compare_group or (group_of(app.current.name) if app.current is not None else None)
            paths = [current] if current and not group else []
        if group != self.group:
            if self.group is not None:
                app.unfollow(ComparisonKey(self.group), self)
            self.group = group
            self.comparison = app.follow(ComparisonKey(group), self) if group else None
        if self.comparison is not None:
            paths = list(self.comparison.runs)
        paths = [p for p in paths if (Path(p) / "config.json").exists()]
        for path in set(self.followers) - set(paths):
            app.unfollow(path, self)
        self.followers = {p: self.followers.get(p) or app.follow(p, self) for p in paths}

    # -- drawing --------------------------------------------------------------------------------
    def redraw(self) -> None:
        status = self.query_one("#compare-runs", Static)
        if not self.followers and self.group:  # started from the runs list: its log says how it goes
            log = self.app.root / f"compare-{self.group}.log"
            last = self.comparison.log_line if self.comparison else ""
            status.update(
                f"[b]comparison {escape(self.group)}[/]: "
                + (
                    f"[red]{escape(display_name(last))}[/] (log: {escape(str(log))})"
                    if "error" in last
                    else "waiting for its first model to start"
                )
            )
        elif not self.followers:
            status.update(
                "nothing to compare: open a run (F2) and mark others with space, "
                "or press C on the runs list to train rnn, IRNN, lstm and gru on one task"
            )
        else:
            count = len(self.followers)
            what = f"comparison {self.group}" if self.group else f"{count} run{'s' if count != 1 else ''}"
            report = self.comparison.report if self.comparison and self.comparison.reported else None
            status.update(
                f"[b]{escape(what)}[/]   x: {'training time' if self.by_time else 'examples seen'}"
                + (f"   report: {escape(report.parent.name)}/{escape(report.name)}" if report else "")
            )
        self.draw_charts()
        self.draw_table()

    def draw_charts(self) -> None:
        weight = SMOOTHING[self.smoothing]
        loss_lines, acc_lines = [], []
        lowest = 1.0
        by_length = self.report()
        modes = self.modes(by_length)
        mode = modes[self.accuracy % len(modes)]
        trained: set[int] = set()
        for index, follower in enumerate(self.followers.values()):
            history, colour, name = follower.history, COLOURS[index % len(COLOURS)], self.label(follower.run)
            examples, losses = history.loss.points()
            xs = history.clock.points()[1] if self.by_time else examples
            loss_lines.append(Line(xs, smooth(losses, weight), name, colour))
            if mode == "held-out":
                evaluations = history.evaluations
                ex = [e.get("elapsed", 0.0) if self.by_time else e["examples"] for e in evaluations]
                ys = [e["worst"] for e in evaluations]
            elif mode == "train":
                ex, ys = xs, smooth(history.accuracy.points()[1], weight)
            else:  # accuracy by length from the comparison's report
                accuracies = by_length.get(name, {}).get(mode, {})
                ex, ys = sorted(accuracies), [accuracies[n] for n in sorted(accuracies)]
                if follower.config is not None:  # a damaged config.json: the chart goes without the marker
                    trained.add(2 * follower.config.task.n_max)
            acc_lines.append(Line(ex, ys, name, colour))
            lowest = min([lowest, *ys])
        x_label = "seconds" if self.by_time else "examples"
        self.query_one("#compare-loss", Chart).plot(
            loss_lines,
            title=f"loss{' (log)' if self.log_loss else ''}, smoothing ≤ {weight:g}",
            log_y=self.log_loss,
            x_label=x_label,
            legend=False,
        )  # the table below is the key
        low = max(0.0, math.floor((lowest - 0.01) * 20) / 20)
        chart = self.query_one("#compare-acc", Chart)
        if mode in ("random", "hard"):
            lengths = sorted({x for line in acc_lines for x in line.xs})
            chart.plot(
                acc_lines,
                title=f"by length, {mode} negatives",
                y_range=(low, 1.0),
                x_label="sequence length (report)",
                vertical=sorted(trained),
                x_ticks=lengths[:: max(1, len(lengths) // 6)],
                legend=False,
            )
        else:
            train = f"train acc., smoothing ≤ {weight:g}"  # whole in a chart half of 80 columns
            title = "held-out accuracy, worst length" if mode == "held-out" else train
            chart.plot(acc_lines, title=title, y_range=(low, 1.0), x_label=x_label, legend=False)

    def report(self) -> dict:
        """The comparison's accuracy by length, once it has written its report (else empty)."""
        return self.comparison.by_length if self.comparison is not None else {}

    @staticmethod
    def modes(report: dict) -> list[str]:
        """What the accuracy chart can show: by length only once a comparison has a report."""
        return ["held-out", "train"] + (["random", "hard"] if report else [])

    def label(self, run: Run, most: int = 24) -> str:
        """In a comparison the model's name (the status line names the comparison), else the run's,
        shortened to what tells it apart from the other runs shown (at most `most` characters)."""
        prefix = f"cmp-{self.group}/"
        name = run.shown_name
        if self.group and name.startswith(prefix):
            name = name[len(prefix) :]
            return name if len(name) <= most else distinct_names([name], most)[0]
        names = [Run(p).shown_name for p in self.followers]
        return distinct_names(names, most)[names.index(name)] if name in names else name[:most]

    COLUMNS = ("run", "state", "ex/s", "time", "worst", "grad f/l", "to 95%", "to 99%")

    def draw_table(self) -> None:
        table = self.query_one("#compare-table", DataTable)
        table.clear(columns=True)
        for name in self.COLUMNS:
            table.add_column(name)
        rows = []
        for follower in self.followers.values():
            history, status = follower.history, follower.status
            elapsed = status.elapsed
            rate = status.examples / elapsed if elapsed else 0.0
            latest = history.evaluations[-1]["worst"] if history.evaluations else None
            ratio = gradient_ratio(history)
            rows.append(
                [
                    status.state,
                    f"{rate:,.0f}",
                    duration_text(elapsed),
                    "-" if latest is None else f"{latest:.4f}",
                    "-" if ratio is None else f"{ratio:.2g}",
                    duration_text(history.reached.get(0.95)),
                    duration_text(history.reached.get(0.99)),
                ]
            )
        # the names take what the other columns leave of the screen's width (each column has a
        # cell of padding either side), so the table is whole at 80 columns; 24 at most
        room = min(24, max(10, room_left(self.app.size.width, self.COLUMNS[1:], rows) - 5))  # padding, "■ ", a bar
        for index, (follower, cells) in enumerate(zip(self.followers.values(), rows)):
            colour = RICH_COLOURS[index % len(RICH_COLOURS)]
            label = Text.assemble(("■ ", colour), self.label(follower.run, room))
            table.add_row(label, Text(cells[0]), *cells[1:])

    # -- actions --------------------------------------------------------------------------------
    def action_toggle_time(self) -> None:
        self.by_time = not self.by_time

    def action_toggle_accuracy(self) -> None:
        modes = self.modes(self.report())
        self.accuracy = (self.accuracy % len(modes) + 1) % len(modes)

    def action_smoothing(self, step: int) -> None:
        self.smoothing = (self.smoothing + step) % len(SMOOTHING)

    def action_log_scale(self) -> None:
        self.log_loss = not self.log_loss

    def watch_by_time(self) -> None:
        self.redraw()

    def watch_accuracy(self) -> None:
        self.redraw()

    def watch_smoothing(self) -> None:
        self.redraw()

    def watch_log_loss(self) -> None:
        self.redraw()

    def action_evaluate(self) -> None:
        """Accuracy by length for these runs, random or hard negatives, beyond the training range."""
        paths = list(self.followers)
        if not paths:
            return
        app = self.app
        current = app.current
        if current is None or current.path not in paths:
            current = app.current = Run(paths[0])
        app.compare = set(paths) - {current.path}
        app.show_mode("evaluate")
