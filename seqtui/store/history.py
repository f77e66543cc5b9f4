"""A run's metrics history in bounded memory, for viewers that follow a run for hours.

A `Series` keeps at most `capacity` points: when full, neighbouring points are merged in pairs
(means of x and y) and each new point then stands for twice as many raw ones. A run of millions
of steps therefore costs a viewer the same memory and the same chart-drawing time as a short one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from seqtui.settings.config import TrainConfig
from seqtui.settings.errors import SeqtuiError
from seqtui.store.files import file_stamp
from seqtui.store.layout import CONFIG, METRICS
from seqtui.store.records import MetricsReader
from seqtui.store.run import Run
from seqtui.store.status import RunStatus

CAPACITY = 512
THRESHOLDS = (0.95, 0.99)  # worst-length accuracies whose first time a run reached them is kept


@dataclass
class Series:
    capacity: int = CAPACITY
    xs: list[float] = field(default_factory=list)
    ys: list[float] = field(default_factory=list)
    stride: int = 1  # raw points per stored point
    _sum_x: float = 0.0
    _sum_y: float = 0.0
    _pending: int = 0
    last: float | None = None  # the latest raw value, never averaged away
    best: float | None = None

    def add(self, x: float, y: float, higher_is_better: bool = True) -> None:
        self.last = y
        if self.best is None or (y > self.best if higher_is_better else y < self.best):
            self.best = y
        self._sum_x += x
        self._sum_y += y
        self._pending += 1
        if self._pending < self.stride:
            return
        self.xs.append(self._sum_x / self._pending)
        self.ys.append(self._sum_y / self._pending)
        self._sum_x = self._sum_y = 0.0
        self._pending = 0
        if len(self.xs) >= self.capacity:
            self.xs = [(a + b) / 2 for a, b in zip(self.xs[::2], self.xs[1::2])]
            self.ys = [(a + b) / 2 for a, b in zip(self.ys[::2], self.ys[1::2])]
            self.stride *= 2

    def points(self) -> tuple[list[float], list[float]]:
        """Stored points plus the partly filled bucket, so the chart reaches the newest data."""
        if self._pending:
            return self.xs + [self._sum_x / self._pending], self.ys + [self._sum_y / self._pending]
        return list(self.xs), list(self.ys)

    def __len__(self) -> int:
        return len(self.xs) + (1 if self._pending else 0)


SMOOTHING_SPAN = 20  # the moving average's memory is at most a twentieth of the points


def smoothing_weight(weight: float, points: int) -> float:
    """The weight used over `points` points: the one asked for, but never so heavy that the average
    remembers more than a twentieth of the history (1 / (1 - weight) points): a short run's few
    points would otherwise be drawn far behind where the run is."""
    return max(0.0, min(weight, 1 - SMOOTHING_SPAN / points)) if points else 0.0


def smooth(values: list[float], weight: float) -> list[float]:
    """Debiased exponential moving average (as TensorBoard draws it), at most as heavy as
    smoothing_weight allows for this many values; weight 0 changes nothing."""
    weight = smoothing_weight(weight, len(values))
    out, level, mass = [], 0.0, 0.0
    for value in values:
        level = weight * level + (1 - weight) * value
        mass = weight * mass + (1 - weight)
        out.append(level / mass)
    return out


@dataclass
class RunHistory:
    """Everything a viewer draws about a run, fed incrementally from its metrics log."""

    loss: Series = field(default_factory=Series)
    accuracy: Series = field(default_factory=Series)
    clock: Series = field(default_factory=Series)  # elapsed seconds, bucketed like loss: a time axis
    evaluations: list[dict] = field(default_factory=list)  # bounded like a Series, by halving
    eval_capacity: int = 128
    last_train: dict | None = None
    best_worst: float | None = None
    reached: dict[float, float] = field(default_factory=dict)  # threshold -> first elapsed s worst >= it
    reached_examples: dict[float, int] = field(default_factory=dict)  # threshold -> examples by then

    def add(self, record: dict) -> None:
        kind = record.get("kind")
        if kind == "train":
            x = float(record["examples"])
            self.loss.add(x, float(record["loss"]), higher_is_better=False)
            self.accuracy.add(x, float(record["accuracy"]))
            self.clock.add(x, float(record.get("elapsed", 0.0)))
            self.last_train = record
        elif kind == "eval":
            self.evaluations.append(
                {
                    k: record[k]
                    for k in (
                        "step",
                        "examples",
                        "elapsed",
                        "accuracy",
                        "worst",
                        "accuracy_by_length",
                        "gradient_norms_by_length",
                        "gradient_ratio_by_length",
                    )
                    if k in record
                }
            )
            worst = record.get("worst")
            if worst is not None and (self.best_worst is None or worst > self.best_worst):
                self.best_worst = worst
            for threshold in THRESHOLDS:
                if worst is not None and worst >= threshold and threshold not in self.reached:
                    self.reached[threshold] = float(record.get("elapsed", 0.0))
                    self.reached_examples[threshold] = int(record.get("examples", 0))
            if len(self.evaluations) > self.eval_capacity:
                # keep the newest whole, thin the older half
                self.evaluations = self.evaluations[:-1:2] + self.evaluations[-1:]


def history_of(records: list[dict]) -> RunHistory:
    history = RunHistory()
    for record in records:
        history.add(record)
    return history


class RunFollower:
    """Follows one run directory like `tail -f`: its metrics, its status, its checkpoint.

    `poll()` reads what changed since the last call and says whether anything did. Whatever is in
    the directory, it never raises: damage is kept in `problem` (one line, tied to this run)."""

    def __init__(self, run: Run):
        self.run = run
        self.reader = MetricsReader(run.file(METRICS))
        self.history = RunHistory()
        self.status = RunStatus()
        self.config: TrainConfig | None = None
        self.config_problem: str | None = None
        self.checkpoint_mtime: float | None = None
        self.version = 0  # grows with every poll that found a change: a viewer compares it with what it drew
        self._config_stamp: tuple | None = None

    @property
    def problem(self) -> str | None:
        return self.config_problem or self.reader.problem or self.status.problem

    def poll(self) -> bool:
        changed = self._poll_config()
        restarts = self.reader.restarts
        records = self.reader.read_new()
        if self.reader.restarts != restarts:
            self.history = RunHistory()  # the log was replaced (a resume): start over
            changed = True
        for record in records:
            self.history.add(record)
        status = self.run.status()
        if status != self.status:
            self.status, changed = status, True
        try:
            mtime = self.run.checkpoint_path.stat().st_mtime
        except OSError:
            mtime = None
        if mtime != self.checkpoint_mtime:
            self.checkpoint_mtime, changed = mtime, True
        changed = changed or bool(records)
        self.version += changed
        return changed

    def _poll_config(self) -> bool:
        stamp = file_stamp(self.run.file(CONFIG))
        if stamp == self._config_stamp and (self.config is not None or self.config_problem is not None):
            return False
        self._config_stamp = stamp
        try:
            self.config, self.config_problem = self.run.config(), None
        except SeqtuiError as error:
            self.config, self.config_problem = None, str(error)
        return True
