"""What a new user's walk through the command line found: `runs` piped for scripts, a damaged
config.json refused by every command that loads the model, a multi-digit token named as such, and
an honest price for a large evaluation."""

import io
import json
import re
import shutil
from datetime import datetime

import pytest
from conftest import seqtui_here, small_config
from rich.console import Console

from seqtui.cli import listing
from seqtui.core.tasks import parse_sequence
from seqtui.session import runner
from seqtui.settings.errors import SeqtuiError
from seqtui.store.catalogue import list_runs
from seqtui.store.run import Run

CUT_SHORT = '{"format": 2, "task": \n'


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """A finished run (judged), a sweep of two copies of it, and a copy whose config.json is cut short."""
    from seqtui.sweep.manifest import Manifest, TrialRecord, write_manifest
    from seqtui.sweep.spec import SweepSpec

    root = tmp_path_factory.mktemp("walk")
    run = Run.create(root / "done", small_config())
    assert runner.train(run).state == "finished" and run.status().verdict is not None
    spec = SweepSpec.build("sw", {"model": "rnn", "hidden": 16}, seeds=2)
    records = {}
    for trial in spec.trials():
        shutil.copytree(run.path, root / "sw" / trial.name)
        records[trial.name] = TrialRecord(trial.name, dict(trial.values), state="finished", attempts=1)
    write_manifest(root / "sw", Manifest("sw", spec, records))
    shutil.copytree(run.path, root / "broken")
    (root / "broken" / "config.json").write_text(CUT_SHORT)
    return root


# -- runs, piped --------------------------------------------------------------------------------
def test_runs_piped_is_whole_values_with_every_remark_on_stderr(root):
    result = seqtui_here("runs", "--root", str(root))  # stdout is not a terminal here
    assert result.returncode == 0, result.stderr
    header, *lines = result.stdout.splitlines()
    assert header.split("\t") == listing.PIPED_COLUMNS
    rows = {}
    for line in lines:
        fields = line.split("\t")
        assert len(fields) == len(listing.PIPED_COLUMNS), line
        rows[fields[0]] = dict(zip(listing.PIPED_COLUMNS, fields))
    assert set(rows) == {"done", "sw/", "broken"}  # no hint or damage among the values
    done, sweep, broken = rows["done"], rows["sw/"], rows["broken"]
    status = Run(root / "done").status()
    assert done["steps"] == str(status.step) == "40" and done["examples"] == str(status.examples)
    assert done["verdict"] == status.verdict and done["model"] == "rnn16" and done["task"] == "match/random"
    assert float(done["worst length"]) == pytest.approx(status.latest_worst, abs=1e-4)
    assert done["trials"] == done["finished"] == done["learned"] == ""
    updated = datetime.fromisoformat(done["updated"].replace("Z", "+00:00"))  # absolute, in UTC
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", done["updated"])
    assert abs(updated.timestamp() - status.heartbeat) < 1
    assert sweep["trials"] == sweep["finished"] == "2" and sweep["learned"] == str(2 * (status.verdict == "learned"))
    assert sweep["examples"] == str(2 * status.examples) and sweep["model"] == "rnn16"
    assert sweep["verdict"] == sweep["steps"] == "" and sweep["task"] == "match/random"
    assert broken["state"] == "damaged" and broken["verdict"] == broken["model"] == broken["task"] == ""
    for row in rows.values():
        assert "-" not in (row["verdict"], row["steps"], row["worst length"]) and "ago" not in row["updated"]
        assert "," not in row["steps"] + row["examples"]
    assert "a sweep is one line here; its trials: seqtui runs SWEEP" in result.stderr
    assert "broken: " in result.stderr and "not valid JSON" in result.stderr
    assert "not valid JSON" not in result.stdout and "SWEEP" not in result.stdout


def test_runs_piped_with_nothing_to_list_is_the_header_alone(tmp_path):
    result = seqtui_here("runs", "--root", str(tmp_path))
    assert result.returncode == 0 and result.stdout.splitlines() == ["\t".join(listing.PIPED_COLUMNS)]
    assert "no runs under" in result.stderr


def test_runs_on_a_terminal_is_the_table_as_before(root, monkeypatch):
    screen = io.StringIO()
    monkeypatch.setattr(listing, "console", Console(file=screen, force_terminal=True, width=200, no_color=True))
    assert seqtui_here("runs", "--root", str(root)).returncode == 0
    shown = screen.getvalue()
    learned = 2 * (Run(root / "done").status().verdict == "learned")
    assert "sw/ (2/2 done)" in shown and f"{learned}/2 learned" in shown and "2 models" not in shown
    assert "ago" in shown and "a sweep is one line here" in shown and "broken: " in shown
    assert re.search(r"broken\s+damaged\s+-\s", shown), shown  # a damaged run shows no verdict


def test_a_damaged_run_is_judged_by_no_one(root):
    summaries = {s.run.name: s for s in list_runs(root)}
    assert summaries["done"].verdict != "-"  # the same run whole, judged
    assert summaries["broken"].state == "damaged" and summaries["broken"].verdict == "-"
    assert summaries["broken"].status.verdict is None
    listed = [json.loads(line) for line in seqtui_here("runs", "--root", str(root), "--json").stdout.splitlines()]
    assert {r["run"].rsplit("/", 1)[-1]: r["verdict"] for r in listed}["broken"] is None


# -- a damaged config.json ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "damage, says",
    [
        (lambda config: CUT_SHORT, "config.json is not valid JSON"),
        (
            lambda config: json.dumps({**config, "model": {**config["model"], "hidden": -3}}),
            "config.json does not describe a run: hidden size must be at least 1, got -3",
        ),
    ],
)
def test_every_command_that_loads_the_model_refuses_a_damaged_config_as_resume_does(root, tmp_path, damage, says):
    run = tmp_path / "damaged"
    shutil.copytree(root / "done", run)
    config = run / "config.json"
    config.write_text(damage(json.loads(config.read_text())))
    resumed = seqtui_here("train", "--resume", str(run))
    assert resumed.returncode == 1 and says in resumed.stderr
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    for args in (
        ["eval", str(run), "--samples", "100"],
        ["predict", str(run), "1212"],
        ["gradients", str(run), "--samples", "8"],
        ["export", str(run)],
    ):
        result = seqtui_here(*args)
        assert result.returncode == 1 and result.stdout == "", (args, result.stdout)
        assert result.stderr == resumed.stderr, args  # the same one line
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before
    assert not (run / "export").exists()


# -- a multi-digit token ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, says",
    [
        ("12 3", "'12' is not one digit: write digits as 1 2 3 or 123"),
        ("1,4,2,1,4,22", "'22' is not one digit: write digits as 1 4 2 1 4 2 2 or 1421422"),
        ("1 2 3 4 5 6 7 8 90", "'90' is not one digit: write digits as 1 4 2 1 4 2 or 142142"),
    ],
)
def test_a_number_among_separated_digits_is_named_as_such(text, says):
    with pytest.raises(SeqtuiError) as raised:
        parse_sequence(text)
    assert str(raised.value) == says


def test_the_message_fits_one_line_of_the_probe_screen_whatever_the_number():
    longest = 0
    for digits in range(2, 30):
        for others in range(1, 12):
            with pytest.raises(SeqtuiError) as raised:
                parse_sequence(" ".join(["7" * digits, *"3" * others]))
            assert "is not one digit" in str(raised.value)
            longest = max(longest, len(str(raised.value)))
    assert longest <= 76  # 80 columns less the screen's border and padding


@pytest.mark.parametrize("text", ["1 4 2 1 4 2", "1,4,2,1,4,2", "142142", " 1, 4 ,2 1 4 2\n", "1, 4, 2, 1, 4, 2"])
def test_every_form_still_reads(text):
    assert parse_sequence(text) == [1, 4, 2, 1, 4, 2]


def test_other_bad_characters_keep_their_own_message():
    for text, bad in (("12a4", "'a'"), ("1 -2", "'-2'"), ("1.5 2", "'1.5'"), ("12 x", "'x'")):
        with pytest.raises(SeqtuiError, match=f"not a digit sequence: {re.escape(bad)}"):
            parse_sequence(text)


def test_predict_on_stdin_names_the_number(root, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("12 3\n1212\n"))
    result = seqtui_here("predict", str(root / "done"))
    assert result.returncode == 1 and "1 2 | 1 2" in result.stdout
    assert result.stderr.strip() == "seqtui: error: line 1: '12' is not one digit: write digits as 1 2 3 or 123"


# -- the price of a large evaluation ------------------------------------------------------------
class _Machine:
    """Passes that take modelled seconds on a fake clock (no real time is measured): an overhead
    and a cost per example, both growing with the length; a first pass that pays for starting up;
    stalls on the passes listed."""

    def __init__(self, overhead: float, per_example: float, warm_up: float = 0.0, stalls: tuple[int, ...] = ()):
        self.overhead, self.per_example, self.warm_up, self.stalls = overhead, per_example, warm_up, stalls
        self.now, self.passes = 0.0, []

    def run_pass(self, n: int, batch: int) -> None:
        self.now += self.seconds(n, batch, 1) + (self.warm_up if not self.passes else 0.0)
        self.now += 5.0 if len(self.passes) in self.stalls else 0.0
        self.passes.append((n, batch))

    def seconds(self, n: int, batch: int, passes: int) -> float:
        return passes * self.overhead * n + batch * self.per_example * n

    def clock(self) -> float:
        return self.now

    def evaluation(self, lengths: range, samples: int, chunk: int) -> float:
        per_length = samples // len(lengths)
        return sum(self.seconds(n, per_length, -(-per_length // chunk)) for n in lengths)


@pytest.mark.parametrize(
    "overhead, per_example",
    [(1e-4, 1e-6), (0.01, 1e-7), (0.0, 1e-5)],  # quiet; threads waiting on a busy machine; a large model
)
@pytest.mark.parametrize("lengths, samples", [(range(1, 11), 100_000), (range(1, 11), 3_000_000), (range(5, 6), 10**6)])
def test_the_price_is_the_evaluation_the_passes_describe(overhead, per_example, lengths, samples):
    from seqtui.cli.model import price

    machine = _Machine(overhead, per_example)
    priced = price(machine.run_pass, lengths, samples, 16_384, machine.clock)
    assert priced == pytest.approx(machine.evaluation(lengths, samples, 16_384))
    assert {n for n, _ in machine.passes} == {lengths[0], lengths[-1]}  # the ends stand for the mean


def test_the_price_leaves_out_the_warm_up_and_the_stalls():
    from seqtui.cli.model import price

    lengths, samples = range(1, 11), 100_000
    machine = _Machine(0.01, 1e-7, warm_up=1.0, stalls=(3, 8))  # starting up once; stalled twice
    priced = price(machine.run_pass, lengths, samples, 16_384, machine.clock)
    assert priced == pytest.approx(_Machine(0.01, 1e-7).evaluation(lengths, samples, 16_384))


def test_a_busy_machine_is_priced_by_its_passes_not_by_its_examples():
    """Threads that wait for a core make every pass slow, however small: the time to come is the
    passes the evaluation makes, not the examples of a small pass scaled up (53 s said, 2.9 s taken)."""
    from seqtui.cli.model import price

    lengths, samples = range(1, 11), 100_000
    machine = _Machine(0.01, 0.0)  # 10 ms a step, whatever the batch
    priced = price(machine.run_pass, lengths, samples, 16_384, machine.clock)
    assert priced == pytest.approx(sum(0.01 * n for n in lengths))  # one pass a length: 0.55 s
    scaled_up = samples / 2_000 * sum(machine.seconds(n, 200, 1) for n in lengths)  # 2,000 examples, timed
    assert scaled_up == pytest.approx(50 * priced)  # what was said before


def test_eval_says_the_price_and_refuses_a_day(root, monkeypatch):
    from seqtui.cli import model

    monkeypatch.setattr(model, "price", lambda run_pass, lengths, samples, chunk: samples / 100)  # 100 examples/s
    result = seqtui_here("eval", str(root / "done"), "--samples", "3000")
    assert result.returncode == 0 and "evaluating 3,000 examples: about 30s" in result.stderr
    refused = seqtui_here("eval", str(root / "done"), "--samples", "9M")
    assert refused.returncode == 1 and "would take about 25h" in refused.stderr and "(100 examples/s)" in refused.stderr


def test_the_pilot_passes_evaluate_one_length_each(root, monkeypatch):
    from seqtui.cli import model
    from seqtui.core import evaluation

    seen = []
    evaluate = evaluation.evaluate

    def counted(model_, task, samples, negatives, max_pattern, seed, device):
        seen.append((task.n_min, task.n_max, max_pattern, samples))
        return evaluate(model_, task, samples, negatives, max_pattern, seed, device)

    monkeypatch.setattr(evaluation, "evaluate", counted)
    assert seqtui_here("eval", str(root / "done"), "--samples", "3000", "--max-len", "8").returncode == 0
    *pilot, real = seen
    assert real == (1, 3, 4, 3000)  # the evaluation asked for, after its price
    assert {(n_min, n_max, top) for n_min, n_max, top, _ in pilot} == {(1, 1, 1), (4, 4, 4)}
    assert {samples for *_, samples in pilot} == set(model.PILOT_BATCHES)
