"""Modal dialogs, each returning a value through dismiss()."""

from __future__ import annotations

from typing import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from seqtui.app.widgets.keybar import KeyBar
from seqtui.settings.config import TrainConfig
from seqtui.settings.errors import SeqtuiError, SettingError
from seqtui.settings.limits import check_training_fits
from seqtui.settings.presets import gpu_likely, preset_config
from seqtui.settings.registry import SETTING, SETTINGS, Setting

DERIVED = ("eval-every",)  # left blank, the preset works it out from the budget
PRESET_CHOICES = [("default", "default"), ("tutorial", "tutorial")]


class QuitDialog(ModalScreen[str | None]):
    BINDINGS = [
        Binding("l", "choose('leave')", "Leave it running"),
        Binding("s", "choose('stop')", "Stop it"),
        Binding("escape", "choose(None)", "Cancel"),
    ]

    def __init__(self, run_name: str, still_training: Callable[[], bool] | None = None):
        """`still_training`: asked every half second; once it is not, the question is moot: the
        dialog answers "ended" by itself."""
        super().__init__()
        self.run_name = run_name
        self.still_training = still_training

    def on_mount(self) -> None:
        if self.still_training is not None:
            self.set_interval(0.5, self._check)

    def _check(self) -> None:
        if self.still_training is not None and not self.still_training():
            self.dismiss("ended")

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Text(f"{self.run_name} is still training."), classes="dialog-title")
            yield Static("Leave it running (reattach later with seqtui), or stop it (it saves a checkpoint)?")
            with Horizontal(classes="buttons"):
                yield Button("Leave running (l)", id="leave", variant="primary")
                yield Button("Stop (s)", id="stop", variant="error")
                yield Button("Cancel (esc)", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None if event.button.id == "cancel" else event.button.id)

    def action_choose(self, choice: str | None) -> None:
        self.dismiss(choice)


class ConfirmDialog(ModalScreen[bool]):
    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, question: str):
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.question))
            with Horizontal(classes="buttons"):
                yield Button("Yes (y)", id="yes", variant="error")
                yield Button("No (n)", id="no", variant="primary")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class NewRunDialog(ModalScreen[TrainConfig | None]):
    """The settings of a new run, every one of SETTINGS; each invalid value is explained beside its field.

    It opens on the default preset; choosing a model or negatives puts that preset's values in.
    A blank field without an 'off' word (evaluate every) takes the preset's own value."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "start", "Start", priority=True)]
    AUTO_FOCUS = "#f-preset"  # the first field: Enter opens its list, Tab goes down the form

    def __init__(self, preset: str = "default"):
        super().__init__()
        self.preset = preset
        self.gpu = gpu_likely()  # device auto on a GPU box: the card's presets, as `seqtui train` takes

    def compose(self) -> ComposeResult:
        preset = preset_config({}, self.preset, gpu=self.gpu)
        with Vertical(classes="dialog wide"):
            yield Label("New run", classes="dialog-title")
            with VerticalScroll(id="form", can_focus=False):  # it scrolls to the focused field
                with Grid(classes="fields"):
                    yield Label("preset", classes="field-label")
                    yield Select(PRESET_CHOICES, value=self.preset, allow_blank=False, id="f-preset", compact=True)
                    yield Label("tutorial: the blog's recipe", classes="field-hint")
                for advanced in (False, True):
                    if advanced:
                        yield Label("how it runs and is watched (may change when it resumes)", classes="form-part")
                    with Grid(classes="fields"):
                        for setting in SETTINGS:
                            if setting.advanced != advanced:
                                continue
                            yield Label(setting.label, classes="field-label")
                            key = setting.name
                            if setting.choices:
                                yield Select(
                                    [(c, c) for c in setting.choices],
                                    value=preset.value(key),
                                    allow_blank=False,
                                    id=f"f-{key}",
                                    compact=True,
                                )
                            else:
                                yield Input(
                                    self._shown(setting, preset),
                                    id=f"f-{key}",
                                    compact=True,
                                    placeholder=setting.blank or setting.off or "",
                                )
                            yield Label("", id=f"e-{key}", classes="field-error")
            yield Static("", id="form-error")
            with Horizontal(classes="buttons"):
                yield Button("Start (ctrl+s)", id="start", variant="primary")
                yield Button("Cancel (esc)", id="cancel")
        yield KeyBar()  # the form's keys, not those of the screen under it

    def on_select_changed(self, event: Select.Changed) -> None:
        key = (event.select.id or "")[2:]
        if key == "preset":  # every field from the chosen preset
            self.preset = str(event.value)
            preset = preset_config({}, self.preset, gpu=self.gpu)
            for setting in SETTINGS:
                if setting.choices:
                    self.query_one(f"#f-{setting.name}", Select).value = preset.value(setting.name)
                else:
                    self.query_one(f"#f-{setting.name}", Input).value = self._shown(setting, preset)
        elif key in ("model", "negatives"):  # that model's (or those negatives') own values in the preset
            try:
                chosen = {"model": self._text("model"), "negatives": self._text("negatives")}
                preset = preset_config(chosen, self.preset, gpu=self.gpu)
            except SeqtuiError:  # a package's model that cannot be loaded: _check says why, under the field
                self._check()
                return
            budget = ("samples", "steps", "time")  # by model and negatives
            learning = ("hidden", "lr", "batch-size", "clip", "warmup", "curriculum")
            for name in (*learning, *budget) if key == "model" else budget:
                self.query_one(f"#f-{name}", Input).value = self._shown(SETTING[name], preset)
        self._check()

    @staticmethod
    def _shown(setting: Setting, preset: TrainConfig) -> str:
        """A setting's value in its field: blank where the field's placeholder says what blank means."""
        if setting.name in DERIVED:
            return ""
        value = preset.value(setting.name)
        return "" if value is None else setting.show(value)

    def on_input_changed(self, event: Input.Changed) -> None:
        self._check()

    def _text(self, key: str) -> str:
        if SETTING[key].choices:
            return str(self.query_one(f"#f-{key}", Select).value)
        return self.query_one(f"#f-{key}", Input).value

    def values(self) -> tuple[dict, dict]:
        """What the form says, setting by setting, and what is wrong with each field."""
        values, errors = {}, {}
        for setting in SETTINGS:
            text = self._text(setting.name).strip()
            if not text and setting.off is None and not setting.choices:
                if setting.name in DERIVED:
                    continue
                errors[setting.name] = f"{setting.label}: required"
                continue
            try:
                values[setting.name] = setting.read(text)
            except SeqtuiError as error:
                errors[setting.name] = str(error)
        return values, errors

    def _config(self) -> tuple[TrainConfig | None, dict]:
        values, errors = self.values()
        if errors:
            return None, errors
        try:
            config = preset_config(values, self.preset)
            check_training_fits(config)
        except SettingError as error:  # under the field it names
            return None, {error.setting if error.setting in SETTING else "form": str(error)}
        except SeqtuiError as error:  # about the whole run (its memory): under the form
            return None, {"form": str(error)}
        return config, {}

    def _check(self) -> TrainConfig | None:
        config, errors = self._config()
        for setting in SETTINGS:
            self.query_one(f"#e-{setting.name}", Label).update(Text(errors.get(setting.name, "")))
        self.query_one("#form-error", Static).update(Text(errors.get("form", "")))
        return config

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start":
            self.action_start()
        else:
            self.dismiss(None)

    def action_start(self) -> None:
        config = self._check()
        if config is not None:
            self.dismiss(config)

    def action_cancel(self) -> None:
        self.dismiss(None)
