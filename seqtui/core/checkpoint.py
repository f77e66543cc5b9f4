"""Checkpoints as safetensors files: tensors and JSON metadata, nothing that can run code.

A checkpoint holds the model's weights, the optimiser's moments, the data generator's state and
the trainer's counters, so that a resumed run continues exactly where it stopped. It is written
to a temporary name and renamed, so a crash leaves either the old file or the new one, whole;
and it is written only from finite weights, so the last checkpoint of a diverged run is a good one.

Loading checks everything against the settings in its metadata before a byte of weights is
allocated: a file whose metadata claims a model far larger than its tensors is refused, not
believed.
"""

from __future__ import annotations

import json
import math
import stat
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from seqtui.core.models import SequenceClassifier, build_model
from seqtui.settings.config import ModelConfig, TrainConfig
from seqtui.settings.errors import SeqtuiError
from seqtui.settings.limits import check_fits, size_text
from seqtui.settings.values import MAX_PATTERN
from seqtui.store.files import to_json, write_atomic

FORMAT = "seqtui-checkpoint/1"
ADAM_STATE = ("step", "exp_avg", "exp_avg_sq")


@dataclass
class Checkpoint:
    config: TrainConfig
    counters: dict  # step, examples, elapsed, best_worst, longest (the curriculum's pattern length)
    tensors: dict[str, torch.Tensor]
    optimizer_groups: list[dict]

    @property
    def step(self) -> int:
        return int(self.counters["step"])

    def model_state(self) -> dict[str, torch.Tensor]:
        return {k[len("model.") :]: v for k, v in self.tensors.items() if k.startswith("model.")}

    def finite(self) -> bool:
        return all(bool(torch.isfinite(v).all()) for v in self.model_state().values())

    def build_model(self, device: torch.device | str = "cpu", allow_nonfinite: bool = False) -> SequenceClassifier:
        if not allow_nonfinite and not self.finite():
            raise SeqtuiError(
                f"the checkpoint at step {self.step:,} holds non-finite weights (its training diverged): "
                "there is no model to use"
            )
        model = build_model(self.config.model)
        try:
            model.load_state_dict(self.model_state())
        except RuntimeError as error:
            first = str(error).strip().splitlines()[-1].strip()
            raise SeqtuiError(f"checkpoint weights do not fit its model: {first}") from None
        return model.to(device).eval()


Shape = tuple[tuple[int, ...], str]  # a tensor's shape and its safetensors dtype ("F32")
DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16"}


def expected_shapes(config: ModelConfig) -> tuple[dict[str, Shape], list[Shape]]:
    """The weights' shapes and dtypes by name, and the parameters' in the optimiser's order, from
    the settings alone (the model is built on torch's meta device: nothing is allocated)."""
    with torch.device("meta"):
        model = build_model(config)

    def shape(tensor: torch.Tensor) -> Shape:
        return tuple(tensor.shape), DTYPES.get(tensor.dtype, str(tensor.dtype))

    return ({k: shape(v) for k, v in model.state_dict().items()}, [shape(p) for p in model.parameters()])


def save_checkpoint(trainer, path: Path) -> None:
    """Write the trainer's state; refuses non-finite weights, so a kept checkpoint is always usable."""
    if not trainer.weights_finite():
        raise SeqtuiError("the weights are not finite: no checkpoint is written from them")
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in trainer.model.state_dict().items()}
    optimizer = trainer.optimizer.state_dict()
    for index, state in optimizer["state"].items():
        for key, value in state.items():
            tensors[f"optim.{index}.{key}"] = torch.as_tensor(value).detach().cpu().contiguous()
    tensors.update(trainer.data_state())
    metadata = {
        "format": FORMAT,
        "config": to_json(trainer.config.to_dict()),
        "counters": to_json(trainer.counters()),
        "optimizer_groups": to_json(optimizer["param_groups"]),
    }
    try:
        write_atomic(Path(path), lambda temporary: save_file(tensors, temporary, metadata=metadata))
    except SafetensorError as error:  # the Rust writer reports OS errors this way
        text = str(error)
        full = "No space left" in text or "StorageFull" in text
        raise SeqtuiError(f"cannot write {path}: {'no space left on the device' if full else text}") from None


def _counters(data: object) -> dict:
    if not isinstance(data, dict):
        raise ValueError("counters are not an object")
    for name in ("step", "examples"):
        value = data.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} is {value!r}")
    elapsed = data.get("elapsed")
    if isinstance(elapsed, bool) or not isinstance(elapsed, (int, float)) or not math.isfinite(elapsed) or elapsed < 0:
        raise ValueError(f"elapsed is {elapsed!r}")
    longest = data.get("longest", 0)
    if isinstance(longest, bool) or not isinstance(longest, int) or not 0 <= longest <= MAX_PATTERN:
        raise ValueError(f"longest is {longest!r}")
    if data.get("data_device", "cpu") not in ("cpu", "cuda"):
        raise ValueError(f"data_device is {data.get('data_device')!r}")
    evaluated = data.get("evaluated")
    if evaluated is not None and (
        isinstance(evaluated, bool) or not isinstance(evaluated, int) or not 0 <= evaluated <= data["examples"]
    ):
        raise ValueError(f"evaluated is {evaluated!r}")
    best = data.get("best_worst")
    if best is not None and (isinstance(best, bool) or not isinstance(best, (int, float)) or not 0 <= best <= 1):
        raise ValueError(f"best_worst is {best!r}")
    return data


def load_checkpoint(path: Path) -> Checkpoint:
    """Read a checkpoint; anything wrong with it becomes one SeqtuiError saying what."""
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise SeqtuiError(f"no checkpoint at {path}") from None
    except OSError as error:
        raise SeqtuiError(f"{path} cannot be read: {error.strerror or error}") from None
    if not stat.S_ISREG(info.st_mode):
        raise SeqtuiError(f"{path} is not a regular file")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = handle.metadata() or {}
            if metadata.get("format") != FORMAT:
                raise SeqtuiError(f"{path} is not a seqtui checkpoint (format {metadata.get('format')!r})")
            config, counters = _metadata(path, metadata)
            _check_shapes(path, config, {key: _shape(handle.get_slice(key)) for key in handle.keys()})
            check_fits(2 * info.st_size, f"loading {path} ({size_text(info.st_size)})")
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError, TypeError) as error:
        raise SeqtuiError(f"{path} is not a readable checkpoint (corrupt or truncated: {error})") from None
    try:
        groups = json.loads(metadata.get("optimizer_groups", "[]"))
    except ValueError:
        groups = []
    return Checkpoint(config, counters, tensors, groups if isinstance(groups, list) else [])


def _shape(tensor) -> Shape:
    return tuple(tensor.get_shape()), str(tensor.get_dtype())


def _metadata(path: Path, metadata: dict) -> tuple[TrainConfig, dict]:
    try:
        config = TrainConfig.from_dict(json.loads(metadata["config"]))
        counters = _counters(json.loads(metadata["counters"]))
    except (KeyError, TypeError, ValueError, RecursionError, SeqtuiError) as error:
        raise SeqtuiError(f"{path} has damaged metadata: {error}") from None
    return config, counters


def _check_shapes(path: Path, config: TrainConfig, shapes: dict[str, Shape]) -> None:
    """Every tensor the settings call for, with the shape and dtype they call for, and nothing else
    (weights of another dtype would load as garbage: F32 read as I32 is a number, not an error)."""
    weights, parameters = expected_shapes(config.model)
    found = {k[len("model.") :]: v for k, v in shapes.items() if k.startswith("model.")}
    if found != weights:
        wrong = sorted(set(found) ^ set(weights)) or sorted(k for k in weights if found[k] != weights[k])
        name = wrong[0]
        raise SeqtuiError(
            f"{path} does not fit the model its metadata describes ({config.model.model}, "
            f"{config.model.hidden} hidden units): {name} is {_shown(found.get(name))}, "
            f"expected {_shown(weights.get(name))}"
        )
    for key, (shape, dtype) in shapes.items():
        if key.startswith("optim."):
            parts = key.split(".")
            if (
                len(parts) != 3
                or not parts[1].isdigit()
                or int(parts[1]) >= len(parameters)
                or parts[2] not in ADAM_STATE
            ):
                raise SeqtuiError(f"{path} has an unexpected tensor {key!r}")
            wanted = ((), "F32") if parts[2] == "step" else parameters[int(parts[1])]
            if (shape, dtype) != wanted:
                raise SeqtuiError(
                    f"{path}: optimiser state {key} is {_shown((shape, dtype))}, expected {_shown(wanted)}"
                )
        elif key in ("rng.data", "rng.lengths"):
            if len(shape) != 1 or shape[0] > 1 << 16 or dtype != "U8":
                raise SeqtuiError(f"{path}: the data generator's state is {_shown((shape, dtype))}")
        elif not key.startswith("model."):
            raise SeqtuiError(f"{path} has an unexpected tensor {key!r}")


def _shown(shape: Shape | None) -> str:
    return "missing" if shape is None else f"{shape[1]} {shape[0]}"


def restore_trainer(trainer, checkpoint: Checkpoint) -> None:
    """Put a freshly built trainer into the checkpoint's state (weights, moments, data stream)."""
    model = checkpoint.build_model(trainer.device)
    trainer.model.load_state_dict(model.state_dict())
    state: dict[int, dict] = {}
    for key, value in checkpoint.tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    # the hyperparameters are the trainer's own (lr is set every step): only the moments come from the file
    groups = trainer.optimizer.state_dict()["param_groups"]
    try:
        trainer.optimizer.load_state_dict({"state": state, "param_groups": groups})
        data = {k: v for k, v in checkpoint.tensors.items() if k.startswith("rng.")}
        trainer.restore_counters(checkpoint.counters)
        trainer.restore_data_state(data, checkpoint.counters.get("data_device", "cpu"))
    except (KeyError, ValueError, RuntimeError, TypeError) as error:
        raise SeqtuiError(f"checkpoint optimiser or generator state is damaged: {error}") from None
    if trainer.fast is not None:
        trainer.fast = True  # the NumPy step takes views of the restored state when it is next built
