"""Following a sweep as it grows, for a viewer: the manifest, each trial's state and the memory
map, re-read only where a file changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from seqtui.settings.errors import SeqtuiError
from seqtui.store.layout import HELDOUT, SWEEP_MANIFEST
from seqtui.store.run import Run
from seqtui.sweep.manifest import TRIAL_STATES, Manifest, TrialRecord
from seqtui.sweep.report import MapRow, memory_map
from seqtui.sweep.trial import read_heldout


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
