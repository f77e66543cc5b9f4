"""Starting `seqtui train` as its own process, detached from the terminal.

A viewer (the app) never trains in its own process. It writes the new run's config.json, then
starts `seqtui train --resume RUN` in a new session, so a hang-up of the terminal (a dropped SSH
connection) does not reach it, with its output going to the run's train.log. The trainer reads
its settings from the run directory; the viewer follows the run through the same directory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from seqtui.settings.config import Budget, TrainConfig
from seqtui.settings.errors import SeqtuiError
from seqtui.settings.registry import flag_arguments
from seqtui.store.files import opened
from seqtui.store.layout import LOG, display_name
from seqtui.store.run import Run

# A trainer started from the app yields the CPU to it when both want it: on a small machine
# the UI then answers keys promptly, and when the UI is idle the trainer still gets every core.
NICE = 5


def _stop_with_parent() -> None:  # in the child, before exec: SIGTERM when its parent dies (Linux)
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def spawn(
    args: list[str],
    log: Path,
    nice: int = NICE,
    env: dict | None = None,
    detach: bool = True,
    tied: bool = False,
    stdin: int = subprocess.DEVNULL,
) -> subprocess.Popen:
    """`seqtui ARGS --nice N`, its output appended to `log`: in its own session when `detach`
    (it outlives us: the app's trainers), told to stop when we die when `tied` (a sweep's trials)."""
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        out = open(log, "ab")
    except OSError as error:
        raise SeqtuiError(f"cannot write {display_name(str(log))}: {error.strerror or error}") from None
    with out:
        process = subprocess.Popen(
            [sys.executable, "-m", "seqtui", *args, *(["--nice", str(nice)] if nice else [])],
            stdin=stdin,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=detach,  # its own session: no SIGHUP, no Ctrl-C from our terminal
            close_fds=True,
            env=env,
            preexec_fn=_stop_with_parent if tied and sys.platform.startswith("linux") else None,
        )
    if detach:
        STARTED.append(process)
    return process


# processes started detached that may still be ours to reap: a long-lived viewer (the app) calls
# reap() now and then, so a trainer that has finished does not stay a zombie while the app lives
STARTED: list[subprocess.Popen] = []


def reap() -> None:
    STARTED[:] = [p for p in STARTED if p.poll() is None]


def threads_env(threads: int | None) -> dict | None:
    """The environment for a child process that should use `threads` CPU threads."""
    if threads is None:
        return None
    return dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))


def trainer_arguments(run: Run, extra: Budget | None = None) -> list[str]:
    """`seqtui train`'s arguments that train `run` (further by `extra`, when given)."""
    return ["--resume", str(run.path), "--quiet", *(flag_arguments(extra.settings()) if extra is not None else [])]


def spawn_trainer(
    run: Run, extra: Budget | None = None, nice: int = NICE, threads: int | None = None, detach: bool = True
) -> subprocess.Popen:
    """The one way a trainer process is started: on a run directory, which holds its settings."""
    return spawn(["train", *trainer_arguments(run, extra)], run.file(LOG), nice, threads_env(threads), detach)


class Prepared:
    """A seqtui process started before it knows what to do: it loads torch and the trainer
    meanwhile (seconds), then runs the command it is handed at once (`seqtui prepared`). Handed
    nothing (close(), or whoever started it gone), it ends without doing anything."""

    def __init__(self, nice: int = NICE, env: dict | None = None, detach: bool = True, tied: bool = False):
        import tempfile

        # its output until it has a command (then that command's log): outside any runs root
        self.log = Path(tempfile.gettempdir()) / f"seqtui-prepared-{os.getpid()}-{time.monotonic_ns()}.log"
        self.process = spawn(["prepared", str(self.log)], self.log, nice, env, detach, tied, stdin=subprocess.PIPE)

    def alive(self) -> bool:
        stdin = self.process.stdin
        return self.process.poll() is None and stdin is not None and not stdin.closed

    def hand(self, argv: list[str], log: Path) -> subprocess.Popen:
        """Run `seqtui ARGV` in it, its output appended to `log`; the process, now that command's."""
        import json

        stdin = self.process.stdin
        if not self.alive() or stdin is None:
            raise SeqtuiError("the prepared process has ended")
        try:
            stdin.write((json.dumps({"argv": argv, "log": str(log)}) + "\n").encode())
            stdin.close()
        except OSError as error:
            raise SeqtuiError(f"the prepared process has ended: {error.strerror or error}") from None
        return self.process

    def close(self) -> None:
        """Not needed after all: it ends without doing anything (stdin closed), once loaded."""
        stdin = self.process.stdin
        if stdin is not None and not stdin.closed:
            try:
                stdin.close()
            except OSError:
                pass

    def discard(self) -> None:
        """Not needed, and not worth waiting for: ended now (it was handed nothing), its log gone."""
        self.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        try:
            self.log.unlink()
        except OSError:
            pass


class PreparedTrainer(Prepared):
    """The app's: a detached trainer prepared while the new-run form is filled."""

    def train(self, run: Run, extra: Budget | None = None) -> subprocess.Popen:
        return self.hand(["train", *trainer_arguments(run, extra)], run.file(LOG))


def start_training(run_dir: Path, config: TrainConfig, timeout: float = 30.0) -> Run:
    """Create a run from `config` and train it in a detached trainer; returns once it trains.
    The caller has checked that it fits (the app's form says so beside its fields)."""
    run = Run.create(run_dir, config)
    return wait_until_training(run, spawn_trainer(run), timeout)


def resume_training(
    run: Run, extra: Budget | None = None, timeout: float = 30.0, prepared: PreparedTrainer | None = None
) -> Run:
    """Continue a stopped, interrupted or new run in a detached trainer (`prepared`'s, if it is
    still there: torch loaded already)."""
    if run.is_active():
        raise SeqtuiError(f"run {run.shown_name} is already training")
    if prepared is not None and prepared.alive():
        try:
            return wait_until_training(run, prepared.train(run, extra), timeout)
        except SeqtuiError:
            if run.is_active() or run.raw_status().started is not None:
                raise  # it took the run and failed: that is the answer
    return wait_until_training(run, spawn_trainer(run, extra), timeout)


def wait_until_training(run: Run, process: subprocess.Popen, timeout: float) -> Run:
    """Returns once the trainer has taken the run (or, on a tiny budget, already finished it)."""
    spawned = time.time()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = process.poll()
        status = run.raw_status()
        if status.pid == process.pid or (code == 0 and status.started is not None and status.started >= spawned):
            return run
        if code is not None:
            raise SeqtuiError(f"the trainer exited at once (status {code}): {log_tail(run.path)}")
        time.sleep(0.05)
    raise SeqtuiError(f"the trainer did not start within {timeout:.0f} s: {log_tail(run.path)}")


def log_tail(path: Path, whole: bool = False) -> str:
    """The last line of a run's train.log (or, `whole`, of the log file at `path`): at most the
    last 8 kB of a regular file are read, so no file put there can flood or block the reader."""
    log = Path(path) if whole else Path(path) / LOG
    none = "" if whole else "no output"
    try:
        with opened(log) as (fd, info):
            data = os.pread(fd, 8192, max(0, info.st_size - 8192))
    except OSError:
        return none
    lines = [line for line in data.decode(errors="replace").splitlines() if line.strip()]
    return display_name(lines[-1]) if lines else none
