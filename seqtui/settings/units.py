"""Numbers as people write them (20000, 20k, 1.5M; 90s, 5m) and as seqtui writes them back:
counts, durations and sizes, one formatter of each.
"""

from __future__ import annotations

import math

from seqtui.settings.errors import SeqtuiError
from seqtui.settings.values import real

# -- numbers as people write them -----------------------------------------------------------------
_SCALE = {"k": 10**3, "m": 10**6, "g": 10**9}


def parse_count(text: str) -> int:
    """`20000`, `20_000`, `20,000`, `20k`, `1.5M`, `2e6` -> a whole number."""
    cleaned = str(text).strip().lower().replace("_", "").replace(",", "")
    scale = 1
    if cleaned[-1:] in _SCALE:
        cleaned, scale = cleaned[:-1], _SCALE[cleaned[-1]]
    try:
        value = float(cleaned) * scale
    except ValueError:
        raise SeqtuiError(f"not a count: {text!r} (write e.g. 20000, 20k or 1.5M)") from None
    if not math.isfinite(value) or not value.is_integer():
        raise SeqtuiError(f"not a whole count: {text!r}")
    return int(value)


def parse_seconds(text: str) -> float:
    """`90`, `90s`, `5m`, `1.5h` -> seconds."""
    cleaned = str(text).strip().lower()
    scale = 1.0
    for suffix, size in (("s", 1.0), ("m", 60.0), ("h", 3600.0)):
        if cleaned.endswith(suffix):
            cleaned, scale = cleaned[: -len(suffix)], size
            break
    try:
        value = float(cleaned) * scale
    except ValueError:
        raise SeqtuiError(f"not a duration: {text!r} (write e.g. 90, 90s, 5m or 1h)") from None
    return real("time", value)


def parse_real(text: str) -> float:
    try:
        value = float(str(text).strip())
    except ValueError:
        raise SeqtuiError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise SeqtuiError(f"not a finite number: {text!r}")
    return value


def parse_whole(text: str) -> int:
    try:
        return int(str(text).strip())
    except ValueError:
        raise SeqtuiError(f"not a whole number: {text!r}") from None


def round_up(count: int) -> int:
    """Two significant digits, rounded up: 25,224 -> 26,000."""
    scale = 10 ** max(0, len(str(count)) - 2)
    return -(-count // scale) * scale


def count_text(value: int) -> str:
    """A count as it is typed back: 1500000 -> 1.5M, 20000 -> 20k; with two decimals at most,
    so a batch of 1024 stays 1024 (not 1.024k)."""
    for size, unit in ((10**9, "G"), (10**6, "M"), (10**3, "k")):
        if value >= size and (value * 100) % size == 0:
            return f"{value / size:g}{unit}"
    return str(value)


def duration_text(seconds: float | None) -> str:
    """A span of time as it is shown everywhere: 45s, 12m05s, 2h07m; "-" when unknown."""
    if seconds is None:
        return "-"
    whole = int(seconds)
    if whole >= 3600:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 60}m{whole % 60:02d}s" if whole >= 60 else f"{whole}s"


def age_text(seconds: float) -> str:
    """How long ago, in its largest unit: 3d ago, 5h ago, 12m ago, 40s ago."""
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{math.floor(seconds / size)}{unit} ago"
    return f"{seconds:.0f}s ago"
