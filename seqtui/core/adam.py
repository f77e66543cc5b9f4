"""Adam (Kingma and Ba, 2015, "Adam: A Method for Stochastic Optimization", Algorithm 1), the
optimiser every seqtui run trains with.

For each parameter, at step t with gradient g:

    m_t = beta1 * m_{t-1} + (1 - beta1) * g            the first moment
    v_t = beta2 * v_{t-1} + (1 - beta2) * g * g        the second moment
    w_t = w_{t-1} - lr * m^_t / (sqrt(v^_t) + eps),    m^_t = m_t / (1 - beta1^t), v^_t = v_t / (1 - beta2^t)

computed as lr / (1 - beta1^t) * m_t / (sqrt(v_t) / sqrt(1 - beta2^t) + eps), the same quantity.

Why not torch.optim.Adam: building one imports torch._dynamo, about two seconds that every
trainer paid before its first step. The arithmetic here is done in the same order as torch's
single-tensor Adam, so a run trains to the same weights as it did with torch's, and the state
(`step`, `exp_avg`, `exp_avg_sq` per parameter) is saved and loaded in torch's layout: checkpoints
written before this module existed resume exactly (tests/test_adam.py checks both).
"""

from __future__ import annotations

import math
from typing import Any, Iterable

import torch

# the keys torch's Adam keeps beside the parameters of a group: a checkpoint's metadata lists them
GROUP_DEFAULTS: dict[str, Any] = {
    "weight_decay": 0,
    "amsgrad": False,
    "maximize": False,
    "foreach": None,
    "capturable": False,
    "differentiable": False,
    "fused": None,
    "decoupled_weight_decay": False,
}


class Adam:
    """Plain Adam over one group of parameters; `param_groups[0]["lr"]` may change every step."""

    def __init__(
        self, params: Iterable[torch.nn.Parameter], lr: float, betas: tuple[float, float] = (0.9, 0.999), eps=1e-8
    ):
        group: dict[str, Any] = {"params": list(params), "lr": lr, "betas": betas, "eps": eps, **GROUP_DEFAULTS}
        self.param_groups = [group]
        self.state: dict[torch.Tensor, dict[str, torch.Tensor]] = {}

    @property
    def params(self) -> list[torch.nn.Parameter]:
        return self.param_groups[0]["params"]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    def moments(self, p: torch.Tensor) -> dict[str, torch.Tensor]:
        """The state of `p`, made (zero moments, step 0) the first time it is asked for."""
        state = self.state.get(p)
        if state is None:
            state = self.state[p] = {
                "step": torch.tensor(0.0),  # a float32 on the CPU wherever p lives, as torch keeps it
                "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
            }
        return state

    @torch.no_grad()
    def step(self) -> None:
        group = self.param_groups[0]
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        for p in self.params:
            if p.grad is None:
                continue
            g = p.grad
            state = self.moments(p)
            m, v = state["exp_avg"], state["exp_avg_sq"]
            state["step"] += 1
            t = state["step"].item()
            m.lerp_(g, 1 - beta1)  # m + (1 - beta1) (g - m): beta1 m + (1 - beta1) g
            v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
            step_size = lr / (1 - beta1**t)
            denominator = (v.sqrt() / math.sqrt(1 - beta2**t)).add_(eps)
            p.addcdiv_(m, denominator, value=-step_size)

    def state_dict(self) -> dict[str, Any]:
        """torch's layout: state by parameter index, and the group with the parameters' indices."""
        index = {id(p): i for i, p in enumerate(self.params)}
        group = {k: v for k, v in self.param_groups[0].items() if k != "params"}
        return {
            "state": {index[id(p)]: dict(s) for p, s in self.state.items()},
            "param_groups": [{**group, "params": list(range(len(self.params)))}],
        }

    def load_state_dict(self, data: dict[str, Any]) -> None:
        """Moments saved by this class or by torch's Adam, checked against the parameters."""
        groups = data["param_groups"]
        if len(groups) != 1 or len(groups[0]["params"]) != len(self.params):
            raise ValueError("the saved optimiser state is for other parameters")
        group = self.param_groups[0]
        for key in ("lr", "betas", "eps"):
            if key in groups[0]:
                group[key] = tuple(groups[0][key]) if key == "betas" else groups[0][key]
        state: dict[torch.Tensor, dict[str, torch.Tensor]] = {}
        for index, saved in data["state"].items():
            p = self.params[int(index)]
            if set(saved) != {"step", "exp_avg", "exp_avg_sq"}:
                raise ValueError(f"parameter {index}: the saved state holds {sorted(saved)}")
            for name in ("exp_avg", "exp_avg_sq"):
                if tuple(saved[name].shape) != tuple(p.shape):
                    raise ValueError(f"parameter {index}: {name} is {tuple(saved[name].shape)}, not {tuple(p.shape)}")
            state[p] = {
                "step": torch.as_tensor(saved["step"], dtype=torch.float32).detach().clone().cpu(),
                "exp_avg": saved["exp_avg"].detach().to(p.device, p.dtype).clone(),
                "exp_avg_sq": saved["exp_avg_sq"].detach().to(p.device, p.dtype).clone(),
            }
        self.state = state
