"""What a sweep asks for: a grid (setting -> typed values; `model` takes VARIANTS names) over
fixed settings, and the trials it makes, each with its whole config built and checked.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqtui.settings.config import TrainConfig
from seqtui.settings.errors import SeqtuiError
from seqtui.settings.registry import SETTING, SETTINGS
from seqtui.store.layout import display_name

# the model axis: the tutorial's rnn, its identity-initialised clipped variant (IRNN), lstm, gru
VARIANTS: dict[str, dict[str, Any]] = {
    "rnn": {"model": "rnn"},
    "irnn": {"model": "rnn", "init": "identity", "clip": 1.0},
    "lstm": {"model": "lstm"},
    "gru": {"model": "gru"},
}


ALIASES = {"rnn-identity": "irnn"}


BEYOND = 5  # pattern lengths past the training range that a trial is also measured at


EVAL_SAMPLES = 20_000


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


def variant(name: str) -> str:
    name = ALIASES.get(name, name)
    if name not in VARIANTS:
        raise SeqtuiError(f"unknown model {name!r}: choose from {', '.join(VARIANTS)}")
    return name


def sweep_dir(root: Path, name: str) -> Path:
    return Path(root) / name


def check_name(name: str) -> str:
    if not NAME.fullmatch(name or "") or name in (".", ".."):
        raise SeqtuiError(f"sweep name {display_name(str(name))!r}: letters, digits, '_', '.' and '-' (at most 64)")
    return name


# -- what is swept ---------------------------------------------------------------------------------
@dataclass
class Trial:
    name: str
    values: dict[str, Any]  # the swept settings' values (model: a VARIANTS name)
    config: TrainConfig

    def shown(self) -> dict[str, str]:
        return {k: (v if k == "model" else SETTING[k].show(v)) for k, v in self.values.items()}


@dataclass
class SweepSpec:
    """A grid (setting name -> values; `model` takes VARIANTS names) over fixed settings."""

    name: str
    grid: dict[str, list[Any]]
    settings: dict[str, Any] = field(default_factory=dict)
    preset: str = "default"
    eval_samples: int = EVAL_SAMPLES
    beyond: int = BEYOND
    kind: str = "sweep"  # or "comparison": `seqtui compare`, the same thing over models with one seed

    @classmethod
    def build(
        cls,
        name: str,
        texts: dict[str, str | list],
        where: str = "",
        seeds: int | None = None,
        **kw: Any,
    ) -> "SweepSpec":
        """From settings as typed (`"16,32"` or a list: an axis; one value: fixed); `where` names
        the flag or file in messages. `seeds` sweeps the seed over 0..seeds-1."""
        grid: dict[str, list[Any]] = {}
        settings: dict[str, Any] = {}
        for key, text in texts.items():
            name_ = key.replace("_", "-")
            items = text if isinstance(text, list) else [t for t in str(text).split(",")]
            items = [str(t).strip() for t in items]
            label = f"{where}{name_}" if where else f"--{name_}"
            if name_ == "model":
                values = [variant(t) for t in items if t]
            elif name_ in SETTING:
                try:
                    values = [SETTING[name_].read(t) for t in items]
                except SeqtuiError as error:
                    raise SeqtuiError(f"{label}: {error}") from None
            else:
                raise SeqtuiError(f"{label}: not a setting (choose from model, {', '.join(s.name for s in SETTINGS)})")
            if not values:
                raise SeqtuiError(f"{label}: no value given")
            twice = sorted({str(v) for v in values if values.count(v) > 1})
            if twice:
                raise SeqtuiError(f"{label}: {twice[0]} is given twice")
            if len(values) > 1 and name_ in NOT_AXES | {s.name for s in SETTINGS if s.budget}:
                raise SeqtuiError(f"{label}: one value only (it says how trials run, not what they learn)")
            if len(values) > 1 or name_ == "model":
                grid[name_] = values
            else:
                settings[name_] = values[0]
        if seeds is not None:
            if "seed" in grid or "seed" in settings:
                raise SeqtuiError("give either --seeds K (seeds 0..K-1) or --seed, not both")
            if seeds < 1:
                raise SeqtuiError(f"--seeds {seeds}: at least one seed")
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
            given = {**VARIANTS[values["model"]], **self.settings}
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
            "grid": {k: [v if k == "model" else SETTING[k].show(v) for v in vs] for k, vs in self.grid.items()},
            "settings": {k: SETTING[k].show(v) for k, v in self.settings.items()},
            "preset": self.preset,
            "eval_samples": self.eval_samples,
            "beyond": self.beyond,
        }

    @classmethod
    def from_dict(cls, name: str, data: Any) -> "SweepSpec":
        if not isinstance(data, dict) or not isinstance(data.get("grid"), dict):
            raise SeqtuiError("its manifest holds no grid")
        settings = data.get("settings", {})
        if not isinstance(settings, dict) or not all(isinstance(v, list) for v in data["grid"].values()):
            raise SeqtuiError("its manifest's grid or settings are not what seqtui writes")
        texts: dict[str, Any] = {k: [str(v) for v in vs] for k, vs in data["grid"].items()}
        texts.update({k: str(v) for k, v in settings.items()})
        spec = cls.build(name, texts, where="manifest: ")
        for key in ("preset", "eval_samples", "beyond", "kind"):
            if key in data:
                setattr(spec, key, data[key])
        if not (isinstance(spec.eval_samples, int) and spec.eval_samples > 0 and isinstance(spec.beyond, int)):
            raise SeqtuiError("its manifest's eval_samples or beyond are not whole numbers")
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
    `eval_samples`, `preset` at the top. Returns (texts for SweepSpec.build, the top-level keys)."""
    import json

    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SeqtuiError(f"sweep file {path}: {error.strerror or error}") from None
    if len(data) > 1 << 20:
        raise SeqtuiError(f"sweep file {path} is far too large")
    try:
        if path.suffix == ".json":
            parsed = json.loads(data)
        else:
            parsed = tomllib.loads(data.decode())
    except (ValueError, UnicodeDecodeError) as error:
        raise SeqtuiError(f"sweep file {path} cannot be read: {error}") from None
    if not isinstance(parsed, dict):
        raise SeqtuiError(f"sweep file {path} does not hold a table")
    known = {"grid", "settings", "name", "seeds", "eval_samples", "preset"}
    unknown = sorted(set(parsed) - known)
    if unknown:
        raise SeqtuiError(f"sweep file {path}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")
    texts: dict[str, Any] = {}
    for part in ("settings", "grid"):
        table = parsed.get(part, {})
        if not isinstance(table, dict):
            raise SeqtuiError(f"sweep file {path}: [{part}] is not a table")
        for key, value in table.items():
            if part == "grid" and not isinstance(value, list):
                value = [value]
            if isinstance(value, list) and part == "settings":
                raise SeqtuiError(f"sweep file {path}: settings.{key} is a list: put axes under [grid]")
            if isinstance(value, (dict, bool)) or (isinstance(value, list) and not value):
                raise SeqtuiError(f"sweep file {path}: {part}.{key} is not a value or a list of values")
            texts[key] = [str(v) for v in value] if isinstance(value, list) else str(value)
    return texts, {k: v for k, v in parsed.items() if k not in ("grid", "settings")}
