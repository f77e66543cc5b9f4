"""Defaults a user gets: per-model settings and the default preset.

`--preset tutorial` is the recipe seqtui starts from, exactly (TUTORIAL below). The default preset
is an LSTM, 64 units, batches of 256, Adam whose learning rate rises to 2e-2 over the first fifth of
the budget and then decays by a cosine, gradients clipped at 1, and a curriculum: the longest
pattern drawn grows from 3 digits to the longest over the first 40% of the budget. Its budget is
counted in training examples: 400k with any negatives, what it needs to reach 99% at every length
over three seeds (bench/results.md). Every other model's preset is its ModelSpec's
(seqtui.settings.networks): the GRU takes the LSTM's; the tutorial's rnn trains on batches of 1024
(4x the examples/s of 256) at 8e-3 with a tenth as warm-up and the same curriculum, on more
examples, which it needs and can afford. Counted in examples, a run learns the
same on a busy laptop and an idle GPU. Settings given on the command line or in the form win over
all of these.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from seqtui.settings import networks
from seqtui.settings.config import Budget, ModelConfig, TaskConfig, TrainConfig
from seqtui.settings.errors import SeqtuiError

DEFAULT_MODEL = "lstm"


def model_preset(model: str, gpu: bool = False) -> dict[str, Any]:
    """The settings that train `model` (its spec's preset, or that of the built-in it is like),
    with its GPU changes when `gpu`."""
    spec = networks.spec(model)
    preset = spec.preset if spec.preset is not None else networks.spec(spec.like).preset
    changes = spec.gpu_preset if spec.preset is not None else networks.spec(spec.like).gpu_preset
    base = networks.spec(DEFAULT_MODEL).preset or {}
    return {**base, **(preset or {}), **((changes or {}) if gpu else {})}


EVALUATIONS = 20  # held-out evaluations over a run's budget, by default

# the tutorial's recipe exactly: its rnn (H=50, torch's default initialisation), one example per
# step, Adam at 1e-3 without decay or clipping, 100,000 steps, match task with random negatives;
# on the CPU, where it trained, even on a GPU box: one example per step keeps a card waiting on its
# launches, and the CPU's NumPy step (seqtui.core.fastrnn) is faster (bench/results.md). With a
# larger batch given, the device is the usual one (auto) again: see preset_device.
TUTORIAL = {
    "device": "cpu",
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
    device = values.get("device") or preset_device(preset, values)
    values = {**PRESETS[preset], **values}
    values.pop("device", None)
    if device is not None:
        values["device"] = device
    model = values.get("model", DEFAULT_MODEL)
    on_gpu = gpu if gpu is not None else str(values.get("device", "auto")).startswith("cuda")
    per_model = model_preset(model if networks.is_known(model) else DEFAULT_MODEL, bool(on_gpu))
    negatives = values.get("negatives", "random")
    base = TrainConfig(
        task=TaskConfig(),
        model=ModelConfig(model=DEFAULT_MODEL, hidden=per_model["hidden"]),
        lr=per_model["lr"],
        warmup=per_model["warmup"],
        curriculum=per_model["curriculum"],
        batch_size=per_model["batch_size"],
        clip=per_model["clip"],
        budget=Budget(samples=_examples(per_model["examples"], negatives)),
    )
    given = dict(values)
    if "samples" in given or "steps" in given:  # a budget of work given replaces the preset's; a time
        given = {"samples": None, "steps": None, **given}  # given alone is a cap on top of it
    config = base.replaced(given)
    if "eval-every" not in values:
        config = config.replaced({"eval-every": default_eval_every(config)})
    return config


def gpu_likely() -> bool:
    """Whether `auto` trains on a GPU here, told without importing torch (seconds): torch's own
    answer where it is loaded already, else an NVIDIA driver loaded and a torch build that is not
    the CPU one. For sizing the presets a form shows; the trainer decides with torch."""
    torch = sys.modules.get("torch")
    if torch is not None:
        return bool(torch.cuda.is_available())
    if not Path("/proc/driver/nvidia/version").exists():
        return False
    try:
        from importlib.metadata import version

        return "+cpu" not in version("torch")
    except Exception:  # no torch installed, or no metadata: nothing to train on a card with
        return False


def preset_device(preset: str, values: dict[str, Any]) -> str | None:
    """The device a preset asks for when none is given (None: the usual, auto): the tutorial's
    is the CPU, for its batches of one; a batch size given other than 1 leaves it to auto."""
    device = PRESETS.get(preset, {}).get("device")
    batch = values.get("batch-size", values.get("batch_size", PRESETS.get(preset, {}).get("batch-size")))
    return device if device is not None and batch in (1, "1", None) else None


def default_eval_every(config: TrainConfig) -> int:
    """About EVALUATIONS evaluations over a work budget, at a round number of examples."""
    budget = config.budget
    total = budget.samples or (budget.steps * config.batch_size if budget.steps else None)
    if total is None:
        return TrainConfig.eval_every
    raw = max(config.batch_size, total // EVALUATIONS)
    round_to = 10 ** max(0, len(str(raw)) - 2)  # two significant digits
    return max(config.batch_size, raw // round_to * round_to)


def _examples(examples: Any, negatives: Any) -> int:
    """A preset's budget: one count, or counts by kind of negatives (random's for any other)."""
    if isinstance(examples, dict):
        return int(examples[negatives] if negatives in examples else examples["random"])
    return int(examples)
