"""The probe screen: type a sequence, see the verdict, p(match) step by step and the hidden state."""

from __future__ import annotations

import math
from pathlib import Path

import torch
from rich.markup import escape
from rich.style import Style
from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.reactive import var
from textual.widgets import Button, Input, Static

from seqtui.app.messages import ModelFailed, ModelLoaded, ProjectionFitted
from seqtui.app.screens.base import RunFollowingScreen
from seqtui.app.widgets.chart import Chart, Line, Note
from seqtui.app.widgets.heatmap import SEQUENTIAL, Heatmap, colour_of
from seqtui.core.checkpoint import Checkpoint, load_checkpoint
from seqtui.core.models import SequenceClassifier
from seqtui.core.projection import Projection, fit_projection
from seqtui.core.tasks import is_positive, make_batch, parse_sequence
from seqtui.settings.errors import SeqtuiError
from seqtui.store.run import Run


class SequenceInput(Input):
    """An input that takes only what a sequence is written with, so letters reach the screen's keys;
    any other character is refused visibly (`Refused`), by the same rule as `seqtui predict`."""

    KEYS = set("rnhcxpiq/?")  # the probe screen's letter keys, and the help

    class Refused(Message):
        def __init__(self, character: str) -> None:
            super().__init__()
            self.character = character

    def check_consume_key(self, key: str, character: str | None) -> bool:
        return character is not None and (character.isdigit() or character in " ,")

    async def _on_key(self, event: events.Key) -> None:
        if event.is_printable and not self.check_consume_key(event.key, event.character):
            event.prevent_default()  # not typed into the field: the screen's bindings have it
            if event.character is not None and event.character not in self.KEYS:
                self.post_message(self.Refused(event.character))


class ProbeScreen(RunFollowingScreen):
    MODE = "probe"
    BINDINGS = [
        Binding("r", "example('positive')", "Positive"),
        Binding("n", "example('random')", "Negative"),
        Binding("h", "example('hard')", "Hard"),
        Binding("c", "change_digit", "Change"),
        Binding("x", "next_state", "State"),
        Binding("p", "toggle_view", "PCA"),
        Binding("slash,i", "edit", "Edit"),
        Binding("pageup", "scroll_results(-1)", "Scroll up", show=False),
        Binding("pagedown", "scroll_results(1)", "Scroll down", show=False),
        Binding("q", "app.quit", "Quit", show=False),
    ]

    # which state is shown, and how; each change draws the sequence shown again
    shown_state = var("hidden", init=False)  # "hidden", or an extra state the model's unroll gives (an LSTM's "cell")
    # the states as a path on two principal components, not as units
    show_path = var(False, init=False, toggle_class="-path")

    def __init__(self) -> None:
        super().__init__()
        self.model: SequenceClassifier | None = None
        self.checkpoint: Checkpoint | None = None
        self.model_problem: str | None = None  # why there is no model to probe
        self.loaded_from: tuple[Path, float] | None = None
        self.digits: list[int] | None = None
        # "hidden" or an extra state's name -> the model's principal components, or why there are none; fitted when
        # the PCA path is first shown for a checkpoint, in a worker
        self.projections: dict[str, Projection | str] = {}
        self.generator = torch.Generator().manual_seed(0)

    def compose(self) -> ComposeResult:
        yield from self.compose_frame()
        with Vertical(id="probe-body"):
            yield Static("no run attached: open one from the runs list (F2)", id="probe-model", classes="status-line")
            with Horizontal(id="probe-input-row"):
                yield SequenceInput(placeholder="type a sequence: 1 4 2 1 4 2, 1,4,2,1,4,2 or 142142", id="sequence")
                yield Button("positive (r)", id="positive")
                yield Button("negative (n)", id="random")
                yield Button("hard (h)", id="hard")
                yield Button("change (c)", id="change")
            # the answer scrolls as one (wheel, PageUp/PageDown even while typing): a long sequence's
            # strip and heatmap stay reachable at 80x24
            with VerticalScroll(id="probe-results"):
                yield Static("", id="probe-error")
                yield Static("", id="verdict")
                yield Static("", id="strip")
                yield Heatmap(id="hidden-map")
            yield Chart("", id="pca-chart")
        yield from self.compose_footer()

    def on_screen_resume(self) -> None:
        self.query_one("#sequence", Input).focus()

    # -- the model, kept in step with the run's latest checkpoint ------------------------------
    def attached(self, run: Run) -> None:
        """Another run: its model replaces the one shown (nothing of the previous run stays)."""
        self.model = self.checkpoint = self.loaded_from = None
        self.model_problem = None
        self.projections = {}
        self.query_one("#probe-model", Static).update(Text(f"{run.shown_name}: loading its checkpoint ..."))
        self.query_one("#verdict", Static).update("")

    def changed(self) -> None:
        """Load the run's checkpoint when it is newer than the model shown."""
        self.dirty = False
        follower = self.follower
        if follower is None or follower.checkpoint_mtime is None:
            if follower is not None:
                self.query_one("#probe-model", Static).update(Text(f"{follower.run.shown_name}: no checkpoint yet"))
            return
        stamp = (follower.run.checkpoint_path, follower.checkpoint_mtime)
        if self.loaded_from != stamp:
            self.loaded_from = stamp
            self.load(*stamp)

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load(self, path: Path, mtime: float) -> None:
        try:
            checkpoint = load_checkpoint(path)
            model = checkpoint.build_model("cpu")
        except SeqtuiError as error:
            self.post_message(ModelFailed(path, str(error)))
            return
        except Exception as error:  # a bug: the screen still says there is no model, and the app reports it
            self.post_message(ModelFailed(path, f"loading failed: {type(error).__name__}: {error}"))
            raise
        self.post_message(ModelLoaded(model, checkpoint, mtime))

    def on_model_failed(self, message: ModelFailed) -> None:
        if self.follower is None or message.path != self.follower.run.checkpoint_path:
            return  # a load for a run no longer shown
        self.model = self.checkpoint = None
        self.model_problem = message.reason
        self.projections = {}
        self.query_one("#probe-model", Static).update(
            Text.assemble((self.follower.run.shown_name, "bold"), ": ", (message.reason, "red"))
        )
        self.query_one("#verdict", Static).update("")
        self.query_one("#strip", Static).update("")

    @work(thread=True, group="fit", exit_on_error=False)
    def fit(self, model: SequenceClassifier, checkpoint: Checkpoint, state: str) -> None:
        try:
            projection: Projection | str = fit_projection(model, checkpoint.config.task, state)
        except SeqtuiError as problem:  # a diverged model can still be probed, just not projected
            projection = str(problem)
        self.post_message(ProjectionFitted(checkpoint, state, projection))

    def on_projection_fitted(self, message: ProjectionFitted) -> None:
        if message.checkpoint is self.checkpoint:  # not one of a checkpoint replaced meanwhile
            self.projections[message.state] = message.projection
            if self.show_path and self.digits is not None:
                self.analyse(self.digits)

    def on_model_loaded(self, message: ModelLoaded) -> None:
        if self.follower is None or self.loaded_from != (self.follower.run.checkpoint_path, message.mtime):
            return  # a load for a run (or a checkpoint) no longer shown
        self.model, self.checkpoint = message.model, message.checkpoint
        self.model_problem = None
        self.projections = {}
        config = message.checkpoint.config
        self.query_one("#probe-model", Static).update(
            f"[b]{escape(self.follower.run.shown_name)}[/]  {config.model.model}{config.model.hidden}  "
            f"{config.task.task}/{config.task.negatives}  lengths {2 * config.task.n_min}-{2 * config.task.n_max}"
            f"  {'step' if self.size.width < 100 else 'checkpoint at step'} {message.checkpoint.step:,}"
        )
        if self.digits is not None:
            self.analyse(self.digits)

    # -- input ----------------------------------------------------------------------------------
    def on_input_submitted(self, event: Input.Submitted) -> None:
        try:
            digits = parse_sequence(event.value)
        except SeqtuiError as problem:
            self.refuse(str(problem))
            return
        self.query_one("#probe-error", Static).update("")
        self.analyse(digits)

    def on_input_changed(self, event: Input.Changed) -> None:
        """A sequence being typed again: the last error no longer speaks of what is in the field."""
        self.query_one("#probe-error", Static).update("")

    def on_sequence_input_refused(self, message: SequenceInput.Refused) -> None:
        shown = message.character if message.character.isprintable() else repr(message.character)
        self.refuse(f"not a digit: {shown!r} (a sequence is digits 0-9; r n h c x p are keys here)")

    def refuse(self, problem: str) -> None:
        """An error in place of the verdict: nothing of the previous answer stays on screen."""
        self.digits = None
        self.query_one("#probe-error", Static).update(Text(problem, style="red"))
        self.query_one("#verdict", Static).update("")
        self.query_one("#strip", Static).update("")
        self.query_one("#hidden-map", Heatmap).show([])
        self.query_one("#pca-chart", Chart).plot([], title="")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "change":
            self.action_change_digit()
        elif event.button.id is not None:  # positive, random or hard: the kind of example
            self.action_example(event.button.id)

    def action_edit(self) -> None:
        self.query_one("#sequence", Input).focus()

    def action_example(self, kind: str) -> None:
        if self.checkpoint is None:
            self.notify("no model yet: open a run with a checkpoint", severity="warning")
            return
        task = self.checkpoint.config.task
        n = int(torch.randint(task.n_min, task.n_max + 1, (1,), generator=self.generator))
        negatives = "random" if kind == "positive" else kind
        while True:
            batch = make_batch(task, n, 8, self.generator, negatives)
            wanted = 1 if kind == "positive" else 0
            rows = (batch.labels == wanted).nonzero()
            if len(rows):
                break
        self.show_digits(batch.digits[int(rows[0])].tolist())

    def action_change_digit(self) -> None:
        if not self.digits:
            return
        digits = list(self.digits)
        position = int(torch.randint(0, len(digits), (1,), generator=self.generator))
        digits[position] = (digits[position] + int(torch.randint(1, 10, (1,), generator=self.generator))) % 10
        self.show_digits(digits)
        self.notify(f"changed step {position + 1} to {digits[position]}")

    def action_next_state(self) -> None:
        """Show the next of the model's states: hidden, then each extra one its unroll gives."""
        states = ["hidden", *self.model_spec_states()]
        if len(states) == 1:
            model = self.checkpoint.config.model.model if self.checkpoint is not None else "model"
            self.notify(f"a {model} has only its hidden state", severity="warning")
            return
        current = states.index(self.shown_state) if self.shown_state in states else 0
        self.shown_state = states[(current + 1) % len(states)]

    def model_spec_states(self) -> tuple[str, ...]:
        if self.checkpoint is None:
            return ()
        try:
            return self.checkpoint.config.model.spec.states
        except SeqtuiError:
            return ()

    def action_scroll_results(self, pages: int) -> None:
        results = self.query_one("#probe-results", VerticalScroll)
        if pages > 0:
            results.scroll_page_down()
        else:
            results.scroll_page_up()

    def action_toggle_view(self) -> None:
        self.show_path = not self.show_path

    def watch_shown_state(self) -> None:
        if self.digits is not None:
            self.analyse(self.digits)

    def watch_show_path(self) -> None:
        if self.digits is not None:
            self.analyse(self.digits)

    def show_digits(self, digits: list[int]) -> None:
        field = self.query_one("#sequence", Input)
        field.value = " ".join(map(str, digits))
        field.cursor_position = len(field.value)  # what is typed next goes at the end
        self.query_one("#probe-error", Static).update("")
        self.analyse(digits)

    # -- the analysis -----------------------------------------------------------------------------
    def analyse(self, digits: list[int]) -> None:
        self.digits = digits
        if self.model is None or self.checkpoint is None:
            self.query_one("#verdict", Static).update(
                Text(f"no model: {self.model_problem}", style="red")
                if self.model_problem
                else Text("waiting for the model to load", style="dim")
            )
            return
        model, checkpoint = self.model, self.checkpoint
        task = checkpoint.config.task
        with torch.inference_mode():
            unrolled = model.unroll(torch.tensor([digits]))
        p_steps = torch.softmax(unrolled.logits[0], dim=1)[:, 1].tolist()
        p_match = p_steps[-1]
        verdict = p_match > 0.5
        truth = is_positive(digits, task.task)
        right = "[green]right[/]" if verdict == truth else "[red]wrong[/]"
        n = len(digits) // 2
        in_range = task.n_min <= n <= task.n_max
        if not math.isfinite(p_match):
            self.query_one("#verdict", Static).update(
                f"[red]the model's output is {p_match} (its training diverged): no verdict[/]   "
                f"truly {'match' if truth else 'no match'}"
            )
        else:
            self.query_one("#verdict", Static).update(
                f"verdict [b]{'match' if verdict else 'no match'}[/]   p(match) {p_match:.4f}   "
                f"truly {'match' if truth else 'no match'}   {right}"
                + (
                    ""
                    if in_range
                    else f"   [yellow]length {len(digits)} is outside the trained {2 * task.n_min}-{2 * task.n_max}[/]"
                )
            )
        self.query_one("#strip", Static).update(self._strip(digits, p_steps, self.size.width - 2))
        name = self.shown_state if self.shown_state in unrolled.states else "hidden"
        states = unrolled.state(name)
        what = f"{name} state"
        if self.show_path:
            self._draw_path(model, checkpoint, digits, torch.stack(states, dim=1)[0], name)
            return
        rows = [state[0].tolist() for state in states]
        labels = [f"{step}:{digit}" for step, digit in enumerate(digits, 1)]  # step:digit, two a line
        label_width = 2 * max(map(len, labels)) + 2
        available = max(10, self.size.width - label_width - 5)  # the screen's and the heatmap's padding
        units = len(rows[0])
        shown = min(units, available)
        self.query_one("#hidden-map", Heatmap).show(
            [row[:shown] for row in rows],
            labels=labels,
            x_range=(1, shown),  # the units, numbered under their columns
            diverging=checkpoint.config.model.spec.signed,
            title=f"{what}, steps x units"
            + (f" 1-{shown} of {units}" if shown < units else "")
            + (f"   x: {'/'.join(['hidden', *unrolled.states])}" if unrolled.states else "")
            + "   p: PCA path",
        )

    def _draw_path(
        self, model: SequenceClassifier, checkpoint: Checkpoint, digits: list[int], states: torch.Tensor, state: str
    ) -> None:
        """The sequence's states (T, H) as a path on the two principal components of held-out states."""
        chart = self.query_one("#pca-chart", Chart)
        what = f"{state} state"
        projection = self.projections.get(state)
        if projection is None:
            projection = self.projections[state] = "fitting the principal components on held-out sequences ..."
            self.fit(model, checkpoint, state)
        if isinstance(projection, str):  # being fitted, or why there are none
            chart.empty_message = projection
            chart.plot([], title=f"{what}: principal components")
            return
        path = projection.project(states)
        xs, ys = path[:, 0].tolist(), path[:, 1].tolist()
        lines = [
            Line(
                projection.ends[0][:, 0].tolist(),
                projection.ends[0][:, 1].tolist(),
                "ends: no match",
                "red",
                "dot",
                scatter=True,
            ),
            Line(
                projection.ends[1][:, 0].tolist(),
                projection.ends[1][:, 1].tolist(),
                "ends: match",
                "green",
                "dot",
                scatter=True,
            ),
            Line(xs, ys, "this sequence", "cyan", "braille"),
        ]
        n = len(digits) // 2
        notes = [Note(xs[0], ys[0], "1"), Note(xs[n - 1], ys[n - 1], str(n)), Note(xs[-1], ys[-1], str(len(digits)))]
        first, second = projection.explained
        chart.plot(
            lines,
            notes=notes,
            title=f"{what}: PC1 ({first:.0%}) x PC2 ({second:.0%}) of {projection.fitted_on:,} held-out states",
        )

    @staticmethod
    def _strip(digits: list[int], p_steps: list[float], width: int = 1000) -> Text:
        """Digits over p(match) after each step: a coloured cell and its value in percent. When the
        sequence does not fit in `width`, each half (pattern, then second half) gets its own block,
        and a half that still does not fit is cut into as many blocks as it needs."""
        n = len(digits) // 2
        per_block = max(4, (width - 10) // 3)
        if len(digits) <= per_block:
            blocks = [range(0, len(digits))]
        else:
            halves = ((0, n), (n, len(digits)))
            blocks = [range(s, min(s + per_block, end)) for lo, end in halves for s in range(lo, end, per_block)]
        text = Text()
        for number, block in enumerate(blocks):
            if number:
                text.append("\n\n")
            bar = ["|" if i == n and i != block[0] else " " for i in block]
            text.append("step     ", style="dim")
            for mark, i in zip(bar, block):
                text.append(mark + f"{digits[i]:>2}")
            text.append("\np(match) ", style="dim")
            for mark, i in zip(bar, block):
                text.append(mark)
                text.append("██", Style(color=f"color({colour_of(p_steps[i], 0.0, 1.0, SEQUENTIAL)})"))
            label = f"{block[0] + 1}-{block[-1] + 1}" if len(blocks) > 1 else ""
            text.append("\n" + label.ljust(9), style="dim")
            for mark, i in zip(bar, block):
                p = p_steps[i]
                percent = f"{min(int(p * 100), 99):>2}" if math.isfinite(p) else "--"
                text.append(mark + percent, style="dim")
        return text
