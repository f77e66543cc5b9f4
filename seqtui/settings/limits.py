"""Will it fit? Memory estimates checked before anything large is allocated.

A hidden size of 100,000 or a batch of a million asks for tens of gigabytes. seqtui estimates what
a model, a training step or an evaluation needs from the settings alone (no torch, nothing
allocated) and refuses, with the estimate and the limit, what would not fit in this machine's
available memory. The estimates are deliberately generous: they bound, they do not predict.
"""

from __future__ import annotations

import os

from seqtui.settings.config import ModelConfig, TrainConfig
from seqtui.settings.errors import SeqtuiError

EVAL_CHUNK = 16_384  # examples per forward pass in evaluation: amortises, and bounds memory
GPU_EVAL_CHUNK = 65_536  # on a card, more at once
GRADIENT_SAMPLES = 128  # probe batch per length for the gradient flow measured with each evaluation
FLOAT = 4  # bytes
OVERHEAD = 2.0  # workspace, allocator slack and copies the estimate does not itemise
# the memory cap of this process's cgroup (v2, then v1) and what it uses already
CGROUP_FILES = [
    ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
    ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
]


def available_memory() -> int | None:
    """Bytes this process can still get: the machine's available memory (Linux: MemAvailable),
    or less when a container or a scheduler's cgroup caps it; None if unknown."""
    found = []
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    if not found:
        try:
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            pass
    for limit_file, usage_file in CGROUP_FILES:
        try:
            limit = open(limit_file).read().strip()
            usage = int(open(usage_file).read().strip())
        except (OSError, ValueError):
            continue
        if limit.isdigit() and int(limit) < 1 << 60:  # "max" or a huge number: no cap
            found.append(max(0, int(limit) - usage))
        break
    return min(found) if found else None


def _states(model: ModelConfig, batch: int, length: int) -> int:
    """Floats a fused layer keeps for `batch` sequences of `length` steps (gates, cell, output)."""
    return batch * length * model.hidden * (model.gates + 3) + batch * length * 10


def model_bytes(model: ModelConfig) -> int:
    return model.parameter_count() * FLOAT


def training_bytes(config: TrainConfig) -> int:
    """A training step (weights, gradients, Adam's two moments, activations for backward), the
    held-out set and its evaluation, and the gradient-flow probe."""
    longest = 2 * config.task.n_max
    weights = 4 * model_bytes(config.model)
    step = 2 * _states(config.model, config.batch_size, longest) * FLOAT
    held_out = config.eval_samples * longest * 16  # digits and labels, int64
    return int(OVERHEAD * (weights + step + held_out) + evaluation_bytes(config.model, config.task.n_max))


def evaluation_bytes(model: ModelConfig, max_pattern: int, batch: int = EVAL_CHUNK) -> int:
    longest = 2 * max_pattern
    return int(OVERHEAD * (model_bytes(model) + _states(model, batch, longest) * FLOAT))


def gradient_bytes(model: ModelConfig, max_pattern: int, samples: int) -> int:
    """The step-by-step unroll keeps every step's tensors for autograd: about twice a fused pass."""
    longest = 2 * max_pattern
    return int(OVERHEAD * (2 * model_bytes(model) + 3 * _states(model, samples, longest) * FLOAT))


def size_text(size: float) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size:.0f} bytes"


def check_fits(needed: int, what: str, available: int | None = None, where: str = "this machine") -> None:
    """Refuse, with the estimate and the limit, what would not fit in memory."""
    limit = available_memory() if available is None else available
    if limit is not None and needed > limit:
        raise SeqtuiError(f"{what} needs about {size_text(needed)} of memory; {where} has {size_text(limit)} available")


def check_training_fits(config: TrainConfig, available: int | None = None, where: str = "this machine") -> None:
    what = (
        f"{config.model.model} with {config.model.hidden:,} hidden units, batches of {config.batch_size:,} "
        f"and sequences up to {2 * config.task.n_max}"
    )
    check_fits(training_bytes(config), what, available, where)
