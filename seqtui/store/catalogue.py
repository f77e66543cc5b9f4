"""Many runs under a root: listing them (a sweep's trials too), finding one by name, naming a new one."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from seqtui.settings.config import TrainConfig
from seqtui.settings.errors import ModelUnavailable, SeqtuiError
from seqtui.store.layout import CONFIG, RUN_FILES, SWEEP_MANIFEST, default_root, display_name
from seqtui.store.run import Run
from seqtui.store.status import RunStatus

NO_MODEL = "no model"  # a whole run whose model is not registered here (its package not installed)


# -- many runs -----------------------------------------------------------------------------------
@dataclass
class RunSummary:
    run: Run
    state: str
    model: str
    task: str
    negatives: str
    step: int
    examples: int
    best_worst: float | None
    updated: float
    problem: str | None = None  # why the run is damaged, if it is
    status: RunStatus = field(default_factory=RunStatus)

    @property
    def worst(self) -> float | None:
        """The figure every list and screen shows: held-out accuracy at the worst length, latest."""
        return self.status.latest_worst

    @property
    def verdict(self) -> str:
        """learned, short, partial or chance for a finished run that was evaluated; else "-"."""
        return self.status.verdict or "-"

    @classmethod
    def of(cls, run: Run) -> "RunSummary":
        status = run.status()
        try:
            updated = run.path.stat().st_mtime
        except OSError:
            updated = 0.0
        if status.heartbeat is not None:
            updated = status.heartbeat
        try:
            config = run.config()
        except SeqtuiError as error:
            whole = isinstance(error, ModelUnavailable)  # whole, its model not installed here
            if not whole:
                status = replace(status, verdict=None)  # a damaged run is judged by no one
            return cls(
                run,
                "running" if status.active else (NO_MODEL if whole else "damaged"),
                "?",
                "?",
                "?",
                status.step,
                status.examples,
                status.best_worst,
                updated,
                str(error),
                status,
            )
        return cls(
            run=run,
            state=status.state,
            model=f"{config.model.model}{config.model.hidden}" + ("-id" if config.model.init == "identity" else ""),
            task=config.task.task,
            negatives=config.task.negatives,
            step=status.step,
            examples=status.examples,
            best_worst=status.best_worst,
            updated=updated,
            problem=status.problem,
            status=status,
        )


def run_paths(root: Path) -> list[Path]:
    """The run directories under `root`: its runs, and the trials of its sweeps (one level down)."""
    try:
        paths = list(Path(root).iterdir())
    except OSError:
        return []
    found = []
    for path in paths:
        try:
            if not path.is_dir():
                continue
            if any((path / name).exists() for name in RUN_FILES):
                found.append(path)
            elif (path / SWEEP_MANIFEST).is_file():
                found += [p for p in path.iterdir() if p.is_dir() and any((p / n).exists() for n in RUN_FILES)]
        except OSError:
            continue  # vanished while we looked
    return found


def list_runs(root: Path | None = None) -> list[RunSummary]:
    """Every run under `root` (sweeps' trials too), damaged ones included (one that lost its
    config.json too), most recently active first."""
    root = Path(root) if root is not None else default_root()
    summaries = []
    for path in run_paths(root):
        try:
            summaries.append(RunSummary.of(Run(path)))
        except OSError:
            continue  # vanished while we looked
    return sorted(summaries, key=lambda s: s.updated, reverse=True)


def resolve_run(text: str | Path, root: Path | None = None) -> Path:
    """RUN as a user gives it: a path, or a name under the runs root (`<sweep>/<trial>` for a trial)."""
    path = Path(text)
    if path.is_dir():
        return path
    root = Path(root) if root is not None else default_root()
    if len(path.parts) in (1, 2) and ".." not in path.parts and str(text) != "." and not path.is_absolute():
        candidate = root / path
        if candidate.is_dir():
            return candidate
        if not root.is_dir():
            raise SeqtuiError(
                f"no run named {display_name(str(text))!r}: the runs root {root} does not exist "
                "(give a path, --root or $SEQTUI_RUNS)"
            )
        names = sorted(Run(p).name for p in run_paths(root) if (p / CONFIG).exists())
        close = difflib.get_close_matches(str(text), names, n=3, cutoff=0.6)
        close += [n for n in names if str(text) in n and n not in close][: 3 - len(close)]
        hint = (
            f"; closest: {', '.join(map(display_name, close))}"
            if close
            else f"; it holds {len(names)} runs (seqtui runs --root {root})"
            if names
            else "; it holds no runs"
        )
        raise SeqtuiError(f"no run named {display_name(str(text))!r} under {root}{hint}")
    raise SeqtuiError(f"no run at {path}: the directory does not exist")


def new_run_path(root: Path, config: TrainConfig) -> Path:
    stamp = datetime.now().strftime("%m%d-%H%M%S")
    base = f"{config.model.model}-{config.task.task}-{config.task.negatives}-{stamp}"
    path, suffix = Path(root) / base, 1
    while path.exists():
        suffix += 1
        path = Path(root) / f"{base}-{suffix}"
    return path
