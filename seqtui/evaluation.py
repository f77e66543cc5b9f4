"""Accuracy by sequence length, on fresh examples, with 95% intervals."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from seqtui.errors import SeqtuiError
from seqtui.models import SequenceClassifier
from seqtui.tasks import Batch, TaskConfig, make_batch

EVAL_CHUNK = 16384  # examples per forward pass: large enough to amortise, small enough for memory


@dataclass
class LengthResult:
    length: int  # sequence length, 2n
    count: int
    correct: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.count if self.count else float("nan")

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.correct, self.count)


@dataclass
class Evaluation:
    negatives: str
    by_length: list[LengthResult] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(r.count for r in self.by_length)

    @property
    def accuracy(self) -> float:
        return sum(r.correct for r in self.by_length) / max(self.count, 1)

    @property
    def worst(self) -> float:
        """Accuracy at the hardest length: a model is only as good as this."""
        return min(r.accuracy for r in self.by_length)

    def accuracy_by_length(self) -> dict[int, float]:
        return {r.length: r.accuracy for r in self.by_length}

    def to_dict(self) -> dict:
        return {
            "negatives": self.negatives,
            "samples": self.count,
            "accuracy": self.accuracy,
            "worst": self.worst,
            "accuracy_by_length": {str(r.length): r.accuracy for r in self.by_length},
            "count_by_length": {str(r.length): r.count for r in self.by_length},
            "interval_by_length": {str(r.length): list(r.interval) for r in self.by_length},
        }


def wilson_interval(correct: int, count: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval for a proportion: honest near 0 and 1, unlike p +- 1.96 se."""
    if count == 0:
        return (0.0, 1.0)
    p = correct / count
    denom = 1 + z * z / count
    centre = (p + z * z / (2 * count)) / denom
    half = z * math.sqrt(p * (1 - p) / count + z * z / (4 * count * count)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def held_out_set(
    task: TaskConfig,
    samples: int,
    seed: int,
    negatives: str | None = None,
    max_pattern: int | None = None,
) -> list[Batch]:
    """A fixed test set, the same for the same arguments: `samples` split evenly over lengths."""
    max_pattern = max_pattern or task.n_max
    pattern_lengths = range(task.n_min, max_pattern + 1)
    if samples < len(pattern_lengths):
        raise SeqtuiError(
            f"--samples {samples} is too few for {len(pattern_lengths)} lengths: "
            "ask for at least one example per length"
        )
    generator = torch.Generator().manual_seed(seed)
    per_length = samples // len(pattern_lengths)
    return [make_batch(task, n, per_length, generator, negatives) for n in pattern_lengths]


@torch.inference_mode()
def evaluate_batches(
    model: SequenceClassifier, batches: list[Batch], negatives: str, device: torch.device | str
) -> Evaluation:
    was_training = model.training
    model.eval()
    result = Evaluation(negatives)
    for batch in batches:
        correct = torch.zeros((), dtype=torch.int64, device=device)
        for start in range(0, len(batch), EVAL_CHUNK):
            digits = batch.digits[start : start + EVAL_CHUNK].to(device, non_blocking=True)
            labels = batch.labels[start : start + EVAL_CHUNK].to(device, non_blocking=True)
            correct += (model.classify(digits).argmax(dim=1) == labels).sum()
        result.by_length.append(LengthResult(batch.length, len(batch), int(correct)))
    model.train(was_training)
    return result


def evaluate(
    model: SequenceClassifier,
    task: TaskConfig,
    samples: int = 100_000,
    negatives: str | None = None,
    max_pattern: int | None = None,
    seed: int = 12345,
    device: torch.device | str = "cpu",
) -> Evaluation:
    """Accuracy by length on `samples` fresh examples (split evenly over pattern lengths)."""
    negatives = negatives or task.negatives
    batches = held_out_set(task, samples, seed, negatives, max_pattern)
    return evaluate_batches(model, batches, negatives, device)
