"""Run: one run directory, read totally and changed only under its lock.

Readers are total: whatever is in its files (damage, wrong types, a device or a directory where a
file should be), they return values or one SeqtuiError that says what is wrong with which file.
Writers hold the run's lock, so a trainer killed at any moment leaves nothing that blocks the next.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import stat
import time
from pathlib import Path

from seqtui.settings.config import TrainConfig
from seqtui.settings.errors import ModelUnavailable, SeqtuiError
from seqtui.store.files import (
    is_count,
    is_number,
    opened,
    read_failure,
    read_small_json,
    to_json,
    write_bytes_atomic,
    write_failure,
    write_json_atomic,
    write_text_atomic,
)
from seqtui.store.layout import (
    _TEMPORARY,
    CHECKPOINT,
    CONFIG,
    CONTROL,
    LOCK,
    LOG,
    METRICS,
    OWN_FILES,
    STATUS,
    SWEEP_MANIFEST,
    display_name,
)
from seqtui.store.lock import RunLock, lock_holder, pid_alive
from seqtui.store.records import MAX_LINE, READ_CHUNK, MetricsReader
from seqtui.store.status import ACTIVE_STATES, CLOCK_SKEW, HEARTBEAT_STALE, WANTS, RunStatus, parse_status


# -- the run ---------------------------------------------------------------------------------------
class Run:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.control_problem: str | None = None  # why control.json could not be read, at the last look

    @property
    def name(self) -> str:
        """The directory's name; `<sweep>/<trial>` for a sweep's trial."""
        sweep = self.sweep
        return f"{sweep.name}/{self.path.name}" if sweep is not None else self.path.name

    @property
    def sweep(self) -> Path | None:
        """The sweep directory this run is a trial of, if it is one."""
        parent = self.path.parent
        try:
            return parent if (parent / SWEEP_MANIFEST).is_file() else None
        except OSError:
            return None

    @property
    def shown_name(self) -> str:
        return display_name(self.name)

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def checkpoint_path(self) -> Path:
        return self.file(CHECKPOINT)

    # -- creating and opening ---------------------------------------------------------------
    @classmethod
    def create(cls, path: Path, config: TrainConfig) -> "Run":
        """A new run: its directory and its config.json (checked when it was built), nothing else yet."""
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.mkdir(exist_ok=True)
        except FileExistsError:
            raise SeqtuiError(f"{display_name(str(path))} exists and is not a directory") from None
        except OSError as error:
            raise SeqtuiError(f"cannot create {display_name(str(path))}: {error.strerror or error}") from None
        run = cls(path)
        run._refuse_if_not_empty()
        with run.locked(f"{display_name(str(path))} is being created by another process"):
            run._refuse_if_not_empty()  # again, now that no one else can be creating it
            run.write_config(config)
        return run

    def _refuse_if_not_empty(self) -> None:
        if any(p.name not in (LOG, LOCK) for p in self.path.iterdir()):
            shown = display_name(str(self.path))
            hint = f", or continue it with: seqtui train --resume {shown}" if self.file(CONFIG).exists() else ""
            raise SeqtuiError(f"{shown} already exists and is not empty: pick another --run-dir{hint}")

    @classmethod
    def open(cls, path: Path) -> "Run":
        path = Path(path)
        if not path.is_dir():
            raise SeqtuiError(f"no run at {path}: the directory does not exist")
        if not (path / CONFIG).exists():
            if (path / SWEEP_MANIFEST).is_file():  # a sweep: its trials are the runs
                raise SeqtuiError(
                    f"{path} is a sweep, not a run: its trials are runs (seqtui runs {path.name} lists them; "
                    f"give one as {path.name}/TRIAL); seqtui sweep report {path.name} writes its memory map"
                )
            raise SeqtuiError(f"{path} is not a run directory (it has no {CONFIG})")
        return cls(path)

    def config(self) -> TrainConfig:
        """The run's settings, checked; a damaged config.json is one SeqtuiError that says how."""
        data = read_small_json(self.file(CONFIG))
        try:
            return TrainConfig.from_dict(data)
        except ModelUnavailable:  # the run is whole; this machine lacks its model: say which
            raise
        except SeqtuiError as error:
            raise SeqtuiError(f"{self.file(CONFIG)} does not describe a run: {error}") from None
        except (TypeError, ValueError, RecursionError, OverflowError) as error:
            raise SeqtuiError(f"{self.file(CONFIG)} does not describe a run: {error}") from None

    def config_problem(self) -> str | None:
        try:
            self.config()
        except SeqtuiError as error:
            return str(error)
        return None

    def write_config(self, config: TrainConfig) -> None:
        write_json_atomic(self.file(CONFIG), config.to_dict())

    # -- holding the run ------------------------------------------------------------------------
    def lock(self) -> RunLock:
        return RunLock(self.file(LOCK))

    def locked(self, refusal: str | None = None) -> "_Held":
        """`with run.locked():` changes to the run; refused, with a message, if another process holds it."""
        return _Held(self, refusal)

    def holder(self) -> dict | None:
        return lock_holder(self.file(LOCK))

    def clean_temporaries(self) -> list[Path]:
        """Remove what killed writers left (`.<name>.<pid>.tmp`); call while holding the run.
        Only in a run directory, and only the temporaries of seqtui's own files."""
        removed: list[Path] = []
        if not self.file(CONFIG).exists():
            return removed
        for path in self.path.glob(".*.tmp"):
            match = _TEMPORARY.fullmatch(path.name)
            if not match or match.group(1) not in OWN_FILES:
                continue
            pid = int(match.group(2))
            if pid != os.getpid() and not pid_alive(pid):
                try:
                    path.unlink()
                    removed.append(path)
                except OSError:
                    pass
        return removed

    # -- metrics ------------------------------------------------------------------------------
    def append_metrics(self, record: dict) -> None:
        """One line, appended whole or not at all (a failed write is cut back off)."""
        line = (to_json(record) + "\n").encode()
        path = self.file(METRICS)
        try:
            fd = os.open(
                path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0), 0o644
            )
        except OSError as error:
            raise write_failure(path, error) from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise SeqtuiError(f"{path} is not a regular file")
            size = os.fstat(fd).st_size
            try:
                written = os.write(fd, line)
                if written != len(line):
                    raise OSError(errno.ENOSPC, "short write")
            except OSError as error:
                try:
                    os.ftruncate(fd, size)
                except OSError:
                    pass
                raise write_failure(path, error) from None
        finally:
            os.close(fd)

    def read_metrics(self) -> list[dict]:
        reader = MetricsReader(self.file(METRICS))
        records = reader.read_all()
        if reader.problem:
            raise SeqtuiError(reader.problem)
        return records

    def truncate_metrics(self, step: int) -> None:
        """Drop the records after `step` (steps a resume trains again); every other line stays as
        it was, including lines this version cannot read. A last line without its newline goes."""
        path = self.file(METRICS)
        chunks = []
        try:
            with opened(path) as (fd, _):
                while chunk := os.read(fd, READ_CHUNK):
                    chunks.append(chunk)
        except FileNotFoundError:
            return
        except OSError as error:
            raise read_failure(path, error) from None
        data = b"".join(chunks)
        kept = []
        for line in data[: data.rfind(b"\n") + 1].splitlines(keepends=True):
            try:
                record = json.loads(line) if len(line) <= MAX_LINE else None
            except (ValueError, UnicodeDecodeError, RecursionError):
                record = None
            if isinstance(record, dict) and is_count(record.get("step")) and record["step"] > step:
                continue
            kept.append(line)
        write_bytes_atomic(path, b"".join(kept))

    def write_metrics(self, records: list[dict]) -> None:
        """Replace the metrics log whole (atomically); only its trainer does this."""
        write_text_atomic(self.file(METRICS), "".join(to_json(r) + "\n" for r in records))

    # -- status and control ---------------------------------------------------------------------
    def write_status(self, status: RunStatus) -> None:
        status.heartbeat = time.time()
        write_json_atomic(self.file(STATUS), status.to_dict())

    def raw_status(self) -> RunStatus:
        """status.json as written (checked), without asking whether its trainer lives."""
        try:
            data = read_small_json(self.file(STATUS))
        except SeqtuiError as error:
            if not self.file(STATUS).exists() and not self.file(STATUS).is_symlink():
                return RunStatus()
            return RunStatus(state="damaged", problem=str(error))
        return parse_status(data)

    def status(self) -> RunStatus:
        """The status as written, with `state` corrected: a trainer that holds the run is running,
        one that is gone without saying so has been interrupted."""
        status = self.raw_status()
        alive = self.trainer_alive(status)
        if alive and status.state not in ACTIVE_STATES:
            status.message = status.problem or status.message
            status.state = "starting" if status.state == "new" else "running"
            status.problem = None
        elif not alive and status.state in ACTIVE_STATES:
            status.state = "interrupted"
            shown = display_name(str(self.path))
            status.message = f"the trainer stopped without saying so; continue with: seqtui train --resume {shown}"
        elif not alive and status.state == "damaged":
            status.message = status.problem or ""
        return status

    def trainer_alive(self, status: RunStatus | None = None) -> bool:
        """Whether a process holds the run now (the lock says so, not a pid that may be reused).

        A trainer on another host, on a file system that does not share locks, is taken on trust
        while its heartbeat is fresh."""
        return self.holder() is not None or self.remote_trainer(status or self.raw_status())

    @staticmethod
    def remote_trainer(status: RunStatus) -> bool:
        """Whether status.json speaks of a trainer on another host that beat its heart lately."""
        if not (status.state in ACTIVE_STATES and status.host and status.host != socket.gethostname()):
            return False
        age = time.time() - status.heartbeat if status.heartbeat is not None else HEARTBEAT_STALE
        return -CLOCK_SKEW < age < HEARTBEAT_STALE  # a heartbeat from far in the future is damage

    def is_active(self) -> bool:
        return self.status().active

    def request(self, want: str) -> None:
        """Ask the trainer to run, pause or stop; it acts within about half a second."""
        if want not in WANTS:
            raise SeqtuiError(f"unknown request {want!r}: choose one of {', '.join(WANTS)}")
        write_json_atomic(self.file(CONTROL), {"want": want, "at": time.time()})

    def wanted(self) -> str:
        return self.control()[0]

    def control(self) -> tuple[str, float | None]:
        """What was last asked of the trainer, and when (None: never, or unreadable). A control
        file that exists but cannot be read counts as "running"; why is kept in `control_problem`."""
        self.control_problem = None
        path = self.file(CONTROL)
        try:
            data = read_small_json(path)
        except SeqtuiError as error:
            if path.exists() or path.is_symlink():
                self.control_problem = str(error)
            return "running", None
        want, at = data.get("want", "running"), data.get("at")
        return (want if want in WANTS else "running"), (at if is_number(at) else None)


class _Held:
    def __init__(self, run: Run, refusal: str | None):
        self.run, self.refusal = run, refusal
        self.lock = run.lock()

    def __enter__(self) -> RunLock:
        if not self.lock.acquire():
            holder = self.run.holder() or {}
            pid = holder.get("pid")
            raise SeqtuiError(
                self.refusal
                or (
                    f"run {self.run.shown_name} is being trained by process {pid}"
                    if pid
                    else f"run {self.run.shown_name} is held by another process"
                )
            )
        self.run.clean_temporaries()
        return self.lock

    def __exit__(self, *exc) -> None:
        self.lock.release()
