"""Every network seqtui can train, by name: the built-in ones and those installed packages register.

A network is described by a `ModelSpec`: its name, where its class is (`build`, "module:attribute",
imported only when a model is built), its size for the memory check, the extra per-step states its
`unroll` gives besides the hidden one, the inits it takes, and the preset that trains it. The
class itself follows the protocol in `seqtui.core.models` (`SequenceClassifier`).

The built-in networks are listed here (BUILT_IN); a package adds its own through an entry point in
the group "seqtui.models" whose value is a ModelSpec (pyproject.toml):

    [project.entry-points."seqtui.models"]
    my-cell = "my_cell:SPEC"

Safety: a model's name in config.json, sweep.json or a checkpoint only ever selects one of these
names. Nothing is imported because a file named it: an unknown name is refused (and, when the file
says which package it came from, the message names the package to install). Names are listed from
the installed packages' metadata without importing anything; a package's spec is loaded the first
time a run needs more than its name (its preset, its size, its class), and its class only when a
model is built.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field, replace
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Callable

from seqtui.settings.errors import ModelUnavailable, SeqtuiError, SettingError

GROUP = "seqtui.models"
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_")
PRESET_KEYS = {"hidden", "lr", "warmup", "curriculum", "batch_size", "clip", "examples"}


@dataclass(frozen=True)
class ModelSpec:
    """What seqtui needs to know about a network before building it (no torch here).

    `build` names a callable, `ModelConfig -> SequenceClassifier` (usually the class), as
    "package.module:attribute". `gates` is how many affine maps of width `hidden` the network
    computes per step (1 for an Elman RNN, 4 for an LSTM): with `parameters` (the exact count for a
    hidden size, when the gates' formula does not give it) it sizes the memory check. `states` names
    the extra per-step states `unroll` returns beside the hidden one (an LSTM's "cell"); the probe
    screen and the projection show each. `preset` holds the settings that train it (keys of
    PRESET_KEYS; examples by kind of negatives); without one it takes the preset of `like`.
    """

    name: str
    build: str
    about: str = ""
    gates: int = 1
    parameters: Callable[[int], int] | None = None
    states: tuple[str, ...] = ()
    inits: tuple[str, ...] = ("default",)
    preset: dict[str, Any] | None = None
    gpu_preset: dict[str, Any] | None = None  # changes to `preset` on a GPU
    like: str = "lstm"  # the built-in whose preset it takes when it has none
    signed: bool = True  # hidden states take both signs (the heatmap's colours); ReLU ones do not
    cost: float = 4.0  # training time per example against the rnn's (a sweep's scheduling)
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)  # sweep names for set variations
    package: str = ""  # the distribution it comes from ("" for the built-in ones)

    def parameter_count(self, hidden: int) -> int:
        if self.parameters is not None:
            return int(self.parameters(hidden))
        return self.gates * hidden * (10 + hidden + 2) + 2 * hidden + 2  # W_ih, W_hh, two biases; head

    def check(self) -> "ModelSpec":
        """This spec if it is well formed; a SeqtuiError naming what is wrong otherwise."""
        where = f"model {self.name!r}" + (f" (package {self.package})" if self.package else "")
        if not isinstance(self.name, str) or not self.name or set(self.name) - NAME_CHARS or len(self.name) > 40:
            raise SeqtuiError(f"{where}: a name is lower-case letters, digits, '-' and '_' (at most 40)")
        if not isinstance(self.build, str) or ":" not in self.build:
            raise SeqtuiError(f"{where}: build must be 'module:attribute', got {self.build!r}")
        if isinstance(self.gates, bool) or not isinstance(self.gates, int) or not 1 <= self.gates <= 64:
            raise SeqtuiError(f"{where}: gates must be a whole number from 1 to 64, got {self.gates!r}")
        if not isinstance(self.cost, (int, float)) or not math.isfinite(self.cost) or self.cost <= 0:
            raise SeqtuiError(f"{where}: cost must be a positive number, got {self.cost!r}")
        if not self.inits or self.inits[0] != "default" or not all(isinstance(i, str) for i in self.inits):
            raise SeqtuiError(f"{where}: inits must start with 'default', got {self.inits!r}")
        if not all(isinstance(s, str) and s and s != "hidden" for s in self.states):
            raise SeqtuiError(f"{where}: states are names other than 'hidden', got {self.states!r}")
        for name, preset in (("preset", self.preset), ("gpu_preset", self.gpu_preset)):
            if preset is not None and (not isinstance(preset, dict) or set(preset) - PRESET_KEYS):
                raise SeqtuiError(f"{where}: {name} takes the keys {', '.join(sorted(PRESET_KEYS))}")
        try:
            count = self.parameter_count(16)
        except Exception as error:  # a user's function: whatever it raises is its own fault
            raise SeqtuiError(f"{where}: parameters(16) fails: {error}") from None
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise SeqtuiError(f"{where}: parameters(16) must be a positive whole number, got {count!r}")
        return self


def _gated(gates: int) -> Callable[[int], int]:
    return lambda h: gates * h * (10 + h + 2) + 2 * h + 2


# hidden size, peak learning rate, warm-up, curriculum, batch size, clipping and budget (training
# examples by kind of negatives) that train each model well here (bench/results.md)
CURRICULUM = 0.4  # shortest patterns first, every length from 40% of the budget on
GATED_PRESET: dict[str, Any] = {
    "hidden": 64,
    "lr": 2e-2,
    "warmup": 0.2,
    "curriculum": CURRICULUM,
    "batch_size": 256,
    "clip": 1.0,
    "examples": {"random": 400_000, "hard": 400_000, "mixed": 400_000},
}
# on a GPU: batches four times larger (a card runs them in about the time of small ones) at twice
# the learning rate, on more examples. Their accuracy was measured on the CPU, where the arithmetic
# is the same: lstm 0.9970 / 0.9968 / 0.9960 (seeds 0-2, random, 1M, with the curriculum), 0.9999 /
# 1.0000 / 1.0000 (hard, 1M). On an H200 (seed 0): lstm 0.9956 random in 6 s, 0.9999 hard in 5 s;
# gru 0.9958 / 0.9999 in 6 s / 5 s (bench/results.md).
GATED_GPU: dict[str, Any] = {
    "batch_size": 1024,
    "lr": 4e-2,
    "examples": {"random": 1_000_000, "hard": 1_000_000, "mixed": 1_000_000},
}
DIGITS = 10  # inputs: one-hot digits
# minGRU and minLSTM: the LSTM's settings on twice the units (each unit is ~1/20 of an LSTM unit's
# parameters: no h -> h matrix) and 2.5x the examples. One layer cannot compare digit k with digit
# k+n, so no budget reaches 0.99: at this preset the worst length is 0.86 / 0.83 / 0.87 (minGRU) and
# 0.80 / 0.77 / 0.79 (minLSTM) with random negatives, 0.54-0.58 with hard ones (seeds 0-2,
# bench/results.md); 64 units / 400k gave 0.80 and 0.72 (seed 0)
MIN_PRESET: dict[str, Any] = {
    **GATED_PRESET,
    "hidden": 128,
    "examples": {"random": 1_000_000, "hard": 1_000_000, "mixed": 1_000_000},
}
# the LRU: the LSTM's settings on 1M examples: 0.9919 / 0.9914 / 0.9922 at the worst length with
# random negatives (seeds 0-2; 400k gave 0.966); hard negatives 0.70 / 0.76 / 0.80 (0.92 at 128 units)
LRU_PRESET: dict[str, Any] = {**GATED_PRESET, "examples": {"random": 1_000_000, "hard": 1_000_000, "mixed": 1_000_000}}
BUILT_IN: tuple[ModelSpec, ...] = (
    ModelSpec(
        "rnn",
        "seqtui.core.models:ElmanRNN",
        "the tutorial's Elman ReLU RNN; init identity makes it an IRNN",
        gates=1,
        inits=("default", "identity"),
        preset={
            "hidden": 50,  # the tutorial's
            "lr": 8e-3,
            "warmup": 0.1,
            # random negatives: 0.9763 / 0.9735 / 0.9784 at the worst length with the curriculum
            # (seeds 0-2, 3M) against 0.9526 / 0.9401 / 0.9432 without; hard ones: 0.7967 / 0.7670 /
            # 0.8391 with it (5M) against 0.8716 / 0.6492 / 0.9622 without, no clear difference
            "curriculum": CURRICULUM,
            "batch_size": 1024,  # 4x the examples/s of 256
            "clip": 1.0,
            "examples": {"random": 3_000_000, "hard": 5_000_000, "mixed": 5_000_000},
        },
        signed=False,
        cost=1.0,
        variants={"irnn": {"init": "identity", "clip": 1.0}},
    ),
    ModelSpec(
        "lstm",
        "seqtui.core.models:LSTM",
        "long short-term memory (gates i, f, g, o; forget bias 1)",
        gates=4,
        states=("cell",),
        preset=GATED_PRESET,
        gpu_preset=GATED_GPU,
        cost=4.5,
    ),
    ModelSpec(
        "gru",
        "seqtui.core.models:GRU",
        "gated recurrent unit (torch's formulation)",
        gates=3,
        preset=GATED_PRESET,  # the same settings train it as well
        gpu_preset=GATED_GPU,
        cost=5.0,
    ),
    ModelSpec(
        "mingru",
        "seqtui.core.recurrences:MinGRU",
        "minGRU (Feng et al. 2024): gates from x_t alone, a parallel scan in log space",
        gates=3,
        parameters=lambda h: 2 * h * (DIGITS + 1) + 2 * h + 2,
        preset=MIN_PRESET,
        signed=False,
        cost=2.0,
    ),
    ModelSpec(
        "minlstm",
        "seqtui.core.recurrences:MinLSTM",
        "minLSTM (Feng et al. 2024): normalised forget and input gates from x_t alone, a log-space scan",
        gates=4,
        parameters=lambda h: 3 * h * (DIGITS + 1) + 2 * h + 2,
        preset=MIN_PRESET,
        signed=False,
        cost=2.5,
    ),
    ModelSpec(
        "lru",
        "seqtui.core.recurrences:LRU",
        "linear recurrent unit (Orvieto et al. 2023): diagonal complex recurrence, ring init, GELU readout",
        gates=8,
        parameters=lambda h: 2 * h * h + 3 * h + 3 * h * DIGITS + 2 * h + 2,
        states=("readout",),
        preset=LRU_PRESET,
        cost=3.0,
    ),
)
BUILT_IN_NAMES = tuple(s.name for s in BUILT_IN)
ALIASES = {"rnn-identity": "irnn"}  # older names of variants


# -- what is installed ----------------------------------------------------------------------------
@cache
def _installed() -> dict[str, EntryPoint]:
    """Entry points of the group by name, from installed packages' metadata (nothing imported)."""
    found: dict[str, EntryPoint] = {}
    for point in entry_points(group=GROUP):
        if point.name not in BUILT_IN_NAMES and point.name not in found:
            found[point.name] = point
    return found


def refresh() -> None:
    """Forget what was found installed (after a package is installed into this process's path)."""
    _installed.cache_clear()
    _loaded.cache_clear()


def names() -> tuple[str, ...]:
    """Every model a run can name: the built-in ones, then the installed ones by name."""
    return BUILT_IN_NAMES + tuple(sorted(_installed()))


def package_of(name: str) -> str:
    """The distribution an installed model comes from ("" for a built-in or unknown one)."""
    point = _installed().get(name)
    dist = getattr(point, "dist", None) if point is not None else None
    return str(getattr(dist, "name", "") or "")


def is_known(name: Any) -> bool:
    return isinstance(name, str) and (name in BUILT_IN_NAMES or name in _installed())


def unknown(name: Any, package: str | None = None) -> ModelUnavailable:
    """The one-line refusal of a model that is not registered here."""
    if package:
        return ModelUnavailable(f"model {name!r} is not installed: it comes from the package {package!r}")
    return ModelUnavailable(f"unknown model {name!r}: choose one of {', '.join(names())}")


def spec(name: str) -> ModelSpec:
    """The spec of a registered model (loading an installed package's spec on first use)."""
    for built_in in BUILT_IN:
        if built_in.name == name:
            return built_in
    if not isinstance(name, str) or name not in _installed():
        raise unknown(name)
    return _loaded(name)


@cache
def _loaded(name: str) -> ModelSpec:
    """An installed package's spec, checked; anything wrong is a ModelUnavailable saying what."""
    point = _installed()[name]
    package = package_of(name)
    where = f"model {name!r} (package {package or point.value})"
    try:
        loaded = point.load()
    except Exception as error:  # a package's import can fail in any way; it is not seqtui's
        raise ModelUnavailable(f"{where} cannot be loaded: {type(error).__name__}: {error}") from None
    if not isinstance(loaded, ModelSpec):
        raise ModelUnavailable(f"{where}: its entry point {point.value!r} is not a ModelSpec")
    if loaded.name != name:
        raise ModelUnavailable(f"{where}: its entry point gives a spec named {loaded.name!r}")
    try:
        return replace(loaded, package=package).check()
    except SeqtuiError as error:
        raise ModelUnavailable(str(error)) from None


def check_model(name: Any, init: Any) -> None:
    """A model name and init a ModelConfig may hold; loads an installed spec only for an init
    other than "default" (listing runs never imports a package)."""
    if not isinstance(name, str) or not is_known(name):
        raise unknown(name)
    if init == "default":
        return
    inits = spec(name).inits
    if init not in inits:
        if len(inits) == 1:
            raise SettingError(f"init {init!r}: the {name} model takes only the default init", "init")
        raise SettingError(f"unknown init {init!r} for the {name} model: choose one of {', '.join(inits)}", "init")


def load_builder(model_spec: ModelSpec) -> Callable[..., Any]:
    """The callable `build` names, imported now (a registered spec's, never a file's)."""
    module_name, _, attribute = model_spec.build.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except Exception as error:
        where = f"model {model_spec.name!r}" + (f" (package {model_spec.package})" if model_spec.package else "")
        problem = f"{type(error).__name__}: {error}"
        raise ModelUnavailable(f"{where}: {model_spec.build} cannot be imported: {problem}") from None
    return target


def variants() -> dict[str, dict[str, Any]]:
    """The names a sweep's model axis takes: every model (as itself), and its variants."""
    found: dict[str, dict[str, Any]] = {}
    for name in names():
        found[name] = {"model": name}
        if name in BUILT_IN_NAMES:
            for variant, settings in spec(name).variants.items():
                found[variant] = {"model": name, **settings}
    return found
