"""A run directory: the contract between a trainer, its viewers and other tools.

    runs/<name>/
      config.json              the run's settings (TrainConfig as JSON); the budget is the total
      metrics.jsonl            one JSON object per line, each with "kind" and "step"
      checkpoint.safetensors   the latest checkpoint (replaced atomically)
      status.json              state, pid, host, heartbeat, step, examples, message
      control.json             what another process wants: {"want": "running"|"paused"|"stopped"}
      lock                     held (flock) by the one process that may change the run
      train.log                output of a trainer started in the background, if one was
      heldout.json             what a sweep's trial reached on fresh examples (seqtui.sweep)

A sweep keeps its trials one level down, `runs/<sweep>/<trial>/`, beside its manifest
(`sweep.json`); such a run's name is `<sweep>/<trial>`, and it is listed and found like any other.

Readers are total: whatever is in these files (damage, wrong types, a device or a directory where
a file should be), they return values or one SeqtuiError that says what is wrong with which file,
and never read without bound. Writers hold the run's lock, which the kernel releases when its
process dies, so a trainer killed at any moment leaves nothing that blocks the next one; files are
replaced atomically (written under a temporary name, then renamed), and temporaries left by a
killed writer are removed by the next one. This module imports no torch.
"""

from __future__ import annotations

import difflib
import errno
import fcntl
import json
import math
import os
import re
import socket
import stat
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from seqtui.config import TrainConfig
from seqtui.errors import SeqtuiError

CONFIG = "config.json"
METRICS = "metrics.jsonl"
CHECKPOINT = "checkpoint.safetensors"
STATUS = "status.json"
CONTROL = "control.json"
LOCK = "lock"
LOG = "train.log"  # the output of a trainer started in the background (by the app)
HELDOUT = "heldout.json"  # a sweep trial's measurement after training
SWEEP_MANIFEST = "sweep.json"  # marks a directory of trials (seqtui.sweep)

OWN_FILES = (CONFIG, METRICS, CHECKPOINT, STATUS, CONTROL, HELDOUT)
ACTIVE_STATES = ("starting", "running", "paused")
FINAL_STATES = ("finished", "stopped", "failed")
STATES = ("new", *ACTIVE_STATES, *FINAL_STATES, "interrupted", "damaged")
WANTS = ("running", "paused", "stopped")
VERDICTS = ("learned", "partial", "short", "chance")
HEARTBEAT_STALE = 120.0  # seconds; a trainer on another host is presumed gone after this
CLOCK_SKEW = 60.0  # seconds another host's clock may be ahead of ours
SMALL_FILE = 1 << 20  # config, status, control: anything larger is not one of ours
MAX_LINE = 1 << 20  # a metrics line longer than this is damage, skipped
READ_CHUNK = 16 << 20  # bytes of metrics read per poll, so a huge log never floods memory
TAIL = 64  # bytes of the log a reader checks again, to notice a replaced log
_TEMPORARY = re.compile(r"\.(.+)\.(\d+)\.tmp")
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def default_root() -> Path:
    return Path(os.environ.get("SEQTUI_RUNS", "runs"))


def display_name(name: str) -> str:
    """A name safe to print: control characters (escape sequences) shown as '?'."""
    return _CONTROL_CHARACTERS.sub("?", name)


def distinct_names(names: list[str], width: int) -> list[str]:
    """`names` shortened to at most `width` characters each by what they share: a common leading
    part (whole words between '-' and '/') goes first, then the middle of what is left, so the ends
    that tell runs apart (the model at the start, the time at the end) stay."""
    if all(len(n) <= width for n in names):
        return list(names)
    words = [re.split(r"(?<=[-/])", n) for n in names]
    common = 0
    if len(names) > 1:
        while all(len(w) > common + 1 and w[common] == words[0][common] for w in words):
            common += 1
    out = []
    for w in words:
        rest = ("…" if common else "") + "".join(w[common:])
        if len(rest) > width:
            head = max(1, (width - 1) // 2)
            rest = rest[:head] + "…" + rest[len(rest) - (width - 1 - head) :]
        out.append(rest)
    return out


# -- writing -------------------------------------------------------------------------------------
def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: non-finite numbers are written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def to_json(data: Any, indent: int | None = None) -> str:
    return json.dumps(_finite(data), indent=indent, allow_nan=False)


def write_failure(path: Path, error: OSError) -> SeqtuiError:
    reason = error.strerror or str(error)
    if error.errno == errno.ENOSPC:
        reason = "no space left on the device"
    return SeqtuiError(f"cannot write {path}: {reason}")


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Readers see the old file or the whole new one, never half of it. Any OS error (a full
    disk) leaves the old file and no temporary."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as error:
        try:
            temporary.unlink(missing_ok=True)
        except OSError:
            pass
        raise write_failure(path, error) from None


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode())


def write_json_atomic(path: Path, data: dict) -> None:
    write_text_atomic(path, to_json(data, indent=2) + "\n")


# -- reading -------------------------------------------------------------------------------------
def read_small_json(path: Path) -> dict:
    """A small JSON object from a regular file, or a SeqtuiError saying what is wrong with it."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise SeqtuiError(f"{path} is missing") from None
    except OSError as error:
        raise SeqtuiError(f"{path} cannot be read: {error.strerror or error}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SeqtuiError(f"{path} is not a regular file")
        if info.st_size > SMALL_FILE:
            raise SeqtuiError(f"{path} is {info.st_size:,} bytes: far too large to be one of seqtui's files")
        data = os.read(fd, SMALL_FILE + 1)
    except OSError as error:
        raise SeqtuiError(f"{path} cannot be read: {error.strerror or error}") from None
    finally:
        os.close(fd)
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise SeqtuiError(f"{path} is not valid JSON (damaged or cut short)") from None
    if not isinstance(value, dict):
        raise SeqtuiError(f"{path} does not hold a JSON object")
    return value


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**18


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_fraction(value: Any) -> bool:
    return _is_number(value) and 0 <= value <= 1


def _length_key(key: Any) -> bool:
    return isinstance(key, str) and key.isdigit() and len(key) <= 4 and int(key) > 0


def _by_length(value: Any, check) -> bool:
    return isinstance(value, dict) and bool(value) and all(_length_key(k) and check(v) for k, v in value.items())


def _ratio(value: Any) -> bool:
    return value is None or isinstance(value, (int, float)) and not isinstance(value, bool)


def _interval(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(_is_fraction(v) for v in value)


def _norms(value: Any) -> bool:
    return isinstance(value, list) and len(value) <= 10_000 and all(_ratio(v) for v in value)


_RECORD_FIELDS: dict[str, dict[str, Any]] = {
    "train": {"loss": _is_number, "accuracy": _is_fraction},
    "eval": {
        "accuracy": _is_fraction,
        "worst": _is_fraction,
        "accuracy_by_length": lambda v: _by_length(v, _is_fraction),
    },
    "event": {"event": lambda v: isinstance(v, str) and len(v) <= 40},
}
_OPTIONAL_FIELDS: dict[str, Any] = {
    "examples_per_s": _is_number,
    "threads": _is_count,
    "longest": _is_count,
    "grad_norm": _is_number,
    "lr": _is_number,
    "progress": _is_number,
    "samples": _is_count,
    "negatives": lambda v: isinstance(v, str),
    "message": lambda v: isinstance(v, str),
    "reason": lambda v: isinstance(v, str),
    "count_by_length": lambda v: _by_length(v, _is_count),
    "interval_by_length": lambda v: _by_length(v, _interval),
    "gradient_norms_by_length": lambda v: _by_length(v, _norms),
    "gradient_ratio_by_length": lambda v: _by_length(v, _ratio),
}


def valid_record(record: Any) -> dict | None:
    """A metrics record whose fields have the documented types, or None.

    Optional fields of the wrong type are dropped; a record missing what its kind needs is
    skipped whole, so no viewer or command ever meets a length that is not a number."""
    if not isinstance(record, dict):
        return None
    required = _RECORD_FIELDS.get(record.get("kind"))
    if required is None or not _is_count(record.get("step")):
        return None
    if not _is_count(record.setdefault("examples", 0)):
        return None
    if not (_is_number(record.setdefault("elapsed", 0.0)) and record["elapsed"] >= 0):
        return None
    for name, check in required.items():
        if not check(record.get(name)):
            return None
    for name, check in _OPTIONAL_FIELDS.items():
        if name in record and not check(record[name]):
            del record[name]
    for name in ("gradient_ratio_by_length",):  # NaN from an older writer: unknown, not a number
        if name in record:
            record[name] = {k: (v if v is None or math.isfinite(v) else None) for k, v in record[name].items()}
    if "gradient_norms_by_length" in record:
        record["gradient_norms_by_length"] = {
            k: [v if v is None or math.isfinite(v) else None for v in values]
            for k, values in record["gradient_norms_by_length"].items()
        }
    return record


class MetricsReader:
    """Reads a growing metrics log like `tail -f`: complete, valid records only, from where it left off.

    A log replaced by a new file (a resume rewrites it without the steps it redoes) is noticed by
    the file's identity, whatever its size, and read again from the start (`restarts` counts it).
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.offset = 0
        self.tail = b""  # the last bytes read, checked again before reading on
        self.identity: tuple[int, int] | None = None
        self.restarts = 0  # times the log was found replaced or cut: read again from the start
        self.skipped = 0  # damaged lines passed over
        self.problem: str | None = None  # why the log cannot be read at all, if it cannot

    def read_new(self, limit: int = READ_CHUNK) -> list[dict]:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NONBLOCK", 0))
        except FileNotFoundError:
            self.problem = None
            return []
        except OSError as error:
            self.problem = f"{self.path} cannot be read: {error.strerror or error}"
            return []
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                self.problem = f"{self.path} is not a regular file"
                return []
            self.problem = None
            identity = (info.st_dev, info.st_ino)
            if identity != self.identity or info.st_size < self.offset or not self._same_tail(fd):
                if self.identity is not None:
                    self.restarts += 1
                self.identity, self.offset, self.tail = identity, 0, b""
            os.lseek(fd, self.offset, os.SEEK_SET)
            data = os.read(fd, limit)
        except OSError as error:
            self.problem = f"{self.path} cannot be read: {error.strerror or error}"
            return []
        finally:
            os.close(fd)
        end = data.rfind(b"\n") + 1  # a last line without its newline is still being written
        if end == 0 and len(data) >= limit:  # one line longer than a whole chunk: damage
            end = len(data)
        self.offset += end
        if end:
            self.tail = (self.tail + data[:end])[-TAIL:]
        records = []
        for line in data[:end].splitlines():
            if not line.strip():
                continue
            record = None
            if len(line) <= MAX_LINE:
                try:
                    record = valid_record(json.loads(line))
                except (ValueError, UnicodeDecodeError, RecursionError):
                    record = None
            if record is None:
                self.skipped += 1  # a line torn by a crash mid-write, or damage
            else:
                records.append(record)
        return records

    def _same_tail(self, fd: int) -> bool:
        """Whether the bytes read last are still where they were: a log replaced by another (whose
        inode number the file system may have reused) is noticed even when it is no shorter."""
        if not self.tail:
            return True
        try:
            return os.pread(fd, len(self.tail), self.offset - len(self.tail)) == self.tail
        except OSError:
            return False

    def read_all(self) -> list[dict]:
        """Every record from where the reader stands to the end of the file."""
        records = []
        while True:
            before = self.offset
            records += self.read_new()
            if self.offset == before:
                return records


# -- the lock ------------------------------------------------------------------------------------
def lock_holder(path: Path) -> dict | None:
    """Who holds a run's lock ({"pid", "host", ...}), or None if nobody does.

    Asking takes a shared lock for a moment, so a writer's acquire retries briefly."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                info = json.loads(os.read(fd, 4096) or b"{}")
            except (OSError, ValueError, UnicodeDecodeError):
                info = {}
            return info if isinstance(info, dict) else {}
        except OSError:  # a file system without locks: nobody can be said to hold it
            return None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


class RunLock:
    """The right to change a run. The kernel drops it when the holder's process ends, however it ends."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.fd: int | None = None

    def acquire(self, timeout: float = 0.5) -> bool:
        """True once held; False if another process holds it (readers only hold it for a moment)."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except OSError as error:
            raise SeqtuiError(f"cannot lock {self.path}: {error.strerror or error}") from None
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    return False
                time.sleep(0.02)
            except OSError as error:
                os.close(fd)
                raise SeqtuiError(f"cannot lock {self.path}: {error.strerror or error}") from None
        self.fd = fd
        try:  # who holds it, for the messages of those refused; not needed for the lock itself
            os.ftruncate(fd, 0)
            os.pwrite(fd, to_json({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}).encode(), 0)
        except OSError:
            pass
        return True

    def release(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            try:
                os.ftruncate(fd, 0)
            except OSError:
                pass
            os.close(fd)  # closing drops the lock

    @property
    def held(self) -> bool:
        return self.fd is not None


# -- status --------------------------------------------------------------------------------------
@dataclass
class RunStatus:
    """What status.json says, checked field by field, with `state` corrected for a dead trainer."""

    state: str = "new"
    pid: int | None = None
    host: str = ""
    heartbeat: float | None = None
    started: float | None = None
    step: int = 0
    examples: int = 0
    elapsed: float = 0.0
    device: str = ""
    threads: int | None = None
    best_worst: float | None = None
    final: dict | None = None  # the last held-out evaluation: accuracy, worst, worst_length
    verdict: str | None = None  # did the finished run learn: learned, short (of its preset), chance
    message: str = ""
    problem: str | None = None  # what is wrong with the run's files, if anything

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("problem")
        return data

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES


_STATUS_CHECKS: dict[str, Any] = {
    "state": lambda v: v in STATES,
    "pid": lambda v: v is None or (_is_count(v) and 0 < v < 2**31),
    "host": lambda v: isinstance(v, str) and len(v) <= 255,
    "heartbeat": lambda v: v is None or _is_number(v),
    "started": lambda v: v is None or _is_number(v),
    "step": _is_count,
    "examples": _is_count,
    "elapsed": lambda v: _is_number(v) and v >= 0,
    "device": lambda v: isinstance(v, str) and len(v) <= 64,
    "threads": lambda v: v is None or (_is_count(v) and v < 100_000),
    "best_worst": lambda v: v is None or _is_fraction(v),
    "final": lambda v: (
        v is None
        or (
            isinstance(v, dict)
            and _is_fraction(v.get("accuracy"))
            and _is_fraction(v.get("worst"))
            and _is_count(v.get("worst_length"))
        )
    ),
    "verdict": lambda v: v is None or v in VERDICTS,
    "message": lambda v: isinstance(v, str) and len(v) <= 10_000,
}


def parse_status(data: dict) -> RunStatus:
    """A RunStatus from status.json's object; the first wrong field makes the status damaged."""
    values = {}
    for name, value in data.items():
        check = _STATUS_CHECKS.get(name)
        if check is None:
            continue  # a field a newer writer added
        if not check(value):
            shown = repr(value) if len(repr(value)) < 40 else repr(value)[:37] + "..."
            return RunStatus(state="damaged", problem=f"{STATUS} is damaged: {name} is {shown}")
        values[name] = value
    return RunStatus(**values)


# -- the run ---------------------------------------------------------------------------------------
class Run:
    def __init__(self, path: Path):
        self.path = Path(path)

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
        """A new run: its directory and its checked config.json, nothing else yet."""
        config.validate()
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
            raise SeqtuiError(f"{path} is not a run directory (it has no {CONFIG})")
        return cls(path)

    def config(self) -> TrainConfig:
        """The run's settings, checked; a damaged config.json is one SeqtuiError that says how."""
        data = read_small_json(self.file(CONFIG))
        try:
            return TrainConfig.from_dict(data)
        except SeqtuiError as error:
            raise SeqtuiError(f"{self.file(CONFIG)} does not describe a run: {error}") from None
        except (TypeError, ValueError, RecursionError) as error:
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
        removed = []
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
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NONBLOCK", 0))
        except FileNotFoundError:
            return
        except OSError as error:
            raise SeqtuiError(f"{path} cannot be read: {error.strerror or error}") from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise SeqtuiError(f"{path} is not a regular file")
            chunks = []
            while chunk := os.read(fd, READ_CHUNK):
                chunks.append(chunk)
        finally:
            os.close(fd)
        data = b"".join(chunks)
        kept = []
        for line in data[: data.rfind(b"\n") + 1].splitlines(keepends=True):
            try:
                record = json.loads(line) if len(line) <= MAX_LINE else None
            except (ValueError, UnicodeDecodeError, RecursionError):
                record = None
            if isinstance(record, dict) and _is_count(record.get("step")) and record["step"] > step:
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
        """What was last asked of the trainer, and when (None: never, or unreadable)."""
        try:
            data = read_small_json(self.file(CONTROL))
        except SeqtuiError:
            return "running", None
        want, at = data.get("want", "running"), data.get("at")
        return (want if want in WANTS else "running"), (at if _is_number(at) else None)


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


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    try:  # a zombie (exited, not yet reaped) is not alive
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


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
            return cls(
                run,
                "running" if status.active else "damaged",
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


RUN_FILES = (CONFIG, STATUS, CHECKPOINT, METRICS)  # a directory holding any of these is (or was) a run


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
