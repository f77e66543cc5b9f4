"""Shared fixtures: small, fast training configurations and run directories."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from seqtui.core.models import ModelConfig
from seqtui.core.tasks import TaskConfig
from seqtui.core.training import Budget, TrainConfig

torch.set_num_threads(1)  # fewer threads: deterministic timing-independent results, less contention


def small_config(**overrides) -> TrainConfig:
    """A configuration that trains in well under a second per hundred steps."""
    values = dict(
        task=TaskConfig(n_min=1, n_max=3),
        model=ModelConfig("rnn", 16),
        lr=3e-3,
        batch_size=32,
        budget=Budget(steps=40),
        eval_samples=300,
        eval_every=10**9,
        log_every=0.05,
        device="cpu",
    )
    values.update(overrides)
    return TrainConfig(**values)


@pytest.fixture
def config_factory():
    return small_config


def seqtui_command(*args: str, cwd: Path | None = None, stdin: str | None = None, timeout: float = 120):
    """Run the real `seqtui` entry point in a child process."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, "-c", "from seqtui.cli.main import entry; entry()", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def seqtui_here(*args: str) -> subprocess.CompletedProcess:
    """The `seqtui` command run in this process (no interpreter or torch to start): its exit
    status and what it printed, as seqtui_command gives them. For commands that need no process
    of their own; the entry point itself is tested through seqtui_command."""
    import contextlib
    import io

    from seqtui.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exit:  # argparse's refusals
            code = exit.code if isinstance(exit.code, int) else 1
    return subprocess.CompletedProcess(["seqtui", *args], code, out.getvalue(), err.getvalue())


def form_ready(app) -> bool:
    """The new-run form on screen with every field, each widget of it mounted. It is built just
    after its notice is on screen, and its fields mount over several passes: a field read or set
    before then is not there, and an app closed meanwhile fails in Textual's Select."""
    from seqtui.app.screens.dialogs import NewRunDialog
    from seqtui.settings.registry import SETTINGS

    screen = app.screen
    if not isinstance(screen, NewRunDialog) or not screen.query("#start"):
        return False
    if not all(screen.query(f"#f-{setting.name}") for setting in SETTINGS):
        return False
    return all(widget.is_mounted for widget in screen.query("*"))


async def wait_for_form(pilot, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not form_ready(pilot.app):
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the new-run form")
        await pilot.pause(0.05)


def wait_until(condition, timeout: float = 60.0, what: str = "condition") -> None:
    """Wait for a condition, not for a time: a busy machine only makes it slower."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def train_until_stopped_at(run, step: int):
    """Train `run` in this process, asking it to stop (as another process would) once past `step`."""
    from seqtui.session import runner

    trainers = []

    def stop(event):
        if trainers[0].step >= step:
            run.request("stopped")

    return runner.train(run, on_event=stop, on_start=trainers.append)


# tests that train in real processes for ten seconds or more: started first, so that no worker is
# left with one of them at the end while the others have nothing to do
LONG = (
    "test_on_a_local_ray_instance",
    "test_a_trial_killed_mid_run",
    "test_compare_key_starts",
    "test_a_local_sweep_trains",
    "test_a_resume_refused_because_the_run_trains",
    "test_two_at_a_time",
    "test_kills_at_any_moment",
    "test_a_corrupt_checkpoint",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: not item.name.startswith(LONG))
