"""status.json: a run's state as its trainer last wrote it, checked field by field."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from seqtui.store.files import is_count, is_fraction, is_number
from seqtui.store.layout import STATUS

ACTIVE_STATES = ("starting", "running", "paused")


FINAL_STATES = ("finished", "stopped", "failed")


STATES = ("new", *ACTIVE_STATES, *FINAL_STATES, "interrupted", "damaged")


WANTS = ("running", "paused", "stopped")


VERDICTS = ("learned", "partial", "short", "chance")


HEARTBEAT_STALE = 120.0  # seconds; a trainer on another host is presumed gone after this


CLOCK_SKEW = 60.0  # seconds another host's clock may be ahead of ours


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
    best_worst: float | None = None  # the best held-out accuracy at the worst length so far
    worst: float | None = None  # the figure every screen shows: held-out accuracy at the worst length, latest
    final: dict | None = None  # the last held-out evaluation: accuracy, worst, worst_length
    verdict: str | None = None  # did the finished run learn: learned, short (of 0.99), partial, chance
    message: str = ""
    problem: str | None = None  # what is wrong with the run's files, if anything

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("problem")
        return data

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def latest_worst(self) -> float | None:
        """Held-out accuracy at the worst length at the latest evaluation (older status files:
        the final evaluation's)."""
        if self.worst is not None:
            return self.worst
        return (self.final or {}).get("worst")


_STATUS_CHECKS: dict[str, Any] = {
    "state": lambda v: v in STATES,
    "pid": lambda v: v is None or (is_count(v) and 0 < v < 2**31),
    "host": lambda v: isinstance(v, str) and len(v) <= 255,
    "heartbeat": lambda v: v is None or is_number(v),
    "started": lambda v: v is None or is_number(v),
    "step": is_count,
    "examples": is_count,
    "elapsed": lambda v: is_number(v) and v >= 0,
    "device": lambda v: isinstance(v, str) and len(v) <= 64,
    "threads": lambda v: v is None or (is_count(v) and v < 100_000),
    "best_worst": lambda v: v is None or is_fraction(v),
    "worst": lambda v: v is None or is_fraction(v),
    "final": lambda v: (
        v is None
        or (
            isinstance(v, dict)
            and is_fraction(v.get("accuracy"))
            and is_fraction(v.get("worst"))
            and is_count(v.get("worst_length"))
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
