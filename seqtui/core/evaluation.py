"""Accuracy by sequence length, on fresh examples, with 95% intervals."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterator

import torch

from seqtui.core.models import SequenceClassifier
from seqtui.core.tasks import Batch, TaskConfig, make_batch
from seqtui.settings.errors import SeqtuiError
from seqtui.settings.limits import EVAL_CHUNK, GPU_EVAL_CHUNK


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


def _pattern_lengths(task: TaskConfig, samples: int, max_pattern: int | None) -> range:
    lengths = range(task.n_min, (max_pattern or task.n_max) + 1)
    if samples < len(lengths):
        raise SeqtuiError(
            f"--samples {samples} is too few for {len(lengths)} lengths: ask for at least one example per length"
        )
    return lengths


def held_out_set(
    task: TaskConfig,
    samples: int,
    seed: int,
    negatives: str | None = None,
    max_pattern: int | None = None,
) -> list[Batch]:
    """A fixed test set, the same for the same arguments: `samples` split evenly over lengths."""
    lengths = _pattern_lengths(task, samples, max_pattern)
    generator = torch.Generator().manual_seed(seed)
    return [make_batch(task, n, samples // len(lengths), generator, negatives) for n in lengths]


@torch.inference_mode()
def _count_correct(model: SequenceClassifier, batch: Batch, device: torch.device | str) -> int:
    correct = torch.zeros((), dtype=torch.int64, device=device)
    chunk = forward_chunk(device)
    for start in range(0, len(batch), chunk):
        digits = batch.digits[start : start + chunk].to(device, non_blocking=True)
        labels = batch.labels[start : start + chunk].to(device, non_blocking=True)
        correct += (model.classify(digits).argmax(dim=1) == labels).sum()
    return int(correct)


def forward_chunk(device: torch.device | str) -> int:
    """Examples per forward pass: a card takes many more at once than a CPU gains from."""
    return GPU_EVAL_CHUNK if torch.device(device).type == "cuda" else EVAL_CHUNK


def evaluate_batches(
    model: SequenceClassifier, batches: list[Batch], negatives: str, device: torch.device | str
) -> Evaluation:
    was_training = model.training
    model.eval()
    result = Evaluation(negatives)
    for batch in batches:
        result.by_length.append(LengthResult(batch.length, len(batch), _count_correct(model, batch, device)))
    model.train(was_training)
    return result


def evaluate_stream(
    model: SequenceClassifier,
    task: TaskConfig,
    samples: int = 100_000,
    negatives: str | None = None,
    max_pattern: int | None = None,
    seed: int = 12345,
    device: torch.device | str = "cpu",
) -> Iterator[tuple[int, int, Evaluation]]:
    """Accuracy by length on fresh examples, generated and scored a chunk at a time.

    Examples are generated EVAL_CHUNK at a time whatever the device, so the same seed gives the
    same examples on a CPU and a GPU; a GPU scores several chunks in one forward pass. Yields
    (examples done, examples in all, the lengths finished so far) after every pass, so a caller can
    show progress and stop early; the last item holds the whole evaluation.
    """
    negatives = negatives or task.negatives
    lengths = _pattern_lengths(task, samples, max_pattern)
    per_length = samples // len(lengths)
    total, done = per_length * len(lengths), 0
    generator = torch.Generator().manual_seed(seed)
    result = Evaluation(negatives)
    model.eval()
    chunk = forward_chunk(device)
    for n in lengths:
        correct, pending = 0, []
        for start in range(0, per_length, EVAL_CHUNK):
            pending.append(make_batch(task, n, min(EVAL_CHUNK, per_length - start), generator, negatives))
            if sum(len(b) for b in pending) < chunk and start + EVAL_CHUNK < per_length:
                continue
            batch = (
                pending[0]
                if len(pending) == 1
                else Batch(torch.cat([b.digits for b in pending]), torch.cat([b.labels for b in pending]))
            )
            pending = []
            correct += _count_correct(model, batch, device)
            done += len(batch)
            if done < total:
                yield done, total, result
        result.by_length.append(LengthResult(2 * n, per_length, correct))
    yield done, total, result


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
    *_, (_, _, result) = evaluate_stream(model, task, samples, negatives, max_pattern, seed, device)
    return result
