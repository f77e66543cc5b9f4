import csv

import pytest

from seqtui.compare import compare
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
