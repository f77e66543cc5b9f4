"""Small messages that background workers post to the UI (never touching widgets themselves)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from textual.message import Message

from seqtui.app.followed import FollowKey
from seqtui.store.run import Run

if TYPE_CHECKING:  # torch's side: the runs list opens without loading it
    from seqtui.core.checkpoint import Checkpoint
    from seqtui.core.evaluation import Evaluation
    from seqtui.core.models import SequenceClassifier
    from seqtui.core.projection import Projection


@dataclass
class EvaluationProgress(Message):
    done: int
    total: int


@dataclass
class EvaluationDone(Message):
    results: list[tuple[str, int, Evaluation]]  # (run name, n_max of training, its evaluation)


@dataclass
class ModelLoaded(Message):
    model: SequenceClassifier
    checkpoint: Checkpoint
    mtime: float


@dataclass
class ProjectionFitted(Message):
    checkpoint: Checkpoint  # the checkpoint whose model was fitted
    state: str  # "hidden" or "cell"
    projection: Projection | str  # the principal components, or why there are none


@dataclass
class RunStarted(Message):
    run: Run


@dataclass
class FollowedChanged(Message):
    """Followed runs, comparisons and sweeps that changed since the last poll."""

    keys: set[FollowKey]


@dataclass
class EvaluationFailed(Message):
    reason: str


@dataclass
class ModelFailed(Message):
    path: Path  # the checkpoint that could not be loaded
    reason: str
