"""The recurrent classifiers: the tutorial's Elman ReLU RNN, an LSTM and a GRU.

All three read a batch of digit sequences (B, T), apply their recurrence from h_0 = 0, map every
hidden state to two logits (no match, match) and classify by the logits of the last step.

Each model runs its recurrence in two ways that compute the same numbers:
- `forward` uses torch's fused layer (nn.RNN / nn.LSTM / nn.GRU; cuDNN on a GPU): fast;
- `unroll` steps through time in Python with the same weights and returns every state, so
  per-step quantities (the LSTM's cell state, gradients with respect to each h_t) can be read.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from seqtui.core.tasks import DIGITS, one_hot
from seqtui.settings.config import ModelConfig  # noqa: F401  (re-exported)
from seqtui.settings.values import INITS, MODELS  # noqa: F401  (re-exported)


@dataclass
class Unrolled:
    """Every step's states from a step-by-step pass, as lists of (B, H) tensors."""

    logits: torch.Tensor  # (B, T, 2)
    hidden: list[torch.Tensor]  # T x (B, H), each usable for per-step gradients
    cell: list[torch.Tensor] | None = None  # LSTM only


class SequenceClassifier(nn.Module):
    """Shared interface: digits (B, T) -> per-step logits (B, T, 2) and hidden states (B, T, H)."""

    recurrent: nn.RNNBase
    head: nn.Linear  # hidden -> output, applied at every step

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config

    @property
    def hidden_size(self) -> int:
        return self.config.hidden

    def forward(self, digits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden, _ = self.recurrent(self._inputs(digits))  # (B, T, H)
        return self.head(hidden), hidden  # (B, T, 2), (B, T, H)

    def classify(self, digits: torch.Tensor) -> torch.Tensor:
        """Logits of the last step only, (B, 2): what training and evaluation need."""
        _, last = self.recurrent(self._inputs(digits))
        if isinstance(last, tuple):  # LSTM: (h_n, c_n)
            last = last[0]
        return self.head(last[-1])  # (B, 2)

    def _inputs(self, digits: torch.Tensor) -> torch.Tensor:
        return one_hot(digits, self.head.weight.dtype)  # (B, T, 10)

    def _weights(self) -> tuple[nn.Parameter, nn.Parameter, nn.Parameter, nn.Parameter]:
        """The recurrent layer's W_ih, W_hh, b_ih, b_hh (torch names them by layer)."""
        r = self.recurrent
        return (
            _parameter(r, "weight_ih_l0"),
            _parameter(r, "weight_hh_l0"),
            _parameter(r, "bias_ih_l0"),
            _parameter(r, "bias_hh_l0"),
        )

    def unroll(self, digits: torch.Tensor) -> Unrolled:
        raise NotImplementedError


def _parameter(module: nn.Module, name: str) -> nn.Parameter:
    value = getattr(module, name)
    assert isinstance(value, nn.Parameter), name
    return value


class ElmanRNN(SequenceClassifier):
    """The tutorial's network: h_t = ReLU(W_xh x_t + b_xh + W_hh h_{t-1} + b_hh), h_0 = 0."""

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        self.recurrent = nn.RNN(DIGITS, config.hidden, nonlinearity="relu", batch_first=True)
        self.head = nn.Linear(config.hidden, 2)
        if config.init == "identity":
            _, w_hh, _, b_hh = self._weights()
            with torch.no_grad():
                w_hh.copy_(torch.eye(config.hidden))
                b_hh.zero_()

    def classify(self, digits: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() or digits.device.type != "cpu":
            return super().classify(digits)
        # Inference on a CPU: torch's RNN layer multiplies one-hot inputs and stacks every
        # step's output; looking up the input columns and keeping only h_t is ~1.5x faster.
        w_xh, w_hh, b_xh, b_hh = self._weights()
        inputs = (w_xh.T + (b_xh + b_hh))[digits.T]  # (T, B, H), time-major
        h = inputs[0].relu_()
        for t in range(1, digits.shape[1]):
            h = torch.addmm(inputs[t], h, w_hh.T).relu_()
        return self.head(h)  # (B, 2)

    def unroll(self, digits: torch.Tensor) -> Unrolled:
        w_xh, w_hh, b_xh, b_hh = self._weights()
        x = self._inputs(digits)  # (B, T, 10)
        h = x.new_zeros(digits.shape[0], self.hidden_size)  # (B, H)
        states = []
        for t in range(digits.shape[1]):
            h = torch.relu(x[:, t] @ w_xh.T + b_xh + h @ w_hh.T + b_hh)
            states.append(h)
        return Unrolled(self.head(torch.stack(states, dim=1)), states)


class LSTM(SequenceClassifier):
    """Long short-term memory, with gates i, f, g, o in torch's order:

    c_t = f * c_{t-1} + i * g,  h_t = o * tanh(c_t).
    The forget gate's bias starts at 1 so that early in training the cell keeps what it holds.
    """

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        h = config.hidden
        self.recurrent = nn.LSTM(DIGITS, h, batch_first=True)
        self.head = nn.Linear(h, 2)
        _, _, b_ih, b_hh = self._weights()
        with torch.no_grad():
            b_ih[h : 2 * h].fill_(1.0)
            b_hh[h : 2 * h].zero_()

    def unroll(self, digits: torch.Tensor) -> Unrolled:
        w_ih, w_hh, b_ih, b_hh = self._weights()
        x = self._inputs(digits)
        h = x.new_zeros(digits.shape[0], self.hidden_size)
        c = torch.zeros_like(h)
        hs, cs = [], []
        for t in range(digits.shape[1]):
            i, f, g, o = (x[:, t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh).chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            hs.append(h)
            cs.append(c)
        return Unrolled(self.head(torch.stack(hs, dim=1)), hs, cs)


class GRU(SequenceClassifier):
    """Gated recurrent unit, torch's formulation (reset r, update z, candidate n):

    n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),  h_t = (1 - z) * n + z * h_{t-1}.
    """

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        self.recurrent = nn.GRU(DIGITS, config.hidden, batch_first=True)
        self.head = nn.Linear(config.hidden, 2)

    def unroll(self, digits: torch.Tensor) -> Unrolled:
        w_ih, w_hh, b_ih, b_hh = self._weights()
        x = self._inputs(digits)
        h = x.new_zeros(digits.shape[0], self.hidden_size)
        states = []
        for t in range(digits.shape[1]):
            xr, xz, xn = (x[:, t] @ w_ih.T + b_ih).chunk(3, dim=1)
            hr, hz, hn = (h @ w_hh.T + b_hh).chunk(3, dim=1)
            r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
            h = (1 - z) * torch.tanh(xn + r * hn) + z * h
            states.append(h)
        return Unrolled(self.head(torch.stack(states, dim=1)), states)


_CLASSES = {"rnn": ElmanRNN, "lstm": LSTM, "gru": GRU}


def build_model(config: ModelConfig) -> SequenceClassifier:
    return _CLASSES[config.model](config)
