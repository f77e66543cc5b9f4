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
import stat
from dataclasses import dataclass, field
from pathlib import Path

from seqtui.store.files import file_stamp, opened, write_bytes_atomic
from seqtui.store.layout import CHECKPOINT, CONFIG, HELDOUT, LOG, METRICS, STATUS

WHOLE = (CONFIG, CHECKPOINT, HELDOUT, STATUS)  # replaced whole by their writers (STATUS last: see collect)
APPENDED = (METRICS, LOG)  # only ever appended to (or rewritten from the start on a resume)
SHIPPED = WHOLE + APPENDED  # never control.json (the driver's copy is where requests are made) nor the lock
LIMIT = 1 << 30  # no file of a run is this large; one that is, is not one of ours


def _read(path: Path, since: tuple[int, int, int] | None = None) -> tuple[bytes, int, tuple[int, int, int]] | None:
    """A regular file's bytes, with where they start and the file's (inode, mtime, size) as read;
    None if it is missing. `since`: the stamp sent last, for a file only ever appended to: the
    same file (inode, from the descriptor read, not an earlier stat) grown gives only the new part."""
    try:
        with opened(path) as (fd, info):
            if info.st_size > LIMIT:
                return None
            stamp = (info.st_ino, info.st_mtime_ns, info.st_size)
            start = since[2] if since and since[0] == info.st_ino and since[2] <= info.st_size else 0
            os.lseek(fd, start, os.SEEK_SET)
            chunks = []
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
            data = b"".join(chunks)
            return data, start, (stamp[0], stamp[1], start + len(data))
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
        # the checkpoint before the metrics: a parcel never holds a checkpoint newer than its metrics
        # (a resume cuts metrics newer than its checkpoint back); the status last, for the same reason
        for name in (*WHOLE[:-1], *APPENDED, WHOLE[-1]):
            before = self.sent.get(name)
            if file_stamp(self.path / name) in (None, before):
                continue
            read = _read(self.path / name, before if name in APPENDED else None)
            if read is None:
                continue
            data, start, self.sent[name] = read
            if name in APPENDED:
                appended[name] = [start, data]
            else:
                files[name] = data
        return {"files": files, "appended": appended}


def size(parcel: dict) -> int:
    """Bytes a parcel carries."""
    return sum(len(v) for v in parcel.get("files", {}).values()) + sum(
        len(v[1]) for v in parcel.get("appended", {}).values()
    )


def receive(path: Path, parcel: dict, where: str, there: str | None = None) -> bool:
    """Write a parcel into the driver's copy of a run. The status's host becomes `where` (the node
    that trains it, as the driver names it), so readers here take the trainer as remote, alive
    while its heartbeat is fresh, and its message speaks of this copy, not of `there` (the
    directory on the node). False if an appended part does not follow what is here (a parcel lost
    on the way): then the next parcel should be whole."""
    in_order = True
    for name, part in parcel.get("appended", {}).items():
        start, data = part if isinstance(part, (list, tuple)) and len(part) == 2 else (None, None)
        if name not in APPENDED or not isinstance(data, bytes) or not isinstance(start, int):
            continue
        if start == 0:
            write_bytes_atomic(path / name, data)
        elif not _append(path / name, start, data):
            in_order = False
    files = parcel.get("files", {})
    for name in WHOLE:
        data = files.get(name)
        if not isinstance(data, bytes):
            continue
        if name == STATUS:
            data = _as_remote(data, where, there, str(path))
        write_bytes_atomic(path / name, data)
    return in_order


def _append(target: Path, start: int, data: bytes) -> bool:
    """`data` added to a regular file (never through a link, a FIFO or a device) that holds exactly
    `start` bytes; False (nothing written) otherwise."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(target, flags)
    except OSError:
        return False
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size != start:
            return False
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        return True
    finally:
        os.close(fd)


def _as_remote(data: bytes, where: str, there: str | None, here: str) -> bytes:
    """status.json with its host named `where` and the node's directory (`there`) in its message
    named as this copy (`here`); left as it came if it is not an object."""
    try:
        status = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return data
    if not isinstance(status, dict):
        return data
    status["host"] = where[:255]
    if there and isinstance(status.get("message"), str):
        status["message"] = status["message"].replace(there, here)
    return json.dumps(status).encode()
