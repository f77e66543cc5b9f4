"""A run directory carried between machines that share no disk: parcels, and a trial kept elsewhere."""

from __future__ import annotations

import json
import socket
import time

from conftest import small_config

from seqtui.core.models import ModelConfig
from seqtui.core.training import Budget
from seqtui.store.files import write_bytes_atomic
from seqtui.store.layout import CHECKPOINT, CONFIG, CONTROL, HELDOUT, LOG, METRICS, STATUS
from seqtui.store.run import Run
from seqtui.store.shipping import Outbox, pack, receive, size
from seqtui.sweep.keeper import TrialKeeper
from seqtui.sweep.trial import read_heldout

OWN = (CONFIG, CHECKPOINT, METRICS, STATUS, LOG)


def _status(step: int) -> bytes:
    return json.dumps(
        {"state": "running", "host": socket.gethostname(), "step": step, "heartbeat": time.time()}
    ).encode()


def _same_except_status(here, there) -> None:
    for name in OWN:
        if name != STATUS:
            assert (here / name).read_bytes() == (there / name).read_bytes(), name


def test_parcels_bring_a_run_directory_across_each_change_once(tmp_path):
    node, driver = tmp_path / "node", tmp_path / "driver"
    node.mkdir()
    driver.mkdir()
    (node / CONFIG).write_text('{"model": {}}')
    (node / METRICS).write_text('{"step": 1}\n')
    (node / LOG).write_text("started\n")
    write_bytes_atomic(node / CHECKPOINT, b"\x00" * 5000)
    write_bytes_atomic(node / STATUS, _status(1))
    outbox = Outbox(node)
    first = outbox.collect()
    assert receive(driver, first, "node-7 via Ray")
    _same_except_status(node, driver)
    shipped = json.loads((driver / STATUS).read_text())
    assert shipped["host"] == "node-7 via Ray" and shipped["step"] == 1  # the trainer is remote, seen from here
    assert Run(driver).status().state == "running"  # alive while its heartbeat is fresh, with no lock here

    assert outbox.collect() == {"files": {}, "appended": {}}  # nothing changed: nothing sent
    with open(node / METRICS, "a") as out:
        out.write('{"step": 2}\n')
    write_bytes_atomic(node / CHECKPOINT, b"\x01" * 5000)  # replaced whole, as the trainer does
    status = _status(2)
    write_bytes_atomic(node / STATUS, status)
    second = outbox.collect()
    assert second["appended"] == {METRICS: [12, b'{"step": 2}\n']}  # only the new line
    assert set(second["files"]) == {CHECKPOINT, STATUS} and size(second) == 12 + 5000 + len(status)
    assert receive(driver, second, "node-7 via Ray")
    _same_except_status(node, driver)

    write_bytes_atomic(node / METRICS, b'{"step": 1}\n')  # a resume cuts the metrics back: all of it again
    third = outbox.collect()
    assert third["appended"] == {METRICS: [0, b'{"step": 1}\n']}
    assert receive(driver, third, "node-7 via Ray")
    _same_except_status(node, driver)


def test_a_parcel_lost_on_the_way_is_noticed_and_a_whole_one_mends_the_copy(tmp_path):
    node, driver = tmp_path / "node", tmp_path / "driver"
    node.mkdir()
    driver.mkdir()
    (node / METRICS).write_text("a\n")
    outbox = Outbox(node)
    assert receive(driver, outbox.collect(), "n")
    with open(node / METRICS, "a") as out:
        out.write("b\n")
    outbox.collect()  # lost
    with open(node / METRICS, "a") as out:
        out.write("c\n")
    assert not receive(driver, outbox.collect(), "n")  # "c" does not follow what is here
    assert (driver / METRICS).read_text() == "a\n"  # nothing out of order written
    assert receive(driver, outbox.collect(whole=True), "n")
    assert (driver / METRICS).read_text() == "a\nb\nc\n"


def test_a_parcel_writes_only_a_run_s_own_files_inside_it(tmp_path):
    driver = tmp_path / "runs" / "driver"
    driver.mkdir(parents=True)
    parcel = {
        "files": {"../escaped": b"x", CONTROL: b'{"want": "stopped"}', "lock": b"", "/tmp/abs": b"x", HELDOUT: b"{}"},
        "appended": {"../log": [0, b"x"], "sweep.json": [0, b"{}"]},
    }
    receive(driver, parcel, "n")
    assert sorted(p.name for p in (tmp_path / "runs").rglob("*")) == ["driver", HELDOUT]


def test_a_trial_kept_elsewhere_trains_there_and_its_run_comes_back_whole(tmp_path):
    """The keeper (a Ray actor on a node without the driver's disk) run here, in-process: the
    trial trains in the keeper's own directory; pulling its parcels builds the driver's copy."""
    run = Run.create(
        tmp_path / "runs" / "sweep" / "t", small_config(model=ModelConfig("lstm", 8), budget=Budget(steps=300))
    )
    keeper = TrialKeeper(pack(run.path), ["--eval-samples", "200", "--threads", "1"], 1, str(tmp_path / "node"))
    assert keeper.path.parent == tmp_path / "node" and not str(keeper.path).startswith(str(run.path))
    deadline = time.time() + 120
    while True:
        parcel = keeper.pull()
        assert receive(run.path, parcel, parcel["where"])
        if parcel["code"] is not None:
            break
        assert time.time() < deadline, "the trial did not end"
        time.sleep(0.3)
    assert parcel["code"] == 0
    status = run.status()
    assert status.state == "finished" and status.step == 300 and status.host.endswith("via Ray")
    _same_except_status(keeper.path, run.path)
    heldout = read_heldout(run)
    assert heldout is not None and heldout.step == 300  # measured there, read here
    assert [r["step"] for r in run.read_metrics() if r.get("event") == "finish"] == [300]
    keeper.close()
    assert not keeper.path.exists()


def test_a_stop_brings_the_whole_run_back_even_after_a_parcel_the_driver_never_read(tmp_path):
    run = Run.create(
        tmp_path / "runs" / "sweep" / "t", small_config(model=ModelConfig("lstm", 8), budget=Budget(steps=10**6))
    )
    keeper = TrialKeeper(pack(run.path), ["--eval-samples", "200", "--threads", "1"], 1, str(tmp_path / "node"))
    try:
        deadline = time.time() + 120
        while Run(keeper.path).raw_status().step < 50:
            assert time.time() < deadline, "the trial did not start"
            time.sleep(0.2)
        assert receive(run.path, keeper.pull(), "n", str(keeper.path))
        time.sleep(0.5)
        keeper.pull()  # its answer lost (a driver interrupted while it was on its way)
        time.sleep(0.5)
        last = keeper.stop()
        assert receive(run.path, last, "n", str(keeper.path))
        _same_except_status(keeper.path, run.path)  # nothing missing: the stop's parcel is whole
        status = run.status()
        assert status.state == "stopped" and str(keeper.path) not in status.message  # it speaks of this copy
        assert [r["event"] for r in run.read_metrics() if r.get("kind") == "event"][-1] == "stop"
    finally:
        keeper.close()


def test_a_parcel_never_appends_through_a_link(tmp_path):
    driver, elsewhere = tmp_path / "driver", tmp_path / "elsewhere.jsonl"
    driver.mkdir()
    elsewhere.write_text("x\n")
    (driver / METRICS).symlink_to(elsewhere)
    assert not receive(driver, {"appended": {METRICS: [2, b"y\n"]}}, "n")
    assert elsewhere.read_text() == "x\n"
