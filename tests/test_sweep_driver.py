"""The sweep driver's logic against an executor that trains nothing: every outcome a trial can
have (finished, failed, stopped, silent, interrupted), retries, resumption, capacity, the manifest
and the report. Real processes and Ray are test_sweep.py's."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from fakes import FakeExecutor

from seqtui.settings.errors import SeqtuiError
from seqtui.store.layout import HELDOUT, SWEEP_MANIFEST
from seqtui.store.lock import RunLock
from seqtui.store.run import Run
from seqtui.store.status import RunStatus
from seqtui.sweep.compare import report_writer, write_comparison
from seqtui.sweep.driver import RETRIES, run_sweep
from seqtui.sweep.manifest import read_manifest
from seqtui.sweep.report import memory_map, write_report
from seqtui.sweep.spec import SweepSpec
from seqtui.sweep.trial import read_heldout


def spec(**values) -> SweepSpec:
    given = {"model": ["rnn", "lstm"], "hidden": [8, 16], "steps": 10, "n-max": 2}
    given.update(values)
    return SweepSpec.build("s", given)


def sweep(root: Path, executor: FakeExecutor, **kw):
    return run_sweep(kw.pop("spec", None) or spec(), root, executor, poll_seconds=0.0, **kw)


def states(root: Path, name: str = "s") -> dict[str, str]:
    return {t.name: t.state for t in read_manifest(root / name).trials.values()}


def test_every_trial_finishes_is_measured_and_mapped_and_a_second_run_does_nothing(tmp_path):
    executor = FakeExecutor()
    state = sweep(tmp_path, executor)
    assert state.count("finished") == 4 and executor.closed
    assert executor.started == ["rnn-h8", "rnn-h16", "lstm-h8", "lstm-h16"]
    args = executor.args["rnn-h16"]
    assert args[:2] == ["trial", str((tmp_path / "s" / "rnn-h16").resolve())] and "--eval-samples" in args
    manifest = read_manifest(tmp_path / "s")
    assert all(t.attempts == 1 and t.failures == 0 for t in manifest.trials.values())
    # each trial is an ordinary run whose config came from the grid
    assert Run(tmp_path / "s" / "lstm-h16").config().model.hidden == 16
    _, axes, rows = memory_map(tmp_path / "s")
    assert axes == ["hidden"] and [(r.model, r.key) for r in rows] == [
        ("rnn", ("8",)),
        ("rnn", ("16",)),
        ("lstm", ("8",)),
        ("lstm", ("16",)),
    ]
    assert rows[1].by_length[8].mean == pytest.approx(1 - 6 / 32)
    assert "## lstm: accuracy by length" in (tmp_path / "s" / "report.md").read_text()
    log = (tmp_path / "s" / "sweep.log").read_text()
    assert log.count("started (in the test)") == 4 and log.count(": finished") == 4
    again = FakeExecutor()
    sweep(tmp_path, again)
    assert again.started == [] and set(states(tmp_path).values()) == {"finished"}


def test_a_failed_trial_is_retried_once_by_the_next_run_then_only_when_asked(tmp_path):
    assert RETRIES == 1
    executor = FakeExecutor({"rnn-h8": ["fail", "fail", "finish"]})
    sweep(tmp_path, executor)
    record = read_manifest(tmp_path / "s").trials["rnn-h8"]
    assert record.state == "failed" and record.reason == "exit status 1: boom" and record.failures == 1
    assert states(tmp_path)["lstm-h16"] == "finished"  # the sweep went on
    assert "rnn-h8: failed: exit status 1: boom" in (tmp_path / "s" / "sweep.log").read_text()
    second = FakeExecutor({"rnn-h8": ["fail"]})
    sweep(tmp_path, second)
    assert second.started == ["rnn-h8"]  # retried once; the finished trials kept
    assert read_manifest(tmp_path / "s").trials["rnn-h8"].failures == 2
    third = FakeExecutor()
    state = sweep(tmp_path, third)
    assert third.started == [] and "failed 2 times" in state.skipped[0][1]
    fourth = FakeExecutor()
    sweep(tmp_path, fourth, retry_failed=True)
    record = read_manifest(tmp_path / "s").trials["rnn-h8"]
    assert fourth.started == ["rnn-h8"] and record.state == "finished" and record.attempts == 3
    assert record.reason is None


def test_a_stopped_trial_waits_for_the_next_run_and_is_no_failure(tmp_path):
    sweep(tmp_path, FakeExecutor({"lstm-h8": ["stop"]}))
    record = read_manifest(tmp_path / "s").trials["lstm-h8"]
    assert record.state == "waiting" and record.failures == 0 and record.reason is None
    assert "the next run of the sweep resumes it" in (tmp_path / "s" / "sweep.log").read_text()
    again = FakeExecutor()
    sweep(tmp_path, again)
    assert again.started == ["lstm-h8"] and states(tmp_path)["lstm-h8"] == "finished"


def test_a_trial_that_ends_without_a_measurement_has_failed(tmp_path):
    sweep(tmp_path, FakeExecutor({"rnn-h16": ["silent"]}))
    record = read_manifest(tmp_path / "s").trials["rnn-h16"]
    assert record.state == "failed" and record.reason == "it ended without a measurement"


def test_an_interrupt_stops_the_running_trials_and_leaves_them_waiting(tmp_path):
    executor = FakeExecutor({"rnn-h16": ["hang"], "lstm-h8": ["interrupt"]}, capacity=2)
    with pytest.raises(KeyboardInterrupt):
        sweep(tmp_path, executor)
    assert executor.stopped == ["rnn-h16", "lstm-h8"] and executor.closed
    assert states(tmp_path) == {"rnn-h8": "finished", "rnn-h16": "waiting", "lstm-h8": "waiting", "lstm-h16": "waiting"}
    assert not (tmp_path / "s" / "report.md").exists()  # an interrupted sweep writes no report
    lock = RunLock(tmp_path / "s" / "lock")
    assert lock.acquire(timeout=0)  # the sweep let go of itself
    lock.release()
    again = FakeExecutor()
    sweep(tmp_path, again)
    assert again.started == ["rnn-h16", "lstm-h8", "lstm-h16"]


def test_no_more_trials_run_at_once_than_the_executor_takes(tmp_path):
    one = FakeExecutor(capacity=3)
    sweep(tmp_path, one)
    assert one.most_at_once == 3
    single = FakeExecutor()
    sweep(tmp_path / "b", single)
    assert single.most_at_once == 1


def test_a_trial_training_in_another_process_is_left_alone(tmp_path):
    first = FakeExecutor({"rnn-h8": ["stop"]})
    sweep(tmp_path, first)
    trial = Run(tmp_path / "s" / "rnn-h8")
    trial.write_status(RunStatus(state="running", pid=1))
    with trial.locked():  # as a trainer holds it
        executor = FakeExecutor()
        state = sweep(tmp_path, executor)
    assert "rnn-h8" not in executor.started
    assert state.skipped == [("rnn-h8", "left alone: it is training in process 1")]


def test_a_sweep_driven_elsewhere_is_refused_and_a_different_grid_under_its_name_too(tmp_path):
    sweep(tmp_path, FakeExecutor())
    with _hold(tmp_path / "s" / "lock"):
        with pytest.raises(SeqtuiError, match="sweep s is being run by another process"):
            sweep(tmp_path, FakeExecutor())
    with pytest.raises(SeqtuiError, match="exists with other settings .*hidden"):
        sweep(tmp_path, FakeExecutor(), spec=spec(hidden=[8, 32]))


class _hold:
    def __init__(self, path: Path):
        self.lock = RunLock(path)

    def __enter__(self):
        assert self.lock.acquire()

    def __exit__(self, *exc):
        self.lock.release()


def test_a_damaged_manifest_is_one_message_naming_it(tmp_path):
    sweep(tmp_path, FakeExecutor())
    (tmp_path / "s" / SWEEP_MANIFEST).write_text('{"grid": {"hidden": ["many"]}, "trials": []}')
    with pytest.raises(SeqtuiError, match=r"sweep.json: .*hidden.*many"):
        sweep(tmp_path, FakeExecutor())
    (tmp_path / "s" / SWEEP_MANIFEST).write_text("[" * 100_000)
    with pytest.raises(SeqtuiError, match="sweep.json"):
        read_manifest(tmp_path / "s")


def test_the_caller_chooses_the_report(tmp_path):
    seen = []
    sweep(tmp_path, FakeExecutor(), report=seen.append)
    assert seen == [tmp_path / "s"] and not (tmp_path / "s" / "report.md").exists()
    sweep(tmp_path / "none", FakeExecutor(), report=None)
    assert not (tmp_path / "none" / "s" / "report.md").exists()
    comparison = SweepSpec.build("cmp-t", {"model": ["rnn", "gru"], "steps": 10, "n-max": 2}, kind="comparison")
    assert report_writer("comparison") is write_comparison and report_writer("sweep") is write_report
    sweep(tmp_path, FakeExecutor({"gru": ["fail"]}), spec=comparison, report=report_writer("comparison"))
    assert not (tmp_path / "cmp-t" / "report.md").exists()  # a comparison reports all its models or none
    sweep(tmp_path, FakeExecutor(), spec=comparison, report=report_writer("comparison"))
    text = (tmp_path / "cmp-t" / "report.md").read_text()
    assert "| rnn |" in text and "| gru |" in text


def test_the_manifest_keeps_typed_values_and_reads_back_the_same_sweep(tmp_path):
    sweep(tmp_path, FakeExecutor(), spec=spec(lr=[0.01, 0.003], samples="40k"))
    data = json.loads((tmp_path / "s" / SWEEP_MANIFEST).read_text())
    assert data["grid"]["hidden"] == [8, 16] and data["grid"]["lr"] == [0.01, 0.003]
    assert data["settings"]["samples"] == 40_000 and data["settings"]["n-max"] == 2
    trial = next(t for t in data["trials"] if t["name"] == "lstm-h16-lr0.003")
    assert trial["values"] == {"model": "lstm", "hidden": 16, "lr": 0.003}
    assert trial["config"]["model"]["hidden"] == 16 and trial["config"]["lr"] == 0.003
    assert read_manifest(tmp_path / "s").spec.to_dict() == spec(lr=[0.01, 0.003], samples="40k").to_dict()


def test_a_manifest_written_with_display_strings_still_opens_and_continues(tmp_path):
    sweep(tmp_path, FakeExecutor({"lstm-h16": ["stop"]}))
    path = tmp_path / "s" / SWEEP_MANIFEST
    data = json.loads(path.read_text())
    # as the first versions wrote it: every value a display string, no format
    data.pop("format", None)
    data["grid"] = {"model": ["rnn", "lstm"], "hidden": ["8", "16"]}
    data["settings"] = {"steps": "10", "n-max": "2"}
    for trial in data["trials"]:
        trial["values"] = {k: str(v) for k, v in trial["values"].items()}
    path.write_text(json.dumps(data))
    manifest = read_manifest(tmp_path / "s")
    assert manifest.spec.grid["hidden"] == [8, 16] and manifest.trials["rnn-h16"].values["hidden"] == 16
    again = FakeExecutor()
    sweep(tmp_path, again)  # the same sweep: continued, not refused
    assert again.started == ["lstm-h16"] and set(states(tmp_path).values()) == {"finished"}
    assert read_heldout(Run(tmp_path / "s" / "lstm-h16")) is not None


def test_the_follower_reads_again_only_the_trials_whose_files_changed(tmp_path):
    from seqtui.sweep.follow import SweepFollower

    sweep(tmp_path, FakeExecutor({"lstm-h16": ["stop"]}))
    follower = SweepFollower(tmp_path / "s")
    assert follower.poll() and follower.reads == 4
    assert [t.state for t in follower.trials] == ["finished", "finished", "finished", "waiting"]
    assert [(r.model, r.key) for r in follower.map] == [("rnn", ("8",)), ("rnn", ("16",)), ("lstm", ("8",))]
    assert not follower.poll() and follower.reads == 4  # nothing changed: nothing read
    version = follower.version
    trial = Run(tmp_path / "s" / "lstm-h16")
    trial.write_status(RunStatus(state="running", step=5, examples=160))  # one trial moves on
    assert follower.poll() and follower.reads == 5 and follower.version == version + 1
    assert next(t for t in follower.trials if t.name == "lstm-h16").step == 5
    (tmp_path / "s" / "rnn-h8" / HELDOUT).unlink()  # one measurement gone
    assert follower.poll() and follower.reads == 6
    assert [(r.model, r.key) for r in follower.map] == [("rnn", ("16",)), ("lstm", ("8",))]
    (tmp_path / "s" / SWEEP_MANIFEST).write_text("{")  # a damaged manifest is a problem, not a crash
    assert follower.poll() and "sweep.json" in (follower.problem or "") and follower.map == []


def test_seeds_are_one_row_of_the_map_with_their_interval(tmp_path):
    sweep(
        tmp_path, FakeExecutor(), spec=SweepSpec.build("s", {"model": "rnn", "hidden": [8, 16], "steps": 10}, seeds=3)
    )
    assert sorted(read_manifest(tmp_path / "s").trials) == [f"rnn-h{h}-s{s}" for h in (16, 8) for s in range(3)]
    rows = list(csv.DictReader(open(tmp_path / "s" / "report.csv")))
    assert {r["hidden"] for r in rows} == {"8", "16"} and all(r["seeds"] == "3" for r in rows)
    assert all(r["ci95"] == "0.000000" for r in rows)  # the fakes reach the same at every seed
    assert "mean over 3 seeds ± the half-width of its 95% interval" in (tmp_path / "s" / "report.md").read_text()


def test_a_sweep_written_as_text_is_continued_by_the_command_that_made_it(tmp_path):
    """Manifests of format 1 kept values as display text, 6 significant digits: the same command,
    with its exact values, is the same sweep, and from then on its values are kept exactly."""
    exact = spec(lr=[0.0012345678, 0.003])
    sweep(tmp_path, FakeExecutor({"lstm-h16-lr0.003": ["stop"]}), spec=exact)
    path = tmp_path / "s" / SWEEP_MANIFEST
    data = json.loads(path.read_text())
    data["format"] = 1
    data["grid"] = {"model": ["rnn", "lstm"], "hidden": ["8", "16"], "lr": ["0.00123457", "0.003"]}
    data["settings"] = {"steps": "10", "n-max": "2"}
    path.write_text(json.dumps(data))
    again = FakeExecutor()
    sweep(tmp_path, again, spec=exact)
    assert again.started == ["lstm-h16-lr0.003"]
    assert json.loads(path.read_text())["grid"]["lr"] == [0.0012345678, 0.003]
    with pytest.raises(SeqtuiError, match="exists with other settings .*lr"):
        sweep(tmp_path, FakeExecutor(), spec=spec(lr=[0.0012345, 0.003]))  # another value, truly


@pytest.mark.parametrize("where", ["grid", "settings", "values"])
def test_a_number_past_a_floats_range_is_damage_not_a_crash(tmp_path, where):
    sweep(tmp_path, FakeExecutor())
    path = tmp_path / "s" / SWEEP_MANIFEST
    text = path.read_text()
    huge = "1" + "0" * 400
    if where == "grid":
        text = text.replace('"grid": {', f'"grid": {{"lr": [0.01, {huge}], ', 1)
    elif where == "settings":
        text = text.replace('"settings": {', f'"settings": {{"warmup": {huge}, ', 1)
    else:
        text = text.replace('"values": {', f'"values": {{"lr": {huge}, ', 1)
    path.write_text(text)
    from seqtui.store.catalogue import list_runs
    from seqtui.sweep.follow import SweepFollower

    assert len(list_runs(tmp_path)) == 4  # listed, whatever its manifest holds
    follower = SweepFollower(tmp_path / "s")
    follower.poll()
    if where == "values":  # a trial's value it cannot read is left out; the sweep still reads
        assert follower.problem is None and read_manifest(tmp_path / "s").trials
    else:
        assert "far too large" in (follower.problem or "")
        with pytest.raises(SeqtuiError, match="far too large"):
            read_manifest(tmp_path / "s")
