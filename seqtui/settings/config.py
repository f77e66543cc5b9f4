"""A run's settings: plain frozen dataclasses with their checks, and nothing that needs torch.

`TrainConfig` is what a run's config.json holds. It is read back strictly (`from_dict`): a value
of the wrong type, out of range or not a finite number is refused with a message that names the
setting, so a damaged or hand-edited file never reaches the trainer as a TypeError.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from seqtui.settings import networks
from seqtui.settings.errors import SeqtuiError, SettingError
from seqtui.settings.registry import SETTING, SETTINGS
from seqtui.settings.units import count_text, round_up
from seqtui.settings.values import (
    DEVICE_PATTERN,
    MAX_BATCH,
    MAX_HIDDEN,
    MAX_PATTERN,
    MAX_SEED,
    MAX_THREADS,
    NEGATIVES,
    SCHEDULES,
    TASKS,
    choice,
    fraction,
    known_fields,
    real,
    whole,
)

FORMAT = 2  # config.json's layout; files without "format" are from the first version


# -- the parts of a run's settings ----------------------------------------------------------------
@dataclass(frozen=True)
class TaskConfig:
    task: str = "match"
    negatives: str = "random"
    n_min: int = 1  # shortest pattern: sequences are 2 * n_min digits long
    n_max: int = 10

    def __post_init__(self) -> None:
        choice("task", self.task, TASKS)
        choice("negatives", self.negatives, NEGATIVES)
        whole("n_min", self.n_min, 1, MAX_PATTERN, "n-min")
        whole("n_max", self.n_max, 1, MAX_PATTERN, "n-max")
        if self.n_min > self.n_max:
            raise SettingError(f"n_min ({self.n_min}) is larger than n_max ({self.n_max})", "n-min")

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
        return cls(**known_fields("task", data, cls))


@dataclass(frozen=True)
class ModelConfig:
    model: str = "lstm"
    hidden: int = 128
    init: str = "default"  # "identity": W_hh = I and zero recurrent bias (IRNN), rnn only

    def __post_init__(self) -> None:
        if not isinstance(self.init, str):
            raise SettingError(f"init must be a word, got {self.init!r}", "init")
        networks.check_model(self.model, self.init)
        whole("hidden size", self.hidden, 1, MAX_HIDDEN, "hidden")

    @property
    def spec(self) -> networks.ModelSpec:
        """The registered network (an installed package's spec is loaded on first use)."""
        return networks.spec(self.model)

    @property
    def gates(self) -> int:
        """Affine maps of width `hidden` per step (what the memory check sizes activations by)."""
        return self.spec.gates

    def parameter_count(self) -> int:
        return self.spec.parameter_count(self.hidden)

    def to_dict(self) -> dict:
        """The settings; a model from an installed package also names the package, so that a
        machine without it can say what to install."""
        package = networks.package_of(self.model)
        return {**asdict(self), **({"package": package} if package else {})}

    @classmethod
    def from_dict(cls, data: Any) -> "ModelConfig":
        if isinstance(data, dict) and "package" in data:
            data = dict(data)
            package = data.pop("package")
            if not networks.is_known(data.get("model")):
                raise networks.unknown(data.get("model"), package if isinstance(package, str) else None)
        return cls(**known_fields("model", data, cls))


@dataclass(frozen=True)
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

    def settings(self) -> dict[str, Any]:
        """The limits by setting name (samples, steps, time), unset ones as None."""
        return {s.name: getattr(self, s.path[-1]) for s in SETTINGS if s.budget}

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

    def __post_init__(self) -> None:
        for name in ("steps", "samples"):
            value = getattr(self, name)
            if value is not None:
                if isinstance(value, (int, float)) and not isinstance(value, bool) and value <= 0:
                    raise SettingError(f"{name} must be positive, got {value}", name)
                whole(name, value, 1, setting=name)
        if self.seconds is not None:
            real("time", self.seconds, setting="time")

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
            return Budget(samples=round_up(self.samples))
        if self.steps:
            return Budget(steps=round_up(self.steps))
        return Budget(seconds=self.seconds or 60.0)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> "Budget":
        return cls(**known_fields("budget", data, cls))


@dataclass(frozen=True)
class TrainConfig:
    """A run's settings, checked when built (a wrong one is a SettingError naming it) and never
    changed after: `replaced` and `dataclasses.replace` make a new, checked one."""

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

    def __post_init__(self) -> None:
        for name, part in (("task", TaskConfig), ("model", ModelConfig), ("budget", Budget)):
            if not isinstance(getattr(self, name), part):
                raise SettingError(f"{name} must be a {part.__name__}, got {getattr(self, name)!r}", name)
        try:
            real("learning rate", self.lr, high=10.0, setting="lr")
        except SeqtuiError:
            raise SettingError(f"learning rate must be a positive number up to 10, got {self.lr!r}", "lr") from None
        whole("batch size", self.batch_size, 1, MAX_BATCH, "batch-size")
        if self.clip is not None:
            try:
                real("clip", self.clip)
            except SeqtuiError:
                raise SettingError(f"clip must be positive (or off), got {self.clip!r}", "clip") from None
        choice("schedule", self.schedule, SCHEDULES, "schedule")
        fraction("warm-up", self.warmup, 0.5, "warmup")
        fraction("curriculum", self.curriculum, 1.0, "curriculum")
        whole("seed", self.seed, 0, MAX_SEED, "seed")
        if not isinstance(self.device, str) or not DEVICE_PATTERN.fullmatch(self.device):
            raise SettingError(f"unknown device {self.device!r}: use auto, cpu, cuda or cuda:N", "device")
        if self.threads is not None:
            whole("threads", self.threads, 1, MAX_THREADS, "threads")
        if self.target_accuracy is not None:
            value = self.target_accuracy
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
                raise SettingError(f"target accuracy must be in (0, 1], got {value!r}", "target-acc")
        whole("eval samples", self.eval_samples, 1, 10**8, "eval-samples")
        if self.eval_samples < len(self.task.pattern_lengths):
            raise SettingError(f"eval samples must be at least one per length, got {self.eval_samples}", "eval-samples")
        whole("eval every (examples)", self.eval_every, 1, setting="eval-every")
        if self.checkpoint_every is not None:
            whole("checkpoint every (examples)", self.checkpoint_every, 1, setting="checkpoint-every")
        real("log every (seconds)", self.log_every, high=3600.0, setting="log-every")

    @property
    def reproducible(self) -> bool:
        """Whether the same config and seed give the same weights (on one device and thread count)."""
        return self.schedule == "constant" or self.budget.in_work() or not self.budget.is_set()

    def to_dict(self) -> dict:
        return {"format": FORMAT, **asdict(self), "model": self.model.to_dict()}

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
        known_fields("the settings", data, cls)
        values = dict(data)
        values["task"] = TaskConfig.from_dict(data.get("task", {}))
        values["model"] = ModelConfig.from_dict(data.get("model", {}))
        values["budget"] = Budget.from_dict(data.get("budget", {}))
        return cls(**values)

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
