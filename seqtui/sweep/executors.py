"""Where a sweep's trials run: here, N at a time, or as tasks on a Ray cluster.

Both start the same command on the trial's run directory, `seqtui trial RUN` (train to its
budget, then measure), with its output in the run's train.log; they differ only in where that
process runs. A trial's trainer is told to stop (SIGTERM: it saves a checkpoint) when what started
it goes away, so an interrupted sweep leaves runs that the next one resumes.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any, Protocol

from seqtui.core.threads import cores
from seqtui.session.launch import Prepared, log_tail, spawn, threads_env
from seqtui.settings.errors import SeqtuiError
from seqtui.store.layout import LOG
from seqtui.store.run import Run
from seqtui.sweep.trial import EXIT_STOPPED, STOPPED


class Executor(Protocol):
    """Where trials run. `capacity` trials at once; `start` one; `poll` the ones that ended:
    (trial name, None or why it failed); `stop` every trial still running (they save a checkpoint);
    `close` lets go of what it holds (a Ray instance it started)."""

    capacity: int  # trials handed to it at once
    slots: int  # trials that actually run at once (Ray queues what it has no room for)
    description: str  # where and how, for the sweep's log

    def start(self, name: str, run: Run, args: list[str]) -> None: ...

    def poll(self) -> list[tuple[str, str | None]]: ...

    def stop(self) -> None: ...

    def close(self) -> None: ...


def _popen(args: list[str], log: Path, threads: int | None, nice: int = 0) -> subprocess.Popen:
    return spawn(args, log, nice, threads_env(threads), detach=False, tied=True)


def failure_of(code: int, log: Path) -> str | None:
    """Why a trial's process failed, from its exit status and its log's last line; None if it did not."""
    if code == 0:
        return None
    if code == EXIT_STOPPED:
        return STOPPED
    if code < 0 or code > 128:
        number = -code if code < 0 else code - 128
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        return f"ended by {name}: {log_tail(log, whole=True) or 'no output'}"
    return f"exit status {code}: {log_tail(log, whole=True) or 'no output'}"


def split_cores(parallel: int | None, device: str = "cpu") -> tuple[int, int]:
    """(trials at once, threads per trial) for this machine: by default one trial per core with
    one thread (small recurrent networks gain little from a second thread, and nothing waits on
    a busy core), or one at a time on a GPU; each trial gets its share of the cores."""
    available = cores()
    if parallel is None:
        parallel = 1 if device.startswith("cuda") else available
    if parallel < 1:
        raise SeqtuiError(f"--parallel {parallel}: run at least one trial at a time")
    return parallel, max(1, available // parallel)


class LocalExecutor:
    """Trials as processes on this machine, `parallel` at a time. A process for the next trial is
    prepared while the others train (it loads torch meanwhile: `seqtui prepared`), so a trial
    starts training at once; `prepare=False` starts each trial's process when it is handed out."""

    def __init__(self, parallel: int, threads: int | None, prepare: bool = True):
        self.capacity = self.slots = parallel
        self.threads = threads
        self.processes: dict[str, tuple[subprocess.Popen, Path]] = {}
        self.prepare = prepare
        self.ready: list[Prepared] = []
        plural = "s" if (threads or 0) > 1 else ""
        self.description = f"here, {parallel} at a time" + (f", {threads} thread{plural} each" if threads else "")

    def start(self, name: str, run: Run, args: list[str]) -> None:
        process = None
        while self.ready and process is None:
            prepared = self.ready.pop(0)
            try:
                process = prepared.hand(args, run.file(LOG))
            except SeqtuiError:  # it ended meanwhile: the next one, or a fresh process
                process = None
        if process is None:
            process = _popen(args, run.file(LOG), self.threads)
        self.processes[name] = (process, run.file(LOG))
        self._prepare_next()

    def _prepare_next(self) -> None:
        """One process ready for the next trial (tied to this one, on the trials' thread count)."""
        if self.prepare and not any(p.alive() for p in self.ready):
            try:
                self.ready.append(Prepared(nice=0, env=threads_env(self.threads), detach=False, tied=True))
            except SeqtuiError:
                self.prepare = False

    def poll(self) -> list[tuple[str, str | None]]:
        ended = []
        for name, (process, log) in list(self.processes.items()):
            code = process.poll()
            if code is not None:
                del self.processes[name]
                ended.append((name, failure_of(code, log)))
        return ended

    def stop(self) -> None:
        for process, _ in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process, _ in self.processes.values():
            process.wait()
        self.processes.clear()
        self.close()

    def close(self) -> None:
        """The prepared process, not needed: it was handed nothing, so it simply ends."""
        for prepared in self.ready:
            prepared.discard()
        self.ready.clear()


def _ray_trial(args: list[str], threads: int | None, log: str) -> int:
    """A Ray task: one trial's process on the worker's machine; its exit status."""
    process = _popen(args, Path(log), threads)
    try:
        return process.wait()
    except BaseException:  # cancelled: the trial stops with a checkpoint
        process.send_signal(signal.SIGTERM)
        process.wait()
        raise


class RayExecutor:
    """Trials as Ray tasks: `address` None starts a local Ray instance; "auto" or an address joins
    a cluster. Each trial asks for `threads` CPUs and `gpus` GPUs (a fraction shares one)."""

    def __init__(self, address: str | None, threads: int, gpus: float = 0.0, cpus: int | None = None):
        try:
            import ray
        except ImportError:
            raise SeqtuiError(
                "--ray needs Ray, which is not installed: pip install 'seqtui[ray]' (or pip install ray)"
            ) from None
        self.ray = ray
        self.started_here = not ray.is_initialized()
        if self.started_here:
            options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
            address = address or os.environ.get("RAY_ADDRESS") or None  # as Ray itself reads it
            try:
                if address is None:
                    ray.init(num_cpus=cpus or cores(), **options)
                else:
                    ray.init(address=address, **options)
            except Exception as error:  # Ray raises its own kinds: a connection, a version mismatch
                where = "a local Ray instance" if address is None else f"the Ray cluster at {address}"
                raise SeqtuiError(f"cannot start or join {where}: {str(error).splitlines()[0]}") from None
        self.threads, self.gpus = threads, gpus
        self.task = ray.remote(_ray_trial).options(num_cpus=threads, num_gpus=gpus, max_retries=0)
        self.refs: dict = {}  # ObjectRef -> trial name
        self.logs: dict[str, Path] = {}
        total = ray.cluster_resources()
        if total.get("CPU", 0) < threads:
            raise SeqtuiError(f"the Ray cluster has {total.get('CPU', 0):g} CPUs: a trial asks for {threads}")
        if gpus and total.get("GPU", 0) < gpus:
            raise SeqtuiError(f"the Ray cluster has {total.get('GPU', 0):g} GPUs: a trial asks for {gpus:g}")
        self.capacity = 1 << 16  # every trial is handed to Ray, which runs what the cluster has room for
        self.slots = max(1, int(total.get("CPU", 0) // threads))
        if gpus:
            self.slots = max(1, min(self.slots, int(total.get("GPU", 0) / gpus)))
        where = "a local Ray instance" if address is None else f"Ray at {address}"
        cpus_total = total.get("CPU", 0)
        self.description = f"{where} ({cpus_total:g} CPUs, {threads} per trial" + (
            f", {gpus:g} GPU per trial)" if gpus else ")"
        )

    def start(self, name: str, run: Run, args: list[str]) -> None:
        log = run.file(LOG).resolve()  # a worker on another node does not run in our folder
        ref = self.task.remote(args, self.threads, str(log))
        self.refs[ref] = name
        self.logs[name] = log

    def poll(self) -> list[tuple[str, str | None]]:
        if not self.refs:
            return []
        ready, _ = self.ray.wait(list(self.refs), num_returns=len(self.refs), timeout=0)
        ended: list[tuple[str, str | None]] = []
        for ref in ready:
            name = self.refs.pop(ref)
            try:
                code = self.ray.get(ref)
            except Exception as error:  # the worker died, the node went away, the task was cancelled
                first = str(error).strip().splitlines()[0] if str(error).strip() else ""
                ended.append((name, f"its Ray worker failed ({type(error).__name__}: {first})"))
                continue
            ended.append((name, failure_of(code, self.logs[name])))
        return ended

    def stop(self) -> None:
        for ref in list(self.refs):
            self.ray.cancel(ref)  # KeyboardInterrupt in the task: the trial stops with a checkpoint
        for ref in list(self.refs):
            try:
                self.ray.get(ref, timeout=60)
            except Exception:
                pass
        self.refs.clear()

    def close(self) -> None:
        if self.started_here:
            self.ray.shutdown()
