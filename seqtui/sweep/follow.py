"""Following a sweep as it grows, for a viewer: the manifest, each trial's state and the memory
map, each re-read only when its files changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from seqtui.settings.errors import SeqtuiError
from seqtui.store.files import file_stamp
from seqtui.store.layout import HELDOUT, STATUS, SWEEP_MANIFEST
from seqtui.store.run import Run
from seqtui.sweep.manifest import TRIAL_STATES, Manifest, TrialRecord, read_manifest
from seqtui.sweep.report import MapRow, map_rows, measured_trial
from seqtui.sweep.trial import Measurement


# -- following a sweep as it grows ------------------------------------------------------------------
@dataclass
class TrialView:
    name: str
    state: str  # the manifest's word, corrected by the run's own status when it trains
    step: int
    progress: float | None  # of its work budget
    worst: float | None  # held-out accuracy at the worst length, latest: the runs list's figure
    reached_99: int | None  # examples to 99% at every trained length


class SweepFollower:
    """Follows a sweep's manifest and each trial's status and measurement; `map` is the memory map
    of the trials measured so far. Each poll stats the manifest and two files per trial, and reads
    again only the trials whose files changed (the map is rebuilt from what is held in memory, not
    from the disk). Never raises: a damaged manifest is `problem`."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.manifest: Manifest | None = None
        self.axes: list[str] = []
        self.map: list[MapRow] = []
        self.trials: list[TrialView] = []
        self.problem: str | None = None
        self.version = 0
        self._manifest_stamp: tuple[int, int, int] | None | str = "never read"
        self._trial_stamps: dict[str, tuple] = {}  # trial -> the stamps of its status and measurement
        self._views: dict[str, TrialView] = {}
        self._measured: dict[str, tuple[Measurement, str]] = {}
        self.reads = 0  # trials read since the follower started: what a poll costs

    def poll(self) -> bool:
        stamp = file_stamp(self.directory / SWEEP_MANIFEST)
        manifest_changed = stamp != self._manifest_stamp
        if manifest_changed:
            self._manifest_stamp = stamp
            try:
                self.manifest = read_manifest(self.directory)
                self.axes, self.problem = self.manifest.spec.axes(), None
            except SeqtuiError as error:
                self.manifest, self.problem, self.map, self.trials = None, str(error), [], []
                self._trial_stamps.clear()
                self.version += 1
                return True
        if self.manifest is None:
            return False
        changed = manifest_changed
        measured_changed = manifest_changed
        for record in self.manifest.trials.values():
            run = self.directory / record.name
            stamps = (record.state, file_stamp(run / STATUS), file_stamp(run / HELDOUT))
            if self._trial_stamps.get(record.name) == stamps:
                continue
            self._trial_stamps[record.name] = stamps
            found = measured_trial(Run(run)) if record.state == "finished" else None
            self._views[record.name] = self._view(record, found[0] if found else None)
            if found != self._measured.get(record.name):
                measured_changed = True
                if found is None:
                    self._measured.pop(record.name, None)
                else:
                    self._measured[record.name] = found
            self.reads += 1
            changed = True
        if not changed:
            return False
        names = list(self.manifest.trials)
        self.trials = [self._views[name] for name in names]
        if measured_changed:
            self.map = map_rows(self.manifest, {n: m for n, m in self._measured.items() if n in self.manifest.trials})
        self.version += 1
        return True

    def _view(self, record: TrialRecord, heldout: Measurement | None) -> TrialView:
        run = Run(self.directory / record.name)
        status = run.status()
        state = record.state
        if status.active:
            state = "running"
        elif state == "running":
            state = "waiting"  # handed out, not started (or left by a sweep that is gone)
        progress = None
        worst = status.latest_worst
        try:
            progress = run.config().budget.work_progress(status.step, status.examples)
        except SeqtuiError:
            pass
        reached = None
        if heldout is not None:
            reached = heldout.examples_to.get("0.99")
            if heldout.step == status.step:  # measured where it stands: the map's figure (older trials'
                worst = heldout.worst  # status.json kept the training's last evaluation instead)
        return TrialView(record.name, state, status.step, progress, worst, reached)

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(TRIAL_STATES, 0)
        for trial in self.trials:
            out[trial.state] = out.get(trial.state, 0) + 1
        return out
