"""The headless progress display of `seqtui train`: a live line on a terminal, plain lines elsewhere."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, Progress as RichProgress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from seqtui.runner import Outcome
from seqtui.runs import Run
from seqtui.training import Event, HeldOut, Progress, Trainer

PLAIN_EVERY = 5.0  # seconds between lines when the output is not a terminal


class TrainingDisplay:
    def __init__(self, run: Run, trainer: Trainer, console: Console, quiet: bool = False):
        self.run, self.trainer, self.console, self.quiet = run, trainer, console, quiet
        self.live = console.is_terminal and not quiet
        self.last_plain = 0.0
        self.held_out = ""
        self.bar = RichProgress(
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=24),
            TextColumn("{task.fields[line]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
            refresh_per_second=4,
        )
        self.task_id = self.bar.add_task(run.name, total=1000, line="starting")

    def __enter__(self):
        config = self.trainer.config
        if not self.quiet:
            self.console.print(
                f"[bold]{self.run.path}[/]: {config.model.model} H={config.model.hidden} "
                f"({config.model.init} init) on {config.task.task}/{config.task.negatives}, "
                f"batch {config.batch_size}, lr {config.lr:g}, device {self.trainer.device}, "
                f"from step {self.trainer.step:,}"
            )
        if self.live:
            self.bar.start()
        return self

    def __exit__(self, *exc):
        if self.live:
            self.bar.stop()

    def update(self, event: Event) -> None:
        if isinstance(event, HeldOut):
            e = event.evaluation
            self.held_out = f"held-out {e.accuracy:.4f} (worst length {e.worst:.4f})"
            if not self.live and not self.quiet:
                self.console.print(f"step {event.step:,}: {self.held_out}")
            return
        if not isinstance(event, Progress):
            return
        line = (
            f"step {event.step:,}  loss {event.loss:.4f}  acc {event.accuracy:.4f}  "
            f"{event.examples_per_s:,.0f} ex/s  {self.held_out}"
        )
        if self.live:
            self.bar.update(self.task_id, completed=event.progress * 1000, line=line)
        elif not self.quiet and time.monotonic() - self.last_plain >= PLAIN_EVERY:
            self.last_plain = time.monotonic()
            self.console.print(f"{event.progress:6.1%}  {line}")

    def summary(self, outcome: Outcome) -> None:
        if self.quiet and outcome.state == "finished":
            return
        style = {"finished": "green", "stopped": "yellow", "failed": "red"}[outcome.state]
        console = Console(stderr=True, highlight=False) if outcome.state == "failed" else self.console
        console.print(f"[{style}]{outcome.state}[/]: {outcome.message} ({self.run.path})")
