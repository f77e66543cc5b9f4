"""The GPU path, against the CPU: the same weights give the same outputs and gradients on both,
training on the card is reproducible and resumes exactly, and what a card trained opens, evaluates
and trains on in a machine without one. Skipped where torch sees no CUDA device."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from conftest import seqtui_command, small_config

from seqtui.core.checkpoint import load_checkpoint
from seqtui.core.evaluation import evaluate
from seqtui.core.models import build_model
from seqtui.core.training import Budget, Trainer
from seqtui.session import runner
from seqtui.settings.config import ModelConfig
from seqtui.settings.networks import BUILT_IN_NAMES
from seqtui.store.run import Run

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")

TOLERANCE = dict(rtol=2e-3, atol=2e-3)  # cuDNN's recurrent kernels may use TF32 on their matrix products


def perturbed(name: str, hidden: int = 24) -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_model(ModelConfig(name, hidden))
    with torch.no_grad():  # away from the initial values, so every term matters
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model


@pytest.mark.parametrize("name", BUILT_IN_NAMES)
def test_every_network_computes_on_the_card_what_it_computes_on_the_cpu(name):
    cpu = perturbed(name)
    gpu = perturbed(name).cuda()
    digits = torch.randint(0, 10, (9, 21), generator=torch.Generator().manual_seed(3))
    logits, hidden = cpu(digits)
    got_logits, got_hidden = gpu(digits.cuda())
    torch.testing.assert_close(got_logits.cpu(), logits, **TOLERANCE)
    torch.testing.assert_close(got_hidden.cpu(), hidden, **TOLERANCE)
    torch.testing.assert_close(gpu.classify(digits.cuda()).cpu(), cpu.classify(digits), **TOLERANCE)
    unrolled = gpu.unroll(digits.cuda())
    torch.testing.assert_close(unrolled.logits.cpu(), logits, **TOLERANCE)
    with torch.inference_mode():  # the probe's and evaluation's path
        torch.testing.assert_close(gpu.classify(digits.cuda()).cpu(), cpu.classify(digits), **TOLERANCE)

    target = torch.randint(0, 2, (9,), generator=torch.Generator().manual_seed(4))
    loss = torch.nn.functional.cross_entropy(cpu.classify(digits), target)
    want = torch.autograd.grad(loss, list(cpu.parameters()))
    loss = torch.nn.functional.cross_entropy(gpu.classify(digits.cuda()), target.cuda())
    for got, expected in zip(torch.autograd.grad(loss, list(gpu.parameters())), want):
        torch.testing.assert_close(got.cpu(), expected, **TOLERANCE)


@pytest.mark.parametrize("name", ["rnn", "lstm", "lru"])
def test_training_on_the_card_learns_and_the_same_seed_gives_the_same_weights(name):
    config = small_config(model=ModelConfig(name, 32), lr=1e-2, batch_size=128, budget=Budget(steps=400), device="cuda")
    first, second = Trainer(config), Trainer(config)
    assert first.device.type == "cuda"
    list(first.run())
    list(second.run())
    for key, value in first.model.state_dict().items():
        assert torch.equal(second.model.state_dict()[key], value), key
    result = evaluate(first.model, config.task, 3000, seed=5, device=first.device)
    assert result.worst > 0.9, result.accuracy_by_length()  # patterns of 1-3 digits: learned, not chance


def test_a_run_on_the_card_resumes_exactly_where_it_stopped(tmp_path):
    config = small_config(model=ModelConfig("lstm", 16), budget=Budget(steps=30), device="cuda")
    run = Run.create(tmp_path / "run", config)
    assert runner.train(run).state == "finished"
    resumed = runner.train(run, Budget(steps=30)).trainer
    assert resumed.device.type == "cuda" and resumed.step == 60
    straight = Trainer(config)
    list(straight.run())
    straight.config = replace(straight.config, budget=Budget(steps=60))
    list(straight.run())
    for key, value in straight.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[key], value), key


def test_what_a_card_trained_is_evaluated_the_same_on_the_cpu_and_trains_on_there(tmp_path):
    config = small_config(model=ModelConfig("gru", 24), budget=Budget(steps=200), device="cuda")
    run = Run.create(tmp_path / "run", config)
    trained = runner.train(run).trainer
    checkpoint = load_checkpoint(run.checkpoint_path)
    on_cpu = evaluate(checkpoint.build_model("cpu"), config.task, 6000, seed=7)
    on_gpu = evaluate(checkpoint.build_model("cuda"), config.task, 6000, seed=7, device="cuda")
    assert [(r.length, r.count) for r in on_cpu.by_length] == [(r.length, r.count) for r in on_gpu.by_length]
    for cpu, gpu in zip(on_cpu.by_length, on_gpu.by_length):  # the same examples: a tie or two may tip
        assert abs(cpu.correct - gpu.correct) <= 2, (cpu, gpu)
    assert trained.step == 200
    outcome = runner.train(run, Budget(steps=20), settings={"device": "cpu"})
    assert outcome.state == "finished" and outcome.trainer.device.type == "cpu" and outcome.step == 220
    assert all(torch.isfinite(p).all() for p in outcome.trainer.model.parameters())


def test_the_command_line_trains_on_the_card_when_asked_for_auto(tmp_path):
    run_dir = tmp_path / "auto"
    result = seqtui_command(
        "train", "--model", "rnn", "--hidden", "16", "--n-max", "3", "--steps", "50", "--eval-samples", "300",
        "--run-dir", str(run_dir), "--quiet",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    checkpoint = load_checkpoint(run_dir / "checkpoint.safetensors")
    assert checkpoint.counters["data_device"] == "cuda"  # where it trained, asked for auto
    assert Run(run_dir).status().state == "finished"
    predicted = seqtui_command("predict", str(run_dir), "1 2 1 2", "--json")
    assert predicted.returncode == 0, predicted.stderr
