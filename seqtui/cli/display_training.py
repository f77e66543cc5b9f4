"""The headless progress display of `seqtui train`: a live line on a terminal, plain lines elsewhere."""

from __future__ import annotations

import time

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress

from seqtui.core.training import Event, HeldOut, Progress, Trainer
from seqtui.session.runner import Outcome
from seqtui.store.layout import display_name
from seqtui.store.run import Run

PLAIN_EVERY = 5.0  # seconds between lines when the output is not a terminal
WIDE = 150  # columns from which the live line shows everything


class TrainingDisplay:
    def __init__(self, run: Run, console: Console, quiet: bool = False):
        self.run, self.console, self.quiet = run, console, quiet
        self.trainer: Trainer | None = None
        self.live = console.is_terminal and not quiet
        self.last_plain = 0.0
        self.held_out = ""
        self.worst = ""
        self.last_progress: Progress | None = None
        # below WIDE columns the line keeps what matters (progress, step, accuracy, ETA) within 80
        self.wide = console.width >= WIDE
        columns = (
            [TextColumn("[bold]{task.description}"), BarColumn(bar_width=24), TextColumn("{task.fields[line]}")]
            + [TimeElapsedColumn()]
            if self.wide
            else [TextColumn("{task.percentage:>3.0f}%"), BarColumn(bar_width=10), TextColumn("{task.fields[line]}")]
        )
        self.bar = RichProgress(
            *columns,
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
            refresh_per_second=4,
        )
        self.task_id = self.bar.add_task(escape(run.shown_name), total=1000, line="starting")

    def __enter__(self):
        return self

    def start(self, trainer: Trainer) -> None:
        """The trainer is ready (the run was checked and, if it resumes, restored)."""
        self.trainer = trainer
        config = trainer.config
        if not self.quiet:
            threads = f"{trainer.threads} thread{'s' if trainer.threads != 1 else ''}"
            self.console.print(
                f"[bold]{escape(display_name(str(self.run.path)))}[/]: {config.model.model} H={config.model.hidden} "
                f"({config.model.init} init) on {config.task.task}/{config.task.negatives}, "
                f"batch {config.batch_size}, lr {config.lr:g}, budget {config.budget.describe()}, "
                f"{trainer.device} ({threads}), from step {trainer.step:,}"
            )
            if not config.reproducible:
                self.console.print(
                    "[yellow]the only budget is a time: the learning rate follows the clock, so "
                    "this run cannot be reproduced exactly (give --samples for that)[/]"
                )
        if self.live:
            self.bar.start()

    def __exit__(self, *exc):
        if self.live:
            self.bar.stop()

    def update(self, event: Event) -> None:
        if isinstance(event, HeldOut):
            e = event.evaluation
            self.held_out = f"held-out {e.accuracy:.4f} (worst length {e.worst:.4f})"
            self.worst = f"worst {e.worst:.3f}"
            if not self.live and not self.quiet:
                self.console.print(f"step {event.step:,}: {self.held_out}")
            elif self.live and self.last_progress is not None:  # the bar's line: this evaluation at once
                self._show(self.last_progress)
            return
        if isinstance(event, Progress):
            self.last_progress = event
            self._show(event)

    def _show(self, event: Progress) -> None:
        line = (
            f"step {event.step:,}  loss {event.loss:.4f}  acc {event.accuracy:.4f}  "
            f"{event.examples_per_s:,.0f} ex/s  {self.held_out}"
        )
        curriculum = self.trainer is not None and event.longest < 2 * self.trainer.config.task.n_max
        if curriculum:  # the training accuracy is over short sequences so far
            line += f"  (lengths <= {event.longest})"
        if self.live:
            short = f"step {event.step:,} loss {event.loss:.3f} acc {event.accuracy:.3f} {self.worst}"
            if curriculum:
                short += f" len<={event.longest}"
            self.bar.update(self.task_id, completed=event.progress * 1000, line=line if self.wide else short)
        elif not self.quiet and time.monotonic() - self.last_plain >= PLAIN_EVERY:
            self.last_plain = time.monotonic()
            self.console.print(f"{event.progress:6.1%}  {line}")

    def summary(self, outcome: Outcome) -> None:
        if self.quiet and outcome.state == "finished" and outcome.verdict in (None, "learned"):
            return
        style = {"finished": "green", "stopped": "yellow", "failed": "red"}[outcome.state]
        if outcome.verdict in ("chance", "partial", "short"):
            style = "red" if outcome.verdict == "chance" else "yellow"
        console = Console(stderr=True, highlight=False) if outcome.state == "failed" else self.console
        console.print(
            f"[{style}]{outcome.state}[/]: {escape(outcome.message)} ({escape(display_name(str(self.run.path)))})"
        )
