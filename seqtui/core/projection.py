"""The hidden state's path through time, projected on its first two principal components.

The components are fitted on every step's state of a fixed set of held-out sequences (all trained
lengths, both labels), so the plane is the one the model actually uses on its task; a probed
sequence is then drawn as a path in that plane. The final states of the held-out sequences come
along, split by label: where a path ends relative to those two clouds is the model's verdict.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from seqtui.core.models import SequenceClassifier
from seqtui.core.tasks import TaskConfig, make_batch
from seqtui.settings.errors import SeqtuiError

FIT_SEED = 31337  # the same held-out sequences at every fit of a run's model
PER_LENGTH = 64  # sequences per pattern length
MOST_STATES = 20_000  # states per fit at most (a random, fixed subset of each length's)


@dataclass
class Projection:
    """x -> (x - mean) @ components.T: a state of H units as two numbers."""

    mean: torch.Tensor  # (H,)
    components: torch.Tensor  # (2, H), unit rows, PC1 first
    explained: tuple[float, float]  # fraction of the held-out states' variance along each
    fitted_on: int  # how many states (sequence steps) the fit saw
    ends: dict[int, torch.Tensor]  # label -> (N, 2) projected final states of the held-out sequences

    def project(self, states: torch.Tensor) -> torch.Tensor:
        """(..., H) -> (..., 2)."""
        return (states.to(self.mean.dtype) - self.mean) @ self.components.T


@torch.inference_mode()
def fit_projection(
    model: SequenceClassifier,
    task: TaskConfig,
    state: str = "hidden",
    per_length: int = PER_LENGTH,
    seed: int = FIT_SEED,
    most: int = MOST_STATES,
) -> Projection:
    """Fit on the hidden states of held-out sequences, or on an extra state the model's unroll
    gives (`state="cell"` for an LSTM; its ModelSpec's `states`).

    Hidden states come from the model's fast forward in one call per length; extra states need
    the step-by-step unroll. At most `most` states take part, drawn evenly from every length, so long
    sequences and wide models cost bounded memory and time."""
    if state != "hidden" and state not in model.config.spec.states:
        raise SeqtuiError(f"a {model.config.model} has no {state} state to project")
    model = model.eval()
    generator = torch.Generator().manual_seed(seed)
    lengths = range(task.n_min, task.n_max + 1)
    keep = max(1, most // len(lengths))  # states per length
    device = next(model.parameters()).device
    every, ends, labels = [], [], []
    for n in lengths:
        batch = make_batch(task, n, per_length, generator)
        digits = batch.digits.to(device)
        if state == "hidden":
            stacked = model(digits)[1]  # (B, T, H)
        else:
            extra = model.unroll(digits).states.get(state)
            if extra is None:
                raise SeqtuiError(f"a {model.config.model}'s unroll gives no {state} state to project")
            stacked = torch.stack(extra, dim=1)
        stacked = stacked.float().cpu()
        flat = stacked.reshape(-1, stacked.shape[-1])
        if len(flat) > keep:
            flat = flat[torch.randperm(len(flat), generator=generator)[:keep]]
        every.append(flat)
        ends.append(stacked[:, -1])
        labels.append(batch.labels)
    return _fit(torch.cat(every), torch.cat(ends), torch.cat(labels), state)


def _fit(data: torch.Tensor, ends: torch.Tensor, label: torch.Tensor, kind: str) -> Projection:
    if not torch.isfinite(data).all():
        raise SeqtuiError(f"the {kind} states are not finite (the model diverged): no principal components")
    mean = data.mean(dim=0)
    # principal axes: right singular vectors of the centred data, largest first
    _, singular, vh = torch.linalg.svd(data - mean, full_matrices=False)
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
    final = projection.project(ends)
    projection.ends = {value: final[label == value] for value in (0, 1)}
    return projection
