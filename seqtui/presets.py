"""Defaults a user gets: per-model settings and the default preset.

The default preset is the one the benchmark shows meeting the time-to-quality targets on a
2-core CPU (bench/results.md): an LSTM, 64 units, batches of 256, Adam at 5e-3 decayed by a
cosine over the budget, gradients clipped at 1, for 60 s (random negatives) or 180 s (hard or
mixed negatives). Settings given on the command line win over all of these.
"""

from __future__ import annotations

from seqtui.models import ModelConfig
from seqtui.tasks import TaskConfig
from seqtui.training import Budget, TrainConfig

DEFAULT_MODEL = "lstm"

# hidden size, peak learning rate, batch size and clipping that train each model well here
MODEL_DEFAULTS: dict[str, dict] = {
    "rnn": {"hidden": 50, "lr": 2e-3, "batch_size": 256, "clip": 1.0},  # the tutorial's H=50
    "lstm": {"hidden": 64, "lr": 5e-3, "batch_size": 256, "clip": 1.0},
    "gru": {"hidden": 64, "lr": 5e-3, "batch_size": 256, "clip": 1.0},
}

DEFAULT_SECONDS = {"random": 60.0, "hard": 180.0, "mixed": 180.0}


def preset_config(settings: dict, budget: Budget) -> TrainConfig:
    """A TrainConfig from command-line `settings` (flag -> value or None) over the defaults."""
    given = {flag.lstrip("-").replace("-", "_"): v for flag, v in settings.items() if v is not None}
    model = given.get("model", DEFAULT_MODEL)
    per_model = MODEL_DEFAULTS.get(model, MODEL_DEFAULTS[DEFAULT_MODEL])
    task = TaskConfig(
        task=given.get("task", "match"),
        negatives=given.get("negatives", "random"),
        n_min=given.get("n_min", 1),
        n_max=given.get("n_max", 10),
    )
    if not budget.is_set():
        budget = Budget(seconds=DEFAULT_SECONDS.get(task.negatives, 60.0))
    clip = given.get("clip", per_model["clip"])
    return TrainConfig(
        task=task,
        model=ModelConfig(model=model, hidden=given.get("hidden", per_model["hidden"]), init=given.get("init", "default")),
        lr=given.get("lr", per_model["lr"]),
        batch_size=given.get("batch_size", per_model["batch_size"]),
        clip=None if clip == 0 else clip,
        schedule=given.get("schedule", "cosine"),
        seed=given.get("seed", 0),
        budget=budget,
        target_accuracy=given.get("target_acc"),
    )
