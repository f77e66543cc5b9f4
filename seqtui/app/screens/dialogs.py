"""Modal dialogs, each returning a value through dismiss()."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from seqtui.errors import SeqtuiError
from seqtui.models import INITS, MODELS
from seqtui.presets import DEFAULT_MODEL, DEFAULT_SECONDS, MODEL_DEFAULTS, preset_config
from seqtui.tasks import NEGATIVES, TASKS
from seqtui.training import Budget, TrainConfig


class QuitDialog(ModalScreen[str | None]):
    BINDINGS = [
        Binding("l", "choose('leave')", "Leave it running"),
        Binding("s", "choose('stop')", "Stop it"),
        Binding("escape", "choose(None)", "Cancel"),
    ]

    def __init__(self, run_name: str):
        super().__init__()
        self.run_name = run_name

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"{self.run_name} is still training.", classes="dialog-title")
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
            yield Static(self.question)
            with Horizontal(classes="buttons"):
                yield Button("Yes (y)", id="yes", variant="error")
                yield Button("No (n)", id="no", variant="primary")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


def parse_budget(text: str) -> Budget:
    """`60s`, `5m`, `20000 steps`, `1M samples`, or empty for the default."""
    text = text.strip().lower()
    if not text:
        return Budget()
    number, _, unit = text.partition(" ")
    for suffix, unit_name in (("s", "s"), ("m", "m"), ("h", "h")):
        if not unit and number.endswith(suffix) and number[:-1].replace(".", "", 1).isdigit():
            number, unit = number[:-1], unit_name
    scale = 1.0
    if number[-1:] in ("k", "m") and unit in ("steps", "samples", "examples"):
        scale = 1e3 if number[-1] == "k" else 1e6
        number = number[:-1]
    try:
        value = float(number) * scale
    except ValueError:
        raise SeqtuiError("budget: write e.g. 60s, 5m, 20000 steps or 1M samples") from None
    if value <= 0:
        raise SeqtuiError("budget must be positive")
    unit = unit or "s"
    if unit in ("s", "sec", "seconds"):
        return Budget(seconds=value)
    if unit in ("m", "min", "minutes"):
        return Budget(seconds=value * 60)
    if unit in ("h", "hours"):
        return Budget(seconds=value * 3600)
    if unit in ("steps", "step"):
        return Budget(steps=int(value))
    if unit in ("samples", "examples"):
        return Budget(samples=int(value))
    raise SeqtuiError(f"budget: unknown unit {unit!r} (use s, m, h, steps or samples)")


# field id -> (label, kind, parse)
FIELDS = {
    "task": ("task", TASKS),
    "negatives": ("negatives", NEGATIVES),
    "model": ("model", MODELS),
    "init": ("init", INITS),
    "n_min": ("shortest pattern", int),
    "n_max": ("longest pattern", int),
    "hidden": ("hidden units", int),
    "lr": ("learning rate", float),
    "batch_size": ("batch size", int),
    "clip": ("clip (0: off)", float),
    "budget": ("budget", parse_budget),
    "seed": ("seed", int),
    "device": ("device", str),
}


class NewRunDialog(ModalScreen[TrainConfig | None]):
    """The settings of a new run; each invalid value is explained beside its field."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "start", "Start", priority=True)]

    def compose(self) -> ComposeResult:
        per_model = MODEL_DEFAULTS[DEFAULT_MODEL]
        defaults = {
            "n_min": "1", "n_max": "10", "hidden": str(per_model["hidden"]), "lr": f"{per_model['lr']:g}",
            "batch_size": str(per_model["batch_size"]), "clip": f"{per_model['clip']:g}",
            "budget": f"{DEFAULT_SECONDS['random']:g}s", "seed": "0", "device": "auto",
        }
        with Vertical(classes="dialog wide"):
            yield Label("New run", classes="dialog-title")
            with VerticalScroll(id="form"):
                with Grid(id="fields"):
                    for key, (label, kind) in FIELDS.items():
                        yield Label(label, classes="field-label")
                        if isinstance(kind, tuple):
                            first = {"model": DEFAULT_MODEL}.get(key, kind[0])
                            yield Select([(k, k) for k in kind], value=first, allow_blank=False, id=f"f-{key}",
                                         compact=True)
                        else:
                            yield Input(defaults[key], id=f"f-{key}", compact=True)
                        yield Label("", id=f"e-{key}", classes="field-error")
            yield Static("", id="form-error")
            with Horizontal(classes="buttons"):
                yield Button("Start (ctrl+s)", id="start", variant="primary")
                yield Button("Cancel (esc)", id="cancel")

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "f-model":  # the chosen model's own defaults
            per_model = MODEL_DEFAULTS.get(str(event.value), MODEL_DEFAULTS[DEFAULT_MODEL])
            self.query_one("#f-hidden", Input).value = str(per_model["hidden"])
            self.query_one("#f-lr", Input).value = f"{per_model['lr']:g}"
        if event.select.id == "f-negatives":
            self.query_one("#f-budget", Input).value = f"{DEFAULT_SECONDS.get(str(event.value), 60):g}s"
        self._check()

    def on_input_changed(self, event: Input.Changed) -> None:
        self._check()

    def _values(self) -> tuple[dict, dict]:
        values, errors = {}, {}
        for key, (label, kind) in FIELDS.items():
            if isinstance(kind, tuple):
                values[key] = str(self.query_one(f"#f-{key}", Select).value)
                continue
            text = self.query_one(f"#f-{key}", Input).value.strip()
            try:
                values[key] = kind(text)
            except (ValueError, SeqtuiError) as error:
                errors[key] = str(error) if isinstance(error, SeqtuiError) else f"not a valid {label}"
        return values, errors

    def _config(self) -> tuple[TrainConfig | None, dict]:
        values, errors = self._values()
        if errors:
            return None, errors
        settings = {f"--{k.replace('_', '-')}": v for k, v in values.items() if k not in ("budget", "device")}
        config = preset_config(settings, values["budget"])
        config.device = values["device"]
        checks = {
            "hidden": lambda: config.model.validate(),
            "n_min": lambda: config.task.validate(),
            "budget": lambda: config.budget.validate(),
        }
        for key, check in checks.items():
            try:
                check()
            except SeqtuiError as error:
                errors["init" if "rnn model only" in str(error) else key] = str(error)
        if not errors:
            try:
                config.validate()
            except SeqtuiError as error:
                field = next((k for k in ("lr", "batch_size", "clip", "device") if k.split("_")[0] in str(error).lower()), None)
                errors[field or "form"] = str(error)
        return (None if errors else config), errors

    def _check(self) -> TrainConfig | None:
        config, errors = self._config()
        for key in FIELDS:
            self.query_one(f"#e-{key}", Label).update(errors.get(key, ""))
        self.query_one("#form-error", Static).update(errors.get("form", ""))
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
