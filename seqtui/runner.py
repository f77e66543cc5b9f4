"""Training inside a run directory: a Trainer's events become metrics, checkpoints and status.

This is what `seqtui train` runs, in the foreground of a shell or detached under the app. It
obeys the run's control file (pause, resume, stop) and SIGINT/SIGTERM/SIGHUP (stop), and always leaves
a checkpoint it can resume from: at the start, every `checkpoint_every` seconds, and at the end.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from dataclasses import dataclass
from typing import Callable

from seqtui.checkpoint import load_checkpoint, restore_trainer, save_checkpoint
from seqtui.errors import SeqtuiError
from seqtui.runs import Run
from seqtui.training import Budget, Event, Finished, HeldOut, Trainer, TrainConfig

PAUSE_POLL = 0.2  # seconds between looks at the control file while paused
PAUSED_HEARTBEAT = 5.0


@dataclass
class Outcome:
    state: str  # finished, stopped or failed
    message: str
    step: int
    stop_signal: int | None = None  # the signal that stopped it, if one did


class _StopSignal:
    """Turns SIGINT/SIGTERM/SIGHUP into a flag checked between steps, so a stop saves a checkpoint.

    SIGHUP too: a shell whose SSH connection drops leaves a stopped, resumable run.
    """

    def __init__(self):
        self.raised: str | None = None
        self.number: int | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.raised, self.number = signal.Signals(signum).name, signum

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def start_run(run: Run, config: TrainConfig) -> Trainer:
    """A new trainer for a new run, with a step-0 checkpoint so even an early kill can resume."""
    trainer = Trainer(config)
    save_checkpoint(trainer, run.checkpoint_path)
    run.append_metrics({"kind": "event", "event": "start", "step": 0, "examples": 0, "elapsed": 0.0})
    return trainer


# what may change when a run resumes: where it trains and how it is watched, not what it learns
RESUMABLE_SETTINGS = ("device", "eval_samples", "eval_every")


def resume_run(run: Run, extra: Budget, **settings) -> Trainer:
    """A trainer in the state of the run's checkpoint, its budget extended by `extra`."""
    checkpoint = load_checkpoint(run.checkpoint_path)
    config = run.config()
    for name, value in settings.items():
        if name not in RESUMABLE_SETTINGS:
            raise SeqtuiError(f"{name} cannot change when a run resumes")
        if value is not None:
            setattr(config, name, value)
    config.validate()
    counters = checkpoint.counters
    position = (int(counters["step"]), int(counters["examples"]), float(counters["elapsed"]))
    if extra.is_set():
        config.budget = config.budget.extended(extra.validate(), *position)
    elif config.budget.reached(*position):
        raise SeqtuiError(
            f"run {run.name} has used its whole budget (step {position[0]}): "
            "give --steps, --samples or --time to train it further"
        )
    trainer = Trainer(config)
    restore_trainer(trainer, checkpoint)
    run.write_config(config)
    run.truncate_metrics(trainer.step)
    run.append_metrics({"kind": "event", "event": "resume", **_position(trainer)})
    return trainer


def _position(trainer: Trainer) -> dict:
    return {"step": trainer.step, "examples": trainer.examples, "elapsed": trainer.elapsed}


def train(
    run: Run,
    trainer: Trainer,
    on_event: Callable[[Event], None] | None = None,
    checkpoint_every: float = 30.0,
) -> Outcome:
    """Train until the budget, the target, a stop request or a signal; report how it ended."""
    status = run.status()
    if status["state"] in ("running", "paused") and status.get("pid") != os.getpid():
        raise SeqtuiError(f"run {run.name} is already being trained by process {status.get('pid')}")
    run.request("running")
    run.write_status(
        state="running",
        pid=os.getpid(),
        host=socket.gethostname(),
        device=str(trainer.device),
        started=time.time(),
        message="",
        **_position(trainer),
        best_worst=trainer.best_worst,
    )
    last_checkpoint = time.monotonic()
    outcome: Outcome | None = None
    with _StopSignal() as stop:
        events = trainer.run()
        try:
            for event in events:
                if on_event:
                    on_event(event)
                if isinstance(event, Finished):
                    outcome = _finish(run, trainer, event)
                    break
                run.append_metrics(event.to_record())
                if isinstance(event, HeldOut) or time.monotonic() - last_checkpoint >= checkpoint_every:
                    save_checkpoint(trainer, run.checkpoint_path)
                    last_checkpoint = time.monotonic()
                run.write_status(state="running", **_position(trainer), best_worst=trainer.best_worst)
                if run.wanted() == "paused" and not stop.raised:
                    _pause(run, trainer, stop)
                if stop.raised or run.wanted() == "stopped":
                    why = f"stopped by {stop.raised}" if stop.raised else "stopped on request"
                    outcome = _stop(run, trainer, why)
                    outcome.stop_signal = stop.number
                    break
        except BaseException as error:  # a crash: keep the last good checkpoint, say what broke
            events.close()
            message = f"training failed: {type(error).__name__}: {error}"
            run.append_metrics({"kind": "event", "event": "failed", "message": message, **_position(trainer)})
            run.write_status(state="failed", message=message, pid=None)
            raise
        finally:
            events.close()
    assert outcome is not None
    return outcome


def _pause(run: Run, trainer: Trainer, stop: _StopSignal) -> None:
    save_checkpoint(trainer, run.checkpoint_path)
    run.append_metrics({"kind": "event", "event": "pause", **_position(trainer)})
    run.write_status(state="paused", message="paused")
    last_beat = time.monotonic()
    while run.wanted() == "paused" and not stop.raised:
        time.sleep(PAUSE_POLL)
        if time.monotonic() - last_beat >= PAUSED_HEARTBEAT:
            run.write_status(state="paused")
            last_beat = time.monotonic()
    if run.wanted() == "running" and not stop.raised:
        run.append_metrics({"kind": "event", "event": "resume", **_position(trainer)})
        run.write_status(state="running", message="")


def _stop(run: Run, trainer: Trainer, why: str) -> Outcome:
    save_checkpoint(trainer, run.checkpoint_path)
    run.append_metrics({"kind": "event", "event": "stop", "message": why, **_position(trainer)})
    message = f"{why} at step {trainer.step}; resume with: seqtui train --resume {run.path}"
    run.write_status(state="stopped", message=message, pid=None, **_position(trainer))
    return Outcome("stopped", message, trainer.step)


def _finish(run: Run, trainer: Trainer, event: Finished) -> Outcome:
    if event.reason == "diverged":  # the weights are not worth keeping: the last checkpoint stays
        run.append_metrics({"kind": "event", "event": "diverged", "message": event.message, **_position(trainer)})
        run.write_status(state="failed", message=event.message, pid=None)
        return Outcome("failed", event.message, trainer.step)
    save_checkpoint(trainer, run.checkpoint_path)
    run.append_metrics({"kind": "event", "event": "finish", "reason": event.reason, **_position(trainer)})
    run.write_status(
        state="finished", message=event.message, pid=None, **_position(trainer), best_worst=trainer.best_worst
    )
    return Outcome("finished", event.message, trainer.step)
