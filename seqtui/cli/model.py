"""`seqtui eval`, `predict`, `gradients`, `sample`: what a trained model does (these load torch)."""

from __future__ import annotations

import json
import math
import sys
import time
from argparse import Namespace
from dataclasses import replace
from typing import Callable

from rich.markup import escape
from rich.table import Table

from seqtui.cli.common import _open_whole_run, console
from seqtui.settings.config import TaskConfig
from seqtui.settings.errors import SeqtuiError
from seqtui.settings.limits import GRADIENT_SAMPLES
from seqtui.settings.units import duration_text

SAMPLE_CHUNK = 65_536


# -- eval -------------------------------------------------------------------------------------
def _load_run_model(args: Namespace):
    from seqtui.core.checkpoint import load_checkpoint
    from seqtui.core.training import resolve_device

    run = _open_whole_run(args)  # a damaged config.json, or a model not registered here: said, checkpoint or not
    if not run.checkpoint_path.exists():
        raise SeqtuiError(f"run {run.shown_name} has no checkpoint yet")
    checkpoint = load_checkpoint(run.checkpoint_path)
    device = resolve_device(args.device)
    return run, checkpoint, checkpoint.build_model(device), device


def _share_the_cpu(device) -> None:
    """On a CPU, as many threads as the other processes leave cores (at least one): torch's threads
    wait for each other at every step, so on a busy 2-core box two threads run 4-5x slower than one."""
    import torch

    from seqtui.core.threads import threads_now

    if device.type == "cpu" and (threads := threads_now()) is not None:
        torch.set_num_threads(threads)


PRICED_ABOVE = 2_000  # examples: a larger evaluation is priced first, by pilot passes
PILOT_BATCHES = (32, 1_024)  # examples in a pilot pass: nearly all overhead, then the work as well
PILOT_ROUNDS = 2  # timed rounds after the warm-up; the fastest of each size counts
DAY = 86_400.0


def price(
    run_pass: Callable[[int, int], object],
    lengths: range,
    samples: int,
    chunk: int,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """Seconds an evaluation of `samples` examples split over the pattern `lengths`, `chunk` at
    most in one forward pass, will take here; `run_pass(n, batch)` evaluates one pass of `batch`
    examples of pattern length n.

    A pass costs an overhead (a step loop, threads meeting at every step: on a busy machine most of
    it) and then its examples; both grow with the length, so passes at the shortest and the longest
    lengths measure the mean. Two sizes of pass tell the overhead from the work, which is then
    priced for the passes the evaluation will make. Not timed: the first passes, which pay once
    for threads starting and memory first touched, and the slower of each pair of rounds (a shared
    machine's stalls are not the model's). Timing 2,000 examples from cold and scaling them up by
    examples said 5-50 times too long: the warm-up, and ten small passes' overhead, counted as work."""
    ends = sorted({lengths[0], lengths[-1]})
    small, large = PILOT_BATCHES
    for n in ends:
        run_pass(n, small)
    fastest = dict.fromkeys(PILOT_BATCHES, math.inf)
    for _ in range(PILOT_ROUNDS):
        for batch in PILOT_BATCHES:
            started = clock()
            for n in ends:
                run_pass(n, batch)
            fastest[batch] = min(fastest[batch], clock() - started)
    per_example = max(0.0, (fastest[large] - fastest[small]) / (large - small))
    per_pass = max(0.0, fastest[small] - small * per_example)
    per_length = samples // len(lengths)
    passes = math.ceil(per_length / chunk)
    return len(lengths) / len(ends) * (passes * per_pass + per_length * per_example)


def cmd_eval(args: Namespace) -> int:
    from seqtui.core.evaluation import evaluate, forward_chunk
    from seqtui.core.tasks import MAX_DIGITS
    from seqtui.core.training import check_fits_on
    from seqtui.settings.limits import evaluation_bytes

    if not 0 <= args.seed < 2**63:
        raise SeqtuiError(f"--seed must be between 0 and 2**63 - 1, got {args.seed}")
    run, checkpoint, model, device = _load_run_model(args)
    _share_the_cpu(device)
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
    if args.samples > PRICED_ABOVE:  # a large evaluation says how long it will take, and refuses more than a day

        def run_pass(n: int, batch: int) -> None:
            evaluate(model, replace(task, n_min=n, n_max=n), batch, negatives, n, args.seed, device)

        lengths = range(task.n_min, max_pattern + 1)
        estimate = price(run_pass, lengths, args.samples, forward_chunk(device))
        rate = args.samples / max(estimate, 1e-9)
        if estimate > DAY and not args.force:
            raise SeqtuiError(
                f"evaluating {args.samples:,} examples would take about {duration_text(estimate)} here "
                f"({rate:,.0f} examples/s): give fewer --samples, or --force"
            )
        if estimate > 10 and not args.json:
            print(f"evaluating {args.samples:,} examples: about {duration_text(estimate)}", file=sys.stderr, flush=True)
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
    """Arguments: read them all, answer them in a table. Stdin: answer each line as it comes (a
    pipe that never ends is answered line by line, in bounded memory)."""
    from seqtui.core.tasks import parse_sequence

    if not args.sequences and sys.stdin.isatty():
        print("reading sequences from the terminal, one per line; end with ctrl+d", file=sys.stderr, flush=True)
    if not args.sequences:
        return _predict_stream(args)
    many = len(args.sequences) > 1
    items = [(f"sequence {i}" if many else "sequence", text) for i, text in enumerate(args.sequences, 1)]
    sequences, problems = [], []
    for where, text in items:
        try:
            sequences.append((where, parse_sequence(text)))
        except SeqtuiError as error:
            problems.append((where, text, str(error)))
    if not sequences and len(problems) == 1:
        raise SeqtuiError(f"{problems[0][0]}: {problems[0][2]}")
    run, checkpoint, model, device = _load_run_model(args)
    rows = [_predicted(model, device, checkpoint.config.task, where, digits) for where, digits in sequences]
    if args.json:
        for row in rows:
            print(json.dumps(row))
        for where, text, problem in problems:
            print(json.dumps({"item": where, "text": text, "error": problem}))
        return _report_problems(problems)
    task = checkpoint.config.task
    table = Table(title=f"{escape(run.shown_name)} ({task.task}) at step {checkpoint.step:,}", title_justify="left")
    for name in ("sequence", "verdict", "p(match)", "truly", "correct?"):
        table.add_column(name)
    for row in rows:
        table.add_row(*_cells(row, task))
    if rows:
        console.print(table)
    return _report_problems(problems)


def _predict_stream(args: Namespace) -> int:
    from seqtui.core.tasks import parse_sequence

    run, checkpoint, model, device = _load_run_model(args)
    task = checkpoint.config.task
    answered, failed = 0, 0
    for number, text in enumerate(sys.stdin, 1):
        if not text.strip():
            continue
        where = f"line {number}"
        try:
            row = _predicted(model, device, task, where, parse_sequence(text))
        except SeqtuiError as error:
            failed += 1
            if args.json:
                print(json.dumps({"item": where, "text": text.rstrip("\n")[:200], "error": str(error)}), flush=True)
            print(f"seqtui: error: {where}: {error}", file=sys.stderr, flush=True)
            continue
        answered += 1
        if args.json:
            print(json.dumps(row), flush=True)
        else:
            sequence, verdict, p_match, truly, mark = _cells(row, task)
            console.print(f"{sequence}  {verdict}  p(match) {p_match}  truly {truly}  {mark}")
    if not answered and not failed:
        raise SeqtuiError("no sequences given: pass them as arguments or one per line on stdin")
    return 1 if failed else 0


def _predicted(model, device, task, where: str, digits: list[int]) -> dict:
    import torch

    from seqtui.core.tasks import is_positive

    with torch.inference_mode():
        logits = model.classify(torch.tensor([digits], device=device))
    p_match = float(torch.softmax(logits, dim=1)[0, 1])
    truth = is_positive(digits, task.task)
    return {
        "item": where,
        "digits": digits,
        "match": p_match > 0.5,
        "p_match": p_match,
        "truth": truth,
        "correct": (p_match > 0.5) == truth,
        "in_range": task.n_min <= len(digits) // 2 <= task.n_max,
    }


def _cells(row: dict, task) -> tuple[str, ...]:
    """A prediction as the table's cells: sequence, verdict, p(match), truly, right or wrong."""
    from seqtui.core.tasks import format_sequence

    mark = "[green]right[/]" if row["correct"] else "[red]wrong[/]"
    note = (
        ""
        if row["in_range"]
        else f" [yellow](length {len(row['digits'])} outside trained {2 * task.n_min}-{2 * task.n_max})[/]"
    )
    return (
        format_sequence(row["digits"]),
        "match" if row["match"] else "no match",
        f"{row['p_match']:.4f}",
        "match" if row["truth"] else "no match",
        mark + note,
    )


def _report_problems(problems: list[tuple[str, str, str]]) -> int:
    """Each item that could not be read, one line each on stderr; the exit status says whether any."""
    for where, _, problem in problems:
        print(f"seqtui: error: {where}: {problem}", file=sys.stderr)
    return 1 if problems else 0


# -- gradients --------------------------------------------------------------------------------
def cmd_gradients(args: Namespace) -> int:
    from seqtui.core.gradients import measure
    from seqtui.core.training import check_fits_on
    from seqtui.settings.limits import gradient_bytes

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
        f"(measured now on {args.samples} fresh examples a length)",
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
                f"{first_step:,} -> {last[longest]:.3g} at step {last_step:,} (F6 and F7's figures: "
                f"{GRADIENT_SAMPLES} other examples a length at each evaluation; |dL/dh| varies much "
                "from example to example, so two samples' ratios differ)"
            )
    return 0


# -- sample -----------------------------------------------------------------------------------
def cmd_sample(args: Namespace) -> int:
    import torch

    from seqtui.core.tasks import format_sequence, sample_examples

    values = vars(args)
    task = TaskConfig(values["task"], values["negatives"], values["n-min"], values["n-max"])
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
