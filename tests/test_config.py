"""Config first: settings as checked dataclasses, one registry from the command line and the form to
config.json and the trainer, budgets in work, light commands without torch."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap

import pytest
import torch
from conftest import seqtui_command, seqtui_here, small_config, train_until_stopped_at, wait_for_form

from seqtui.core.checkpoint import load_checkpoint
from seqtui.core.training import Trainer
from seqtui.session import runner
from seqtui.settings.config import Budget, ModelConfig, TaskConfig, TrainConfig
from seqtui.settings.errors import SeqtuiError
from seqtui.settings.presets import preset_config
from seqtui.settings.registry import SETTINGS
from seqtui.settings.units import count_text, parse_count
from seqtui.store.run import Run

# one value for every setting, none of them the default preset's, all of them quick to train
CHOSEN = {
    "task": "palindrome",
    "negatives": "hard",
    "n-min": 2,
    "n-max": 3,
    "model": "rnn",
    "hidden": 12,
    "init": "identity",
    "lr": 0.004,
    "batch-size": 48,
    "clip": 0.5,
    "schedule": "constant",
    "warmup": 0.1,
    "curriculum": 0.25,
    "seed": 7,
    "samples": 48 * 6,
    "steps": 50,
    "time": 600.0,
    "target-acc": 0.9995,
    "device": "cpu",
    "threads": 1,
    "eval-samples": 120,
    "eval-every": 96,
    "checkpoint-every": 144,
    "log-every": 0.25,
}


def test_the_chosen_values_cover_every_setting_and_differ_from_the_preset():
    assert set(CHOSEN) == {s.name for s in SETTINGS}
    preset = preset_config({})
    same = [name for name, value in CHOSEN.items() if preset.value(name) == value]
    assert same == [], f"a dropped setting would go unnoticed: {same}"


def _assert_holds_chosen(config: TrainConfig) -> None:
    for setting in SETTINGS:
        assert config.value(setting.name) == CHOSEN[setting.name], setting.name


def _assert_trained_with_chosen(run: Run) -> None:
    """config.json, the trainer's own checkpoint and its status all say the chosen settings."""
    _assert_holds_chosen(TrainConfig.from_dict(json.loads(run.file("config.json").read_text())))
    checkpoint = load_checkpoint(run.checkpoint_path)
    _assert_holds_chosen(checkpoint.config)
    status = run.status()
    assert status.threads == 1 and status.device == "cpu" and status.state == "finished"
    assert status.examples == CHOSEN["samples"] and checkpoint.counters["examples"] == CHOSEN["samples"]
    evals = [r for r in run.read_metrics() if r["kind"] == "eval"]
    assert [r["examples"] for r in evals] == [96, 192, 288]  # every 96 examples, then the end
    assert all(
        r["samples"] == 120 and r["negatives"] == "hard" and set(r["accuracy_by_length"]) == {"4", "6"} for r in evals
    )


def test_every_setting_walks_from_the_command_line_to_the_trainer_and_config_json(tmp_path):
    args = []
    for setting in SETTINGS:
        args += [setting.flag, setting.show(CHOSEN[setting.name])]
    result = seqtui_command("train", *args, "--run-dir", str(tmp_path / "run"), "--quiet")
    assert result.returncode == 0, result.stderr
    _assert_trained_with_chosen(Run(tmp_path / "run"))


def test_every_setting_walks_from_the_new_run_form_to_the_trainer_and_config_json(tmp_path):
    from textual.widgets import Input, Select

    from seqtui.app import make_app
    from seqtui.app.screens.dialogs import NewRunDialog

    async def scenario():
        app = make_app(tmp_path / "runs")
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("f3", "n")
            await wait_for_form(pilot)
            dialog = app.screen
            assert isinstance(dialog, NewRunDialog)
            for setting in SETTINGS:  # the form has a field for every setting, and reads each back
                if setting.choices:
                    dialog.query_one(f"#f-{setting.name}", Select).value = CHOSEN[setting.name]
                    await pilot.pause()
            for setting in SETTINGS:
                if not setting.choices:
                    dialog.query_one(f"#f-{setting.name}", Input).value = setting.show(CHOSEN[setting.name])
            await pilot.pause()
            values, errors = dialog.values()
            assert errors == {} and values == CHOSEN
            await pilot.press("ctrl+s")
            deadline = asyncio.get_running_loop().time() + 60
            while (
                app.current is None or app.current.status().state != "finished"
            ) and asyncio.get_running_loop().time() < deadline:
                await pilot.pause(0.1)
            return app.current

    run = asyncio.run(scenario())
    assert run is not None
    _assert_trained_with_chosen(run)


def test_a_config_reads_back_only_what_it_wrote():
    config = preset_config(CHOSEN)
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


@pytest.mark.parametrize(
    "path, value, says",
    [
        (("lr",), "0.01", "learning rate"),
        (("lr",), float("nan"), "learning rate"),
        (("batch_size",), True, "batch size must be a whole number"),
        (("model", "hidden"), 8.0, "hidden size must be a whole number"),
        (("batch_size",), 10**9, "batch size must be between"),
        (("seed",), 2**70, "seed must be between"),
        (("eval_every",), 0.5, "eval every"),
        (("budget", "seconds"), float("inf"), "time must be a finite number"),
        (("budget", "steps"), "many", "steps must be a whole number"),
        (("model", "hidden"), 100_000, "hidden size must be between"),
        (("model", "model"), "transformer", "unknown model"),
        (("task",), ["match"], "task must be an object"),
        (("colour",), "blue", "unknown setting 'colour'"),
        (("log_every",), -1, "log every"),
        (("format",), 99, "format 99"),
    ],
)
def test_a_damaged_config_is_refused_naming_the_setting(path, value, says):
    data = small_config().to_dict()
    where = data
    for part in path[:-1]:
        where = where[part]
    where[path[-1]] = value
    with pytest.raises(SeqtuiError, match=says):
        TrainConfig.from_dict(data)


def test_a_config_of_the_first_version_still_opens():
    data = small_config().to_dict()
    del data["format"], data["threads"], data["checkpoint_every"]
    data["eval_every"] = 10.0  # seconds, in the first version
    config = TrainConfig.from_dict(data)
    assert config.eval_every == TrainConfig.eval_every and config.threads is None


@pytest.mark.parametrize(
    "text, value",
    [("20000", 20_000), ("20_000", 20_000), ("20k", 20_000), ("1.5M", 1_500_000), ("2e6", 2_000_000), ("1,000", 1000)],
)
def test_counts_are_read_as_people_write_them(text, value):
    assert parse_count(text) == value
    assert parse_count(count_text(value)) == value


def test_counts_are_written_back_short_only_where_short_is_round():
    shown = {v: count_text(v) for v in (1024, 4096, 400_128, 20_000, 1_500_000, 2_250_000)}
    assert list(shown.values()) == ["1024", "4096", "400128", "20k", "1.5M", "2.25M"]
    assert all(parse_count(text) == value for value, text in shown.items())


@pytest.mark.parametrize("text", ["nan", "inf", "1.5", "lots", ""])
def test_counts_that_are_not_whole_numbers_are_refused(text):
    with pytest.raises(SeqtuiError):
        parse_count(text)


def test_the_default_presets_count_their_budget_in_examples():
    for negatives in ("random", "hard", "mixed"):
        config = preset_config({"negatives": negatives})
        assert config.budget.seconds is None and config.budget.samples and config.reproducible
        assert 15 <= config.budget.samples / config.eval_every <= 25  # about twenty evaluations
    assert preset_config({"model": "lstm", "samples": 20_000}).eval_every == 1000
    assert preset_config({"model": "rnn", "samples": 20_000}).eval_every == 1024  # at least a batch
    capped = preset_config({"time": 30})  # a time is a cap on top of the preset's examples
    assert capped.budget == Budget(samples=400_000, seconds=30.0) and capped.reproducible
    timed = preset_config({"samples": None, "time": 30})
    assert timed.budget == Budget(seconds=30.0) and not timed.reproducible


def test_the_learning_rate_follows_work_not_the_clock():
    trainer = Trainer(small_config(budget=Budget(samples=3200, seconds=10_000.0)))
    trainer.examples, trainer.step = 1600, 50
    halfway = trainer.learning_rate()
    trainer.elapsed = 9_999.0  # however long it took
    assert trainer.learning_rate() == halfway == pytest.approx(3e-3 * (0.02 + 0.98 * 0.5))
    timed = Trainer(small_config(budget=Budget(seconds=10.0)))
    timed.elapsed = 5.0
    assert timed.learning_rate() == pytest.approx(3e-3 * (0.02 + 0.98 * 0.5))


def test_the_same_config_and_seed_give_the_same_weights_and_evaluations_however_busy_the_machine(tmp_path):
    config = small_config(
        model=ModelConfig("lstm", 12),
        budget=Budget(samples=32 * 120),
        curriculum=0.5,  # lengths drawn by the work done: the same stages however long they took
        eval_every=32 * 25,
        checkpoint_every=32 * 10,
        threads=1,
        log_every=0.01,
    )

    def train(name: str, stop_at: int | None = None):
        run = Run.create(tmp_path / name, config)
        outcome = train_until_stopped_at(run, stop_at) if stop_at is not None else runner.train(run)
        if outcome.state == "stopped":
            outcome = runner.train(run)  # the rest, resumed from the checkpoint
        assert outcome.state == "finished"
        evals = [
            {k: r[k] for k in ("examples", "accuracy_by_length", "gradient_ratio_by_length")}
            for r in run.read_metrics()
            if r["kind"] == "eval"
        ]
        return outcome.trainer.model.state_dict(), evals

    quiet_weights, quiet_evals = train("quiet")
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        busy_weights, busy_evals = train("busy")
        resumed_weights, resumed_evals = train("resumed", stop_at=53)
    finally:
        hog.kill()
        hog.wait()
    assert [e["examples"] for e in quiet_evals] == [800, 1600, 2400, 3200, 3840]
    assert busy_evals == quiet_evals == resumed_evals
    for key, value in quiet_weights.items():
        assert torch.equal(busy_weights[key], value) and torch.equal(resumed_weights[key], value), key


def test_the_run_records_what_reproduces_it(tmp_path):
    run = Run.create(tmp_path / "run", small_config(threads=1))
    runner.train(run)
    start = next(r for r in run.read_metrics() if r["kind"] == "event")
    assert start["event"] == "start" and start["threads"] == 1
    config = json.loads(run.file("config.json").read_text())
    assert config["seed"] == 0 and config["threads"] == 1 and config["device"] == "cpu"


def test_a_run_that_learned_nothing_says_so_and_what_to_do(tmp_path):
    result = seqtui_command(
        "train",
        "--model",
        "rnn",
        "--hidden",
        "8",
        "--samples",
        "512",
        "--eval-samples",
        "200",
        "--run-dir",
        str(tmp_path / "run"),
    )
    assert result.returncode == 0, result.stderr
    last = " ".join(result.stdout.split()[-60:])
    assert "held-out 0." in last and "worst length 0." in last
    assert "did not learn" in last and "Chance level" in last and "--resume" in last
    status = Run(tmp_path / "run").status()
    assert status.verdict == "chance" and status.final["worst_length"] in range(2, 21, 2)


def test_a_run_that_learned_ends_with_its_held_out_accuracy(tmp_path):
    config = small_config(
        model=ModelConfig("lstm", 32),
        lr=1e-2,
        batch_size=128,
        budget=Budget(steps=600),  # 300 reach 0.97 at length 4: short of 0.99, and said so
        task=TaskConfig(n_min=1, n_max=2),
    )
    outcome = runner.train(Run.create(tmp_path / "run", config))
    assert outcome.verdict == "learned" and "did not learn" not in outcome.message
    assert "held-out 0.9" in outcome.message or "held-out 1.0" in outcome.message


def test_a_run_well_short_of_099_at_its_worst_length_is_never_learned():
    from seqtui.core.evaluation import Evaluation, LengthResult

    def judged(worst: int) -> str | None:  # accuracy at length 20, in percent; 99% at length 2
        return runner.verdict(Evaluation("random", [LengthResult(2, 1000, 990), LengthResult(20, 1000, worst * 10)]))

    # the same words for a preset, a sweep's small short trial or the tutorial's rnn: no budget excuses
    assert judged(90) == "short" and judged(63) == "short"
    assert judged(98) == "learned" and judged(50) == "partial"


# -- light commands -------------------------------------------------------------------------------------
LIGHT = textwrap.dedent("""
    import sys
    from seqtui.cli.main import main
    try:
        main(sys.argv[1:])
    except SystemExit:
        pass
    print("TORCH" if "torch" in sys.modules else "NO TORCH", file=sys.stderr)
""")


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    run = Run.create(tmp_path_factory.mktemp("light") / "runs" / "small-run", small_config())
    runner.train(run)
    return run


@pytest.mark.parametrize(
    "args",
    [
        ["--version"],
        ["--help"],
        ["runs", "--root", "{root}"],
        ["runs", "--json"],
        ["pause", "{run}"],
        ["resume", "small-run", "--root", "{root}"],
        ["stop", "{run}"],
        ["train", "--help"],
    ],
)
def test_light_commands_import_no_torch(finished_run, args):
    args = [a.format(run=finished_run.path, root=finished_run.path.parent) for a in args]
    result = subprocess.run(
        [sys.executable, "-c", LIGHT, *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=finished_run.path.parent.parent,
    )
    assert result.stderr.strip().endswith("NO TORCH"), result.stderr


def test_the_apps_runs_list_imports_no_torch(finished_run):
    code = textwrap.dedent(f"""
        import asyncio, sys
        from pathlib import Path
        from seqtui.app import make_app
        from textual.widgets import DataTable

        async def main():
            app = make_app(Path({str(finished_run.path.parent)!r}))
            async with app.run_test(size=(100, 30)) as pilot:
                for _ in range(200):
                    if app.screen.query_one(DataTable).row_count == 1:
                        break
                    await pilot.pause(0.05)
                print("ROWS", app.screen.query_one(DataTable).row_count)
        asyncio.run(main())
        print("TORCH" if "torch" in sys.modules else "NO TORCH")
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["ROWS", "1", "NO", "TORCH"], result.stdout + result.stderr


# -- names or paths ---------------------------------------------------------------------------------------
def test_a_run_is_found_by_its_name_under_the_runs_root(finished_run, tmp_path):
    root = finished_run.path.parent
    result = seqtui_here("export", "small-run", "--root", str(root), "--out", str(tmp_path / "csv"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "csv" / "train.csv").is_file()
    by_env = subprocess.run(
        [sys.executable, "-m", "seqtui", "eval", "small-run", "--samples", "300", "--json"],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "SEQTUI_RUNS": str(root)},
    )
    assert by_env.returncode == 0, by_env.stderr
    assert json.loads(by_env.stdout)["run"] == str(finished_run.path)


def test_an_unknown_name_says_where_it_looked_and_what_is_close(finished_run):
    root = finished_run.path.parent
    result = seqtui_here("eval", "smal-run", "--root", str(root))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    line = result.stderr.strip()
    assert "\n" not in line and str(root) in line and "closest: small-run" in line


def test_nan_and_infinity_are_refused_at_the_door(tmp_path):
    for flag, value in (
        ("--time", "nan"),
        ("--time", "inf"),
        ("--lr", "nan"),
        ("--eval-every", "nan"),
        ("--samples", "1e999"),
        ("--target-acc", "nan"),
    ):
        result = seqtui_here("train", flag, value, "--run-dir", str(tmp_path / "a"))
        assert result.returncode == 2 and "Traceback" not in result.stderr, (flag, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "a").exists()


def test_the_tutorial_preset_is_the_tutorials_recipe_from_the_command_line_and_the_form(tmp_path):
    from textual.widgets import Select

    from seqtui.app import make_app

    config = preset_config({}, "tutorial")
    assert (config.model, config.batch_size, config.lr, config.schedule, config.clip, config.budget, config.task) == (
        ModelConfig("rnn", 50, "default"),
        1,
        1e-3,
        "constant",
        None,
        Budget(steps=100_000),
        TaskConfig(),
    )
    assert (config.warmup, config.curriculum) == (0.0, 0.0)  # every length from the first step, as it trained
    assert config.device == "cpu"  # on a GPU box too: batches of one are faster on the CPU
    assert preset_config({"batch-size": 1024}, "tutorial", gpu=True).device == "auto"  # larger: where it runs
    assert preset_config({"device": "cuda"}, "tutorial").device == "cuda"  # asked for: taken
    assert Trainer(config).fast is True  # the NumPy step: the tutorial's recipe, fast
    result = seqtui_command(
        "train",
        "--preset",
        "tutorial",
        "--steps",
        "200",
        "--eval-samples",
        "100",
        "--run-dir",
        str(tmp_path / "tutorial"),
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    written = Run(tmp_path / "tutorial").config()
    assert written.replaced({"steps": 100_000, "eval-samples": 20_000, "eval-every": 5000}) == config

    async def scenario():
        app = make_app(tmp_path / "runs")
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("f3", "n")
            await wait_for_form(pilot)
            dialog = app.screen
            dialog.query_one("#f-preset", Select).value = "tutorial"
            await pilot.pause(0.3)
            values, errors = dialog.values()
            assert errors == {}
            assert preset_config(values, "tutorial") == config
            dialog.query_one("#f-preset", Select).value = "default"
            await pilot.pause(0.3)
            dialog.query_one("#f-model", Select).value = "rnn"  # the rnn's own values, its budget included
            await pilot.pause(0.3)
            values, errors = dialog.values()
            assert errors == {}
            assert preset_config(values) == preset_config({"model": "rnn"})

    asyncio.run(scenario())


def test_the_new_run_form_shows_the_cards_presets_where_auto_means_a_gpu(tmp_path, monkeypatch):
    from textual.widgets import Input

    from seqtui.app import make_app
    from seqtui.settings.presets import gpu_likely

    assert gpu_likely() == torch.cuda.is_available()  # torch loaded: its own answer
    shown = {}
    for gpu in (True, False):
        monkeypatch.setattr("seqtui.app.screens.dialogs.gpu_likely", lambda gpu=gpu: gpu)

        async def scenario(gpu: bool) -> None:
            app = make_app(tmp_path / "runs")
            async with app.run_test(size=(100, 30)) as pilot:
                await pilot.press("f3", "n")
                await wait_for_form(pilot)
                form = app.screen
                shown[gpu] = [form.query_one(f"#f-{name}", Input).value for name in ("batch-size", "lr", "samples")]
                values, errors = form.values()
                assert errors == {} and preset_config(values).batch_size == (1024 if gpu else 256)

        asyncio.run(scenario(gpu))
    assert shown == {True: ["1024", "0.04", "1M"], False: ["256", "0.02", "400k"]}  # as `seqtui train` takes


def test_a_gpu_gets_its_own_sizes_and_a_cpu_keeps_its_own():
    cpu, gpu = preset_config({"device": "cpu"}), preset_config({"device": "cuda"})
    assert (cpu.batch_size, cpu.lr, cpu.budget.samples) == (256, 2e-2, 400_000)
    assert (gpu.batch_size, gpu.lr, gpu.budget.samples) == (1024, 4e-2, 1_000_000)
    assert preset_config({"device": "auto"}, gpu=True).batch_size == 1024  # auto, on a machine with a GPU
    assert preset_config({"model": "rnn", "device": "cuda"}).batch_size == 1024  # already sized
    assert preset_config({"device": "cuda", "batch-size": 64}).batch_size == 64  # flags win
