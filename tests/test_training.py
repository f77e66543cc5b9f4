import math

import pytest
import torch
from conftest import small_config

from seqtui.core.evaluation import evaluate, wilson_interval
from seqtui.core.models import ModelConfig
from seqtui.core.tasks import TaskConfig
from seqtui.core.training import Budget, Finished, HeldOut, Progress, Trainer
from seqtui.settings.errors import SeqtuiError, SettingError


def test_a_short_run_really_learns_short_patterns():
    config = small_config(
        model=ModelConfig("lstm", 32), lr=1e-2, batch_size=128, budget=Budget(steps=400), eval_every=10**9
    )
    trainer = Trainer(config)
    before = evaluate(trainer.model, config.task, 3000, seed=99).accuracy
    events = list(trainer.run())
    after = evaluate(trainer.model, config.task, 3000, seed=99)
    assert before < 0.7
    assert after.worst > 0.95, after.accuracy_by_length()
    assert isinstance(events[-1], Finished) and events[-1].reason == "budget"
    assert isinstance(events[-2], HeldOut)
    assert trainer.step == 400 and trainer.examples == 400 * 128


def test_progress_events_carry_window_metrics():
    trainer = Trainer(small_config(budget=Budget(steps=60), log_every=1e-9))
    progress = [e for e in trainer.run() if isinstance(e, Progress)]
    assert [p.step for p in progress] == list(range(1, 61))  # a line per step at this interval
    assert all(0 <= p.accuracy <= 1 and p.loss > 0 and p.examples_per_s > 0 for p in progress)
    assert progress[-1].progress == pytest.approx(1.0)
    # cosine schedule: starts at the peak, ends near the floor
    assert progress[0].lr == pytest.approx(3e-3, rel=0.01) and progress[-1].lr < 3e-4


def test_samples_and_time_budgets_stop_the_run():
    trainer = Trainer(small_config(budget=Budget(samples=32 * 10)))
    list(trainer.run())
    assert trainer.examples == 320
    trainer = Trainer(small_config(budget=Budget(seconds=0.5)))
    events = list(trainer.run())
    assert trainer.elapsed >= 0.5 and trainer.step > 0  # it trained until the clock said so, not longer
    assert isinstance(events[-1], Finished) and events[-1].reason == "budget"


def test_target_accuracy_stops_early():
    config = small_config(
        task=TaskConfig(n_min=1, n_max=1),
        model=ModelConfig("lstm", 32),
        lr=1e-2,
        batch_size=128,
        budget=Budget(steps=5000),
        target_accuracy=0.99,
        eval_every=128 * 20,
    )
    trainer = Trainer(config)
    events = list(trainer.run())
    assert events[-1].reason == "target"
    assert trainer.step < 5000
    assert trainer.best_worst >= 0.99


def test_a_loss_that_becomes_nan_ends_the_run_as_diverged():
    trainer = Trainer(small_config(budget=Budget(steps=100), log_every=1e-9))
    original = trainer.train_step

    def poisoned(lr):
        if trainer.step == 10:
            with torch.no_grad():
                trainer.model.head.weight.fill_(float("nan"))
        return original(lr)

    trainer.train_step = poisoned
    events = list(trainer.run())
    assert isinstance(events[-1], Finished) and events[-1].reason == "diverged"
    assert "nan" in events[-1].message
    assert trainer.step == 11


@pytest.mark.parametrize(
    "overrides, says, setting",
    [
        (dict(lr=-1e-3), "learning rate", "lr"),
        (dict(lr=float("nan")), "learning rate", "lr"),
        (dict(batch_size=0), "batch size", "batch-size"),
        (dict(clip=-1.0), "clip", "clip"),
        (dict(budget=lambda: Budget(steps=-5)), "steps must be positive", "steps"),
        (dict(device="tpu"), "device", "device"),
        (dict(task=lambda: TaskConfig(n_min=4, n_max=2)), "larger than", "n-min"),
        (dict(target_accuracy=1.5), "target accuracy", "target-acc"),
        (dict(curriculum=1.5), "curriculum", "curriculum"),
        (dict(curriculum=-0.1), "curriculum", "curriculum"),
        (dict(warmup=0.6), "warm-up", "warmup"),
        (dict(eval_samples=1), "one per length", "eval-samples"),
    ],
)
def test_impossible_training_settings_are_refused_when_built(overrides, says, setting):
    with pytest.raises(SettingError, match=says) as refused:
        small_config(**{k: v() if callable(v) else v for k, v in overrides.items()})
    assert refused.value.setting == setting


def test_a_config_never_changes_once_built():
    from dataclasses import FrozenInstanceError, replace

    config = small_config()
    with pytest.raises(FrozenInstanceError):
        config.lr = 1.0  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        config.budget.steps = 5  # type: ignore[misc]
    with pytest.raises(SettingError, match="batch size"):
        replace(config, batch_size=0)  # a changed copy is checked as it is built
    assert config.replaced({"hidden": 32}).model.hidden == 32 and config.model.hidden == 16


def test_a_curriculum_draws_short_patterns_first_then_every_length(monkeypatch):
    import seqtui.core.training as training

    config = small_config(
        task=TaskConfig(n_min=1, n_max=8), budget=Budget(samples=32 * 200), curriculum=0.5, log_every=1e-6
    )
    trainer = Trainer(config)
    drawn = []  # (fraction of the budget done, pattern length) per step
    make_batch = training.make_batch
    monkeypatch.setattr(
        training,
        "make_batch",
        lambda task, n, *a: drawn.append((trainer.examples / 6400, n)) or make_batch(task, n, *a),
    )
    shown = [e.longest for e in trainer.run() if isinstance(e, Progress)]  # what the metrics lines say
    assert shown == sorted(shown) and shown[0] <= 2 * 4 and shown[-1] == 16
    # the longest pattern grows by six equal stages from n_min + 2 = 3 to n_max = 8 over the first half
    for done, n in drawn:
        longest = 8 if done >= 0.5 else min(8, 3 + int(6 * done / 0.5))
        assert 1 <= n <= longest
    assert {n for done, n in drawn if done < 0.5 / 6} == {1, 2, 3}
    assert {n for done, n in drawn if done >= 0.5} == set(range(1, 9))  # every length once it is over
    uniform = Trainer(small_config(task=TaskConfig(n_min=1, n_max=8), budget=Budget(samples=32 * 200)))
    assert uniform.longest_pattern() == 8  # none by default
    endless = Trainer(small_config(task=TaskConfig(n_min=1, n_max=8), budget=Budget(), curriculum=0.5))
    assert endless.longest_pattern() == 8  # no budget to grow over


def test_a_run_continued_on_a_larger_budget_never_goes_back_to_short_patterns(tmp_path, monkeypatch):
    import seqtui.core.training as training
    from seqtui.session import runner
    from seqtui.store.run import Run

    config = small_config(task=TaskConfig(n_min=1, n_max=8), budget=Budget(samples=32 * 100), curriculum=0.5)
    run = Run.create(tmp_path / "run", config)
    assert runner.train(run).state == "finished"
    drawn = []
    make_batch = training.make_batch

    def recorded(task, n, *rest):
        drawn.append(n)
        return make_batch(task, n, *rest)

    monkeypatch.setattr(training, "make_batch", recorded)
    # ten times the budget: 10% of it done, where the curriculum alone would draw up to 4 digits
    outcome = runner.train(run, Budget(samples=32 * 900))
    assert outcome.state == "finished" and outcome.trainer.examples == 32 * 1000
    assert max(drawn[:100]) == 8 and set(drawn) == set(range(1, 9))


def test_cuda_is_refused_clearly_without_a_gpu():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(SeqtuiError, match="no CUDA device"):
        Trainer(small_config(device="cuda"))


def test_wilson_interval_contains_the_estimate_and_narrows():
    low, high = wilson_interval(990, 1000)
    assert low < 0.99 < high and high - low < 0.02
    low2, high2 = wilson_interval(9900, 10000)
    assert high2 - low2 < high - low
    assert wilson_interval(10, 10)[1] == pytest.approx(1.0) and wilson_interval(0, 10)[0] == pytest.approx(0.0)


def test_evaluation_counts_by_length_including_beyond_training():
    trainer = Trainer(small_config())
    result = evaluate(trainer.model, trainer.config.task, 1000, max_pattern=5)
    assert [r.length for r in result.by_length] == [2, 4, 6, 8, 10]
    assert all(r.count == 200 for r in result.by_length)
    assert 0 <= result.worst <= result.accuracy <= 1
    assert not math.isnan(result.accuracy)


def test_a_gpus_larger_forward_passes_score_the_same_examples(monkeypatch):
    """Examples are generated in the same chunks on any device; only the forward pass groups them."""
    from seqtui.core import evaluation

    trainer = Trainer(small_config())
    small = evaluate(trainer.model, trainer.config.task, 60_000, seed=4)
    monkeypatch.setattr(evaluation, "forward_chunk", lambda device: 65_536)
    large = evaluate(trainer.model, trainer.config.task, 60_000, seed=4)
    assert [(r.length, r.count, r.correct) for r in small.by_length] == [
        (r.length, r.count, r.correct) for r in large.by_length
    ]
