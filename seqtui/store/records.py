"""The metrics log: its records' schema, shared by the trainer that writes it and every reader,
and the reader that follows it as it grows (like `tail -f`).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from seqtui.store.files import is_count, is_fraction, is_number, opened, read_failure

MAX_LINE = 1 << 20  # a metrics line longer than this is damage, skipped


READ_CHUNK = 16 << 20  # bytes of metrics read per poll, so a huge log never floods memory


TAIL = 64  # bytes of the log a reader checks again, to notice a replaced log


def _length_key(key: Any) -> bool:
    return isinstance(key, str) and key.isdigit() and len(key) <= 4 and int(key) > 0


def _by_length(value: Any, check) -> bool:
    return isinstance(value, dict) and bool(value) and all(_length_key(k) and check(v) for k, v in value.items())


def _ratio(value: Any) -> bool:
    return value is None or isinstance(value, (int, float)) and not isinstance(value, bool)


def _interval(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(is_fraction(v) for v in value)


def _norms(value: Any) -> bool:
    return isinstance(value, list) and len(value) <= 10_000 and all(_ratio(v) for v in value)


_RECORD_FIELDS: dict[str, dict[str, Any]] = {
    "train": {"loss": is_number, "accuracy": is_fraction},
    "eval": {
        "accuracy": is_fraction,
        "worst": is_fraction,
        "accuracy_by_length": lambda v: _by_length(v, is_fraction),
    },
    "event": {"event": lambda v: isinstance(v, str) and len(v) <= 40},
}


_OPTIONAL_FIELDS: dict[str, Any] = {
    "examples_per_s": is_number,
    "threads": is_count,
    "longest": is_count,
    "grad_norm": is_number,
    "lr": is_number,
    "progress": is_number,
    "samples": is_count,
    "negatives": lambda v: isinstance(v, str),
    "message": lambda v: isinstance(v, str),
    "reason": lambda v: isinstance(v, str),
    "count_by_length": lambda v: _by_length(v, is_count),
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
    kind = record.get("kind")
    required = _RECORD_FIELDS.get(kind) if isinstance(kind, str) else None
    if required is None or not is_count(record.get("step")):
        return None
    if not is_count(record.setdefault("examples", 0)):
        return None
    if not (is_number(record.setdefault("elapsed", 0.0)) and record["elapsed"] >= 0):
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
            with opened(self.path) as (fd, info):
                identity = (info.st_dev, info.st_ino)
                if identity != self.identity or info.st_size < self.offset or not self._same_tail(fd):
                    if self.identity is not None:
                        self.restarts += 1
                    self.identity, self.offset, self.tail = identity, 0, b""
                os.lseek(fd, self.offset, os.SEEK_SET)
                data = os.read(fd, limit)
        except FileNotFoundError:
            self.problem = None
            return []
        except OSError as error:
            self.problem = str(read_failure(self.path, error))
            return []
        self.problem = None
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
