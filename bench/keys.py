"""How long a key takes to change the screen, as a user at a terminal sees it.

    python bench/keys.py                 # 80x24, idle and beside a CPU-bound process
    python bench/keys.py --size 100x30 --rounds 5

`seqtui` runs in a tmux window on a runs root with one small trained run; each key is sent with
`tmux send-keys` and the pane's text is read every 5 ms until it changes, then until it stays the
same for 0.4 s: both times are printed, the first change and the screen whole. Colours are read only
for Down/Up, whose change is a highlight (elsewhere a focused field's blinking cursor would count as
a change). Each screen key is pressed twice in one app: the first showing builds the screen, the
second shows it again.
F5 then F4 come after the screens that need no torch: F5 loads torch the first time, so its first
change is the notice that says so and its last the screen (a quiet of 4 s counts there). Down on the
runs list is the floor (a key that changes one row). Needs tmux.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCREENS = ["F3", "F6", "F7", "F8", "F2"]  # the screens that need no torch, then back to the list
TORCH = ["F5", "F4"]  # F5 loads torch the first time (a notice at once, then the screen); then F4


def seqtui(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "seqtui", *args], check=True, capture_output=True, cwd=ROOT)


def capture(session: str, styles: bool) -> str:
    flags = ["-p", "-e"] if styles else ["-p"]
    return subprocess.run(["tmux", "capture-pane", *flags, "-t", session], capture_output=True, text=True).stdout


def press(
    session: str, key: str, limit: float = 10.0, quiet: float = 0.4, styles: bool = False
) -> tuple[float, float] | None:
    """Seconds from the key to the pane's first change, and to its last change before it stays the
    same for `quiet` seconds (the screen whole: a first frame that is filled in later counts late)."""
    before = capture(session, styles)
    started = time.perf_counter()
    subprocess.run(["tmux", "send-keys", "-t", session, key], check=True)
    first = last = None
    while (now := time.perf_counter()) - started < limit:
        shown = capture(session, styles)
        if shown != before:
            first = first if first is not None else now - started
            last, before = now - started, shown
        elif last is not None and now - started - last > quiet:
            break
        time.sleep(0.005)
    return None if first is None or last is None else (first, last)


def one_app(runs: Path, size: str, keys: list[str]) -> list[tuple[float, float] | None]:
    session = f"seqtui-keys-{os.getpid()}-{time.monotonic_ns()}"
    width, height = size.split("x")
    command = f"cd {ROOT} && {sys.executable} -m seqtui --root {runs}"
    for _ in range(5):  # a tmux server ending with its last session refuses a new one for a moment
        started = subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", width, "-y", height, command])
        if started.returncode == 0:
            break
        time.sleep(0.5)
    else:
        raise SystemExit("tmux could not start a session")
    try:
        time.sleep(4)  # started and drawn
        times = []
        loaded = False
        for key in keys:
            # loading torch: the notice, then nothing for a second or more, then the screen
            quiet = 0.4 if loaded or key not in TORCH else 4.0
            times.append(press(session, key, quiet=quiet, styles=key in ("Down", "Up")))
            loaded = loaded or key in TORCH
            time.sleep(0.8)  # settled
        return times
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


def measure(runs: Path, size: str, rounds: int) -> dict[str, list[tuple[float, float]]]:
    found: dict[str, list[tuple[float, float]]] = {}
    first = ["Down", "Up", *SCREENS, *TORCH]
    keys = [*first, *SCREENS, *TORCH]
    for _ in range(rounds):
        times = one_app(runs, size, keys)
        for index, (key, seconds) in enumerate(zip(keys, times)):
            if seconds is None:
                continue
            if key in ("Down", "Up"):
                label = "Down/Up on the runs list (the floor)"
            elif key == "F2":
                label = "F2 (the runs list, built at start)"
            elif index == first.index(TORCH[0]):
                label = f"{key} first showing (loads torch: the notice / the screen)"
            elif index == first.index(TORCH[1]):
                label = f"{key} first showing (torch loaded)"
            else:
                label = f"{key} {'first showing' if index < len(first) else 'shown again'}"
            found.setdefault(label, []).append(seconds)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="80x24")
    parser.add_argument("--rounds", type=int, default=3, help="apps started, each key pressed once in each")
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        raise SystemExit("bench/keys.py needs tmux")
    with tempfile.TemporaryDirectory(prefix="seqtui-keys-") as tmp:
        runs = Path(tmp) / "runs"
        for name in ("small", "other"):  # two: Down moves between them
            seqtui(
                "train", "--model", "lstm", "--hidden", "16", "--n-max", "3", "--samples", "20k",
                "--eval-samples", "300", "--run-dir", str(runs / name), "--quiet",
            )  # fmt: skip
        results = {"idle": measure(runs, args.size, args.rounds)}
        hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            results["beside a CPU-bound process"] = measure(runs, args.size, args.rounds)
        finally:
            hog.kill()
    print(
        f"key to the screen's first change / to the screen whole (no change for 0.4 s after) at {args.size},"
        f" ms: median (slowest) over {args.rounds} apps"
    )
    labels = list(results["idle"])
    print(f"| key | {' | '.join(results)} |")
    print(f"| --- |{' ---: |' * len(results)}")
    for label in labels:
        cells = []
        for found in results.values():
            times = found.get(label, [])
            if not times:
                cells.append("-")
                continue
            first, whole = [1000 * t[0] for t in times], [1000 * t[1] for t in times]
            cells.append(
                f"{statistics.median(first):.0f} ({max(first):.0f}) / {statistics.median(whole):.0f} ({max(whole):.0f})"
            )
        print(f"| {label} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
