"""The NumPy step for the tutorial's rnn computes what autograd and torch's Adam compute."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from conftest import small_config, train_until_stopped_at

from seqtui.core.adam import Adam
from seqtui.core.fastrnn import FAST_BATCH, ElmanStepper
from seqtui.core.models import build_model
from seqtui.core.tasks import make_batch
from seqtui.core.training import Trainer
from seqtui.session import runner
from seqtui.settings.config import Budget, ModelConfig
from seqtui.store.run import Run


def torch_step(model, optimizer, digits, labels, lr, clip):
    logits = model.classify(digits)
    loss = F.cross_entropy(logits, labels)
    optimizer.zero_grad()
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip or math.inf)
    for group in optimizer.param_groups:
        group["lr"] = lr
    optimizer.step()
    return float(loss.detach()), int((logits.argmax(1) == labels).sum()), float(norm)


@pytest.mark.parametrize("batch, clip, init", [(1, None, "default"), (5, None, "default"), (3, 0.05, "identity")])
def test_the_numpy_step_matches_autograd_and_adam(batch, clip, init):
    torch.manual_seed(3)
    reference = build_model(ModelConfig("rnn", 12, init))
    fast = copy.deepcopy(reference)
    opt_ref = torch.optim.Adam(reference.parameters(), lr=1e-2)
    opt_fast = Adam(fast.parameters(), lr=1e-2)  # the trainer's; torch's is the reference
    stepper = ElmanStepper(fast, opt_fast, clip)
    generator = torch.Generator().manual_seed(5)
    task = small_config().task
    for step in range(8):
        batch_ = make_batch(task, 1 + step % 3, batch, generator)
        expected = torch_step(reference, opt_ref, batch_.digits, batch_.labels, 1e-2, clip)
        got = stepper.step(batch_.digits.numpy(), batch_.labels.numpy(), 1e-2)
        assert got[0] == pytest.approx(expected[0], rel=1e-5) and got[1] == expected[1]
        assert got[2] == pytest.approx(expected[2], rel=1e-4)
    for (name, a), b in zip(reference.state_dict().items(), fast.state_dict().values()):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6), name
    for p_ref, p_fast in zip(reference.parameters(), fast.parameters()):  # the optimiser state too
        a, b = opt_ref.state[p_ref], opt_fast.state[p_fast]
        assert float(a["step"]) == float(b["step"]) == 8
        assert torch.allclose(a["exp_avg_sq"], b["exp_avg_sq"], rtol=1e-4, atol=1e-9)


def test_the_trainer_takes_the_numpy_step_only_where_it_is_faster():
    assert Trainer(small_config(batch_size=1)).fast is True
    assert Trainer(small_config(batch_size=FAST_BATCH + 1)).fast is None
    assert Trainer(small_config(batch_size=1, model=ModelConfig("lstm", 8))).fast is None


def test_a_run_on_the_numpy_step_stops_and_resumes_exactly(tmp_path):
    config = small_config(batch_size=1, budget=Budget(steps=300), log_every=1e-9, lr=1e-2)
    straight = Trainer(config)
    list(straight.run())
    run = Run.create(tmp_path / "run", config)
    assert train_until_stopped_at(run, 120).state == "stopped"
    resumed = runner.train(run).trainer
    assert resumed.step == 300
    for key, value in straight.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[key], value), key
    assert straight.evaluate().accuracy == resumed.evaluate().accuracy
