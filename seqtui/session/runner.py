"""Training inside a run directory: a Trainer's events become metrics, checkpoints and status.

This is what `seqtui train` runs, in the foreground of a shell or detached under the app. The
trainer holds the run's lock for its whole life, so no other process changes the run meanwhile;
it obeys the run's control file (pause, resume, stop) and SIGINT/SIGTERM/SIGHUP (stop), and always
leaves a checkpoint it can resume from.

Every run directory can be trained with one call, `train(run)`: a new run (config.json only)
starts at step 0, as does one killed before its first checkpoint; any other continues from its
checkpoint. Everything is checked before the first byte of the run changes, so a refused call
leaves the run exactly as it was; and config and metrics change only once the checkpoint they
go with is safely on disk.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from dataclasses import dataclass, replace
from types import FrameType
from typing import Any, Callable

from seqtui.core.checkpoint import Checkpoint, load_checkpoint, restore_trainer, save_checkpoint
from seqtui.core.evaluation import Evaluation
from seqtui.core.training import CheckpointDue, Event, Finished, HeldOut, Trainer
from seqtui.settings.config import Budget, TrainConfig
from seqtui.settings.errors import SeqtuiError, SettingError
from seqtui.settings.limits import check_training_fits
from seqtui.settings.registry import SETTINGS, flag_arguments
from seqtui.store.layout import default_root, display_name
from seqtui.store.run import Run
from seqtui.store.status import RunStatus

PAUSE_POLL = 0.2  # seconds between looks at the control file while paused
PAUSED_HEARTBEAT = 5.0
CHANCE = 0.6  # held-out accuracy below this, on balanced labels, is a model that learned nothing
LEARNED = 0.99  # the bar: held-out accuracy at the worst trained length (the README's, every preset's target)
SHORT_MARGIN = 0.02  # a run this far below the bar at its worst length, or further, is "short", whatever its budget

# what may change when a run resumes: where it trains and how it is watched, not what it learns
RESUMABLE_SETTINGS = tuple(s.name for s in SETTINGS if s.on_resume and not s.budget)
# what decides what a run learns: config.json and its checkpoint must agree on these
LEARNING_FIELDS = ("task", "model", "lr", "batch_size", "clip", "schedule", "warmup", "curriculum", "seed")


@dataclass
class Outcome:
    state: str  # finished, stopped or failed
    message: str
    step: int
    trainer: Trainer
    stop_signal: int | None = None  # the signal that stopped it, if one did
    verdict: str | None = None  # learned, short or chance (finished runs with an evaluation)


class _StopSignal:
    """Turns SIGINT/SIGTERM/SIGHUP into a flag checked between steps, so a stop saves a checkpoint.

    SIGHUP too: a shell whose SSH connection drops leaves a stopped, resumable run.
    """

    def __init__(self):
        self.raised: str | None = None
        self.number: int | None = None
        self._previous: dict[int, Callable[[int, FrameType | None], Any] | int | None] = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: the caller stops us another way
                pass
        return self

    def _handle(self, signum, frame):
        self.raised, self.number = signal.Signals(signum).name, signum

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def train(
    run: Run,
    extra: Budget | None = None,
    settings: dict[str, Any] | None = None,
    restart: bool = False,
    on_event: Callable[[Event], None] | None = None,
    on_start: Callable[[Trainer], None] | None = None,
) -> Outcome:
    """Train `run` from where it stands until its budget, its target, a stop request or a signal.

    `extra` extends a run that has trained (a new one: sets its budget); `settings` changes what
    may change between sessions (RESUMABLE_SETTINGS, by name); `restart` trains from step 0
    whatever the run holds. Refused with a SeqtuiError, the run unchanged, if another process
    holds the run or anything does not check out.
    """
    with run.locked():
        held_since = time.time()
        trainer = _prepare(run, extra or Budget(), settings or {}, restart)
        if on_start:
            on_start(trainer)
        return _Session(run, trainer, held_since).train(on_event)


def _prepare(run: Run, extra: Budget, settings: dict[str, Any], restart: bool) -> Trainer:
    """Check everything, then build the trainer, then (only then) change the run's files."""
    status = run.raw_status()  # we hold the run: only a trainer on another host could be live
    if run.remote_trainer(status):
        raise SeqtuiError(f"run {run.shown_name} is being trained on {status.host} (process {status.pid})")
    config = run.config()
    unknown = sorted(set(settings) - set(RESUMABLE_SETTINGS))
    if unknown:
        raise SettingError(f"{unknown[0]} cannot change when a run resumes", unknown[0])
    checkpoint = None
    # a link where the checkpoint should be, even one to nowhere, is a checkpoint that cannot be
    # read (refused below), not the absence of one: only --restart may start a run again
    if not restart and (run.checkpoint_path.exists() or run.checkpoint_path.is_symlink()):
        checkpoint = load_checkpoint(run.checkpoint_path)
        _agree(run, config, checkpoint)
    if settings:
        config = config.replaced(settings)
    # a new run was checked before it was written; one that trained before may have moved to a
    # smaller machine (or a Ray node), and settings given now may ask for more (eval samples)
    if checkpoint is not None or restart or settings:
        check_training_fits(config)
    if checkpoint is None:
        position = (0, 0, 0.0)
    else:
        counters = checkpoint.counters
        position = (int(counters["step"]), int(counters["examples"]), float(counters["elapsed"]))
    if extra.is_set():
        config = replace(config, budget=config.budget.extended(extra, *position))
    elif config.budget.reached(*position):
        raise SeqtuiError(
            f"run {run.shown_name} has used its whole budget (step {position[0]:,}): give --samples, "
            "--steps or --time to train it further"
        )
    try:
        trainer = Trainer(config)
    except SeqtuiError as error:
        if not run.checkpoint_path.exists():  # a start that failed says why in the run's status
            _write_failed_status(run, f"could not start: {error}")
        raise
    if checkpoint is not None:
        restore_trainer(trainer, checkpoint)
    # the checks are done: now the changes, each safe on disk before the next depends on it
    if checkpoint is None:
        save_checkpoint(trainer, run.checkpoint_path)  # step 0: even an early kill can resume
        run.write_metrics([])
        if config != run.config():
            run.write_config(config)
        run.append_metrics({"kind": "event", "event": "start", "threads": trainer.threads, **_position(trainer)})
    else:
        run.truncate_metrics(trainer.step)
        if config != run.config():
            run.write_config(config)
        run.append_metrics({"kind": "event", "event": "resume", "threads": trainer.threads, **_position(trainer)})
    return trainer


def _agree(run: Run, config: TrainConfig, checkpoint: Checkpoint) -> None:
    """config.json and the checkpoint must describe the same learning, or the resume would lie."""
    for name in LEARNING_FIELDS:
        ours, theirs = getattr(config, name), getattr(checkpoint.config, name)
        if ours != theirs:
            raise SeqtuiError(
                f"run {run.shown_name}: config.json and its checkpoint disagree on {name} ({ours} against "
                f"{theirs}); restore config.json, or train from step 0 with --restart"
            )


def _write_failed_status(run: Run, message: str) -> None:
    try:
        run.write_status(RunStatus(state="failed", host=socket.gethostname(), message=message))
    except SeqtuiError:
        pass  # the disk is full too: the error itself still reaches the user


def _position(trainer: Trainer) -> dict:
    return {"step": trainer.step, "examples": trainer.examples, "elapsed": trainer.elapsed}


def verdict(evaluation: Evaluation | None) -> str | None:
    """Did a finished run learn? learned (near LEARNED at its worst length); short (well short of
    it); partial (chance level at some length); or chance (overall). The same words for every run,
    preset or not, whatever its budget."""
    if evaluation is None:
        return None
    return verdict_of(evaluation.accuracy, evaluation.worst)


def verdict_of(accuracy: float, worst: float) -> str:
    """The verdict from a held-out accuracy over the trained lengths and at the worst of them."""
    if accuracy < CHANCE:
        return "chance"
    if worst < CHANCE:
        return "partial"
    if worst < LEARNED - SHORT_MARGIN:
        return "short"
    return "learned"


class _Session:
    """One trainer process's life on a run: status, metrics, checkpoints, pause and stop."""

    def __init__(self, run: Run, trainer: Trainer, held_since: float):
        self.run, self.trainer, self.held_since = run, trainer, held_since
        self.said_control: str | None = None  # the unreadable control file last said in the log
        self.status = RunStatus(
            state="running",
            pid=os.getpid(),
            host=socket.gethostname(),
            started=time.time(),
            device=str(trainer.device),
            threads=trainer.threads,
        )

    def write_status(self, **changes) -> None:
        for name, value in changes.items():
            setattr(self.status, name, value)
        t = self.trainer
        self.status.step, self.status.examples, self.status.elapsed = t.step, t.examples, t.elapsed
        self.status.best_worst, self.status.threads = t.best_worst, t.threads
        if t.last_evaluation is not None:
            self.status.worst = t.last_evaluation.worst
        self.run.write_status(self.status)

    def save(self) -> None:
        save_checkpoint(self.trainer, self.run.checkpoint_path)

    def train(self, on_event: Callable[[Event], None] | None) -> Outcome:
        run, trainer = self.run, self.trainer
        _, asked_at = run.control()
        if asked_at is None or asked_at < self.held_since:  # older than this session: not for it
            run.request("running")
        self.write_status(message="")
        outcome: Outcome | None = None
        with _StopSignal() as stop:
            events = trainer.run()
            try:
                for event in events:
                    if on_event:
                        on_event(event)
                    if isinstance(event, Finished):
                        outcome = self._finish(event)
                        break
                    if isinstance(event, CheckpointDue):
                        self.save()
                    else:
                        run.append_metrics(event.to_record())
                    if isinstance(event, HeldOut):
                        self.save()  # after the record it goes with, so a resume keeps that record
                    self.write_status()
                    want = self._wanted()
                    if want == "paused" and not stop.raised:
                        self._pause(stop)
                        want = self._wanted()  # what ended the pause
                    if stop.raised or want == "stopped":
                        why = f"stopped by {stop.raised}" if stop.raised else "stopped on request"
                        outcome = self._stop(why)
                        outcome.stop_signal = stop.number
                        break
            except SeqtuiError as error:  # a full disk, a file that cannot be written: said plainly
                events.close()
                self._failed(f"training stopped at step {trainer.step:,}: {error}")
                raise SeqtuiError(
                    f"{error} (training stopped at step {trainer.step:,}; the last checkpoint "
                    f"is kept: seqtui train --resume {_shown(run)} continues)"
                ) from None
            except BaseException as error:  # a crash: keep the last good checkpoint, say what broke
                events.close()
                self._failed(f"training failed: {type(error).__name__}: {error}")
                raise
            finally:
                events.close()
        assert outcome is not None
        return outcome

    def _wanted(self) -> str:
        """What the control file asks; one that cannot be read is ignored, said once in the log."""
        want = self.run.wanted()
        problem = self.run.control_problem
        if problem is not None and problem != self.said_control:
            print(f"seqtui: {problem}: ignored, training goes on", flush=True)
        self.said_control = problem
        return want

    def _failed(self, message: str) -> None:
        try:
            self.run.append_metrics({"kind": "event", "event": "failed", "message": message, **_position(self.trainer)})
        except SeqtuiError:
            pass
        try:
            self.write_status(state="failed", message=message, pid=None)
        except SeqtuiError:
            pass

    def _pause(self, stop: _StopSignal) -> None:
        run, trainer = self.run, self.trainer
        self.save()
        run.append_metrics({"kind": "event", "event": "pause", **_position(trainer)})
        self.write_status(state="paused", message="paused")
        last_beat = time.monotonic()
        while run.wanted() == "paused" and not stop.raised:
            time.sleep(PAUSE_POLL)
            if time.monotonic() - last_beat >= PAUSED_HEARTBEAT:
                self.write_status()
                last_beat = time.monotonic()
        if run.wanted() == "running" and not stop.raised:
            run.append_metrics({"kind": "event", "event": "resume", **_position(trainer)})
            self.write_status(state="running", message="")

    def _stop(self, why: str) -> Outcome:
        run, trainer = self.run, self.trainer
        self.save()
        run.append_metrics({"kind": "event", "event": "stop", "message": why, **_position(trainer)})
        message = f"{why} at step {trainer.step:,}; continue with: seqtui train --resume {_shown(run)}"
        self.write_status(state="stopped", message=message, pid=None)
        return Outcome("stopped", message, trainer.step, trainer)

    def _finish(self, event: Finished) -> Outcome:
        run, trainer = self.run, self.trainer
        if event.reason == "diverged":  # the weights are not worth keeping: the last checkpoint stays
            run.append_metrics({"kind": "event", "event": "diverged", "message": event.message, **_position(trainer)})
            self.write_status(state="failed", message=event.message, pid=None)
            return Outcome("failed", event.message, trainer.step, trainer)
        self.save()
        judged = verdict(event.evaluation)
        message = self._final_message(event, judged)
        run.append_metrics(
            {
                "kind": "event",
                "event": "finish",
                "reason": event.reason,
                "verdict": judged,
                "message": message,
                **_position(trainer),
            }
        )
        final = None
        if event.evaluation is not None:
            e = event.evaluation
            worst_length = min(e.by_length, key=lambda r: r.accuracy).length
            final = {"accuracy": e.accuracy, "worst": e.worst, "worst_length": worst_length}
        self.write_status(state="finished", message=message, pid=None, final=final, verdict=judged)
        return Outcome("finished", message, trainer.step, trainer, verdict=judged)

    def _final_message(self, event: Finished, judged: str | None) -> str:
        trainer = self.trainer
        e = event.evaluation
        if e is None:
            return event.message
        worst = min(e.by_length, key=lambda r: r.accuracy)
        head = f"{event.message}: held-out {e.accuracy:.4f}, worst length {worst.accuracy:.4f} (length {worst.length})"
        flags = " ".join(flag_arguments(trainer.config.budget.again().settings()))
        more = f"seqtui train --resume {_shown(self.run)} {flags} (c in the app)"
        if judged == "partial":
            return f"{head}: chance level at that length. Train it further with {more}"
        if judged == "chance":
            return (
                f"{head}. Chance level: the model did not learn. Train it further with {more}, or start again "
                "with a larger budget"
            )
        if judged == "short":
            return (
                f"{head}: well short of {LEARNED:.2f} at every length. Train it further with {more}, or a larger model"
            )
        return head


def _shown(run: Run) -> str:
    """How to name the run in a command: its name if the runs root finds it, else its path."""
    try:
        if run.path.parent.resolve() == default_root().resolve():
            return run.shown_name
    except OSError:
        pass
    return display_name(str(run.path))
