"""Files as seqtui writes and reads them: one atomic writer, one safe opener, one file stamp.

Writers replace a file whole (written under a temporary name, then renamed), so a reader sees the
old file or the new one, never half; a killed writer's temporary is removed by the next one (Run).
Readers open without following a device or a FIFO into a hang (non-blocking, regular files only)
and never read without bound; what is wrong becomes one SeqtuiError naming the file.
"""

from __future__ import annotations

import errno
import json
import math
import os
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from seqtui.settings.errors import SeqtuiError

SMALL_FILE = 1 << 20  # config, status, control: anything larger is not one of ours


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


def write_atomic(path: Path, write: Callable[[Path], object]) -> None:
    """Replace `path` whole: `write` fills a temporary beside it, which is synced and renamed over
    it. Readers see the old file or the whole new one, never half of it. Whatever fails (a full
    disk, the writer's own error) leaves the old file and no temporary; an OS error becomes one
    SeqtuiError, any other error is the caller's to say."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.unlink(missing_ok=True)  # never write through a link planted at this name
        write(temporary)
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        try:
            temporary.unlink(missing_ok=True)
        except OSError:
            pass
        if isinstance(error, OSError):
            raise write_failure(path, error) from None
        raise


def write_bytes_atomic(path: Path, data: bytes) -> None:
    write_atomic(path, lambda temporary: temporary.write_bytes(data))


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode())


def write_json_atomic(path: Path, data: dict) -> None:
    write_text_atomic(path, to_json(data, indent=2) + "\n")


# -- reading -------------------------------------------------------------------------------------
class NotRegularFile(OSError):
    """A directory, a FIFO, a device or a socket where a file should be."""


@contextmanager
def opened(path: Path) -> Iterator[tuple[int, os.stat_result]]:
    """A regular file opened for reading, as (descriptor, its stat), closed after. It is opened
    without blocking, so a FIFO or a device planted where a file should be never hangs a reader;
    anything but a regular file raises NotRegularFile, and a missing one FileNotFoundError."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NONBLOCK", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFile(f"{path} is not a regular file")
        yield fd, info
    finally:
        os.close(fd)


def read_failure(path: Path, error: OSError) -> SeqtuiError:
    """What is wrong with a file that could not be read, in one line."""
    if isinstance(error, NotRegularFile):
        return SeqtuiError(f"{path} is not a regular file")
    return SeqtuiError(f"{path} cannot be read: {error.strerror or error}")


def file_stamp(path: Path) -> tuple[int, int, int] | None:
    """What changes whenever a file is replaced or written (inode, modification time, size), or
    None while it is missing: a poller re-reads a file only when its stamp moved."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_ino, info.st_mtime_ns, info.st_size


def read_small_json(path: Path) -> dict:
    """A small JSON object from a regular file, or a SeqtuiError saying what is wrong with it."""
    path = Path(path)
    try:
        with opened(path) as (fd, info):
            if info.st_size > SMALL_FILE:
                raise SeqtuiError(f"{path} is {info.st_size:,} bytes: far too large to be one of seqtui's files")
            data = os.read(fd, SMALL_FILE + 1)
    except FileNotFoundError:
        raise SeqtuiError(f"{path} is missing") from None
    except OSError as error:
        raise read_failure(path, error) from None
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):  # nested past Python's stack: damage too
        raise SeqtuiError(f"{path} is not valid JSON (damaged or cut short)") from None
    if not isinstance(value, dict):
        raise SeqtuiError(f"{path} does not hold a JSON object")
    return value


def is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**18


def is_number(value: Any) -> bool:
    """A finite number (an integer of any size is one; math.isfinite would overflow on it)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return isinstance(value, int) or math.isfinite(value)


def is_fraction(value: Any) -> bool:
    return is_number(value) and 0 <= value <= 1
