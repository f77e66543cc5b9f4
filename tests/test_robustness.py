"""Nothing lost, nothing crashes: run directories under kills, damage, full disks and hostile files.

Each class of failure gets its test: a refused command changes nothing; every run can be trained
again with one command; readers turn damage into one message tied to the run; sizes are checked
before allocation; non-finite numbers are refused; a diverged run keeps a good checkpoint; a full
disk ends in a message, not a traceback, and loses nothing saved."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import seqtui_command, seqtui_here, small_config, wait_until
from safetensors import safe_open
from safetensors.torch import save_file

from seqtui.core.checkpoint import load_checkpoint, save_checkpoint
from seqtui.core.training import Trainer
from seqtui.session import runner
from seqtui.settings.config import Budget, ModelConfig
from seqtui.settings.errors import SeqtuiError, SettingError
from seqtui.store.catalogue import list_runs
from seqtui.store.export import export_csv
from seqtui.store.history import RunFollower
from seqtui.store.run import Run

TRAIN = ["--model", "rnn", "--hidden", "16", "--n-max", "3", "--batch-size", "32", "--eval-samples", "300"]


def fingerprint(path: Path) -> dict[str, str]:
    """Every file under `path` and a hash of its bytes."""
    return {
        str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def one_line(result, says: str, code: int = 1) -> None:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], result.stderr


def trainer(run_dir: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "seqtui", "train", *TRAIN, "--run-dir", str(run_dir), "--quiet", *extra],
        env=dict(os.environ, OMP_NUM_THREADS="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def finished(tmp_path) -> Run:
    run = Run.create(tmp_path / "runs" / "done", small_config(eval_every=32 * 10))
    assert runner.train(run).state == "finished"
    return run


# -- a refused command changes nothing --------------------------------------------------------------
def test_a_resume_refused_because_the_run_trains_leaves_the_live_run_alone(tmp_path):
    run_dir = tmp_path / "live"
    process = trainer(run_dir, "--steps", "1M", "--log-every", "0.05")
    try:
        run = Run(run_dir)
        wait_until(lambda: run.status().active and run.status().step > 20, what="training")
        config = run.file("config.json").read_bytes()
        lines = len(run.file("metrics.jsonl").read_text().splitlines())
        result = seqtui_command("train", "--resume", str(run_dir), "--samples", "100")
        one_line(result, f"being trained by process {process.pid}")
        assert run.file("config.json").read_bytes() == config
        records = run.read_metrics()
        assert len(records) >= lines  # nothing cut from the live log
        assert [r["event"] for r in records if r["kind"] == "event"] == ["start"]  # no false resume
        assert run.status().pid == process.pid
        # two trainers at once on one run: never (the second is refused the same way)
        second = subprocess.run(
            [sys.executable, "-m", "seqtui", "train", "--resume", str(run_dir), "--quiet"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        one_line(second, "being trained by process")
    finally:
        process.kill()
        process.wait()


@pytest.mark.parametrize(
    "args, says",
    [
        ([], "whole budget"),
        (["--lr", "0.5"], "cannot change when resuming"),
        (["--samples", "nan"], "not a whole count"),
        (["--samples", "10", "--threads", "0"], "threads must be at least 1"),
    ],
)
def test_a_refused_resume_changes_no_byte(finished, args, says):
    before = fingerprint(finished.path)
    result = seqtui_command("train", "--resume", str(finished.path), *args)
    assert result.returncode in (1, 2) and says in result.stderr and "Traceback" not in result.stderr
    assert fingerprint(finished.path) == before


def test_a_config_that_disagrees_with_its_checkpoint_is_refused_untouched(finished):
    config = json.loads(finished.file("config.json").read_text())
    config["model"]["hidden"] = 17
    finished.file("config.json").write_text(json.dumps(config))
    before = fingerprint(finished.path)
    with pytest.raises(SeqtuiError, match="disagree on model"):
        runner.train(finished, Budget(steps=5))
    assert fingerprint(finished.path) == before
    outcome = runner.train(finished, restart=True)  # the way out it names: config.json's settings, from 0
    assert outcome.state == "finished" and outcome.step == 40
    assert load_checkpoint(finished.checkpoint_path).config.model.hidden == 17


# -- every run can be trained again with one command -------------------------------------------------
def test_a_run_killed_before_its_first_checkpoint_trains_with_one_command(tmp_path):
    run = Run.create(tmp_path / "early", small_config())  # config.json only: a trainer killed at once
    (run.path / "status.json").write_text(
        json.dumps(
            {"state": "running", "pid": 2**31 - 2, "host": os.uname()[1], "step": 0, "examples": 0, "elapsed": 0.0}
        )
    )
    assert run.status().state == "interrupted"
    result = seqtui_command("train", "--resume", str(run.path))
    assert result.returncode == 0, result.stderr
    assert run.status().state == "finished" and load_checkpoint(run.checkpoint_path).step == 40


def test_kills_at_any_moment_never_leave_a_run_that_cannot_go_on(tmp_path):
    """SIGKILL while the trainer starts, and at several points of training (each a step count the
    run's own status reached, checkpoints every 10 steps in between): every time, the next
    `--resume` goes on from what is on disk."""
    run_dir = tmp_path / "killed"
    run = Run(run_dir)
    for moment in ("starting", 15, 40, "starting", 75, 160):
        args = (
            ["--resume", str(run_dir), "--samples", "20k", "--quiet"]
            if run_dir.exists()
            else [
                *TRAIN,
                "--steps",
                "1M",
                "--log-every",
                "0.02",
                "--checkpoint-every",
                "320",
                "--run-dir",
                str(run_dir),
            ]
        )
        before = run.raw_status().step if run_dir.exists() else 0
        process = subprocess.Popen(
            [sys.executable, "-m", "seqtui", "train", *map(str, args)],
            env=dict(os.environ, OMP_NUM_THREADS="1"),
            stderr=subprocess.PIPE,
        )
        if isinstance(moment, int):  # in training: the status says it has gone that far past its start
            target = before + moment
            wait_until(lambda target=target: run_dir.exists() and run.raw_status().step >= target, 120, "training")
        process.kill()
        process.wait()
        state = run.status().state
        assert not run.trainer_alive()
        if moment == "starting" and before == 0:
            assert not run_dir.exists() or state == "new", state  # killed before it trained a step
        elif moment == "starting":
            assert state == "interrupted", state  # as the kill before left it
        else:
            assert state == "interrupted" and run.raw_status().step >= before + moment, state
    # a killed write leaves a temporary behind; the next writer removes it
    (run_dir / f".checkpoint.safetensors.{2**31 - 3}.tmp").write_bytes(b"half")
    result = seqtui_command("train", "--resume", str(run_dir), "--steps", "20")
    assert result.returncode == 0, result.stderr
    run = Run(run_dir)
    assert run.status().state == "finished" and not list(run_dir.glob(".*.tmp"))
    steps = [r["step"] for r in run.read_metrics() if r["kind"] == "train"]
    assert steps == sorted(steps) and steps[-1] == run.status().step  # no step logged twice


def test_a_start_that_failed_says_why_and_can_be_retried(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    run = Run.create(tmp_path / "gpu", small_config(device="cuda"))
    result = seqtui_command("train", "--resume", str(run.path))
    one_line(result, "no CUDA device")
    status = run.status()
    assert status.state == "failed" and "could not start" in status.message
    result = seqtui_command("train", "--resume", str(run.path), "--device", "cpu")
    assert result.returncode == 0, result.stderr
    assert run.status().state == "finished"


def test_a_run_whose_checkpoint_is_ruined_restarts_from_step_0(finished):
    finished.checkpoint_path.write_bytes(b"\0" * 100)
    with pytest.raises(SeqtuiError, match="not a readable checkpoint"):
        runner.train(finished, Budget(steps=5))
    outcome = runner.train(finished, restart=True)
    assert outcome.state == "finished" and outcome.step == 40
    events = [r["event"] for r in finished.read_metrics() if r["kind"] == "event"]
    assert events == ["start", "finish"]  # the old run's log is replaced with the new one's


# -- readers are total -----------------------------------------------------------------------------
STATUS_DAMAGE = {
    "step-text": lambda p: p.write_text(json.dumps({"state": "finished", "step": "abc"})),
    "huge-pid": lambda p: p.write_text(json.dumps({"state": "running", "pid": 2**70})),
    "dict-state": lambda p: p.write_text(json.dumps({"state": {"x": 1}})),
    "not-json": lambda p: p.write_text('{"state": '),
    "a-list": lambda p: p.write_text("[1, 2]"),
    "directory": lambda p: (p.unlink(), p.mkdir()),
    "dev-zero": lambda p: (p.unlink(), p.symlink_to("/dev/zero")),
    "huge": lambda p: p.write_text(" " * (2 << 20)),
}
CONFIG_DAMAGE = {
    "config-missing": lambda p: p.unlink(),
    "config-not-json": lambda p: p.write_text("{not json"),
    "config-strings": lambda p: p.write_text(json.dumps({**json.loads(p.read_text()), "lr": "0.01"})),
    "config-nan": lambda p: p.write_text(p.read_text().replace('"lr": 0.003', '"lr": NaN')),
    "config-directory": lambda p: (p.unlink(), p.mkdir()),
}
METRICS_DAMAGE = {
    "metrics-directory": lambda p: (p.unlink(), p.mkdir()),
    "metrics-dev-zero": lambda p: (p.unlink(), p.symlink_to("/dev/zero")),
    "metrics-bad-lengths": lambda p: p.write_text(
        p.read_text()
        + json.dumps(
            {
                "kind": "eval",
                "step": 99,
                "examples": 1,
                "accuracy": 0.5,
                "worst": 0.5,
                "accuracy_by_length": {"two": 0.5},
                "gradient_ratio_by_length": {"2": "x"},
            }
        )
        + "\n"
        + json.dumps({"kind": "train", "step": "7", "loss": [], "accuracy": 2})
        + "\n"
        + "\xff\n"
    ),
}


@pytest.fixture
def damaged_root(finished) -> Path:
    root = finished.path.parent
    for group in (STATUS_DAMAGE, CONFIG_DAMAGE, METRICS_DAMAGE):
        for name, damage in group.items():
            shutil.copytree(finished.path, root / name)
            file = {
                id(STATUS_DAMAGE): "status.json",
                id(CONFIG_DAMAGE): "config.json",
                id(METRICS_DAMAGE): "metrics.jsonl",
            }[id(group)]
            damage(root / name / file)
    return root


def test_every_damaged_run_is_listed_as_such_and_the_others_still_work(damaged_root):
    summaries = {s.run.name: s for s in list_runs(damaged_root)}
    assert set(summaries) == {"done", *STATUS_DAMAGE, *CONFIG_DAMAGE, *METRICS_DAMAGE}
    assert summaries["done"].state == "finished" and summaries["done"].problem is None
    for name in (*STATUS_DAMAGE, *CONFIG_DAMAGE):
        assert summaries[name].state == "damaged" and summaries[name].problem, name
    assert "step is 'abc'" in summaries["step-text"].problem
    assert "not a regular file" in summaries["dev-zero"].problem
    assert "learning rate must be a positive number" in summaries["config-strings"].problem
    assert "got nan" in summaries["config-nan"].problem
    for name in METRICS_DAMAGE:  # the status is fine: the run is listed as it is
        assert summaries[name].state == "finished"


def test_followers_and_exports_read_damaged_metrics_without_falling_over(damaged_root):
    for name in METRICS_DAMAGE:
        follower = RunFollower(Run(damaged_root / name))
        follower.poll()
        if name == "metrics-bad-lengths":
            assert follower.problem is None and follower.reader.skipped == 3
            assert all(set(e["accuracy_by_length"]) <= {"2", "4", "6"} for e in follower.history.evaluations)
            assert export_csv(Run(damaged_root / name))
        else:
            assert "not a regular file" in follower.problem
            with pytest.raises(SeqtuiError, match="not a regular file"):
                export_csv(Run(damaged_root / name))
    for name in (*STATUS_DAMAGE, *CONFIG_DAMAGE):
        follower = RunFollower(Run(damaged_root / name))
        follower.poll()
        assert follower.problem


def test_the_commands_meet_damage_with_one_line(damaged_root):
    result = seqtui_command("runs", "--root", str(damaged_root))
    assert result.returncode == 0 and "Traceback" not in result.stderr
    assert "step is 'abc'" in result.stderr and "done" in result.stdout  # piped: damage on stderr
    for args, says in (
        (["gradients", "metrics-bad-lengths", "--samples", "8"], None),
        (["export", "metrics-bad-lengths"], None),
        (["export", "metrics-dev-zero"], "not a regular file"),
        (["gradients", "metrics-directory", "--samples", "8"], "not a regular file"),
        (["open", "config-strings"], "learning rate must be a positive number"),
        (["eval", "config-not-json", "--samples", "100"], "not valid JSON"),  # refused as resume refuses it
        (["train", "--resume", "config-not-json"], "not valid JSON"),
        (["train", "--resume", "step-text", "--steps", "5"], None),  # a damaged status is rewritten
    ):
        result = seqtui_here(*args, "--root", str(damaged_root))
        if says is None:
            assert result.returncode == 0 and "Traceback" not in result.stderr, (args, result.stderr)
        else:
            one_line(result, says)


def test_a_status_naming_some_other_live_process_is_not_a_trainer(finished):
    status = json.loads(finished.file("status.json").read_text())
    finished.file("status.json").write_text(json.dumps({**status, "state": "running", "pid": 1}))
    assert finished.status().state == "interrupted"
    one_line(seqtui_command("stop", str(finished.path)), "is not training")
    assert (
        not finished.file("control.json").exists()
        or json.loads(finished.file("control.json").read_text())["want"] != "stopped"
    )


def test_names_holding_escape_sequences_are_printed_harmlessly(finished):
    evil = finished.path.parent / "evil\x1b[2J\x1b]0;owned\x07"
    shutil.copytree(finished.path, evil)
    result = seqtui_command("runs", "--root", str(finished.path.parent), "--json")
    assert result.returncode == 0
    result = seqtui_command("runs", "--root", str(finished.path.parent))
    assert "\x1b]0" not in result.stdout and "\x1b[2J" not in result.stdout and "evil?[2" in result.stdout


# -- sizes checked before allocation ----------------------------------------------------------------
def test_a_checkpoint_claiming_a_huge_model_is_refused_before_anything_is_allocated(finished):
    path = finished.checkpoint_path
    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata()
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}
    config = json.loads(metadata["config"])
    config["model"]["hidden"] = 16_000
    save_file(tensors, path, metadata={**metadata, "config": json.dumps(config)})
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB
    with pytest.raises(SeqtuiError, match="does not fit the model its metadata describes"):
        load_checkpoint(path)
    for args in (
        ["eval", str(finished.path)],
        ["predict", str(finished.path), "1212"],
        ["gradients", str(finished.path)],
        ["train", "--resume", str(finished.path), "--steps", "5"],
    ):
        one_line(seqtui_here(*args), "does not fit the model")
    # a 16,000-unit LSTM is gigabytes: refused from the header, before any of it is allocated
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak < 200_000


@pytest.mark.parametrize(
    "args, says",
    [
        (["train", "--hidden", "100000"], "hidden size must be between 1 and 16,384"),
        (["train", "--batch-size", "1e9"], "batch size must be between"),
        (["train", "--hidden", "16384", "--batch-size", "1M", "--samples", "1M"], "of memory; this machine has"),
        (["train", "--seed", str(2**70)], "seed must be between"),
    ],
)
def test_absurd_sizes_are_refused_at_the_door_with_the_estimate(tmp_path, args, says):
    result = seqtui_here(*args, "--run-dir", str(tmp_path / "a"))
    assert result.returncode in (1, 2) and says in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert not (tmp_path / "a").exists()


def test_a_gradient_probe_too_large_for_memory_is_refused(finished):
    one_line(seqtui_command("gradients", str(finished.path), "--samples", "1G"), "of memory")


# -- divergence keeps a good checkpoint -------------------------------------------------------------
def test_a_run_that_diverges_keeps_its_last_finite_checkpoint(tmp_path):
    config = small_config(budget=Budget(steps=200), eval_every=32, checkpoint_every=32, log_every=1e-9)
    run = Run.create(tmp_path / "diverging", config)
    original = Trainer.train_step

    def poisoned(self, lr):
        if self.step == 12:
            with torch.no_grad():
                self.model.recurrent.weight_hh_l0.fill_(float("nan"))
        return original(self, lr)

    Trainer.train_step = poisoned
    try:
        outcome = runner.train(run)
    finally:
        Trainer.train_step = original
    assert outcome.state == "failed" and "non-finite" in outcome.message
    checkpoint = load_checkpoint(run.checkpoint_path)
    assert checkpoint.finite() and checkpoint.step <= 12
    assert run.status().state == "failed"
    evals = [r for r in run.read_metrics() if r["kind"] == "eval"]
    assert all(r["step"] <= 12 for r in evals)  # broken weights were never evaluated
    result = runner.train(run, Budget(steps=10))  # and the run goes on from the good checkpoint
    assert result.state == "finished" and result.step == checkpoint.step + 10


def test_eval_and_predict_refuse_non_finite_weights(tmp_path):
    config = small_config()
    run = Run.create(tmp_path / "nan", config)
    trainer = Trainer(config)
    with torch.no_grad():
        trainer.model.head.weight.fill_(float("nan"))
    trainer.weights_finite = lambda: True  # as a writer that did not check would
    save_checkpoint(trainer, run.checkpoint_path)
    for args in (["eval", str(run.path)], ["predict", str(run.path), "1212"]):
        one_line(seqtui_command(*args), "non-finite weights")
    with pytest.raises(SeqtuiError, match="not finite"):
        save_checkpoint(_nan_trainer(config), tmp_path / "x.safetensors")
    assert not (tmp_path / "x.safetensors").exists()


def _nan_trainer(config):
    trainer = Trainer(config)
    with torch.no_grad():
        trainer.model.head.bias.fill_(float("inf"))
    return trainer


# -- a full disk -------------------------------------------------------------------------------------
def test_no_space_while_training_ends_in_a_message_and_keeps_the_checkpoint(tmp_path, monkeypatch):
    from seqtui.core import checkpoint as module

    run = Run.create(tmp_path / "full", small_config(budget=Budget(steps=200), checkpoint_every=32 * 5))
    calls = []
    real = module.save_file

    def save_until_full(*args, **kwargs):
        calls.append(1)
        if len(calls) > 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "save_file", save_until_full)
    with pytest.raises(SeqtuiError, match="no space left on the device.*--resume"):
        runner.train(run)
    checkpoint = load_checkpoint(run.checkpoint_path)
    assert checkpoint.step == 10 and checkpoint.finite()
    status = run.status()
    assert status.state == "failed" and "no space" in status.message
    assert not list(run.path.glob(".*.tmp"))
    monkeypatch.setattr(module, "save_file", real)
    assert runner.train(run).state == "finished"


def test_no_space_during_a_resume_changes_nothing(finished, monkeypatch):
    from seqtui.store import files as module

    before = fingerprint(finished.path)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(module.os, "fsync", full)
    with pytest.raises(SeqtuiError, match="no space left"):
        runner.train(finished, Budget(steps=10))
    monkeypatch.undo()
    after = fingerprint(finished.path)
    assert {k: v for k, v in after.items() if k != "checkpoint.safetensors"} == {
        k: v for k, v in before.items() if k != "checkpoint.safetensors"
    }
    assert load_checkpoint(finished.checkpoint_path).step == 40
    assert finished.config().budget.steps == 40 and not list(finished.path.glob(".*.tmp"))


@pytest.fixture
def small_disk(tmp_path):
    """A real 1 MB file system, where the machine allows mounting one."""
    where = tmp_path / "disk"
    where.mkdir()
    if (
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)], capture_output=True).returncode
        != 0
    ):
        pytest.skip("cannot mount a small file system here")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def test_a_real_full_disk_ends_training_with_one_line_and_loses_nothing(small_disk):
    run_dir = small_disk / "run"
    process = trainer(run_dir, "--steps", "1M", "--log-every", "0.01", "--checkpoint-every", "320")
    wait_until(lambda: Run(run_dir).status().step > 50, what="training")
    free = shutil.disk_usage(small_disk).free
    (small_disk / "filler").write_bytes(b"\0" * max(0, free - 20_000))
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 1 and "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1 and "no space left" in stderr
    run = Run(run_dir)
    checkpoint = load_checkpoint(run.checkpoint_path)
    assert checkpoint.finite() and checkpoint.step > 0
    (small_disk / "filler").unlink()
    result = seqtui_command("train", "--resume", str(run_dir), "--steps", "10")
    assert result.returncode == 0, result.stderr
    assert run.status().state == "finished" and not list(run_dir.glob(".*.tmp"))


# -- signals still stop cleanly while another holds nothing -----------------------------------------
def test_a_stopped_trainer_releases_the_run_at_once(tmp_path):
    run_dir = tmp_path / "run"
    process = trainer(run_dir, "--steps", "1M")
    try:
        wait_until(lambda: Run(run_dir).status().step > 5, what="training")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 128 + signal.SIGTERM
    finally:
        process.kill()
    run = Run(run_dir)
    assert run.holder() is None and run.status().state == "stopped"


def test_lstm_runs_are_checked_as_closely(tmp_path):
    """The shape checks know every model's tensors (the LSTM's four gates, the GRU's three)."""
    for model in ("lstm", "gru"):
        config = small_config(model=ModelConfig(model, 8))
        run = Run.create(tmp_path / model, config)
        runner.train(run)
        assert load_checkpoint(run.checkpoint_path).build_model()


# -- found in review: each a way round the rules above ----------------------------------------------
def test_a_heartbeat_from_the_future_does_not_keep_a_run_alive_for_ever(finished):
    status = json.loads(finished.file("status.json").read_text())
    status.update(state="running", host="elsewhere", pid=123, heartbeat=time.time() + 10**6)
    finished.file("status.json").write_text(json.dumps(status))
    assert finished.status().state == "interrupted" and not finished.trainer_alive()
    status["heartbeat"] = time.time() - 5  # a live trainer on another host, on trust
    finished.file("status.json").write_text(json.dumps(status))
    assert finished.status().state == "running"
    with pytest.raises(SeqtuiError, match="being trained on elsewhere"):
        runner.train(finished, Budget(steps=5))


def test_a_refused_restart_or_extension_changes_no_byte(finished):
    before = fingerprint(finished.path)
    if not torch.cuda.is_available():
        with pytest.raises(SeqtuiError, match="no CUDA device"):
            runner.train(finished, settings={"device": "cuda"}, restart=True)
    with pytest.raises(SeqtuiError, match="steps must be between"):
        runner.train(finished, Budget(steps=10**15))
    with pytest.raises(SettingError, match="lr cannot change when a run resumes") as refused:
        runner.train(finished, settings={"lr": 0.5})
    assert refused.value.setting == "lr"
    assert fingerprint(finished.path) == before


def test_creating_a_run_in_someone_elses_directory_touches_nothing(tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / f".cache.{2**31 - 5}.tmp").write_text("keep me")
    with pytest.raises(SeqtuiError, match="already exists and is not empty: pick another --run-dir$"):
        Run.create(folder, small_config())
    assert sorted(p.name for p in folder.iterdir()) == [f".cache.{2**31 - 5}.tmp"]


def test_resume_keeps_the_lines_it_cannot_read(finished):
    with open(finished.file("metrics.jsonl"), "a") as handle:
        handle.write('{"kind": "annotation", "step": 3, "note": "from a newer seqtui"}\n')
        handle.write("a damaged line\n")
        handle.write(json.dumps({"kind": "train", "step": 10**6, "examples": 1, "loss": 1, "accuracy": 0}) + "\n")
    runner.train(finished, Budget(steps=5))
    text = finished.file("metrics.jsonl").read_text()
    assert "from a newer seqtui" in text and "a damaged line" in text and '"step": 1000000' not in text


def test_a_log_rewritten_in_place_is_noticed_whatever_its_size(tmp_path):
    from seqtui.store.records import MetricsReader

    path = tmp_path / "metrics.jsonl"
    line = json.dumps({"kind": "train", "step": 1, "examples": 32, "loss": 0.5, "accuracy": 0.5}) + "\n"
    path.write_text(line * 3)
    reader = MetricsReader(path)
    assert len(reader.read_new()) == 3
    other = line.replace('"step": 1', '"step": 2')
    with open(path, "r+") as handle:  # the same file (the same inode), other lines, longer
        handle.write(other * 5)
    assert [r["step"] for r in reader.read_new()] == [2] * 5 and reader.restarts == 1


def test_a_stop_asked_while_the_trainer_starts_is_obeyed(tmp_path):
    run = Run.create(tmp_path / "run", small_config(budget=Budget(steps=10_000), log_every=1e-9))
    outcome = runner.train(run, on_start=lambda trainer: run.request("stopped"))
    assert outcome.state == "stopped" and outcome.step < 10


def test_reports_and_logs_that_are_not_what_they_claim_are_read_harmlessly(tmp_path):
    from seqtui.session.launch import log_tail
    from seqtui.sweep.trial import read_heldout

    (tmp_path / "nan").mkdir()
    (tmp_path / "nan" / "heldout.json").write_text('{"format": 1, "random": {"2": NaN}, "hard": {"2": -1}}')
    assert read_heldout(Run(tmp_path / "nan")) is None
    (tmp_path / "zero").mkdir()
    (tmp_path / "zero" / "train.log").symlink_to("/dev/zero")
    (tmp_path / "zero" / "heldout.json").symlink_to("/dev/zero")
    os.mkfifo(tmp_path / "fifo.log")
    os.mkfifo(tmp_path / "nan" / "config.json")
    # none of these blocks (a hang would end the test at its timeout): each is read as nothing
    assert log_tail(tmp_path / "zero") == "no output" and log_tail(tmp_path / "fifo.log", whole=True) == ""
    assert read_heldout(Run(tmp_path / "zero")) is None
    assert "not a regular file" in (Run(tmp_path / "nan").config_problem() or "")


def test_memory_is_counted_against_a_containers_cap(tmp_path, monkeypatch):
    from seqtui.settings import limits

    (tmp_path / "max").write_text("1000000\n")
    (tmp_path / "current").write_text("250000\n")
    monkeypatch.setattr(limits, "CGROUP_FILES", [(str(tmp_path / "max"), str(tmp_path / "current"))])
    assert limits.available_memory() == 750_000
    (tmp_path / "max").write_text("max\n")
    assert limits.available_memory() > 750_000


@pytest.mark.parametrize(
    "args, says, code",
    [
        (["predict", "{run}", "12" * 600], "too long: 1,200 digits", 1),
        (["eval", "{run}", "--seed", str(10**30)], "--seed must be between", 1),
        (["eval", "{run}", "--max-len", "5000"], "--max-len must be an even length", 1),
        (["train", "--nice", str(10**20)], "must be between 0 and 19", 2),
        (["compare", "--eval-samples", "3", "--steps", "1", "--root", "{tmp}"], "--eval-samples 3 is too few", 1),
    ],
)
def test_more_absurd_values_get_one_line(finished, tmp_path, args, says, code):
    args = [a.format(run=finished.path, tmp=tmp_path / "cmp") for a in args]
    one_line(seqtui_here(*args), says, code)
    assert not (tmp_path / "cmp").exists()


def test_numbers_past_a_floats_range_are_refused_in_one_line(finished, tmp_path):
    huge = "1" + "0" * 400
    sweep_file = tmp_path / "big.json"
    sweep_file.write_text(f'{{"grid": {{"model": ["rnn"]}}, "settings": {{"lr": {huge}}}}}')
    one_line(seqtui_here("sweep", str(sweep_file), "--root", str(tmp_path / "runs")), "lr: 1000")
    config = json.loads((finished.path / "config.json").read_text())
    (finished.path / "config.json").write_text(json.dumps({**config, "lr": int(huge)}))
    assert "learning rate must be a positive number up to 10" in (finished.config_problem() or "")
    listed = seqtui_here("runs", "--root", str(finished.path.parent))
    assert listed.returncode == 0 and "damaged" in listed.stdout
    with finished.file("metrics.jsonl").open("a") as log:
        log.write(f'{{"kind": "train", "step": 9, "loss": {huge}, "accuracy": 0.5}}\n')
    assert finished.read_metrics()[-1]["loss"] == int(huge)  # a number, if an absurd one: no crash


def test_a_resume_that_asks_for_more_memory_is_checked_even_before_a_checkpoint(tmp_path, monkeypatch):
    from seqtui.settings import limits

    run = Run.create(tmp_path / "fresh", small_config())  # created, never trained
    monkeypatch.setattr(limits, "available_memory", lambda: 50_000_000)
    with pytest.raises(SeqtuiError, match="of memory; this machine has"):
        runner.train(run, settings={"eval-samples": 10**8})
    assert not run.checkpoint_path.exists()


@pytest.mark.parametrize("target", ["/nonexistent/checkpoint", "loop"])
def test_a_dangling_or_looping_checkpoint_link_is_refused_not_trained_again_from_step_0(finished, target):
    path = finished.checkpoint_path
    path.unlink()
    path.symlink_to(path if target == "loop" else target)
    before = fingerprint(finished.path)
    with pytest.raises(SeqtuiError, match="checkpoint"):
        runner.train(finished, Budget(steps=10))
    assert fingerprint(finished.path) == before  # the metrics and status are as they were


# -- every file of a run, replaced by anything: the lists stay up ------------------------------------
def _replace(path: Path, kind: str) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
    if kind == "nesting":
        path.write_text("[" * 200_000 + "]" * 200_000)
    elif kind == "loop":
        path.symlink_to(path.name)  # a link to itself
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "directory":
        path.mkdir()
    elif kind == "garbage":
        path.write_bytes(os.urandom(3000))
    elif kind == "sparse":
        with open(path, "wb") as handle:
            handle.truncate(5 * 1024**3)  # 5 GB of nothing, instantly


REPLACED_FILES = (
    "config.json",
    "status.json",
    "metrics.jsonl",
    "checkpoint.safetensors",
    "heldout.json",
    "control.json",
)
REPLACEMENTS = ("nesting", "loop", "fifo", "dev-zero", "directory", "garbage", "sparse")


def test_the_lists_and_the_sweep_map_stay_up_whatever_one_file_of_a_run_becomes(tmp_path):
    from fakes import FakeExecutor
    from textual.widgets import DataTable

    from seqtui.app import make_app
    from seqtui.app.screens.sweep import SweepScreen
    from seqtui.sweep.driver import run_sweep
    from seqtui.sweep.spec import SweepSpec

    root = tmp_path / "runs"
    spec = SweepSpec.build("matrix", {"model": "rnn", "seed": list(range(len(REPLACED_FILES) * len(REPLACEMENTS)))})
    state = run_sweep(spec, root, FakeExecutor(), 1, poll_seconds=0)
    trials = [root / "matrix" / t.name for t in state.trials]
    cases = [(f, k) for f in REPLACED_FILES for k in REPLACEMENTS]
    for trial, (name, kind) in zip(trials, cases):
        _replace(trial / name, kind)
    summaries = list_runs(root)  # never raises, never blocks on the FIFOs, never reads 5 GB
    assert len(summaries) == len(cases)
    listed = seqtui_command("runs", "matrix", "--root", str(root), timeout=120)
    assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr[-2000:]

    async def scenario():
        app = make_app(root)
        async with app.run_test(size=(100, 30)) as pilot:
            table = app.screen.query_one(DataTable)
            await pilot.pause(0.5)
            assert table.row_count == len(cases)
            await pilot.press("f8")
            await pilot.pause(1.0)
            assert isinstance(app.screen, SweepScreen)
            assert app.screen.query_one("#sweep-trials", DataTable).row_count == len(cases)

    asyncio.run(scenario())


def test_a_trainer_ignores_a_control_file_it_cannot_read_and_says_so_once(tmp_path):
    from seqtui.session.launch import start_training

    run = start_training(tmp_path / "runs" / "long", small_config(budget=Budget(steps=10**7), log_every=0.05))
    try:
        run.file("control.json").write_text("[" * 200_000 + "]" * 200_000)  # another process's doing
        time.sleep(1.5)
        assert run.status().state == "running"  # not failed: it trains on
        run.request("stopped")  # a readable request is obeyed again
        wait_until(lambda: run.status().state == "stopped", 60, "the stop")
    finally:
        if run.status().active:
            run.request("stopped")
    said = [line for line in run.file("train.log").read_text().splitlines() if "ignored, training goes on" in line]
    assert len(said) == 1 and "control.json" in said[0]
