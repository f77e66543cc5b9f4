"""The runs list: every run under the runs root, with what it is and how far it got."""

from __future__ import annotations

from rich.markup import escape
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from seqtui.app.screens.base import SeqtuiScreen
from seqtui.app.screens.dialogs import ConfirmDialog
from seqtui.app.screens.train import VERDICT_STYLE, TrainScreen, open_new_run_form
from seqtui.app.widgets.tables import RowTable, room_left
from seqtui.session.launch import spawn
from seqtui.settings.config import TrainConfig
from seqtui.settings.errors import SeqtuiError
from seqtui.store.catalogue import NO_MODEL, RunSummary, list_runs
from seqtui.store.layout import display_name, distinct_names
from seqtui.store.run import Run
from seqtui.sweep.spec import CLASSIC

REFRESH_SECONDS = 1.0
LEGEND = "worst length: latest held-out accuracy at the hardest length; learned: >= 0.97"


def compact(count: int) -> str:
    for size, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if count >= size:
            return f"{count / size:.3g}{unit}"
    return str(count)


class RunsScreen(SeqtuiScreen):
    """The one screen that reads the runs root itself: a listing, not a run to follow."""

    MODE = "runs"
    BINDINGS = [
        Binding("enter", "open('train')", "Open"),
        Binding("p", "open('probe')", "Probe", show=False),
        Binding("e", "open('evaluate')", "Evaluate", show=False),
        Binding("space", "mark", "Mark"),
        Binding("C", "compare_models", "Compare"),
        Binding("n", "new_run", "New"),
        Binding("s", "stop", "Stop"),
        Binding("d", "delete", "Delete"),
        Binding("q", "app.quit", "Quit", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.summaries: list[RunSummary] = []
        self.rows: list[tuple[Text | str, ...]] = []

    def compose(self) -> ComposeResult:
        yield from self.compose_frame()
        yield Static("", id="runs-title", classes="status-line")
        yield RowTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        yield from self.compose_footer()

    def on_mount(self) -> None:
        self.columns_for: tuple[int, int] = (0, 0)
        self.timer = self.set_interval(REFRESH_SECONDS, self.tick)
        self.refresh_runs()

    def on_resize(self, event: events.Resize) -> None:
        self.refresh_runs()

    def on_screen_resume(self) -> None:
        self.timer.resume()
        self.refresh_runs()
        if self.focused is None:  # back from another screen or a dialog: the list takes the keys again
            self.query_one(RowTable).focus()

    def on_screen_suspend(self) -> None:
        self.timer.pause()

    def tick(self) -> None:
        self.refresh_runs()

    def refresh_runs(self) -> None:
        summaries = list_runs(self.app.root)
        table = self.query_one(DataTable)
        width = self.size.width
        show_task = width >= 96  # narrower: the default run names already say the task
        cells = [self._cells(s, show_task) for s in summaries]
        headers = ["state", "verdict", "model", *(["task"] if show_task else []), "examples", "worst length"]
        # the run column takes what the others leave (each its widest cell, padded by 2; a scroll bar)
        column = max(12, room_left(width, headers, cells) - 4)
        marks = ["● " if s.run.path in self.app.compare else "" for s in summaries]
        names = [s.run.shown_name for s in summaries]
        room = column - 2 if any(marks) else column
        long = [n for n in names if len(n) > room]  # shortened among themselves, by what they share
        shortened = dict(zip(long, distinct_names(long, room)))
        names = [shortened.get(n, n) for n in names]
        rows = [(Text(mark + name), *c) for mark, name, c in zip(marks, names, cells)]
        if rows == self.rows and (width, column) == self.columns_for:
            return
        selected = self.selected()
        self.summaries, self.rows = summaries, rows
        if (width, column) != self.columns_for:
            self.columns_for = (width, column)
            table.clear(columns=True)
            table.add_column("run", width=column)
            for name in headers:
                table.add_column(name)
        table.clear()
        for summary, row in zip(summaries, rows):
            table.add_row(*row, key=str(summary.run.path))
        if selected is not None:
            for index, summary in enumerate(summaries):
                if summary.run.path == selected.path:
                    table.move_cursor(row=index)
        count = len(summaries)
        damaged = [(s.run.shown_name, s.problem) for s in summaries if s.problem and s.state == "damaged"]
        self.query_one("#runs-title", Static).update(
            f"[b]{count} run{'s' if count != 1 else ''}[/] under {escape(display_name(str(self.app.root)))}"
            + ("" if count else ": press n to start one")
            + (f"   ● {len(self.app.compare)} marked for comparison (F5, F7)" if self.app.compare else "")
            + (f"\n[dim]{LEGEND}[/]" if count else "")
            + (
                f"\n[red]{len(damaged)} damaged[/]: {escape(damaged[0][0])}: {escape(display_name(damaged[0][1]))}"
                if damaged
                else ""
            )
        )

    @staticmethod
    def _cells(s: RunSummary, show_task: bool) -> tuple[Text | str, ...]:
        """A run's row but its name."""
        worst = "-" if s.worst is None else f"{s.worst:.4f}"
        task = (f"{s.task}/{s.negatives}",) if show_task else ()
        state = Text(s.state, style="red" if s.state in ("damaged", "failed", NO_MODEL) else "")
        verdict = Text(s.verdict, style=VERDICT_STYLE.get(s.verdict, ""))
        return (state, verdict, s.model, *task, compact(s.examples), worst)

    def selected(self) -> Run | None:
        table = self.query_one(DataTable)
        if not self.summaries or table.cursor_row is None or table.cursor_row >= len(self.summaries):
            return None
        return self.summaries[table.cursor_row].run

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open("train")

    def action_open(self, mode: str) -> None:
        run = self.selected()
        if run is None:
            return
        summary = self.summaries[self.query_one(DataTable).cursor_row]
        if summary.problem and (
            summary.state == NO_MODEL or (summary.state == "damaged" and "config.json" in summary.problem)
        ):
            self.notify(
                f"{run.shown_name} cannot be opened: {display_name(summary.problem)}",
                severity="error",
                timeout=8,
                markup=False,
            )
            return
        self.app.open_run(run, mode)

    def action_mark(self) -> None:
        run = self.selected()
        if run is None:
            return
        self.app.compare ^= {run.path}
        self.refresh_runs()

    def action_compare_models(self) -> None:
        """rnn, rnn with identity init, lstm and gru on the default task and budget, one after another."""
        from datetime import datetime

        stamp = f"{datetime.now():%m%d-%H%M%S}"
        log = self.app.root / f"compare-{stamp}.log"
        try:
            self.app.comparison_process = spawn(["compare", "--root", str(self.app.root), "--name", stamp], log)
        except SeqtuiError as error:
            self.notify(str(error), severity="error", markup=False)
            return
        self.app.comparison_name = stamp
        self.app.compare.clear()
        self.app.compare_group = stamp
        self.app.switch_mode("compare")
        self.notify(
            f"comparing {', '.join(CLASSIC[:-1])} and {CLASSIC[-1]} in the background (about two minutes here); "
            f"each appears here as it starts, the report in {self.app.root} (log: {log.name})",
            timeout=10,
        )

    def action_new_run(self) -> None:
        """The form over this list (cancelled: the list again); a run started from it on F3."""

        def chosen(config: TrainConfig | None) -> None:
            if config is None:
                return
            self.notify("starting the run: its train screen opens ...", timeout=2)

            def follow() -> None:
                self.app.switch_mode("train")
                screen = self.app.screen
                assert isinstance(screen, TrainScreen)  # the train mode's screen, shown at once
                screen.start_new(config)

            self.set_timer(0.05, follow)  # the word painted before the train screen is built

        open_new_run_form(self, chosen)

    def action_stop(self) -> None:
        run = self.selected()
        if run is None:
            return
        if run.is_active():
            run.request("stopped")
            self.notify(f"stopping {run.shown_name}", markup=False)
        else:
            self.notify(f"{run.shown_name} is {run.status().state}: nothing to stop", markup=False)

    def action_delete(self) -> None:
        run = self.selected()
        if run is None:
            return
        if run.is_active():
            self.notify(f"{run.shown_name} is training: stop it first (s)", severity="warning", markup=False)
            return
        link = run.path.is_symlink()
        question = (
            f"Remove the link {run.shown_name}? (the run it points to is kept)"
            if link
            else f"Delete {run.shown_name} and everything in it?"
        )

        def answered(yes: bool | None) -> None:
            if yes:
                try:
                    self.notify(self.app.delete_run(run), markup=False)
                except SeqtuiError as error:
                    self.notify(str(error), severity="error", markup=False)
                self.refresh_runs()

        self.app.push_screen(ConfirmDialog(question), answered)
