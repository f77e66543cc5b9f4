"""A line chart drawn by plotext at the widget's own size."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import plotext as plt
from rich.text import Text
from textual.widget import Widget

SMOOTHING = [0.0, 0.6, 0.9, 0.97]  # the weights `m` cycles through on screens with training curves
# one line colour per run, in order: plotext's names and rich's names of the same ANSI colours
# (6, 3, 2, 5, 12, 1, 14), so a table's key matches the chart in every terminal theme
COLOURS = ["cyan", "orange", "green", "magenta", "blue+", "red", "cyan+"]
RICH_COLOURS = ["cyan", "yellow", "green", "magenta", "bright_blue", "red", "bright_cyan"]


@dataclass
class Line:
    xs: Sequence[float]
    ys: Sequence[float]
    label: str | None = None
    color: str = "cyan"
    marker: str = "braille"
    scatter: bool = False  # points, not a line: thinned by taking every k-th point, never averaged


@dataclass
class Note:
    """A text placed at a data point."""

    x: float
    y: float
    text: str
    color: str | None = None  # None: the terminal's own text colour (reads on light and dark)


def thin(xs: Sequence[float], ys: Sequence[float], most: int) -> tuple[Sequence[float], Sequence[float]]:
    """At most `most` points, each the mean of a run of neighbours (plotext's cost is per point)."""
    if len(xs) <= most:
        return xs, ys
    step = len(xs) / most
    out_x, out_y = [], []
    for i in range(most):
        start, end = int(i * step), max(int((i + 1) * step), int(i * step) + 1)
        out_x.append(sum(xs[start:end]) / (end - start))
        out_y.append(sum(ys[start:end]) / (end - start))
    return out_x, out_y


def nice_ticks(low: float, high: float, most: int) -> list[float]:
    """About `most` (at most most + 1) round values inside [low, high], 1, 2, 2.5 or 5 times a power
    of ten apart."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low or most < 2:
        return []
    raw = (high - low) / most
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]


def tick_label(value: float) -> str:
    """Short tick text: 1.2M, 400k, 35, 0.5."""
    size = abs(value)
    for scale, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if size >= scale:
            return f"{value / scale:.4g}{unit}"
    return f"{value:.4g}"


class Chart(Widget):
    """Call `plot()` with lines; the chart is rebuilt only when its data or size changes."""

    DEFAULT_CSS = """
    Chart { height: 1fr; width: 1fr; min-height: 6; }
    """

    def __init__(self, title: str = "", *, id: str | None = None, classes: str | None = None):
        super().__init__(id=id, classes=classes)
        self.title = title
        self.lines: list[Line] = []
        self.log_y = False
        self.y_range: tuple[float, float] | None = None
        self.x_label = ""
        self.empty_message = "waiting for data"
        self.vertical: Sequence[float] = []
        self.x_ticks: Sequence[float] | None = None
        self.notes: list[Note] = []
        self.legend = True
        self._cache: tuple[tuple, Text] | None = None
        self._version = 0

    def plot(
        self,
        lines: list[Line],
        *,
        title: str | None = None,
        log_y: bool = False,
        y_range: tuple[float, float] | None = None,
        x_label: str = "",
        vertical: Sequence[float] | None = None,
        x_ticks: Sequence[float] | None = None,
        notes: list[Note] | None = None,
        legend: bool = True,
    ) -> None:
        """`legend=False` when the screen shows which colour is which (plotext's legend box sits on
        the plot's top left and can hide lines there)."""
        self.lines = [line for line in lines if line.xs]
        self.legend = legend
        self.notes = notes or []
        if title is not None:
            self.title = title
        self.log_y, self.y_range, self.x_label = log_y, y_range, x_label
        self.vertical = vertical or []
        self.x_ticks = x_ticks
        self._version += 1
        self.refresh()

    def render(self) -> Text:
        width, height = self.size.width, self.size.height
        key = (self._version, width, height)
        if self._cache and self._cache[0] == key:
            return self._cache[1]
        text = self._build(width, height)
        self._cache = (key, text)
        return text

    def _build(self, width: int, height: int) -> Text:
        if width < 10 or height < 4:
            return Text("")
        if not self.lines:
            return Text(f"{self.title}\n{self.empty_message}", style="dim")
        plt.clf()
        plt.limitsize(False, False)
        plt.plotsize(width - 1, height)  # plotext draws one column past its width
        plt.theme("clear")  # no background: reads on light and dark terminals alike
        for line in self.lines:
            if line.scatter:
                stride = max(1, len(line.xs) // (4 * width))
                plt.scatter(
                    line.xs[::stride],
                    line.ys[::stride],
                    label=line.label if self.legend else None,
                    color=line.color,
                    marker=line.marker,
                )
                continue
            xs, ys = thin(line.xs, line.ys, 2 * width)  # braille: two points a column is all that shows
            if self.log_y:
                ys = [max(y, 1e-6) for y in ys]
            plt.plot(xs, ys, label=line.label if self.legend else None, color=line.color, marker=line.marker)
        if self.notes:
            xs = [x for line in self.lines for x in line.xs]
            low, high = min(xs), max(xs)
        for note in self.notes:  # text near an edge runs inwards, so the edge does not cut it
            where = (note.x - low) / ((high - low) or 1.0)
            alignment = "left" if where < 0.2 else "right" if where > 0.8 else "center"
            plt.text(note.text, note.x, note.y, color=note.color or "default", alignment=alignment)
        for x in self.vertical:
            plt.vline(x, "gray")
        ticks = self.x_ticks
        if ticks is None:  # round values, shortly written, instead of plotext's 814186.7
            xs = [x for line in self.lines for x in line.xs]
            ticks = nice_ticks(min(xs), max(xs), max(2, min(8, width // 10))) or [min(xs)]  # one point: its x
        if ticks:
            plt.xticks(ticks, [tick_label(t) for t in ticks])
        if self.log_y:
            plt.yscale("log")
        if self.y_range:
            plt.ylim(*self.y_range)
        room = width - 9  # plotext drops a title wider than the plot (the y labels take ~8 columns)
        plt.title(self.title if len(self.title) <= room else self.title[: room - 1] + "…")
        if self.x_label:
            plt.xlabel(self.x_label)
        return Text.from_ansi(plt.build(), no_wrap=True)
