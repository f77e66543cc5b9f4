"""Gradient flow through time: how strongly the loss at the last step reaches each h_t.

The fused recurrent layers hide per-step gradients, so this unrolls the recurrence step by step
with the model's own weights (`SequenceClassifier.unroll`) and asks autograd for dL/dh_t at every
step t. A ratio |dL/dh_1| / |dL/dh_T| far below 1 is the vanishing gradient the tutorial blamed
for its failures at length; whether it explains a model's accuracy is for the measurements to say.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from seqtui.core.models import SequenceClassifier
from seqtui.core.tasks import TaskConfig, make_batch

PROBE_SEED = 424242  # the probe batch is the same at every measurement of a run


@dataclass
class GradientFlow:
    """Mean over a fixed probe batch of |dL/dh_t| (L2 norm over units), per sequence length."""

    by_length: dict[int, list[float]] = field(default_factory=dict)  # length -> T values, t = 1..T

    def ratio(self, length: int) -> float:
        """|dL/dh_1| / |dL/dh_T|: how much of the last step's gradient reaches the first step."""
        norms = self.by_length[length]
        return norms[0] / norms[-1] if norms[-1] > 0 else float("nan")

    def per_step(self, length: int) -> float:
        """The average factor by which the gradient shrinks (<1) or grows (>1) per step back."""
        ratio = self.ratio(length)
        return ratio ** (1 / (length - 1)) if length > 1 and ratio > 0 else float("nan")

    def to_record(self) -> dict:
        return {
            "by_length": {str(n): values for n, values in self.by_length.items()},
            "ratio_by_length": {str(n): _finite_or_none(self.ratio(n)) for n in self.by_length},
        }


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def hidden_gradients(model: SequenceClassifier, digits: torch.Tensor, labels: torch.Tensor) -> list[torch.Tensor]:
    """dL_i/dh_t for each example i and step t, as T tensors of shape (B, H).

    The loss is summed over the batch, so each example's gradient is its own, whatever the batch size.
    """
    with torch.enable_grad():
        unrolled = model.unroll(digits)
        loss = F.cross_entropy(unrolled.logits[:, -1], labels, reduction="sum")
        return list(torch.autograd.grad(loss, unrolled.hidden))


def measure(
    model: SequenceClassifier,
    task: TaskConfig,
    samples: int = 256,
    lengths: list[int] | None = None,
    device: torch.device | str = "cpu",
) -> GradientFlow:
    """Gradient flow on a fixed probe batch of `samples` examples for each sequence length."""
    generator = torch.Generator().manual_seed(PROBE_SEED)
    result = GradientFlow()
    pattern_lengths = [n // 2 for n in lengths] if lengths else list(task.pattern_lengths)
    was_training = model.training
    model.eval()
    for n in pattern_lengths:
        batch = make_batch(task, n, samples, generator).to(device)
        grads = hidden_gradients(model, batch.digits, batch.labels)
        result.by_length[2 * n] = [float(g.norm(dim=1).mean()) for g in grads]
    model.train(was_training)
    return result
