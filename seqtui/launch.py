"""Starting `seqtui train` as its own process, detached from the terminal.

A viewer (the app) never trains in its own process: the trainer runs in a new session, so a
hang-up of the terminal (a dropped SSH connection) does not reach it, with its output going to
the run directory's train.log. The viewer then follows the run through its directory.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from seqtui.errors import SeqtuiError
from seqtui.runs import LOG, Run
from seqtui.training import TrainConfig

# A trainer started from the app yields the CPU to it when both want it: on a small machine
# the UI then answers keys promptly, and when the UI is idle the trainer still gets every core.
NICE = 5



def train_arguments(config: TrainConfig) -> list[str]:
    """`seqtui train` flags that reproduce `config` exactly."""
    budget = config.budget
    args = [
        "--task", config.task.task, "--negatives", config.task.negatives,
        "--n-min", str(config.task.n_min), "--n-max", str(config.task.n_max),
        "--model", config.model.model, "--hidden", str(config.model.hidden), "--init", config.model.init,
        "--lr", repr(config.lr), "--batch-size", str(config.batch_size),
        "--clip", repr(config.clip or 0), "--schedule", config.schedule,
        "--seed", str(config.seed), "--device", config.device,
        "--eval-samples", str(config.eval_samples), "--eval-every", repr(config.eval_every),
    ]
    if budget.steps is not None:
        args += ["--steps", str(budget.steps)]
    if budget.samples is not None:
        args += ["--samples", str(budget.samples)]
    if budget.seconds is not None:
        args += ["--time", repr(budget.seconds)]
    if config.target_accuracy is not None:
        args += ["--target-acc", repr(config.target_accuracy)]
    return args


def spawn(args: list[str], log: Path) -> subprocess.Popen:
    """`seqtui ARGS --nice N` in its own session, its output appended to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "seqtui", *args, "--nice", str(NICE)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own session: no SIGHUP, no Ctrl-C from our terminal
            close_fds=True,
        )


def start_training(run_dir: Path, config: TrainConfig, timeout: float = 30.0) -> Run:
    """Start a new run in a detached trainer; returns once the trainer has written its status."""
    config.validate()
    run_dir = Path(run_dir)
    if run_dir.exists() and any(run_dir.iterdir()):
        raise SeqtuiError(f"{run_dir} already exists and is not empty: pick another name")
    run_dir.mkdir(parents=True, exist_ok=True)
    process = spawn(["train", *train_arguments(config), "--run-dir", str(run_dir), "--quiet"], run_dir / LOG)
    return _wait_until_training(run_dir, process, timeout)


def resume_training(run: Run, extra_args: list[str] | None = None, timeout: float = 30.0) -> Run:
    """Continue a stopped or interrupted run in a detached trainer."""
    if run.is_active():
        raise SeqtuiError(f"run {run.name} is already training")
    process = spawn(["train", "--resume", str(run.path), *(extra_args or []), "--quiet"], run.file(LOG))
    return _wait_until_training(run.path, process, timeout)


def _wait_until_training(run_dir: Path, process: subprocess.Popen, timeout: float) -> Run:
    deadline = time.monotonic() + timeout
    run = Run(run_dir)
    while time.monotonic() < deadline:
        if run.raw_status().get("pid") == process.pid:
            return run
        code = process.poll()
        if code is not None:
            raise SeqtuiError(f"the trainer exited at once (status {code}): {log_tail(run_dir)}")
        time.sleep(0.05)
    raise SeqtuiError(f"the trainer did not start within {timeout:.0f} s: {log_tail(run_dir)}")


def log_tail(run_dir: Path) -> str:
    log = run_dir / LOG
    if log.exists():
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
        if lines:
            return lines[-1]
    return "no output"
