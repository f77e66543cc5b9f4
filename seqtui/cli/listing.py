"""`seqtui runs` and `seqtui export`: the runs under a root (a sweep folded into one line), and a
run's metrics as CSV. Neither loads torch, so they answer at once.
"""

from __future__ import annotations

import json
import sys
import time
from argparse import Namespace
from datetime import datetime, timezone
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from seqtui.cli.common import _open_whole_run, console
from seqtui.settings.errors import SeqtuiError
from seqtui.settings.units import age_text
from seqtui.store.catalogue import NO_MODEL, RunSummary, list_runs
from seqtui.store.layout import default_root, display_name


# -- export -----------------------------------------------------------------------------------
def cmd_export(args: Namespace) -> int:
    from seqtui.store.export import export_csv

    for path in export_csv(_open_whole_run(args, needs_model=False), args.out):
        console.print(f"wrote {path}")
    return 0


# -- models -----------------------------------------------------------------------------------
def cmd_models(args: Namespace) -> int:
    """Every model a run can name: built in, or from an installed package (its spec loaded, its
    class not imported); one line each, a package that cannot be loaded saying why."""
    from seqtui.settings import networks
    from seqtui.settings.presets import model_preset

    rows = []
    for name in networks.names():
        try:
            spec = networks.spec(name)
            hidden = model_preset(name)["hidden"]
            rows.append(
                {
                    "model": name,
                    "about": spec.about,
                    "hidden": hidden,
                    "parameters": spec.parameter_count(hidden),
                    "states": ["hidden", *spec.states],
                    "package": spec.package or None,
                    "variants": sorted(spec.variants),
                }
            )
        except SeqtuiError as error:
            rows.append({"model": name, "package": networks.package_of(name) or None, "problem": str(error)})
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return 0
    width = max(len(row["model"]) for row in rows)
    for row in rows:
        if "problem" in row:
            print(f"{row['model']:<{width}}  {row['problem']}")
            continue
        extra = [f"states: {', '.join(row['states'])}"]
        extra += [f"variant {v}" for v in row["variants"]]
        extra += [f"package {row['package']}"] if row["package"] else []
        print(
            f"{row['model']:<{width}}  {row['parameters']:>7,} parameters at {row['hidden']} units  "
            f"{row['about']}  ({'; '.join(extra)})"
        )
    return 0


# -- runs and control -------------------------------------------------------------------------
def cmd_runs(args: Namespace) -> int:
    root = args.root or default_root()
    summaries = list_runs(root)
    if args.sweep:
        summaries = [s for s in summaries if (sweep := s.run.sweep) is not None and sweep.name == args.sweep]
        if not summaries:
            raise SeqtuiError(f"no trials of a sweep named {args.sweep} under {root} (seqtui runs lists the sweeps)")
    if args.json:
        for s in summaries:
            print(
                json.dumps(
                    {
                        "run": str(s.run.path),
                        "state": s.state,
                        "model": s.model,
                        "task": s.task,
                        "negatives": s.negatives,
                        "step": s.step,
                        "examples": s.examples,
                        "worst": s.worst,
                        "best_worst": s.best_worst,
                        "verdict": s.status.verdict,
                        "problem": s.problem,
                    }
                )
            )
        return 0
    piped = not console.is_terminal  # whole values for scripts; every remark on stderr
    if not summaries and not piped:
        console.print(f"no runs under {escape(str(root))} yet: start one with  seqtui train")
        return 0
    rows = [_fields(row) for row in (summaries if args.sweep else _sweeps_folded(summaries))]
    if piped:
        print("\t".join(PIPED_COLUMNS))
        for row in rows:
            print("\t".join(_piped(row)[c] for c in PIPED_COLUMNS))
        if not summaries:
            print(f"no runs under {display_name(str(root))} yet: start one with  seqtui train", file=sys.stderr)
    else:
        _print_table(args, root, COLUMNS, [_shown(row) for row in rows])
    for s in summaries:
        if s.problem:
            if piped:
                print(f"{s.run.shown_name}: {display_name(s.problem)}", file=sys.stderr)
            else:
                console.print(f"[red]{escape(s.run.shown_name)}[/]: {escape(display_name(s.problem))}")
    if len(rows) < len(summaries):
        if piped:
            print("a sweep is one line here; its trials: seqtui runs SWEEP", file=sys.stderr)
        else:
            console.print("[dim]a sweep is one line here; its trials: seqtui runs SWEEP[/]")
    if not piped:
        console.print(f"[dim]{VERDICT_LEGEND}[/]")
    return 0


VERDICT_LEGEND = (
    "worst length: held-out accuracy at the worst trained length, latest evaluation. verdict of a finished run: "
    "learned (>= 0.97 there), short (below), partial (chance level at some length), chance (overall)"
)
COLUMNS = ["run", "state", "verdict", "model", "task", "steps", "examples", "worst length", "updated"]
# piped: the same, then a sweep's trials: how many it has, how many finished, how many of those learned
PIPED_COLUMNS = [*COLUMNS, "trials", "finished", "learned"]


def _fields(row) -> dict:
    """A run (or a sweep folded into one line, already a dict) as values; None where unknown."""
    if not isinstance(row, RunSummary):
        return row
    s = row
    whole = s.model != "?"  # a damaged config.json: its model and task are unknown
    return {
        "run": s.run.shown_name,
        "sweep": None,
        "state": s.state,
        "verdict": s.status.verdict,
        "models": [s.model] if whole else [],
        "tasks": [f"{s.task}/{s.negatives}"] if whole else [],
        "steps": s.step,
        "examples": s.examples,
        "worst": s.worst,
        "updated": s.updated or None,
    }


def _shown(row: dict) -> dict[str, str]:
    """A row as the terminal's table shows it: counts grouped, times as ages, a sweep summed up."""
    sweep = row["sweep"]
    if sweep is None:
        return {
            "run": row["run"],
            "state": row["state"],
            "verdict": row["verdict"] or "-",
            "model": row["models"][0] if row["models"] else "?",
            "task": row["tasks"][0] if row["tasks"] else "?/?",
            "steps": f"{row['steps']:,}",
            "examples": f"{row['examples']:,}",
            "worst length": "-" if row["worst"] is None else f"{row['worst']:.4f}",
            "updated": _ago(row["updated"] or 0.0),
        }
    models = row["models"]
    return {
        "run": f"{row['run']} ({sweep['finished']}/{sweep['trials']} done)",
        "state": row["state"],
        "verdict": f"{sweep['learned']}/{sweep['judged']} learned" if sweep["judged"] else "-",
        "model": models[0] if len(models) == 1 else f"{len(models)} models",
        "task": "-",
        "steps": "-",
        "examples": f"{row['examples']:,}",
        "worst length": "-" if row["worst"] is None else f"{row['worst']:.4f}",
        "updated": _ago(row["updated"] or 0.0),
    }


def _piped(row: dict) -> dict[str, str]:
    """A row for scripts: whole values (plain integers, the time in ISO 8601 UTC), empty where unknown."""
    sweep = row["sweep"] or {}

    def whole(value) -> str:
        return "" if value is None else str(value)

    return {
        "run": row["run"],
        "state": row["state"],
        "verdict": whole(row["verdict"]),
        "model": ",".join(m for m in row["models"] if m != "?"),  # a damaged trial's is unknown
        "task": ",".join(row["tasks"]),
        "steps": whole(row["steps"]),
        "examples": whole(row["examples"]),
        "worst length": "" if row["worst"] is None else f"{row['worst']:.4f}",
        "updated": "" if row["updated"] is None else _utc(row["updated"]),
        "trials": whole(sweep.get("trials")),
        "finished": whole(sweep.get("finished")),
        "learned": whole(sweep.get("learned")),
    }


def _print_table(args: Namespace, root: Path, columns: list[str], lines: list[dict[str, str]]) -> None:
    """On a terminal: a table as wide as the terminal, the run names whole (other columns go first)."""
    from rich import box

    longest = max(len(line["run"]) for line in lines)
    for dropped in ("task", "steps", "updated", "model"):
        widths = [max([len(c), *(len(line[c]) for line in lines)]) + 3 for c in columns]  # padding, rule
        if sum(widths) <= console.width:
            break
        columns = [c for c in columns if c != dropped]
    title = f"trials of sweep {args.sweep}" if args.sweep else f"runs under {escape(str(root))}"
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for name in columns:
        table.add_column(
            name,
            justify="right" if name in ("steps", "examples", "worst length") else "left",
            no_wrap=True,
            min_width=longest if name == "run" else None,
        )
    for line in lines:
        cells = {**line, "run": escape(line["run"])}
        if line["state"] in ("damaged", "failed", NO_MODEL):
            cells["state"] = f"[red]{line['state']}[/]"
        if line["verdict"] in ("short", "partial", "chance"):
            cells["verdict"] = f"[yellow]{line['verdict']}[/]"
        table.add_row(*(cells[c] for c in columns))
    console.print(table)


def _sweeps_folded(summaries: list[RunSummary]) -> list:
    """Runs as they are, and each sweep's trials as one line: how many are done and learned, the
    best trial's worst length, the newest update."""
    from seqtui.sweep.manifest import read_manifest

    rows: list = []
    sweeps: dict[Path, list[RunSummary]] = {}
    for s in summaries:
        sweep = s.run.sweep
        if sweep is None:
            rows.append(s)
        else:
            if sweep not in sweeps:
                rows.append(sweep)  # its place in the list
            sweeps.setdefault(sweep, []).append(s)
    for i, row in enumerate(rows):
        if isinstance(row, RunSummary):
            continue
        trials = sweeps[row]
        try:
            total = max(len(read_manifest(row).trials), len(trials))
        except SeqtuiError:
            total = len(trials)
        states = [t.state for t in trials]
        done = states.count("finished")
        state: str | None = next((s for s in ("running", "paused", "failed", "damaged") if s in states), None)
        state = state or ("finished" if done == total else "stopped")
        models = sorted({t.model for t in trials})
        worsts = [t.worst for t in trials if t.worst is not None]
        verdicts = [t.status.verdict for t in trials if t.status.verdict]
        rows[i] = {
            "run": display_name(f"{row.name}/"),
            "sweep": {
                "trials": total,
                "finished": done,
                "learned": verdicts.count("learned"),
                "judged": len(verdicts),
            },
            "state": state,
            "verdict": None,
            "models": models,
            "tasks": sorted({f"{t.task}/{t.negatives}" for t in trials if t.model != "?"}),
            "steps": None,
            "examples": sum(t.examples for t in trials),
            "worst": max(worsts) if worsts else None,  # the sweep's best trial
            "updated": max(t.updated for t in trials) or None,
        }
    return rows


def _ago(when: float) -> str:
    return age_text(time.time() - when)


def _utc(when: float) -> str:
    """An absolute time for scripts: ISO 8601 in UTC, to the second (2025-03-01T09:30:00Z)."""
    return datetime.fromtimestamp(when, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
