"""The gradients screen: how much of the last step's gradient reaches each earlier step."""

from __future__ import annotations

from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from seqtui.app.screens.base import RunFollowingScreen
from seqtui.app.widgets.chart import COLOURS, RICH_COLOURS, Chart, Line
from seqtui.store.layout import distinct_names


class GradientsScreen(RunFollowingScreen):
    MODE = "gradients"
    BINDINGS = [Binding("q", "app.quit", "Quit", show=False)]

    def compose(self) -> ComposeResult:
        yield from self.compose_frame()
        with Vertical(id="gradients-body"):
            yield Static(
                "no run attached: open one from the runs list (F2)", id="gradients-status", classes="status-line"
            )
            yield Static("", id="gradients-ratios")
            with Horizontal(id="gradient-charts"):
                yield Chart("|dL/dh_t| against t", id="flow-chart")
                yield Chart("first/last over training", id="ratio-chart")
        yield from self.compose_footer()

    def changed(self) -> None:
        self.dirty = False
        self.redraw()

    def redraw(self) -> None:
        follower = self.follower
        if follower is None:
            return
        measured = [
            e
            for e in follower.history.evaluations
            if "gradient_norms_by_length" in e and "gradient_ratio_by_length" in e
        ]
        status = self.query_one("#gradients-status", Static)
        if not measured:
            status.update(
                f"[b]{escape(follower.run.shown_name)}[/]: "
                + (
                    f"[red]{escape(follower.problem)}[/]"
                    if follower.problem
                    else "no gradient measurement yet (one comes with every held-out evaluation)"
                )
            )
            return
        latest = measured[-1]
        norms = latest["gradient_norms_by_length"]
        lengths = sorted(norms, key=int)
        ratios = latest["gradient_ratio_by_length"]
        # laid out here, a line at a time, so a narrow screen breaks between "length: ratio" entries
        width = max(20, self.size.width - 4)
        text, line = "", "|dL/dh_1| / |dL/dh_T| by length:"
        for entry in (f"{n}: {_ratio(ratios.get(n))}" for n in lengths):
            if len(line) + 2 + len(entry) > width:
                text, line = text + line + "\n", ""
            line += (" " if line.endswith(":") else "  " if line else "") + entry
        self.query_one("#gradients-ratios", Static).update(text + line)
        shown = lengths[-1:] + lengths[len(lengths) // 2 : len(lengths) // 2 + 1] + lengths[:1]
        shown = list(dict.fromkeys(shown))  # the longest, a middle and the shortest length
        lines = []
        for i, n in enumerate(shown):
            points = [(t, v) for t, v in enumerate(norms[n], 1) if v is not None and v > 0]
            lines.append(Line([t for t, _ in points], [v for _, v in points], f"length {n}", COLOURS[i % len(COLOURS)]))
        key = " ".join(f"[{RICH_COLOURS[i % len(RICH_COLOURS)]}]■[/] {n}" for i, n in enumerate(shown))
        about = f"  gradient flow at step {latest['step']:,} " + (
            f"({len(measured)} measurements)   " if self.size.width >= 100 else " "
        )
        plain_key = "lengths " + " ".join(f"■ {n}" for n in shown)
        # one line: the run's name gives way (shortened in its middle) before the key wraps
        room = max(8, self.size.width - 2 - len(about) - len(plain_key))
        name = distinct_names([follower.run.shown_name], room)[0]
        status.update(
            Text.from_markup(  # rich markup: its colour names are the chart's ANSI colours
                f"[b]{escape(name)}[/]{about}lengths {key}"
            )
        )
        # no legend box: it sits on the top left, where the short lengths' lines are
        self.query_one("#flow-chart", Chart).plot(
            lines, title="|dL/dh_t| against step t (log)", log_y=True, x_label="step t", legend=False
        )
        longest = lengths[-1]
        points = [(e["examples"], e["gradient_ratio_by_length"].get(longest)) for e in measured]
        points = [(x, y) for x, y in points if y is not None and y > 0]
        self.query_one("#ratio-chart", Chart).plot(
            [Line([x for x, _ in points], [y for _, y in points], f"length {longest}", "cyan")],
            title=f"first/last at length {longest} (log)",
            log_y=True,
            x_label="examples",
            legend=False,
        )


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2g}"
