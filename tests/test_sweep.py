"""Sweeps: the grid, the manifest, both executors, failures and resumption, the memory map."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import signal
import subprocess
import sys

import pytest
from conftest import seqtui_command, wait_until
from fakes import FakeExecutor

from seqtui.settings.errors import SeqtuiError
from seqtui.store.catalogue import list_runs, resolve_run
from seqtui.store.layout import HELDOUT
from seqtui.store.run import Run
from seqtui.sweep.driver import run_sweep
from seqtui.sweep.manifest import read_manifest
from seqtui.sweep.report import mean_interval, write_report
from seqtui.sweep.spec import SweepSpec, read_sweep_file
from seqtui.sweep.trial import read_heldout

TINY = ["--n-max", "2", "--hidden", "8", "--batch-size", "32", "--eval-samples", "200"]


def test_a_grid_of_flags_becomes_named_trials_with_their_presets():
    spec = SweepSpec.build("g", {"model": ["rnn", "irnn", "lstm"], "hidden": [16, 32], "n-max": 4}, seeds=2)
    trials = spec.trials()
    assert len(trials) == 12 and spec.axes() == ["hidden"]
    names = [t.name for t in trials]
    assert names[:4] == ["rnn-h16-s0", "rnn-h16-s1", "rnn-h32-s0", "rnn-h32-s1"] and "irnn-h32-s1" in names
    irnn = next(t for t in trials if t.name == "irnn-h16-s0").config
    assert (irnn.model.model, irnn.model.init, irnn.clip, irnn.model.hidden) == ("rnn", "identity", 1.0, 16)
    lstm = next(t for t in trials if t.name == "lstm-h32-s1").config
    assert (lstm.seed, lstm.task.n_max, lstm.batch_size) == (1, 4, 256)  # the lstm preset's batch
    assert SweepSpec.from_dict("g", spec.to_dict()).to_dict() == spec.to_dict()  # the manifest round-trips


@pytest.mark.parametrize(
    "texts,message",
    [
        ({"hidden": [16, "abc"]}, "hidden: .*abc"),
        ({"hidden": [16, 2.5]}, "hidden: 2.5 is not a whole number"),
        ({"model": ["rnn", "transformer"]}, "unknown model 'transformer'"),
        ({"hidden": [16, 16]}, "hidden: 16 is given twice"),
        ({"samples": ["10k", 20_000]}, "samples: one value only"),
        ({"colour": "red"}, "colour: not a setting"),
        ({"hidden": 0}, "trial lstm: .*hidden"),
        ({"lr": True}, "lr: True is not a number"),
    ],
)
def test_a_bad_value_is_one_clear_error(texts, message):
    with pytest.raises(SeqtuiError, match=message):
        SweepSpec.build("g", texts).trials()


def test_a_flag_is_read_into_typed_values_and_a_bad_one_named_by_its_flag(tmp_path):
    from seqtui.cli.main import build_parser

    args = build_parser().parse_args(
        ["sweep", "--model", "rnn,irnn", "--hidden", "16,32", "--lr", "3e-3", "--samples", "40k"]
    )
    assert (args.model, vars(args)["hidden"], args.lr, args.samples) == (["rnn", "irnn"], [16, 32], [0.003], [40_000])
    result = seqtui_command("sweep", "--hidden", "16,abc", "--root", str(tmp_path))
    assert result.returncode == 2 and "argument --hidden: not a whole number: 'abc'" in result.stderr
    assert not list(tmp_path.iterdir())


def test_a_sweep_file_with_a_bad_value_is_refused_before_any_trial_starts(tmp_path):
    good = tmp_path / "memory.toml"
    good.write_text(
        'name = "mem"\nseeds = 2\n[grid]\nmodel = ["rnn", "lstm"]\nhidden = [16, 32]\n[settings]\nn_max = 3\n'
    )
    texts, top = read_sweep_file(good)
    spec = SweepSpec.build(top["name"], texts, seeds=top["seeds"])
    assert len(spec.trials()) == 8 and spec.settings == {"n-max": 3}
    bad = tmp_path / "bad.toml"
    bad.write_text('[grid]\nmodel = ["rnn", "lstm"]\nhidden = [16, "lots"]\n')
    result = seqtui_command("sweep", str(bad), "--root", str(tmp_path / "runs"))
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "hidden" in result.stderr and "lots" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "runs").exists()


def test_mean_interval_is_the_t_interval_over_seeds():
    cell = mean_interval([0.9, 0.95, 1.0])
    assert cell.mean == pytest.approx(0.95) and cell.count == 3
    assert cell.half == pytest.approx(4.303 * 0.05 / 3**0.5, rel=1e-3)  # t(2) * sd / sqrt(n)
    assert mean_interval([0.7]).half is None


def test_a_local_sweep_trains_each_trial_as_a_run_and_maps_memory(tmp_path):
    root = tmp_path / "runs"
    result = seqtui_command("sweep", "--model", "rnn,lstm", "--steps", "30", *TINY, "--name", "sw", "--root", str(root))
    assert result.returncode == 0, result.stderr + result.stdout
    manifest = read_manifest(root / "sw")
    assert {t.state for t in manifest.trials.values()} == {"finished"}
    assert sorted(manifest.trials) == ["lstm", "rnn"]
    listed = {s.run.name: s for s in list_runs(root)}
    assert sorted(listed) == ["sw/lstm", "sw/rnn"]  # ordinary runs
    assert all(s.state == "finished" and s.step == 30 for s in listed.values())
    assert resolve_run("sw/rnn", root) == root / "sw" / "rnn"
    held = json.loads((root / "sw" / "lstm" / HELDOUT).read_text())
    assert held["step"] == 30 and sorted(map(int, held["hard"])) == [2, 4, 6, 8, 10, 12, 14]  # past training too
    rows = list(csv.DictReader(open(root / "sw" / "report.csv")))
    assert {r["model"] for r in rows} == {"rnn", "lstm"} and all(r["seeds"] == "1" for r in rows)
    assert {r["beyond"] for r in rows if int(r["length"]) > 4} == {"1"}
    assert "## lstm: accuracy by length" in (root / "sw" / "report.md").read_text()
    evaluated = seqtui_command("eval", "sw/lstm", "--root", str(root), "--samples", "200", "--json")
    assert evaluated.returncode == 0 and json.loads(evaluated.stdout)["step"] == 30  # eval works on a trial
    again = seqtui_command("sweep", "--name", "sw", "--root", str(root))  # run again: nothing to do
    assert again.returncode == 0 and "2/2 done" in again.stdout
    assert all(t.attempts == 1 for t in read_manifest(root / "sw").trials.values())
    other = seqtui_command("sweep", "--model", "gru", "--name", "sw", "--root", str(root))
    assert other.returncode == 1 and "exists with other settings" in other.stderr
    folded = seqtui_command("runs", "--root", str(root))  # a sweep is one line, its trials on asking
    assert folded.returncode == 0 and "\nsw/\tfinished\t\tlstm8,rnn8\t" in folded.stdout  # piped: whole values
    assert folded.stdout.splitlines()[1].split("\t")[-3:-1] == ["2", "2"]  # trials, finished (then learned)
    assert "sw/lstm" not in folded.stdout
    trials = seqtui_command("runs", "sw", "--root", str(root))
    assert trials.returncode == 0 and all(f"sw/{name}" in trials.stdout for name in manifest.trials)
    missing = seqtui_command("runs", "nosuch", "--root", str(root))
    assert missing.returncode == 1 and "no trials of a sweep named nosuch" in missing.stderr


def _kill_mid_run(command: list[str], trial, victim):
    """Start a sweep, kill `victim(pid of the trial's trainer)` once it has a checkpoint past step
    0, and return the sweep's finished process."""
    sweep = subprocess.Popen(
        [sys.executable, "-m", "seqtui", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    wait_until(lambda: trial.raw_status().state == "running" and trial.raw_status().step >= 100, 120, "training")
    victim(trial.raw_status().pid)
    out, err = sweep.communicate(timeout=180)
    return sweep.returncode, out, err


def test_a_trial_killed_mid_run_fails_then_resumes_when_the_sweep_runs_again(tmp_path):
    root = tmp_path / "runs"
    command = ["sweep", "--model", "lstm", "--seeds", "2", "--steps", "1500", *TINY, "--checkpoint-every", "1600"]
    command += [
        "--name",
        "k",
        "--root",
        str(root),
        "--parallel",
        "1",
        "--threads",
        "1",
    ]  # 1 thread: no stall on a busy box
    trial = Run(root / "k" / "lstm-s0")
    code, out, err = _kill_mid_run(command, trial, lambda pid: os.kill(pid, signal.SIGKILL))
    assert code == 1, out + err
    record = read_manifest(root / "k").trials["lstm-s0"]
    assert record.state == "failed" and "SIGKILL" in record.reason and record.failures == 1
    assert read_manifest(root / "k").trials["lstm-s1"].state == "finished"  # the sweep went on
    killed_at = Run(trial.path).raw_status().step
    assert trial.status().state == "interrupted" and killed_at > 0
    again = seqtui_command("sweep", "--name", "k", "--root", str(root), timeout=180)
    assert again.returncode == 0, again.stderr
    record = read_manifest(root / "k").trials["lstm-s0"]
    assert record.state == "finished" and record.attempts == 2 and record.failures == 1
    resumed = [r for r in trial.read_metrics() if r.get("event") == "resume"]
    assert resumed and 0 < resumed[0]["step"] <= killed_at  # from its checkpoint, not from step 0
    assert trial.raw_status().step == 1500
    # the figure every screen shows is the measurement's once the trial is measured (F8's map, the report)
    measured = read_heldout(trial)
    assert trial.raw_status().worst == measured.worst and trial.raw_status().verdict is not None
    listed = next(s for s in list_runs(root) if s.run.path == trial.path)
    assert listed.worst == measured.worst


needs_ray = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None, reason="Ray is not installed (pip install -e '.[ray]')"
)


def test_without_ray_the_ray_executor_says_how_to_install_it(tmp_path, monkeypatch):
    from seqtui.sweep.executors import RayExecutor

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails, as where it is not installed
    with pytest.raises(SeqtuiError, match=r"--ray needs Ray, which is not installed: pip install 'seqtui\[ray\]'"):
        RayExecutor(None, 1)


@needs_ray
def test_on_a_local_ray_instance_trials_run_as_tasks_and_one_whose_worker_dies_fails_alone(tmp_path):
    root = tmp_path / "runs"
    command = ["sweep", "--model", "lstm", "--seeds", "2", "--steps", "1500", *TINY, "--checkpoint-every", "1600"]
    command += ["--name", "w", "--root", str(root), "--ray", "--threads", "1"]  # 1 thread: no stall on a busy box

    def kill_worker(pid):  # the Ray worker that started the trial's process
        with open(f"/proc/{pid}/stat") as handle:
            parent = int(handle.read().rsplit(")", 1)[1].split()[1])
        os.kill(parent, signal.SIGKILL)

    trial = Run(root / "w" / "lstm-s0")
    code, out, err = _kill_mid_run(command, trial, kill_worker)
    assert code == 1, out + err
    assert "local Ray instance" in (root / "w" / "sweep.log").read_text()
    manifest = read_manifest(root / "w")
    record = manifest.trials["lstm-s0"]
    assert record.state == "failed" and "Ray worker" in record.reason
    # the other trial ran as a Ray task to its end, was measured, and is in the report
    assert manifest.trials["lstm-s1"].state == "finished"
    assert Run(root / "w" / "lstm-s1").raw_status().step == 1500
    assert {r["model"] for r in csv.DictReader(open(root / "w" / "report.csv"))} == {"lstm"}
    # its process went with the worker (SIGTERM from us, or Ray's clean-up of a dead worker's children)
    wait_until(lambda: not trial.status().active, 30, "the orphaned trainer to stop")
    assert trial.status().state in ("stopped", "interrupted") and trial.checkpoint_path.exists()


def test_the_report_of_a_partial_sweep_says_how_many_trials_it_holds(tmp_path):
    root = tmp_path / "runs"
    spec = SweepSpec.build("p", {"model": "rnn", "steps": 20, "n-max": 2, "hidden": [8, 16], "eval-samples": 200})
    state = run_sweep(spec, root, FakeExecutor(), 1, poll_seconds=0)
    assert state.count("finished") == 2
    (root / "p" / "rnn-h16" / HELDOUT).unlink()  # one trial not measured (yet)
    md, table = write_report(root / "p")
    assert "1 of 2 trials measured" in md.read_text()
    assert {r["hidden"] for r in csv.DictReader(open(table))} == {"8"}


def test_the_eta_counts_each_trial_at_the_speed_of_trials_like_it(tmp_path):
    from seqtui.settings.networks import spec as model_spec
    from seqtui.store.status import RunStatus
    from seqtui.sweep.driver import SweepState
    from seqtui.sweep.manifest import Manifest, TrialRecord

    spec = SweepSpec.build("e", {"model": ["rnn", "lstm"], "samples": "100k", "hidden": [8, 16]})
    trials = spec.trials()
    records = {t.name: TrialRecord(t.name, dict(t.values)) for t in trials}
    state = SweepState(tmp_path, Manifest("e", spec, records), trials, slots=2)
    assert state.eta() is None  # nothing measured yet
    for name, examples, seconds, done in (("rnn-h8", 100_000, 10.0, True), ("lstm-h8", 50_000, 25.0, False)):
        run = Run.create(tmp_path / name, next(t for t in trials if t.name == name).config)
        run.write_status(RunStatus(state="finished" if done else "stopped", examples=examples, elapsed=seconds))
        records[name].state = "finished" if done else "waiting"
    # left, 2 at a time: lstm-h8 50k at its own 2k/s (25 s); rnn-h16 100k at the rnn-h8's 10k/s, twice
    # the size (20 s); lstm-h16 100k at lstm-h8's 2k/s, twice the size (100 s)
    assert state.eta() == pytest.approx((25 + 20 + 100) / 2)
    (tmp_path / "lstm-h8" / "status.json").unlink()  # no LSTM measured: priced by what an example costs it
    # rnn-h8: 100k examples in 10 s; lstm-h8 and -h16: 100k each at the LSTM's cost (its ModelSpec) times
    # the rnn's, scaled by size
    lstm = model_spec("lstm").cost * (100_000 * 1 + 100_000 * 2) / 10_000
    assert state.eta() == pytest.approx((20 + lstm) / 2)


def test_a_trial_stopped_after_its_last_step_is_measured_and_a_stop_request_is_no_failure(tmp_path):
    import threading

    from conftest import small_config

    from seqtui.core.training import Budget
    from seqtui.session import runner
    from seqtui.store.status import RunStatus
    from seqtui.sweep.executors import failure_of
    from seqtui.sweep.trial import EXIT_STOPPED, STOPPED, run_trial

    done = Run.create(tmp_path / "done", small_config(budget=Budget(steps=20)))
    assert runner.train(done).state == "finished"
    done.write_status(RunStatus(state="stopped", step=20, examples=640))  # stopped after its last step
    code, line = run_trial(done, 200, 2)
    assert code == 0 and "measured" in line and (done.path / HELDOUT).is_file()  # not "used its whole budget"

    long = Run.create(tmp_path / "long", small_config(budget=Budget(steps=1_000_000)))
    result = []
    worker = threading.Thread(target=lambda: result.append(run_trial(long, 200, 2)))
    worker.start()
    wait_until(lambda: long.raw_status().state == "running" and long.raw_status().step > 0, 60, "training")
    long.request("stopped")  # as `seqtui stop` or the app would
    worker.join(60)
    assert result[0][0] == EXIT_STOPPED and failure_of(EXIT_STOPPED, long.file("train.log")) == STOPPED


def test_a_sweep_file_takes_eval_samples_as_a_count_and_long_trial_names_read_back(tmp_path):
    spec_file = tmp_path / "s.toml"
    spec_file.write_text('name = "f"\neval_samples = 2e2\n[grid]\nmodel = ["rnn"]\n[settings]\nsteps = 10\nn_max = 2\n')
    result = seqtui_command("sweep", str(spec_file), "--root", str(tmp_path / "runs"))
    assert result.returncode == 0, result.stderr
    assert read_manifest(tmp_path / "runs" / "f").spec.eval_samples == 200
    from seqtui.sweep.manifest import Manifest, TrialRecord, write_manifest

    many: dict = {name: [1, 2] for name in ("n-min", "hidden", "seed")}  # many axes: names past 64 characters
    many.update({"model": "rnn", "lr": [0.00123457, 0.00234568], "warmup": [0.111111, 0.222222]})
    many.update({"negatives": ["random", "mixed"], "n-max": [22, 23], "schedule": ["cosine", "constant"]})
    many.update({"clip": [0.123457, 0.234568]})
    spec = SweepSpec.build("long", many)
    trials = spec.trials()
    assert max(len(t.name) for t in trials) > 64
    write_manifest(
        tmp_path / "long", Manifest("long", spec, {t.name: TrialRecord(t.name, dict(t.values)) for t in trials})
    )
    assert len(read_manifest(tmp_path / "long").trials) == len(trials) == 512  # none lost on reading back


def test_a_sweep_continues_on_the_recipe_it_started_with_whatever_the_presets_say_later(tmp_path, monkeypatch):
    import dataclasses

    from seqtui.settings import networks
    from seqtui.sweep.driver import prepare
    from seqtui.sweep.manifest import write_manifest

    spec = SweepSpec.build("kept", {"model": ["lstm", "gru"], "hidden": [8, 16], "n-max": 2})
    directory, trials, manifest = prepare(spec, tmp_path)
    started = {t.name: t.config for t in trials}
    write_manifest(directory, manifest)
    # a later seqtui trains the LSTM otherwise: the trials not yet started keep the sweep's recipe
    lstm = networks.spec("lstm")
    changed = {**(lstm.preset or {}), "lr": 1e-3, "curriculum": 0.0, "examples": {"random": 9_000}}
    built_in = tuple(dataclasses.replace(s, preset=changed) if s is lstm else s for s in networks.BUILT_IN)
    monkeypatch.setattr(networks, "BUILT_IN", built_in)
    assert SweepSpec.build("kept", {"model": "lstm", "hidden": 8, "n-max": 2}).trials()[0].config.lr == 1e-3
    _, again, _ = prepare(spec, tmp_path)
    assert {t.name: t.config for t in again} == started
    assert started["lstm-h8"].lr != 1e-3 and started["gru-h16"] == again[-1].config
    # a manifest whose kept recipe is damaged: one message naming the file and the trial
    data = json.loads((directory / "sweep.json").read_text())
    data["trials"][0]["config"]["lr"] = "fast"
    (directory / "sweep.json").write_text(json.dumps(data))
    with pytest.raises(SeqtuiError, match=r"sweep\.json: trial lstm-h8: learning rate"):
        prepare(spec, tmp_path)


def test_the_sweep_line_says_measuring_and_prices_nothing_before_a_whole_trial(tmp_path):
    from rich.console import Console

    from seqtui.cli.display_sweep import SweepDisplay
    from seqtui.store.status import RunStatus
    from seqtui.sweep.driver import SweepState
    from seqtui.sweep.manifest import Manifest, TrialRecord

    spec = SweepSpec.build("e", {"model": ["rnn", "lstm"], "samples": "100k", "hidden": [8, 16]})
    trials = spec.trials()
    records = {t.name: TrialRecord(t.name, dict(t.values)) for t in trials}
    state = SweepState(tmp_path, Manifest("e", spec, records), trials, slots=2)
    config = {t.name: t.config for t in trials}
    # rnn-h8 trained to its budget, being measured; rnn-h16 handed out, not started; lstm-h8 half-way
    for name, status in (
        ("rnn-h8", RunStatus(state="finished", examples=100_000, elapsed=10.0)),
        ("lstm-h8", RunStatus(state="stopped", examples=50_000, elapsed=25.0)),
    ):
        Run.create(tmp_path / name, config[name]).write_status(status)
    records["rnn-h8"].state = records["rnn-h16"].state = "running"
    line = SweepDisplay(Console(file=None)).summary(state)
    assert "0/4 done · 0 running (1 measuring, 1 starting) · 2 waiting" in line and "failed" not in line
    assert line.endswith("ETA after a trial")  # a trial in flight is not a price yet
    records["rnn-h8"].state = "finished"
    assert "ETA after" not in SweepDisplay(Console(file=None)).summary(state)


def test_the_local_executor_hands_trials_to_processes_it_prepared_and_leaves_none_behind(tmp_path, monkeypatch):
    from seqtui.session import launch
    from seqtui.sweep.executors import LocalExecutor

    handed = []
    hand = launch.Prepared.hand

    def spied(self, argv, log):
        handed.append((argv[0], self.process.pid))
        return hand(self, argv, log)

    monkeypatch.setattr(launch.Prepared, "hand", spied)
    spec = SweepSpec.build("p", {"model": "rnn", "hidden": [4, 6, 8], "n-max": 2, "steps": 20, "eval-every": 10**6})
    executor = LocalExecutor(1, 1)
    state = run_sweep(spec, tmp_path, executor, 1, poll_seconds=0.05)
    assert state.count("finished") == 3
    assert [command for command, _ in handed] == ["trial", "trial"]  # the first starts cold, then prepared ones
    assert len({pid for _, pid in handed}) == 2  # a process each
    assert not executor.ready  # the one prepared for a fourth trial: ended with the sweep
    with open(f"/proc/{os.getpid()}/task/{os.getpid()}/children") as children:
        assert not children.read().split()


def test_a_sweep_keeps_its_own_key_and_an_older_manifest_gets_one(tmp_path):
    from seqtui.sweep.manifest import Manifest, write_manifest

    spec = SweepSpec.build("k", {"model": "rnn", "steps": 20})
    manifest = Manifest("k", spec, {})
    write_manifest(tmp_path / "k", manifest)
    assert read_manifest(tmp_path / "k").key == manifest.key  # the same sweep, read again
    assert Manifest("k", spec, {}).key != manifest.key  # another sweep at the same path: another key
    data = json.loads((tmp_path / "k" / "sweep.json").read_text())
    del data["key"]  # written before keys were
    (tmp_path / "k" / "sweep.json").write_text(json.dumps(data))
    assert len(read_manifest(tmp_path / "k").key) == 16


def test_ray_s_own_errors_reach_the_user_as_one_line():
    from seqtui.sweep.executors import _cluster_errors

    with pytest.raises(SeqtuiError, match=r"^following trials on the Ray cluster failed: ConnectionError: gone$"):
        with _cluster_errors("following trials on"):
            raise ConnectionError("gone\nand a long story after")
    with pytest.raises(SeqtuiError, match="^ours$"):  # a message of our own passes as it is
        with _cluster_errors("asking"):
            raise SeqtuiError("ours")


def test_a_tutorial_sweep_on_a_gpu_box_trains_on_the_cpu_as_its_preset_says(tmp_path, monkeypatch):
    """On a GPU box a sweep's trials take the card, except where the preset names a device."""
    import torch
    from conftest import seqtui_here

    from seqtui.core import training

    real = training.resolve_device
    monkeypatch.setattr(training, "resolve_device", lambda name: torch.device("cuda") if name == "auto" else real(name))
    swept = seqtui_here(
        "sweep", "--preset", "tutorial", "--n-max", "2,3", "--steps", "30", "--eval-samples", "60",
        "--root", str(tmp_path), "--name", "tut",
    )  # fmt: skip
    assert swept.returncode == 0, swept.stderr
    trials = list_runs(tmp_path / "tut")
    assert len(trials) == 2
    assert {t.run.config().device for t in trials} == {"cpu"} and {t.state for t in trials} == {"finished"}
