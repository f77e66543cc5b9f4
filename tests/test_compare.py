import csv

import pytest

from seqtui.compare import compare, group_of, group_runs, report_path
from seqtui.errors import SeqtuiError
from seqtui.runs import list_runs
from seqtui.training import Budget


def test_compare_trains_each_model_as_a_run_and_writes_a_report(tmp_path):
    md, table = compare(tmp_path, {"--n-max": 2}, Budget(steps=20), ["rnn", "rnn-identity", "lstm", "gru"],
                        samples=400, report=lambda line: None)
    runs = {s.run.name.rsplit("-", 1)[-1] if not s.run.name.endswith("identity") else "rnn-identity": s
            for s in list_runs(tmp_path)}
    assert len(runs) == 4 and all(s.state == "finished" and s.step == 20 for s in runs.values())
    assert len({s.examples for s in runs.values()}) == 1  # the same data budget for every model
    rows = list(csv.DictReader(open(table)))
    assert [r["model"] for r in rows] == ["rnn", "rnn-identity", "lstm", "gru"]
    assert {"random_2", "random_4", "hard_4", "random_14"} <= rows[0].keys()  # past the training range too
    assert all(float(r["gradient_ratio"]) > 0 for r in rows)
    text = md.read_text()
    assert text.count("| rnn-identity |") == 3 and "time to 99%" in text


def test_compare_refuses_an_unknown_model(tmp_path):
    with pytest.raises(SeqtuiError, match="unknown model 'transformer'"):
        compare(tmp_path, {}, Budget(steps=1), ["rnn", "transformer"], report=lambda line: None)
    assert not list(tmp_path.iterdir())


def test_a_named_comparison_is_a_group_of_runs_the_app_can_find(tmp_path):
    md, _ = compare(tmp_path, {"--n-max": 2}, Budget(steps=5), ["lstm", "rnn"], samples=200,
                    report=lambda line: None, stamp="t1")
    assert md == report_path(tmp_path, "t1") and md.is_file()
    (tmp_path / "cmp-t1-notes").mkdir()  # not a model's run: not in the group
    assert [p.name for p in group_runs(tmp_path, "t1")] == ["cmp-t1-rnn", "cmp-t1-lstm"]  # in SPECS order
    assert group_runs(tmp_path, "t2") == []
    with pytest.raises(SeqtuiError, match="exists already"):
        compare(tmp_path, {}, Budget(steps=1), ["gru"], report=lambda line: None, stamp="t1")
    assert not (tmp_path / "cmp-t1-gru").exists()


@pytest.mark.parametrize("name,stamp", [
    ("cmp-1127-211345-rnn-identity", "1127-211345"), ("cmp-1127-211345-lstm", "1127-211345"),
    ("cmp-t1-gru", "t1"), ("cmp-t1-transformer", None), ("lstm-match-random-1127-211345", None),
    ("cmp-t1-report.md", None),
])
def test_group_of_reads_the_comparison_from_a_run_name(name, stamp):
    assert group_of(name) == stamp


def test_a_comparison_name_cannot_reach_outside_the_runs_root(tmp_path):
    for bad in ("../x", "a-b", "", "a/b"):
        with pytest.raises(SeqtuiError, match="comparison name"):
            compare(tmp_path, {}, Budget(steps=1), ["rnn"], report=lambda line: None, stamp=bad)
    assert not list(tmp_path.iterdir())
