"""Recurrences linear in their state, run by parallel scans: minGRU, minLSTM and the LRU.

Written from the papers' equations:

- minGRU and minLSTM (Feng et al. 2024, "Were RNNs All We Needed?"): the GRU and the LSTM with gates
  that read only x_t, not h_{t-1}, and no tanh on the candidate, so that
      h_t = a_t * h_{t-1} + b_t
  with a_t, b_t computed from the inputs alone, for every step at once. minGRU:
      z_t = sigmoid(W_z x_t + b_z),  h~_t = g(W_h x_t + b_h),  h_t = (1 - z_t) h_{t-1} + z_t h~_t;
  minLSTM, with its forget and input gates normalised to sum to one (length-independent scale):
      f_t = sigmoid(W_f x_t),  i_t = sigmoid(W_i x_t),  f'_t = f_t / (f_t + i_t),  i'_t = i_t / (f_t + i_t),
      h_t = f'_t h_{t-1} + i'_t h~_t.
  g(x) = x + 1/2 for x >= 0, sigmoid(x) below keeps h~ positive, so the recurrence runs in log
  space: with A_t = sum_{j<=t} log a_j, h_t = exp(A_t + logcumsumexp_k<=t(log b_k - A_k)), from h_0 = 0.
- The linear recurrent unit (Orvieto et al. 2023, "Resurrecting Recurrent Neural Networks for
  Long Sequences"): a diagonal complex recurrence
      x_t = lambda * x_{t-1} + gamma * (B u_t),   y_t = Re(C x_t) + D u_t,
  with lambda = exp(-exp(nu) + i exp(theta)) (exponential parametrisation: |lambda| < 1 always),
  initialised uniformly on a ring r_min <= |lambda| <= r_max with phases in [0, max_phase], and the
  normalisation gamma = sqrt(1 - |lambda|^2) (trained, as log gamma); then a nonlinear readout per
  step, GELU(y_t), and the head. Its forward scans by doubling (log2 T steps).

Each model's `unroll` steps through time with the same parameters and is the reference the scans
are tested against (tests/test_recurrences.py: same outputs and gradients). These are single-layer
networks like the others here: one recurrence, a head on its state.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from seqtui.core.models import SequenceClassifier, Unrolled
from seqtui.core.tasks import DIGITS
from seqtui.settings.config import ModelConfig


def g(x: torch.Tensor) -> torch.Tensor:
    """The papers' positive activation for the candidate state."""
    return torch.where(x >= 0, x + 0.5, torch.sigmoid(x))


def log_g(x: torch.Tensor) -> torch.Tensor:
    return torch.where(x >= 0, torch.log(x.clamp(min=0) + 0.5), -F.softplus(-x))


def log_scan(log_a: torch.Tensor, log_b: torch.Tensor) -> torch.Tensor:
    """h_t = a_t h_{t-1} + b_t from h_0 = 0 along dim 1, for positive a and b given as logs.

    A parallel scan in log space by doubling (Hillis and Steele): after the round with shift d,
    (A_t, B_t) = log of (the product of a, the sum of b weighted by the a after it) over the last
    2d steps, combined with the pair d steps earlier as (A_t + A_{t-d}, logaddexp(B_t, A_t +
    B_{t-d})). log2 T rounds. The paper's form, exp(cumsum(log a) + logcumsumexp(log b -
    cumsum(log a))), computes the same; this one is faster on a CPU (torch's logcumsumexp is not)
    and cancels no large sums."""
    log_a_run, log_h, shift = log_a, log_b, 1
    while shift < log_h.shape[1]:
        earlier = log_a_run[:, shift:] + log_h[:, :-shift]
        log_h = torch.cat([log_h[:, :shift], torch.logaddexp(log_h[:, shift:], earlier)], dim=1)
        log_a_run = torch.cat([log_a_run[:, :shift], log_a_run[:, shift:] + log_a_run[:, :-shift]], dim=1)
        shift *= 2
    return torch.exp(log_h)


def log_scan_last(log_a: torch.Tensor, log_b: torch.Tensor) -> torch.Tensor:
    """The last state of log_scan, (B, H), without the others: h_T = sum_k (prod_{j>k} a_j) b_k,
    a suffix sum of log a and one logsumexp."""
    suffix = torch.flip(torch.cumsum(torch.flip(log_a[:, 1:], [1]), dim=1), [1])  # sum_{j>k} log a_j, k < T
    after = torch.cat([suffix, torch.zeros_like(log_a[:, :1])], dim=1)
    return torch.exp(torch.logsumexp(after + log_b, dim=1))


def doubling_scan(decay: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """x_t = decay * x_{t-1} + inputs_t from x_0 = 0 along dim 1, for a decay constant in time:
    after the round with shift d every x_t sums its last 2d inputs (Hillis and Steele)."""
    x, power, shift = inputs, decay, 1
    while shift < x.shape[1]:
        x = torch.cat([x[:, :shift], x[:, shift:] + power * x[:, :-shift]], dim=1)
        power, shift = power * power, 2 * shift
    return x


def per_digit(layer: nn.Linear) -> torch.Tensor:
    """A linear map of one-hot digits as a table, (10, out): row d is its output for digit d."""
    return layer.weight.T + layer.bias


class GatedFromInputs(SequenceClassifier):
    """h_t = a_t * h_{t-1} + b_t with a_t, b_t from x_t alone (minGRU, minLSTM): `forward` and
    `classify` scan log a and log b (`_logs`), `unroll` steps the same equation (`_step`)."""

    head: nn.Linear

    def _logs(self, digits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def _step(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """a_t and b_t for one step's one-hot inputs x, (B, 10) -> (B, H) each."""
        raise NotImplementedError

    def forward(self, digits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = log_scan(*self._logs(digits))
        return self.head(hidden), hidden

    def classify(self, digits: torch.Tensor) -> torch.Tensor:
        return self.head(log_scan_last(*self._logs(digits)))

    def unroll(self, digits: torch.Tensor) -> Unrolled:
        x = self.inputs(digits)
        h = x.new_zeros(digits.shape[0], self.hidden_size)
        states = []
        for t in range(digits.shape[1]):
            a, b = self._step(x[:, t])
            h = a * h + b
            states.append(h)
        return Unrolled(self.head(torch.stack(states, dim=1)), states)


class MinGRU(GatedFromInputs):
    """minGRU: h_t = (1 - z_t) h_{t-1} + z_t g(W_h x_t + b_h), z_t = sigmoid(W_z x_t + b_z)."""

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        self.gate = nn.Linear(DIGITS, config.hidden)
        self.candidate = nn.Linear(DIGITS, config.hidden)
        self.head = nn.Linear(config.hidden, 2)

    def _logs(self, digits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """log a_t = log(1 - z_t), log b_t = log z_t + log h~_t, (B, T, H). The gates read one-hot
        digits: they are computed once per digit, (10, H), and looked up."""
        k, candidate = per_digit(self.gate), per_digit(self.candidate)
        # log(1 - z) = -softplus(k), log z = -softplus(-k)
        return (-F.softplus(k))[digits], (-F.softplus(-k) + log_g(candidate))[digits]

    def _step(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = torch.sigmoid(self.gate(x))
        return 1 - z, z * g(self.candidate(x))


class MinLSTM(GatedFromInputs):
    """minLSTM: h_t = f'_t h_{t-1} + i'_t g(W_h x_t + b_h), forget and input gates normalised."""

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        self.forget = nn.Linear(DIGITS, config.hidden)
        self.input = nn.Linear(DIGITS, config.hidden)
        self.candidate = nn.Linear(DIGITS, config.hidden)
        self.head = nn.Linear(config.hidden, 2)

    def _logs(self, digits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """log f'_t and log i'_t + log h~_t, (B, T, H), from per-digit tables as in MinGRU."""
        forget, input, candidate = per_digit(self.forget), per_digit(self.input), per_digit(self.candidate)
        # log f' = log f - log(f + i) = -softplus(log i - log f), with log sigmoid(v) = -softplus(-v)
        difference = F.softplus(-forget) - F.softplus(-input)  # log f - log i, negated
        log_f, log_i = -F.softplus(difference), -F.softplus(-difference)
        return log_f[digits], (log_i + log_g(candidate))[digits]

    def _step(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f, i = torch.sigmoid(self.forget(x)), torch.sigmoid(self.input(x))
        return f / (f + i), i / (f + i) * g(self.candidate(x))


class LRU(SequenceClassifier):
    """Linear recurrent unit with `hidden` complex state units. Its hidden state, as seqtui shows
    and differentiates it, is the real and the imaginary parts side by side (2 x hidden); the
    extra state "readout" is GELU(y_t), what the head reads."""

    R_MIN, R_MAX, MAX_PHASE = 0.4, 0.99, 2 * math.pi  # the ring and the phases lambda starts on

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        n = config.hidden
        radius_squared = torch.rand(n) * (self.R_MAX**2 - self.R_MIN**2) + self.R_MIN**2
        self.nu_log = nn.Parameter(torch.log(-0.5 * torch.log(radius_squared)))  # |lambda| = exp(-exp(nu))
        self.theta_log = nn.Parameter(torch.log(self.MAX_PHASE * torch.rand(n).clamp(min=1e-4)))
        self.gamma_log = nn.Parameter(0.5 * torch.log(1 - radius_squared))  # sqrt(1 - |lambda|^2)
        scale_b = 1 / math.sqrt(2 * DIGITS)
        self.b_re = nn.Parameter(torch.randn(n, DIGITS) * scale_b)
        self.b_im = nn.Parameter(torch.randn(n, DIGITS) * scale_b)
        scale_c = 1 / math.sqrt(n)
        self.c_re = nn.Parameter(torch.randn(n, n) * scale_c)
        self.c_im = nn.Parameter(torch.randn(n, n) * scale_c)
        self.d = nn.Parameter(torch.randn(n, DIGITS) / math.sqrt(DIGITS))
        self.head = nn.Linear(n, 2)

    @property
    def hidden_size(self) -> int:
        return 2 * self.config.hidden

    def _decay(self) -> tuple[torch.Tensor, torch.Tensor]:
        """lambda's real and imaginary parts, (H,) each."""
        modulus, phase = torch.exp(-torch.exp(self.nu_log)), torch.exp(self.theta_log)
        return modulus * torch.cos(phase), modulus * torch.sin(phase)

    def _driven(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """gamma * (B u): what each step adds to the state, real and imaginary parts."""
        gamma = torch.exp(self.gamma_log)
        return gamma * (u @ self.b_re.T), gamma * (u @ self.b_im.T)

    def _readout(self, x_re: torch.Tensor, x_im: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """GELU(Re(C x) + D u)."""
        return F.gelu(x_re @ self.c_re.T - x_im @ self.c_im.T + u @ self.d.T)

    def forward(self, digits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        u = self.inputs(digits)
        driven_re, driven_im = self._driven(u)
        decay_re, decay_im = self._decay()
        x = doubling_scan(torch.complex(decay_re, decay_im), torch.complex(driven_re, driven_im))
        hidden = torch.cat([x.real, x.imag], dim=-1)
        return self.head(self._readout(x.real, x.imag, u)), hidden

    def classify(self, digits: torch.Tensor) -> torch.Tensor:
        """The last state alone: x_T = sum_k lambda^(T-k) gamma B u_k, powers from log lambda."""
        u = self.inputs(digits)
        driven_re, driven_im = self._driven(u)
        steps_after = torch.arange(digits.shape[1] - 1, -1, -1, device=digits.device, dtype=u.dtype)[:, None]
        modulus = torch.exp(-steps_after * torch.exp(self.nu_log))  # |lambda|^(T-k), (T, H)
        angle = steps_after * torch.exp(self.theta_log)
        power_re, power_im = modulus * torch.cos(angle), modulus * torch.sin(angle)
        x_re = (power_re * driven_re - power_im * driven_im).sum(dim=1)
        x_im = (power_re * driven_im + power_im * driven_re).sum(dim=1)
        return self.head(self._readout(x_re, x_im, u[:, -1]))

    def unroll(self, digits: torch.Tensor) -> Unrolled:
        u = self.inputs(digits)
        driven_re, driven_im = self._driven(u)
        decay_re, decay_im = self._decay()
        n = self.config.hidden
        h = u.new_zeros(digits.shape[0], 2 * n)
        states, readouts = [], []
        for t in range(digits.shape[1]):
            x_re, x_im = h[:, :n], h[:, n:]  # read from h, so dL/dh_t is the whole gradient
            h = torch.cat(
                [
                    decay_re * x_re - decay_im * x_im + driven_re[:, t],
                    decay_re * x_im + decay_im * x_re + driven_im[:, t],
                ],
                dim=1,
            )
            states.append(h)
            readouts.append(self._readout(h[:, :n], h[:, n:], u[:, t]))
        return Unrolled(self.head(torch.stack(readouts, dim=1)), states, {"readout": readouts})
