"""seqtui against the tutorial's loop, side by side in one run, and time to quality.

    python bench/bench.py                    # everything (~25 minutes on a 2-core CPU)
    python bench/bench.py --only speed       # throughput and evaluation speed (~1 minute)
    python bench/bench.py --only quality     # what the defaults a user gets reach, on their budgets
    python bench/bench.py --only light       # how fast the commands that need no torch answer
    python bench/bench.py --only busy        # training beside 0, 1, 2 CPU-bound processes (~2 minutes)
    python bench/bench.py --only tutorial    # the tutorial's recipe by its own loop and by seqtui (~5 minutes)
    python bench/bench.py --only halved      # time to quality against the first version's preset (~10 minutes)
    python bench/bench.py --only sweep       # a 16-trial sweep: one after another, local executor, Ray (~3 minutes)
    python bench/bench.py --only first       # from asking for a run to its first point, idle and busy (~2 minutes)

Writes bench/results.md (and results.json beside it) with the machine, torch version and date.
Quality runs go through the real `seqtui train` and `seqtui eval` commands, as a user types them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import busy  # noqa: E402
import first_step  # noqa: E402
import sweeps  # noqa: E402
import tutorial  # noqa: E402

from seqtui.core.evaluation import evaluate  # noqa: E402
from seqtui.core.models import ModelConfig  # noqa: E402
from seqtui.core.tasks import TaskConfig  # noqa: E402
from seqtui.core.training import Budget, TrainConfig, Trainer  # noqa: E402

HERE = Path(__file__).resolve().parent
TUTORIAL_REFERENCE = {"train": 510.0, "eval": 2000.0}  # baselines.md, quiet machine, examples/s

# (label, extra `seqtui train` flags): the four models the tutorial's story is about, and the
# recurrent nets of 2023-2024
QUALITY_MODELS = [
    ("lstm (default preset)", []),
    ("rnn, default init (tutorial)", ["--model", "rnn"]),
    ("rnn, identity init + clip (IRNN)", ["--model", "rnn", "--init", "identity"]),
    ("gru", ["--model", "gru"]),
    ("mingru", ["--model", "mingru"]),
    ("minlstm", ["--model", "minlstm"]),
    ("lru", ["--model", "lru"]),
]
SEEDED = ("lstm (default preset)", "mingru", "minlstm", "lru")  # measured over --seeds seeds; the others over one
QUALITY_TASKS = [("random", 0.99), ("hard", 0.99)]
PARTS = ("light", "speed", "first", "busy", "tutorial", "halved", "quality", "sweep")
PRESET_NOTE = {1024: " (the rnn preset's batch)"}
NOTES = "## Notes"  # results.md from this heading on is written by hand and kept when the benchmark runs again
# commands that must answer at once: they read run directories and need no torch
LIGHT_COMMANDS = [["--version"], ["--help"], ["runs"], ["pause", "{run}"], ["resume", "{run}"], ["stop", "{run}"]]


def machine() -> dict:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "gpu": gpu,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def seqtui_train_speed(batch_size: int, seconds: float, device: str) -> float:
    config = TrainConfig(
        task=TaskConfig(),
        model=ModelConfig("rnn", 50),
        lr=1e-3,
        batch_size=batch_size,
        budget=Budget(seconds=seconds),
        eval_every=10**12,
        log_every=1.0,
        device=device,
    )
    trainer = Trainer(config)
    warm = Trainer(TrainConfig(**{**config.__dict__, "budget": Budget(steps=5)}))
    list(warm.run())  # first-call allocations out of the measurement
    list(trainer.run())
    return trainer.examples / trainer.elapsed


def seqtui_eval_seconds(model: str, hidden: int, device: str, repeats: int = 3) -> float:
    """Wall time of a 100,000-example accuracy-by-length evaluation, data generation included."""
    trainer = Trainer(TrainConfig(model=ModelConfig(model, hidden), device=device, eval_samples=10))
    times = []
    for repeat in range(repeats):
        started = time.perf_counter()
        evaluate(trainer.model, TaskConfig(), 100_000, seed=repeat, device=trainer.device)
        if trainer.device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def speed(device: str, quick: bool) -> dict:
    print("tutorial loop: training ...", flush=True)
    tut_train = tutorial.train_speed(1000 if quick else 3000)
    print("tutorial loop: evaluation ...", flush=True)
    tut_eval = tutorial.eval_speed(2000 if quick else 5000)
    result = {
        "tutorial_train_per_s": tut_train["examples_per_s"],
        "tutorial_eval_examples": tut_eval["examples"],
        "tutorial_eval_per_s": tut_eval["examples_per_s"],
        "tutorial_eval_100k_s": 100_000 / tut_eval["examples_per_s"],
        "train": {},
        "eval": {},
    }
    for batch in (256, 1024, 4096):
        print(f"seqtui rnn H=50 training, batch {batch} ...", flush=True)
        result["train"][batch] = seqtui_train_speed(batch, 3.0 if quick else 8.0, device)
    for model, hidden in (("rnn", 50), ("lstm", 64)):
        print(f"seqtui 100k evaluation, {model} H={hidden} ...", flush=True)
        result["eval"][f"{model}{hidden}"] = seqtui_eval_seconds(model, hidden, device)
    return result


def quality(device: str, only_models: list[str] | None, seeds: int) -> list[dict]:
    """Each model's preset on its default budget (in examples), then 100,000 fresh examples of the
    same kind of negatives and of the other kind (10,000 per length)."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="seqtui-bench-") as root:
        for label, flags in QUALITY_MODELS:
            if only_models and not any(m in label for m in only_models):
                continue
            for negatives, target in QUALITY_TASKS:
                for seed in range(seeds if label in SEEDED else 1):
                    rows.append(_quality_row(Path(root), label, flags, negatives, target, seed, device, len(rows)))
    return rows


def _quality_row(
    root: Path, label: str, flags: list[str], negatives: str, target: float, seed: int, device: str, index: int
) -> dict:
    run_dir = root / f"{index}-{negatives}"
    command = [
        "train",
        "--negatives",
        negatives,
        "--seed",
        str(seed),
        "--run-dir",
        str(run_dir),
        "--quiet",
        "--device",
        device,
        *flags,
    ]
    print(f"seqtui {' '.join(command)} ...", flush=True)
    started = time.perf_counter()
    _seqtui(*command)
    wall = time.perf_counter() - started
    status = json.loads((run_dir / "status.json").read_text())
    config = json.loads((run_dir / "config.json").read_text())
    row = {
        "model": label,
        "negatives": negatives,
        "seed": seed,
        "budget_examples": config["budget"]["samples"],
        "trained_s": status["elapsed"],
        "wall_s": wall,
        "examples": status["examples"],
        "hidden": config["model"]["hidden"],
        "batch_size": config["batch_size"],
        "lr": config["lr"],
        "target": target,
    }
    for kind in ("random", "hard"):
        report = json.loads(
            _seqtui("eval", str(run_dir), "--samples", "100000", "--negatives", kind, "--json", "--device", device)
        )
        by_length = {int(k): v for k, v in report["accuracy_by_length"].items()}
        row[kind] = {"by_length": by_length, "worst": min(by_length.values()), "accuracy": report["accuracy"]}
    row["by_length"], row["worst"] = row[negatives]["by_length"], row[negatives]["worst"]
    row["meets"] = row["worst"] >= target
    print(
        f"  worst length {row['worst']:.4f} ({negatives}), {row['random']['worst']:.4f} random, "
        f"{row['hard']['worst']:.4f} hard, in {status['elapsed']:.0f} s",
        flush=True,
    )
    return row


def tutorial_side_by_side(steps: int = 100_000) -> dict:
    """The tutorial's recipe run by its own loop and by `seqtui train --preset tutorial`, in one run."""
    print(f"the tutorial's loop: {steps:,} steps, then 100,000 examples by length ...", flush=True)
    theirs = tutorial.run(steps)
    with tempfile.TemporaryDirectory(prefix="seqtui-tutorial-") as root:
        run_dir = Path(root) / "tutorial"
        print("seqtui train --preset tutorial ...", flush=True)
        started = time.perf_counter()
        _seqtui(
            "train",
            "--preset",
            "tutorial",
            "--steps",
            str(steps),
            "--run-dir",
            str(run_dir),
            "--quiet",
            "--device",
            "cpu",
        )
        wall = time.perf_counter() - started
        report = json.loads(_seqtui("eval", str(run_dir), "--samples", "100000", "--json", "--device", "cpu"))
        status = json.loads((run_dir / "status.json").read_text())
        train = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
        train = [r for r in train if r["kind"] == "train"]
    seen = [r["examples"] - (train[i - 1]["examples"] if i else 0) for i, r in enumerate(train)]
    ours = {
        "steps": status["step"],
        "train_seconds": status["elapsed"],
        "wall_seconds": wall,
        "examples_per_s": status["examples"] / status["elapsed"],
        "running_accuracy": sum(r["accuracy"] * n for r, n in zip(train, seen)) / sum(seen),
        "accuracy_by_length": {int(k): v for k, v in report["accuracy_by_length"].items()},
        "accuracy": report["accuracy"],
    }
    print(
        f"  the tutorial's loop {theirs['examples_per_s']:,.0f} ex/s, seqtui {ours['examples_per_s']:,.0f} ex/s "
        f"({ours['examples_per_s'] / theirs['examples_per_s']:.1f}x)",
        flush=True,
    )
    return {"tutorial": theirs, "seqtui": ours, "reported_running_accuracy": 0.71}


# the first version's default preset, on the examples it needed (time budgets then: 60 s and 180 s here)
FIRST_VERSION = {"lr": 5e-3, "warmup": 0.0, "curriculum": 0.0}
FIRST_VERSION_EXAMPLES = {"random": 1_100_000, "hard": 3_200_000}


def halved(seeds: int = 3) -> list[dict]:
    """Time to quality of the default preset against the first version's, in one run: each trains
    on the examples it needs, then 10,000 fresh examples per length of the kind it trained on."""
    from seqtui.core.evaluation import evaluate
    from seqtui.settings.presets import preset_config

    rows = []
    for negatives in ("random", "hard"):
        for seed in range(seeds):
            for version, values in (
                ("first", {**FIRST_VERSION, "samples": FIRST_VERSION_EXAMPLES[negatives]}),
                ("now", {}),
            ):
                config = preset_config({**values, "negatives": negatives, "seed": seed, "device": "cpu"})
                trainer = Trainer(config)
                started = time.perf_counter()
                list(trainer.run())
                seconds = time.perf_counter() - started
                worst = evaluate(trainer.model, config.task, 100_000, negatives, seed=777).worst
                rows.append(
                    {
                        "negatives": negatives,
                        "seed": seed,
                        "version": version,
                        "examples": trainer.examples,
                        "seconds": seconds,
                        "worst": worst,
                    }
                )
                print(
                    f"  {negatives} seed {seed} {version}: {trainer.examples:,} examples, {seconds:.0f} s, "
                    f"worst {worst:.4f}",
                    flush=True,
                )
    return rows


def light(repeats: int = 7) -> dict:
    """Wall time of the commands that need no torch, as a user types them (median of `repeats`)."""
    with tempfile.TemporaryDirectory(prefix="seqtui-light-") as root:
        run = Path(root) / "runs" / "small"
        _seqtui(
            "train",
            "--model",
            "rnn",
            "--hidden",
            "8",
            "--n-max",
            "2",
            "--steps",
            "5",
            "--eval-samples",
            "100",
            "--run-dir",
            str(run),
            "--quiet",
        )
        times = {}
        for args in LIGHT_COMMANDS:
            args = [a.format(run=run) for a in args]
            samples = []
            for _ in range(repeats):
                started = time.perf_counter()
                subprocess.run(
                    ["seqtui", *args], capture_output=True, cwd=root, env=dict(os.environ, SEQTUI_RUNS=str(run.parent))
                )
                samples.append(time.perf_counter() - started)
            times[" ".join(["seqtui", *(a.replace(str(run), "RUN") for a in args)])] = statistics.median(samples)
            print(f"  {' '.join(args)}: {times[list(times)[-1]]:.3f} s", flush=True)
    return times


def _seqtui(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "seqtui", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"seqtui {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def _tutorial_markdown(result: dict | None) -> list[str]:
    if not result:
        return []
    theirs, ours = result["tutorial"], result["seqtui"]
    lengths = sorted(int(n) for n in theirs["accuracy_by_length"])

    def by_length(side: dict) -> str:
        values = {int(k): v for k, v in side["accuracy_by_length"].items()}
        return " | ".join(f"{values[n]:.3f}" for n in lengths)

    return [
        "## The tutorial's recipe, by its own loop and by seqtui",
        "",
        f"The same recipe run twice in one run: `bench/tutorial.py` (the blog post's loop: one example at a "
        f"time, a Python loop over time steps) and `seqtui train --preset tutorial` (rnn H=50, batch 1, Adam "
        f"1e-3 constant, no clipping, {ours['steps']:,} steps, match task, random negatives). Accuracy by "
        "length on 100,000 fresh examples (about 10,000 per length); the running accuracy is the mean over "
        "every training step, the figure the blog post prints and reports as about 0.71.",
        "",
        "| | examples/s | training time | running accuracy | held-out | " + " | ".join(map(str, lengths)) + " |",
        "| --- | ---: | ---: | ---: | ---: | " + " | ".join("---:" for _ in lengths) + " |",
        f"| the blog post (reported) | | | {result['reported_running_accuracy']:.2f} | | "
        + " | ".join("" for _ in lengths)
        + " |",
        f"| the tutorial's loop | {theirs['examples_per_s']:,.0f} | {theirs['train_seconds']:.0f} s | "
        f"{theirs['running_accuracy']:.4f} | {theirs['accuracy']:.4f} | {by_length(theirs)} |",
        f"| seqtui `--preset tutorial` | {ours['examples_per_s']:,.0f} "
        f"(**{ours['examples_per_s'] / theirs['examples_per_s']:.1f}x**) | {ours['train_seconds']:.0f} s | "
        f"{ours['running_accuracy']:.4f} | {ours['accuracy']:.4f} | {by_length(ours)} |",
        "",
    ]


def _halved_markdown(rows: list[dict] | None) -> list[str]:
    if not rows:
        return []
    lines = [
        "## Time to quality, against the first version",
        "",
        "The default preset (LSTM 64, batch 256, Adam at 2e-2 reached over the first fifth of the budget, "
        "then a cosine; the longest pattern growing from 3 to 10 digits over the first 40%) against the "
        "first version's (Adam at 5e-3, no warm-up, every length from the start, here on the examples it "
        "needed: 1.1M with random negatives, 3.2M with hard ones), trained one after the other in this run; "
        "worst length on 10,000 fresh examples per length of the kind trained on. Target: >= 0.99 in half "
        "the examples and time.",
        "",
        "| negatives | seed | first version: examples, time, worst | now: examples, time, worst | examples | time |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for first, now in zip(rows[::2], rows[1::2]):
        lines.append(
            f"| {first['negatives']} | {first['seed']} | {first['examples']:,}, {first['seconds']:.0f} s, "
            f"{first['worst']:.4f} | {now['examples']:,}, {now['seconds']:.0f} s, {now['worst']:.4f} | "
            f"**{now['examples'] / first['examples']:.2f}x** | **{now['seconds'] / first['seconds']:.2f}x** |"
        )
    return lines + [""]


def _busy_markdown(rows: list[dict] | None) -> list[str]:
    if not rows:
        return []
    lines = [
        "## On a machine others share",
        "",
        "Training examples/s of the default preset's computation (`bench/busy.py`): a bare loop on one "
        "thread, and seqtui with its thread count left to follow the load (auto) or fixed at every core "
        "(torch's default, what the first version did), each in a fresh process, with 0, 1 or 2 CPU-bound "
        "processes beside it. Target: seqtui >= 0.8x the bare one-thread loop under the same load.",
        "",
        "| processes beside it | bare loop, 1 thread | seqtui, auto (threads used) | ratio "
        "| seqtui, every core | ratio |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['hogs']} | {r['bare_1_thread']:,.0f} | {r['seqtui_auto']:,.0f} ({', '.join(r['auto_threads'])}) | "
            f"**{r['ratio_auto']:.2f}x** | {r['seqtui_all_cores']:,.0f} | {r['ratio_all_cores']:.2f}x |"
        )
    return lines + [""]


def markdown(info: dict, parts: dict) -> str:
    speed_result, quality_rows, light_result = parts["speed"], parts["quality"], parts["light"]
    lines = [
        "# seqtui benchmark results",
        "",
        f"Measured {info['date']} on {info['cpu']} ({info['cores']} cores"
        + (f", GPU {info['gpu']}" if info["gpu"] else ", no GPU")
        + f"), torch {info['torch']} ({info['torch_threads']} threads), Python {info['python']}.",
        "Regenerate with `python bench/bench.py` (see its docstring for parts).",
        "",
    ]
    if speed_result:
        s = speed_result
        t_train = s["tutorial_train_per_s"]
        lines += [
            "## Speed against the tutorial's loop (same process, same run)",
            "",
            "The tutorial: batch 1, a Python loop over time steps, Elman ReLU H=50, Adam 1e-3 "
            "(`bench/tutorial.py`). seqtui: the same model and equations through `Trainer`, "
            "batched by length, torch's fused `nn.RNN`.",
            "",
            "| what | examples/s | vs tutorial, this run | vs baselines.md reference |",
            "| --- | ---: | ---: | ---: |",
            f"| tutorial training loop | {t_train:,.0f} | 1x | {t_train / TUTORIAL_REFERENCE['train']:.2f}x |",
        ]
        for batch, rate in s["train"].items():
            lines.append(
                f"| seqtui training, rnn H=50, batch {batch}{PRESET_NOTE.get(int(batch), '')} | {rate:,.0f} "
                f"| **{rate / t_train:,.0f}x** "
                f"| {rate / TUTORIAL_REFERENCE['train']:,.0f}x |"
            )
        lines += [
            "",
            "| 100,000-example accuracy-by-length evaluation | seconds | vs tutorial, this run "
            "| vs baselines.md reference (49 s) |",
            "| --- | ---: | ---: | ---: |",
            f"| tutorial, one example at a time (extrapolated from {s.get('tutorial_eval_examples', 5000):,}) "
            f"| {s['tutorial_eval_100k_s']:.1f} | 1x | |",
        ]
        for name, seconds in s["eval"].items():
            lines.append(
                f"| seqtui, {name} | {seconds:.3f} | **{s['tutorial_eval_100k_s'] / seconds:,.0f}x** "
                f"| {100_000 / TUTORIAL_REFERENCE['eval'] / seconds:,.0f}x |"
            )
        lines.append("")
    lines += _tutorial_markdown(parts.get("tutorial")) + _busy_markdown(parts.get("busy"))
    lines += _halved_markdown(parts.get("halved")) + sweeps.markdown(parts.get("sweep"))
    if quality_rows:
        lengths = sorted(quality_rows[0]["by_length"])
        lines += [
            "## What the defaults reach on their budgets",
            "",
            "Each row is `seqtui train [model flags] --negatives X [--seed S]` with no budget flag: the "
            "preset's budget, counted in training examples, so the result is the same on any machine "
            "with the same thread count; then `seqtui eval RUN --samples 100000 --negatives K` on fresh "
            "examples (10,000 per length) of both kinds. Target: >= 0.99 at every length 2..20 on the "
            "kind of negatives trained on.",
            "",
            "| model | negatives | seed | budget (examples) | time | examples/s | "
            + " | ".join(str(n) for n in lengths)
            + " | worst | worst, other kind | meets |",
            "| --- | --- | ---: | ---: | ---: | ---: | "
            + " | ".join("---:" for _ in lengths)
            + " | ---: | ---: | --- |",
        ]
        for r in quality_rows:
            cells = " | ".join(f"{r['by_length'][n]:.4f}" for n in lengths)
            other = r["hard" if r["negatives"] == "random" else "random"]["worst"]
            lines.append(
                f"| {r['model']} (H={r['hidden']}, batch {r['batch_size']}, lr {r['lr']:g}) | "
                f"{r['negatives']} | {r['seed']} | {r['budget_examples']:,} | {r['trained_s']:.0f} s | "
                f"{r['examples'] / r['trained_s']:,.0f} | "
                f"{cells} | {r['worst']:.4f} | {other:.4f} | {'yes' if r['meets'] else 'no'} |"
            )
        lines.append("")
    if parts.get("first"):
        lines += first_step.markdown(parts["first"])
    if light_result:
        lines += [
            "## Commands that need no torch",
            "",
            "Wall time from the shell, median of seven (they import no torch; `pause`, `resume` and "
            "`stop` on a finished run, which they refuse with one line). Target: under 0.5 s.",
            "",
            "| command | seconds |",
            "| --- | ---: |",
        ]
        lines += [f"| `{command}` | {seconds:.3f} |" for command, seconds in light_result.items()]
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help=f"comma-separated parts, from {', '.join(PARTS)} (default: all)")
    parser.add_argument(
        "--seeds", type=int, default=3, help="quality: seeds of the default preset and the 2023-2024 nets (SEEDED)"
    )
    parser.add_argument("--models", nargs="*", help="quality: only models whose label contains one of these")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help="shorter speed measurements")
    parser.add_argument("--out", type=Path, default=HERE / "results.md")
    args = parser.parse_args()
    chosen = args.only.split(",") if args.only else list(PARTS)
    unknown = sorted(set(chosen) - set(PARTS))
    if unknown:
        parser.error(f"unknown part {unknown[0]!r}: choose from {', '.join(PARTS)}")
    info = machine()
    measure = {
        "light": lambda: light(),
        "speed": lambda: speed(args.device, args.quick),
        "busy": lambda: busy.measure(8.0 if args.quick else 10.0),
        "tutorial": lambda: tutorial_side_by_side(),
        "halved": lambda: halved(args.seeds),
        "quality": lambda: quality(args.device, args.models, args.seeds),
        "sweep": lambda: sweeps.measure(),
        "first": lambda: first_step.measure(),
    }
    measured = {name: measure[name]() for name in PARTS if name in chosen}
    # a part not measured this time keeps its earlier figures (each part says when it was measured)
    try:
        earlier = json.loads(args.out.with_suffix(".json").read_text())
    except (OSError, ValueError):
        earlier = {}
    if any("budget_examples" not in row for row in earlier.get("quality") or []):
        earlier.pop("quality")  # measured on budgets of seconds: not comparable with today's
    for row in earlier.get("quality") or []:  # JSON made the lengths strings
        for part in (row, row.get("random", {}), row.get("hard", {})):
            if "by_length" in part:
                part["by_length"] = {int(k): v for k, v in part["by_length"].items()}
    parts = {name: measured.get(name, earlier.get(name)) for name in PARTS}
    if args.models and measured.get("quality") is not None and earlier.get("quality"):
        # some models measured again: the others keep their rows, in the usual order
        kept = [r for r in earlier["quality"] if not any(m in r["model"] for m in args.models)]
        order = [label for label, _ in QUALITY_MODELS]
        parts["quality"] = sorted(
            kept + measured["quality"], key=lambda r: (order.index(r["model"]), r["negatives"] != "random", r["seed"])
        )
    dates = dict(earlier.get("measured", {}))
    dates.update({name: info["date"] for name in measured})
    for name in PARTS:
        if parts[name] is not None and name not in dates:
            dates[name] = "by an earlier version (no date kept)"
    text = markdown(info, parts)
    text += "\n" + "\n".join(f"- {name}: measured {date}" for name, date in sorted(dates.items())) + "\n"
    try:  # the notes written by hand below the tables (and the app's cost, bench/app_bench.py) stay
        previous = args.out.read_text()
    except OSError:
        previous = ""
    if NOTES in previous:
        text += "\n" + previous[previous.index(NOTES) :]
    args.out.write_text(text)
    args.out.with_suffix(".json").write_text(json.dumps({"machine": info, **parts, "measured": dates}, indent=2) + "\n")
    print(text)


if __name__ == "__main__":
    main()
