"""A 16-trial sweep four ways: one trial after another, the local executor, and Ray (local), with
the runs root shared by the trials and without (each trial trains in a directory of its own and its
run is shipped back to the driver).

    python bench/sweeps.py            # prints the table; bench/bench.py --only sweep records it

Each way runs the real `seqtui sweep` command on the same grid (rnn and lstm x hidden 16, 32, 64,
128 x 2 seeds, on a small budget) into its own runs root. Measured: wall time, and how busy the
machine's cores were over it (from /proc/stat: busy / total clock ticks of every core). Ray's
overhead: starting a local instance (measured alone), and per trial what Ray took beyond the
local executor with the same number of trials at once; shipping's: per trial, what the sweep took
beyond Ray with the shared disk, and the parcels, bytes and driver time each trial's run came back
in (the line the driver appends to its train.log).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GRID = ["--model", "rnn,lstm", "--hidden", "16,32,64,128", "--seeds", "2", "--samples", "60k", "--n-max", "5"]
TRIALS = 16


def _ticks() -> tuple[int, int]:
    with open("/proc/stat") as handle:
        fields = [int(v) for v in handle.readline().split()[1:]]
    idle = fields[3] + fields[4]
    total = sum(fields[:8])
    return total - idle, total


def _sweep(root: Path, name: str, *extra: str) -> dict:
    busy0, total0 = _ticks()
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "seqtui", "sweep", *GRID, "--name", name, "--root", str(root), *extra],
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    busy1, total1 = _ticks()
    if result.returncode != 0:
        raise SystemExit(f"sweep {name} failed: {result.stderr or result.stdout}")
    return {"wall_s": wall, "cpu_utilisation": (busy1 - busy0) / max(1, total1 - total0)}


SHIPPED = re.compile(r"came back from .* in (\d+) parcels, (\d+) kB, written here in (\d+) ms")


def _shipping(directory: Path) -> dict:
    """Per trial, mean over the sweep's trials: parcels, kB and driver milliseconds."""
    found = [SHIPPED.search((log).read_text()) for log in directory.glob("*/train.log")]
    rows = [tuple(int(v) for v in m.groups()) for m in found if m]
    if not rows:
        return {}
    return {key: sum(r[i] for r in rows) / len(rows) for i, key in enumerate(("parcels", "kb", "ms"))} | {
        "largest_kb": max(r[1] for r in rows),
        "trials": len(rows),
    }


def _ray_start_seconds() -> float:
    code = (
        "import time; t = time.perf_counter(); import ray; "
        'ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False); '
        "print(time.perf_counter() - t); ray.shutdown()"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return float(result.stdout.strip().splitlines()[-1])


def measure() -> dict:
    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        out = {
            "trials": TRIALS,
            "grid": " ".join(GRID),
            "cores": cores,
            "one_after_another": _sweep(root, "seq", "--parallel", "1", "--threads", str(cores)),
            "local": _sweep(root, "local"),
        }
        try:
            out["ray_start_s"] = _ray_start_seconds()
            out["ray"] = _sweep(root, "ray", "--ray", "--threads", "1")
            work = root / "node"
            shipped = ["--ray", "--threads", "1", "--no-ray-shared-disk", "--ray-workdir", str(work)]
            out["ray_shipped"] = _sweep(root, "shipped", *shipped) | {"shipping": _shipping(root / "shipped")}
        except (ValueError, IndexError):
            out["ray"] = None  # Ray not installed
    return out


def markdown(result: dict | None) -> list[str]:
    if not result:
        return []
    base = result["one_after_another"]["wall_s"]
    lines = [
        "## A sweep: one after another, the local executor, Ray",
        "",
        f"`seqtui sweep {result['grid']}`: {result['trials']} trials, each trained and measured by "
        f"`seqtui trial` (`bench/sweeps.py`). One after another: `--parallel 1 --threads {result['cores']}`; "
        f"local: the default (one trial per core, one thread each); Ray: `--ray` (a local instance, one "
        "CPU per trial). CPU utilisation: busy share of all cores over the sweep.",
        "",
        "| executor | wall time | vs one after another | CPU utilisation |",
        "| --- | ---: | ---: | ---: |",
    ]
    ways = (
        ("one after another", "one_after_another"),
        ("local executor", "local"),
        ("Ray", "ray"),
        ("Ray, no shared disk (runs shipped back)", "ray_shipped"),
    )
    for label, key in ways:
        row = result.get(key)
        if row:
            lines.append(
                f"| {label} | {row['wall_s']:.1f} s | **{base / row['wall_s']:.2f}x** | {row['cpu_utilisation']:.0%} |"
            )
    if result.get("ray"):
        extra = result["ray"]["wall_s"] - result["local"]["wall_s"]
        lines += [
            "",
            f"Ray's overhead: the whole sweep took {extra:+.1f} s against the local executor, "
            f"{extra / result['trials']:+.2f} s per trial, all included: starting a local instance "
            f"(about {result['ray_start_s']:.1f} s measured alone, importing Ray included), scheduling, a "
            "worker process per task. The trials themselves are the same processes either way.",
        ]
    shipped = result.get("ray_shipped")
    if result.get("ray") and shipped and shipped.get("shipping"):
        extra = shipped["wall_s"] - result["ray"]["wall_s"]
        ship = shipped["shipping"]
        lines += [
            "",
            f"Shipping runs back (`--no-ray-shared-disk`: each trial trains in a directory of its own, "
            f"pulled every 2 s): {extra:+.1f} s for the sweep against Ray with the shared disk, "
            f"{extra / result['trials']:+.2f} s per trial; per trial {ship['parcels']:.1f} parcels, "
            f"{ship['kb']:.0f} kB (the largest {ship['largest_kb']} kB), written into the driver's copy in "
            f"{ship['ms']:.0f} ms.",
        ]
    return lines + [""]


if __name__ == "__main__":
    print("\n".join(markdown(measure())))
