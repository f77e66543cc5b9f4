"""The `seqtui` command: outputs scripts rely on, and one clear line for every bad input."""

import json
import os
import shutil
import socket
import subprocess
import sys

import pytest
from conftest import seqtui_command, seqtui_here


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "lstm1"
    result = seqtui_command(
        "train",
        "--model",
        "lstm",
        "--hidden",
        "32",
        "--n-max",
        "3",
        "--lr",
        "0.01",
        "--batch-size",
        "128",
        "--steps",
        "400",
        "--eval-samples",
        "600",
        "--eval-every",
        "1G",
        "--run-dir",
        str(run_dir),
    )
    assert result.returncode == 0, result.stderr
    assert "finished" in result.stdout
    return run_dir


def assert_one_line_error(result, says: str, code: int = 1):
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert says in lines[0], lines[0]


def test_train_writes_the_documented_run_layout(trained_run):
    assert {p.name for p in trained_run.iterdir()} >= {
        "config.json",
        "metrics.jsonl",
        "checkpoint.safetensors",
        "status.json",
    }
    records = [json.loads(line) for line in (trained_run / "metrics.jsonl").read_text().splitlines()]
    assert all("step" in r and "kind" in r for r in records)
    train = [r for r in records if r["kind"] == "train"]
    assert train and {"loss", "accuracy", "examples_per_s", "grad_norm"} <= train[-1].keys()
    assert records[-2]["kind"] == "eval" and set(records[-2]["accuracy_by_length"]) == {"2", "4", "6"}
    assert set(records[-2]["gradient_ratio_by_length"]) == {"2", "4", "6"}  # gradient flow, measured alongside
    assert len(records[-2]["gradient_norms_by_length"]["6"]) == 6
    status = json.loads((trained_run / "status.json").read_text())
    assert status["state"] == "finished" and status["step"] == 400


def test_eval_json_gives_accuracy_by_length(trained_run):
    result = seqtui_here("eval", str(trained_run), "--samples", "4000", "--max-len", "10", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report["accuracy_by_length"]) == {"2", "4", "6", "8", "10"}
    assert min(report["accuracy_by_length"][k] for k in ("2", "4", "6")) > 0.95
    assert report["count_by_length"]["2"] == 800
    low, high = report["interval_by_length"]["6"]
    assert low <= report["accuracy_by_length"]["6"] <= high


def test_eval_table_marks_lengths_beyond_training(trained_run):
    result = seqtui_here("eval", str(trained_run), "--samples", "800", "--max-len", "8", "--negatives", "hard")
    assert result.returncode == 0, result.stderr
    assert "trained on" in result.stdout and "no, longer" in result.stdout and "hard negatives" in result.stdout
    lines = result.stdout.splitlines()
    assert max(map(len, lines)) <= 80 and all("│ │" not in line for line in lines)  # piped: fits, no empty column
    summary = next(line for line in lines if "worst length" in line)
    assert summary.startswith("800 examples") and summary.rstrip().split()[-1][0].isdigit()  # one line, unwrapped


def test_predict_without_sequences_on_a_terminal_says_it_reads_them(trained_run, monkeypatch, capsys):
    import io

    from seqtui.cli.main import main

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr("sys.stdin", Terminal(""))  # a user who typed nothing, then ctrl+d
    assert main(["predict", str(trained_run)]) == 1
    said = capsys.readouterr().err
    assert "one per line; end with ctrl+d" in said and "no sequences given" in said
    piped = seqtui_command("predict", str(trained_run), stdin="")  # piped: no hint, the error only
    assert piped.returncode == 1 and "no sequences given" in piped.stderr and "ctrl+d" not in piped.stderr


def seqtui_here_stdin(args: list[str], stdin: str):
    import io
    import sys

    saved = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        return seqtui_here(*args)
    finally:
        sys.stdin = saved


def test_predict_reads_all_three_forms_and_stdin(trained_run):
    result = seqtui_here("predict", str(trained_run), "1 4 2 1 4 2", "6,0,5,1", "3131", "1234512345", "--json")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["digits"] for r in rows] == [[1, 4, 2, 1, 4, 2], [6, 0, 5, 1], [3, 1, 3, 1], [1, 2, 3, 4, 5] * 2]
    assert [r["match"] for r in rows[:3]] == [True, False, True]  # a trained model gets these right
    assert all(0 <= r["p_match"] <= 1 for r in rows)
    assert [r["in_range"] for r in rows] == [True, True, True, False]
    piped = seqtui_command("predict", str(trained_run), stdin="1 4 2 1 4 2\n\n6,0,5,1\n")
    assert piped.returncode == 0 and "no match" in piped.stdout and piped.stdout.count("right") == 2


def test_predict_answers_each_good_line_and_reports_each_bad_one_by_number(trained_run):
    piped = seqtui_here_stdin(["predict", str(trained_run), "--json"], "142142\n\n12,12\n3131\n7\n")
    assert piped.returncode == 1  # some failed
    rows = [json.loads(line) for line in piped.stdout.splitlines()]
    assert [(r["item"], r.get("digits")) for r in rows if "error" not in r] == [
        ("line 1", [1, 4, 2, 1, 4, 2]),
        ("line 4", [3, 1, 3, 1]),
    ]
    assert [r["item"] for r in rows if "error" in r] == ["line 3", "line 5"]
    errors = piped.stderr.strip().splitlines()
    assert len(errors) == 2 and errors[0].startswith("seqtui: error: line 3: '12' is not one digit")
    assert "line 5: odd length" in errors[1]
    table = seqtui_here_stdin(["predict", str(trained_run)], "1212\nxx\n")
    assert table.returncode == 1 and "1 2 | 1 2" in table.stdout and "line 2" in table.stderr


def test_gradients_reports_dl_dh_for_every_step(trained_run):
    result = seqtui_here("gradients", str(trained_run), "--samples", "32", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [len(report["by_length"][k]) for k in ("2", "4", "6")] == [2, 4, 6]
    ratio = report["ratio_by_length"]["6"]
    assert ratio == pytest.approx(report["by_length"]["6"][0] / report["by_length"]["6"][-1])
    assert report["during_training"] and report["during_training"][-1]["step"] == 400
    table = seqtui_here("gradients", str(trained_run), "--samples", "32")
    assert table.returncode == 0 and "first/last" in table.stdout
    shown = " ".join(table.stdout.split())  # two measurements, each saying which it is
    assert "measured now on 32 fresh examples a length" in shown and "F6 and F7's figures: 128 other" in shown


def test_export_writes_csv(trained_run, tmp_path):
    import csv

    result = seqtui_here("export", str(trained_run), "--out", str(tmp_path / "csv"))
    assert result.returncode == 0, result.stderr
    train = list(csv.DictReader(open(tmp_path / "csv" / "train.csv")))
    evals = list(csv.DictReader(open(tmp_path / "csv" / "evals.csv")))
    assert train and int(train[-1]["step"]) == 400 and float(train[-1]["loss"]) > 0
    assert int(evals[-1]["step"]) == 400 and {"accuracy_2", "accuracy_6", "gradient_ratio_6"} <= evals[-1].keys()


def test_compare_from_the_command_line(tmp_path):
    result = seqtui_command(
        "compare",
        "--root",
        str(tmp_path),
        "--steps",
        "5",
        "--n-max",
        "2",
        "--models",
        "rnn,lstm",
        "--eval-samples",
        "200",
        "--nice",
        "1",
    )
    assert result.returncode == 0, result.stderr
    assert len(list(tmp_path.glob("cmp-*/report.md"))) == 1 and len(list(tmp_path.glob("cmp-*/report.csv"))) == 1
    assert sorted(p.name for p in tmp_path.glob("cmp-*/*") if p.is_dir()) == ["lstm", "rnn"]


def test_sample_json_lines(tmp_path):
    result = seqtui_command(
        "sample", "--task", "palindrome", "--negatives", "hard", "-n", "50", "--seed", "3", "--json"
    )
    assert result.returncode == 0
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 50
    for row in rows:
        digits, n = row["digits"], len(row["digits"]) // 2
        assert row["label"] == int(digits[n:] == digits[:n][::-1])


def test_runs_lists_the_run(trained_run):
    result = seqtui_here("runs", "--root", str(trained_run.parent), "--json")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["state"] for r in rows] == ["finished"] and rows[0]["model"] == "lstm32"


@pytest.mark.parametrize(
    "args, says",
    [
        (["predict", "{run}", "12a4"], "not a digit"),
        (["predict", "{run}", "123"], "odd length"),
        (["predict", "{run}", ""], "empty sequence"),
        (["predict", "{run}", "1212", "99x9"], "sequence 2"),
        (["train", "--hidden", "0", "--run-dir", "{tmp}/a"], "hidden size must be at least 1"),
        (["train", "--lr", "-0.1", "--run-dir", "{tmp}/a"], "learning rate must be a positive"),
        (["train", "--n-min", "5", "--n-max", "2", "--run-dir", "{tmp}/a"], "larger than n_max"),
        (["train", "--init", "identity", "--model", "gru", "--run-dir", "{tmp}/a"], "gru model takes only the default"),
        (["train", "--run-dir", "{run}"], "already exists"),
        (["train", "--resume", "{run}", "--lr", "0.1"], "cannot change when resuming"),
        (["train", "--resume", "{run}"], "whole budget"),
        (["eval", "{tmp}/nowhere"], "does not exist"),
        (["eval", "{tmp}"], "not a run directory"),
        (["eval", "{run}", "--max-len", "7"], "--max-len must be an even"),
        (["pause", "{run}"], "is not training"),
    ],
)
def test_bad_input_gets_one_clear_line(trained_run, tmp_path, args, says):
    args = [a.format(run=trained_run, tmp=tmp_path) for a in args]
    assert_one_line_error(seqtui_here(*args), says)
    assert not (tmp_path / "a").exists()  # nothing half-created


@pytest.mark.parametrize(
    "args, says",
    [
        (["train", "--model", "transformer"], "invalid choice"),
        (["eval"], "required"),
        (["predict", "x", "--samples", "3"], "unrecognized"),
    ],
)
def test_usage_errors_are_one_line_too(args, says):
    assert_one_line_error(seqtui_here(*args), says, code=2)


def test_a_corrupt_checkpoint_is_reported_and_left_alone(trained_run, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(trained_run, broken)
    checkpoint = broken / "checkpoint.safetensors"
    checkpoint.write_bytes(checkpoint.read_bytes()[:300])
    before = checkpoint.read_bytes()
    for args in (
        ["eval", str(broken)],
        ["predict", str(broken), "11"],
        ["train", "--resume", str(broken), "--steps", "5"],
    ):
        assert_one_line_error(seqtui_here(*args), "not a readable checkpoint")
    assert checkpoint.read_bytes() == before
    assert (broken / "metrics.jsonl").read_text() == (trained_run / "metrics.jsonl").read_text()


def test_resume_from_the_command_line_extends_the_budget(trained_run, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(trained_run, copy)
    result = seqtui_command("train", "--resume", str(copy), "--steps", "20", "--eval-samples", "300")
    assert result.returncode == 0, result.stderr
    status = json.loads((copy / "status.json").read_text())
    config = json.loads((copy / "config.json").read_text())
    assert status["state"] == "finished" and status["step"] == 420
    assert config["budget"]["steps"] == 420 and config["eval_samples"] == 300 and config["lr"] == 0.01


def test_serve_refuses_what_it_cannot_do_and_warns_off_localhost(tmp_path):
    missing = seqtui_here("serve", "--root", str(tmp_path / "nowhere"))
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    bad = seqtui_here("serve", "--root", str(tmp_path), "--port", "70000")
    assert bad.returncode == 1 and "a port is 1-65535" in bad.stderr
    from seqtui.app.serve import serve_command

    assert serve_command(tmp_path, writable=False).endswith("--read-only")  # what each browser tab runs
    assert "--read-only" not in serve_command(tmp_path, writable=True)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = str(sock.getsockname()[1])
    exposed = subprocess.Popen(
        [sys.executable, "-m", "seqtui", "serve", "--root", str(tmp_path), "--host", "0.0.0.0", "--port", port],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        warning = exposed.stderr.readline()
    finally:
        exposed.terminate()
        exposed.wait(timeout=30)
    assert "warning: serving on 0.0.0.0" in warning and "ssh -L" in warning
    with socket.socket() as taken:  # a port another process listens on: refused before any banner
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = seqtui_here("serve", "--root", str(tmp_path), "--port", str(taken.getsockname()[1]))
    assert busy.returncode == 1 and busy.stdout == "" and "cannot serve on 127.0.0.1" in busy.stderr


def test_eval_of_a_sweep_points_at_its_trials(tmp_path):
    sweep = tmp_path / "runs" / "memory"
    sweep.mkdir(parents=True)
    (sweep / "sweep.json").write_text("{}")
    result = seqtui_here("eval", "memory", "--root", str(tmp_path / "runs"))
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1
    assert "is a sweep, not a run" in result.stderr and "seqtui runs memory" in result.stderr


def test_predict_answers_a_pipe_line_by_line_before_it_ends(trained_run):
    process = subprocess.Popen(
        [sys.executable, "-m", "seqtui", "predict", str(trained_run), "--json"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        process.stdin.write("1212\n")
        process.stdin.flush()
        first = json.loads(process.stdout.readline())  # answered while the pipe is still open
        assert first["item"] == "line 1" and first["digits"] == [1, 2, 1, 2]
        process.stdin.write("x" * 2_000_000 + "\n")  # a huge bad line: one short message
        process.stdin.close()
        assert process.wait(timeout=60) == 1
        error = process.stderr.read().strip().splitlines()
        assert len(error) == 1 and "line 2: not a digit sequence" in error[0] and len(error[0]) < 200
    finally:
        process.kill()


def test_an_empty_value_is_a_slip_not_no_limit():
    result = seqtui_here("train", "--samples", "")
    assert result.returncode == 2 and "--samples: empty: give a value or off" in result.stderr


def test_export_never_writes_through_a_link_planted_in_the_run(trained_run, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    export = trained_run / "export"
    export.mkdir()
    (export / "train.csv").symlink_to(outside)
    (export / f".evals.csv.{os.getpid()}.tmp").symlink_to(outside)  # even at a temporary's name
    result = seqtui_here("export", str(trained_run))
    assert result.returncode == 0, result.stderr
    assert outside.read_text() == "keep me"
    assert not (export / "train.csv").is_symlink() and (export / "train.csv").read_text().startswith("step,")
    shutil.rmtree(export)
    export.symlink_to(tmp_path)  # the export folder itself a link out of the run: refused
    refused = seqtui_here("export", str(trained_run))
    assert refused.returncode == 1 and "is a link" in refused.stderr
    assert not (tmp_path / "train.csv").exists()


def test_serve_answers_only_its_own_pages(tmp_path):
    """A page of another origin (or a foreign name resolved to 127.0.0.1) reaches nothing."""
    import http.client
    import time

    from seqtui.app.serve import allowed

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "seqtui", "serve", "--root", str(tmp_path), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def status(headers: dict, path: str = "/") -> int:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", path, headers=headers)
        return connection.getresponse().status

    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                assert status({"Host": f"localhost:{port}"}) == 200
                break
            except (ConnectionRefusedError, OSError):
                assert time.monotonic() < deadline, "serve did not start"
                time.sleep(0.2)
        assert status({"Host": f"localhost:{port}", "Origin": f"http://localhost:{port}"}) == 200
        assert status({"Host": f"localhost:{port}", "Origin": "http://evil.example"}) == 403
        upgrade = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13"}
        upgrade["Sec-WebSocket-Key"] = "dGhlIHNhbXBsZSBub25jZQ=="
        assert status({"Host": f"127.0.0.1:{port}", "Origin": "http://evil.example", **upgrade}, "/ws") == 403
        assert status({"Host": f"evil.example:{port}"}) == 403  # a foreign name resolved to this machine
    finally:
        server.terminate()
        server.wait(timeout=30)
    # served on all addresses: any Host, but a page's Origin must be the address it came to
    assert allowed(None, "10.0.0.5:8000", "http://box:8000", local=False)
    assert allowed("http://10.0.0.5:8000", "10.0.0.5:8000", "http://box:8000", local=False)
    assert not allowed("http://evil.example", "10.0.0.5:8000", "http://box:8000", local=False)


@pytest.mark.parametrize(
    "args, says",
    [
        (["eval", "x", "--samples", "1e15"], "--samples: at most 100,000,000 examples"),
        (["sweep", "--seeds", "100000"], "--seeds: at most 1,000 seeds"),
        (["sample", "-n", "1e12"], "at most 1,000,000,000 sequences"),
    ],
)
def test_counts_have_bounds(args, says):
    result = seqtui_here(*args)
    assert result.returncode == 2 and says in result.stderr, result.stderr


def test_eval_prices_a_large_evaluation_and_refuses_one_beyond_a_day(trained_run, monkeypatch):
    from seqtui.cli import model

    monkeypatch.setattr(model, "DAY", 1e-6)  # as if this machine were very slow
    refused = seqtui_here("eval", str(trained_run), "--samples", "3000")
    assert refused.returncode == 1 and "would take about" in refused.stderr and "--force" in refused.stderr
    forced = seqtui_here("eval", str(trained_run), "--samples", "3000", "--force", "--json")
    assert forced.returncode == 0 and json.loads(forced.stdout)["samples"] == 3000


def test_seqtui_train_s_line_shows_an_evaluation_when_it_comes_not_at_the_next_step(tmp_path):
    """The final evaluation comes after the last step: the line says its figure, as the
    'finished' line under it does."""
    import io
    from types import SimpleNamespace

    from conftest import small_config
    from rich.console import Console

    from seqtui.cli.display_training import TrainingDisplay
    from seqtui.core.training import HeldOut, Progress
    from seqtui.store.run import Run

    run = Run.create(tmp_path / "r", small_config())
    display = TrainingDisplay(run, Console(force_terminal=True, width=80, file=io.StringIO()))
    display.update(Progress(100, 3200, 1.0, 0.1, 0.9, 3200.0, 0.5, 1e-3, 1.0, 1, 6))
    display.update(HeldOut(100, 3200, 1.0, SimpleNamespace(accuracy=0.95, worst=0.901)))  # type: ignore[arg-type]
    assert "worst 0.901" in display.bar.tasks[0].fields["line"]
