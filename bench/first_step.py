"""How long from asking for a run to its first point on the chart (its first metrics line).

The ways a run starts: `seqtui train` from a shell; the app's ctrl+s, whose trainer was prepared
while the form was filled (seqtui.session.launch.PreparedTrainer); a sweep's first trial
(`seqtui trial RUN`, started cold) and its next ones (handed to a process the local executor
prepared while the others trained). Each on an idle machine and beside one
CPU-bound process, median of three.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from seqtui.session.launch import Prepared, PreparedTrainer, resume_training
from seqtui.settings.presets import preset_config
from seqtui.store.run import Run

FORM_SECONDS = 4.0  # the time a person takes to fill the form, which the prepared trainer uses
REPEATS = 3
SETTINGS = {"samples": 100_000, "eval-samples": 2_000}


def _first_line(run: Path, started: float, process: subprocess.Popen | None = None, limit: float = 60.0) -> float:
    """Seconds from `started` until the run's metrics.jsonl holds a training line."""
    metrics = run / "metrics.jsonl"
    while time.perf_counter() - started < limit:
        try:
            for line in metrics.read_text().splitlines():
                if json.loads(line).get("kind") == "train":
                    return time.perf_counter() - started
        except (OSError, ValueError):
            pass
        time.sleep(0.01)
    raise RuntimeError(f"no training line in {metrics} within {limit} s")


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def from_the_shell(root: Path, index: int) -> float:
    run = root / f"shell-{index}"
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "seqtui", "train", "--samples", "100k", "--eval-samples", "2000"]
        + ["--run-dir", str(run), "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        return _first_line(run, started)
    finally:
        _stop(process)


def from_the_form(root: Path, index: int) -> float:
    prepared = PreparedTrainer()
    time.sleep(FORM_SECONDS)
    started = time.perf_counter()  # ctrl+s: the run is created, then handed to the prepared trainer
    run = Run.create(root / f"form-{index}", preset_config(SETTINGS))
    resume_training(run, prepared=prepared)
    try:
        return _first_line(run.path, started)
    finally:
        _stop(prepared.process)


def a_trial(root: Path, index: int) -> float:
    run = Run.create(root / f"trial-{index}", preset_config(SETTINGS))
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "seqtui", "trial", str(run.path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        return _first_line(run.path, started)
    finally:
        _stop(process)


def a_prepared_trial(root: Path, index: int) -> float:
    """A sweep's next trial: the local executor prepares its process while the others train."""
    prepared = Prepared(nice=0, detach=False, tied=True)
    time.sleep(FORM_SECONDS)  # the trials before it training meanwhile
    run = Run.create(root / f"next-{index}", preset_config(SETTINGS))
    started = time.perf_counter()
    process = prepared.hand(["trial", str(run.path)], run.path / "train.log")
    try:
        return _first_line(run.path, started)
    finally:
        _stop(process)


WAYS = {"seqtui train (shell)": from_the_shell, "ctrl+s in the app (prepared trainer)": from_the_form}
WAYS["a sweep's first trial (seqtui trial)"] = a_trial
WAYS["a sweep's next trial (prepared while others train)"] = a_prepared_trial


def measure() -> dict[str, dict[str, float]]:
    """{way: {"idle": median s, "busy": median s}}"""
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="seqtui-first-") as folder:
        root = Path(folder)
        for condition in ("idle", "busy"):
            hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if condition == "busy" else None
            try:
                for index, (way, start) in enumerate(WAYS.items()):
                    times = [start(root / condition, index * 10 + i) for i in range(REPEATS)]
                    results.setdefault(way, {})[condition] = statistics.median(times)
                    each = ", ".join(f"{t:.2f}" for t in times)
                    print(f"{way}, {condition}: {results[way][condition]:.2f} s ({each})", flush=True)
            finally:
                if hog is not None:
                    _stop(hog)
    return results


def markdown(result: dict[str, dict[str, float]]) -> list[str]:
    return [
        "## From asking for a run to its first point",
        "",
        "Seconds from the command (or ctrl+s) until the run's first metrics line, which is the first "
        "point on the train screen's charts (the app then shows it within its 0.5 s poll); median of "
        f"{REPEATS}, on an idle machine and beside one CPU-bound process. The app's trainer is prepared "
        f"when its form opens ({FORM_SECONDS:g} s before ctrl+s here); the others import torch first "
        "(`python bench/bench.py --only first`). Target: under 2 s from ctrl+s on an idle 2-core box.",
        "",
        "| start | idle | beside a CPU hog |",
        "| --- | ---: | ---: |",
        *(f"| {way} | {t['idle']:.2f} s | {t['busy']:.2f} s |" for way, t in result.items()),
        "",
    ]
