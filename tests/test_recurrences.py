"""minGRU, minLSTM and the LRU against plain step-by-step loops written from the papers' equations:
the parallel scans (forward, classify) and the unroll give the reference's outputs and gradients."""

from __future__ import annotations

import pytest
import torch

from seqtui.core.models import build_model
from seqtui.core.recurrences import doubling_scan, log_scan
from seqtui.settings.config import ModelConfig


def g(x: torch.Tensor) -> torch.Tensor:
    return torch.where(x >= 0, x + 0.5, torch.sigmoid(x))


def reference(model, digits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits (B, T, 2), hidden (B, T, H)): one example and one step at a time, by the equations."""
    name = model.config.model
    every_logits, every_hidden = [], []
    for sequence in digits:
        logits, hidden = [], []
        if name == "lru":
            decay = torch.exp(torch.complex(-torch.exp(model.nu_log), torch.exp(model.theta_log)))
            b = torch.complex(model.b_re, model.b_im)
            c = torch.complex(model.c_re, model.c_im)
            x = torch.zeros(model.config.hidden, dtype=b.dtype)
        else:
            h = torch.zeros(model.config.hidden, dtype=torch.float64)
        for digit in sequence.tolist():
            u = torch.zeros(10, dtype=torch.float64)
            u[digit] = 1.0
            if name == "mingru":
                z = torch.sigmoid(model.gate.weight @ u + model.gate.bias)
                h = (1 - z) * h + z * g(model.candidate.weight @ u + model.candidate.bias)
                out = h
            elif name == "minlstm":
                f = torch.sigmoid(model.forget.weight @ u + model.forget.bias)
                i = torch.sigmoid(model.input.weight @ u + model.input.bias)
                h = f / (f + i) * h + i / (f + i) * g(model.candidate.weight @ u + model.candidate.bias)
                out = h
            else:  # x_t = lambda x_{t-1} + gamma (B u_t); y_t = Re(C x_t) + D u_t; GELU(y_t) to the head
                x = decay * x + torch.exp(model.gamma_log) * (b @ u.to(b.dtype))
                out = torch.nn.functional.gelu((c @ x).real + model.d @ u)
                h = torch.cat([x.real, x.imag])
            logits.append(model.head.weight @ out + model.head.bias)
            hidden.append(h)
        every_logits.append(torch.stack(logits))
        every_hidden.append(torch.stack(hidden))
    return torch.stack(every_logits), torch.stack(every_hidden)


def perturbed(name: str, hidden: int = 6):
    torch.manual_seed(0)
    model = build_model(ModelConfig(name, hidden)).double()
    with torch.no_grad():  # away from the initial values, so every term matters
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return model


def gradients(model, loss) -> list[torch.Tensor]:
    return list(torch.autograd.grad(loss, list(model.parameters()), retain_graph=True))


@pytest.mark.parametrize("name", ["mingru", "minlstm", "lru"])
def test_the_scan_and_the_unroll_give_the_reference_loops_outputs_and_gradients(name):
    model = perturbed(name)
    digits = torch.randint(0, 10, (5, 23), generator=torch.Generator().manual_seed(1))  # T not a power of 2
    weights = torch.randn(5, 23, 2, dtype=torch.float64)  # a loss that reads every step
    want_logits, want_hidden = reference(model, digits)
    want = gradients(model, (want_logits * weights).sum() + want_hidden.square().sum())

    logits, hidden = model(digits)
    torch.testing.assert_close(logits, want_logits)
    torch.testing.assert_close(hidden, want_hidden)
    for got, expected in zip(gradients(model, (logits * weights).sum() + hidden.square().sum()), want):
        torch.testing.assert_close(got, expected)

    unrolled = model.unroll(digits)
    torch.testing.assert_close(unrolled.logits, want_logits)
    torch.testing.assert_close(torch.stack(unrolled.hidden, dim=1), want_hidden)
    stepped = gradients(model, (unrolled.logits * weights).sum() + torch.stack(unrolled.hidden, 1).square().sum())
    for got, expected in zip(stepped, want):
        torch.testing.assert_close(got, expected)

    # training's path: the last step alone, its own computation
    last = model.classify(digits)
    torch.testing.assert_close(last, want_logits[:, -1])
    want_last = gradients(model, (want_logits[:, -1] * weights[:, -1]).sum())
    for got, expected in zip(gradients(model, (last * weights[:, -1]).sum()), want_last):
        torch.testing.assert_close(got, expected)
    assert model.hidden_size == want_hidden.shape[-1]


@pytest.mark.parametrize("name", ["mingru", "minlstm", "lru"])
def test_float32_scans_agree_with_the_unroll_at_the_longest_sequences(name):
    """Log space keeps minGRU/minLSTM's products of gates from underflowing over long sequences."""
    torch.manual_seed(2)
    model = build_model(ModelConfig(name, 16))
    digits = torch.randint(0, 10, (4, 200))
    logits, hidden = model(digits)
    unrolled = model.unroll(digits)
    assert torch.isfinite(hidden).all()
    torch.testing.assert_close(torch.stack(unrolled.hidden, 1), hidden, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(unrolled.logits, logits, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(model.classify(digits), logits[:, -1], rtol=1e-4, atol=1e-5)


def test_the_scans_solve_their_recurrences():
    generator = torch.Generator().manual_seed(3)
    a = torch.rand(2, 9, 3, generator=generator, dtype=torch.float64) + 0.05
    b = torch.rand(2, 9, 3, generator=generator, dtype=torch.float64) + 0.05
    h, want = torch.zeros(2, 3, dtype=torch.float64), []
    for t in range(9):
        h = a[:, t] * h + b[:, t]
        want.append(h)
    torch.testing.assert_close(log_scan(a.log(), b.log()), torch.stack(want, 1))
    decay = torch.complex(torch.tensor([0.9, -0.3]), torch.tensor([0.2, 0.5])).to(torch.complex128)
    inputs = torch.randn(1, 9, 2, dtype=torch.complex128, generator=generator)
    x, want = torch.zeros(1, 2, dtype=torch.complex128), []
    for t in range(9):
        x = decay * x + inputs[:, t]
        want.append(x)
    torch.testing.assert_close(doubling_scan(decay, inputs), torch.stack(want, 1))


def test_the_lru_starts_on_its_ring_with_normalised_inputs():
    torch.manual_seed(4)
    model = build_model(ModelConfig("lru", 512))
    with torch.no_grad():
        modulus = torch.exp(-torch.exp(model.nu_log))
        phase = torch.exp(model.theta_log)
        gamma = torch.exp(model.gamma_log)
    assert model.R_MIN <= float(modulus.min()) and float(modulus.max()) <= model.R_MAX
    assert float(phase.min()) >= 0 and float(phase.max()) <= model.MAX_PHASE
    # uniform on the ring's area: |lambda|^2 uniform between r_min^2 and r_max^2
    assert float(modulus.square().mean()) == pytest.approx((model.R_MIN**2 + model.R_MAX**2) / 2, abs=0.03)
    torch.testing.assert_close(gamma, torch.sqrt(1 - modulus.square()))
