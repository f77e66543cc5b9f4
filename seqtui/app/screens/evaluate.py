"""The evaluate screen: accuracy by length for one run or several, in a cancellable worker."""

from __future__ import annotations

import math
from pathlib import Path

import torch
from rich.markup import escape
from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Input, Label, ProgressBar, Select, Static
from textual.worker import get_current_worker

from seqtui.app.messages import EvaluationDone, EvaluationFailed, EvaluationProgress
from seqtui.app.screens.base import SeqtuiScreen
from seqtui.app.widgets.chart import COLOURS, RICH_COLOURS, Chart, Line
from seqtui.core.checkpoint import load_checkpoint
from seqtui.core.evaluation import Evaluation, evaluate_stream
from seqtui.core.models import SequenceClassifier
from seqtui.core.threads import threads_now
from seqtui.settings.config import TaskConfig
from seqtui.settings.errors import SeqtuiError
from seqtui.settings.limits import check_fits, evaluation_bytes
from seqtui.settings.units import parse_count
from seqtui.store.layout import distinct_names
from seqtui.store.run import Run


class CountInput(Input):
    """A field for a count or a length: it takes only the characters one is written with, and any
    other key (e: evaluate) is the screen's, typed in it or not."""

    def __init__(self, value: str, allowed: str, **kwargs) -> None:
        super().__init__(value, restrict=f"[{allowed}]*", **kwargs)
        self.allowed = allowed

    def check_consume_key(self, key: str, character: str | None) -> bool:
        return character is not None and character.isprintable() and character in self.allowed

    async def _on_key(self, event: events.Key) -> None:
        if event.is_printable and not self.check_consume_key(event.key, event.character):
            event.prevent_default()  # not typed into the field: the screen's bindings have it


class EvaluateScreen(SeqtuiScreen):
    MODE = "evaluate"
    AUTO_FOCUS = ""  # letter keys drive the screen until a field is clicked or tabbed into
    BINDINGS = [
        Binding("e", "evaluate", "Evaluate"),
        Binding("escape", "cancel", "Cancel"),
        Binding("q", "app.quit", "Quit", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.results: list[tuple[str, int, Evaluation]] = []

    def compose(self) -> ComposeResult:
        yield from self.compose_frame()
        with Vertical(id="eval-body"):
            yield Static("", id="eval-runs", classes="status-line")
            with Horizontal(id="eval-controls"):
                yield Label("examples")
                # what a count or a length can hold: a screen key (e) cannot type into them
                yield CountInput("20000", "0123456789.,_kKmMgG", id="eval-samples")
                yield Label("max length")
                yield CountInput("", "0123456789", id="eval-max-len", placeholder="default")
                yield Select(
                    [("random negatives", "random"), ("hard negatives", "hard")],
                    value="random",
                    allow_blank=False,
                    id="eval-negatives",
                )
            yield Static("", id="eval-error")
            yield ProgressBar(id="eval-progress", show_eta=False, total=100)
            with Horizontal(id="eval-results"):
                yield Chart("accuracy by length", id="eval-chart")
                yield DataTable(id="eval-table", cursor_type="none", zebra_stripes=True)
        yield from self.compose_footer()

    def on_mount(self) -> None:
        self.query_one("#eval-progress").display = False  # until an evaluation is asked for

    def on_screen_resume(self) -> None:
        self.set_focus(None)  # back on this screen, its keys drive it; a field takes keys once chosen
        runs = self.runs()
        names = ", ".join(run.shown_name for run in runs) or "none: open a run (F2), mark others with space to compare"
        self.query_one("#eval-runs", Static).update(f"[b]runs[/]: {escape(names)}")  # keys: in the keys line
        if self.results and [r.shown_name for r in runs] != [name for name, _, _ in self.results]:
            # the runs asked for changed since: the results below say whose they are until e
            self.query_one("#eval-error", Static).update(Text(f"below: {self.shown()}; e evaluates the runs above"))

    def runs(self) -> list[Run]:
        paths = []
        if self.app.current is not None:
            paths.append(self.app.current.path)
        paths += sorted(p for p in self.app.compare if p not in paths)
        return [Run(p) for p in paths if Path(p).is_dir()]

    def settings(self) -> tuple[int, int | None, str]:
        try:
            samples = parse_count(self.query_one("#eval-samples", Input).value)
            if not 10 <= samples <= 10**9:
                raise SeqtuiError("out of range")
        except SeqtuiError:
            raise SeqtuiError("examples: a whole number from 10 to 1G (20000, 20k, 1M)") from None
        text = self.query_one("#eval-max-len", Input).value.strip()
        max_len = None
        if text:
            if not text.isdigit() or int(text) % 2 or not 2 <= int(text) <= 2000:
                raise SeqtuiError("max length: an even sequence length such as 30 (at most 2000)")
            max_len = int(text)
        return samples, max_len, str(self.query_one("#eval-negatives", Select).value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.set_focus(None)
        self.action_evaluate()

    def action_evaluate(self) -> None:
        error = self.query_one("#eval-error", Static)
        try:
            samples, max_len, negatives = self.settings()
        except SeqtuiError as problem:
            error.update(f"[red]{problem}[/]")
            return
        runs = self.runs()
        if not runs:
            error.update("[red]no run to evaluate: open one from the runs list (F2)[/]")
            return
        error.update("")
        progress = self.query_one("#eval-progress", ProgressBar)
        progress.display = True
        progress.update(total=None, progress=0)
        self.evaluate(runs, samples, max_len, negatives)

    @work(thread=True, exclusive=True, group="evaluate", exit_on_error=False)
    def evaluate(self, runs: list[Run], samples: int, max_len: int | None, negatives: str) -> None:
        """Every run's checkpoint checked first; anything wrong ends the evaluation with one message."""
        try:
            self.post_message(EvaluationDone(self._evaluate(runs, samples, max_len, negatives)))
        except SeqtuiError as error:
            self.post_message(EvaluationFailed(str(error)))
        except Exception as error:  # a bug: the screen still ends its progress bar, and the app reports it
            self.post_message(EvaluationFailed(f"the evaluation failed: {type(error).__name__}: {error}"))
            raise

    def _evaluate(
        self, runs: list[Run], samples: int, max_len: int | None, negatives: str
    ) -> list[tuple[str, int, Evaluation]]:
        worker = get_current_worker()
        if (threads := threads_now()) is not None:  # what the other processes leave (see core.threads)
            torch.set_num_threads(threads)
        plans: list[tuple[Run, SequenceClassifier, TaskConfig, int]] = []
        for run in runs:
            try:
                checkpoint = load_checkpoint(run.checkpoint_path)
                task = checkpoint.config.task
                max_pattern = max(task.n_min, (max_len // 2) if max_len else task.n_max)
                check_fits(evaluation_bytes(checkpoint.config.model, max_pattern), f"evaluating {run.shown_name}")
                model = checkpoint.build_model("cpu")
            except SeqtuiError as error:
                raise SeqtuiError(f"{run.shown_name}: {error}") from None
            plans.append((run, model, task, max_pattern))
        results = []
        for index, (run, model, task, max_pattern) in enumerate(plans):
            evaluation = None
            for done, total, partial in evaluate_stream(model, task, samples, negatives, max_pattern):
                if worker.is_cancelled:
                    return []
                self.post_message(EvaluationProgress(index * total + done, len(plans) * total))
                evaluation = partial  # the last one holds every length
            assert evaluation is not None  # the stream ends with the whole evaluation, so it yields once at least
            results.append((run.shown_name, task.n_max, evaluation))
        return results

    def on_evaluation_failed(self, message: EvaluationFailed) -> None:
        self.query_one("#eval-error", Static).update(Text(message.reason, style="red"))
        self.query_one("#eval-progress", ProgressBar).update(total=100, progress=0)

    def action_cancel(self) -> None:
        cancelled = [w for w in self.workers if w.group == "evaluate" and w.is_running]
        for worker in cancelled:
            worker.cancel()
        if cancelled:
            below = f"; below, the last one finished: {self.shown()}" if self.results else ""
            self.query_one("#eval-error", Static).update(Text(f"evaluation cancelled{below}"))
            self.query_one("#eval-progress", ProgressBar).update(total=100, progress=0)

    def on_evaluation_progress(self, message: EvaluationProgress) -> None:
        self.query_one("#eval-progress", ProgressBar).update(total=message.total, progress=message.done)

    def on_evaluation_done(self, message: EvaluationDone) -> None:
        if not message.results:  # cancelled
            return
        self.results = message.results
        lines, trained = [], set()
        labels = distinct_names([name for name, _, _ in self.results], 24)
        # each column's name as wide as the table's share of the screen leaves it (the table takes up
        # to 65%, "len" and a cell of padding either side), at least as wide as its cells
        # ("0.995 ±0.003*") and at most 24: three runs fit beside the chart at 80 columns
        room = (int(0.65 * self.app.size.width) - 5) // len(self.results) - 4  # "■ " and padding
        short = distinct_names([name for name, _, _ in self.results], min(24, max(11, room)))
        for index, (name, n_max, evaluation) in enumerate(self.results):
            name = labels[index]
            xs = [r.length for r in evaluation.by_length]
            ys = [r.accuracy for r in evaluation.by_length]
            lines.append(Line(xs, ys, name, COLOURS[index % len(COLOURS)], "braille"))
            trained.add(2 * n_max)
        chart = self.query_one("#eval-chart", Chart)
        lengths = sorted({r.length for _, _, e in self.results for r in e.by_length})
        lowest = min((y for line in lines for y in line.ys), default=0.5)
        low = max(0.0, math.floor((lowest - 0.01) * 100) / 100)  # the top of the scale is what matters
        chart.plot(
            lines,
            title="accuracy by length",  # the grey line: said below the fields
            y_range=(low, 1.0),
            x_label="sequence length",
            vertical=sorted(trained),
            x_ticks=lengths[:: max(1, len(lengths) // 8)],
            legend=False,
        )  # the table's header is the key
        table = self.query_one("#eval-table", DataTable)
        table.clear(columns=True)
        table.add_column("len")
        for index, name in enumerate(short):
            table.add_column(Text.assemble(("■ ", RICH_COLOURS[index % len(RICH_COLOURS)]), name))
        for length in lengths:
            cells = [str(length)]
            for _, n_max, evaluation in self.results:
                row = next((r for r in evaluation.by_length if r.length == length), None)
                if row is None:
                    cells.append("")
                    continue
                low, high = row.interval
                mark = "*" if length > 2 * n_max else ""
                cells.append(f"{row.accuracy:.3f} ±{(high - low) / 2:.3f}{mark}")
            table.add_row(*cells)
        self.query_one("#eval-error", Static).update(
            f"{self.count():,} examples per length; ± half the 95% interval; *, grey: beyond training"
        )

    def count(self) -> int:
        return self.results[0][2].by_length[0].count if self.results else 0

    def shown(self) -> str:
        """Which runs the results on screen are of, and on how many examples."""
        return f"{', '.join(name for name, _, _ in self.results)}, {self.count():,} examples per length"
