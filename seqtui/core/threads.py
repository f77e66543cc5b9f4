"""How many CPU threads a trainer should use on a machine that others share.

torch's intra-op threads wait for each other at every operation: when another process holds one
of two cores, a two-thread step waits for the thread that has no core, and training falls far
below what one thread alone would do (measured here: 1.5k against 30k examples/s). So a trainer
whose thread count is not fixed (`--threads`) asks, every few seconds, how much of the machine the
*other* processes used lately (all busy time on the machine, less this process's own), and uses
the cores that are left, at least one.

On this machine 1 and 2 threads give bit-identical weights for every preset (tests/test_threads.py
checks it), so choosing the count while training changes how fast a run goes, not what it learns.
That is a property of the BLAS and the sizes, not a promise: `--threads N` fixes the count when a
run must be reproduced exactly anywhere. Linux only (/proc); elsewhere torch's own choice stands.
"""

from __future__ import annotations

import os
import time

CHECK_SECONDS = 5.0  # how often the choice is made again
FIRST_CHECK = 1.0  # seconds after the start: a busy machine is seen before much time is lost
MARGIN = 0.35  # cores the others must leave free, beyond whole ones, before a thread is added


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _machine_ticks() -> tuple[int, int] | None:
    """(busy, total) clock ticks of all cores since boot, from /proc/stat."""
    try:
        with open("/proc/stat") as handle:
            fields = [int(v) for v in handle.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user
    return total - idle, total


def _own_ticks() -> int | None:
    try:
        with open("/proc/self/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime, every thread of this process
    except (OSError, ValueError, IndexError):
        return None


class ThreadGovernor:
    """Picks a thread count from what the other processes used since the last look."""

    def __init__(self, available: int | None = None):
        self.cores = available or cores()
        self.last = self._sample()
        self.last_time = time.monotonic() - (CHECK_SECONDS - FIRST_CHECK)
        self.others = 0.0  # cores the other processes used in the last interval

    @staticmethod
    def _sample() -> tuple[int, int, int] | None:
        machine, own = _machine_ticks(), _own_ticks()
        if machine is None or own is None:
            return None
        return machine[0], machine[1], own

    def due(self) -> bool:
        return time.monotonic() - self.last_time >= CHECK_SECONDS

    def choose(self) -> int | None:
        """The thread count for the next interval, or None where the machine cannot be read."""
        now = self._sample()
        previous, self.last, self.last_time = self.last, now, time.monotonic()
        if now is None or previous is None or now[1] <= previous[1]:
            return None
        busy, total, own = (a - b for a, b in zip(now, previous))
        # total ticks count every core; busy ticks of others, as a number of cores
        self.others = max(0.0, (busy - own) / total * self.cores)
        return fit(self.cores, self.others)


def fit(available: int, others: float) -> int:
    """The cores left by others, whole ones only, at least one: 2 cores with one hog -> 1."""
    return max(1, min(available, int(available - others + 1 - MARGIN)))


def threads_now(window: float = 0.25) -> int | None:
    """A thread count for work that starts now and is over in seconds (an evaluation): the cores
    the other processes left over the next `window` seconds. None where the machine cannot be read."""
    governor = ThreadGovernor()
    time.sleep(window)
    return governor.choose()
