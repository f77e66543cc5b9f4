"""The training loop: batches in, metrics and held-out evaluations out.

`Trainer.run()` is a generator of events. The caller decides what to do with them (write the
metrics log, draw a progress line, save checkpoints) and may simply stop iterating to stop
training: between two events the model and optimiser are always in a consistent state. Time
spent suspended at a `yield` (a paused run) does not count towards the run's elapsed time.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Iterator

import torch
import torch.nn.functional as F

from seqtui.errors import SeqtuiError
from seqtui.evaluation import Evaluation, evaluate_batches, held_out_set
from seqtui.gradients import GradientFlow
from seqtui.gradients import measure as measure_gradients
from seqtui.models import ModelConfig, build_model
from seqtui.tasks import TaskConfig, draw_pattern_length, make_batch

SCHEDULES = ("cosine", "constant")
HELD_OUT_SEED_OFFSET = 1_000_003  # the held-out set never shares a stream with training data
GRADIENT_SAMPLES = 128  # probe batch per length for the gradient flow measured with each evaluation


@dataclass
class Budget:
    """When to stop: whichever of the set limits comes first. All None means no limit."""

    steps: int | None = None
    samples: int | None = None  # training examples
    seconds: float | None = None  # training time, excluding time spent paused

    def is_set(self) -> bool:
        return any(v is not None for v in (self.steps, self.samples, self.seconds))

    def progress(self, step: int, examples: int, elapsed: float) -> float:
        """Fraction done, 0..1, by the limit closest to being reached (0 with no limit)."""
        done = [0.0]
        if self.steps:
            done.append(step / self.steps)
        if self.samples:
            done.append(examples / self.samples)
        if self.seconds:
            done.append(elapsed / self.seconds)
        return min(max(done), 1.0)

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
        for name in ("steps", "samples", "seconds"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                flag = "time" if name == "seconds" else name
                raise SeqtuiError(f"--{flag} must be positive, got {value}")
        return self


@dataclass
class TrainConfig:
    task: TaskConfig = field(default_factory=TaskConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    lr: float = 3e-3
    batch_size: int = 256
    clip: float | None = 1.0  # max gradient norm; None trains unclipped
    schedule: str = "cosine"  # over the budget, from lr down to lr * LR_FLOOR
    seed: int = 0
    device: str = "auto"
    budget: Budget = field(default_factory=Budget)
    target_accuracy: float | None = None  # stop once the worst length reaches this
    eval_samples: int = 20_000  # size of the fixed held-out set
    eval_every: float = 10.0  # seconds of training between held-out evaluations
    log_every: float = 0.5  # seconds between metrics lines

    def validate(self) -> "TrainConfig":
        self.task.validate()
        self.model.validate()
        self.budget.validate()
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise SeqtuiError(f"learning rate must be a positive number, got {self.lr}")
        if self.batch_size < 1:
            raise SeqtuiError(f"batch size must be at least 1, got {self.batch_size}")
        if self.clip is not None and not self.clip > 0:
            raise SeqtuiError(f"clip must be positive (or off), got {self.clip}")
        if self.schedule not in SCHEDULES:
            raise SeqtuiError(f"unknown schedule {self.schedule!r}: choose one of {', '.join(SCHEDULES)}")
        if self.target_accuracy is not None and not 0 < self.target_accuracy <= 1:
            raise SeqtuiError(f"target accuracy must be in (0, 1], got {self.target_accuracy}")
        if self.eval_samples < len(self.task.pattern_lengths):
            raise SeqtuiError(f"eval samples must be at least one per length, got {self.eval_samples}")
        if self.eval_every <= 0 or self.log_every <= 0:
            raise SeqtuiError("eval and log intervals must be positive")
        resolve_device(self.device)
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["task"] = TaskConfig(**data.get("task", {}))
        values["model"] = ModelConfig(**data.get("model", {}))
        values["budget"] = Budget(**data.get("budget", {}))
        return cls(**values)


LR_FLOOR = 0.02


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise SeqtuiError(f"unknown device {name!r}: use auto, cpu or cuda") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SeqtuiError(f"device {name!r} asked for, but this machine has no CUDA device")
    if device.type not in ("cpu", "cuda"):
        raise SeqtuiError(f"unsupported device {name!r}: use auto, cpu or cuda")
    return device


@dataclass
class Progress:
    """Training metrics over the window since the previous Progress."""

    step: int
    examples: int
    elapsed: float
    loss: float
    accuracy: float
    examples_per_s: float
    grad_norm: float
    lr: float
    progress: float  # fraction of the budget done

    def to_record(self) -> dict:
        return {"kind": "train", **asdict(self)}


@dataclass
class HeldOut:
    """A held-out evaluation, with the gradient flow through time measured at the same moment."""

    step: int
    examples: int
    elapsed: float
    evaluation: Evaluation
    gradients: GradientFlow | None = None

    def to_record(self) -> dict:
        record = {
            "kind": "eval",
            "step": self.step,
            "examples": self.examples,
            "elapsed": self.elapsed,
            **self.evaluation.to_dict(),
        }
        if self.gradients is not None:
            flow = self.gradients.to_record()
            record["gradient_norms_by_length"] = flow["by_length"]
            record["gradient_ratio_by_length"] = flow["ratio_by_length"]
        return record


@dataclass
class Finished:
    reason: str  # "budget", "target" or "diverged"
    message: str


Event = Progress | HeldOut | Finished


class Trainer:
    """Owns a model, its optimiser and the training data stream; `run()` trains it."""

    def __init__(self, config: TrainConfig):
        self.config = config.validate()
        self.device = resolve_device(config.device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.model = build_model(config.model).to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.step = 0
        self.examples = 0
        self.elapsed = 0.0
        self.best_worst: float | None = None  # best held-out accuracy at the worst length
        self.held_out = held_out_set(
            config.task, config.eval_samples, config.seed + HELD_OUT_SEED_OFFSET
        )

    # -- one step -------------------------------------------------------------------------
    def learning_rate(self) -> float:
        cfg = self.config
        if cfg.schedule == "constant" or not cfg.budget.is_set():
            return cfg.lr
        p = cfg.budget.progress(self.step, self.examples, self.elapsed)
        return cfg.lr * (LR_FLOOR + (1 - LR_FLOOR) * 0.5 * (1 + math.cos(math.pi * p)))

    def train_step(self, lr: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
        """One Adam step on a fresh batch; returns (loss, correct, grad norm, size) unsynced."""
        n = draw_pattern_length(self.config.task, self.generator)
        batch = make_batch(self.config.task, n, self.config.batch_size, self.generator)
        batch = batch.to(self.device)
        logits = self.model.classify(batch.digits)  # (B, 2)
        loss = F.cross_entropy(logits, batch.labels)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(
            self.model.parameters(), self.config.clip or math.inf
        )
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.step()
        correct = (logits.detach().argmax(dim=1) == batch.labels).sum()
        self.step += 1
        self.examples += len(batch)
        return loss.detach(), correct, grad_norm.detach(), len(batch)

    def evaluate(self) -> Evaluation:
        return evaluate_batches(self.model, self.held_out, self.config.task.negatives, self.device)

    # -- the loop -------------------------------------------------------------------------
    def run(self) -> Iterator[Event]:
        cfg = self.config
        self.model.train()
        segment_start = time.perf_counter()
        base_elapsed = self.elapsed

        def clock() -> float:
            self.elapsed = base_elapsed + time.perf_counter() - segment_start
            return self.elapsed

        def restart_clock() -> None:  # time suspended at a yield (paused) does not count
            nonlocal segment_start, base_elapsed
            segment_start, base_elapsed = time.perf_counter(), self.elapsed

        window = _Window(self, clock())
        last_eval = self.elapsed
        while True:
            if cfg.budget.reached(self.step, self.examples, clock()):
                if window.steps:
                    event = window.close(self.elapsed)
                    yield event
                    if isinstance(event, Finished):
                        return
                    restart_clock()
                event = self._held_out_event()
                clock()
                yield event
                restart_clock()
                yield Finished("budget", f"budget reached at step {self.step}")
                return
            window.add(*self.train_step(self.learning_rate()))
            now = clock()
            if now - window.started >= cfg.log_every:
                event = window.close(now)
                yield event
                if isinstance(event, Finished):
                    return
                restart_clock()
                window = _Window(self, self.elapsed)
            if now - last_eval >= cfg.eval_every:
                event = self._held_out_event()
                spent = clock() - now
                yield event
                restart_clock()
                last_eval = self.elapsed
                window.started += spent  # examples/s measures training, not evaluation
                if cfg.target_accuracy is not None and event.evaluation.worst >= cfg.target_accuracy:
                    yield Finished(
                        "target",
                        f"held-out accuracy reached {event.evaluation.worst:.4f} at every length",
                    )
                    return

    def _held_out_event(self) -> HeldOut:
        evaluation = self.evaluate()
        gradients = measure_gradients(self.model, self.config.task, GRADIENT_SAMPLES, device=self.device)
        self.model.train()
        worst = evaluation.worst
        if self.best_worst is None or worst > self.best_worst:
            self.best_worst = worst
        return HeldOut(self.step, self.examples, self.elapsed, evaluation, gradients)

    # -- state for checkpoints ------------------------------------------------------------
    def counters(self) -> dict:
        return {
            "step": self.step,
            "examples": self.examples,
            "elapsed": self.elapsed,
            "best_worst": self.best_worst,
        }

    def restore_counters(self, counters: dict) -> None:
        self.step = int(counters["step"])
        self.examples = int(counters["examples"])
        self.elapsed = float(counters["elapsed"])
        best = counters.get("best_worst")
        self.best_worst = None if best is None else float(best)


class _Window:
    """Training metrics summed on the device since the last Progress, read once when it closes."""

    def __init__(self, trainer: Trainer, started: float):
        self.trainer = trainer
        self.started = started
        self.first_examples = trainer.examples
        zero = torch.zeros((), device=trainer.device)
        self.loss, self.correct, self.grad_norm = zero.clone(), zero.clone(), zero.clone()
        self.steps = 0

    def add(self, loss: torch.Tensor, correct: torch.Tensor, grad_norm: torch.Tensor, size: int) -> None:
        self.loss += loss * size
        self.correct += correct
        self.grad_norm += grad_norm
        self.steps += 1

    def close(self, now: float) -> Progress | Finished:
        t = self.trainer
        seen = t.examples - self.first_examples
        loss = float(self.loss) / seen
        grad_norm = float(self.grad_norm) / self.steps
        if not (math.isfinite(loss) and math.isfinite(grad_norm)):
            return Finished(
                "diverged",
                f"loss became {loss} near step {t.step}: training stopped; "
                "the last checkpoint is kept (try a lower --lr or --clip)",
            )
        return Progress(
            step=t.step,
            examples=t.examples,
            elapsed=now,
            loss=loss,
            accuracy=float(self.correct) / seen,
            examples_per_s=seen / max(now - self.started, 1e-9),
            grad_norm=grad_norm,
            lr=t.optimizer.param_groups[0]["lr"],
            progress=t.config.budget.progress(t.step, t.examples, now),
        )
