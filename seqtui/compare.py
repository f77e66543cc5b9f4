"""Train a set of models on the same task and seed, and report what they reach.

Each model becomes an ordinary run in the runs root (`cmp-<stamp>-<model>`); the report is written
beside them as Markdown and CSV (`cmp-<stamp>-report.md`, `.csv`). Each model trains on its own
preset (its batch size, learning rate and budget) unless a budget is given, the same for all; with
the same seed and batch size, models see the same batches in the same order.
"""

from __future__ import annotations

import csv
import io
import os
import re
import signal
import stat
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from seqtui.config import Budget, TrainConfig
from seqtui.errors import SeqtuiError
from seqtui.history import history_of
from seqtui.launch import log_tail, spawn_trainer
from seqtui.limits import check_training_fits
from seqtui.presets import preset_config
from seqtui.runs import LOG, Run, write_text_atomic

# name -> settings: the tutorial's rnn, its identity-initialised, clipped variant, lstm, gru
SPECS: dict[str, dict] = {
    "rnn": {"model": "rnn"},
    "rnn-identity": {"model": "rnn", "init": "identity", "clip": 1.0},
    "lstm": {"model": "lstm"},
    "gru": {"model": "gru"},
}
BEYOND = 5  # pattern lengths past the training range that the report also tests
# a comparison's name: the default date and time, or a word without "-", so run names split one way
STAMP = r"\d{4}-\d{6}|[A-Za-z0-9][A-Za-z0-9_.]*"


def group_of(name: str) -> str | None:
    """The stamp of a comparison run's name (`cmp-<stamp>-<model>`), or None."""
    match = re.fullmatch(f"cmp-({STAMP})-(" + "|".join(map(re.escape, SPECS)) + ")", name)
    return match.group(1) if match else None


def group_runs(root: Path, stamp: str) -> list[Path]:
    """A comparison's run directories that exist so far, in the order of SPECS."""
    order = list(SPECS)
    found = [p for p in Path(root).glob(f"cmp-{stamp}-*") if p.is_dir() and group_of(p.name) == stamp]
    return sorted(found, key=lambda p: order.index(p.name[len(f"cmp-{stamp}-") :]))


def report_path(root: Path, stamp: str) -> Path:
    return Path(root) / f"cmp-{stamp}-report.md"


def read_by_length(root: Path, stamp: str) -> dict[str, dict[str, dict[int, float]]]:
    """From a finished comparison's CSV: model -> "random"/"hard" -> sequence length -> accuracy.

    Empty while the comparison has not written its report, or when the file is not one (only a
    small regular file is read, and only accuracies between 0 and 1 are believed)."""
    path = Path(root) / f"cmp-{stamp}-report.csv"
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode) or info.st_size > 1 << 20:
            return {}
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle))
        out = {}
        for row in rows:
            out[row["model"]] = {
                kind: {int(k.split("_")[1]): float(v) for k, v in row.items() if k.startswith(kind + "_") and v}
                for kind in ("random", "hard")
            }
        if any(not 0 <= v <= 1 for model in out.values() for kind in model.values() for v in kind.values()):
            return {}
        return out
    except (OSError, KeyError, ValueError, IndexError, AttributeError, TypeError, csv.Error):
        return {}


@dataclass
class Row:
    name: str
    run: Run
    examples: int
    seconds: float
    random: dict[int, float]
    hard: dict[int, float]
    gradient_ratio: float
    to_95: float | None
    to_99: float | None
    n_max: int

    def worst(self, by_length: dict[int, float]) -> float:
        return min(v for n, v in by_length.items() if n <= 2 * self.n_max)


def compare(
    root: Path,
    settings: dict[str, Any],
    budget: Budget,
    names: list[str],
    samples: int = 20_000,
    report: Callable[[str], None] = print,
    stamp: str | None = None,
    parallel: int = 1,
) -> tuple[Path, Path]:
    """Train `names` (keys of SPECS) one after another, or `parallel` at a time, then measure each."""
    unknown = [n for n in names if n not in SPECS]
    if unknown:
        raise SeqtuiError(f"unknown model {unknown[0]!r} to compare: choose from {', '.join(SPECS)}")
    if stamp is not None and not re.fullmatch(STAMP, stamp):
        raise SeqtuiError(f"comparison name {stamp!r}: letters, digits, '_' and '.' (or MMDD-HHMMSS)")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise SeqtuiError(f"model {twice[0]!r} is named twice in the models to compare")
    if parallel < 1:
        raise SeqtuiError(f"--parallel {parallel}: train at least one model at a time")
    stamp = stamp or datetime.now().strftime("%m%d-%H%M%S")
    taken = [
        p.name
        for p in Path(root).glob(f"cmp-{stamp}-*")
        if group_of(p.name) == stamp or p.name.startswith(f"cmp-{stamp}-report.")
    ]
    if taken:
        raise SeqtuiError(f"a comparison named {stamp} exists already ({taken[0]}): choose another name")
    given = {
        name: value
        for name, value in (("samples", budget.samples), ("steps", budget.steps), ("time", budget.seconds))
        if value is not None
    }
    plans = []
    for name in names:  # every setting checked before anything trains
        config = preset_config({**settings, **given, **SPECS[name]})
        check_training_fits(config)
        plans.append((name, Path(root) / f"cmp-{stamp}-{name}", config))
    lengths = len(plans[0][2].task.pattern_lengths) + BEYOND if plans else 0
    if samples < lengths:  # the report's evaluations, checked before hours of training
        raise SeqtuiError(f"--eval-samples {samples} is too few for the report's {lengths} lengths: at least one each")
    if parallel == 1:
        from seqtui import runner

        for name, path, config in plans:
            run = Run.create(path, config)
            report(f"training {name} in {run.path} ...")
            outcome = runner.train(run)
            if outcome.state != "finished":
                raise SeqtuiError(f"{name} did not finish ({outcome.state}): {outcome.message}")
    else:
        _train_at_once(plans, parallel, report)
    rows = [_measure(name, Run(path), samples) for name, path, _ in plans]
    return _write(Path(root), stamp, rows, parallel)


def _train_at_once(plans: list[tuple[str, Path, TrainConfig]], parallel: int, report: Callable[[str], None]) -> None:
    """Each model in its own `seqtui train` process, `parallel` at a time, the cores split between them."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    threads = max(1, cores // parallel)
    waiting, running = list(plans), {}
    try:
        while waiting or running:
            while waiting and len(running) < parallel:
                name, path, config = waiting.pop(0)
                run = Run.create(path, config)
                plural = "s" if threads > 1 else ""
                report(f"training {name} in {path} ({threads} thread{plural} each, {parallel} models at a time) ...")
                running[name] = (spawn_trainer(run, nice=0, threads=threads, detach=False), path)
            time.sleep(0.1)
            for name, (process, path) in list(running.items()):
                if process.poll() is None:
                    continue
                del running[name]
                status = Run(path).raw_status()
                if process.returncode != 0 or status.state != "finished":
                    raise SeqtuiError(
                        f"{name} did not finish ({status.state}, exit status "
                        f"{process.returncode}): {log_tail(path)} (see {path / LOG})"
                    )
    except KeyboardInterrupt:
        raise SeqtuiError(
            "comparison interrupted: the models training now stop with a checkpoint "
            "(seqtui train --resume RUN continues one)"
        ) from None
    finally:
        for process, _ in running.values():  # an error or Ctrl-C: the others stop, saving a checkpoint
            process.send_signal(signal.SIGTERM)
        for process, _ in running.values():
            process.wait()


def _measure(name: str, run: Run, samples: int) -> Row:
    from seqtui.checkpoint import load_checkpoint
    from seqtui.evaluation import evaluate
    from seqtui.gradients import measure

    checkpoint = load_checkpoint(run.checkpoint_path)
    task = checkpoint.config.task
    model = checkpoint.build_model("cpu")
    longest = task.n_max + BEYOND
    random = evaluate(model, task, samples, "random", longest).accuracy_by_length()
    hard = evaluate(model, task, samples, "hard", longest).accuracy_by_length()
    ratio = measure(model, task, 256, lengths=[2 * task.n_max]).ratio(2 * task.n_max)
    reached = history_of(run.read_metrics()).reached
    status = run.status()
    return Row(
        name,
        run,
        status.examples,
        status.elapsed,
        random,
        hard,
        ratio,
        reached.get(0.95),
        reached.get(0.99),
        task.n_max,
    )


def _write(root: Path, stamp: str, rows: list[Row], parallel: int = 1) -> tuple[Path, Path]:
    lengths = sorted(rows[0].random)
    md_path, csv_path = root / f"cmp-{stamp}-report.md", root / f"cmp-{stamp}-report.csv"
    budgets = {r.name: r.run.config().budget.describe() for r in rows}
    same = len(set(budgets.values())) == 1
    budget_text = (
        f"the same budget ({next(iter(budgets.values()))})"
        if same
        else "each model its preset's settings and budget (" + "; ".join(f"{k}: {v}" for k, v in budgets.items()) + ")"
    )

    def when(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f} s"

    lines = [
        f"# Comparison {stamp}",
        "",
        f"Same task and seed, {budget_text}; accuracy on fresh examples, "
        f"lengths past {2 * rows[0].n_max} are beyond the training range. "
        + (
            "Trained one after another."
            if parallel == 1
            else f"Trained {parallel} at a time, sharing the machine: examples/s and times are each model's "
            "speed beside another."
        ),
        "",
        "| model | examples/s | worst length, random | worst length, hard | gradient first/last "
        f"at length {2 * rows[0].n_max} | time to 95% | time to 99% |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r.name} | {r.examples / max(r.seconds, 1e-9):,.0f} | {r.worst(r.random):.4f} | "
            f"{r.worst(r.hard):.4f} | {r.gradient_ratio:.2g} | {when(r.to_95)} | {when(r.to_99)} |"
        )
    for title, attribute in (("random negatives", "random"), ("hard negatives", "hard")):
        lines += [
            "",
            f"Accuracy by length, {title}:",
            "",
            "| model | " + " | ".join(str(n) for n in lengths) + " |",
            "| --- | " + " | ".join("---:" for _ in lengths) + " |",
        ]
        for r in rows:
            values = getattr(r, attribute)
            lines.append(f"| {r.name} | " + " | ".join(f"{values[n]:.3f}" for n in lengths) + " |")
    lines += [
        "",
        "Time to 95% / 99%: training time until the held-out set first reached it at every "
        "trained length (measured at each held-out evaluation). Gradient first/last: "
        "|dL/dh_1| / |dL/dh_T| of the trained model on a fixed probe batch.",
    ]
    write_text_atomic(md_path, "\n".join(lines) + "\n")
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(
        ["model", "run", "examples", "seconds", "gradient_ratio", "time_to_95", "time_to_99"]
        + [f"random_{n}" for n in lengths]
        + [f"hard_{n}" for n in lengths]
    )
    for r in rows:
        writer.writerow(
            [r.name, r.run.name, r.examples, r.seconds, r.gradient_ratio, r.to_95 or "", r.to_99 or ""]
            + [r.random[n] for n in lengths]
            + [r.hard[n] for n in lengths]
        )
    write_text_atomic(csv_path, table.getvalue())
    return md_path, csv_path


class ComparisonFollower:
    """Follows a comparison as it grows: which of its runs exist, its report, its log's last line.

    Its runs are followed one by one like any run (seqtui.history.RunFollower); this follows what
    belongs to the comparison as a whole, and never raises."""

    def __init__(self, root: Path, stamp: str):
        self.root, self.stamp = Path(root), stamp
        self.runs: list[Path] = []
        self.by_length: dict = {}  # the report's accuracy by length, once written
        self.log_line = ""
        self._report_stamp: tuple | None = None

    @property
    def report(self) -> Path:
        return report_path(self.root, self.stamp)

    def poll(self) -> bool:
        changed = False
        try:
            runs = group_runs(self.root, self.stamp)
        except OSError:
            runs = []
        if runs != self.runs:
            self.runs, changed = runs, True
        try:
            info = (self.root / f"cmp-{self.stamp}-report.csv").stat()
            stamp = (info.st_ino, info.st_mtime_ns, info.st_size)
        except OSError:
            stamp = None
        if stamp != self._report_stamp:
            self._report_stamp, changed = stamp, True
            self.by_length = read_by_length(self.root, self.stamp)
        line = log_tail(self.root / f"compare-{self.stamp}.log", whole=True) if not self.runs else ""
        if line != self.log_line:
            self.log_line, changed = line, True
        return changed
