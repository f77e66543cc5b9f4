"""What each `seqtui` subcommand does; cli.py parses, this module acts and prints."""

from __future__ import annotations

import json
import math
import sys
import time
from argparse import Namespace
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from seqtui.checkpoint import load_checkpoint
from seqtui.errors import SeqtuiError
from seqtui.evaluation import Evaluation, evaluate
from seqtui.presets import preset_config
from seqtui.runs import Run, default_root, list_runs, new_run_path
from seqtui.tasks import TaskConfig, format_sequence, is_positive, parse_sequence, sample_examples
from seqtui.training import Budget, resolve_device

console = Console(highlight=False)


# -- train ------------------------------------------------------------------------------------
def cmd_train(args: Namespace) -> int:
    from seqtui import runner
    from seqtui.progress import TrainingDisplay

    extra = Budget(steps=args.steps, samples=args.samples, seconds=args.time)
    if args.resume is not None:
        changed = [flag for flag, value in _settings(args).items() if value is not None]
        if changed:
            raise SeqtuiError(
                f"{', '.join(changed)} cannot change when resuming: a resumed run keeps its settings "
                "(a budget, --device and intervals may be given)"
            )
        run = Run.open(args.resume)
        trainer = runner.resume_run(run, extra, **_watching(args))
    else:
        config = preset_config(_settings(args), extra)
        for name, value in _watching(args).items():
            if value is not None:
                setattr(config, name, value)
        config.validate()
        path = args.run_dir or new_run_path(args.root or default_root(), config)
        run = Run.create(path, config)
        trainer = runner.start_run(run, config)
    display = TrainingDisplay(run, trainer, console, quiet=args.quiet)
    with display:
        outcome = runner.train(run, trainer, on_event=display.update, checkpoint_every=args.checkpoint_every)
    display.summary(outcome)
    if outcome.state == "failed":
        return 1
    if outcome.stop_signal is not None:
        return 128 + outcome.stop_signal  # the shell's convention for "ended by signal N"
    return 0


def _settings(args: Namespace) -> dict:
    """The training settings given on the command line, by flag; None where not given."""
    return {
        "--task": args.task,
        "--negatives": args.negatives,
        "--n-min": args.n_min,
        "--n-max": args.n_max,
        "--model": args.model,
        "--hidden": args.hidden,
        "--init": args.init,
        "--lr": args.lr,
        "--batch-size": args.batch_size,
        "--clip": args.clip,
        "--schedule": args.schedule,
        "--seed": args.seed,
        "--target-acc": args.target_acc,
    }


def _watching(args: Namespace) -> dict:
    """Settings that may differ between a run and its resumption."""
    return {"device": args.device, "eval_samples": args.eval_samples, "eval_every": args.eval_every}


# -- eval -------------------------------------------------------------------------------------
def _load_run_model(path: Path, device: str):
    run = Run.open(path)
    if not run.checkpoint_path.exists():
        raise SeqtuiError(f"run {run.name} has no checkpoint yet")
    checkpoint = load_checkpoint(run.checkpoint_path)
    device = resolve_device(device)
    return run, checkpoint, checkpoint.build_model(device), device


def cmd_eval(args: Namespace) -> int:
    run, checkpoint, model, device = _load_run_model(args.run, args.device)
    task = checkpoint.config.task
    max_pattern = task.n_max
    if args.max_len is not None:
        if args.max_len < 2 * task.n_min or args.max_len % 2:
            raise SeqtuiError(f"--max-len must be an even length of at least {2 * task.n_min}, got {args.max_len}")
        max_pattern = args.max_len // 2
    negatives = args.negatives or task.negatives
    started = time.perf_counter()
    result = evaluate(model, task, args.samples, negatives, max_pattern, args.seed, device)
    seconds = time.perf_counter() - started
    if args.json:
        print(json.dumps({"run": str(run.path), "step": checkpoint.step, "seconds": seconds, **result.to_dict()}))
        return 0
    console.print(evaluation_table(result, task, f"{run.name} at step {checkpoint.step:,}"))
    console.print(
        f"{result.count:,} examples ({negatives} negatives) in {seconds:.2f} s: "
        f"overall {result.accuracy:.4f}, worst length {result.worst:.4f}"
    )
    return 0


def evaluation_table(result: Evaluation, task: TaskConfig, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for name in ("length", "count", "accuracy", "95% interval", ""):
        table.add_column(name, justify="right" if name != "" else "left")
    for row in result.by_length:
        low, high = row.interval
        note = "" if row.length <= 2 * task.n_max else "beyond training range"
        table.add_row(str(row.length), f"{row.count:,}", f"{row.accuracy:.4f}", f"{low:.4f}-{high:.4f}", note)
    return table


# -- predict ----------------------------------------------------------------------------------
def cmd_predict(args: Namespace) -> int:
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
    run, checkpoint, model, device = _load_run_model(args.run, args.device)
    task = checkpoint.config.task
    rows = []
    with torch.inference_mode():
        for digits in sequences:
            logits = model.classify(torch.tensor([digits], device=device))
            p_match = float(torch.softmax(logits, dim=1)[0, 1])
            truth = is_positive(digits, task.task)
            rows.append({
                "digits": digits,
                "match": p_match > 0.5,
                "p_match": p_match,
                "truth": truth,
                "correct": (p_match > 0.5) == truth,
                "in_range": task.n_min <= len(digits) // 2 <= task.n_max,
            })
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return 0
    table = Table(title=f"{run.name} ({task.task}) at step {checkpoint.step:,}", title_justify="left")
    for name in ("sequence", "verdict", "p(match)", "truly", ""):
        table.add_column(name)
    for row in rows:
        verdict = "match" if row["match"] else "no match"
        truth = "match" if row["truth"] else "no match"
        mark = "[green]right[/]" if row["correct"] else "[red]wrong[/]"
        note = "" if row["in_range"] else f" [yellow](length {len(row['digits'])} outside trained {2 * task.n_min}-{2 * task.n_max})[/]"
        table.add_row(format_sequence(row["digits"]), verdict, f"{row['p_match']:.4f}", truth, mark + note)
    console.print(table)
    return 0


# -- gradients --------------------------------------------------------------------------------
def cmd_gradients(args: Namespace) -> int:
    from seqtui.gradients import measure

    run, checkpoint, model, device = _load_run_model(args.run, args.device)
    flow = measure(model, checkpoint.config.task, args.samples, device=device)
    history = [(r["step"], r["gradient_ratio_by_length"]) for r in run.read_metrics()
               if r.get("kind") == "eval" and "gradient_ratio_by_length" in r]
    if args.json:
        print(json.dumps({"run": str(run.path), "step": checkpoint.step, **flow.to_record(),
                          "during_training": [{"step": step, "ratio_by_length": ratios} for step, ratios in history]}))
        return 0
    table = Table(title=f"{run.name}: |dL/dh_t| at step {checkpoint.step:,} ({args.samples} probe examples a length)",
                  title_justify="left")
    for name in ("length", "|dL/dh_1|", "|dL/dh_T|", "first/last", "per step"):
        table.add_column(name, justify="right")
    for length, norms in flow.by_length.items():
        table.add_row(str(length), f"{norms[0]:.3g}", f"{norms[-1]:.3g}", f"{flow.ratio(length):.3g}",
                      f"x{flow.per_step(length):.3f}")
    console.print(table)
    if history:
        first_step, first = history[0]
        last_step, last = history[-1]
        longest = max(first, key=int)
        console.print(f"during training, first/last at length {longest}: {float(first[longest]):.3g} at step "
                      f"{first_step:,} -> {float(last[longest]):.3g} at step {last_step:,}")
    return 0


# -- compare ----------------------------------------------------------------------------------
def cmd_compare(args: Namespace) -> int:
    from seqtui.compare import compare

    settings = {"--task": args.task, "--negatives": args.negatives, "--n-min": args.n_min,
                "--n-max": args.n_max, "--seed": args.seed}
    names = [name.strip() for name in args.models.split(",") if name.strip()]
    budget = Budget(steps=args.steps, samples=args.samples, seconds=args.time)
    md, table = compare(args.root or default_root(), {k: v for k, v in settings.items() if v is not None},
                        budget, names, args.eval_samples, report=console.print, stamp=args.name,
                        parallel=args.parallel)
    console.print(md.read_text())
    console.print(f"wrote {md} and {table}")
    return 0


# -- export -----------------------------------------------------------------------------------
def cmd_export(args: Namespace) -> int:
    from seqtui.export import export_csv

    for path in export_csv(Run.open(args.run), args.out):
        console.print(f"wrote {path}")
    return 0


# -- sample -----------------------------------------------------------------------------------
def cmd_sample(args: Namespace) -> int:
    task = TaskConfig(args.task, args.negatives, args.n_min, args.n_max).validate()
    seed = args.seed if args.seed is not None else int(time.time_ns() % 2**31)
    generator = torch.Generator().manual_seed(seed)
    for digits, label in sample_examples(task, args.count, generator):
        if args.json:
            print(json.dumps({"digits": digits, "label": label, "length": len(digits)}))
        else:
            print(f"{format_sequence(digits)}   {'match' if label else 'no match'}")
    return 0


# -- runs and control -------------------------------------------------------------------------
def cmd_runs(args: Namespace) -> int:
    root = args.root or default_root()
    summaries = list_runs(root)
    if args.json:
        for s in summaries:
            print(json.dumps({"run": str(s.run.path), "state": s.state, "model": s.model, "task": s.task,
                              "negatives": s.negatives, "step": s.step, "examples": s.examples,
                              "best_worst": s.best_worst}))
        return 0
    if not summaries:
        console.print(f"no runs under {root} yet: start one with  seqtui train")
        return 0
    table = Table(title=f"runs under {root}", title_justify="left")
    for name in ("run", "state", "model", "task", "steps", "examples", "worst-length acc", "updated"):
        table.add_column(name, justify="right" if name in ("steps", "examples", "worst-length acc") else "left")
    for s in summaries:
        best = "-" if s.best_worst is None else f"{s.best_worst:.4f}"
        table.add_row(s.run.name, s.state, s.model, f"{s.task}/{s.negatives}", f"{s.step:,}",
                      f"{s.examples:,}", best, _ago(s.updated))
    console.print(table)
    return 0


def _ago(when: float) -> str:
    seconds = max(0.0, time.time() - when)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{math.floor(seconds / size)}{unit} ago"
    return f"{seconds:.0f}s ago"


def _control(args: Namespace, want: str, verb: str) -> int:
    run = Run.open(args.run)
    state = run.status()["state"]
    if state not in ("running", "paused", "starting"):
        hint = f"; to train it further: seqtui train --resume {run.path}" if want == "running" else ""
        raise SeqtuiError(f"run {run.name} is not training (state: {state}){hint}")
    run.request(want)
    console.print(f"asked {run.name} to {verb}")
    return 0


def cmd_pause(args: Namespace) -> int:
    return _control(args, "paused", "pause")


def cmd_resume(args: Namespace) -> int:
    return _control(args, "running", "resume")


def cmd_stop(args: Namespace) -> int:
    return _control(args, "stopped", "stop")

