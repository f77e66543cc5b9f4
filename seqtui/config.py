"""A run's settings: plain dataclasses with their checks, and nothing that needs torch.

`TrainConfig` is what a run's config.json holds. It is read back strictly (`from_dict`): a value
of the wrong type, out of range or not a finite number is refused with a message that names the
setting, so a damaged or hand-edited file never reaches the trainer as a TypeError.

`SETTINGS` lists every setting a user may give, once: its command-line flag, its label in the
app's new-run form, how its text is read and where it lives in the config. The command line and
the form are both built from it, so a new setting is added here and nowhere else.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Callable

from seqtui.errors import SeqtuiError

TASKS = ("match", "palindrome")
NEGATIVES = ("random", "hard", "mixed")
MODELS = ("rnn", "lstm", "gru")
INITS = ("default", "identity")
SCHEDULES = ("cosine", "constant")

FORMAT = 2  # config.json's layout; files without "format" are from the first version
MAX_SEED = 2**32 - 1
MAX_HIDDEN = 16_384
MAX_PATTERN = 500  # sequences up to 1,000 digits
MAX_BATCH = 1 << 20
MAX_THREADS = 1024
MAX_COUNT = 10**15  # steps, examples: more than any machine trains
_DEVICE = re.compile(r"auto|cpu|cuda(:\d{1,2})?")


# -- reading values strictly ----------------------------------------------------------------------
def _whole(name: str, value: Any, low: int = 0, high: int = MAX_COUNT) -> int:
    if isinstance(value, bool) or not isinstance(value, int):  # 8.0 too: torch wants an int
        raise SeqtuiError(f"{name} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise SeqtuiError(f"{name} must be between {low:,} and {high:,}, got {value:,}")
    return value


def _real(name: str, value: Any, positive: bool = True, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SeqtuiError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise SeqtuiError(f"{name} must be a finite number, got {value}")
    if positive and not value > 0:
        raise SeqtuiError(f"{name} must be positive, got {value:g}")
    if value > high:
        raise SeqtuiError(f"{name} must be at most {high:g}, got {value:g}")
    return value


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise SeqtuiError(f"unknown {name} {value!r}: choose one of {', '.join(choices)}")
    return value


def _known(name: str, data: Any, cls) -> dict:
    if not isinstance(data, dict):
        raise SeqtuiError(f"{name} must be an object, got {data!r}")
    unknown = sorted(set(data) - {f.name for f in fields(cls)})
    if unknown:
        raise SeqtuiError(f"{name} has an unknown setting {unknown[0]!r}")
    return data


# -- the parts of a run's settings ----------------------------------------------------------------
@dataclass(frozen=True)
class TaskConfig:
    task: str = "match"
    negatives: str = "random"
    n_min: int = 1  # shortest pattern: sequences are 2 * n_min digits long
    n_max: int = 10

    def validate(self) -> "TaskConfig":
        _choice("task", self.task, TASKS)
        _choice("negatives", self.negatives, NEGATIVES)
        if isinstance(self.n_min, int) and self.n_min < 1:
            raise SeqtuiError(f"n_min must be at least 1, got {self.n_min}")
        _whole("n_min", self.n_min, 1, MAX_PATTERN)
        _whole("n_max", self.n_max, 1, MAX_PATTERN)
        if self.n_min > self.n_max:
            raise SeqtuiError(f"n_min ({self.n_min}) is larger than n_max ({self.n_max})")
        return self

    @property
    def pattern_lengths(self) -> range:
        return range(self.n_min, self.n_max + 1)

    @property
    def sequence_lengths(self) -> list[int]:
        return [2 * n for n in self.pattern_lengths]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> "TaskConfig":
        return cls(**_known("task", data, cls)).validate()


@dataclass(frozen=True)
class ModelConfig:
    model: str = "lstm"
    hidden: int = 128
    init: str = "default"  # "identity": W_hh = I and zero recurrent bias (IRNN), rnn only

    def validate(self) -> "ModelConfig":
        _choice("model", self.model, MODELS)
        if isinstance(self.hidden, int) and not isinstance(self.hidden, bool) and self.hidden < 1:
            raise SeqtuiError(f"hidden size must be at least 1, got {self.hidden}")
        _whole("hidden size", self.hidden, 1, MAX_HIDDEN)
        _choice("init", self.init, INITS)
        if self.init == "identity" and self.model != "rnn":
            raise SeqtuiError("--init identity applies to the rnn model only")
        return self

    @property
    def gates(self) -> int:
        """Affine maps per step: the weight matrices are gates * hidden rows tall."""
        return {"rnn": 1, "lstm": 4, "gru": 3}[self.model]

    def parameter_count(self) -> int:
        h, g = self.hidden, self.gates
        return g * h * (10 + h + 2) + 2 * h + 2  # W_ih, W_hh, two biases; the head

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> "ModelConfig":
        return cls(**_known("model", data, cls)).validate()


@dataclass
class Budget:
    """When to stop: whichever of the set limits comes first. All None means no limit.

    Steps and examples are work: a run with such a budget learns the same on any machine. Seconds
    of training are a cap on wall time; when it is the only limit, the learning-rate schedule has
    to follow the clock, and the run can no longer be reproduced exactly.
    """

    steps: int | None = None
    samples: int | None = None  # training examples
    seconds: float | None = None  # training time, excluding time spent paused

    def is_set(self) -> bool:
        return any(v is not None for v in (self.steps, self.samples, self.seconds))

    def in_work(self) -> bool:
        return self.steps is not None or self.samples is not None

    def work_progress(self, step: int, examples: int) -> float:
        """Fraction of the work budget done, by the limit closest to being reached."""
        done = [0.0]
        if self.steps:
            done.append(step / self.steps)
        if self.samples:
            done.append(examples / self.samples)
        return min(max(done), 1.0)

    def progress(self, step: int, examples: int, elapsed: float) -> float:
        """Fraction done, 0..1, by whichever limit is closest (0 with no limit)."""
        done = self.work_progress(step, examples)
        if self.seconds:
            done = max(done, elapsed / self.seconds)
        return min(done, 1.0)

    def reached(self, step: int, examples: int, elapsed: float) -> bool:
        return (
            (self.steps is not None and step >= self.steps)
            or (self.samples is not None and examples >= self.samples)
            or (self.seconds is not None and elapsed >= self.seconds)
        )

    def extended(self, extra: "Budget", step: int, examples: int, elapsed: float) -> "Budget":
        """This budget grown by `extra`, counted from where a run stands now."""
        return Budget(
            steps=None if extra.steps is None else step + extra.steps,
            samples=None if extra.samples is None else examples + extra.samples,
            seconds=None if extra.seconds is None else elapsed + extra.seconds,
        )

    def validate(self) -> "Budget":
        for name, flag in (("steps", "steps"), ("samples", "samples")):
            value = getattr(self, name)
            if value is not None:
                if isinstance(value, (int, float)) and not isinstance(value, bool) and value <= 0:
                    raise SeqtuiError(f"--{flag} must be positive, got {value}")
                _whole(f"--{flag}", value, 1)
        if self.seconds is not None:
            _real("--time", self.seconds)
        return self

    def describe(self) -> str:
        parts = []
        if self.samples is not None:
            parts.append(f"{count_text(self.samples)} examples")
        if self.steps is not None:
            parts.append(f"{count_text(self.steps)} steps")
        if self.seconds is not None:
            parts.append(f"{self.seconds:g} s")
        return ", ".join(parts) or "no limit"

    def again(self) -> "Budget":
        """As much training again as this budget (its main limit, rounded up to two significant digits)."""
        if self.samples:
            return Budget(samples=_round_up(self.samples))
        if self.steps:
            return Budget(steps=_round_up(self.steps))
        return Budget(seconds=self.seconds or 60.0)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> "Budget":
        return cls(**_known("budget", data, cls)).validate()


@dataclass
class TrainConfig:
    task: TaskConfig = field(default_factory=TaskConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    lr: float = 3e-3
    batch_size: int = 256
    clip: float | None = 1.0  # max gradient norm; None trains unclipped
    schedule: str = "cosine"  # over the budget, from lr down to lr * LR_FLOOR
    warmup: float = 0.0  # fraction of the budget over which the learning rate rises to its peak
    # fraction of the budget over which the longest pattern drawn grows from n_min + 2 to n_max
    # (shortest first); 0: every length from the first step
    curriculum: float = 0.0
    seed: int = 0
    device: str = "auto"
    threads: int | None = None  # torch's CPU threads; None: torch's own choice
    budget: Budget = field(default_factory=Budget)
    target_accuracy: float | None = None  # stop once the worst length reaches this
    eval_samples: int = 20_000  # size of the fixed held-out set
    eval_every: int = 100_000  # training examples between held-out evaluations
    checkpoint_every: int | None = None  # training examples between checkpoints; None: at each evaluation
    log_every: float = 0.5  # seconds between metrics lines (what a viewer sees; not what is learned)

    def validate(self) -> "TrainConfig":
        self.task.validate()
        self.model.validate()
        self.budget.validate()
        try:
            _real("learning rate", self.lr, high=10.0)
        except SeqtuiError:
            raise SeqtuiError(f"learning rate must be a positive number up to 10, got {self.lr!r}") from None
        if isinstance(self.batch_size, int) and not isinstance(self.batch_size, bool) and self.batch_size < 1:
            raise SeqtuiError(f"batch size must be at least 1, got {self.batch_size}")
        _whole("batch size", self.batch_size, 1, MAX_BATCH)
        if self.clip is not None:
            try:
                _real("clip", self.clip)
            except SeqtuiError:
                raise SeqtuiError(f"clip must be positive (or off), got {self.clip!r}") from None
        _choice("schedule", self.schedule, SCHEDULES)
        if isinstance(self.warmup, bool) or not isinstance(self.warmup, (int, float)) or not 0 <= self.warmup <= 0.5:
            raise SeqtuiError(f"warm-up must be a fraction of the budget from 0 to 0.5, got {self.warmup!r}")
        value = self.curriculum
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise SeqtuiError(f"curriculum must be a fraction of the budget from 0 to 1, got {value!r}")
        _whole("seed", self.seed, 0, MAX_SEED)
        if not isinstance(self.device, str) or not _DEVICE.fullmatch(self.device):
            raise SeqtuiError(f"unknown device {self.device!r}: use auto, cpu, cuda or cuda:N")
        if self.threads is not None:
            _whole("threads", self.threads, 1, MAX_THREADS)
        if self.target_accuracy is not None:
            value = self.target_accuracy
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
                raise SeqtuiError(f"target accuracy must be in (0, 1], got {value!r}")
        _whole("eval samples", self.eval_samples, 1, 10**8)
        if self.eval_samples < len(self.task.pattern_lengths):
            raise SeqtuiError(f"eval samples must be at least one per length, got {self.eval_samples}")
        _whole("eval every (examples)", self.eval_every, 1)
        if self.checkpoint_every is not None:
            _whole("checkpoint every (examples)", self.checkpoint_every, 1)
        _real("log every (seconds)", self.log_every, high=3600.0)
        return self

    @property
    def reproducible(self) -> bool:
        """Whether the same config and seed give the same weights (on one device and thread count)."""
        return self.schedule == "constant" or self.budget.in_work() or not self.budget.is_set()

    def to_dict(self) -> dict:
        return {"format": FORMAT, **asdict(self)}

    @classmethod
    def from_dict(cls, data: Any) -> "TrainConfig":
        """A validated config from parsed JSON; anything wrong becomes one SeqtuiError."""
        if not isinstance(data, dict):
            raise SeqtuiError(f"the settings must be an object, got {type(data).__name__}")
        data = dict(data)
        version = data.pop("format", 1)
        if version == 1:  # the first version counted eval_every in seconds and had no threads
            data.pop("eval_every", None)
        elif version != FORMAT:
            raise SeqtuiError(f"settings in format {version!r}, which this seqtui does not know (it reads {FORMAT})")
        _known("the settings", data, cls)
        values = dict(data)
        values["task"] = TaskConfig.from_dict(data.get("task", {}))
        values["model"] = ModelConfig.from_dict(data.get("model", {}))
        values["budget"] = Budget.from_dict(data.get("budget", {}))
        return cls(**values).validate()

    def replaced(self, values: dict[str, Any]) -> "TrainConfig":
        """A copy with settings (by name, as in SETTINGS) changed, checked."""
        data = self.to_dict()
        for name, value in values.items():
            where = data
            *parents, last = SETTING[name].path
            for part in parents:
                where = where[part]
            where[last] = value
        return TrainConfig.from_dict(data)

    def value(self, name: str) -> Any:
        where: Any = self
        for part in SETTING[name].path:
            where = getattr(where, part)
        return where


# -- numbers as people write them -----------------------------------------------------------------
_SCALE = {"k": 10**3, "m": 10**6, "g": 10**9}


def parse_count(text: str) -> int:
    """`20000`, `20_000`, `20,000`, `20k`, `1.5M`, `2e6` -> a whole number."""
    cleaned = str(text).strip().lower().replace("_", "").replace(",", "")
    scale = 1
    if cleaned[-1:] in _SCALE:
        cleaned, scale = cleaned[:-1], _SCALE[cleaned[-1]]
    try:
        value = float(cleaned) * scale
    except ValueError:
        raise SeqtuiError(f"not a count: {text!r} (write e.g. 20000, 20k or 1.5M)") from None
    if not math.isfinite(value) or not value.is_integer():
        raise SeqtuiError(f"not a whole count: {text!r}")
    return int(value)


def parse_seconds(text: str) -> float:
    """`90`, `90s`, `5m`, `1.5h` -> seconds."""
    cleaned = str(text).strip().lower()
    scale = 1.0
    for suffix, size in (("s", 1.0), ("m", 60.0), ("h", 3600.0)):
        if cleaned.endswith(suffix):
            cleaned, scale = cleaned[: -len(suffix)], size
            break
    try:
        value = float(cleaned) * scale
    except ValueError:
        raise SeqtuiError(f"not a duration: {text!r} (write e.g. 90, 90s, 5m or 1h)") from None
    return _real("time", value)


def parse_real(text: str) -> float:
    try:
        value = float(str(text).strip())
    except ValueError:
        raise SeqtuiError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise SeqtuiError(f"not a finite number: {text!r}")
    return value


def parse_whole(text: str) -> int:
    try:
        return int(str(text).strip())
    except ValueError:
        raise SeqtuiError(f"not a whole number: {text!r}") from None


def _round_up(count: int) -> int:
    """Two significant digits, rounded up: 25,224 -> 26,000."""
    scale = 10 ** max(0, len(str(count)) - 2)
    return -(-count // scale) * scale


def count_text(value: int) -> str:
    """A count as it is typed back: 1500000 -> 1.5M, 20000 -> 20k."""
    for size, unit in ((10**9, "G"), (10**6, "M"), (10**3, "k")):
        if value >= size and (value * 1000) % size == 0:
            return f"{value / size:g}{unit}"
    return str(value)


# -- every setting a user can give, once ----------------------------------------------------------
@dataclass(frozen=True)
class Setting:
    name: str  # the flag without its dashes: --batch-size -> "batch-size"
    path: tuple[str, ...]  # where it lives in TrainConfig
    label: str  # in the app's form
    help: str
    parse: Callable[[str], Any]
    choices: tuple[str, ...] = ()
    off: str | None = None  # the word that turns an optional setting off (None: it cannot be)
    on_resume: bool = False  # may change when a run resumes (how it is run or watched, not what it learns)
    budget: bool = False  # a budget limit: on resume it extends the run by this much
    advanced: bool = False  # shown in the form's second part
    blank: str = ""  # what an empty field means, shown in it (the form)

    @property
    def flag(self) -> str:
        return f"--{self.name}"

    def read(self, text: str) -> Any:
        """The value of `text` as typed on the command line or in the form."""
        text = str(text).strip()
        if self.off is not None and text.lower() in (self.off, "", "none"):
            return None
        if self.choices:
            return _choice(self.label, text, self.choices)
        value = self.parse(text)
        if self.name == "clip" and value == 0:  # clip 0 has always meant off
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


def _setting(name, path, label, help, parse=str, **kw) -> Setting:
    return Setting(name, tuple(path.split(".")), label, help, parse, **kw)


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
    _setting("model", "model.model", "model", "the network", choices=MODELS),
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
        blank="about 20 times over the budget",
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
