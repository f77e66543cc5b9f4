"""What every seqtui screen shares: header, footer, a status line and the too-small notice."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Static

TOO_SMALL = "terminal too small: seqtui needs at least 80 x 24 (this one is {w} x {h})"
MODES = [("f2", "runs", "Runs"), ("f3", "train", "Train"), ("f4", "probe", "Probe"), ("f5", "evaluate", "Evaluate"),
         ("f6", "gradients", "Gradients")]


def nav_text(current: str) -> str:
    """The screens and their keys, the current one highlighted."""
    parts = []
    for key, mode, label in MODES:
        if mode == current:
            parts.append(f"[reverse b] {key.upper()} {label} [/]")
        else:
            parts.append(f" [b]{key.upper()}[/] {label} ")
    return "[b]seqtui[/]  " + " ".join(parts)


class SeqtuiScreen(Screen):
    POLL_SECONDS = 0.5  # the trainer writes a metrics line every half second

    MODE = ""

    def compose_frame(self) -> ComposeResult:
        yield Static(nav_text(self.MODE), id="nav", markup=True)
        yield Static("", id="too-small")

    def compose_footer(self) -> ComposeResult:
        yield Footer()

    def on_resize(self, event) -> None:
        self._check_size()

    def on_screen_resume(self) -> None:
        self._check_size()

    def _check_size(self) -> None:
        small = self.app.too_small
        self.set_class(small, "-too-small")
        if small:
            self.query_one("#too-small", Static).update(
                TOO_SMALL.format(w=self.app.size.width, h=self.app.size.height)
            )
