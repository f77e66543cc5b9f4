"""The thread count follows the machine's load, and does not change what a run learns."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import torch

from seqtui.core.threads import ThreadGovernor, cores, fit
from seqtui.core.training import Progress, Trainer
from seqtui.settings.presets import preset_config


@pytest.mark.parametrize(
    "available, others, threads",
    [
        (2, 0.0, 2),
        (2, 0.3, 2),
        (2, 0.8, 1),
        (2, 1.0, 1),
        (2, 2.0, 1),
        (16, 3.0, 13),
        (16, 0.5, 16),
        (16, 0.7, 15),
        (1, 0.0, 1),
    ],
)
def test_the_threads_are_the_cores_the_others_leave(available, others, threads):
    assert fit(available, others) == threads


def test_a_machine_busy_on_every_core_gets_one_thread():
    governor = ThreadGovernor()
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(governor.cores)]
    try:
        time.sleep(1.5)
        governor.choose()  # from here on, the interval is all under load
        time.sleep(1.5)
        assert governor.choose() == 1 and governor.others > governor.cores - 1
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


@pytest.mark.skipif(cores() < 2, reason="one core: there is no other thread count to compare")
@pytest.mark.parametrize("model", ["rnn", "lstm", "gru"])
def test_one_or_two_threads_learn_the_same_weights(model):
    """What lets the count change while a run trains without changing the run."""
    weights = []
    for threads in (1, 2):
        # the preset's sizes (MKL splits only products this large between threads), a few steps
        config = preset_config({"model": model, "steps": 12, "threads": threads, "device": "cpu", "eval-samples": 100})
        trainer = Trainer(config)
        list(trainer.run())
        weights.append(trainer.model.state_dict())
    for key, value in weights[0].items():
        assert torch.equal(value, weights[1][key]), key


def test_a_trainer_left_to_choose_reports_its_threads():
    previous = torch.get_num_threads()
    try:
        config = preset_config({"model": "rnn", "steps": 20, "device": "cpu", "eval-samples": 100, "log-every": 1e-9})
        trainer = Trainer(config)
        assert trainer.governor is not None
        threads = {e.threads for e in trainer.run() if isinstance(e, Progress)}
        assert threads and all(1 <= t <= cores() for t in threads)
        fixed = Trainer(config.replaced({"threads": 1}))
        assert fixed.governor is None and fixed.threads == 1
    finally:
        torch.set_num_threads(previous)


def test_an_evaluation_takes_the_cores_the_other_processes_leave(monkeypatch):
    from seqtui.core import threads

    ticks = {"machine": [0, 0], "own": 0}

    def advance(others_busy: float, own_busy: float) -> None:  # one second on 2 cores (100 ticks each)
        ticks["machine"][0] += int(100 * (others_busy + own_busy))
        ticks["machine"][1] += 200
        ticks["own"] += int(100 * own_busy)

    monkeypatch.setattr(threads, "cores", lambda: 2)
    monkeypatch.setattr(threads, "_machine_ticks", lambda: tuple(ticks["machine"]))
    monkeypatch.setattr(threads, "_own_ticks", lambda: ticks["own"])
    monkeypatch.setattr(threads.time, "sleep", lambda seconds: advance(others, 0.0))
    others = 1.0  # a CPU hog beside it: one thread, not two that wait for each other
    assert threads.threads_now() == 1
    others = 0.05  # an idle box: both cores
    assert threads.threads_now() == 2
