import csv
import json

import pytest
from fakes import FakeExecutor

from seqtui.core.training import Budget
from seqtui.settings.errors import SeqtuiError
from seqtui.store.catalogue import list_runs
from seqtui.store.run import Run
from seqtui.sweep.compare import ComparisonFollower, compare, group_of, group_runs, report_path
from seqtui.sweep.executors import LocalExecutor, split_cores
from seqtui.sweep.trial import read_heldout


def local(parallel: int = 1) -> LocalExecutor:
    return LocalExecutor(parallel, None if parallel == 1 else split_cores(parallel)[1])


def test_compare_trains_each_model_as_a_run_and_writes_a_report(tmp_path):
    executor = FakeExecutor()
    md, table = compare(
        tmp_path,
        {"n-max": 2},
        Budget(steps=20),
        ["rnn", "rnn-identity", "lstm", "gru"],  # rnn-identity: the IRNN's longer name
        samples=400,
        report=lambda line: None,
        executor=executor,
    )
    assert executor.started == ["rnn", "irnn", "lstm", "gru"] and "--eval-samples" in executor.args["gru"]
    runs = {s.run.name.split("/")[1]: s for s in list_runs(tmp_path)}  # trials of the sweep cmp-<stamp>
    assert sorted(runs) == ["gru", "irnn", "lstm", "rnn"]
    assert all(s.state == "finished" and s.step == 20 for s in runs.values())  # the same budget for every model
    rows = list(csv.DictReader(open(table)))
    assert [r["model"] for r in rows] == ["rnn", "irnn", "lstm", "gru"]
    assert {"random_2", "random_4", "hard_4", "random_14"} <= rows[0].keys()  # past the training range too
    assert all(float(r["gradient_ratio"]) > 0 for r in rows)
    text = md.read_text()
    assert text.count("| irnn |") == 3 and "time to 99%" in text


def test_compare_refuses_an_unknown_model(tmp_path):
    with pytest.raises(SeqtuiError, match="unknown model 'transformer'"):
        compare(
            tmp_path, {}, Budget(steps=1), ["rnn", "transformer"], report=lambda line: None, executor=FakeExecutor()
        )
    assert not list(tmp_path.iterdir())


def test_a_named_comparison_is_a_group_of_runs_the_app_can_find(tmp_path):
    md, _ = compare(
        tmp_path,
        {"n-max": 2},
        Budget(steps=5),
        ["lstm", "rnn"],
        samples=200,
        report=lambda line: None,
        executor=FakeExecutor(),
        stamp="t1",
    )
    assert md == report_path(tmp_path, "t1") and md.is_file()
    (tmp_path / "cmp-t1" / "notes").mkdir()  # not a model's run: not in the group
    assert [p.name for p in group_runs(tmp_path, "t1")] == ["rnn", "lstm"]  # in SPECS order
    assert group_runs(tmp_path, "t2") == []
    follower = ComparisonFollower(tmp_path, "t1")  # what the app's compare screen shows
    assert follower.poll() and follower.reported
    by_length = follower.by_length
    assert set(by_length) == {"lstm", "rnn"} and sorted(by_length["rnn"]["hard"]) == [2, 4, 6, 8, 10, 12, 14]
    assert by_length["lstm"]["random"] == read_heldout(Run(tmp_path / "cmp-t1" / "lstm")).random  # one route
    assert not follower.poll()  # nothing changed, nothing read
    (tmp_path / "cmp-t1" / "rnn" / "heldout.json").write_text('{"format": 1, "random": "abc"}')
    assert follower.poll() and set(follower.by_length) == {"lstm"}  # damaged: not shown, not a traceback
    empty = ComparisonFollower(tmp_path, "t2")
    empty.poll()
    assert empty.by_length == {} and not empty.reported  # nothing (yet)
    with pytest.raises(SeqtuiError, match="exists already"):
        compare(tmp_path, {}, Budget(steps=1), ["gru"], report=lambda line: None, executor=FakeExecutor(), stamp="t1")
    assert not (tmp_path / "cmp-t1" / "gru").exists()


@pytest.mark.parametrize(
    "name,stamp",
    [
        ("cmp-1127-211345/irnn", "1127-211345"),
        ("cmp-1127-211345/lstm", "1127-211345"),
        ("cmp-t1/gru", "t1"),
        ("cmp-t1/transformer", None),
        ("lstm-match-random-1127-211345", None),
        ("cmp-t1/report.md", None),
        ("cmp-t1-gru", None),
    ],
)
def test_group_of_reads_the_comparison_from_a_run_name(name, stamp):
    assert group_of(name) == stamp


def test_a_comparison_name_cannot_reach_outside_the_runs_root(tmp_path):
    for bad in ("../x", "a-b", "", "a/b"):
        with pytest.raises(SeqtuiError, match="comparison name"):
            compare(
                tmp_path, {}, Budget(steps=1), ["rnn"], report=lambda line: None, executor=FakeExecutor(), stamp=bad
            )
    assert not list(tmp_path.iterdir())


def test_two_at_a_time_trains_the_models_side_by_side_in_their_own_processes(tmp_path):
    lines = []
    md, table = compare(
        tmp_path,
        {"n-max": 2},
        Budget(seconds=2),
        ["rnn", "lstm", "gru"],
        samples=200,
        report=lines.append,
        stamp="two",
        executor=local(2),
    )
    runs = [Run(tmp_path / "cmp-two" / name) for name in ("rnn", "lstm", "gru")]
    status = [run.raw_status() for run in runs]
    assert all(s.state == "finished" for s in status)
    assert all((run.path / "train.log").is_file() for run in runs)  # each trained by its own `seqtui train`
    # rnn and lstm were handed out together; gru once one of them had finished (the driver's log)
    log = [line.split(" ", 2)[2] for line in (tmp_path / "cmp-two" / "sweep.log").read_text().splitlines()]
    order = [line.split(":")[0] + (" done" if "finished" in line else "") for line in log]
    assert order[:2] == ["rnn", "lstm"] and order.index("gru") > min(order.index("rnn done"), order.index("lstm done"))
    assert [r["model"] for r in csv.DictReader(open(table))] == ["rnn", "lstm", "gru"]
    assert "side by side" in md.read_text() and any("2 at a time" in line for line in lines)


def test_a_model_that_fails_in_its_process_fails_the_comparison_with_its_log(tmp_path, monkeypatch):
    from seqtui.sweep import executors

    def broken_for_rnn(args, log, threads, nice=0):  # the rnn's trainer finds a damaged config.json
        if log.parent.name == "rnn":
            config = json.loads((log.parent / "config.json").read_text())
            config["model"]["hidden"] = 0
            (log.parent / "config.json").write_text(json.dumps(config))
        return popen(args, log, threads, nice)

    popen = executors._popen
    monkeypatch.setattr(executors, "_popen", broken_for_rnn)
    with pytest.raises(SeqtuiError, match="rnn did not finish .*hidden size must be at least 1.*train.log"):
        compare(
            tmp_path,
            {"n-max": 2},
            Budget(steps=5),
            ["rnn", "lstm"],
            samples=200,
            report=lambda line: None,
            stamp="bad",
            executor=local(2),
        )
    assert not (tmp_path / "cmp-bad" / "report.md").exists()
    assert Run(tmp_path / "cmp-bad" / "lstm").raw_status().state == "finished"  # the other model went on


def test_a_model_named_twice_is_refused_before_anything_trains(tmp_path):
    with pytest.raises(SeqtuiError, match="'rnn' is named twice"):
        compare(
            tmp_path, {}, Budget(steps=1), ["rnn", "lstm", "rnn"], report=lambda line: None, executor=FakeExecutor()
        )
    assert not list(tmp_path.iterdir())


def test_a_name_that_is_only_the_start_of_another_comparison_is_free(tmp_path):
    (tmp_path / "cmp-1127-211345" / "rnn").mkdir(parents=True)  # a comparison named by date and time
    md, _ = compare(
        tmp_path,
        {"n-max": 1},
        Budget(steps=2),
        ["rnn"],
        samples=100,
        report=lambda line: None,
        executor=FakeExecutor(),
        stamp="1127",
    )
    assert md == tmp_path / "cmp-1127" / "report.md" and group_runs(tmp_path, "1127") == [tmp_path / "cmp-1127" / "rnn"]
