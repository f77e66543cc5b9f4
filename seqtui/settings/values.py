"""The names and ranges every setting is checked against, and the strict checks themselves: a
value of the wrong type, out of range or not finite is refused with a message naming the setting.
"""

from __future__ import annotations

import math
import re
from dataclasses import fields
from typing import Any

from seqtui.settings.errors import SeqtuiError

TASKS = ("match", "palindrome")


NEGATIVES = ("random", "hard", "mixed")


MODELS = ("rnn", "lstm", "gru")


INITS = ("default", "identity")


SCHEDULES = ("cosine", "constant")


MAX_SEED = 2**32 - 1


MAX_HIDDEN = 16_384


MAX_PATTERN = 500  # sequences up to 1,000 digits


MAX_BATCH = 1 << 20


MAX_THREADS = 1024


MAX_COUNT = 10**15  # steps, examples: more than any machine trains


DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(:\d{1,2})?")


# -- reading values strictly ----------------------------------------------------------------------
def whole(name: str, value: Any, low: int = 0, high: int = MAX_COUNT) -> int:
    if isinstance(value, bool) or not isinstance(value, int):  # 8.0 too: torch wants an int
        raise SeqtuiError(f"{name} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise SeqtuiError(f"{name} must be between {low:,} and {high:,}, got {value:,}")
    return value


def real(name: str, value: Any, positive: bool = True, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SeqtuiError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise SeqtuiError(f"{name} must be a finite number, got {value}")
    if positive and not value > 0:
        raise SeqtuiError(f"{name} must be positive, got {value:g}")
    if value > high:
        raise SeqtuiError(f"{name} must be at most {high:g}, got {value:g}")
    return value


def choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise SeqtuiError(f"unknown {name} {value!r}: choose one of {', '.join(choices)}")
    return value


def known_fields(name: str, data: Any, cls) -> dict:
    if not isinstance(data, dict):
        raise SeqtuiError(f"{name} must be an object, got {data!r}")
    unknown = sorted(set(data) - {f.name for f in fields(cls)})
    if unknown:
        raise SeqtuiError(f"{name} has an unknown setting {unknown[0]!r}")
    return data
