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
    projections: dict | str  # "hidden" (and "cell" for an LSTM) -> Projection, or why there is none


@dataclass
class RunStarted(Message):
    run: object
