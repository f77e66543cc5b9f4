"""A sweep: a grid of trials over settings, each trial an ordinary run, and the map they draw.

    runs/<sweep>/
      sweep.json          the manifest: the grid asked for, and each trial's state and failures
      sweep.log           one line per trial started, finished or failed
      lock                held by the process driving the sweep
      <trial>/            an ordinary run directory (config first, trained by the one trainer),
        heldout.json      what the trial reached on fresh examples once trained (`seqtui trial`)
      report.md, .csv     the memory map: accuracy by length x the swept axis, per model

A trial is trained and measured by one process, `seqtui trial RUN` (seqtui.executors starts it
here or on a Ray cluster), so the app, `seqtui runs`, `eval` and `export` see each trial as they
see any run. Running a sweep again keeps finished trials, resumes interrupted ones from their
checkpoints and retries a failed one once. This module imports no torch until a trial is measured.
"""

from __future__ import annotations

import csv
import io
import math
import re
import signal
import threading
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from seqtui.config import SETTING, SETTINGS, TrainConfig
from seqtui.errors import SeqtuiError
from seqtui.runs import (
    CONFIG,
    HELDOUT,
    SWEEP_MANIFEST,
    Run,
    RunLock,
    display_name,
    read_small_json,
    write_json_atomic,
    write_text_atomic,
)

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
RETRIES = 1  # a failed trial is tried again this many times by later runs of its sweep
EXIT_STOPPED = 3  # `seqtui trial`: the run was stopped on request (seqtui stop, the app): not a failure
STOPPED = "stopped on request"
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
# what a training example costs each model against the rnn's at the same size (its time per example
# grows about in proportion to the hidden size): a 48-trial sweep here, one thread per trial, gave
# the LSTM 4.0-4.7x and the GRU 4.5-6.2x the rnn's time per example at 16-128 units
COST = {"rnn": 1.0, "lstm": 4.5, "gru": 5.0}
T_95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}
TRIAL_STATES = ("waiting", "running", "finished", "failed")


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
        from seqtui.presets import preset_config

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


# -- the manifest -----------------------------------------------------------------------------------
@dataclass
class TrialRecord:
    name: str
    values: dict[str, str]
    state: str = "waiting"
    attempts: int = 0
    failures: int = 0
    reason: str | None = None
    updated: float | None = None
    # the trial's whole config as it was when it joined the sweep: a later seqtui whose presets
    # differ continues the sweep on the same recipe
    config: dict | None = None


@dataclass
class Manifest:
    name: str
    spec: SweepSpec
    trials: dict[str, TrialRecord]
    created: float = field(default_factory=time.time)

    def to_dict(self) -> dict:
        return {
            "format": 1,
            "name": self.name,
            "created": self.created,
            **self.spec.to_dict(),
            "trials": [vars(t) for t in self.trials.values()],
        }


def read_manifest(directory: Path) -> Manifest:
    """A sweep's manifest, checked; one SeqtuiError saying what is wrong with it otherwise."""
    directory = Path(directory)
    data = read_small_json(directory / SWEEP_MANIFEST)
    try:
        spec = SweepSpec.from_dict(directory.name, data)
    except SeqtuiError as error:
        raise SeqtuiError(f"{directory / SWEEP_MANIFEST}: {error}") from None
    trials = {}
    for item in data.get("trials", []) if isinstance(data.get("trials"), list) else []:
        if not (isinstance(item, dict) and isinstance(item.get("name"), str) and TRIAL_NAME.fullmatch(item["name"])):
            continue
        record = TrialRecord(item["name"], {})
        values = item.get("values")
        record.values = {str(k): str(v) for k, v in values.items()} if isinstance(values, dict) else {}
        record.state = item.get("state") if item.get("state") in TRIAL_STATES else "waiting"
        for key in ("attempts", "failures"):
            value = item.get(key)
            setattr(record, key, value if isinstance(value, int) and value >= 0 else 0)
        record.reason = item["reason"] if isinstance(item.get("reason"), str) else None
        record.updated = item["updated"] if isinstance(item.get("updated"), (int, float)) else None
        record.config = item["config"] if isinstance(item.get("config"), dict) else None
        trials[record.name] = record
    created = data.get("created")
    return Manifest(spec.name, spec, trials, created if isinstance(created, (int, float)) else time.time())


def write_manifest(directory: Path, manifest: Manifest) -> None:
    try:
        Path(directory).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SeqtuiError(f"cannot create {directory}: {error.strerror or error}") from None
    write_json_atomic(Path(directory) / SWEEP_MANIFEST, manifest.to_dict())


def find_sweeps(root: Path) -> list[Path]:
    try:
        return sorted(p for p in Path(root).iterdir() if (p / SWEEP_MANIFEST).is_file())
    except OSError:
        return []


# -- one trial: trained, then measured ----------------------------------------------------------------
def read_heldout(run: Run) -> dict | None:
    """A trial's measurement, if it has a valid one for its present checkpoint; never raises."""
    try:
        data = read_small_json(run.file(HELDOUT))
    except SeqtuiError:
        return None
    try:
        ok = (
            data.get("format") == 1
            and all(isinstance(data.get(k), int) for k in ("step", "examples", "n_max", "samples"))
            and isinstance(data.get("seconds"), (int, float))
            and all(
                isinstance(data.get(kind), dict) and all(0 <= float(v) <= 1 for v in data[kind].values())
                for kind in ("random", "hard")
            )
        )
        if not ok:
            return None
        for kind in ("random", "hard"):
            data[kind] = {int(k): float(v) for k, v in data[kind].items()}
        ratio = data.get("gradient_ratio")
        data["gradient_ratio"] = float(ratio) if isinstance(ratio, (int, float)) and math.isfinite(ratio) else None
        reached = data.get("examples_to") if isinstance(data.get("examples_to"), dict) else {}
        data["examples_to"] = {str(k): int(v) for k, v in reached.items() if isinstance(v, int)}
        return data
    except (TypeError, ValueError):
        return None


def measure_trial(run: Run, samples: int, beyond: int = BEYOND) -> dict:
    """Accuracy by length on fresh examples (random and hard negatives, up to `beyond` pattern
    lengths past training), the gradient ratio at twice the longest trained pattern, and when
    the held-out set first reached 95% and 99%; written to the run's heldout.json."""
    from seqtui.checkpoint import load_checkpoint
    from seqtui.evaluation import evaluate
    from seqtui.gradients import measure
    from seqtui.history import history_of
    from seqtui.training import resolve_device

    checkpoint = load_checkpoint(run.checkpoint_path)
    config = checkpoint.config
    device = resolve_device(config.device)
    model = checkpoint.build_model(device)
    task = config.task
    longest = min(task.n_max + beyond, 50)
    by_kind = {
        kind: evaluate(model, task, samples, kind, longest, device=device).accuracy_by_length()
        for kind in ("random", "hard")
    }
    ratio = measure(model, task, 256, lengths=[2 * task.n_max], device=device).ratio(2 * task.n_max)
    history = history_of(run.read_metrics())
    status = run.raw_status()
    result = {
        "format": 1,
        "step": checkpoint.step,
        "examples": status.examples,
        "seconds": status.elapsed,
        "samples": samples,
        "n_max": task.n_max,
        "random": {str(n): v for n, v in by_kind["random"].items()},
        "hard": {str(n): v for n, v in by_kind["hard"].items()},
        "gradient_ratio": ratio,
        "examples_to": {f"{k:g}": v for k, v in history.reached_examples.items()},
        "seconds_to": {f"{k:g}": v for k, v in history.reached.items()},
    }
    write_json_atomic(run.file(HELDOUT), result)
    return result


def run_trial(run: Run, samples: int, beyond: int, threads: int | None = None) -> tuple[int, str]:
    """Train `run` to its budget (unless it finished already), then measure it: (exit code, line)."""
    from seqtui import runner

    if run.status().state != "finished" and not _budget_spent(run):
        settings = {"threads": threads} if threads else {}
        outcome = runner.train(run, settings=settings)
        if outcome.state != "finished":
            if outcome.stop_signal is not None:
                code = 128 + outcome.stop_signal
            else:
                code = EXIT_STOPPED if outcome.state == "stopped" else 1
            return code, f"trial {run.shown_name} {outcome.state}: {outcome.message}"
    with run.locked():
        result = measure_trial(run, samples, beyond)
    trained = range(2, 2 * result["n_max"] + 1)
    worst = min(v for n, v in result["random"].items() if int(n) in trained)
    return 0, f"trial {run.shown_name} measured: worst trained length {worst:.4f} (random negatives)"


def _budget_spent(run: Run) -> bool:
    """Whether the run's checkpoint has trained its whole budget (a stop or a kill that came after
    the last step, before the run said it finished): then it is measured, not trained."""
    if not run.checkpoint_path.exists():
        return False
    from seqtui.checkpoint import load_checkpoint

    try:
        counters = load_checkpoint(run.checkpoint_path).counters
        budget = run.config().budget
    except SeqtuiError:
        return False  # the trainer says what is wrong with it
    return budget.reached(int(counters["step"]), int(counters["examples"]), float(counters["elapsed"]))


# -- driving a sweep ----------------------------------------------------------------------------------
@dataclass
class SweepState:
    """What a display shows: each trial's record, and when the sweep started."""

    directory: Path
    manifest: Manifest
    trials: list[Trial]
    started: float = field(default_factory=time.time)
    skipped: list[str] = field(default_factory=list)  # trials left alone, with why
    slots: int = 1  # trials that run at once

    def count(self, state: str) -> int:
        return sum(1 for t in self.manifest.trials.values() if t.state == state)

    def run(self, trial: Trial) -> Run:
        return Run(self.directory / trial.name)

    def eta(self) -> float | None:
        """Seconds left: each unfinished trial's examples left at the speed of trials like it
        measured so far (same model and size; else same model, scaled by size; else any, scaled by
        COST and size), shared over the slots; so the first minutes of a sweep that starts with
        small rnns do not promise too little time for the large LSTMs after them."""
        measured: dict[tuple, list[float]] = {}
        left: list[tuple[tuple, float, float, int]] = []
        for trial in self.trials:
            record = self.manifest.trials[trial.name]
            status = self.run(trial).raw_status()
            key = (trial.values["model"], trial.config.model.hidden)
            size = float(trial.config.model.hidden)
            cost = COST.get(trial.config.model.model, 1.0) * size
            if status.examples and status.elapsed > 0:
                for k, work in ((key, 1.0), (key[:1], size), ((), cost)):
                    total = measured.setdefault(k, [0.0, 0.0])
                    total[0] += status.examples * work
                    total[1] += status.elapsed
            if record.state in ("running", "waiting"):
                left.append((key, size, cost, max(0, _work(trial) - status.examples)))
        if not left:
            return 0.0
        if () not in measured:
            return None
        seconds = 0.0
        for key, size, cost, examples in left:
            k = next(k for k in (key, key[:1], ()) if k in measured)
            done, spent = measured[k]
            seconds += examples * {key: 1.0, key[:1]: size, (): cost}[k] * spent / done
        return seconds / max(1, min(self.slots, len(left)))


def _work(trial: Trial) -> int:
    budget = trial.config.budget
    return budget.samples or (budget.steps or 0) * trial.config.batch_size


class Executor:
    """Where trials run. `capacity` trials at once; `start` one; `poll` the ones that ended:
    (trial name, None or why it failed); `stop` every trial still running (they save a checkpoint)."""

    capacity: int = 1  # trials handed to it at once
    slots: int = 1  # trials that actually run at once (Ray queues what it has no room for)
    description: str = ""

    def start(self, name: str, run: Run, args: list[str]) -> None:
        raise NotImplementedError

    def poll(self) -> list[tuple[str, str | None]]:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


def prepare(spec: SweepSpec, root: Path, resume_only: bool = False) -> tuple[Path, list[Trial], Manifest]:
    """Check the whole sweep before anything is written, then create its manifest and trials.

    A sweep that exists is continued only with the same grid and settings."""
    from seqtui.limits import check_training_fits

    directory = sweep_dir(root, spec.name)
    trials = spec.trials()
    manifest = None
    if (directory / SWEEP_MANIFEST).exists():
        old = read_manifest(directory)
        if old.spec.to_dict() != spec.to_dict() and not resume_only:
            raise SeqtuiError(
                f"a sweep named {spec.name} exists with other settings ({describe_difference(old.spec, spec)}): "
                f"run it again as it was (seqtui sweep --name {spec.name}), or choose another --name"
            )
        manifest = old
    elif directory.exists():
        try:
            taken = any(directory.iterdir())
        except OSError:
            taken = True
        if taken:
            raise SeqtuiError(f"{directory} exists and is not a sweep: choose another --name")
    if manifest is None:
        manifest = Manifest(spec.name, spec, {})
    for trial in trials:
        record = manifest.trials.setdefault(trial.name, TrialRecord(trial.name, trial.shown()))
        if record.config is None:  # a new trial (or one of a sweep from before configs were kept)
            record.config = trial.config.to_dict()
        else:  # the recipe it started with, whatever today's presets say
            try:
                trial.config = TrainConfig.from_dict(record.config)
            except SeqtuiError as error:
                raise SeqtuiError(f"{directory / SWEEP_MANIFEST}: trial {trial.name}: {error}") from None
        try:
            check_training_fits(trial.config)
        except SeqtuiError as error:
            raise SeqtuiError(f"trial {trial.name}: {error}") from None
    if spec.eval_samples < (2 * max(t.config.task.n_max for t in trials) + spec.beyond):
        raise SeqtuiError(f"--eval-samples {spec.eval_samples} is too few for the lengths measured: one each at least")
    manifest.trials = {t.name: manifest.trials[t.name] for t in trials}
    return directory, trials, manifest


def describe_difference(old: SweepSpec, new: SweepSpec) -> str:
    a, b = old.to_dict(), new.to_dict()
    for part in ("grid", "settings"):
        for key in sorted(set(a[part]) | set(b[part])):
            if a[part].get(key) != b[part].get(key):
                there, here = (_listed(d[part].get(key, "-")) for d in (a, b))
                return f"{key} {there} there, {here} here"
    for key in ("preset", "eval_samples", "beyond", "kind"):
        if a[key] != b[key]:
            return f"{key} {a[key]} there, {b[key]} here"
    return "they differ"


def _listed(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def trial_args(run: Run, spec: SweepSpec, threads: int | None) -> list[str]:
    """The one command that trains and measures a trial, wherever it runs."""
    args = ["trial", str(run.path.resolve()), "--eval-samples", str(spec.eval_samples), "--beyond", str(spec.beyond)]
    return args + (["--threads", str(threads)] if threads else [])


def run_sweep(
    spec: SweepSpec,
    root: Path,
    executor: Executor,
    threads: int | None = None,
    retry_failed: bool = False,
    on_change: Callable[[SweepState, str], None] | None = None,
    tick: Callable[[SweepState], None] | None = None,
    resume_only: bool = False,
) -> SweepState:
    """Train every trial not finished yet, `executor.capacity` at a time; returns when all ended.

    Ctrl-C (KeyboardInterrupt) stops the running trials with a checkpoint and is raised again."""
    directory, trials, manifest = prepare(spec, root, resume_only)
    directory.mkdir(parents=True, exist_ok=True)
    lock = RunLock(directory / "lock")
    if not lock.acquire():
        raise SeqtuiError(f"sweep {spec.name} is being run by another process")
    state = SweepState(directory, manifest, trials, slots=executor.slots)
    previous = _terminate_as_interrupt()
    say = on_change or (lambda state, line: None)
    log = directory / "sweep.log"
    try:
        waiting = _plan(state, retry_failed)
        write_manifest(directory, manifest)
        running: dict[str, Trial] = {}

        def note(line: str) -> None:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            try:
                with open(log, "a") as out:
                    out.write(f"{stamp} {line}\n")
            except OSError:
                pass
            say(state, line)

        for name, why in state.skipped:
            note(f"{name}: {why}")
        try:
            while waiting or running:
                while waiting and len(running) < executor.capacity:
                    trial = waiting.pop(0)
                    record = manifest.trials[trial.name]
                    run = state.run(trial)
                    if not (run.path / CONFIG).exists():
                        Run.create(run.path, trial.config)
                    record.state, record.attempts, record.updated = "running", record.attempts + 1, time.time()
                    write_manifest(directory, manifest)
                    executor.start(trial.name, run, trial_args(run, spec, threads))
                    running[trial.name] = trial
                    note(f"{trial.name}: started ({executor.description})")
                for name, failure in executor.poll():
                    trial = running.pop(name)
                    record = manifest.trials[name]
                    record.updated = time.time()
                    heldout = read_heldout(state.run(trial)) if failure is None else None
                    if failure is None and heldout is None:
                        failure = "it ended without a measurement"
                    if failure is None:
                        record.state, record.reason = "finished", None
                        note(f"{name}: finished")
                    elif failure.startswith(STOPPED):  # someone stopped it: resumed by the next run
                        record.state, record.reason = "waiting", None
                        note(f"{name}: {STOPPED}; the next run of the sweep resumes it")
                    else:
                        record.state, record.reason, record.failures = "failed", failure, record.failures + 1
                        note(f"{name}: failed: {failure}")
                    write_manifest(directory, manifest)
                if tick:
                    tick(state)
                time.sleep(0.2)
        except BaseException:
            executor.stop()
            for name in list(running):
                manifest.trials[name].state = "waiting"
                manifest.trials[name].updated = time.time()
            write_manifest(directory, manifest)
            raise
        finally:
            executor.close()
        done = [t.state == "finished" for t in manifest.trials.values()]
        if all(done) or (spec.kind == "sweep" and any(done)):  # a comparison reports all its models
            write_report(directory)
        return state
    finally:
        lock.release()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _terminate_as_interrupt():
    """SIGTERM (the app stopping a comparison, a scheduler) ends the sweep like Ctrl-C: its trials
    stop with a checkpoint. Only in the main thread, where Python delivers signals; returns the
    handler it replaced (None where it replaced none)."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, interrupt)


def _plan(state: SweepState, retry_failed: bool) -> list[Trial]:
    """Which trials to run now: not finished, not failed past their retry, not trained elsewhere."""
    waiting = []
    for trial in state.trials:
        record = state.manifest.trials[trial.name]
        run = state.run(trial)
        if (run.path / CONFIG).exists():
            status = run.status()
            heldout = read_heldout(run) if status.state == "finished" else None
            if heldout is not None and heldout["step"] == status.step:  # measured where it finished
                record.state, record.reason = "finished", None
                continue
            if status.active:
                state.skipped.append((trial.name, f"left alone: it is training in process {status.pid}"))
                record.state = "running"
                continue
        if record.state == "failed" and record.failures > RETRIES and not retry_failed:
            state.skipped.append((trial.name, f"failed {record.failures} times, not tried again (--retry-failed)"))
            continue
        record.state = "waiting"
        waiting.append(trial)
    return waiting


# -- the report: the memory map --------------------------------------------------------------------
@dataclass
class Cell:
    mean: float
    half: float | None  # half-width of the 95% interval over seeds (None: one seed)
    count: int


def mean_interval(values: list[float]) -> Cell:
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return Cell(mean, None, n)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    t = T_95.get(n - 1, 2.0 if n <= 30 else 1.96)
    return Cell(mean, t * sd / math.sqrt(n), n)


@dataclass
class MapRow:
    model: str
    key: tuple[str, ...]  # the values of the map's row axes
    negatives: str
    n_max: int
    by_length: dict[int, Cell]
    hard_by_length: dict[int, Cell]
    seeds: int
    reached_99: list[int]  # examples to 99% of the seeds that reached it
    ratios: list[float]
    trials: list[str]


def memory_map(directory: Path) -> tuple[Manifest, list[str], list[MapRow]]:
    """The sweep's trials measured so far, grouped: per model, per value of the row axes, over seeds."""
    manifest = read_manifest(directory)
    axes = manifest.spec.axes()
    groups: dict[tuple, list[tuple[str, dict, dict]]] = {}
    for record in manifest.trials.values():
        run = Run(Path(directory) / record.name)
        heldout = read_heldout(run)
        if heldout is None:
            continue
        model = record.values.get("model", "?")
        key = tuple(record.values.get(a, "") for a in axes)
        try:
            negatives = run.config().task.negatives
        except SeqtuiError:
            continue
        groups.setdefault((model, key, negatives), []).append((record.name, record.values, heldout))
    order = {m: i for i, m in enumerate(VARIANTS)}
    rows = []
    for (model, key, negatives), members in groups.items():
        results = [h for _, _, h in members]
        rows.append(
            MapRow(
                model,
                key,
                negatives,
                max(h["n_max"] for h in results),
                _cells(results, "random"),
                _cells(results, "hard"),
                len(results),
                [h["examples_to"]["0.99"] for h in results if "0.99" in h["examples_to"]],
                [h["gradient_ratio"] for h in results if h["gradient_ratio"] is not None],
                [name for name, _, _ in members],
            )
        )

    def sort_key(row: MapRow):
        numbers = tuple(_number(v) for v in row.key)
        return (order.get(row.model, 99), row.model, numbers, row.negatives)

    return manifest, axes, sorted(rows, key=sort_key)


def _cells(results: list[dict], kind: str) -> dict[int, Cell]:
    lengths = sorted(set().union(*(h[kind] for h in results)))
    return {n: mean_interval([h[kind][n] for h in results if n in h[kind]]) for n in lengths}


def _number(text: str) -> tuple:
    try:
        return (0, float(text.rstrip("s")), text)
    except ValueError:
        return (1, 0.0, text)


def geometric_mean(values: list[float]) -> float | None:
    positive = [v for v in values if v > 0]
    return math.exp(sum(math.log(v) for v in positive) / len(positive)) if positive else None


def cell_text(cell: Cell | None) -> str:
    if cell is None:
        return ""
    return f"{cell.mean:.3f}" + (f"±{cell.half:.3f}" if cell.half is not None else "")


def write_report(directory: Path) -> tuple[Path, Path]:
    """report.md and report.csv in the sweep's directory, from the trials measured so far (a
    comparison's report: once all its models are)."""
    directory = Path(directory)
    if read_manifest(directory).spec.kind == "comparison":
        from seqtui.compare import write_comparison

        written = write_comparison(directory)
        if written is None:
            raise SeqtuiError(f"comparison {directory.name} is not finished: each model is trained and measured first")
        return written
    manifest, axes, rows = memory_map(directory)
    spec = manifest.spec
    seeds = len(spec.grid.get("seed", [0]))
    total = len(manifest.trials)
    measured = sum(len(r.trials) for r in rows)
    axis_label = ", ".join(axes) or "-"
    shown = spec.to_dict()
    fixed = f"; settings: {', '.join(f'{k} {v}' for k, v in shown['settings'].items())}" if spec.settings else ""
    lines = [
        f"# Sweep {spec.name}: the memory map",
        "",
        f"{measured} of {total} trials measured. Grid: "
        + "; ".join(f"{k} {', '.join(map(str, v))}" for k, v in shown["grid"].items())
        + fixed
        + f". Held-out accuracy on {spec.eval_samples:,} fresh examples spread over the lengths, "
        f"mean over {seeds} seed{'s' if seeds != 1 else ''}"
        + (" ± the half-width of its 95% interval (t over seeds)." if seeds > 1 else ".")
        + " Lengths marked * are past the training range.",
    ]
    for model in dict.fromkeys(r.model for r in rows):
        for kind, attribute in (("random negatives", "by_length"), ("hard negatives", "hard_by_length")):
            subset = [r for r in rows if r.model == model]
            lengths = sorted(set().union(*(getattr(r, attribute) for r in subset)))
            n_max = max(r.n_max for r in subset)
            header = [f"{n}{'*' if n > 2 * n_max else ''}" for n in lengths]
            lines += ["", f"## {model}: accuracy by length, {kind}", ""]
            extra = ["examples to 99%", "gradient first/last"] if attribute == "by_length" else []
            lines.append("| " + " | ".join([axis_label, "trained on", "seeds", *header, *extra]) + " |")
            lines.append("| " + " | ".join(["---"] * 3 + ["---:"] * (len(header) + len(extra))) + " |")
            for r in subset:
                cells = [cell_text(getattr(r, attribute).get(n)) for n in lengths]
                if extra:
                    reached = (
                        f"{sum(r.reached_99) / len(r.reached_99):,.0f} ({len(r.reached_99)}/{r.seeds})"
                        if r.reached_99
                        else f"- (0/{r.seeds})"
                    )
                    ratio = geometric_mean(r.ratios)
                    cells += [reached, f"{ratio:.2g}" if ratio is not None else "-"]
                lines.append("| " + " | ".join([", ".join(r.key) or "-", r.negatives, str(r.seeds), *cells]) + " |")
    lines += [
        "",
        "Examples to 99%: training examples until the held-out set first showed 99% at every trained "
        "length, mean over the seeds that reached it (how many did). Gradient first/last: "
        "|dL/dh_1| / |dL/dh_T| at twice the longest trained pattern, geometric mean over seeds; "
        "below ~1e-3 the first digits barely reach the loss.",
    ]
    md_path, csv_path = directory / "report.md", directory / "report.csv"
    write_text_atomic(md_path, "\n".join(lines) + "\n")
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(
        ["model", *axes, "trained_on", "tested_on", "length", "beyond", "mean", "ci95", "seeds"]
        + ["examples_to_99", "reached_99", "gradient_ratio"]
    )
    for r in rows:
        reached = sum(r.reached_99) / len(r.reached_99) if r.reached_99 else ""
        ratio = geometric_mean(r.ratios)
        for kind, cells in (("random", r.by_length), ("hard", r.hard_by_length)):
            for n, cell in cells.items():
                writer.writerow(
                    [r.model, *r.key, r.negatives, kind, n, int(n > 2 * r.n_max), f"{cell.mean:.6f}"]
                    + ["" if cell.half is None else f"{cell.half:.6f}", cell.count]
                    + [reached, len(r.reached_99), "" if ratio is None else f"{ratio:.6g}"]
                )
    write_text_atomic(csv_path, table.getvalue())
    return md_path, csv_path


# -- following a sweep as it grows ------------------------------------------------------------------
@dataclass
class TrialView:
    name: str
    state: str  # the manifest's word, corrected by the run's own status when it trains
    step: int
    progress: float | None  # of its work budget
    worst: float | None  # the latest held-out worst length while training, or after
    reached_99: int | None  # examples to 99% at every trained length


class SweepFollower:
    """Follows a sweep's manifest and each trial's status and measurement, re-reading only what
    changed (a stat per file per poll); `map` is the memory map of the trials measured so far.
    Never raises: a damaged manifest is `problem`."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.manifest: Manifest | None = None
        self.axes: list[str] = []
        self.map: list[MapRow] = []
        self.trials: list[TrialView] = []
        self.problem: str | None = None
        self.version = 0
        self._stamps: tuple = ()

    def _stamp(self) -> tuple:
        stamps = []
        names = self.manifest.trials if self.manifest else {}
        for path in [self.directory / SWEEP_MANIFEST] + [
            self.directory / name / part for name in names for part in ("status.json", HELDOUT)
        ]:
            try:
                info = path.stat()
                stamps.append((info.st_ino, info.st_mtime_ns, info.st_size))
            except OSError:
                stamps.append(None)
        return tuple(stamps)

    def poll(self) -> bool:
        stamps = self._stamp()
        if stamps == self._stamps:
            return False
        try:
            manifest, axes, rows = memory_map(self.directory)
            self.problem = None
        except SeqtuiError as error:
            self._stamps = stamps
            self.problem, self.map, self.trials = str(error), [], []
            self.version += 1
            return True
        first = self.manifest is None
        self.manifest, self.axes, self.map = manifest, axes, rows
        self.trials = [self._view(record) for record in manifest.trials.values()]
        self._stamps = self._stamp() if first else stamps  # now that the trials are known
        self.version += 1
        return True

    def _view(self, record: TrialRecord) -> TrialView:
        run = Run(self.directory / record.name)
        status = run.status()
        state = record.state
        if status.active:
            state = "running"
        elif state == "running":
            state = "waiting"  # handed out, not started (or left by a sweep that is gone)
        heldout = read_heldout(run) if record.state == "finished" else None
        progress = None
        worst = status.best_worst
        try:
            progress = run.config().budget.work_progress(status.step, status.examples)
        except SeqtuiError:
            pass
        reached = None
        if heldout is not None:
            trained = range(2, 2 * heldout["n_max"] + 1)
            worst = min((v for n, v in heldout["random"].items() if n in trained), default=None)
            reached = heldout["examples_to"].get("0.99")
        return TrialView(record.name, state, status.step, progress, worst, reached)

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(TRIAL_STATES, 0)
        for trial in self.trials:
            out[trial.state] = out.get(trial.state, 0) + 1
        return out
