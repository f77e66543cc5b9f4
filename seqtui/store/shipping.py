"""A run directory carried between machines that share no disk, as plain bytes in a parcel.

A trial trained on another node (a Ray worker with its own disk) works in a directory there; what
it writes comes back to the driver's copy under `--root` a parcel at a time: a file written whole
(config, status, checkpoint, measurement) when it was replaced, an appended file (metrics, the
log) as the part added since the last parcel. The driver's copy then reads as if the run had been
trained there, and a trial started again elsewhere starts from that copy (`pack`), so from its last
checkpoint that came back.

A parcel is a dict of bytes; only the names below are ever written, inside the run directory.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from seqtui.store.files import file_stamp, opened, write_bytes_atomic
from seqtui.store.layout import CHECKPOINT, CONFIG, HELDOUT, LOG, METRICS, STATUS

WHOLE = (CONFIG, CHECKPOINT, HELDOUT, STATUS)  # replaced whole by their writers (STATUS last: see collect)
APPENDED = (METRICS, LOG)  # only ever appended to (or rewritten from the start on a resume)
SHIPPED = WHOLE + APPENDED  # never control.json (the driver's copy is where requests are made) nor the lock
LIMIT = 1 << 30  # no file of a run is this large; one that is, is not one of ours


def _read(path: Path, start: int = 0) -> tuple[bytes, tuple[int, int, int]] | None:
    """A regular file's bytes from `start`, with its (inode, mtime, size); None if it is missing."""
    try:
        with opened(path) as (fd, info):
            if info.st_size > LIMIT:
                return None
            os.lseek(fd, start, os.SEEK_SET)
            chunks = []
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
            data = b"".join(chunks)
            return data, (info.st_ino, info.st_mtime_ns, start + len(data))
    except OSError:
        return None


def pack(path: Path) -> dict[str, bytes]:
    """What a run directory holds that a trainer elsewhere needs to go on from it."""
    files = {}
    for name in SHIPPED:
        read = _read(path / name)
        if read is not None:
            files[name] = read[0]
    return files


def unpack(path: Path, files: dict[str, bytes]) -> None:
    """A packed run written into a fresh directory (on the node that trains it)."""
    path.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        if name in SHIPPED:
            write_bytes_atomic(path / name, data)


@dataclass
class Outbox:
    """The sending side, in the directory a trial trains in: what changed since the last parcel."""

    path: Path
    sent: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # name -> stamp when sent

    def collect(self, whole: bool = False) -> dict:
        """A parcel: {"files": {name: bytes}, "appended": {name: [offset, bytes]}}. `whole`: every
        file from its start (for a receiver that has nothing, or lost count)."""
        if whole:
            self.sent.clear()
        files: dict[str, bytes] = {}
        appended: dict[str, list] = {}
        for name in APPENDED:
            before = self.sent.get(name)
            stamp = file_stamp(self.path / name)
            if stamp is None or stamp == before:
                continue
            # the same file grown: the new part; rewritten (a resume cuts metrics back): all of it
            start = before[2] if before and before[0] == stamp[0] and before[2] <= stamp[2] else 0
            read = _read(self.path / name, start)
            if read is None:
                continue
            appended[name] = [start, read[0]]
            self.sent[name] = read[1]
        for name in WHOLE:  # status last: it never speaks of a checkpoint the parcel does not hold
            stamp = file_stamp(self.path / name)
            if stamp is None or stamp == self.sent.get(name):
                continue
            read = _read(self.path / name)
            if read is not None:
                files[name] = read[0]
                self.sent[name] = read[1]
        return {"files": files, "appended": appended}


def size(parcel: dict) -> int:
    """Bytes a parcel carries."""
    return sum(len(v) for v in parcel.get("files", {}).values()) + sum(
        len(v[1]) for v in parcel.get("appended", {}).values()
    )


def receive(path: Path, parcel: dict, where: str) -> bool:
    """Write a parcel into the driver's copy of a run. The status's host becomes `where` (the node
    that trains it, as the driver names it), so readers here take the trainer as remote, alive
    while its heartbeat is fresh. False if an appended part does not follow what is here (a parcel
    lost on the way): then the next parcel should be whole."""
    in_order = True
    for name, (start, data) in parcel.get("appended", {}).items():
        if name not in APPENDED or not isinstance(data, bytes) or not isinstance(start, int):
            continue
        target = path / name
        have = target.stat().st_size if target.exists() else 0
        if start == 0:
            write_bytes_atomic(target, data)
        elif start == have:
            with open(target, "ab") as out:
                out.write(data)
        else:
            in_order = False
    files = parcel.get("files", {})
    for name in WHOLE:
        data = files.get(name)
        if not isinstance(data, bytes):
            continue
        if name == STATUS:
            data = _as_remote(data, where)
        write_bytes_atomic(path / name, data)
    return in_order


def _as_remote(data: bytes, where: str) -> bytes:
    """status.json with its host named `where`; left as it came if it is not an object."""
    try:
        status = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return data
    if not isinstance(status, dict):
        return data
    status["host"] = where[:255]
    return json.dumps(status).encode()
