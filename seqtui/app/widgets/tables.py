"""A table of rows to open (the runs list, a sweep's trials)."""

from __future__ import annotations

from typing import Sequence

from textual.binding import Binding
from textual.widgets import DataTable


def room_left(width: int, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> int:
    """What a table's first column may take of `width`: what the other columns (`headers`, the
    rows' cells under them) leave, each as wide as its widest cell, a cell of padding either side."""
    return width - sum(2 + max([len(h)] + [len(str(row[i])) for row in rows]) for i, h in enumerate(headers))


class RowTable(DataTable):
    """A row each: Enter opens the row (the screen's RowSelected handler does it; the key is
    named in the keys line, where a plain table's own Enter hid the screen's), Home and End move
    the cursor to the first and the last row (a plain table only scrolls)."""

    BINDINGS = [
        Binding("enter", "select_cursor", "Open"),
        Binding("home", "first_row", "First", show=False),
        Binding("end", "last_row", "Last", show=False),
    ]

    def action_first_row(self) -> None:
        if self.row_count:
            self.move_cursor(row=0)

    def action_last_row(self) -> None:
        if self.row_count:
            self.move_cursor(row=self.row_count - 1)
