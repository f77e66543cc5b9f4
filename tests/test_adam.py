"""seqtui's Adam against the paper's update step by step, and against torch's Adam bit for bit."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from seqtui.core.adam import Adam
from seqtui.core.models import build_model
from seqtui.core.tasks import TaskConfig, make_batch
from seqtui.settings.config import ModelConfig


def losses(model, steps: int, seed: int = 0):
    """The same batches and loss for every optimiser compared."""
    generator = torch.Generator().manual_seed(seed)
    for step in range(steps):
        batch = make_batch(TaskConfig(n_min=1, n_max=3), 1 + step % 3, 16, generator)
        yield torch.nn.functional.cross_entropy(model.classify(batch.digits), batch.labels)


def trained(model_name: str, optimiser: str, steps: int = 25):
    torch.manual_seed(0)
    model = build_model(ModelConfig(model_name, 12))
    opt = Adam(model.parameters(), lr=3e-3) if optimiser == "ours" else torch.optim.Adam(model.parameters(), lr=3e-3)
    for i, loss in enumerate(losses(model, steps)):
        opt.param_groups[0]["lr"] = 3e-3 * (1 - i / steps)  # as the schedule changes it every step
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model, opt


@pytest.mark.parametrize("model", ["rnn", "lstm", "gru"])
def test_the_same_weights_and_moments_as_torchs_adam_bit_for_bit(model):
    ours, our_opt = trained(model, "ours")
    theirs, their_opt = trained(model, "torch")
    for (name, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):
        assert torch.equal(a, b), name
    mine, torchs = our_opt.state_dict(), their_opt.state_dict()
    assert mine["param_groups"] == torchs["param_groups"]  # what a checkpoint's metadata holds
    for index, state in torchs["state"].items():
        for key, value in state.items():
            assert torch.equal(mine["state"][index][key], value), (index, key)


def test_each_step_is_the_papers_update():
    """Algorithm 1 of Kingma and Ba, in float64, one parameter, step by step."""
    torch.manual_seed(1)
    w = torch.nn.Parameter(torch.randn(5, dtype=torch.float64))
    opt = Adam([w], lr=0.01, betas=(0.8, 0.99), eps=1e-6)
    m = torch.zeros(5, dtype=torch.float64)
    v = torch.zeros(5, dtype=torch.float64)
    expected = w.detach().clone()
    for t in range(1, 8):
        g = torch.randn(5, dtype=torch.float64)
        w.grad = g.clone()
        opt.step()
        m = 0.8 * m + 0.2 * g
        v = 0.99 * v + 0.01 * g * g
        m_hat, v_hat = m / (1 - 0.8**t), v / (1 - 0.99**t)
        expected = expected - 0.01 * m_hat / (v_hat.sqrt() + 1e-6)
        assert torch.allclose(w.detach(), expected, rtol=1e-12, atol=1e-14), t


def test_moments_saved_by_torchs_adam_continue_exactly():
    """A checkpoint written before seqtui had its own Adam resumes on the same trajectory."""
    torch.manual_seed(0)
    model = build_model(ModelConfig("lstm", 12))
    theirs = torch.optim.Adam(model.parameters(), lr=3e-3)
    batches = list(losses(model, 1))
    theirs.zero_grad()
    batches[0].backward()
    theirs.step()
    saved = theirs.state_dict()
    copy = build_model(ModelConfig("lstm", 12))
    copy.load_state_dict(model.state_dict())
    ours = Adam(copy.parameters(), lr=3e-3)
    ours.load_state_dict(saved)
    for m, opt in ((model, theirs), (copy, ours)):
        for loss in losses(m, 5, seed=3):
            opt.zero_grad()
            loss.backward()
            opt.step()
    for a, b in zip(model.state_dict().values(), copy.state_dict().values()):
        assert torch.equal(a, b)


def test_state_for_other_parameters_is_refused():
    model = build_model(ModelConfig("rnn", 4))
    other = build_model(ModelConfig("rnn", 6))
    opt = Adam(model.parameters(), lr=1e-3)
    foreign = torch.optim.Adam(other.parameters(), lr=1e-3)
    sum(other.classify(torch.zeros(2, 4, dtype=torch.long)).sum() for _ in range(1)).backward()
    foreign.step()
    with pytest.raises(ValueError, match="exp_avg is"):
        opt.load_state_dict(foreign.state_dict())


def test_a_trainer_starts_without_loading_the_compiler():
    """What the optimiser of our own is for: torch.optim's loads torch._dynamo (seconds)."""
    code = (
        "import sys\nfrom seqtui.core.training import Trainer\nfrom seqtui.settings.presets import preset_config\n"
        "t = Trainer(preset_config({'model': 'lstm', 'steps': 3, 'device': 'cpu', 'eval-samples': 50}))\n"
        "list(t.run())\nprint('torch._dynamo' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
