"""What the app follows, each named by a key: a run (its directory), a comparison (its name) or a
sweep (its directory). The keys are hashable, so one follower serves every screen that asks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias


@dataclass(frozen=True)
class ComparisonKey:
    """A comparison (`seqtui compare`) by its name, whose runs appear as its models start."""

    name: str


@dataclass(frozen=True)
class SweepKey:
    """A sweep by its directory."""

    path: Path


# a run is named by its own directory: a Path
FollowKey: TypeAlias = Path | ComparisonKey | SweepKey
