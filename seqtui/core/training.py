"""The training loop: batches in, metrics and held-out evaluations out.

`Trainer.run()` is a generator of events. The caller decides what to do with them (write the
metrics log, draw a progress line, save checkpoints) and may simply stop iterating to stop
training: between two events the model and optimiser are always in a consistent state. Time
spent suspended at a `yield` (a paused run) does not count towards the run's elapsed time.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Generator

import torch
import torch.nn.functional as F

from seqtui.core.adam import Adam
from seqtui.core.evaluation import Evaluation, evaluate_batches, held_out_set
from seqtui.core.fastrnn import ElmanStepper, eligible
from seqtui.core.gradients import GradientFlow
from seqtui.core.gradients import measure as measure_gradients
from seqtui.core.models import ElmanRNN, build_model
from seqtui.core.tasks import draw_pattern_length, make_batch
from seqtui.core.threads import ThreadGovernor
from seqtui.settings.config import Budget, TrainConfig  # noqa: F401  (re-exported)
from seqtui.settings.errors import SeqtuiError
from seqtui.settings.limits import GRADIENT_SAMPLES, check_fits, check_training_fits
from seqtui.settings.values import SCHEDULES  # noqa: F401  (re-exported)

HELD_OUT_SEED_OFFSET = 1_000_003  # the held-out set never shares a stream with training data
LR_FLOOR = 0.02


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise SeqtuiError(f"unknown device {name!r}: use auto, cpu or cuda") from None
    if device.type not in ("cpu", "cuda"):
        raise SeqtuiError(f"unsupported device {name!r}: use auto, cpu or cuda")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SeqtuiError(f"device {name!r} asked for, but this machine has no CUDA device")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise SeqtuiError(f"device {name!r} asked for, but this machine has {torch.cuda.device_count()} CUDA devices")
    return device


def check_fits_on(device: torch.device, needed: int, what: str) -> None:
    """Refuse work that would not fit in this machine's memory, or (on a GPU) in the card's."""
    check_fits(needed, what)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        check_fits(needed, what, free, f"GPU {device}")


def check_card_memory(config: TrainConfig, device: torch.device) -> None:
    """Refuse a run that would not fit in the card's free memory. This machine's memory is checked
    before a run is written (seqtui.settings.limits), where no card need be known."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        check_training_fits(config, free, f"GPU {device}")


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
    threads: int  # torch's CPU threads during the window
    longest: int  # the longest sequence drawn at the window's end: short of 2 * n_max during a curriculum

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
class CheckpointDue:
    """The run has trained `checkpoint_every` more examples: a good moment to save."""

    step: int
    examples: int


@dataclass
class Finished:
    reason: str  # "budget", "target" or "diverged"
    message: str
    evaluation: Evaluation | None = None  # the last held-out evaluation, if there was one


Event = Progress | HeldOut | CheckpointDue | Finished


class Trainer:
    """Owns a model, its optimiser and the training data stream; `run()` trains it.

    Everything that decides what is learned (the schedule, when to evaluate and checkpoint) counts
    steps and examples, not seconds, so the same config and seed give the same weights on the same
    device and thread count however busy the machine is. Only `log_every` (how often a viewer hears
    news) and a time cap in the budget follow the clock.
    """

    def __init__(self, config: TrainConfig):
        self.config = config
        self.device = resolve_device(config.device)
        if config.threads is not None:
            torch.set_num_threads(config.threads)
        # a thread count not fixed follows the machine's load (seqtui.threads)
        self.governor = ThreadGovernor() if config.threads is None and self.device.type == "cpu" else None
        self.threads = torch.get_num_threads()
        check_card_memory(config, self.device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.model = build_model(config.model).to(self.device)
        self.optimizer = Adam(self.model.parameters(), lr=config.lr)
        # True: the NumPy step (seqtui.fastrnn) is used, built at the first step, after any restore
        self.fast: ElmanStepper | bool | None = True if eligible(self.model, config.batch_size, self.device) else None
        # the data stream: batches are made where the model trains (on a GPU, never crossing from the
        # host); pattern lengths are drawn on the CPU (a Python int, no wait for the device)
        self.generator = torch.Generator(device=self.device).manual_seed(config.seed)
        self.lengths = self.generator if self.device.type == "cpu" else torch.Generator().manual_seed(config.seed)
        self.step = 0
        self.examples = 0
        self.elapsed = 0.0
        self.best_worst: float | None = None  # best held-out accuracy at the worst length
        self.longest_reached = 0  # the longest pattern the curriculum has drawn from (it never shrinks)
        self.last_evaluation: Evaluation | None = None
        self.evaluated_at: int | None = None  # examples at the last held-out evaluation
        # a resumed run stopped just after crossing an evaluation's count, before making it: made
        # first on resume, so it has the evaluations an uninterrupted run has
        self.evaluation_due = False
        self.held_out = held_out_set(config.task, config.eval_samples, config.seed + HELD_OUT_SEED_OFFSET)

    # -- one step -------------------------------------------------------------------------
    def learning_rate(self) -> float:
        """The peak learning rate, reached linearly over the first `warmup` of the budget (if any),
        then decayed by a cosine to LR_FLOOR of it at the end of the budget."""
        cfg = self.config
        if cfg.schedule == "constant" or not cfg.budget.is_set():
            return cfg.lr
        p = self.progress()
        if p < cfg.warmup:
            return cfg.lr * max(p / cfg.warmup, LR_FLOOR)
        p = (p - cfg.warmup) / (1 - cfg.warmup)
        return cfg.lr * (LR_FLOOR + (1 - LR_FLOOR) * 0.5 * (1 + math.cos(math.pi * p)))

    def progress(self) -> float:
        """How far through its budget the run is, 0..1, as the schedules (learning rate, curriculum)
        see it: by the work done, so they are the same on any machine, or by the clock when time is
        the only limit (0 with no budget)."""
        budget = self.config.budget
        if budget.in_work():
            return budget.work_progress(self.step, self.examples)
        return budget.progress(self.step, self.examples, self.elapsed)

    def longest_pattern(self) -> int:
        """The longest pattern length drawn at this point: with a curriculum, it grows by equal
        stages from n_min + 2 to n_max over the first `curriculum` of the budget (short patterns
        learn the mechanism cheaply and fast; bench/results.md); otherwise n_max."""
        cfg, task = self.config, self.config.task
        if not cfg.curriculum or not cfg.budget.is_set():
            return task.n_max
        p = self.progress()
        if p >= cfg.curriculum:
            return task.n_max
        start = min(task.n_max, task.n_min + 2)
        scheduled = start + int((task.n_max - start + 1) * p / cfg.curriculum)
        # a run continued on a larger budget is earlier in it, but never goes back to shorter patterns
        return min(task.n_max, max(scheduled, self.longest_reached))

    def train_step(self, lr: float) -> tuple[torch.Tensor | float, torch.Tensor | int, torch.Tensor | float, int]:
        """One Adam step on a fresh batch; returns (loss, correct, grad norm, size), unsynced on a GPU."""
        longest = self.longest_pattern()
        self.longest_reached = max(self.longest_reached, longest)
        n = draw_pattern_length(self.config.task, self.lengths, longest)
        batch = make_batch(self.config.task, n, self.config.batch_size, self.generator)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        if self.fast is not None:  # the tutorial's rnn at a small batch: seqtui.fastrnn
            if not isinstance(self.fast, ElmanStepper):  # made at the first step, once Adam is
                assert isinstance(self.model, ElmanRNN)  # eligible() said so
                self.fast = ElmanStepper(self.model, self.optimizer, self.config.clip)
            fast_loss, fast_correct, fast_norm = self.fast.step(batch.digits.numpy(), batch.labels.numpy(), lr)
            self.step += 1
            self.examples += len(batch)
            return fast_loss, fast_correct, fast_norm, len(batch)
        batch = batch.to(self.device)
        logits = self.model.classify(batch.digits)  # (B, 2)
        loss = F.cross_entropy(logits, batch.labels)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.clip or math.inf)
        self.optimizer.step()
        correct = (logits.detach().argmax(dim=1) == batch.labels).sum()
        self.step += 1
        self.examples += len(batch)
        return loss.detach(), correct, grad_norm.detach(), len(batch)

    def evaluate(self) -> Evaluation:
        return evaluate_batches(self.model, self.held_out, self.config.task.negatives, self.device)

    def weights_finite(self) -> bool:
        with torch.no_grad():
            return all(bool(torch.isfinite(p).all()) for p in self.model.parameters())

    # -- the loop -------------------------------------------------------------------------
    def run(self) -> Generator[Event, None, None]:
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
        first_line = True
        if self.evaluation_due and not cfg.budget.reached(self.step, self.examples, self.elapsed):
            self.evaluation_due = False
            held = self._held_out_event()
            yield held
            if isinstance(held, Finished):
                return
            restart_clock()
            window = _Window(self, self.elapsed)
            if cfg.target_accuracy is not None and held.evaluation.worst >= cfg.target_accuracy:
                yield self._finished("target", f"held-out accuracy reached {held.evaluation.worst:.4f} at every length")
                return
        while True:
            if cfg.budget.reached(self.step, self.examples, clock()):
                if window.steps:
                    event = window.close(self.elapsed)
                    yield event
                    if isinstance(event, Finished):
                        return
                    restart_clock()
                if self.evaluated_at != self.examples:
                    last = self._held_out_event()
                    clock()
                    yield last
                    if isinstance(last, Finished):
                        return
                    restart_clock()
                yield self._finished("budget", f"budget reached at step {self.step:,}")
                return
            before = self.examples
            window.add(*self.train_step(self.learning_rate()))
            now = clock()
            evaluate_now = self.examples // cfg.eval_every > before // cfg.eval_every
            save_now = (
                cfg.checkpoint_every is not None
                and self.examples // cfg.checkpoint_every > before // cfg.checkpoint_every
            )
            # the metrics line first, so what a checkpoint holds is always in the log before it; the
            # first step's line at once, so a viewer sees the run train within moments of its start
            if now - window.started >= cfg.log_every or evaluate_now or save_now or first_line:
                first_line = False
                self._adjust_threads()
                event = window.close(now)
                yield event
                if isinstance(event, Finished):
                    return
                restart_clock()
                window = _Window(self, self.elapsed)
                now = self.elapsed
            if evaluate_now:
                held = self._held_out_event()
                spent = clock() - now
                yield held
                if isinstance(held, Finished):
                    return
                restart_clock()
                window.started += spent  # examples/s measures training, not evaluation
                if cfg.target_accuracy is not None and held.evaluation.worst >= cfg.target_accuracy:
                    yield self._finished(
                        "target", f"held-out accuracy reached {held.evaluation.worst:.4f} at every length"
                    )
                    return
            elif save_now:
                if not self.weights_finite():
                    yield self._diverged("the weights")
                    return
                yield CheckpointDue(self.step, self.examples)
                restart_clock()

    def _adjust_threads(self) -> None:
        if self.governor is not None and self.governor.due():
            threads = self.governor.choose()
            if threads is not None and threads != self.threads:
                torch.set_num_threads(threads)
                self.threads = threads

    def _held_out_event(self) -> HeldOut | Finished:
        if not self.weights_finite():  # never evaluate (or let anyone save) broken weights
            return self._diverged("the weights")
        evaluation = self.evaluate()
        gradients = measure_gradients(self.model, self.config.task, GRADIENT_SAMPLES, device=self.device)
        self.model.train()
        worst = evaluation.worst
        if self.best_worst is None or worst > self.best_worst:
            self.best_worst = worst
        self.last_evaluation, self.evaluated_at = evaluation, self.examples
        return HeldOut(self.step, self.examples, self.elapsed, evaluation, gradients)

    def _finished(self, reason: str, message: str) -> Finished:
        return Finished(reason, message, self.last_evaluation)

    def _diverged(self, what: str) -> Finished:
        return Finished(
            "diverged",
            f"{what} became non-finite near step {self.step:,}: training stopped; the last checkpoint "
            "(with finite weights) is kept (try a lower --lr or --clip)",
            self.last_evaluation,
        )

    # -- state for checkpoints ------------------------------------------------------------
    def counters(self) -> dict:
        return {
            "step": self.step,
            "examples": self.examples,
            "elapsed": self.elapsed,
            "best_worst": self.best_worst,
            "longest": self.longest_reached,
            "data_device": self.device.type,  # where the data stream's generator lives
            "evaluated": self.evaluated_at,  # examples at the last held-out evaluation (None: none yet)
        }

    def data_state(self) -> dict[str, torch.Tensor]:
        state = {"rng.data": self.generator.get_state()}
        if self.lengths is not self.generator:
            state["rng.lengths"] = self.lengths.get_state()
        return state

    def restore_data_state(self, state: dict[str, torch.Tensor], saved_on: str) -> bool:
        """Continue the data stream where it stopped; False if it was made on another kind of device
        (a run moved between CPU and GPU), where it continues on a stream derived from seed and step."""
        if saved_on != self.device.type:
            self.generator.manual_seed(self.config.seed * 1_000_003 + self.step)
            if self.lengths is not self.generator:
                self.lengths.manual_seed(self.config.seed * 1_000_003 + self.step)
            return False
        self.generator.set_state(state["rng.data"])
        if self.lengths is not self.generator:
            self.lengths.set_state(state["rng.lengths"])
        return True

    def restore_counters(self, counters: dict) -> None:
        self.step = int(counters["step"])
        self.examples = int(counters["examples"])
        self.elapsed = float(counters["elapsed"])
        best = counters.get("best_worst")
        self.best_worst = None if best is None else float(best)
        self.longest_reached = int(counters.get("longest", 0))
        if "evaluated" in counters:  # checkpoints before it: not known, nothing made up
            self.evaluated_at = counters["evaluated"]
            every = self.config.eval_every
            self.evaluation_due = self.examples // every > (self.evaluated_at or 0) // every


class _Window:
    """Training metrics summed on the device since the last Progress, read once when it closes."""

    def __init__(self, trainer: Trainer, started: float):
        self.trainer = trainer
        self.started = started
        self.first_examples = trainer.examples
        zero = torch.zeros((), device=trainer.device)
        self.loss, self.correct, self.grad_norm = zero.clone(), zero.clone(), zero.clone()
        self.steps = 0

    def add(
        self, loss: torch.Tensor | float, correct: torch.Tensor | int, grad_norm: torch.Tensor | float, size: int
    ) -> None:
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
            return t._diverged(f"the loss ({loss:g})")
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
            threads=t.threads,
            longest=2 * t.longest_pattern(),
        )
