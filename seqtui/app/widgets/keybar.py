"""The keys line at the bottom of every screen: one widget drawn as one line.

Textual's Footer is a row of widgets (one per key) that it takes down and builds again whenever
the screen's keys change, and they change several times while a screen is first shown (each focus
change): about half of a screen's first showing went into it. This draws the same line from the
screen's active bindings, rebuilds nothing, and redraws only when what it shows changed. A click
on a key presses it, as Footer's do. Keys that do not fit are left out whole (never cut in the
middle of a word), and the command palette's key keeps its place at the right end.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.widget import Widget


@dataclass(frozen=True)
class Shown:
    key: str  # what pressing it simulates
    display: str  # how the key is written ("^q", "space")
    description: str
    enabled: bool


class KeyBar(Widget):
    ALLOW_SELECT = False
    COMPONENT_CLASSES = {"keybar--key", "keybar--description", "keybar--disabled"}
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        width: 1fr;
        background: $footer-background;
        color: $footer-foreground;
        .keybar--key {
            color: $footer-key-foreground;
            text-style: bold;
        }
        .keybar--description {
            color: $footer-description-foreground;
        }
        .keybar--disabled {
            text-style: dim;
        }
    }
    """
    PALETTE_BAR = "▏"

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.keys: tuple[Shown, ...] = ()  # what the screen's bindings offer, in their order
        self.palette: Shown | None = None
        self._spans: list[tuple[int, int, Shown]] = []  # where each key was drawn (x from, x to)
        self._pending = False  # a reading of the screen's keys is due

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen) -> None:
        # read once the screen has settled, as Footer does: the keys change several times while a
        # screen is composed, and the screen's bindings are not to be read in the middle of that
        if screen is self.screen and not self._pending:
            self._pending = True
            self.call_after_refresh(self._update)

    def _update(self) -> None:
        self._pending = False
        if not self.is_attached:
            return
        keys, palette = self._read(self.screen)
        if (keys, palette) != (self.keys, self.palette):
            self.keys, self.palette = keys, palette
            self.refresh()

    def _read(self, screen) -> tuple[tuple[Shown, ...], Shown | None]:
        app = self.app
        active = screen.active_bindings
        seen: set[str] = set()
        keys: list[Shown] = []
        for _node, binding, enabled, _tooltip in active.values():
            if not binding.show or binding.action in seen:  # one key per action, as Footer shows them
                continue
            seen.add(binding.action)
            keys.append(self._shown(binding, enabled, screen))
        palette = None
        if app.ENABLE_COMMAND_PALETTE and app.COMMAND_PALETTE_BINDING in active:
            _node, binding, enabled, _tooltip = active[app.COMMAND_PALETTE_BINDING]
            palette = self._shown(binding, enabled, screen)
            keys = [k for k in keys if k.key != palette.key]
        # the focused widget's keys come first in Textual's order; quitting stays first, where it
        # is found at once on every screen, the others keep their order
        keys.sort(key=lambda k: k.key != "ctrl+q")
        return tuple(keys), palette

    def _shown(self, binding: Binding, enabled: bool, screen) -> Shown:
        # a screen may say what a key does now ("Resume" while paused): key_label(action) -> str | None
        label = getattr(screen, "key_label", lambda action: None)(binding.action)
        return Shown(binding.key, self.app.get_key_display(binding), label or binding.description, enabled)

    def line(self, width: int) -> tuple[Text, list[tuple[int, int, Shown]]]:
        """The line for `width` cells and where each key lies on it."""
        key_style = self.get_component_rich_style("keybar--key", partial=True)
        description_style = self.get_component_rich_style("keybar--description", partial=True)
        disabled_style = self.get_component_rich_style("keybar--disabled", partial=True)

        def item(shown: Shown) -> Text:
            text = Text.assemble((shown.display, key_style))
            if shown.description:
                text.append(" " + shown.description, description_style)
            if not shown.enabled:
                text.stylize(disabled_style)
            return text

        right, palette = Text(), self.palette
        if palette is not None:
            right = Text(self.PALETTE_BAR, style=description_style) + item(palette)
        room = width - right.cell_len - (1 if palette else 0)  # a space before the palette's bar
        line, spans, x = Text(), [], 0
        for shown in self.keys:
            text = item(shown)
            gap = 1 if x else 0
            if x + gap + text.cell_len > room:
                break  # the keys that do not fit are left out whole
            line.append(" " * gap)
            spans.append((x + gap, x + gap + text.cell_len, shown))
            line.append_text(text)
            x += gap + text.cell_len
        if palette is not None:
            start = max(x, width - right.cell_len)
            line.append(" " * (start - x))
            spans.append((start + cell_len(self.PALETTE_BAR), start + right.cell_len, palette))
            line.append_text(right)
        return line, spans

    def render(self) -> Text:
        line, self._spans = self.line(self.size.width)
        return line

    def on_mouse_down(self, event: events.MouseDown) -> None:
        for start, end, shown in self._spans:
            if start <= event.x < end:
                if shown.enabled:
                    self.app.simulate_key(shown.key)
                else:
                    self.app.bell()
                event.stop()
                return
