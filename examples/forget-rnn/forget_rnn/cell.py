"""h_t = f_t * h_{t-1} + (1 - f_t) * ReLU(W [x_t; h_{t-1}] + b),  f_t = sigmoid(W_f [x_t; h_{t-1}] + b_f)."""

import torch
from torch import nn

from seqtui.core.models import SequenceClassifier, Unrolled


class ForgetRNN(SequenceClassifier):
    def __init__(self, config):
        super().__init__(config)
        self.step = nn.Linear(10 + config.hidden, 2 * config.hidden)  # candidate and forget gate
        self.head = nn.Linear(config.hidden, 2)

    def unroll(self, digits: torch.Tensor) -> Unrolled:
        x = self.inputs(digits)  # (B, T, 10) one-hot
        h = x.new_zeros(digits.shape[0], self.hidden_size)
        hidden, forget = [], []
        for t in range(digits.shape[1]):
            candidate, gate = self.step(torch.cat([x[:, t], h], dim=1)).chunk(2, dim=1)
            f = torch.sigmoid(gate)
            h = f * h + (1 - f) * torch.relu(candidate)
            hidden.append(h)
            forget.append(f)
        return Unrolled(self.head(torch.stack(hidden, dim=1)), hidden, {"forget": forget})
