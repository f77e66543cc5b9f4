"""Checkpoints as safetensors files: tensors and JSON metadata, nothing that can run code.

A checkpoint holds the model's weights, the optimiser's moments, the data generator's state and
the trainer's counters, so that a resumed run continues exactly where it stopped. It is written
to a temporary name and renamed, so a crash leaves either the old file or the new one, whole.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from seqtui.errors import SeqtuiError
from seqtui.models import SequenceClassifier, build_model
from seqtui.training import Trainer, TrainConfig

FORMAT = "seqtui-checkpoint/1"


@dataclass
class Checkpoint:
    config: TrainConfig
    counters: dict  # step, examples, elapsed, best_worst
    tensors: dict[str, torch.Tensor]
    optimizer_groups: list[dict]

    @property
    def step(self) -> int:
        return int(self.counters["step"])

    def model_state(self) -> dict[str, torch.Tensor]:
        return {k[len("model.") :]: v for k, v in self.tensors.items() if k.startswith("model.")}

    def build_model(self, device: torch.device | str = "cpu") -> SequenceClassifier:
        model = build_model(self.config.model)
        try:
            model.load_state_dict(self.model_state())
        except RuntimeError as error:
            first = str(error).strip().splitlines()[-1].strip()
            raise SeqtuiError(f"checkpoint weights do not fit its model: {first}") from None
        return model.to(device).eval()


def save_checkpoint(trainer: Trainer, path: Path) -> None:
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in trainer.model.state_dict().items()}
    optimizer = trainer.optimizer.state_dict()
    for index, state in optimizer["state"].items():
        for key, value in state.items():
            tensors[f"optim.{index}.{key}"] = torch.as_tensor(value).detach().cpu().contiguous()
    tensors["rng.data"] = trainer.generator.get_state()
    metadata = {
        "format": FORMAT,
        "config": json.dumps(trainer.config.to_dict()),
        "counters": json.dumps(trainer.counters()),
        "optimizer_groups": json.dumps(optimizer["param_groups"]),
    }
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        save_file(tensors, temporary, metadata=metadata)
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def load_checkpoint(path: Path) -> Checkpoint:
    """Read a checkpoint; anything wrong with it becomes one SeqtuiError saying what."""
    path = Path(path)
    if not path.is_file():
        raise SeqtuiError(f"no checkpoint at {path}")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise SeqtuiError(f"{path} is not a readable checkpoint (corrupt or truncated: {error})") from None
    if metadata.get("format") != FORMAT:
        raise SeqtuiError(f"{path} is not a seqtui checkpoint (format {metadata.get('format')!r})")
    try:
        config = TrainConfig.from_dict(json.loads(metadata["config"]))
        config.task.validate()
        config.model.validate()
        counters = json.loads(metadata["counters"])
        groups = json.loads(metadata["optimizer_groups"])
        int(counters["step"]), int(counters["examples"]), float(counters["elapsed"])
    except (KeyError, TypeError, ValueError, json.JSONDecodeError, SeqtuiError) as error:
        raise SeqtuiError(f"{path} has damaged metadata: {error}") from None
    return Checkpoint(config, counters, tensors, groups)


def restore_trainer(trainer: Trainer, checkpoint: Checkpoint) -> None:
    """Put a freshly built trainer into the checkpoint's state (weights, moments, data stream)."""
    model = checkpoint.build_model(trainer.device)
    trainer.model.load_state_dict(model.state_dict())
    state: dict[int, dict] = {}
    for key, value in checkpoint.tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    groups = checkpoint.optimizer_groups
    for group in groups:  # JSON turned the betas tuple into a list
        if "betas" in group:
            group["betas"] = tuple(group["betas"])
    try:
        trainer.optimizer.load_state_dict({"state": state, "param_groups": groups})
        trainer.generator.set_state(checkpoint.tensors["rng.data"])
    except (KeyError, ValueError, RuntimeError) as error:
        raise SeqtuiError(f"checkpoint optimiser or generator state is damaged: {error}") from None
    trainer.restore_counters(checkpoint.counters)
