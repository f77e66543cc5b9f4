"""The live lines of `seqtui sweep`: trials done, running and waiting, and the time left."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

from seqtui.settings.units import duration_text
from seqtui.store.layout import display_name

if TYPE_CHECKING:
    from rich.live import Live

    from seqtui.sweep.driver import SweepState


TICK_SECONDS = 0.5


class SweepDisplay:
    """The headless sweep's progress: a live summary on a terminal, one line per change otherwise."""

    def __init__(self, out: Console, pending: str = "starting"):
        self.console = out
        self.pending = pending  # what a trial handed out but not training yet is doing
        self.drawn = 0.0
        self.live: Live | None = None
        self.state: SweepState | None = None

    def __enter__(self):
        if self.console.is_terminal:
            from rich.live import Live

            self.live = Live(console=self.console, refresh_per_second=2, transient=True)
            self.live.__enter__()
        return self

    def __exit__(self, *exc):
        if self.live is not None:
            self.live.__exit__(*exc)
        return False

    def summary(self, state) -> str:
        counts = {s: state.count(s) for s in ("finished", "running", "failed", "waiting")}
        handed = [t for t in state.trials if state.manifest.trials[t.name].state == "running"]
        states = [state.run(t).raw_status() for t in handed]
        training = sum(1 for status in states if status.active)
        measuring = sum(1 for status in states if status.state == "finished")  # trained, being measured
        starting = len(handed) - training - measuring
        extra = [f"{measuring} measuring"] if measuring else []
        extra += [f"{starting} {self.pending}"] if starting else []
        besides = " (" + ", ".join(extra) + ")" if extra else ""
        eta = state.eta()
        parts = [
            f"sweep {state.manifest.name}: {counts['finished']}/{len(state.trials)} done",
            f"{training} running{besides}",
        ]
        parts += [f"{counts[s]} {s}" for s in ("failed", "waiting") if counts[s]]  # what is not there takes no room
        parts.append(f"ETA {duration_text(eta)}" if eta is not None else "ETA after a trial")
        return " · ".join(parts)

    def change(self, state, line: str) -> None:
        self.state = state
        if self.live is not None:
            self.live.console.print(escape(f"{state.manifest.name}/{line}"))
            self.drawn = 0.0  # redraw now
            self.tick(state)
        else:
            print(f"{self.summary(state)} | {display_name(line)}", flush=True)

    def tick(self, state) -> None:
        if self.live is None or time.monotonic() - self.drawn < TICK_SECONDS:
            return  # the trials' status files are read twice a second, not on every turn of the loop
        self.drawn = time.monotonic()
        from rich.console import Group
        from rich.text import Text

        lines = [Text(self.summary(state), style="bold", no_wrap=True, overflow="ellipsis")]
        for trial in state.trials:
            if state.manifest.trials[trial.name].state != "running":
                continue
            status = state.run(trial).raw_status()
            progress = trial.config.budget.work_progress(status.step, status.examples)
            worst = status.latest_worst
            best = f"worst length {worst:.4f}" if worst is not None else ""
            lines.append(Text(f"  {trial.name:<28} {progress:>4.0%}  {best}", no_wrap=True, overflow="ellipsis"))
        self.live.update(Group(*lines))
