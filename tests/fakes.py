"""An executor that trains nothing: trials end at once, in this process, as a test says."""

from __future__ import annotations

from seqtui.store.files import write_json_atomic
from seqtui.store.layout import HELDOUT
from seqtui.store.run import Run
from seqtui.store.status import RunStatus
from seqtui.sweep.spec import BEYOND
from seqtui.sweep.trial import STOPPED


def accuracy(run: Run, length: int) -> float:
    """What a fake trial reaches: more units remember longer; the same for every seed."""
    hidden = run.config().model.hidden
    return max(0.5, min(1.0, 1.0 - (length - 2) / (hidden * 2)))


def finish(run: Run) -> None:
    """What `seqtui trial` leaves once it trained and measured a run."""
    config = run.config()
    steps = config.budget.steps or 10
    run.write_status(RunStatus(state="finished", step=steps, examples=steps * config.batch_size, elapsed=1.0))
    n_max = config.task.n_max
    lengths = range(2, 2 * (n_max + BEYOND) + 1, 2)  # past the training range, as `seqtui trial` measures
    heldout = {
        "format": 1,
        "step": steps,
        "examples": steps * config.batch_size,
        "seconds": 1.0,
        "samples": 200,
        "n_max": n_max,
        "random": {str(n): accuracy(run, n) for n in lengths},
        "hard": {str(n): accuracy(run, n) - 0.1 for n in lengths},
        "gradient_ratio": 0.01,
        "examples_to": {"0.99": 1000},
        "seconds_to": {"0.99": 0.5},
    }
    write_json_atomic(run.file(HELDOUT), heldout)


class FakeExecutor:
    """Trials that end at once, in this process, as `outcomes` says for each attempt: finish,
    fail, stop (a stop request), silent (ends well without a measurement), hang (until stopped),
    interrupt (Ctrl-C reaches the driver while it waits)."""

    def __init__(self, outcomes: dict[str, list[str]] | None = None, capacity: int = 1):
        self.capacity = self.slots = capacity
        self.description = "in the test"
        self.outcomes = outcomes or {}
        self.started: list[str] = []
        self.args: dict[str, list[str]] = {}
        self.running: dict[str, Run] = {}
        self.most_at_once = 0
        self.stopped: list[str] = []
        self.closed = False

    def start(self, name: str, run: Run, args: list[str]) -> None:
        self.started.append(name)
        self.args[name] = args
        self.running[name] = run
        self.most_at_once = max(self.most_at_once, len(self.running))

    def adopt(self, name: str, run: Run) -> bool:
        return False  # like the local executor: a trial left running holds its run's lock

    def poll(self) -> list[tuple[str, str | None]]:
        ended: list[tuple[str, str | None]] = []
        for name, run in list(self.running.items()):
            plan = self.outcomes.get(name, ["finish"])
            outcome = plan[min(self.started.count(name), len(plan)) - 1]
            if outcome == "hang":
                continue
            if outcome == "interrupt":
                raise KeyboardInterrupt
            del self.running[name]
            if outcome == "finish":
                finish(run)
                ended.append((name, None))
            elif outcome == "fail":
                ended.append((name, "exit status 1: boom"))
            elif outcome == "stop":
                ended.append((name, STOPPED))
            elif outcome == "silent":
                ended.append((name, None))
        return ended

    def stop(self) -> None:
        self.stopped += list(self.running)
        self.running.clear()

    def close(self) -> None:
        self.closed = True
