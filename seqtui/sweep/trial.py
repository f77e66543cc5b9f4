"""One trial in one process (`seqtui trial RUN`): train it to its budget unless it has been, then
measure it on fresh examples (heldout.json); and the reader of that measurement, which the report,
the comparison and the app's screens all share. Imports no torch until a trial is measured.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from seqtui.settings.errors import SeqtuiError
from seqtui.store.files import is_count, is_number, read_small_json, write_json_atomic
from seqtui.store.layout import HELDOUT
from seqtui.store.run import Run
from seqtui.sweep.spec import BEYOND

EXIT_STOPPED = 3  # `seqtui trial`: the run was stopped on request (seqtui stop, the app): not a failure
STOPPED = "stopped on request"


@dataclass(frozen=True)
class Measurement:
    """What a trial reached on fresh examples once trained (its heldout.json): the one record of
    a trial's result that the report, the comparison, the follower and the app's screens read."""

    step: int  # the checkpoint's step it measured
    examples: int
    seconds: float
    samples: int
    n_max: int  # the longest pattern trained on
    random: dict[int, float]  # sequence length -> accuracy, random negatives (past training too)
    hard: dict[int, float]  # the same, negatives one digit off
    gradient_ratio: float | None  # |dL/dh_1| / |dL/dh_T| at twice the longest trained pattern
    examples_to: dict[str, int]  # "0.95", "0.99" -> training examples until every length first reached it
    seconds_to: dict[str, float]

    @property
    def worst(self) -> float:
        """The worst accuracy over the trained lengths (random negatives)."""
        return min(v for n, v in self.random.items() if n <= 2 * self.n_max)

    def to_dict(self) -> dict:
        data = asdict(self)
        for kind in ("random", "hard"):
            data[kind] = {str(n): v for n, v in data[kind].items()}
        return {"format": 1, **data}


def read_heldout(run: Run) -> Measurement | None:
    """A trial's measurement, if it has a valid one; never raises."""
    try:
        data = read_small_json(run.file(HELDOUT))
    except SeqtuiError:
        return None
    try:
        if data.get("format") != 1 or not all(is_count(data.get(k)) for k in ("step", "examples", "n_max", "samples")):
            return None
        if not is_number(data.get("seconds")):
            return None
        by_kind = {}
        for kind in ("random", "hard"):
            table = data.get(kind)
            if not isinstance(table, dict) or not table:
                return None
            by_kind[kind] = {int(k): float(v) for k, v in table.items()}
            if not all(0 <= v <= 1 for v in by_kind[kind].values()):
                return None
        if not any(n <= 2 * data["n_max"] for n in by_kind["random"]):
            return None
        ratio = data.get("gradient_ratio")
        reached: dict = data["examples_to"] if isinstance(data.get("examples_to"), dict) else {}
        timed: dict = data["seconds_to"] if isinstance(data.get("seconds_to"), dict) else {}
        return Measurement(
            step=data["step"],
            examples=data["examples"],
            seconds=float(data["seconds"]),
            samples=data["samples"],
            n_max=data["n_max"],
            random=by_kind["random"],
            hard=by_kind["hard"],
            gradient_ratio=float(ratio) if isinstance(ratio, (int, float)) and is_number(ratio) else None,
            examples_to={str(k): v for k, v in reached.items() if is_count(v)},
            seconds_to={str(k): float(v) for k, v in timed.items() if is_number(v)},
        )
    except (TypeError, ValueError, OverflowError):
        return None


def measure_trial(run: Run, samples: int, beyond: int = BEYOND) -> Measurement:
    """Accuracy by length on fresh examples (random and hard negatives, up to `beyond` pattern
    lengths past training), the gradient ratio at twice the longest trained pattern, and when
    the held-out set first reached 95% and 99%; written to the run's heldout.json."""
    from seqtui.core.checkpoint import load_checkpoint
    from seqtui.core.evaluation import evaluate
    from seqtui.core.gradients import measure
    from seqtui.core.training import resolve_device
    from seqtui.session.runner import verdict_of
    from seqtui.store.history import history_of

    checkpoint = load_checkpoint(run.checkpoint_path)
    config = checkpoint.config
    device = resolve_device(config.device)
    model = checkpoint.build_model(device)
    task = config.task
    longest = min(task.n_max + beyond, 50)
    by_kind = {
        kind: evaluate(model, task, samples, kind, longest, device=device).accuracy_by_length()
        for kind in ("random", "hard")
    }
    ratio = measure(model, task, 256, lengths=[2 * task.n_max], device=device).ratio(2 * task.n_max)
    history = history_of(run.read_metrics())
    status = run.raw_status()
    result = Measurement(
        step=checkpoint.step,
        examples=status.examples,
        seconds=status.elapsed,
        samples=samples,
        n_max=task.n_max,
        random=by_kind["random"],
        hard=by_kind["hard"],
        gradient_ratio=ratio,
        examples_to={f"{k:g}": v for k, v in history.reached_examples.items()},
        seconds_to={f"{k:g}": v for k, v in history.reached.items()},
    )
    write_json_atomic(run.file(HELDOUT), result.to_dict())
    # the latest held-out accuracy at the worst length is now this one: the same figure (and the
    # verdict it gives) on every screen, the report and the sweep's map alike
    trained = [v for n, v in result.random.items() if n <= 2 * task.n_max]
    status.worst = result.worst
    status.verdict = verdict_of(sum(trained) / len(trained), result.worst)
    run.write_status(status)
    return result


def run_trial(run: Run, samples: int, beyond: int, threads: int | None = None) -> tuple[int, str]:
    """Train `run` to its budget (unless it finished already), then measure it: (exit code, line)."""
    from seqtui.session import runner

    if run.status().state != "finished" and not _budget_spent(run):
        settings = {"threads": threads} if threads else {}
        outcome = runner.train(run, settings=settings)
        if outcome.state != "finished":
            if outcome.stop_signal is not None:
                code = 128 + outcome.stop_signal
            else:
                code = EXIT_STOPPED if outcome.state == "stopped" else 1
            return code, f"trial {run.shown_name} {outcome.state}: {outcome.message}"
    with run.locked():
        result = measure_trial(run, samples, beyond)
    return 0, f"trial {run.shown_name} measured: worst trained length {result.worst:.4f} (random negatives)"


def _budget_spent(run: Run) -> bool:
    """Whether the run's checkpoint has trained its whole budget (a stop or a kill that came after
    the last step, before the run said it finished): then it is measured, not trained."""
    if not run.checkpoint_path.exists():
        return False
    from seqtui.core.checkpoint import load_checkpoint

    try:
        counters = load_checkpoint(run.checkpoint_path).counters
        budget = run.config().budget
    except SeqtuiError:
        return False  # the trainer says what is wrong with it
    return budget.reached(int(counters["step"]), int(counters["examples"]), float(counters["elapsed"]))
