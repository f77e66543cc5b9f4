"""Small messages that background workers post to the UI (never touching widgets themselves)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class EvaluationProgress(Message):
    done: int
    total: int


@dataclass
class EvaluationDone(Message):
    results: list  # [(run name, n_max of training, Evaluation)]


@dataclass
class ModelLoaded(Message):
    model: object
    checkpoint: object
    mtime: float


@dataclass
class ProjectionFitted(Message):
    checkpoint: object  # the checkpoint whose model was fitted
    state: str  # "hidden" or "cell"
    projection: object  # seqtui.projection.Projection, or why there is none (str)


@dataclass
class RunStarted(Message):
    run: object


@dataclass
class FollowedChanged(Message):
    """Followed runs (by path) or comparisons (by name) that changed since the last poll."""

    keys: set


@dataclass
class EvaluationFailed(Message):
    reason: str


@dataclass
class ModelFailed(Message):
    path: object  # the checkpoint that could not be loaded
    reason: str
