"""Run directories: checkpoints, resume, kill, control from another process, bad files."""

import json
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from conftest import small_config, train_until_stopped_at, wait_until

from seqtui.core.checkpoint import load_checkpoint, restore_trainer, save_checkpoint
from seqtui.core.training import Budget, Trainer
from seqtui.session import runner
from seqtui.settings.errors import SeqtuiError
from seqtui.store.catalogue import list_runs
from seqtui.store.records import MetricsReader
from seqtui.store.run import Run


def weights(trainer: Trainer) -> dict:
    return {k: v.clone() for k, v in trainer.model.state_dict().items()}


def test_checkpoint_round_trip_restores_everything(tmp_path):
    trainer = Trainer(small_config(model=small_config().model.__class__("lstm", 12)))
    list(trainer.run())
    save_checkpoint(trainer, tmp_path / "c.safetensors")
    checkpoint = load_checkpoint(tmp_path / "c.safetensors")
    assert checkpoint.config == trainer.config
    fresh = Trainer(checkpoint.config)
    restore_trainer(fresh, checkpoint)
    for key, value in weights(trainer).items():
        assert torch.equal(fresh.model.state_dict()[key], value)
    assert fresh.step == trainer.step and fresh.examples == trainer.examples
    assert torch.equal(fresh.generator.get_state(), trainer.generator.get_state())
    a, b = trainer.optimizer.state_dict()["state"], fresh.optimizer.state_dict()["state"]
    assert a.keys() == b.keys()
    for index in a:
        assert torch.equal(a[index]["exp_avg_sq"], b[index]["exp_avg_sq"])


def test_resume_continues_exactly_where_the_run_stopped(tmp_path):
    run = Run.create(tmp_path / "run", small_config(budget=Budget(steps=25)))
    outcome = runner.train(run)
    assert outcome.state == "finished" and outcome.step == 25
    with pytest.raises(SeqtuiError, match="whole budget"):
        runner.train(run)
    # a budget given with --resume extends the run; the schedule was set for 25 steps, so
    # compare with a straight run under the same total schedule instead
    starts = []
    resumed = runner.train(run, Budget(steps=35), on_start=lambda t: starts.append(t.step)).trainer
    assert starts == [25] and resumed.config.budget.steps == 60 and run.config().budget.steps == 60
    reference = Trainer(small_config(budget=Budget(steps=25)))
    list(reference.run())
    reference.config = replace(reference.config, budget=Budget(steps=60))
    list(reference.run())
    for key, value in weights(reference).items():
        assert torch.equal(resumed.model.state_dict()[key], value), key
    steps = [r["step"] for r in run.read_metrics() if r["kind"] == "train"]
    assert steps == sorted(steps) and steps[-1] == 60
    assert [r["event"] for r in run.read_metrics() if r["kind"] == "event"] == ["start", "finish", "resume", "finish"]


def test_a_stopped_run_resumes_on_the_same_trajectory(tmp_path):
    config = small_config(budget=Budget(steps=50), log_every=1e-9)  # an event every step: a stop lands at once
    straight = Trainer(config)
    list(straight.run())

    run = Run.create(tmp_path / "run", config)
    outcome = train_until_stopped_at(run, 20)
    assert outcome.state == "stopped" and 20 <= outcome.step < 50
    assert run.status().state == "stopped"
    resumed = runner.train(run).trainer
    assert resumed.step == 50
    for key, value in weights(straight).items():
        assert torch.equal(resumed.model.state_dict()[key], value), key


@contextmanager
def trainer_process(run_dir: Path, past_step: int, extra=()):
    """A `seqtui train` child process, once it has logged more than `past_step` steps."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from seqtui.cli.main import entry; entry()",
            "train",
            "--model",
            "rnn",
            "--hidden",
            "16",
            "--n-max",
            "3",
            "--batch-size",
            "32",
            "--steps",
            "100000",
            "--eval-samples",
            "300",
            "--eval-every",
            "1G",
            "--run-dir",
            str(run_dir),
            "--quiet",
            *extra,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(
            lambda: (run_dir / "status.json").exists() and Run(run_dir).status().step > past_step,
            what="training to start",
        )
        yield process
    finally:
        process.kill()
        process.wait(timeout=30)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_another_process_pauses_resumes_and_stops_a_trainer(tmp_path):
    run_dir = tmp_path / "run"
    with trainer_process(run_dir, past_step=20) as process:
        run = Run.open(run_dir)
        run.request("paused")
        wait_until(lambda: run.status().state == "paused", what="pause")
        paused_at = run.status().step
        cpu_before = _cpu_seconds(process.pid)
        time.sleep(1.5)
        assert _cpu_seconds(process.pid) - cpu_before < 0.15  # a paused trainer sleeps
        assert run.status().step == paused_at
        run.request("running")
        wait_until(lambda: run.status().state == "running" and run.status().step > paused_at, what="resume")
        run.request("stopped")
        assert process.wait(timeout=30) == 0
    status = run.status()
    assert status.state == "stopped" and "continue with" in status.message
    checkpoint = load_checkpoint(run.checkpoint_path)
    assert checkpoint.step == status.step > paused_at
    events = [r["event"] for r in run.read_metrics() if r["kind"] == "event"]
    assert events == ["start", "pause", "resume", "stop"]


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGHUP, 129)])
def test_a_signal_stops_cleanly_with_a_checkpoint(tmp_path, sig, code):
    run_dir = tmp_path / "run"
    with trainer_process(run_dir, past_step=10) as process:
        process.send_signal(sig)
        assert process.wait(timeout=30) == code
    run = Run.open(run_dir)
    assert run.status().state == "stopped"
    assert load_checkpoint(run.checkpoint_path).step == run.status().step > 10


def test_a_trainer_killed_with_sigkill_leaves_a_run_that_loads_and_resumes(tmp_path):
    run_dir = tmp_path / "run"
    with trainer_process(run_dir, past_step=50, extra=("--checkpoint-every", "320")) as process:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    run = Run.open(run_dir)
    assert run.status().state == "interrupted"
    checkpoint = load_checkpoint(run.checkpoint_path)
    assert checkpoint.step > 0
    logged = max(r["step"] for r in run.read_metrics())
    assert logged >= checkpoint.step

    def started(trainer):
        assert trainer.step == checkpoint.step
        assert max(r["step"] for r in run.read_metrics()) == checkpoint.step  # redone steps are dropped

    outcome = runner.train(run, Budget(steps=30), on_start=started)
    assert outcome.state == "finished" and outcome.step == checkpoint.step + 30
    assert not list(run_dir.glob(".*tmp"))


def test_a_second_trainer_on_a_live_run_is_refused(tmp_path):
    run_dir = tmp_path / "run"
    with trainer_process(run_dir, past_step=0) as process:
        run = Run.open(run_dir)
        with pytest.raises(SeqtuiError, match=f"being trained by process {process.pid}"):
            runner.train(run)


def _line(step: int, **fields) -> str:
    return (
        json.dumps(
            {
                "kind": "train",
                "step": step,
                "examples": step * 32,
                "elapsed": step / 10,
                "loss": 0.5,
                "accuracy": 0.75,
                **fields,
            }
        )
        + "\n"
    )


def test_metrics_reader_tolerates_a_partly_written_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    whole = _line(2)
    path.write_text(_line(1) + whole[:20])
    reader = MetricsReader(path)
    assert [r["step"] for r in reader.read_new()] == [1]
    with open(path, "a") as handle:
        handle.write(whole[20:] + "not json at all\n" + _line(3))
    assert [r["step"] for r in reader.read_new()] == [2, 3]
    assert reader.read_new() == [] and reader.skipped == 1


def test_damaged_checkpoints_are_refused_with_a_message(tmp_path):
    trainer = Trainer(small_config())
    trainer.train_step(3e-3)  # the optimiser's moments exist
    good = tmp_path / "good.safetensors"
    save_checkpoint(trainer, good)
    data = good.read_bytes()
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(data[: len(data) // 2])
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(os.urandom(4096))
    empty = tmp_path / "empty.safetensors"
    empty.write_bytes(b"")
    for path in (truncated, garbage, empty):
        with pytest.raises(SeqtuiError, match="not a readable checkpoint"):
            load_checkpoint(path)
    with pytest.raises(SeqtuiError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.safetensors")
    trainer.longest_reached = -3  # counters that cannot be true
    save_checkpoint(trainer, tmp_path / "lying.safetensors")
    with pytest.raises(SeqtuiError, match="longest"):
        load_checkpoint(tmp_path / "lying.safetensors")
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(good), "pt") as handle:  # the same bytes, said to be I32: garbage, not weights
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}
        metadata = handle.metadata()
    for key, retyped in (("model.head.weight", torch.int32), ("optim.0.exp_avg", torch.int32)):
        changed = dict(tensors, **{key: tensors[key].view(retyped)})
        save_file(changed, tmp_path / "retyped.safetensors", metadata=metadata)
        with pytest.raises(SeqtuiError, match=r"I32 .* expected F32"):
            load_checkpoint(tmp_path / "retyped.safetensors")


class _Payload:
    """Unpickling this would create a marker file: loading a checkpoint must never do it."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_checkpoint_crafted_to_run_code_does_not_run(tmp_path):
    marker = tmp_path / "code-ran"
    for name, write in (
        ("pickle.safetensors", lambda p: p.write_bytes(pickle.dumps(_Payload(marker)))),
        ("torch.safetensors", lambda p: torch.save({"model": _Payload(marker)}, p)),
    ):
        path = tmp_path / name
        write(path)
        with pytest.raises(SeqtuiError):
            load_checkpoint(path)
    assert not marker.exists()


def test_list_runs_reports_state_and_shows_damaged_runs_as_damaged(tmp_path):
    run = Run.create(tmp_path / "good", small_config())
    runner.train(run)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{not json")
    (tmp_path / "unrelated").mkdir()
    summaries = {s.run.name: s for s in list_runs(tmp_path)}
    assert set(summaries) == {"good", "broken"}
    good, broken = summaries["good"], summaries["broken"]
    assert good.state == "finished" and good.step == 40 and good.best_worst is not None and good.problem is None
    assert broken.state == "damaged" and "not valid JSON" in broken.problem


def test_creating_over_an_existing_run_is_refused(tmp_path):
    Run.create(tmp_path / "run", small_config())
    before = (tmp_path / "run" / "config.json").read_bytes()
    with pytest.raises(SeqtuiError, match="already exists"):
        Run.create(tmp_path / "run", small_config(lr=0.5))
    assert (tmp_path / "run" / "config.json").read_bytes() == before


def test_a_run_moved_to_another_kind_of_device_continues_on_a_derived_stream(tmp_path):
    trainer = Trainer(small_config())
    list(trainer.run())
    assert set(trainer.data_state()) == {"rng.data"}  # on the CPU one generator makes everything
    save_checkpoint(trainer, tmp_path / "c.safetensors")
    checkpoint = load_checkpoint(tmp_path / "c.safetensors")
    assert checkpoint.counters["data_device"] == "cpu"
    fresh = Trainer(small_config())
    fresh.step = checkpoint.step
    moved = fresh.restore_data_state({}, "cuda")  # as if saved by a run on a GPU
    assert moved is False
    again = Trainer(small_config())
    again.step = checkpoint.step
    again.restore_data_state({}, "cuda")
    assert torch.equal(fresh.generator.get_state(), again.generator.get_state())  # derived, not random


def test_names_are_shortened_to_what_tells_them_apart():
    from seqtui.store.layout import distinct_names

    day = ["lstm-match-random-1128-231415", "lstm-match-random-1128-232001"]
    short = distinct_names(day, 16)
    assert all(len(n) <= 16 for n in short) and len(set(short)) == 2  # not two copies of a common prefix
    assert short[0].endswith("231415") and short[1].endswith("232001")
    assert distinct_names(["memory/lstm-h64-s1"], 24) == ["memory/lstm-h64-s1"]  # whole when it fits
    long = distinct_names(["rnn-" + "x" * 40 + "-end"], 20)[0]
    assert len(long) == 20 and long.startswith("rnn-") and long.endswith("-end")


def test_a_prepared_trainer_trains_the_run_it_is_given_and_ends_quietly_when_given_none(tmp_path):
    from seqtui.session.launch import PreparedTrainer, resume_training

    root = tmp_path / "runs"
    unused = PreparedTrainer()  # the form closed without a run
    unused.close()
    assert unused.process.wait(timeout=60) == 0
    assert not unused.log.exists()

    prepared = PreparedTrainer()
    run = Run.create(root / "r", small_config(budget=Budget(steps=30)))
    started = resume_training(run, prepared=prepared)
    assert started.raw_status().pid == prepared.process.pid  # the prepared process took it
    assert prepared.process.wait(timeout=60) == 0
    assert run.status().state == "finished" and run.status().step == 30
    assert not prepared.log.exists()
    assert "budget reached at step 30" in run.file("train.log").read_text()  # its output followed it


def test_a_stop_just_before_an_evaluation_loses_no_evaluation(tmp_path):
    """Stopped after the metrics line that precedes an evaluation (the evaluation not yet made),
    then resumed: the same evaluations, at the same counts, as without the stop."""
    from seqtui.core.training import HeldOut, Progress

    config = small_config(budget=Budget(steps=30), batch_size=32, eval_every=320, log_every=10.0)
    whole = Trainer(config)
    straight = [(e.examples, e.evaluation.worst) for e in whole.run() if isinstance(e, HeldOut)]
    assert [examples for examples, _ in straight] == [320, 640, 960]

    first = Trainer(config)
    for event in first.run():
        if isinstance(event, Progress) and event.examples >= 640:
            break  # the runner honours a stop here: after the line, before the evaluation
    assert first.evaluated_at == 320 and first.examples == 640
    save_checkpoint(first, tmp_path / "c.safetensors")
    again = Trainer(config)
    restore_trainer(again, load_checkpoint(tmp_path / "c.safetensors"))
    resumed = [(e.examples, e.evaluation.worst) for e in again.run() if isinstance(e, HeldOut)]
    assert resumed == straight[1:]  # 640 made on resume, with the same weights and the same result


def test_stops_asked_at_evaluation_boundaries_through_the_runner_keep_every_evaluation(tmp_path):
    """`seqtui stop` landing as each evaluation's count is crossed, then resumes: the run's metrics
    hold the evaluations (counts and accuracies) of a run never stopped."""
    from seqtui.core.training import Progress

    config = small_config(budget=Budget(steps=40), batch_size=32, eval_every=320, log_every=10.0)
    whole = Run.create(tmp_path / "whole", config)
    runner.train(whole)
    expected = [(r["examples"], r["worst"]) for r in whole.read_metrics() if r["kind"] == "eval"]
    assert [examples for examples, _ in expected] == [320, 640, 960, 1280]

    stopped = Run.create(tmp_path / "stopped", config)
    # a stop request, SIGTERM, and a pause then a stop, each landing as a count is crossed
    for boundary, how in ((320, "request"), (640, "signal"), (960, "pause, then stop")):

        def stop_at_the_boundary(event, boundary=boundary, how=how):
            if isinstance(event, Progress) and event.examples >= boundary:
                if how == "signal":
                    os.kill(os.getpid(), signal.SIGTERM)  # the runner's handler: stop with a checkpoint
                elif how == "request":
                    stopped.request("stopped")  # read right after this line is written, before the evaluation
                else:
                    stopped.request("paused")
                    threading.Timer(0.3, stopped.request, ("stopped",)).start()

        outcome = runner.train(stopped, on_event=stop_at_the_boundary)
        assert outcome.state == "stopped" and stopped.status().examples == boundary, how
    assert runner.train(stopped).state == "finished"
    evaluations = [(r["examples"], r["worst"]) for r in stopped.read_metrics() if r["kind"] == "eval"]
    assert evaluations == expected
