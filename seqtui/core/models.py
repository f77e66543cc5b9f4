"""The recurrent classifiers, and the protocol every network follows (`SequenceClassifier`).

A network reads a batch of digit sequences (B, T), runs its recurrence from a zero state, maps the
state of every step to two logits (no match, match) and classifies by the logits of the last step.
What seqtui needs from one is three methods that compute the same numbers:

- `unroll(digits) -> Unrolled`: steps through time in Python and returns every step's logits
  (B, T, 2), hidden states (a list of T tensors (B, H), each usable in autograd: the gradient flow
  asks for dL/dh_t) and any extra per-step states by name (an LSTM's "cell"), as its ModelSpec's
  `states` lists them. This is the reference every other path is tested against, and what the
  probe screen, the projection and the gradient flow read.
- `forward(digits) -> (logits (B, T, 2), hidden (B, T, H))`: the same, fast (a fused layer, a
  parallel scan). By default it stacks `unroll`'s.
- `classify(digits) -> logits (B, 2)`: the last step's logits, what training and evaluation call.
  By default the last step of `forward`.

`hidden_size` is H, the width of the hidden states (by default the config's hidden size). A network
is built from its ModelConfig (`cls(config)`), registered by a ModelSpec
(seqtui.settings.networks), and checkpointed by its `state_dict`: any nn.Module whose parameters are
real tensors. The built-in ones:

- ElmanRNN, LSTM, GRU: torch's fused layers for `forward` (cuDNN on a GPU), the same weights
  stepped in Python for `unroll`;
- MinGRU, MinLSTM and LRU (seqtui.core.recurrences): recurrences linear in h, run by parallel scans.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from seqtui.core.tasks import DIGITS, one_hot
from seqtui.settings import networks
from seqtui.settings.config import ModelConfig
from seqtui.settings.errors import ModelUnavailable, SeqtuiError


@dataclass
class Unrolled:
    """Every step's states from a step-by-step pass."""

    logits: torch.Tensor  # (B, T, 2)
    hidden: list[torch.Tensor]  # T x (B, H), each usable for per-step gradients
    states: dict[str, list[torch.Tensor]] = field(default_factory=dict)  # extra states by name: T x (B, K)

    @property
    def cell(self) -> list[torch.Tensor] | None:
        """The LSTM's cell state (None for a model without one)."""
        return self.states.get("cell")

    def state(self, name: str) -> list[torch.Tensor]:
        """The hidden states, or an extra state by its name."""
        return self.hidden if name == "hidden" else self.states[name]


class SequenceClassifier(nn.Module):
    """The protocol: digits (B, T) -> per-step logits (B, T, 2) and hidden states (B, T, H).

    A network subclasses this, builds its layers in `__init__(config)` and writes `unroll`; it may
    write a faster `forward` or `classify` that computes the same numbers."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config

    @property
    def hidden_size(self) -> int:
        return self.config.hidden

    def inputs(self, digits: torch.Tensor) -> torch.Tensor:
        """The digits one-hot, (B, T, 10), in the dtype of the network's parameters."""
        return one_hot(digits, next(self.parameters()).dtype)

    def unroll(self, digits: torch.Tensor) -> Unrolled:
        raise NotImplementedError(f"{type(self).__name__} does not define unroll")

    def forward(self, digits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        unrolled = self.unroll(digits)
        return unrolled.logits, torch.stack(unrolled.hidden, dim=1)

    def classify(self, digits: torch.Tensor) -> torch.Tensor:
        """Logits of the last step only, (B, 2): what training and evaluation need."""
        return self(digits)[0][:, -1]


class FusedClassifier(SequenceClassifier):
    """A network on one of torch's fused recurrent layers (nn.RNN, nn.LSTM, nn.GRU)."""

    recurrent: nn.RNNBase
    head: nn.Linear  # hidden -> output, applied at every step

    def forward(self, digits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden, _ = self.recurrent(self._inputs(digits))  # (B, T, H)
        return self.head(hidden), hidden  # (B, T, 2), (B, T, H)

    def classify(self, digits: torch.Tensor) -> torch.Tensor:
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


def _parameter(module: nn.Module, name: str) -> nn.Parameter:
    value = getattr(module, name)
    assert isinstance(value, nn.Parameter), name
    return value


class ElmanRNN(FusedClassifier):
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


class LSTM(FusedClassifier):
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
        return Unrolled(self.head(torch.stack(hs, dim=1)), hs, {"cell": cs})


class GRU(FusedClassifier):
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


def build_model(config: ModelConfig) -> SequenceClassifier:
    """The network `config` names, built by its registered spec; a builder that fails or gives
    something else is one SeqtuiError naming the model."""
    spec = networks.spec(config.model)
    builder = networks.load_builder(spec)
    where = f"model {spec.name!r}" + (f" (package {spec.package})" if spec.package else "")
    try:
        model = builder(config)
    except SeqtuiError:
        raise
    except Exception as error:  # a user's constructor: report it, do not crash the caller
        raise ModelUnavailable(f"{where} cannot be built: {type(error).__name__}: {error}") from None
    if not isinstance(model, SequenceClassifier):
        raise ModelUnavailable(f"{where}: {spec.build} gave a {type(model).__name__}, not a SequenceClassifier")
    return model
