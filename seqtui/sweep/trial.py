"""One trial in one process (`seqtui trial RUN`): train it to its budget unless it has been, then
measure it on fresh examples (heldout.json); and the reader of that measurement, which the report,
the comparison and the app's screens all share. Imports no torch until a trial is measured.
"""

from __future__ import annotations

import math

from seqtui.settings.errors import SeqtuiError
from seqtui.store.files import read_small_json, write_json_atomic
from seqtui.store.layout import HELDOUT
from seqtui.store.run import Run
from seqtui.sweep.spec import BEYOND

EXIT_STOPPED = 3  # `seqtui trial`: the run was stopped on request (seqtui stop, the app): not a failure


STOPPED = "stopped on request"


# -- one trial: trained, then measured ----------------------------------------------------------------
def read_heldout(run: Run) -> dict | None:
    """A trial's measurement, if it has a valid one for its present checkpoint; never raises."""
    try:
        data = read_small_json(run.file(HELDOUT))
    except SeqtuiError:
        return None
    try:
        ok = (
            data.get("format") == 1
            and all(isinstance(data.get(k), int) for k in ("step", "examples", "n_max", "samples"))
            and isinstance(data.get("seconds"), (int, float))
            and all(
                isinstance(data.get(kind), dict) and all(0 <= float(v) <= 1 for v in data[kind].values())
                for kind in ("random", "hard")
            )
        )
        if not ok:
            return None
        for kind in ("random", "hard"):
            data[kind] = {int(k): float(v) for k, v in data[kind].items()}
        ratio = data.get("gradient_ratio")
        data["gradient_ratio"] = float(ratio) if isinstance(ratio, (int, float)) and math.isfinite(ratio) else None
        reached = data.get("examples_to") if isinstance(data.get("examples_to"), dict) else {}
        data["examples_to"] = {str(k): int(v) for k, v in reached.items() if isinstance(v, int)}
        return data
    except (TypeError, ValueError):
        return None


def measure_trial(run: Run, samples: int, beyond: int = BEYOND) -> dict:
    """Accuracy by length on fresh examples (random and hard negatives, up to `beyond` pattern
    lengths past training), the gradient ratio at twice the longest trained pattern, and when
    the held-out set first reached 95% and 99%; written to the run's heldout.json."""
    from seqtui.core.checkpoint import load_checkpoint
    from seqtui.core.evaluation import evaluate
    from seqtui.core.gradients import measure
    from seqtui.core.training import resolve_device
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
    result = {
        "format": 1,
        "step": checkpoint.step,
        "examples": status.examples,
        "seconds": status.elapsed,
        "samples": samples,
        "n_max": task.n_max,
        "random": {str(n): v for n, v in by_kind["random"].items()},
        "hard": {str(n): v for n, v in by_kind["hard"].items()},
        "gradient_ratio": ratio,
        "examples_to": {f"{k:g}": v for k, v in history.reached_examples.items()},
        "seconds_to": {f"{k:g}": v for k, v in history.reached.items()},
    }
    write_json_atomic(run.file(HELDOUT), result)
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
    trained = range(2, 2 * result["n_max"] + 1)
    worst = min(v for n, v in result["random"].items() if int(n) in trained)
    return 0, f"trial {run.shown_name} measured: worst trained length {worst:.4f} (random negatives)"


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
