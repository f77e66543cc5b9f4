"""Train a set of models on the same task and seed, and report what they reach.

A comparison is a sweep over models with one seed (seqtui.sweep): its runs are the trials
`cmp-<stamp>/<model>` under the runs root, trained by the same executors, and its report is
written beside them (`cmp-<stamp>/report.md`, `.csv`). Each model trains on its own preset (its
batch size, learning rate and budget) unless a budget is given, the same for all; with the same
seed and batch size, models see the same batches in the same order.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from seqtui.session.launch import log_tail
from seqtui.settings.config import Budget
from seqtui.settings.errors import SeqtuiError
from seqtui.settings.networks import variants
from seqtui.store.files import file_stamp, write_text_atomic
from seqtui.store.layout import CONFIG, HELDOUT, LOG
from seqtui.store.run import Run
from seqtui.sweep.driver import run_sweep
from seqtui.sweep.executors import Executor
from seqtui.sweep.manifest import read_manifest
from seqtui.sweep.report import write_report
from seqtui.sweep.spec import EVAL_SAMPLES, SweepSpec, variant
from seqtui.sweep.trial import Measurement, read_heldout

MODEL_NAME = r"[a-z0-9][a-z0-9_-]{0,39}"  # a comparison run's last part: a model or variant name
# a comparison's name: the default date and time, or a word without "-", so names read one way
STAMP = r"\d{4}-\d{6}|[A-Za-z0-9][A-Za-z0-9_.]*"


def comparison_dir(root: Path, stamp: str) -> Path:
    return Path(root) / f"cmp-{stamp}"


def group_of(name: str) -> str | None:
    """The stamp of a comparison run's name (`cmp-<stamp>/<model>`), or None."""
    match = re.fullmatch(f"cmp-({STAMP})/({MODEL_NAME})", name)
    return match.group(1) if match and match.group(2) in variants() else None


def group_runs(root: Path, stamp: str) -> list[Path]:
    """A comparison's run directories that exist so far: registered models and variants in their
    order, then runs of models not installed here by name."""
    directory = comparison_dir(root, stamp)
    order = {name: i for i, name in enumerate(variants())}
    try:
        found = [
            p
            for p in directory.iterdir()
            if re.fullmatch(MODEL_NAME, p.name) and (p.is_dir() if p.name in order else (p / CONFIG).is_file())
        ]
    except OSError:
        return []
    return sorted(found, key=lambda p: (order.get(p.name, len(order)), p.name))


def report_path(root: Path, stamp: str) -> Path:
    return comparison_dir(root, stamp) / "report.md"


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
    span: tuple[float, float] = (0.0, 0.0)  # when it trained: start, last heartbeat

    def worst(self, by_length: dict[int, float]) -> float:
        return min(v for n, v in by_length.items() if n <= 2 * self.n_max)


def compare(
    root: Path,
    settings: dict[str, Any],
    budget: Budget,
    names: list[str],
    executor: Executor,
    threads: int | None = None,
    samples: int = EVAL_SAMPLES,
    report: Callable[[str], None] = print,
    stamp: str | None = None,
) -> tuple[Path, Path]:
    """Train `names` (models or variants) on `executor` (one after another, or side by side), each trial
    with `threads` threads, then measure each: a sweep over the models."""
    names = [variant(n) for n in names]
    if stamp is not None and not re.fullmatch(STAMP, stamp):
        raise SeqtuiError(f"comparison name {stamp!r}: letters, digits, '_' and '.' (or MMDD-HHMMSS)")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise SeqtuiError(f"model {twice[0]!r} is named twice in the models to compare")
    stamp = stamp or datetime.now().strftime("%m%d-%H%M%S")
    if comparison_dir(root, stamp).exists():
        raise SeqtuiError(
            f"a comparison named {stamp} exists already: continue it with `seqtui sweep --name cmp-{stamp}`, "
            "or choose another name"
        )
    given: dict[str, Any] = {"model": names, **settings}
    given.update({k: v for k, v in budget.settings().items() if v is not None})
    spec = SweepSpec.build(f"cmp-{stamp}", given, kind="comparison", eval_samples=samples)
    state = run_sweep(spec, root, executor, threads, on_change=lambda _, line: report(line), report=write_comparison)
    for record in state.manifest.trials.values():
        if record.state != "finished":
            path = state.directory / record.name
            raise SeqtuiError(
                f"{record.name} did not finish ({record.reason}) (see {path / LOG}); "
                f"`seqtui sweep --name cmp-{stamp}` continues the comparison"
            )
    return report_path(root, stamp), report_path(root, stamp).with_suffix(".csv")


def report_writer(kind: str) -> Callable[[Path], tuple[Path, Path] | None]:
    """How a sweep of this kind is reported: a comparison side by side (once every model is
    measured), any other sweep as its memory map."""
    return write_comparison if kind == "comparison" else write_report


def write_comparison(directory: Path) -> tuple[Path, Path] | None:
    """The comparison's report, once every model is trained and measured (else None)."""
    manifest = read_manifest(directory)
    rows = []
    for name in manifest.trials:
        run = Run(Path(directory) / name)
        heldout = read_heldout(run)
        if heldout is None:
            return None
        status = run.raw_status()
        to = heldout.seconds_to
        rows.append(
            Row(
                name,
                run,
                status.examples,
                status.elapsed,
                heldout.random,
                heldout.hard,
                heldout.gradient_ratio or 0.0,
                to.get("0.95"),
                to.get("0.99"),
                heldout.n_max,
                (status.started or 0.0, status.heartbeat or 0.0),
            )
        )
    side_by_side = any(a.span[0] < b.span[1] and b.span[0] < a.span[1] for a in rows for b in rows if a is not b)
    return _write(Path(directory), rows, side_by_side)


def _write(directory: Path, rows: list[Row], side_by_side: bool) -> tuple[Path, Path]:
    lengths = sorted(rows[0].random)
    md_path, csv_path = directory / "report.md", directory / "report.csv"
    stamp = directory.name[len("cmp-") :]
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
            "Trained side by side, sharing the machine: examples/s and times are each model's speed beside another."
            if side_by_side
            else "Trained one after another."
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
    """Follows a comparison as it grows: which of its runs exist, each model's measurement (the
    trials' heldout.json, as the sweep view reads them), whether its report is written, its log's
    last line. Its runs are followed one by one like any run (seqtui.store.history.RunFollower);
    this follows what belongs to the comparison as a whole, and never raises."""

    def __init__(self, root: Path, stamp: str):
        self.root, self.stamp = Path(root), stamp
        self.runs: list[Path] = []
        # model -> "random"/"hard" -> sequence length -> accuracy, for each model measured so far
        self.by_length: dict[str, dict[str, dict[int, float]]] = {}
        self.reported = False  # report.md is written (every model measured)
        self.log_line = ""
        self._measured: dict[str, tuple[tuple[int, int, int] | None, Measurement | None]] = {}

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
        for run in runs:
            stamp = file_stamp(run / HELDOUT)
            if run.name not in self._measured or self._measured[run.name][0] != stamp:
                self._measured[run.name] = (stamp, read_heldout(Run(run)) if stamp is not None else None)
                changed = True
        if changed:
            self.by_length = {
                name: {"random": m.random, "hard": m.hard}
                for name, (_, m) in self._measured.items()
                if m is not None and comparison_dir(self.root, self.stamp) / name in runs
            }
        reported = file_stamp(self.report) is not None
        if reported != self.reported:
            self.reported, changed = reported, True
        line = log_tail(self.root / f"compare-{self.stamp}.log", whole=True) if not self.runs else ""
        if line != self.log_line:
            self.log_line, changed = line, True
        return changed
