"""What each `seqtui` subcommand does; cli.py parses, this module acts and prints.

Commands that only read or signal run directories (runs, pause, resume, stop) never import
torch, so they answer at once; the others import it when they run.
"""

from __future__ import annotations

import json
import math
import sys
import time
from argparse import Namespace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from seqtui.config import SETTINGS, SWEEP_NO_FLAG, Budget, TaskConfig
from seqtui.errors import SeqtuiError
from seqtui.runs import Run, RunSummary, default_root, display_name, list_runs, new_run_path, resolve_run

# piped (not a terminal): plain lines, never wrapped mid-phrase at an assumed width
console = Console(highlight=False, soft_wrap=not sys.stdout.isatty())
SAMPLE_CHUNK = 65_536


def _open_run(args: Namespace) -> Run:
    """RUN as given: a path, or a name under --root / $SEQTUI_RUNS / ./runs."""
    return Run.open(resolve_run(args.run, getattr(args, "root", None)))


# -- train ------------------------------------------------------------------------------------
def given_settings(args: Namespace) -> dict[str, Any]:
    """The settings given on the command line, by name (absent ones are not there at all)."""
    values = vars(args)
    return {s.name: values[s.name] for s in SETTINGS if s.name in values}


def cmd_train(args: Namespace) -> int:
    from seqtui import runner
    from seqtui.limits import check_training_fits
    from seqtui.presets import preset_config
    from seqtui.progress import TrainingDisplay
    from seqtui.training import resolve_device

    given = given_settings(args)
    budget = {s.name: given.pop(s.name) for s in SETTINGS if s.budget and s.name in given}
    if args.resume is None:
        if args.restart:
            raise SeqtuiError("--restart goes with --resume RUN: it trains that run again from step 0")
        on_gpu = resolve_device(given.get("device", "auto")).type == "cuda"  # auto on a GPU box: its preset
        config = preset_config({**given, **budget}, args.preset, gpu=on_gpu)
        resolve_device(config.device)
        check_training_fits(config)  # all of this before the run directory exists
        run = Run.create(args.run_dir or new_run_path(args.root or default_root(), config), config)
        extra, settings = None, {}
    else:
        if args.preset != "default":
            raise SeqtuiError("--preset builds a new run: a resumed run keeps its own settings")
        fixed = [f"--{name}" for name in given if name not in runner.RESUMABLE_SETTINGS]
        if fixed:
            raise SeqtuiError(
                f"{', '.join(fixed)} cannot change when resuming: a resumed run keeps its settings "
                "(a budget, --device, --threads and the intervals may be given)"
            )
        run = Run.open(resolve_run(args.resume, args.root))
        extra = Budget(steps=budget.get("steps"), samples=budget.get("samples"), seconds=budget.get("time"))
        settings = given
    display = TrainingDisplay(run, console, quiet=args.quiet)
    with display:
        outcome = runner.train(
            run, extra, settings, restart=args.restart, on_event=display.update, on_start=display.start
        )
    display.summary(outcome)
    if outcome.state == "failed":
        return 1
    if outcome.stop_signal is not None:
        return 128 + outcome.stop_signal  # the shell's convention for "ended by signal N"
    return 0


# -- eval -------------------------------------------------------------------------------------
def _load_run_model(args: Namespace):
    from seqtui.checkpoint import load_checkpoint
    from seqtui.training import resolve_device

    run = _open_run(args)
    if not run.checkpoint_path.exists():
        raise SeqtuiError(f"run {run.shown_name} has no checkpoint yet")
    checkpoint = load_checkpoint(run.checkpoint_path)
    device = resolve_device(args.device)
    return run, checkpoint, checkpoint.build_model(device), device


def cmd_eval(args: Namespace) -> int:
    from seqtui.evaluation import evaluate, forward_chunk
    from seqtui.limits import evaluation_bytes
    from seqtui.tasks import MAX_DIGITS
    from seqtui.training import check_fits_on

    if not 0 <= args.seed < 2**63:
        raise SeqtuiError(f"--seed must be between 0 and 2**63 - 1, got {args.seed}")
    run, checkpoint, model, device = _load_run_model(args)
    task = checkpoint.config.task
    max_pattern = task.n_max
    if args.max_len is not None:
        if args.max_len < 2 * task.n_min or args.max_len % 2 or args.max_len > MAX_DIGITS:
            raise SeqtuiError(
                f"--max-len must be an even length from {2 * task.n_min} to {MAX_DIGITS}, got {args.max_len}"
            )
        max_pattern = args.max_len // 2
    check_fits_on(
        device,
        evaluation_bytes(checkpoint.config.model, max_pattern, forward_chunk(device)),
        f"evaluating up to length {2 * max_pattern}",
    )
    negatives = args.negatives or task.negatives
    started = time.perf_counter()
    result = evaluate(model, task, args.samples, negatives, max_pattern, args.seed, device)
    seconds = time.perf_counter() - started
    if args.json:
        print(json.dumps({"run": str(run.path), "step": checkpoint.step, "seconds": seconds, **result.to_dict()}))
        return 0
    console.print(evaluation_table(result, task, f"{escape(run.shown_name)} at step {checkpoint.step:,}"))
    console.print(
        f"{result.count:,} examples ({negatives} negatives) in {seconds:.2f} s: "
        f"overall {result.accuracy:.4f}, worst length {result.worst:.4f}"
    )
    return 0


def evaluation_table(result, task: TaskConfig, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    beyond = any(row.length > 2 * task.n_max for row in result.by_length)
    for name in ("length", "count", "accuracy", "95% interval") + (("trained on",) if beyond else ()):
        table.add_column(name, justify="right" if name != "trained on" else "left")
    for row in result.by_length:
        low, high = row.interval
        cells = [str(row.length), f"{row.count:,}", f"{row.accuracy:.4f}", f"{low:.4f}-{high:.4f}"]
        table.add_row(*cells, *((("yes" if row.length <= 2 * task.n_max else "no, longer"),) if beyond else ()))
    return table


# -- predict ----------------------------------------------------------------------------------
def cmd_predict(args: Namespace) -> int:
    import torch

    from seqtui.tasks import format_sequence, is_positive, parse_sequence

    if not args.sequences and sys.stdin.isatty():
        print("reading sequences from the terminal, one per line; end with ctrl+d", file=sys.stderr, flush=True)
    texts = args.sequences or [line for line in sys.stdin.read().splitlines() if line.strip()]
    if not texts:
        raise SeqtuiError("no sequences given: pass them as arguments or one per line on stdin")
    sequences = []
    for index, text in enumerate(texts, 1):
        try:
            sequences.append(parse_sequence(text))
        except SeqtuiError as error:
            where = f"sequence {index}" if len(texts) > 1 else "sequence"
            raise SeqtuiError(f"{where}: {error}") from None
    run, checkpoint, model, device = _load_run_model(args)
    task = checkpoint.config.task
    rows = []
    with torch.inference_mode():
        for digits in sequences:
            logits = model.classify(torch.tensor([digits], device=device))
            p_match = float(torch.softmax(logits, dim=1)[0, 1])
            truth = is_positive(digits, task.task)
            rows.append(
                {
                    "digits": digits,
                    "match": p_match > 0.5,
                    "p_match": p_match,
                    "truth": truth,
                    "correct": (p_match > 0.5) == truth,
                    "in_range": task.n_min <= len(digits) // 2 <= task.n_max,
                }
            )
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return 0
    table = Table(title=f"{escape(run.shown_name)} ({task.task}) at step {checkpoint.step:,}", title_justify="left")
    for name in ("sequence", "verdict", "p(match)", "truly", "correct?"):
        table.add_column(name)
    for row in rows:
        verdict = "match" if row["match"] else "no match"
        truth = "match" if row["truth"] else "no match"
        mark = "[green]right[/]" if row["correct"] else "[red]wrong[/]"
        note = (
            ""
            if row["in_range"]
            else f" [yellow](length {len(row['digits'])} outside trained {2 * task.n_min}-{2 * task.n_max})[/]"
        )
        table.add_row(format_sequence(row["digits"]), verdict, f"{row['p_match']:.4f}", truth, mark + note)
    console.print(table)
    return 0


# -- gradients --------------------------------------------------------------------------------
def cmd_gradients(args: Namespace) -> int:
    from seqtui.gradients import measure
    from seqtui.limits import gradient_bytes
    from seqtui.training import check_fits_on

    run, checkpoint, model, device = _load_run_model(args)
    check_fits_on(
        device,
        gradient_bytes(checkpoint.config.model, checkpoint.config.task.n_max, args.samples),
        f"measuring the gradient flow on {args.samples:,} examples a length",
    )
    flow = measure(model, checkpoint.config.task, args.samples, device=device)
    history = [
        (r["step"], r["gradient_ratio_by_length"])
        for r in run.read_metrics()
        if r["kind"] == "eval" and "gradient_ratio_by_length" in r
    ]
    if args.json:
        print(
            json.dumps(
                {
                    "run": str(run.path),
                    "step": checkpoint.step,
                    **flow.to_record(),
                    "during_training": [{"step": step, "ratio_by_length": ratios} for step, ratios in history],
                }
            )
        )
        return 0
    table = Table(
        title=f"{escape(run.shown_name)}: |dL/dh_t| at step {checkpoint.step:,} "
        f"({args.samples} probe examples a length)",
        title_justify="left",
    )
    for name in ("length", "|dL/dh_1|", "|dL/dh_T|", "first/last", "per step"):
        table.add_column(name, justify="right")
    for length, norms in flow.by_length.items():
        table.add_row(
            str(length),
            f"{norms[0]:.3g}",
            f"{norms[-1]:.3g}",
            f"{flow.ratio(length):.3g}",
            f"x{flow.per_step(length):.3f}",
        )
    console.print(table)
    if history:
        first_step, first = history[0]
        last_step, last = history[-1]
        longest = max(first, key=int)
        if longest in last and first[longest] is not None and last[longest] is not None:
            console.print(
                f"during training, first/last at length {longest}: {first[longest]:.3g} at step "
                f"{first_step:,} -> {last[longest]:.3g} at step {last_step:,}"
            )
    return 0


# -- compare ----------------------------------------------------------------------------------
def cmd_compare(args: Namespace) -> int:
    from seqtui.compare import compare

    values = vars(args)
    settings = {name: values[name] for name in ("task", "negatives", "n-min", "n-max", "seed") if name in values}
    budget = Budget(steps=values.get("steps"), samples=values.get("samples"), seconds=values.get("time"))
    md, table = compare(
        args.root or default_root(),
        settings,
        budget,
        [name.strip() for name in args.models.split(",") if name.strip()],
        args.eval_samples,
        report=console.print,
        stamp=args.name,
        parallel=args.parallel,
    )
    console.print(md.read_text())
    console.print(f"wrote {md} and {table}")
    return 0


# -- sweep ------------------------------------------------------------------------------------
def cmd_trial(args: Namespace) -> int:
    from seqtui.sweep import run_trial

    code, line = run_trial(_open_run(args), args.eval_samples, args.beyond, args.threads)
    print(line, flush=True)
    return code


def _sweep_directory(text: str, root) -> Path:
    from seqtui.runs import SWEEP_MANIFEST

    for candidate in (Path(text), Path(root) / text):
        if (candidate / SWEEP_MANIFEST).is_file():
            return candidate
    raise SeqtuiError(f"no sweep named {display_name(text)!r} under {root} (seqtui runs lists its trials)")


def cmd_sweep(args: Namespace) -> int:
    from datetime import datetime

    from seqtui import sweep as sweeps
    from seqtui.executors import LocalExecutor, RayExecutor, split_cores
    from seqtui.runs import SWEEP_MANIFEST

    root = args.root or default_root()
    words = list(args.words)
    if words[:1] == ["report"]:
        if len(words) != 2:
            raise SeqtuiError("seqtui sweep report NAME: one sweep's name (or its directory)")
        md, table = sweeps.write_report(_sweep_directory(words[1], root))
        console.print(md.read_text(), markup=False)
        console.print(f"wrote {md} and {table}")
        return 0
    if len(words) > 1:
        raise SeqtuiError(f"seqtui sweep takes one sweep file, got {len(words)} words (or: seqtui sweep report NAME)")
    texts, top = sweeps.read_sweep_file(words[0]) if words else ({}, {})
    values = vars(args)
    texts.update({s.name: values[s.name] for s in SETTINGS if s.name in values and s.name not in SWEEP_NO_FLAG})
    if "model" in values:
        texts["model"] = values["model"]
    name = args.name or top.get("name") or f"sweep-{datetime.now().strftime('%m%d-%H%M%S')}"
    seeds = args.seeds if args.seeds is not None else top.get("seeds")
    if seeds is not None and (not isinstance(seeds, int) or isinstance(seeds, bool)):
        raise SeqtuiError(f"seeds: a whole number, got {seeds!r}")
    eval_samples = args.eval_samples or top.get("eval_samples") or sweeps.EVAL_SAMPLES
    if not isinstance(eval_samples, int) or isinstance(eval_samples, bool):
        from seqtui.config import parse_count

        try:
            eval_samples = parse_count(str(eval_samples))
        except SeqtuiError as error:
            raise SeqtuiError(f"eval_samples: {error}") from None
    if eval_samples < 1:
        raise SeqtuiError(f"eval_samples {eval_samples}: at least one example")
    directory = sweeps.sweep_dir(root, sweeps.check_name(str(name)))
    continuing = not texts and seeds is None and (directory / SWEEP_MANIFEST).is_file()
    if continuing:
        spec = sweeps.read_manifest(directory).spec
    elif not texts and seeds is None:
        raise SeqtuiError(
            "nothing to sweep: give settings (--model rnn,lstm --hidden 16,64 --seeds 3), a sweep file, "
            "or --name of a sweep to continue"
        )
    else:
        spec = sweeps.SweepSpec.build(
            str(name),
            texts,
            seeds=seeds,
            preset=args.preset or top.get("preset") or "default",
            eval_samples=eval_samples,
        )
    if "device" not in spec.settings and not continuing:
        from seqtui.training import resolve_device  # on a GPU box "auto" means the GPU: its presets,

        if resolve_device("auto").type == "cuda":  # one trial at a time, a GPU per Ray task
            spec.settings["device"] = "cuda"
    device = str(spec.settings.get("device", "cpu"))
    parallel, threads = split_cores(args.parallel, device)
    threads = args.threads or threads
    if args.ray is not None:
        gpus = args.gpus_per_trial if args.gpus_per_trial is not None else (1.0 if device.startswith("cuda") else 0.0)
        if gpus < 0:
            raise SeqtuiError(f"--gpus-per-trial {gpus:g}: not a share of a GPU")
        spec.trials()  # a bad value is refused before Ray starts
        executor = RayExecutor(None if args.ray == "local" else args.ray, threads, gpus)
    else:
        if args.gpus_per_trial is not None:
            raise SeqtuiError("--gpus-per-trial goes with --ray (here, --parallel N trials share the GPU)")
        executor = LocalExecutor(parallel, threads)  # trials inherit this process's niceness (--nice)
    display = SweepDisplay(console, "queued or starting" if args.ray is not None else "starting")
    try:
        with display:
            state = sweeps.run_sweep(
                spec,
                root,
                executor,
                threads,
                args.retry_failed,
                on_change=display.change,
                tick=display.tick,
                resume_only=continuing,
            )
    except KeyboardInterrupt:
        console.print(
            f"sweep {spec.name} interrupted: the running trials stopped with a checkpoint; "
            f"`seqtui sweep --name {spec.name}` continues it"
        )
        return 130
    failed = [t for t in state.manifest.trials.values() if t.state == "failed"]
    report = state.directory / "report.md"
    console.print(display.summary(state))
    if report.exists():
        console.print(f"report: {report} (and report.csv)")
    if failed:
        for record in failed:
            console.print(f"failed: {record.name}: {escape(record.reason or '')}")
        again = [r for r in failed if r.failures <= sweeps.RETRIES]
        if again:
            console.print(f"`seqtui sweep --name {spec.name}` tries {len(again)} of them once more")
        if len(again) < len(failed):
            console.print(f"`seqtui sweep --name {spec.name} --retry-failed` tries the ones that failed twice")
        return 1
    return 0


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


TICK_SECONDS = 0.5


class SweepDisplay:
    """The headless sweep's progress: a live summary on a terminal, one line per change otherwise."""

    def __init__(self, out: Console, pending: str = "starting"):
        self.console = out
        self.pending = pending  # what a trial handed out but not training yet is doing
        self.drawn = 0.0
        self.live = None
        self.state = None

    def __enter__(self):
        if self.console.is_terminal:
            from rich.live import Live

            self.live = Live(console=self.console, refresh_per_second=2, transient=True)
            self.live.__enter__()
        return self

    def __exit__(self, *exc):
        if self.live is not None:
            self.live.__exit__(*exc)
        return False

    def summary(self, state) -> str:
        counts = {s: state.count(s) for s in ("finished", "running", "failed", "waiting")}
        handed = [t for t in state.trials if state.manifest.trials[t.name].state == "running"]
        training = sum(1 for t in handed if state.run(t).raw_status().active)
        queued = f" ({len(handed) - training} {self.pending})" if len(handed) > training else ""
        return (
            f"sweep {state.manifest.name}: {counts['finished']}/{len(state.trials)} done · "
            f"{training} running{queued} · {counts['failed']} failed · {counts['waiting']} waiting · "
            f"ETA {_duration(state.eta())}"
        )

    def change(self, state, line: str) -> None:
        self.state = state
        if self.live is not None:
            self.live.console.print(escape(f"{state.manifest.name}/{line}"))
            self.drawn = 0.0  # redraw now
            self.tick(state)
        else:
            print(f"{self.summary(state)} | {display_name(line)}", flush=True)

    def tick(self, state) -> None:
        if self.live is None or time.monotonic() - self.drawn < TICK_SECONDS:
            return  # the trials' status files are read twice a second, not on every turn of the loop
        self.drawn = time.monotonic()
        from rich.console import Group
        from rich.text import Text

        lines = [Text(self.summary(state), style="bold", no_wrap=True, overflow="ellipsis")]
        for trial in state.trials:
            if state.manifest.trials[trial.name].state != "running":
                continue
            status = state.run(trial).raw_status()
            progress = trial.config.budget.work_progress(status.step, status.examples)
            best = f"held-out worst {status.best_worst:.4f}" if status.best_worst is not None else ""
            lines.append(Text(f"  {trial.name:<28} {progress:>4.0%}  {best}", no_wrap=True, overflow="ellipsis"))
        self.live.update(Group(*lines))


# -- export -----------------------------------------------------------------------------------
def cmd_export(args: Namespace) -> int:
    from seqtui.export import export_csv

    for path in export_csv(_open_run(args), args.out):
        console.print(f"wrote {path}")
    return 0


# -- sample -----------------------------------------------------------------------------------
def cmd_sample(args: Namespace) -> int:
    import torch

    from seqtui.tasks import format_sequence, sample_examples

    values = vars(args)
    task = TaskConfig(values["task"], values["negatives"], values["n-min"], values["n-max"]).validate()
    seed = args.seed if args.seed is not None else int(time.time_ns() % 2**31)
    if not 0 <= seed < 2**63:
        raise SeqtuiError(f"--seed must be between 0 and 2**63 - 1, got {seed}")
    generator = torch.Generator().manual_seed(seed)
    for start in range(0, args.count, SAMPLE_CHUNK):  # a chunk at a time: any count in bounded memory
        for digits, label in sample_examples(task, min(SAMPLE_CHUNK, args.count - start), generator):
            if args.json:
                print(json.dumps({"digits": digits, "label": label, "length": len(digits)}))
            else:
                print(f"{format_sequence(digits)}   {'match' if label else 'no match'}")
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
                        "best_worst": s.best_worst,
                        "verdict": s.status.verdict,
                        "problem": s.problem,
                    }
                )
            )
        return 0
    if not summaries:
        console.print(f"no runs under {escape(str(root))} yet: start one with  seqtui train")
        return 0
    from rich import box

    rows = summaries if args.sweep else _sweeps_folded(summaries)
    wide = console.width >= 110  # narrower: the run names whole, the task and steps left out
    names = [r.run.shown_name if isinstance(r, RunSummary) else r["run"] for r in rows]
    title = f"trials of sweep {args.sweep}" if args.sweep else f"runs under {escape(str(root))}"
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    columns = ["run", "state", "model", "task", "steps", "examples", "worst", "updated"]
    if not wide:
        columns = [c for c in columns if c not in ("task", "steps")]
    for name in columns:
        table.add_column(
            name,
            justify="right" if name in ("steps", "examples", "worst") else "left",
            no_wrap=name == "run",
            min_width=min(max(map(len, names)), 48) if name == "run" else None,
        )
    for name, row in zip(names, rows):
        if isinstance(row, RunSummary):
            s = row
            row = {
                "state": s.state,
                "model": s.model,
                "task": f"{s.task}/{s.negatives}",
                "steps": f"{s.step:,}",
                "examples": f"{s.examples:,}",
                "best": s.best_worst,
                "updated": s.updated,
            }
        state = row["state"]
        values = {
            **row,
            "run": escape(name),
            "state": f"[red]{state}[/]" if state in ("damaged", "failed") else state,
            "worst": "-" if row["best"] is None else f"{row['best']:.4f}",
            "updated": _ago(row["updated"]),
        }
        table.add_row(*(values[c] for c in columns))
    console.print(table)
    for s in summaries:
        if s.problem:
            console.print(f"[red]{escape(s.run.shown_name)}[/]: {escape(display_name(s.problem))}")
    if len(rows) < len(summaries):
        console.print("[dim]a sweep is one line here; its trials: seqtui runs SWEEP[/]")
    return 0


def _sweeps_folded(summaries: list[RunSummary]) -> list:
    """Runs as they are, and each sweep's trials as one line: how many are done, the best worst
    length among them, the newest update."""
    from seqtui.sweep import read_manifest

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
        state = next((s for s in ("running", "paused", "failed", "damaged") if s in states), None)
        state = state or ("finished" if done == total else "stopped")
        models = sorted({t.model for t in trials})
        bests = [t.best_worst for t in trials if t.best_worst is not None]
        rows[i] = {
            "run": display_name(f"{row.name}/ ({done}/{total} done)"),
            "state": state,
            "model": models[0] if len(models) == 1 else f"{len(models)} models",
            "task": "-",
            "steps": "-",
            "examples": f"{sum(t.examples for t in trials):,}",
            "best": max(bests) if bests else None,
            "updated": max(t.updated for t in trials),
        }
    return rows


def _ago(when: float) -> str:
    seconds = max(0.0, time.time() - when)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{math.floor(seconds / size)}{unit} ago"
    return f"{seconds:.0f}s ago"


def _control(args: Namespace, want: str, verb: str) -> int:
    run = _open_run(args)
    status = run.status()
    if not status.active:
        shown = display_name(str(run.path))
        hint = f"; to train it further: seqtui train --resume {shown}" if want == "running" else ""
        raise SeqtuiError(f"run {run.shown_name} is not training (state: {status.state}){hint}")
    run.request(want)
    console.print(f"asked {escape(run.shown_name)} to {verb}")
    return 0


def cmd_pause(args: Namespace) -> int:
    return _control(args, "paused", "pause")


def cmd_resume(args: Namespace) -> int:
    return _control(args, "running", "resume")


def cmd_stop(args: Namespace) -> int:
    return _control(args, "stopped", "stop")
