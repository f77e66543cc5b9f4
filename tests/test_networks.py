"""The models' registry: every list of models comes from it, and a spec is checked before it is used."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import seqtui_here

from seqtui.core.models import build_model
from seqtui.settings import networks
from seqtui.settings.config import ModelConfig, TrainConfig
from seqtui.settings.errors import ModelUnavailable, SeqtuiError
from seqtui.settings.networks import ModelSpec
from seqtui.settings.presets import preset_config
from seqtui.settings.registry import SETTING
from seqtui.sweep.spec import SweepSpec, variant


def test_every_list_of_models_is_the_registry():
    names = networks.names()
    assert names[:3] == ("rnn", "lstm", "gru") and {"mingru", "minlstm", "lru"} <= set(names)
    assert SETTING["model"].choices == names
    assert list(networks.variants()) == [*names[:1], "irnn", *names[1:]]
    assert variant("rnn-identity") == "irnn"  # sweeps written with the old name keep working
    listed = [json.loads(line) for line in seqtui_here("models", "--json").stdout.splitlines()]
    assert [row["model"] for row in listed] == list(names)


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru", "mingru", "minlstm", "lru"])
def test_each_spec_says_the_size_and_states_its_model_has(name):
    config = preset_config({"model": name})
    model = build_model(config.model)
    assert sum(p.numel() for p in model.parameters()) == config.model.parameter_count()
    unrolled = model.unroll(torch.randint(0, 10, (2, 4)))
    assert tuple(unrolled.states) == config.model.spec.states
    assert unrolled.hidden[0].shape == (2, model.hidden_size)


def test_a_sweep_takes_every_model_with_its_own_preset():
    trials = SweepSpec.build("t", {"model": ["lru", "irnn", "mingru"], "n-max": 3}).trials()
    by_name = {t.name: t.config for t in trials}
    assert by_name["lru"].model.hidden == 64 and by_name["mingru"].model.hidden == 128
    assert by_name["irnn"].model.init == "identity" and by_name["irnn"].clip == 1.0
    with pytest.raises(SeqtuiError, match="unknown model 'transformer'"):
        SweepSpec.build("t", {"model": ["transformer"]})


@pytest.mark.parametrize(
    "changes, says",
    [
        ({"name": "Big Cell"}, "a name is lower-case"),
        ({"build": "cell.Cell"}, "build must be 'module:attribute'"),
        ({"gates": 0}, "gates must be a whole number"),
        ({"inits": ("identity",)}, "inits must start with 'default'"),
        ({"states": ("hidden",)}, "states are names other than 'hidden'"),
        ({"preset": {"hidden": 8, "learning_rate": 1}}, "preset takes the keys"),
        ({"parameters": lambda h: 1 / 0}, "parameters(16) fails"),
        ({"cost": float("nan")}, "cost must be a positive number"),
    ],
)
def test_a_malformed_spec_is_refused_with_what_is_wrong(changes, says):
    spec = ModelSpec(**{**ModelSpec("cell", "cell:Cell").__dict__, **changes})
    with pytest.raises(SeqtuiError, match=says.replace("(", r"\(").replace(")", r"\)")):
        spec.check()


def test_a_config_without_a_package_reads_as_before_and_one_with_an_unknown_model_names_it():
    old = TrainConfig().to_dict()
    assert "package" not in old["model"]  # a built-in model: config.json as it always was
    assert TrainConfig.from_dict(old) == TrainConfig()
    old["model"] = {"model": "cell", "hidden": 8, "init": "default", "package": "cells-pkg"}
    with pytest.raises(ModelUnavailable, match="model 'cell' is not installed: it comes from the package 'cells-pkg'"):
        TrainConfig.from_dict(old)
    with pytest.raises(ModelUnavailable, match="unknown model 'cell'"):
        ModelConfig("cell", 8)
    with pytest.raises(SeqtuiError, match="lru model takes only the default init"):
        ModelConfig("lru", 8, "identity")


@pytest.mark.parametrize("name", ["mingru", "minlstm", "lru"])
def test_the_scanned_models_checkpoint_and_resume_exactly(name, tmp_path):
    from conftest import small_config

    from seqtui.core.checkpoint import load_checkpoint, restore_trainer, save_checkpoint
    from seqtui.core.training import Trainer

    config = small_config(model=ModelConfig(name, 8), lr=1e-2)
    straight, first = Trainer(config), Trainer(config)
    for _ in range(10):
        straight.train_step(1e-2)
    for _ in range(4):
        first.train_step(1e-2)
    save_checkpoint(first, tmp_path / "c.safetensors")
    again = Trainer(config)
    restore_trainer(again, load_checkpoint(tmp_path / "c.safetensors"))
    for _ in range(6):
        again.train_step(1e-2)
    for (key, a), b in zip(straight.model.state_dict().items(), again.model.state_dict().values()):
        assert torch.equal(a, b), key
