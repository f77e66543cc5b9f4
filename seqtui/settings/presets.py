"""Defaults a user gets: per-model settings and the default preset.

`--preset tutorial` is the recipe seqtui starts from, exactly (TUTORIAL below). The default preset
is an LSTM, 64 units, batches of 256, Adam whose learning rate rises to 2e-2 over the first fifth of
the budget and then decays by a cosine, gradients clipped at 1, and a curriculum: the longest
pattern drawn grows from 3 digits to the longest over the first 40% of the budget. Its budget is
counted in training examples: 400k with any negatives, what it needs to reach 99% at every length
over three seeds (bench/results.md). The GRU takes the same settings. The tutorial's rnn trains on
batches of 1024 (4x the examples/s of 256) at 8e-3 with a tenth as warm-up and the same
curriculum, on more examples, which it needs and can afford. Counted in examples, a run learns the
same on a busy laptop and an idle GPU. Settings given on the command line or in the form win over
all of these.
"""

from __future__ import annotations

from typing import Any

from seqtui.settings.config import Budget, ModelConfig, TaskConfig, TrainConfig
from seqtui.settings.errors import SeqtuiError

DEFAULT_MODEL = "lstm"

# hidden size, peak learning rate, warm-up, batch size, clipping and budget (training examples by
# kind of negatives) that train each model well here (bench/results.md)
DEFAULT_EXAMPLES = {"random": 400_000, "hard": 400_000, "mixed": 400_000}
CURRICULUM = 0.4  # shortest patterns first, every length from 40% of the budget on
MODEL_DEFAULTS: dict[str, dict] = {
    "rnn": {
        "hidden": 50,
        "lr": 8e-3,
        "warmup": 0.1,
        # random negatives: 0.9763 / 0.9735 / 0.9784 at the worst length with it (seeds 0-2, 3M)
        # against 0.9526 / 0.9401 / 0.9432 without; hard ones: 0.7967 / 0.7670 / 0.8391 with it (5M)
        # against 0.8716 / 0.6492 / 0.9622 without, no clear difference
        "curriculum": CURRICULUM,
        "batch_size": 1024,
        "clip": 1.0,  # the tutorial's H=50
        "examples": {"random": 3_000_000, "hard": 5_000_000, "mixed": 5_000_000},
    },
    "lstm": {
        "hidden": 64,
        "lr": 2e-2,
        "warmup": 0.2,
        "curriculum": CURRICULUM,
        "batch_size": 256,
        "clip": 1.0,
        "examples": DEFAULT_EXAMPLES,
    },
}
MODEL_DEFAULTS["gru"] = dict(MODEL_DEFAULTS["lstm"])  # the same settings train it as well
# on a GPU: batches four times larger (a card runs them in about the time of small ones) at twice
# the learning rate, on more examples. Their accuracy was measured on the CPU, where the arithmetic
# is the same: lstm 0.9970 / 0.9968 / 0.9960 (seeds 0-2, random, 1M, with the curriculum), 0.9999 /
# 1.0000 / 1.0000 (hard, 1M). Their speed on a card is not measured yet (no GPU so far).
GPU_DEFAULTS: dict[str, dict] = {
    model: {"batch_size": 1024, "lr": 4e-2, "examples": {"random": 1_000_000, "hard": 1_000_000, "mixed": 1_000_000}}
    for model in ("lstm", "gru")
}
EVALUATIONS = 20  # held-out evaluations over a run's budget, by default

# the tutorial's recipe exactly: its rnn (H=50, torch's default initialisation), one example per
# step, Adam at 1e-3 without decay or clipping, 100,000 steps, match task with random negatives
TUTORIAL = {
    "warmup": 0.0,
    "curriculum": 0.0,
    "task": "match",
    "negatives": "random",
    "n-min": 1,
    "n-max": 10,
    "model": "rnn",
    "hidden": 50,
    "init": "default",
    "batch-size": 1,
    "lr": 1e-3,
    "schedule": "constant",
    "clip": None,
    "steps": 100_000,
}
PRESETS: dict[str, dict[str, Any]] = {"default": {}, "tutorial": TUTORIAL}


def preset_config(values: dict[str, Any], preset: str = "default", gpu: bool | None = None) -> TrainConfig:
    """A checked TrainConfig: the preset (of the chosen model, sized for a GPU when `gpu`, or when
    the device given is a CUDA one), then `values` (setting name -> value)."""
    if preset not in PRESETS:
        raise SeqtuiError(f"unknown preset {preset!r}: choose one of {', '.join(PRESETS)}")
    values = {**PRESETS[preset], **values}
    model = values.get("model", DEFAULT_MODEL)
    per_model = MODEL_DEFAULTS.get(model, MODEL_DEFAULTS[DEFAULT_MODEL])
    if gpu if gpu is not None else str(values.get("device", "auto")).startswith("cuda"):
        per_model = {**per_model, **GPU_DEFAULTS.get(model, {})}
    negatives = values.get("negatives", "random")
    base = TrainConfig(
        task=TaskConfig(),
        model=ModelConfig(model=DEFAULT_MODEL, hidden=per_model["hidden"]),
        lr=per_model["lr"],
        warmup=per_model["warmup"],
        curriculum=per_model.get("curriculum", 0.0),
        batch_size=per_model["batch_size"],
        clip=per_model["clip"],
        budget=Budget(samples=per_model["examples"].get(negatives, per_model["examples"]["random"])),
    )
    given = dict(values)
    if "samples" in given or "steps" in given:  # a budget of work given replaces the preset's; a time
        given = {"samples": None, "steps": None, **given}  # given alone is a cap on top of it
    config = base.replaced(given)
    if "eval-every" not in values:
        config = config.replaced({"eval-every": default_eval_every(config)})
    return config


def default_eval_every(config: TrainConfig) -> int:
    """About EVALUATIONS evaluations over a work budget, at a round number of examples."""
    budget = config.budget
    total = budget.samples or (budget.steps * config.batch_size if budget.steps else None)
    if total is None:
        return TrainConfig.eval_every
    raw = max(config.batch_size, total // EVALUATIONS)
    round_to = 10 ** max(0, len(str(raw)) - 2)  # two significant digits
    return max(config.batch_size, raw // round_to * round_to)


# worst-length held-out accuracy the presets reach at their default budgets (bench/results.md);
# a finished run of a preset that ends well short of this says so
EXPECTED_WORST = {("lstm", "random"): 0.99, ("lstm", "hard"): 0.99, ("gru", "random"): 0.99, ("gru", "hard"): 0.99}


def expected_worst(config: TrainConfig) -> float | None:
    """What `config`'s preset reaches at every length, if `config` is that preset (any seed)."""
    key = (config.model.model, config.task.negatives)
    if key not in EXPECTED_WORST:
        return None
    preset = preset_config({"model": key[0], "negatives": key[1]})
    same = all(
        getattr(config, name) == getattr(preset, name)
        for name in ("task", "model", "lr", "batch_size", "clip", "schedule", "warmup", "curriculum")
    )
    enough = config.budget.samples is not None and config.budget.samples >= (preset.budget.samples or 0)
    return EXPECTED_WORST[key] if same and enough else None
