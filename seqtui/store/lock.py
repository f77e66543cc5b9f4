"""The lock that says which process may change a run: flock on the run's `lock` file, which the
kernel drops when its holder dies, however it dies; who holds it is written inside, for messages.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path

from seqtui.settings.errors import SeqtuiError
from seqtui.store.files import opened, to_json


# -- the lock ------------------------------------------------------------------------------------
def lock_holder(path: Path) -> dict | None:
    """Who holds a run's lock ({"pid", "host", ...}), or None if nobody does.

    Asking takes a shared lock for a moment, so a writer's acquire retries briefly."""
    try:
        with opened(path) as (fd, _):
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                try:
                    info = json.loads(os.read(fd, 4096) or b"{}")
                except (OSError, ValueError, UnicodeDecodeError, RecursionError):
                    info = {}
                return info if isinstance(info, dict) else {}
            except OSError:  # a file system without locks: nobody can be said to hold it
                return None
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
    except OSError:
        return None


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
