"""Regenerate screenshots/ from the real app over really trained runs.

    python scripts/screenshots.py            # trains two runs (~1.5 minutes on 2 cores), then draws

Each screen is saved as an SVG at 100x30; README.md shows them. The browser view
(screenshots/browser.png) is taken by tests/test_browser.py, where Chromium is installed.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from seqtui.app import make_app  # noqa: E402

OUT = ROOT / "screenshots"


def train(root: Path, name: str, *flags: str) -> Path:
    run = root / name
    subprocess.run(
        [sys.executable, "-m", "seqtui", "train", "--run-dir", str(run), "--eval-every", "50k", "--quiet", *flags],
        check=True,
    )
    return run


async def draw(root: Path, lstm: Path, rnn: Path) -> None:
    app = make_app(root, lstm)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.5)
        app.save_screenshot("train.svg", path=str(OUT))
        await pilot.press("f4")
        while getattr(app.screen, "model", None) is None:  # torch loads first, then the probe screen
            await pilot.pause(0.05)
        await pilot.press(*"3 1 4 1 5 9 2 6 3 1 4 1 5 9 2 7", "enter")
        await pilot.pause(0.3)
        app.save_screenshot("probe.svg", path=str(OUT))
        await pilot.press("p")
        chart = app.screen.query_one("#pca-chart")
        while not chart.lines:  # the principal components are fitted in a worker
            await pilot.pause(0.05)
        await pilot.pause(0.3)
        app.save_screenshot("probe-path.svg", path=str(OUT))
        await pilot.press("p")
        await pilot.press("f6")
        await pilot.pause(0.5)
        app.save_screenshot("gradients.svg", path=str(OUT))
        app.compare.add(rnn)
        await pilot.press("f5")
        app.screen.query_one("#eval-max-len").value = "30"
        await pilot.press("e")
        await app.workers.wait_for_complete()
        await pilot.pause(0.3)
        app.save_screenshot("evaluate.svg", path=str(OUT))
        await pilot.press("f7")
        await pilot.pause(1.5)
        app.save_screenshot("compare.svg", path=str(OUT))
        await pilot.press("f2")
        await pilot.pause(0.3)
        app.save_screenshot("runs.svg", path=str(OUT))


def main() -> None:
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)  # the app shows the runs root as given: a short relative path
        root = Path("runs")
        lstm = train(root, "lstm-match-random")
        rnn = train(root, "rnn-match-random", "--model", "rnn", "--samples", "1M")
        asyncio.run(draw(root, lstm, rnn))
    # the browser view (seqtui serve in headless Chromium): the browser test takes it, if it can run here
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", str(ROOT / "tests" / "test_browser.py")],
        env=dict(os.environ, SEQTUI_SCREENSHOTS=str(OUT)),
        cwd=ROOT,
        check=False,
    )
    print(f"wrote {', '.join(p.name for p in sorted(OUT.glob('*.svg')))} to {OUT}")


if __name__ == "__main__":
    main()
