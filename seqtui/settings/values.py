"""The names and ranges every setting is checked against, and the strict checks themselves: a
value of the wrong type, out of range or not finite is refused with a message naming the setting.
"""

from __future__ import annotations

import math
import re
from dataclasses import fields
from typing import Any

from seqtui.settings.errors import SeqtuiError, SettingError

TASKS = ("match", "palindrome")
NEGATIVES = ("random", "hard", "mixed")
INITS = ("default", "identity")  # what the built-in models take (seqtui.settings.networks)
SCHEDULES = ("cosine", "constant")
MAX_SEED = 2**32 - 1
MAX_HIDDEN = 16_384
MAX_PATTERN = 500  # sequences up to 1,000 digits
MAX_BATCH = 1 << 20
MAX_THREADS = 1024
MAX_COUNT = 10**15  # steps, examples: more than any machine trains
DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(:\d{1,2})?")


# -- reading values strictly ----------------------------------------------------------------------
def whole(name: str, value: Any, low: int = 0, high: int = MAX_COUNT, setting: str = "") -> int:
    """`value` if it is a whole number in [low, high]; `name` says it in words, `setting` is its
    name in SETTINGS (the error carries it)."""
    if isinstance(value, bool) or not isinstance(value, int):  # 8.0 too: torch wants an int
        raise SettingError(f"{name} must be a whole number, got {value!r}", setting or name)
    if value < low and low == 1:
        raise SettingError(f"{name} must be at least 1, got {value:,}", setting or name)
    if not low <= value <= high:
        raise SettingError(f"{name} must be between {low:,} and {high:,}, got {value:,}", setting or name)
    return value


def real(name: str, value: Any, positive: bool = True, high: float = math.inf, setting: str = "") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SettingError(f"{name} must be a number, got {value!r}", setting or name)
    try:
        value = float(value)
    except OverflowError:  # an integer past a float's range
        value = math.inf
    if not math.isfinite(value):
        raise SettingError(f"{name} must be a finite number, got {value}", setting or name)
    if positive and not value > 0:
        raise SettingError(f"{name} must be positive, got {value:g}", setting or name)
    if value > high:
        raise SettingError(f"{name} must be at most {high:g}, got {value:g}", setting or name)
    return value


def fraction(name: str, value: Any, high: float, setting: str) -> float:
    """A share of the budget, 0..high."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= high:
        raise SettingError(f"{name} must be a fraction of the budget from 0 to {high:g}, got {value!r}", setting)
    return float(value)


def choice(name: str, value: Any, choices: tuple[str, ...], setting: str = "") -> str:
    if value not in choices:
        raise SettingError(f"unknown {name} {value!r}: choose one of {', '.join(choices)}", setting or name)
    return value


def known_fields(name: str, data: Any, cls) -> dict:
    if not isinstance(data, dict):
        raise SeqtuiError(f"{name} must be an object, got {data!r}")
    unknown = sorted(set(data) - {f.name for f in fields(cls)})
    if unknown:
        raise SeqtuiError(f"{name} has an unknown setting {unknown[0]!r}")
    return data
