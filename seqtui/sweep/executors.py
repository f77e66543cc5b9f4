"""Where a sweep's trials run: here, N at a time, or on a Ray cluster.

Each starts the same command on the trial's run directory, `seqtui trial RUN` (train to its
budget, then measure), with its output in the run's train.log; they differ only in where that
process runs. A trial's trainer is told to stop (SIGTERM: it saves a checkpoint) when what started
it goes away, so an interrupted sweep leaves runs that the next one resumes.

On a Ray cluster whose nodes share the driver's disk, a trial is a Ray task that trains in the run
directory under `--root`. Where they do not, a trial is kept by an actor on its node
(seqtui.sweep.keeper) that trains it in a directory of its own, started from the driver's copy of
the run, and hands back what it writes every PULL_SECONDS (seqtui.store.shipping).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import signal
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Protocol

from seqtui.core.threads import cores
from seqtui.session.launch import Prepared, log_tail, spawn, threads_env
from seqtui.settings.errors import SeqtuiError
from seqtui.store.layout import LOG
from seqtui.store.run import Run
from seqtui.store.shipping import pack, receive, size
from seqtui.store.status import ACTIVE_STATES
from seqtui.sweep.keeper import LINGER, TrialKeeper
from seqtui.sweep.manifest import read_manifest
from seqtui.sweep.trial import EXIT_STOPPED, STOPPED

PULL_SECONDS = 2.0  # a trial on a node without the shared disk sends what it wrote this often, and at its end
NAMESPACE = "seqtui"  # the Ray namespace of the keepers, found again by name by a later driver


class Executor(Protocol):
    """Where trials run. `capacity` trials at once; `start` one; `poll` the ones that ended:
    (trial name, None or why it failed); `stop` every trial still running (they save a checkpoint);
    `close` lets go of what it holds (a Ray instance it started)."""

    capacity: int  # trials handed to it at once
    slots: int  # trials that actually run at once (Ray queues what it has no room for)
    description: str  # where and how, for the sweep's log

    def start(self, name: str, run: Run, args: list[str]) -> None: ...

    def adopt(self, name: str, run: Run) -> bool:
        """Follow a trial that an earlier driver started and that still runs (True), if this
        executor can; else make sure nothing says it runs that does not."""
        ...

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

    def adopt(self, name: str, run: Run) -> bool:
        return False  # a trial trained here holds its run's lock: the driver sees it without help

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


def _sees(path: str, token: str) -> bool:
    """A Ray task on one node: whether the driver's marker file is there, as the driver wrote it."""
    try:
        return Path(path).read_text() == token
    except OSError:
        return False


@dataclass
class _Kept:
    """A trial kept by an actor on a node without the shared disk, as the driver follows it."""

    run: Run
    actor: Any
    control_at: float | None  # the driver's copy's last request passed on (or there when it started)
    whole: bool = False  # the next pull asks for every file (adopted, or a parcel lost its place)
    pending: Any = None  # the pull (or stop) on its way
    parcels: int = 0
    bytes: int = 0
    seconds: float = 0.0  # spent writing parcels into the driver's copy
    where: str = "a Ray node"
    adopted: bool = False  # started by an earlier driver


class RayExecutor:
    """Trials on Ray: `address` None starts a local Ray instance; "auto" or an address joins a
    cluster. Each trial asks for `threads` CPUs and `gpus` GPUs (a fraction shares one).

    `shared_disk`: whether every node sees `root` as the driver does (None: each node is asked,
    with a marker file written there). Without it, each trial trains on its node in a directory
    under `workroot` (default: the node's temporary directory) and comes back a parcel at a time;
    its keeper outlives a killed driver, and the next driver picks the trial up (`adopt`)."""

    def __init__(
        self,
        address: str | None,
        threads: int,
        gpus: float = 0.0,
        cpus: int | None = None,
        shared_disk: bool | None = None,
        root: Path | None = None,
        workroot: str | None = None,
    ):
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
                    ray.init(address="local", num_cpus=cpus or cores(), **options)  # ours, not one found here
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
        self.root = Path(root or ".")
        detected = shared_disk is None
        self.shared = self.shares_disk() if shared_disk is None else shared_disk
        self.workroot = workroot
        self.kept: dict[str, _Kept] = {}
        if self.shared:
            self.disk = "the nodes share this disk" + (" (each was asked)" if detected else "")
        else:
            self.disk = "no shared disk" + (" (a node did not see it)" if detected else "")
            self.disk += ": each trial trains on its node and its run comes back here"
        self.description += "" if self.shared else "; runs shipped back"

    # -- the disk -------------------------------------------------------------------------------
    def shares_disk(self) -> bool:
        """Whether every live node reads the marker file the driver writes under the root."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        token = secrets.token_hex(8)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            marker = (self.root / f".seqtui-disk-{token}").resolve()
            marker.write_text(token)
        except OSError:
            return False
        try:
            nodes = [n["NodeID"] for n in self.ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU")]
            probe = self.ray.remote(_sees)
            refs = [
                probe.options(num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False)).remote(
                    str(marker), token
                )
                for node in nodes
            ]
            return bool(refs) and all(self.ray.get(refs, timeout=120))
        except Exception:  # a node that does not answer: shipping works whatever the disks
            return False
        finally:
            marker.unlink(missing_ok=True)

    # -- trials -----------------------------------------------------------------------------------
    def start(self, name: str, run: Run, args: list[str]) -> None:
        with _cluster_errors("handing a trial to"):
            self._start(name, run, args)

    def _start(self, name: str, run: Run, args: list[str]) -> None:
        if not self.shared:
            self._keep(name, run, args[2:])  # the options after `trial RUN`: RUN is the keeper's own
            return
        log = run.file(LOG).resolve()  # a worker on another node does not run in our folder
        ref = self.task.remote(args, self.threads, str(log))
        self.refs[ref] = name
        self.logs[name] = log

    def _keeper_name(self, run: Run) -> str:
        """One name per trial of one sweep (its manifest's key: two sweeps at the same path on two
        drivers' disks never share one), the same for every driver of that sweep."""
        try:  # read each time: the key on disk is the one a later driver reads (an older manifest's
            sweep = read_manifest(run.path.parent).key  # is written, with a new key, as the sweep starts)
        except SeqtuiError:  # not a sweep's trial (or its manifest unreadable): its path alone
            sweep = str(run.path.resolve())
        digest = hashlib.sha256(f"{sweep}/{run.path.name}".encode()).hexdigest()[:16]
        return f"trial-{digest}"

    def _keep(self, name: str, run: Run, options: list[str]) -> None:
        keeper = self._keeper_name(run)
        try:  # a keeper of this trial left by an earlier driver and not adopted: its trial ended
            self.ray.kill(self.ray.get_actor(keeper, namespace=NAMESPACE), no_restart=True)
        except ValueError:
            pass
        remote = self.ray.remote(_RayKeeper)
        files = pack(run.path)
        deadline = time.monotonic() + 30
        while True:
            try:
                actor = remote.options(
                    name=keeper,
                    namespace=NAMESPACE,
                    lifetime="detached",  # a killed driver does not take the trial with it
                    num_cpus=self.threads,
                    num_gpus=self.gpus,
                    max_restarts=0,
                ).remote(files, options, self.threads, self.workroot, LINGER)
                break
            except ValueError as error:  # the name is still the killed keeper's for a moment
                if time.monotonic() > deadline:
                    raise SeqtuiError(f"trial {name}: Ray lets no keeper start: {_first_line(error)}") from None
                time.sleep(0.5)
        self.kept[name] = _Kept(run, actor, control_at=run.control()[1])

    def adopt(self, name: str, run: Run) -> bool:
        with _cluster_errors("asking"):
            return self._adopt(name, run)

    def _adopt(self, name: str, run: Run) -> bool:
        if self.shared:
            return False  # a task dies with its driver; the trial holds its run's lock while it trains
        try:
            actor = self.ray.get_actor(self._keeper_name(run), namespace=NAMESPACE)
        except ValueError:
            status = run.raw_status()
            if status.state in ACTIVE_STATES and run.holder() is None:  # its keeper went with the driver
                status.state = "interrupted"
                status.message = "its keeper on Ray is gone: the sweep resumes it from its last checkpoint here"
                run.write_status(status)
            return False
        self.kept[name] = _Kept(run, actor, control_at=run.control()[1], whole=True, adopted=True)
        return True

    def poll(self) -> list[tuple[str, str | None]]:
        with _cluster_errors("following trials on"):
            return self._poll_tasks() + self._poll_kept()

    def _poll_tasks(self) -> list[tuple[str, str | None]]:
        if not self.refs:
            return []
        ready, _ = self.ray.wait(list(self.refs), num_returns=len(self.refs), timeout=0)
        ended: list[tuple[str, str | None]] = []
        for ref in ready:
            name = self.refs.pop(ref)
            try:
                code = self.ray.get(ref)
            except Exception as error:  # the worker died, the node went away, the task was cancelled
                ended.append((name, f"its Ray worker failed ({_first_line(error)})"))
                continue
            ended.append((name, failure_of(code, self.logs[name])))
        return ended

    def _poll_kept(self) -> list[tuple[str, str | None]]:
        for kept in self.kept.values():
            if kept.pending is None:
                want, at = kept.run.control()
                if at is not None and at != kept.control_at:  # asked here (the app, seqtui stop): there too
                    kept.control_at = at
                    kept.actor.request.remote(want)
                # the keeper answers after PULL_SECONDS, or as soon as its trial ends; a whole
                # parcel (adopted, or one went missing) at once
                kept.pending = kept.actor.pull.remote(kept.whole, 0.0 if kept.whole else PULL_SECONDS)
                kept.whole = False
        pending = {kept.pending: name for name, kept in self.kept.items() if kept.pending is not None}
        if not pending:
            return []
        ready, _ = self.ray.wait(list(pending), num_returns=len(pending), timeout=0)
        ended: list[tuple[str, str | None]] = []
        for ref in ready:
            name = pending[ref]
            kept = self.kept[name]
            kept.pending = None
            try:
                parcel = self.ray.get(ref)
            except Exception as error:  # the actor died: its worker or its node is gone
                del self.kept[name]
                why = f"its Ray node or worker was lost ({_first_line(error)})"
                self._lost(kept.run, why)
                ended.append((name, why))
                continue
            self._receive(kept, parcel)
            if parcel.get("code") is not None and not kept.whole:  # all of it here (else: once more, whole)
                ended.append((name, failure_of(parcel["code"], kept.run.file(LOG))))
                self._release(name)
        return ended

    def _receive(self, kept: _Kept, parcel: dict) -> None:
        began = time.perf_counter()
        kept.where = str(parcel.get("where", kept.where))
        there = parcel.get("path") if isinstance(parcel.get("path"), str) else None
        if not receive(kept.run.path, parcel, kept.where, there):
            kept.whole = True
        kept.parcels += 1
        kept.bytes += size(parcel)
        kept.seconds += time.perf_counter() - began

    def _release(self, name: str) -> None:
        kept = self.kept.pop(name)
        kept.actor.close.remote()  # its directory goes, then the actor
        try:  # what shipping it cost, where the run's own story is told
            with open(kept.run.file(LOG), "a") as out:
                out.write(
                    f"seqtui sweep: this run came back from {kept.where} in {kept.parcels} parcels, "
                    f"{kept.bytes / 1024:.0f} kB, written here in {kept.seconds * 1000:.0f} ms\n"
                )
        except OSError:
            pass

    @staticmethod
    def _lost(run: Run, why: str) -> None:
        """The driver's copy no longer says it trains: it stopped where its last parcel left it."""
        status = run.raw_status()
        if status.state in ACTIVE_STATES:
            status.state, status.message = "interrupted", why
            run.write_status(status)

    def stop(self) -> None:
        for ref in list(self.refs):
            self.ray.cancel(ref)  # KeyboardInterrupt in the task: the trial stops with a checkpoint
        for ref in list(self.refs):
            try:
                self.ray.get(ref, timeout=60)
            except Exception:
                pass
        self.refs.clear()
        for name, kept in list(self.kept.items()):
            if not kept.parcels and kept.adopted and kept.pending is not None:  # running, or still queued?
                ready, _ = self.ray.wait([kept.pending], timeout=5)  # an adopted keeper's first pull: at once
                if ready:
                    kept.pending = None
                    try:
                        self._receive(kept, self.ray.get(ready[0]))
                    except Exception:
                        pass
            if not kept.parcels:  # queued for a node (or just started): nothing to keep, nothing to train later
                try:
                    self.ray.kill(kept.actor, no_restart=True)
                except Exception:
                    pass
                del self.kept[name]
        stops = {name: kept.actor.stop.remote() for name, kept in self.kept.items()}  # after any pull on its way
        deadline = time.monotonic() + 180  # for all of them: a lost node does not hold each up in turn
        for name, ref in stops.items():
            kept = self.kept[name]
            try:  # the whole run as it stopped, with its checkpoint (a pull on its way is not needed)
                self._receive(kept, self.ray.get(ref, timeout=max(1.0, deadline - time.monotonic())))
            except Exception as error:
                self._lost(kept.run, f"its Ray node or worker was lost ({_first_line(error)})")
            self._release(name)

    def close(self) -> None:
        if self.started_here:
            self.ray.shutdown()


@contextmanager
def _cluster_errors(doing: str) -> Iterator[None]:
    """Ray's own errors (the head node gone, the connection lost) as one line, not a traceback."""
    try:
        yield
    except SeqtuiError:
        raise
    except Exception as error:
        raise SeqtuiError(f"{doing} the Ray cluster failed: {_first_line(error)}") from None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0]}" if text else type(error).__name__


class _RayKeeper(TrialKeeper):
    """The keeper as a Ray actor: closing it ends the actor too."""

    def close(self) -> None:
        import ray

        super().close()
        ray.actor.exit_actor()
