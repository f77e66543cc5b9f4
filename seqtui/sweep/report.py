"""The memory map: held-out accuracy by length x the swept axis, per model, mean and 95% interval
over seeds, written as report.md and report.csv beside the sweep's trials.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqtui.settings.config import TrainConfig
from seqtui.settings.errors import SeqtuiError
from seqtui.settings.networks import variants
from seqtui.store.files import write_text_atomic
from seqtui.store.run import Run
from seqtui.sweep.manifest import Manifest, read_manifest
from seqtui.sweep.spec import shown_value
from seqtui.sweep.trial import Measurement, read_heldout

T_95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}


# -- the report: the memory map --------------------------------------------------------------------
@dataclass
class Cell:
    mean: float
    half: float | None  # half-width of the 95% interval over seeds (None: one seed)
    count: int


def mean_interval(values: list[float]) -> Cell:
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return Cell(mean, None, n)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    t = T_95.get(n - 1, 2.0 if n <= 30 else 1.96)
    return Cell(mean, t * sd / math.sqrt(n), n)


@dataclass
class MapRow:
    model: str
    key: tuple[str, ...]  # the values of the map's row axes, as a person reads them
    negatives: str
    n_max: int
    by_length: dict[int, Cell]
    hard_by_length: dict[int, Cell]
    seeds: int
    reached_99: list[int]  # examples to 99% of the seeds that reached it
    ratios: list[float]
    trials: list[str]
    parameters: int | None = None  # the model's, at this row's size (None: its model is not installed here)
    speeds: list[float] = field(default_factory=list)  # each seed's training examples per second


def parameter_count(config: dict | None) -> int | None:
    """A trial's parameter count from its kept config, if its model is registered here."""
    try:
        return TrainConfig.from_dict(config).model.parameter_count() if config is not None else None
    except SeqtuiError:
        return None


def memory_map(directory: Path) -> tuple[Manifest, list[str], list[MapRow]]:
    """The sweep's trials measured so far, grouped: per model, per value of the row axes, over seeds."""
    manifest = read_manifest(directory)
    measured = {}
    for record in manifest.trials.values():
        found = measured_trial(Run(Path(directory) / record.name))
        if found is not None:
            measured[record.name] = found
    return manifest, manifest.spec.axes(), map_rows(manifest, measured)


def measured_trial(run: Run) -> tuple[Measurement, str] | None:
    """A trial's measurement and the negatives it trained on, if it has both."""
    heldout = read_heldout(run)
    if heldout is None:
        return None
    try:
        return heldout, run.config().task.negatives
    except SeqtuiError:
        return None


def map_rows(manifest: Manifest, measured: dict[str, tuple[Measurement, str]]) -> list[MapRow]:
    """The memory map's rows from the trials' measurements (trial name -> (measurement, negatives))."""
    axes = manifest.spec.axes()
    groups: dict[tuple[str, tuple[str, ...], str], list[tuple[str, Measurement]]] = {}
    typed: dict[tuple, tuple] = {}  # a row's key -> its values, which order the rows
    for record in manifest.trials.values():
        if record.name not in measured:
            continue
        heldout, negatives = measured[record.name]
        model = record.values.get("model", "?")
        key = tuple(shown_value(a, record.values[a]) if a in record.values else "" for a in axes)
        typed[key] = tuple(record.values.get(a) for a in axes)
        groups.setdefault((model, key, negatives), []).append((record.name, heldout))
    order = {m: i for i, m in enumerate(variants())}
    rows = []
    for (model, key, negatives), members in groups.items():
        results = [h for _, h in members]
        rows.append(
            MapRow(
                model,
                key,
                negatives,
                max(h.n_max for h in results),
                _cells(results, "random"),
                _cells(results, "hard"),
                len(results),
                [h.examples_to["0.99"] for h in results if "0.99" in h.examples_to],
                [h.gradient_ratio for h in results if h.gradient_ratio is not None],
                [name for name, _ in members],
                parameter_count(manifest.trials[members[0][0]].config),
                [h.examples / h.seconds for h in results if h.seconds > 0],
            )
        )

    def sort_key(row: MapRow) -> tuple:
        return (order.get(row.model, 99), row.model, tuple(map(_order, typed[row.key])), row.negatives)

    return sorted(rows, key=sort_key)


def _cells(results: list[Measurement], kind: str) -> dict[int, Cell]:
    tables = [h.random if kind == "random" else h.hard for h in results]
    lengths = sorted(set().union(*tables))
    return {n: mean_interval([table[n] for table in tables if n in table]) for n in lengths}


def _order(value: Any) -> tuple:
    """Numbers by size, then words, then what is off."""
    if isinstance(value, (int, float)):
        return (0, float(value), "")
    return (1, 0.0, str(value)) if value is not None else (2, 0.0, "")


def geometric_mean(values: list[float]) -> float | None:
    positive = [v for v in values if v > 0]
    return math.exp(sum(math.log(v) for v in positive) / len(positive)) if positive else None


def cell_text(cell: Cell | None) -> str:
    if cell is None:
        return ""
    return f"{cell.mean:.3f}" + (f"±{cell.half:.3f}" if cell.half is not None else "")


def write_report(directory: Path) -> tuple[Path, Path]:
    """report.md and report.csv in the sweep's directory: the memory map of the trials measured
    so far (at least one)."""
    directory = Path(directory)
    manifest, axes, rows = memory_map(directory)
    spec = manifest.spec
    seeds = len(spec.grid.get("seed", [0]))
    total = len(manifest.trials)
    measured = sum(len(r.trials) for r in rows)
    axis_label = ", ".join(axes) or "-"
    shown = spec.shown()
    fixed = f"; settings: {', '.join(f'{k} {v}' for k, v in shown['settings'].items())}" if spec.settings else ""
    lines = [
        f"# Sweep {spec.name}: the memory map",
        "",
        f"{measured} of {total} trials measured. Grid: "
        + "; ".join(f"{k} {', '.join(map(str, v))}" for k, v in shown["grid"].items())
        + fixed
        + f". Held-out accuracy on {spec.eval_samples:,} fresh examples spread over the lengths, "
        f"mean over {seeds} seed{'s' if seeds != 1 else ''}"
        + (" ± the half-width of its 95% interval (t over seeds)." if seeds > 1 else ".")
        + " Lengths marked * are past the training range.",
    ]
    for model in dict.fromkeys(r.model for r in rows):
        for kind, attribute in (("random negatives", "by_length"), ("hard negatives", "hard_by_length")):
            subset = [r for r in rows if r.model == model]
            lengths = sorted(set().union(*(getattr(r, attribute) for r in subset)))
            n_max = max(r.n_max for r in subset)
            header = [f"{n}{'*' if n > 2 * n_max else ''}" for n in lengths]
            lines += ["", f"## {model}: accuracy by length, {kind}", ""]
            extra = ["examples to 99%", "gradient first/last", "parameters", "examples/s"]
            extra = extra if attribute == "by_length" else []
            lines.append("| " + " | ".join([axis_label, "trained on", "seeds", *header, *extra]) + " |")
            lines.append("| " + " | ".join(["---"] * 3 + ["---:"] * (len(header) + len(extra))) + " |")
            for r in subset:
                cells = [cell_text(getattr(r, attribute).get(n)) for n in lengths]
                if extra:
                    reached = (
                        f"{sum(r.reached_99) / len(r.reached_99):,.0f} ({len(r.reached_99)}/{r.seeds})"
                        if r.reached_99
                        else f"- (0/{r.seeds})"
                    )
                    ratio = geometric_mean(r.ratios)
                    cells += [reached, f"{ratio:.2g}" if ratio is not None else "-"]
                    cells += [f"{r.parameters:,}" if r.parameters is not None else "-"]
                    cells += [f"{sum(r.speeds) / len(r.speeds):,.0f}" if r.speeds else "-"]
                lines.append("| " + " | ".join([", ".join(r.key) or "-", r.negatives, str(r.seeds), *cells]) + " |")
    lines += [
        "",
        "Examples to 99%: training examples until the held-out set first showed 99% at every trained "
        "length, mean over the seeds that reached it (how many did). Gradient first/last: "
        "|dL/dh_1| / |dL/dh_T| at twice the longest trained pattern, geometric mean over seeds; "
        "below ~1e-3 the first digits barely reach the loss. Examples/s: training examples over "
        "seconds of training, mean over seeds, as the trials ran (several at once share the machine).",
    ]
    md_path, csv_path = directory / "report.md", directory / "report.csv"
    write_text_atomic(md_path, "\n".join(lines) + "\n")
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(
        ["model", *axes, "trained_on", "tested_on", "length", "beyond", "mean", "ci95", "seeds"]
        + ["examples_to_99", "reached_99", "gradient_ratio", "parameters", "examples_per_s"]
    )
    for r in rows:
        reached_mean: float | str = sum(r.reached_99) / len(r.reached_99) if r.reached_99 else ""
        ratio = geometric_mean(r.ratios)
        speed = f"{sum(r.speeds) / len(r.speeds):.1f}" if r.speeds else ""
        for kind, by_length in (("random", r.by_length), ("hard", r.hard_by_length)):
            for n, cell in by_length.items():
                writer.writerow(
                    [r.model, *r.key, r.negatives, kind, n, int(n > 2 * r.n_max), f"{cell.mean:.6f}"]
                    + ["" if cell.half is None else f"{cell.half:.6f}", cell.count]
                    + [reached_mean, len(r.reached_99), "" if ratio is None else f"{ratio:.6g}"]
                    + ["" if r.parameters is None else r.parameters, speed]
                )
    write_text_atomic(csv_path, table.getvalue())
    return md_path, csv_path
