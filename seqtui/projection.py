"""The hidden state's path through time, projected on its first two principal components.

The components are fitted on every step's state of a fixed set of held-out sequences (all trained
lengths, both labels), so the plane is the one the model actually uses on its task; a probed
sequence is then drawn as a path in that plane. The final states of the held-out sequences come
along, split by label: where a path ends relative to those two clouds is the model's verdict.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from seqtui.models import SequenceClassifier
from seqtui.tasks import TaskConfig, make_batch

FIT_SEED = 31337  # the same held-out sequences at every fit of a run's model
PER_LENGTH = 64  # sequences per pattern length


@dataclass
class Projection:
    """x -> (x - mean) @ components.T: a state of H units as two numbers."""

    mean: torch.Tensor  # (H,)
    components: torch.Tensor  # (2, H), unit rows, PC1 first
    explained: tuple[float, float]  # fraction of the held-out states' variance along each
    fitted_on: int  # how many states (sequences x steps) the fit saw
    ends: dict[int, torch.Tensor]  # label -> (N, 2) projected final states of the held-out sequences

    def project(self, states: torch.Tensor) -> torch.Tensor:
        """(..., H) -> (..., 2)."""
        return (states.to(self.mean.dtype) - self.mean) @ self.components.T


@torch.inference_mode()
def fit_projection(model: SequenceClassifier, task: TaskConfig, state: str = "hidden",
                   per_length: int = PER_LENGTH, seed: int = FIT_SEED) -> Projection:
    """Fit on the hidden (or, for an LSTM, `state="cell"`) states of held-out sequences."""
    model = model.eval()
    generator = torch.Generator().manual_seed(seed)
    every, ends, labels = [], [], []
    for n in range(task.n_min, task.n_max + 1):
        batch = make_batch(task, n, per_length, generator)
        device = next(model.parameters()).device
        unrolled = model.unroll(batch.digits.to(device))
        states = unrolled.hidden if state == "hidden" else unrolled.cell
        if states is None:
            raise ValueError(f"a {model.config.model} has no {state} state")
        stacked = torch.stack(states, dim=1).float().cpu()  # (B, T, H)
        every.append(stacked.reshape(-1, stacked.shape[-1]))
        ends.append(stacked[:, -1])
        labels.append(batch.labels)
    data = torch.cat(every)
    mean = data.mean(dim=0)
    centred = data - mean
    # principal axes: right singular vectors of the centred data, largest first
    _, singular, vh = torch.linalg.svd(centred, full_matrices=False)
    variance = singular.square()
    total = float(variance.sum())
    components = vh[:2]
    if components.shape[0] < 2:  # a single unit: the second axis is zero
        components = torch.cat([components, torch.zeros_like(components)])
    # a fixed sign (largest loading positive), so refits of a training model do not flip the picture
    signs = torch.sign(components.gather(1, components.abs().argmax(dim=1, keepdim=True)))
    components = components * torch.where(signs == 0, torch.ones_like(signs), signs)
    shares = [float(v) / total if total > 0 else 0.0 for v in variance[:2].tolist()] + [0.0]
    projection = Projection(mean, components, (shares[0], shares[1]), int(data.shape[0]), {})
    final, label = projection.project(torch.cat(ends)), torch.cat(labels)
    projection.ends = {value: final[label == value] for value in (0, 1)}
    return projection
