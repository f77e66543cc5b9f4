"""A heatmap of half-block characters: two data rows per terminal line, every row shown.

plotext's matrix plots drop rows when there are more rows than lines; here the upper half of a
cell is one row (foreground colour) and the lower half the next (background colour).
"""

from __future__ import annotations

import math
from functools import lru_cache
from itertools import groupby

from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.widget import Widget

from seqtui.app.widgets.chart import nice_ticks, tick_label

# 256-colour palettes (SSH sessions rarely forward truecolor)
SEQUENTIAL = [17, 18, 19, 20, 26, 32, 38, 44, 43, 42, 41, 77, 113, 149, 185, 221, 220, 214, 208, 202]
DIVERGING = [21, 27, 33, 39, 75, 111, 147, 183, 244, 217, 210, 209, 203, 197, 196]


NOT_A_NUMBER = 244  # grey: what a NaN or infinite value is drawn in
CHANCE_ERROR, BEST_ERROR = 0.5, 1e-3  # the ends of the accuracy scale: chance, and 99.9%


def error_position(accuracy: float) -> float:
    """0 at chance, 1 at 99.9% and above: an accuracy on a log scale of its error (1 - accuracy),
    so that 0.98, 0.99 and 0.999 are as far apart as 0.5, 0.8 and 0.95."""
    if not math.isfinite(accuracy):
        return accuracy
    error = min(max(1.0 - accuracy, BEST_ERROR), CHANCE_ERROR)
    return (math.log10(CHANCE_ERROR) - math.log10(error)) / (math.log10(CHANCE_ERROR) - math.log10(BEST_ERROR))


def colour_of(value: float, low: float, high: float, palette: list[int]) -> int:
    if not math.isfinite(value) or not (math.isfinite(low) and math.isfinite(high)):
        return NOT_A_NUMBER
    if high <= low:
        return palette[len(palette) // 2]
    position = (value - low) / (high - low)
    index = int(round(min(max(position, 0.0), 1.0) * (len(palette) - 1)))
    return palette[index]


@lru_cache(maxsize=1024)
def _style(foreground: int | None, background: int | None) -> Style | None:
    if foreground is None:
        return None
    return Style(color=f"color({foreground})", bgcolor=None if background is None else f"color({background})")


def not_a_number(value: float) -> bool:
    """NaN: drawn blank, like a missing (None) value."""
    return isinstance(value, float) and math.isnan(value)


class Heatmap(Widget):
    """`show(rows, ...)`: rows of values, each row a line-half; labels for every other row.

    A value of None is no data (drawn blank). With `x_range`, columns are read as evenly spaced
    values from x_range[0] to x_range[1] and an axis of round values is drawn below the map.
    """

    DEFAULT_CSS = """
    Heatmap { height: auto; width: 1fr; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None):
        super().__init__(id=id, classes=classes)
        self.rows: list[list[float | None]] = []
        self.labels: list[str] = []
        self.low, self.high = 0.0, 1.0
        self.palette = SEQUENTIAL
        self.title = ""
        self.legend_format = "{:.2f}"
        self.x_range: tuple[float, float] | None = None
        self.accuracy = False

    def show(
        self,
        rows: list[list[float | None]],
        *,
        labels: list[str] | None = None,
        low: float | None = None,
        high: float | None = None,
        diverging: bool = False,
        title: str = "",
        legend_format: str = "{:.2f}",
        x_range: tuple[float, float] | None = None,
        accuracy: bool = False,
    ) -> None:
        """`accuracy`: values are accuracies, coloured by error on a log scale (error_position)."""
        if accuracy:
            rows = [[None if v is None or not_a_number(v) else error_position(v) for v in row] for row in rows]
            low, high, diverging = 0.0, 1.0, False
        self.accuracy = accuracy
        self.rows = rows
        self.labels = labels or [""] * len(rows)
        self.x_range = x_range
        values = [v for row in rows for v in row if v is not None and not not_a_number(v)]
        if diverging:
            bound = max((abs(v) for v in values), default=1.0) or 1.0
            self.low, self.high = (-bound if low is None else low), (bound if high is None else high)
        else:
            self.low = min(values, default=0.0) if low is None else low
            self.high = max(values, default=1.0) if high is None else high
        self.palette = DIVERGING if diverging else SEQUENTIAL
        self.title, self.legend_format = title, legend_format
        self.refresh(layout=True)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return (len(self.rows) + 1) // 2 + 2 + (1 if self.x_range else 0)

    def render(self) -> Text:
        text = Text(no_wrap=True, overflow="crop")
        if self.title:  # one line, as get_content_height counts it: cut rather than wrapped
            width = self.size.width or len(self.title)
            title = self.title if len(self.title) <= width else self.title[: max(0, width - 1)] + "…"
            text.append(title + "\n", style="bold")
        label_width = max((len(label) for label in self.labels), default=0)
        for top in range(0, len(self.rows), 2):
            upper = self.rows[top]
            lower = self.rows[top + 1] if top + 1 < len(self.rows) else None
            pair = self.labels[top] + ("/" + self.labels[top + 1] if lower is not None and self.labels[top + 1] else "")
            text.append(pair.rjust(label_width * 2 + 1) + " ", style="dim")
            cells = (self._cell(value, None if lower is None else lower[i]) for i, value in enumerate(upper))
            for (character, foreground, background), alike in groupby(cells):
                # neighbouring cells drawn alike go out as one segment
                text.append(character * len(list(alike)), _style(foreground, background))
            text.append("\n")
        if self.x_range and self.rows:
            indent = label_width * 2 + 2
            room = (self.size.width or indent + len(self.rows[0]) + 8) - indent  # a label never wraps the line
            text.append(self._axis(indent, len(self.rows[0]), *self.x_range, room) + "\n", style="dim")
        text.append(" " * (label_width * 2 + 2))
        ends = (
            ("error 50%", "0.1% (log)")
            if self.accuracy
            else tuple(map(self.legend_format.format, (self.low, self.high)))
        )
        text.append(ends[0] + " ", style="dim")
        for colour in self.palette:
            text.append("█", Style(color=f"color({colour})"))
        text.append(" " + ends[1], style="dim")
        return text

    def _colour(self, value: float) -> int:
        return colour_of(value, self.low, self.high, self.palette)

    def _cell(self, upper: float | None, lower: float | None) -> tuple[str, int | None, int | None]:
        """(character, foreground, background) of a cell holding two rows' values."""
        if upper is None or not_a_number(upper):
            if lower is None or not_a_number(lower):
                return (" ", None, None)
            return ("▄", self._colour(lower), None)
        if lower is None or not_a_number(lower):
            return ("▀", self._colour(upper), None)
        return ("▀", self._colour(upper), self._colour(lower))

    def _axis(self, indent: int, columns: int, first: float, last: float, room: int = 10**6) -> str:
        """Round x values under the columns they fall in, from `first` to `last`: '|250k     |500k ...',
        within `room` characters (a label that would not fit is left out)."""
        line = [" "] * max(1, min(columns + 8, room))
        span = (last - first) or 1.0
        free_from = 0
        for tick in nice_ticks(first, last, max(2, columns // 10)):
            column = int(round((tick - first) / span * (columns - 1)))
            label = "|" + tick_label(tick)
            if column < free_from or column + len(label) > len(line):
                continue
            line[column : column + len(label)] = label
            free_from = column + len(label) + 1
        return " " * indent + "".join(line).rstrip()
