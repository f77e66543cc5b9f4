"""Pictures of each screen at 100x30 and 80x24, from fixed data (pytest-textual-snapshot).

Regenerate after an intended change with: python -m pytest tests/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from conftest import wait_for_form

from seqtui.app import make_app
from seqtui.core.checkpoint import save_checkpoint
from seqtui.core.models import ModelConfig
from seqtui.core.tasks import TaskConfig
from seqtui.core.training import Budget, TrainConfig, Trainer
from seqtui.store.run import Run

SIZES = [(100, 30), (80, 24)]


def synthetic_run(root: Path, name: str = "lstm-match-random", model: str = "lstm", pace: float = 1.0) -> Run:
    """A finished run with made-up, fixed metrics and a seeded (untrained) checkpoint; `pace` < 1
    learns slower and tops out lower."""
    config = TrainConfig(
        task=TaskConfig(n_min=1, n_max=5),
        model=ModelConfig(model, 24),
        budget=Budget(steps=2000),
        eval_samples=100,
        device="cpu",
    )
    run = Run.create(root / name, config)
    trainer = Trainer(config)
    trainer.step, trainer.examples, trainer.elapsed = 2000, 512_000, 40.0 / pace
    save_checkpoint(trainer, run.checkpoint_path)
    records = [{"kind": "event", "event": "start", "step": 0, "examples": 0, "elapsed": 0.0}]
    for i in range(1, 201):
        step = i * 10
        loss = 0.7 * math.exp(-step * pace / 500) + 0.02 / pace + 0.01 * math.sin(i)
        records.append(
            {
                "kind": "train",
                "step": step,
                "examples": step * 256,
                "elapsed": step / (50 * pace),
                "loss": loss,
                "accuracy": 1 - loss / 1.4,
                "examples_per_s": 12_800.0,
                "grad_norm": 0.5,
                "lr": 5e-3,
                "progress": step / 2000,
            }
        )
        if i % 20 == 0:
            by_length = {str(2 * n): min(1.0, 0.5 + pace * step / 2000 - 0.04 * n / pace) for n in range(1, 6)}
            decay = 0.3 + 0.6 * step / 2000  # per step back: the flow improves as training goes
            norms = {str(2 * n): [decay ** (2 * n - t) for t in range(1, 2 * n + 1)] for n in range(1, 6)}
            records.append(
                {
                    "kind": "eval",
                    "step": step,
                    "examples": step * 256,
                    "elapsed": step / (50 * pace),
                    "accuracy": sum(by_length.values()) / 5,
                    "worst": min(by_length.values()),
                    "accuracy_by_length": by_length,
                    "gradient_norms_by_length": norms,
                    "gradient_ratio_by_length": {k: v[0] / v[-1] for k, v in norms.items()},
                }
            )
    records.append({"kind": "event", "event": "finish", "step": 2000, "examples": 512_000, "elapsed": 40.0 / pace})
    (run.path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (run.path / "status.json").write_text(
        json.dumps(
            {
                "state": "finished",
                "pid": None,
                "host": "test",
                "device": "cpu",
                "step": 2000,
                "examples": 512_000,
                "elapsed": 40.0 / pace,
                "best_worst": 0.8,
                "message": "budget reached at step 2000",
                "heartbeat": 0.0,
            }
        )
    )
    return run


async def model_loaded(pilot, timeout: float = 30.0) -> None:
    """The probe screen's model, loaded in a worker; a failed load fails the test, never hangs it."""
    from textual.widgets import Input

    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False  # a blinking cursor is on or off as the picture is taken
    for _ in range(int(timeout / 0.05)):
        if pilot.app.screen.model is not None:
            return
        await pilot.pause(0.05)
    raise AssertionError("the probe screen's model did not load")


@pytest.fixture
def runs_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    synthetic_run(Path("runs"))
    return Path("runs")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_runs_screen(snap_compare, runs_root, size):
    assert snap_compare(make_app(runs_root), terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_train_screen(snap_compare, runs_root, size):
    assert snap_compare(make_app(runs_root, runs_root / "lstm-match-random"), terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_new_run_dialog(snap_compare, runs_root, size):

    async def open_form(pilot):
        await pilot.press("f3", "n")
        await wait_for_form(pilot)
        pilot.app.clear_notifications()  # "opening the new-run form": not part of the picture
        for _ in range(100):  # until its toast has gone from every screen
            if not any(screen.query("Toast") for screen in pilot.app.screen_stack):
                break
            await pilot.pause(0.05)
        await pilot.pause()

    assert snap_compare(make_app(runs_root), terminal_size=size, run_before=open_form)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_probe_screen(snap_compare, runs_root, size):
    async def probe(pilot):
        await pilot.press("f4")
        await model_loaded(pilot)
        await pilot.press(*"3 1 4 1 5 3 1 4 1 5", "enter")
        await pilot.pause()

    assert snap_compare(make_app(runs_root, runs_root / "lstm-match-random"), terminal_size=size, run_before=probe)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_evaluate_screen(snap_compare, runs_root, size):
    async def evaluate(pilot):
        await pilot.press("f5")
        pilot.app.screen.query_one("#eval-samples").value = "700"
        pilot.app.screen.query_one("#eval-max-len").value = "14"
        await pilot.press("e")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.2)

    assert snap_compare(make_app(runs_root, runs_root / "lstm-match-random"), terminal_size=size, run_before=evaluate)


def test_too_small(snap_compare, runs_root):
    assert snap_compare(make_app(runs_root), terminal_size=(70, 20))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_gradients_screen(snap_compare, runs_root, size):
    assert snap_compare(make_app(runs_root, runs_root / "lstm-match-random"), terminal_size=size, press=["f6"])


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_probe_screen_pca_path(snap_compare, runs_root, size):
    async def probe(pilot):
        await pilot.press("f4")
        await model_loaded(pilot)
        await pilot.press(*"3 1 4 1 5 3 1 4 1 5", "enter", "p")
        chart = pilot.app.screen.query_one("#pca-chart")
        for _ in range(600):  # the principal components are fitted in a worker
            if chart.lines:
                break
            await pilot.pause(0.05)
        await pilot.pause()

    assert snap_compare(make_app(runs_root, runs_root / "lstm-match-random"), terminal_size=size, run_before=probe)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_compare_screen(snap_compare, tmp_path, monkeypatch, size):
    from seqtui.sweep.manifest import Manifest, write_manifest
    from seqtui.sweep.spec import SweepSpec

    monkeypatch.chdir(tmp_path)
    root = Path("runs")
    spec = SweepSpec.build("cmp-demo", {"model": ["rnn", "lstm", "gru"]}, kind="comparison")
    write_manifest(root / "cmp-demo", Manifest(spec.name, spec, {}))
    for model, pace in (("rnn", 0.6), ("lstm", 1.0), ("gru", 0.85)):
        synthetic_run(root / "cmp-demo", model, model, pace)
    (root / "cmp-demo" / "report.md").write_text("# Comparison demo\n")
    assert snap_compare(make_app(root, root / "cmp-demo" / "lstm"), terminal_size=size, press=["f7"])


def synthetic_sweep(root: Path) -> None:
    """A finished sweep (rnn, lstm x hidden 16, 32 x 2 seeds) with made-up, fixed measurements."""
    from seqtui.store.layout import HELDOUT
    from seqtui.sweep.manifest import Manifest, TrialRecord, write_manifest
    from seqtui.sweep.spec import SweepSpec

    spec = SweepSpec.build("memory", {"model": ["rnn", "lstm"], "hidden": [16, 32], "n-max": 5}, seeds=2)
    records = {}
    for trial in spec.trials():
        run = synthetic_run(root / "memory", trial.name, trial.values["model"], 1.0)
        records[trial.name] = TrialRecord(trial.name, dict(trial.values), state="finished", attempts=1)
        skill = (0.35 if trial.values["model"] == "rnn" else 0.9) + trial.values["hidden"] / 400
        skill += 0.01 * trial.values["seed"]
        by_length = {str(2 * n): round(min(0.9995, 0.5 + 0.5 * skill ** (n / 3)), 4) for n in range(1, 11)}
        heldout = {
            "format": 1,
            "step": 2000,
            "examples": 512_000,
            "seconds": 40.0,
            "samples": 20_000,
            "n_max": 5,
            "random": by_length,
            "hard": {k: round(v * 0.9, 4) for k, v in by_length.items()},
            "gradient_ratio": 0.01 * skill,
            "examples_to": {"0.99": 300_000} if skill > 0.95 else {},
            "seconds_to": {},
        }
        (run.path / HELDOUT).write_text(json.dumps(heldout))
    write_manifest(root / "memory", Manifest("memory", spec, records))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_sweep_screen(snap_compare, tmp_path, monkeypatch, size):
    monkeypatch.chdir(tmp_path)
    synthetic_sweep(Path("runs"))
    assert snap_compare(make_app(Path("runs")), terminal_size=size, press=["f8"])
