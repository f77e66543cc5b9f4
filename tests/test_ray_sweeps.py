"""Sweeps on Ray where the nodes share no disk with the driver: each trial trains in a directory of
its own (a separate temporary root per trial, which the driver never reads) and its run comes back
under --root; lost workers and a killed driver."""

from __future__ import annotations

import csv
import importlib.util
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import seqtui_command, wait_until

from seqtui.store.run import Run
from seqtui.sweep.manifest import read_manifest
from seqtui.sweep.trial import read_heldout

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None, reason="Ray is not installed (pip install -e '.[ray]')"
)

TINY = ["--n-max", "2", "--hidden", "8", "--batch-size", "32", "--eval-samples", "200"]
RUN_FILES = ("config.json", "checkpoint.safetensors", "metrics.jsonl", "status.json", "heldout.json", "train.log")


def _report(directory: Path) -> list[dict]:
    """The report's rows without the one column that measures speed (it differs run to run)."""
    rows = list(csv.DictReader(open(directory / "report.csv")))
    return [{k: v for k, v in row.items() if k != "examples_per_s"} for row in rows]


def _checkpoint_step(run: Run) -> int:
    from seqtui.core.checkpoint import load_checkpoint

    return int(load_checkpoint(run.checkpoint_path).counters["step"])


def _events(run: Run) -> list[tuple[str, int]]:
    return [(r["event"], r["step"]) for r in run.read_metrics() if r.get("kind") == "event"]


def _driver(*args: str) -> subprocess.Popen:
    """A sweep's driver in its own process, to be killed or stopped mid-sweep."""
    return subprocess.Popen(
        [sys.executable, "-m", "seqtui", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )


def _keeper_of(run: Run) -> int:
    """The process that keeps a trial on its node: the parent of the trainer whose pid came back."""
    with open(f"/proc/{run.raw_status().pid}/stat") as handle:
        return int(handle.read().rsplit(")", 1)[1].split()[1])


def test_without_a_shared_disk_a_sweep_gives_the_same_report_and_run_directories(tmp_path):
    root, node = tmp_path / "runs", tmp_path / "node"
    grid = ["--model", "rnn,lstm", "--seeds", "1", "--steps", "400", *TINY, "--root", str(root)]
    grid += ["--ray", "--threads", "1"]
    shared = seqtui_command("sweep", *grid, "--name", "shared", timeout=240)
    assert shared.returncode == 0, shared.stdout + shared.stderr
    assert "the nodes share this disk (each was asked)" in shared.stdout  # one node: this one
    shipped = seqtui_command(
        "sweep", *grid, "--name", "shipped", "--no-ray-shared-disk", "--ray-workdir", str(node), timeout=240
    )
    assert shipped.returncode == 0, shipped.stdout + shipped.stderr
    assert "no shared disk: each trial trains on its node and its run comes back here" in shipped.stdout
    assert _report(root / "shipped") == _report(root / "shared")  # trained elsewhere, the same numbers
    for name in ("rnn", "lstm"):
        run = Run(root / "shipped" / name)
        assert all((run.path / f).is_file() for f in RUN_FILES), name
        status = run.status()
        assert status.state == "finished" and status.step == 400 and status.host.endswith("via Ray")
        assert read_heldout(run).step == 400
        assert "seqtui-trial-" in (run.path / "train.log").read_text()  # it trained in the node's directory
        assert run.read_metrics() and _events(run) == _events(Run(root / "shared" / name))
    assert list(node.iterdir()) == []  # each node's directory went once its run came back


@pytest.fixture
def ray_cluster(tmp_path, monkeypatch):
    """A Ray cluster started apart from any sweep (`ray start --head`), joined by address."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # no token to hand around on one machine
    log = open(tmp_path / "ray-head.log", "w")
    head = subprocess.Popen(
        [str(Path(sys.executable).parent / "ray"), "start", "--head", "--block", "--num-cpus", "2"]
        + ["--port", str(port), "--include-dashboard", "false", "--disable-usage-stats"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_until(lambda: "block forever" in (tmp_path / "ray-head.log").read_text(), 90, "Ray's head to start")
        yield f"127.0.0.1:{port}"
    finally:
        head.send_signal(signal.SIGTERM)  # --block: it stops what it started
        try:
            head.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
        log.close()
        current = Path("/tmp/ray/ray_current_cluster")  # `ray start` leaves it: a later ray.init() would join
        if current.is_file() and current.read_text().strip().endswith(f":{port}"):
            current.unlink()


def test_a_lost_worker_and_a_killed_driver_on_a_cluster_without_a_shared_disk(tmp_path, ray_cluster):
    """A trial whose keeper dies is failed with the reason; the driver, killed, leaves the other
    one training; run again, it picks that one up (never a second trainer) and resumes the lost
    one from the last checkpoint that came back."""
    root, node = tmp_path / "runs", tmp_path / "node"
    where = ["--name", "c", "--root", str(root), "--ray", ray_cluster, "--threads", "1"]
    where += ["--no-ray-shared-disk", "--ray-workdir", str(node)]
    command = ["sweep", "--model", "lstm", "--seeds", "2", "--steps", "5000", *TINY, "--checkpoint-every", "1600"]
    driver = _driver(*command, *where)
    kept, lost = Run(root / "c" / "lstm-s0"), Run(root / "c" / "lstm-s1")
    try:

        def shipped_a_checkpoint(run: Run) -> bool:
            return run.raw_status().state == "running" and run.checkpoint_path.exists() and _checkpoint_step(run) > 0

        wait_until(lambda: shipped_a_checkpoint(kept) and shipped_a_checkpoint(lost), 120, "checkpoints to come back")
        os.kill(_keeper_of(lost), signal.SIGKILL)  # its worker (or its node) is gone
        sweep_log = root / "c" / "sweep.log"
        wait_until(lambda: read_manifest(root / "c").trials["lstm-s1"].state == "failed", 60, "the loss")
        assert "lstm-s1: failed: its Ray node or worker was lost" in sweep_log.read_text()
        record = read_manifest(root / "c").trials["lstm-s1"]
        assert record.state == "failed" and "ActorDiedError" in record.reason
        assert lost.status().state == "interrupted"  # no longer said to train
        shipped = _checkpoint_step(lost)  # the last checkpoint that reached the driver
        assert 0 < shipped < 5000
        assert kept.raw_status().step < 5000, "too fast a box: the kept trial ended before the driver was killed"
    finally:
        driver.kill()  # SIGKILL: no word to anyone
        driver.wait()
    pid = kept.raw_status().pid
    assert Path(f"/proc/{pid}").exists()  # its trial trains on without a driver
    again = seqtui_command("sweep", *where, timeout=240)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "lstm-s0: picked up where an earlier run of the sweep left it training" in sweep_log.read_text()
    manifest = read_manifest(root / "c")
    assert {r.state for r in manifest.trials.values()} == {"finished"}
    assert manifest.trials["lstm-s0"].attempts == 1 and manifest.trials["lstm-s1"].attempts == 2
    assert _events(kept) == [("start", 0), ("finish", 5000)]  # one trainer, never stopped or started again
    resumed = [step for event, step in _events(lost) if event == "resume"]
    assert resumed == [shipped]  # from the checkpoint that came back, not from step 0
    for run in (kept, lost):
        assert run.status().state == "finished" and read_heldout(run).step == 5000
    assert len(list(node.iterdir())) == 1  # the lost keeper's directory stays on its node; the others went


def test_a_sweep_stopped_without_a_shared_disk_brings_back_each_trial_s_last_checkpoint(tmp_path):
    """SIGTERM (or Ctrl-C) to the driver: each trial stops with a checkpoint on its node, and that
    checkpoint comes back, so the next run resumes exactly where it stopped."""
    root, node = tmp_path / "runs", tmp_path / "node"
    where = ["--name", "t", "--root", str(root), "--ray", "--threads", "1", "--no-ray-shared-disk"]
    where += ["--ray-workdir", str(node)]
    command = ["sweep", "--model", "lstm", "--seeds", "1", "--steps", "5000", *TINY, "--checkpoint-every", "16000"]
    driver = _driver(*command, *where)
    trial = Run(root / "t" / "lstm")
    wait_until(lambda: trial.raw_status().state == "running" and trial.raw_status().step > 0, 120, "training")
    driver.send_signal(signal.SIGTERM)
    out, err = driver.communicate(timeout=180)
    assert driver.returncode == 130, out + err
    status = trial.status()
    assert status.state == "stopped" and 0 < status.step < 5000
    assert _checkpoint_step(trial) == status.step  # the stop's own checkpoint came back
    assert list(node.iterdir()) == []
    again = seqtui_command("sweep", *where, timeout=240)
    assert again.returncode == 0, again.stdout + again.stderr
    assert [step for event, step in _events(trial) if event == "resume"] == [status.step]
    assert trial.status().state == "finished" and read_heldout(trial).step == 5000
