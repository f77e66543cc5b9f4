"""Training speed on a machine that others share: seqtui against a bare single-threaded loop.

    python bench/busy.py --seconds 10        # 0, 1 and 2 CPU-bound processes beside it (~2 minutes)

Each measurement runs in a fresh process (torch's thread pool is per process), for the same
number of seconds, under the same load: `hogs` processes that spin on the CPU. The bare loop is
the default preset's computation with nothing else (nn.LSTM 64, batch 256, Adam 5e-3, clipping at
1) on one thread; seqtui is `Trainer` on the default preset, its thread count left to follow the
load ("auto"), and, for comparison, fixed at the machine's cores (torch's own default, what the
first version did). bench/bench.py runs this as its `busy` part.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BARE = """
import sys, time, torch
from torch import nn
torch.set_num_threads(1)
seconds = float(sys.argv[1])
g = torch.Generator().manual_seed(0)
lstm, head = nn.LSTM(10, 64, batch_first=True), nn.Linear(64, 2)
params = list(lstm.parameters()) + list(head.parameters())
opt = torch.optim.Adam(params, lr=5e-3)
done, start, measured = 0, time.perf_counter(), None
while True:
    now = time.perf_counter()
    if measured is None and now - start >= 1.0:  # warm-up out of the measurement
        measured, done = now, 0
    if measured is not None and now - measured >= seconds:
        break
    n = int(torch.randint(1, 11, (1,), generator=g))
    digits = torch.randint(0, 10, (256, 2 * n), generator=g)
    labels = torch.randint(0, 2, (256,), generator=g)
    _, (h, _) = lstm(nn.functional.one_hot(digits, 10).float())
    loss = nn.functional.cross_entropy(head(h[-1]), labels)
    opt.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
    done += 256
print(done / (time.perf_counter() - measured))
"""

SEQTUI = """
import sys, time, torch
from seqtui.settings.presets import preset_config
from seqtui.core.training import Progress, Trainer
seconds, threads = float(sys.argv[1]), sys.argv[2]
# every length from the first step, as the bare loop trains (a curriculum would start on short ones)
values = {"samples": None, "time": seconds + 1.0, "curriculum": 0.0, "device": "cpu"}
values.update({"eval-every": 10**12, "log-every": 0.25})
if threads != "auto":
    values["threads"] = int(threads)
trainer = Trainer(preset_config(values))
events = [e for e in trainer.run() if isinstance(e, Progress) and e.elapsed >= 1.0]
used = sorted({e.threads for e in events})
rate = (events[-1].examples - events[0].examples) / (events[-1].elapsed - events[0].elapsed)
print(rate, ",".join(map(str, used)))
"""


def _run(code: str, *args: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT, check=True)
    return out.stdout.split()


def measure(seconds: float = 10.0, loads: tuple[int, ...] = (0, 1, 2), repeats: int = 1) -> list[dict]:
    rows = []
    for hogs in loads:
        spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(hogs)]
        try:
            time.sleep(0.5)
            bare, auto, fixed, used = [], [], [], set()
            for _ in range(repeats):  # alternated, so drifts in the machine's load fall on all three
                bare.append(float(_run(BARE, str(seconds))[0]))
                rate, threads = _run(SEQTUI, str(seconds), "auto")
                auto.append(float(rate))
                used |= set(threads.split(","))
                fixed.append(float(_run(SEQTUI, str(seconds), str(_cores()))[0]))
        finally:
            for spinner in spinners:
                spinner.kill()
                spinner.wait()
        row = {
            "hogs": hogs,
            "bare_1_thread": statistics.median(bare),
            "seqtui_auto": statistics.median(auto),
            "seqtui_all_cores": statistics.median(fixed),
            "auto_threads": sorted(used),
        }
        row["ratio_auto"] = row["seqtui_auto"] / row["bare_1_thread"]
        row["ratio_all_cores"] = row["seqtui_all_cores"] / row["bare_1_thread"]
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def _cores() -> int:
    from seqtui.core.threads import cores

    return cores()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    measure(args.seconds, repeats=args.repeats)


if __name__ == "__main__":
    main()
