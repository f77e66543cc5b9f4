"""Driving a sweep: check it whole, write its manifest, hand its trials to an executor, record
what became of each, and write its report. Running a sweep again keeps finished trials, resumes
interrupted ones from their checkpoints and retries a failed one once.
"""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from seqtui.settings.config import TrainConfig
from seqtui.settings.errors import SeqtuiError
from seqtui.store.layout import CONFIG, SWEEP_MANIFEST
from seqtui.store.lock import RunLock
from seqtui.store.run import Run
from seqtui.sweep.executors import Executor
from seqtui.sweep.manifest import Manifest, TrialRecord, read_manifest, write_manifest
from seqtui.sweep.report import write_report
from seqtui.sweep.spec import SweepSpec, Trial, sweep_dir
from seqtui.sweep.trial import STOPPED, read_heldout

RETRIES = 1  # a failed trial is tried again this many times by later runs of its sweep


# -- driving a sweep ----------------------------------------------------------------------------------
@dataclass
class SweepState:
    """What a display shows: each trial's record, and when the sweep started."""

    directory: Path
    manifest: Manifest
    trials: list[Trial]
    started: float = field(default_factory=time.time)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # trials left alone, with why
    slots: int = 1  # trials that run at once

    def count(self, state: str) -> int:
        return sum(1 for t in self.manifest.trials.values() if t.state == state)

    def run(self, trial: Trial) -> Run:
        return Run(self.directory / trial.name)

    def eta(self) -> float | None:
        """Seconds left: each unfinished trial's examples left at the speed of trials like it
        measured so far (same model and size; else same model, scaled by size; else any, scaled by
        the models' costs (ModelSpec.cost) and size), shared over the slots; so the first minutes of
        a sweep that starts with small rnns do not promise too little time for the large LSTMs
        after them."""
        measured: dict[tuple, list[float]] = {}
        left: list[tuple[tuple, float, float, int]] = []
        for trial in self.trials:
            record = self.manifest.trials[trial.name]
            status = self.run(trial).raw_status()
            key = (trial.values["model"], trial.config.model.hidden)
            size = float(trial.config.model.hidden)
            cost = trial.config.model.spec.cost * size
            if status.examples and status.elapsed > 0:
                for k, work in ((key, 1.0), (key[:1], size), ((), cost)):
                    total = measured.setdefault(k, [0.0, 0.0])
                    total[0] += status.examples * work
                    total[1] += status.elapsed
            if record.state in ("running", "waiting"):
                left.append((key, size, cost, max(0, _work(trial) - status.examples)))
        if not left:
            return 0.0
        if () not in measured or not self.count("finished"):  # priced only once a whole trial is
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


def prepare(spec: SweepSpec, root: Path, resume_only: bool = False) -> tuple[Path, list[Trial], Manifest]:
    """Check the whole sweep before anything is written, then create its manifest and trials.

    A sweep that exists is continued only with the same grid and settings."""
    from seqtui.settings.limits import check_training_fits

    directory = sweep_dir(root, spec.name)
    trials = spec.trials()
    manifest = None
    if (directory / SWEEP_MANIFEST).exists():
        old = read_manifest(directory)
        if not resume_only and not old.holds(spec):
            raise SeqtuiError(
                f"a sweep named {spec.name} exists with other settings ({describe_difference(old.spec, spec)}): "
                f"run it again as it was (seqtui sweep --name {spec.name}), or choose another --name"
            )
        if not resume_only:
            old.spec = spec  # the values as given (a format-1 manifest held them rounded)
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
        record = manifest.trials.setdefault(trial.name, TrialRecord(trial.name, dict(trial.values)))
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
    shown_a, shown_b = old.shown(), new.shown()
    for part in ("grid", "settings"):
        for key in sorted(set(a[part]) | set(b[part])):
            if a[part].get(key) != b[part].get(key):
                there, here = (_listed(d[part].get(key, "-")) for d in (shown_a, shown_b))
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
    report: Callable[[Path], object] | None = write_report,
    poll_seconds: float = 0.2,
) -> SweepState:
    """Train every trial not finished yet, `executor.capacity` at a time; returns when all ended,
    having written the `report` (the memory map unless told otherwise) once any trial is measured.

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
        waiting, adopted = _plan(state, retry_failed, executor)
        write_manifest(directory, manifest)
        running: dict[str, Trial] = {trial.name: trial for trial in adopted}

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
        for trial in adopted:
            note(f"{trial.name}: picked up where an earlier run of the sweep left it training ({executor.description})")
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
                time.sleep(poll_seconds)
        except BaseException:
            executor.stop()
            for name in list(running):
                manifest.trials[name].state = "waiting"
                manifest.trials[name].updated = time.time()
            write_manifest(directory, manifest)
            raise
        finally:
            executor.close()
        if report is not None and any(t.state == "finished" for t in manifest.trials.values()):
            report(directory)
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


def _plan(state: SweepState, retry_failed: bool, executor: Executor) -> tuple[list[Trial], list[Trial]]:
    """Which trials to run now (not finished, not failed past their retry, not trained elsewhere),
    and which ones still training where an earlier run of the sweep started them, followed again."""
    waiting, adopted = [], []
    for trial in state.trials:
        record = state.manifest.trials[trial.name]
        run = state.run(trial)
        if (run.path / CONFIG).exists():
            status = run.status()
            heldout = read_heldout(run) if status.state == "finished" else None
            if heldout is not None and heldout.step == status.step:  # measured where it finished
                record.state, record.reason = "finished", None
                continue
            if record.state == "running" and executor.adopt(trial.name, run):
                adopted.append(trial)
                continue
            status = run.status()  # not adopted: nothing may say it trains that does not
            if status.active:
                state.skipped.append((trial.name, f"left alone: it is training in process {status.pid}"))
                record.state = "running"
                continue
        if record.state == "failed" and record.failures > RETRIES and not retry_failed:
            state.skipped.append((trial.name, f"failed {record.failures} times, not tried again (--retry-failed)"))
            continue
        record.state = "waiting"
        waiting.append(trial)
    return waiting, adopted
