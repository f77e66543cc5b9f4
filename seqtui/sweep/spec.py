"""What a sweep asks for: a grid (setting -> typed values; `model` takes registered models and variants) over
fixed settings, and the trials it makes, each with its whole config built and checked.

Values stay typed from where they were given to the trials' configs: a flag's comma list is read
by the command line into values, a sweep file's TOML or JSON values are checked as they are, and
the manifest keeps them as JSON values. Only a trial's name and the report show them as text.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqtui.settings import networks
from seqtui.settings.config import TrainConfig
from seqtui.settings.errors import SeqtuiError
from seqtui.settings.registry import SETTING, SETTINGS
from seqtui.store.layout import display_name

# the model axis takes every registered model by name, and variants (irnn: the rnn identity-
# initialised and clipped); seqtui.settings.networks.variants()
ALIASES = networks.ALIASES
CLASSIC = ("rnn", "irnn", "lstm", "gru")  # what a comparison trains unless told: the tutorial's four
BEYOND = 5  # pattern lengths past the training range that a trial is also measured at
EVAL_SAMPLES = 20_000  # fresh examples a trial is measured on
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # a sweep's
TRIAL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,199}")  # one value per swept setting
# how a swept value shows in a trial's name: hidden 64 -> h64, seed 2 -> s2, negatives hard -> hard
SHORT = {
    "hidden": "h",
    "seed": "s",
    "n-max": "n",
    "n-min": "nmin",
    "lr": "lr",
    "batch-size": "b",
    "warmup": "w",
    "curriculum": "c",
}
# settings that say how a trial is run, not what it learns: never an axis
NOT_AXES = {"threads", "log-every", "eval-every", "checkpoint-every", "eval-samples", "target-acc", "device"}
FILE_KEYS = {"grid", "settings", "name", "seeds", "eval_samples", "preset"}


def variant(name: str) -> str:
    """A name the model axis takes (a registered model or a variant); one line for any other."""
    name = ALIASES.get(name, name)
    known = networks.variants()
    if name not in known:
        raise SeqtuiError(f"unknown model {name!r}: choose from {', '.join(known)}")
    return name


def sweep_dir(root: Path, name: str) -> Path:
    return Path(root) / name


def check_name(name: str) -> str:
    if not NAME.fullmatch(name or "") or name in (".", ".."):
        raise SeqtuiError(f"sweep name {display_name(str(name))!r}: letters, digits, '_', '.' and '-' (at most 64)")
    return name


def setting_value(name: str, given: Any) -> Any:
    """One value of a swept or fixed setting, typed: `model` a registered model or variant, any other setting
    read or checked by its entry in SETTINGS. The message names the setting."""
    if name == "model":
        if not isinstance(given, str):
            raise SeqtuiError(f"model: {given!r} is not a model's name")
        return variant(given.strip())
    if name not in SETTING:
        raise SeqtuiError(f"{name}: not a setting (choose from model, {', '.join(s.name for s in SETTINGS)})")
    try:
        return SETTING[name].value(given)
    except SeqtuiError as error:
        raise SeqtuiError(f"{name}: {error}") from None


def shown_value(name: str, value: Any) -> str:
    """A typed value as a person reads it (in a trial's name, the report, the app)."""
    return value if name == "model" else SETTING[name].show(value)


# -- what is swept ---------------------------------------------------------------------------------
@dataclass
class Trial:
    name: str
    values: dict[str, Any]  # the swept settings' typed values (model: a registered model or variant)
    config: TrainConfig


@dataclass
class SweepSpec:
    """A grid (setting name -> typed values; `model` takes registered models and variants) over fixed settings."""

    name: str
    grid: dict[str, list[Any]]
    settings: dict[str, Any] = field(default_factory=dict)
    preset: str = "default"
    eval_samples: int = EVAL_SAMPLES
    beyond: int = BEYOND
    kind: str = "sweep"  # or "comparison": `seqtui compare`, the same thing over models with one seed

    @classmethod
    def build(cls, name: str, given: dict[str, Any], seeds: int | None = None, **kw: Any) -> "SweepSpec":
        """From settings by name (`n-max` or `n_max`): a list of values sweeps the setting, one
        value fixes it. Values are typed, or text as a person writes it. `seeds` sweeps the seed
        over 0..seeds-1. Nothing is trained or written."""
        grid: dict[str, list[Any]] = {}
        settings: dict[str, Any] = {}
        for key, raw in given.items():
            setting = key.replace("_", "-")
            values = [setting_value(setting, v) for v in (raw if isinstance(raw, list) else [raw])]
            if not values:
                raise SeqtuiError(f"{setting}: no value given")
            twice = sorted({shown_value(setting, v) for v in values if values.count(v) > 1})
            if twice:
                raise SeqtuiError(f"{setting}: {twice[0]} is given twice")
            if len(values) > 1 and setting in NOT_AXES | {s.name for s in SETTINGS if s.budget}:
                raise SeqtuiError(f"{setting}: one value only (it says how trials run, not what they learn)")
            if len(values) > 1 or setting == "model":
                grid[setting] = values
            else:
                settings[setting] = values[0]
        if seeds is not None:
            if "seed" in grid or "seed" in settings:
                raise SeqtuiError("give either seeds (0..K-1) or a seed, not both")
            if seeds < 1:
                raise SeqtuiError(f"seeds {seeds}: at least one seed")
            if seeds > 1:
                grid["seed"] = list(range(seeds))
            else:
                settings["seed"] = 0
        grid.setdefault("model", ["lstm"])
        return cls(check_name(name), grid, settings, **kw)

    def trials(self) -> list[Trial]:
        """Every trial of the grid, each config built and checked (nothing is written)."""
        from seqtui.settings.presets import preset_config

        order = ["model"] + [s.name for s in SETTINGS if s.name in self.grid and s.name != "model"]
        combos: list[dict[str, Any]] = [{}]
        for axis in order:
            combos = [{**c, axis: v} for c in combos for v in self.grid[axis]]
        trials = []
        for values in combos:
            given = {**networks.variants()[values["model"]], **self.settings}
            given.update({k: v for k, v in values.items() if k != "model"})
            try:
                config = preset_config(given, self.preset)
            except SeqtuiError as error:
                raise SeqtuiError(f"trial {trial_name(values)}: {error}") from None
            trials.append(Trial(trial_name(values), values, config))
        names = [t.name for t in trials]
        too_long = [n for n in names if not TRIAL_NAME.fullmatch(n)]
        if too_long:
            raise SeqtuiError(f"trial name {too_long[0][:40]}... is over 200 characters: sweep fewer settings at once")
        if len(set(names)) != len(names):
            raise SeqtuiError("two trials would have the same name: give each axis distinct values")
        return trials

    def axes(self) -> list[str]:
        """The swept settings besides the model and the seed: the rows of the map."""
        return [a for a in self.grid if a not in ("model", "seed") and len(self.grid[a]) > 1]

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "grid": {k: list(vs) for k, vs in self.grid.items()},
            "settings": dict(self.settings),
            "preset": self.preset,
            "eval_samples": self.eval_samples,
            "beyond": self.beyond,
        }

    def shown(self) -> dict[str, dict[str, Any]]:
        """The grid and the settings as a person reads them."""
        return {
            "grid": {k: [shown_value(k, v) for v in vs] for k, vs in self.grid.items()},
            "settings": {k: shown_value(k, v) for k, v in self.settings.items()},
        }

    @classmethod
    def from_dict(cls, name: str, data: Any) -> "SweepSpec":
        """From a manifest: typed values, or the display strings earlier versions wrote."""
        if not isinstance(data, dict) or not isinstance(data.get("grid"), dict):
            raise SeqtuiError("its manifest holds no grid")
        settings = data.get("settings", {})
        if not isinstance(settings, dict) or not all(isinstance(v, list) for v in data["grid"].values()):
            raise SeqtuiError("its manifest's grid or settings are not what seqtui writes")
        spec = cls.build(name, {**data["grid"], **settings})
        for key in ("preset", "eval_samples", "beyond", "kind"):
            if key in data:
                setattr(spec, key, data[key])
        if not (isinstance(spec.eval_samples, int) and spec.eval_samples > 0 and isinstance(spec.beyond, int)):
            raise SeqtuiError("its manifest's eval_samples or beyond are not whole numbers")
        if spec.preset not in ("default", "tutorial") or spec.kind not in ("sweep", "comparison"):
            raise SeqtuiError("its manifest's preset or kind is not one seqtui knows")
        return spec


def trial_name(values: dict[str, Any]) -> str:
    parts = []
    for key, value in values.items():
        if key == "model":
            parts.append(value)
            continue
        shown = SETTING[key].show(value)
        parts.append(re.sub(r"[^A-Za-z0-9_.]", "", f"{SHORT.get(key, '')}{shown}" if key in SHORT else shown))
    return "-".join(parts)


def read_sweep_file(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """A sweep file (TOML or JSON): `[grid]` (axes), `[settings]` (fixed), and `name`, `seeds`,
    `eval_samples`, `preset` at the top. Returns (settings by name for SweepSpec.build, with a
    list for each axis; the top-level keys). Values are checked and typed as the file gives them:
    `hidden = 16` and `samples = "40k"` both mean what they say."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SeqtuiError(f"sweep file {path}: {error.strerror or error}") from None
    if len(data) > 1 << 20:
        raise SeqtuiError(f"sweep file {path} is far too large")
    try:
        parsed = json.loads(data) if path.suffix == ".json" else tomllib.loads(data.decode())
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise SeqtuiError(f"sweep file {path} cannot be read: {str(error)[:200]}") from None
    if not isinstance(parsed, dict):
        raise SeqtuiError(f"sweep file {path} does not hold a table")
    unknown = sorted(set(parsed) - FILE_KEYS)
    if unknown:
        raise SeqtuiError(f"sweep file {path}: unknown key {unknown[0]!r} (known: {', '.join(sorted(FILE_KEYS))})")
    given: dict[str, Any] = {}
    for part in ("settings", "grid"):
        table = parsed.get(part, {})
        if not isinstance(table, dict):
            raise SeqtuiError(f"sweep file {path}: [{part}] is not a table")
        for key, value in table.items():
            if part == "grid" and not isinstance(value, list):
                value = [value]
            if isinstance(value, list) and part == "settings":
                raise SeqtuiError(f"sweep file {path}: settings.{key} is a list: put axes under [grid]")
            items = value if isinstance(value, list) else [value]
            if not items or any(isinstance(v, (dict, list, bool)) for v in items):
                raise SeqtuiError(f"sweep file {path}: {part}.{key} is not a value or a list of values")
            setting = key.replace("_", "-")
            try:
                typed = [setting_value(setting, v) for v in items]
            except SeqtuiError as error:
                raise SeqtuiError(f"sweep file {path}: {error}") from None
            given[setting] = typed if isinstance(value, list) else typed[0]
    return given, {k: v for k, v in parsed.items() if k not in ("grid", "settings")}
