"""The tutorial's recipe, re-implemented faithfully as the benchmark's baseline.

One example at a time: a Python draw of the pattern, numpy one-hot encoding, a hand-written
Elman ReLU network stepping through time in Python, Adam at 1e-3 on the last step's logits.
Nothing here is used by seqtui itself.
"""

from __future__ import annotations

import random
import time

import numpy as np
import torch
from torch import nn

HIDDEN = 50


def make_example(n_min: int = 1, n_max: int = 10, task: str = "match") -> tuple[np.ndarray, int]:
    n = random.randint(n_min, n_max)
    pattern = [random.randint(0, 9) for _ in range(n)]
    target = pattern[::-1] if task == "palindrome" else pattern
    if random.random() < 0.5:
        second, label = list(target), 1
    else:
        second = [random.randint(0, 9) for _ in range(n)]
        while second == pattern:  # the tutorial compares with the pattern only
            second = [random.randint(0, 9) for _ in range(n)]
        label = 0
    return np.eye(10, dtype=np.float32)[pattern + second], label


class TutorialRNN(nn.Module):
    def __init__(self, hidden: int = HIDDEN):
        super().__init__()
        self.hidden = hidden
        self.i2h = nn.Linear(10, hidden)
        self.h2h = nn.Linear(hidden, hidden)
        self.h2o = nn.Linear(hidden, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # x: (T, 10)
        h = torch.zeros(self.hidden)
        outputs, states = [], []
        for t in range(x.shape[0]):
            h = torch.relu(self.i2h(x[t]) + self.h2h(h))
            outputs.append(self.h2o(h))
            states.append(h)
        return torch.stack(outputs), torch.stack(states)  # (T, 2), (T, H)


def _train(model: TutorialRNN, steps: int) -> tuple[float, list[int]]:
    """The tutorial's loop: one example a step, Adam at 1e-3, its running-mean bookkeeping.
    Returns the seconds it took and whether each step's prediction was right."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    losses, hits = [], []
    started = time.perf_counter()
    for _ in range(steps):
        x, y = make_example()
        outputs, _ = model(torch.tensor(x))
        logits = outputs[-1].unsqueeze(0)
        loss = loss_fn(logits, torch.tensor([y]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        hits.append(int(logits.argmax().item() == y))
    return time.perf_counter() - started, hits


def _evaluate(model: TutorialRNN, examples: int) -> tuple[float, dict[int, int], dict[int, int]]:
    """The tutorial's evaluation: one example at a time, counted by length (seconds, correct, count)."""
    correct: dict[int, int] = {}
    count: dict[int, int] = {}
    started = time.perf_counter()
    with torch.no_grad():
        for _ in range(examples):
            x, y = make_example()
            outputs, _ = model(torch.tensor(x))
            length = x.shape[0]
            count[length] = count.get(length, 0) + 1
            correct[length] = correct.get(length, 0) + int(outputs[-1].argmax().item() == y)
    return time.perf_counter() - started, correct, count


def train_speed(steps: int, seed: int = 0) -> dict:
    """Examples per second of the tutorial's training loop (with its running-mean bookkeeping)."""
    random.seed(seed)
    torch.manual_seed(seed)
    seconds, hits = _train(TutorialRNN(), steps)
    return {
        "examples": steps,
        "seconds": seconds,
        "examples_per_s": steps / seconds,
        "running_accuracy": sum(hits) / len(hits),
    }


def eval_speed(examples: int, seed: int = 1) -> dict:
    """Examples per second of the tutorial's evaluation: one at a time, counted by length."""
    random.seed(seed)
    torch.manual_seed(seed)
    seconds, _, _ = _evaluate(TutorialRNN().eval(), examples)
    return {"examples": examples, "seconds": seconds, "examples_per_s": examples / seconds}


def run(steps: int = 100_000, eval_examples: int = 100_000, seed: int = 0) -> dict:
    """The tutorial's whole recipe: `steps` examples one at a time, then accuracy by length on
    `eval_examples` fresh ones, one at a time, as the blog post does."""
    random.seed(seed)
    torch.manual_seed(seed)
    model = TutorialRNN()
    train_seconds, hits = _train(model, steps)
    eval_seconds, correct, count = _evaluate(model, eval_examples)
    return {
        "steps": steps,
        "train_seconds": train_seconds,
        "examples_per_s": steps / train_seconds,
        "eval_seconds": eval_seconds,
        "running_accuracy": sum(hits) / len(hits),  # the tutorial's printed "acc"
        "running_accuracy_last_10k": sum(hits[-10_000:]) / len(hits[-10_000:]),
        "accuracy_by_length": {n: correct[n] / count[n] for n in sorted(count)},
        "accuracy": sum(correct.values()) / sum(count.values()),
    }
