"""Every setting a user may give, once: its command-line flag, its label in the app's new-run
form, how its text is read and shown, and where it lives in TrainConfig. The command line, the form
and a sweep's grid are all built from SETTINGS, so a new setting is added here and nowhere else.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from seqtui.settings import networks
from seqtui.settings.errors import SeqtuiError
from seqtui.settings.units import count_text, parse_count, parse_real, parse_seconds, parse_whole
from seqtui.settings.values import INITS, NEGATIVES, SCHEDULES, TASKS, choice


# -- every setting a user can give, once ----------------------------------------------------------
@dataclass(frozen=True)
class Setting:
    name: str  # the flag without its dashes: --batch-size -> "batch-size"
    path: tuple[str, ...]  # where it lives in TrainConfig
    label: str  # in the app's form
    help: str
    parse: Callable[[str], Any]
    words: tuple[str, ...] | Callable[[], tuple[str, ...]] = ()  # the words it takes, or where to find them
    off: str | None = None  # the word that turns an optional setting off (None: it cannot be)
    on_resume: bool = False  # may change when a run resumes (how it is run or watched, not what it learns)
    budget: bool = False  # a budget limit: on resume it extends the run by this much
    advanced: bool = False  # shown in the form's second part
    blank: str = ""  # what an empty field means, shown in it (the form)

    @property
    def choices(self) -> tuple[str, ...]:
        """The words this setting takes (the models: as registered now); () for a number."""
        return self.words() if callable(self.words) else self.words

    @property
    def flag(self) -> str:
        return f"--{self.name}"

    def read(self, text: str) -> Any:
        """The value of `text` as typed on the command line or in the form."""
        text = str(text).strip()
        if self.off is not None and text.lower() in (self.off, "", "none"):
            return None
        if self.choices:
            return choice(self.label, text, self.choices)
        value = self.parse(text)
        if self.name == "clip" and value == 0:  # clip 0 has always meant off
            return None
        return value

    def value(self, given: Any) -> Any:
        """The typed value of `given`: text as a person writes it (read()), or a value as JSON or
        TOML hold it (a number, a word, null for off), checked against the setting's kind. Its
        message names the value; the caller names the setting, in its own words."""
        if isinstance(given, str):
            return self.read(given)
        if given is None and self.off is not None:
            return None
        if self.choices or self.parse is str:
            raise SeqtuiError(f"{given!r} is not one of its words")
        if isinstance(given, bool) or not isinstance(given, (int, float)):
            raise SeqtuiError(f"{given!r} is not a number")
        if self.parse in (parse_count, parse_whole):
            if not (isinstance(given, int) or (math.isfinite(given) and given.is_integer())):
                raise SeqtuiError(f"{given!r} is not a whole number")
            return int(given)  # ranges are the config's to check
        try:
            value = float(given)  # an integer past a float's range overflows
        except OverflowError:
            raise SeqtuiError(f"{str(given)[:20]}... is far too large") from None
        if not math.isfinite(value):
            raise SeqtuiError(f"{given!r} is not a finite number")
        if self.name == "clip" and value == 0:
            return None
        return value

    def show(self, value: Any) -> str:
        """`value` written the way read() takes it back."""
        if value is None:
            return self.off or ""
        if self.parse is parse_count:
            return count_text(value)
        if isinstance(value, float):
            return f"{value:g}" if self.parse is not parse_seconds else f"{value:g}s"
        return str(value)


def _setting(name, path, label, help, parse=str, choices=(), **kw) -> Setting:
    return Setting(name, tuple(path.split(".")), label, help, parse, choices, **kw)


SETTINGS: list[Setting] = [
    _setting(
        "task",
        "task.task",
        "task",
        "match: the second half repeats the pattern; palindrome: it mirrors it",
        choices=TASKS,
    ),
    _setting(
        "negatives",
        "task.negatives",
        "negatives",
        "how negatives differ from the target: a random second half, exactly one digit (hard), or both",
        choices=NEGATIVES,
    ),
    _setting("n-min", "task.n_min", "shortest pattern", "shortest pattern (sequence length 2n)", parse_whole),
    _setting("n-max", "task.n_max", "longest pattern", "longest pattern (sequence length 2n)", parse_whole),
    _setting("model", "model.model", "model", "the network (seqtui models lists them)", choices=networks.names),
    _setting("hidden", "model.hidden", "hidden units", "hidden units", parse_whole),
    _setting("init", "model.init", "init", "identity: W_hh = I, zero recurrent bias (IRNN; rnn only)", choices=INITS),
    _setting("lr", "lr", "learning rate", "peak learning rate (Adam)", parse_real),
    _setting("batch-size", "batch_size", "batch size", "examples per optimiser step", parse_count),
    _setting("clip", "clip", "clip", "max gradient norm; 0 or off turns clipping off", parse_real, off="off"),
    _setting("schedule", "schedule", "schedule", "learning rate over the budget", choices=SCHEDULES),
    _setting(
        "warmup",
        "warmup",
        "warm-up",
        "fraction of the budget over which the learning rate rises to its peak (cosine schedule)",
        parse_real,
    ),
    _setting(
        "curriculum",
        "curriculum",
        "curriculum",
        "fraction of the budget over which the longest pattern trained on grows from n-min + 2 to n-max "
        "(0: every length from the start)",
        parse_real,
    ),
    _setting("seed", "seed", "seed", "seed of the weights and the data", parse_whole),
    _setting(
        "samples",
        "budget.samples",
        "budget: examples",
        "budget in training examples (20k, 1.5M)",
        parse_count,
        off="off",
        budget=True,
        on_resume=True,
    ),
    _setting(
        "steps",
        "budget.steps",
        "budget: steps",
        "budget in optimiser steps",
        parse_count,
        off="off",
        budget=True,
        on_resume=True,
    ),
    _setting(
        "time",
        "budget.seconds",
        "time cap",
        "stop after this much training time (90, 5m, 1h)",
        parse_seconds,
        off="off",
        budget=True,
        on_resume=True,
    ),
    _setting(
        "target-acc",
        "target_accuracy",
        "target accuracy",
        "stop once held-out accuracy reaches this at every length",
        parse_real,
        off="off",
        on_resume=True,
        advanced=True,
    ),
    _setting(
        "device", "device", "device", "auto (CUDA when present), cpu, cuda or cuda:N", on_resume=True, advanced=True
    ),
    _setting(
        "threads",
        "threads",
        "CPU threads",
        "torch's CPU threads (auto: torch's choice)",
        parse_whole,
        off="auto",
        on_resume=True,
        advanced=True,
        blank="auto",
    ),
    _setting(
        "eval-samples",
        "eval_samples",
        "held-out examples",
        "size of the held-out set checked during training",
        parse_count,
        on_resume=True,
        advanced=True,
    ),
    _setting(
        "eval-every",
        "eval_every",
        "evaluate every",
        "training examples between held-out evaluations (default: about 20 over the budget)",
        parse_count,
        on_resume=True,
        advanced=True,
        blank="about 20 over the run",
    ),
    _setting(
        "checkpoint-every",
        "checkpoint_every",
        "checkpoint every",
        "training examples between checkpoints (off: with each evaluation)",
        parse_count,
        off="off",
        on_resume=True,
        advanced=True,
        blank="with each evaluation",
    ),
    _setting(
        "log-every",
        "log_every",
        "log every (s)",
        "seconds between metrics lines",
        parse_real,
        on_resume=True,
        advanced=True,
    ),
]


SETTING = {s.name: s for s in SETTINGS}


# settings `seqtui sweep` has no flag for: threads and log-every are the sweep's to choose; its
# --eval-samples is the trial's measurement (the held-out set checked while training: a sweep file)
SWEEP_NO_FLAG = ("model", "threads", "log-every", "eval-samples")


def flag_arguments(values: dict[str, Any]) -> list[str]:
    """Settings by name as the command line takes them (`--samples 400k`); unset ones left out."""
    args = []
    for name, value in values.items():
        if value is not None:
            args += [SETTING[name].flag, SETTING[name].show(value)]
    return args
