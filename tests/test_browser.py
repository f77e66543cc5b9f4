"""The app served to a real browser (seqtui serve, textual-serve), driven in headless Chromium.

Needs Debian's `chromium` and `chromium-driver` and the `selenium` package (in the test extras);
without them the test skips and says what is missing. It installs nothing itself. The page draws
the terminal on a canvas, so what the app sends is read from the page's websocket instead.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import small_config, wait_until

from seqtui.core.models import ModelConfig
from seqtui.core.training import Budget
from seqtui.session import runner
from seqtui.store.run import Run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
MISSING = [
    what
    for what, there in (
        ("chromium (apt-get install chromium)", CHROMIUM),
        ("chromedriver (apt-get install chromium-driver)", DRIVER),
        ("selenium (pip install selenium)", importlib.util.find_spec("selenium")),
    )
    if not there
]
pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"no headless browser here: {', '.join(MISSING)}")

# what the app sends to the page, kept where the test can read it
RECORD = """
window.__seqtui = [];
const Native = window.WebSocket;
class Recording extends Native {
  constructor(...args) {
    super(...args);
    this.addEventListener("message", (event) => {
      const data = event.data;
      if (typeof data === "string") window.__seqtui.push(data);
      else if (data instanceof ArrayBuffer) window.__seqtui.push(new TextDecoder().decode(data));
      else if (data instanceof Blob) data.text().then((text) => window.__seqtui.push(text));
    });
  }
}
window.WebSocket = Recording;
"""
ESCAPES = re.compile(r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>78]")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_served_app_shows_runs_and_charts_in_a_browser_and_changes_nothing(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    root = tmp_path / "runs"
    config = small_config(model=ModelConfig("lstm", 32), lr=2e-2, budget=Budget(steps=1500), eval_every=1600)
    run = Run.create(root / "lstm-in-a-browser", config)
    assert runner.train(run).state == "finished"
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "seqtui", "serve", "--root", str(root), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,800"):
        options.add_argument(argument)
    driver = None
    try:

        def listening() -> bool:
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", port)) == 0

        wait_until(listening, 60, "the server")
        driver = webdriver.Chrome(service=Service(DRIVER), options=options)
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD})
        driver.get(f"http://127.0.0.1:{port}")

        def screen() -> str:
            return ESCAPES.sub("", "".join(driver.execute_script("return window.__seqtui;") or []))

        wait_until(lambda: "lstm-in-a-browser" in screen(), 90, "the runs list in the browser")
        assert "finished" in screen()
        driver.find_element(By.CSS_SELECTOR, ".xterm-screen").click()  # keys go to the terminal now

        def press(key: str) -> None:
            ActionChains(driver).send_keys(key).perform()

        seen = len(screen())
        press(Keys.ENTER)  # the run under the cursor, on the train screen
        wait_until(lambda: "loss" in screen()[seen:] and "step 1,500" in screen()[seen:], 60, "the train screen")
        wait_until(lambda: re.search("[\u2801-\u28ff]{3}", screen()[seen:]), 30, "a chart of the run")
        if os.environ.get("SEQTUI_SCREENSHOTS"):  # scripts/screenshots.py asks for the README's picture
            time.sleep(1)
            driver.save_screenshot(str(Path(os.environ["SEQTUI_SCREENSHOTS"]) / "browser.png"))
        seen = len(screen())
        press(Keys.F2)
        wait_until(lambda: "lstm-in-a-browser" in screen()[seen:] and "Mark" in screen()[seen:], 30, "the runs list")
        assert "Delete" not in screen()[seen:]  # a viewer is not offered what would change the runs
        press("d")  # nor does the key do it
        time.sleep(2)
        assert "Delete" not in screen()[seen:]  # no question asked
        assert (root / "lstm-in-a-browser" / "checkpoint.safetensors").is_file() and run.status().state == "finished"
    finally:
        if driver is not None:
            driver.quit()
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert "read-only" in output and f"http://localhost:{port}" in output
