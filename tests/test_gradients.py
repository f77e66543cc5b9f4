"""Gradient flow through time, checked against finite differences computed independently."""

import pytest
import torch

from seqtui.core.gradients import hidden_gradients, measure
from seqtui.core.models import ModelConfig, build_model
from seqtui.core.tasks import TaskConfig


def continue_rnn(model, digits, labels, t, h):
    """The summed loss when the Elman recurrence restarts from state h at step t (written afresh)."""
    r = model.recurrent
    for k in range(t + 1, digits.shape[1]):
        x = torch.nn.functional.one_hot(digits[:, k], 10).to(h.dtype)
        h = torch.relu(x @ r.weight_ih_l0.T + r.bias_ih_l0 + h @ r.weight_hh_l0.T + r.bias_hh_l0)
    logits = model.head(h)
    return torch.nn.functional.cross_entropy(logits, labels, reduction="sum")


def continue_lstm(model, digits, labels, t, h, c):
    r = model.recurrent
    for k in range(t + 1, digits.shape[1]):
        x = torch.nn.functional.one_hot(digits[:, k], 10).to(h.dtype)
        gates = x @ r.weight_ih_l0.T + r.bias_ih_l0 + h @ r.weight_hh_l0.T + r.bias_hh_l0
        i, f, g, o = gates.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
    return torch.nn.functional.cross_entropy(model.head(h), labels, reduction="sum")


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_per_step_gradients_match_finite_differences(kind):
    torch.manual_seed(3)
    model = build_model(ModelConfig(kind, 5)).double()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    digits = torch.tensor([[3, 1, 4, 1, 5, 9]])
    labels = torch.tensor([1])
    grads = hidden_gradients(model, digits, labels)
    unrolled = model.unroll(digits)
    eps = 1e-6
    for t in range(digits.shape[1]):
        h = unrolled.hidden[t].detach()
        numeric = torch.zeros_like(h)
        for unit in range(h.shape[1]):
            bump = torch.zeros_like(h)
            bump[0, unit] = eps
            if kind == "rnn":
                up = continue_rnn(model, digits, labels, t, h + bump)
                down = continue_rnn(model, digits, labels, t, h - bump)
            else:
                c = unrolled.cell[t].detach()
                up = continue_lstm(model, digits, labels, t, h + bump, c)
                down = continue_lstm(model, digits, labels, t, h - bump, c)
            numeric[0, unit] = (up - down) / (2 * eps)
        torch.testing.assert_close(grads[t].detach(), numeric, rtol=1e-5, atol=1e-8)


def test_gradients_vanish_in_the_default_rnn_and_survive_identity_init():
    task = TaskConfig()
    torch.manual_seed(0)
    default = measure(build_model(ModelConfig("rnn", 50)), task, 64, lengths=[20])
    torch.manual_seed(0)
    identity = measure(build_model(ModelConfig("rnn", 50, "identity")), task, 64, lengths=[20])
    assert default.ratio(20) < 1e-4  # ~0.4x per step back, as the tutorial's model does
    assert identity.ratio(20) > 1e-2
    assert len(default.by_length[20]) == 20 and default.per_step(20) < 0.7


def test_measurement_leaves_parameters_and_mode_untouched():
    model = build_model(ModelConfig("gru", 8))
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    flow = measure(model, TaskConfig(n_max=3), 16)
    assert sorted(flow.by_length) == [2, 4, 6] and model.training
    assert all(p.grad is None for p in model.parameters())
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])
