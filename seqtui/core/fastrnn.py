"""The tutorial's Elman RNN trained a few examples at a time, fast, on a CPU.

At batch 1 (the tutorial's recipe) torch spends its time on per-operation overhead: a fused RNN's
forward and backward and six parameters' Adam updates cost about 1.2 ms a step here, for vectors of
50 numbers. This module does the same step in NumPy, with the gradients written out (backpropagation
through time for h_t = ReLU(W_xh x_t + b_xh + W_hh h_{t-1} + b_hh), the head on the last step,
cross-entropy, then torch's Adam update), on the model's and the optimiser's own tensors, shared as
NumPy views. The model, the optimiser state and so the checkpoints are exactly what the torch path
keeps; tests/test_fastrnn.py checks a step against autograd and torch's Adam.

`Trainer` uses it for the rnn model on the CPU at batch sizes up to FAST_BATCH; above that, torch's
fused layer and its BLAS are faster.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from seqtui.core.adam import Adam
from seqtui.core.models import ElmanRNN, SequenceClassifier

FAST_BATCH = 16


def eligible(model: SequenceClassifier, batch_size: int, device: torch.device) -> bool:
    return type(model) is ElmanRNN and batch_size <= FAST_BATCH and device.type == "cpu"


class ElmanStepper:
    """One training step of an ElmanRNN (seqtui.core.models) with Adam (seqtui.core.adam), in NumPy."""

    def __init__(self, model: ElmanRNN, optimizer: Adam, clip: float | None):
        self.params = [*model._weights(), model.head.weight, model.head.bias]
        assert [id(p) for p in self.params] == [id(p) for p in optimizer.param_groups[0]["params"]]
        group = optimizer.param_groups[0]
        self.beta1, self.beta2 = group["betas"]
        self.eps = group["eps"]
        if group["weight_decay"] or group["amsgrad"] or group["maximize"]:
            raise ValueError("the NumPy step implements plain Adam only")
        self.clip = clip
        self.states = [optimizer.moments(p) for p in self.params]  # made now if Adam has not stepped yet
        with torch.no_grad():
            self.w = [p.detach().numpy() for p in self.params]  # views: updates land in the model
        self.m = [s["exp_avg"].numpy() for s in self.states]
        self.v = [s["exp_avg_sq"].numpy() for s in self.states]
        self.steps = [s["step"].numpy() for s in self.states]  # 0-d views of torch's step counters

    def step(self, digits: np.ndarray, labels: np.ndarray, lr: float) -> tuple[float, int, float]:
        """One Adam step on a batch (B, T) of digits; returns (mean loss, correct, grad norm before clipping)."""
        w_ih, w_hh, b_ih, b_hh, w_out, b_out = self.w
        batch, length = digits.shape
        hidden = w_hh.shape[0]
        # forward: the input map of a one-hot digit is a column of W_xh
        pre = w_ih.T[digits] + (b_ih + b_hh)  # (B, T, H)
        states = np.empty((length + 1, batch, hidden), dtype=np.float32)  # h_0 .. h_T
        states[0] = 0.0
        for t in range(length):
            np.maximum(pre[:, t] + states[t] @ w_hh.T, 0.0, out=states[t + 1])
        logits = states[length] @ w_out.T + b_out  # (B, 2)
        shifted = logits - logits.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        total = exp.sum(axis=1, keepdims=True)
        rows = np.arange(batch)
        loss = float(np.mean(np.log(total[:, 0]) - shifted[rows, labels]))
        correct = int(np.count_nonzero(logits.argmax(axis=1) == labels))
        # backward
        d_logits = exp / total
        d_logits[rows, labels] -= 1.0
        d_logits /= batch
        g_out = d_logits.T @ states[length]  # (2, H)
        gb_out = d_logits.sum(axis=0)
        d_h = d_logits @ w_out  # (B, H)
        d_pre = np.empty((length, batch, hidden), dtype=np.float32)
        for t in range(length - 1, -1, -1):
            d_a = d_h * (states[t + 1] > 0)
            d_pre[t] = d_a
            d_h = d_a @ w_hh
        g_hh = np.einsum("tbi,tbj->ij", d_pre, states[:length])
        g_b = d_pre.sum(axis=(0, 1))
        g_ih = np.zeros((10, hidden), dtype=np.float32)
        np.add.at(g_ih, digits.T.reshape(-1), d_pre.reshape(-1, hidden))
        grads = [g_ih.T, g_hh, g_b, g_b, g_out, gb_out]
        norm = math.sqrt(sum(float(np.dot(g.ravel(), g.ravel())) for g in grads))
        if self.clip is not None:
            scale = min(1.0, self.clip / (norm + 1e-6))  # torch's clip_grad_norm_
            if scale < 1.0:
                grads = [g * np.float32(scale) for g in grads]
        self._adam(grads, lr)
        return loss, correct, norm

    def _adam(self, grads: list[np.ndarray], lr: float) -> None:
        """Adam's update (seqtui.core.adam), in place on the shared tensors. Every parameter has
        taken as many steps as the others (they are only ever updated together)."""
        for counter in self.steps:
            counter += 1
        t = float(self.steps[0])
        step_size = np.float32(lr / (1 - self.beta1**t))
        correction = np.float32(1 / math.sqrt(1 - self.beta2**t))
        keep, eps = np.float32(1 - self.beta1), np.float32(self.eps)
        decay, fresh = np.float32(self.beta2), np.float32(1 - self.beta2)
        for w, m, v, g in zip(self.w, self.m, self.v, grads):
            m += (g - m) * keep
            v *= decay
            v += fresh * g * g
            denom = np.sqrt(v)
            denom *= correction
            denom += eps
            w -= step_size * m / denom
