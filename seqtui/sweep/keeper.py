"""A trial kept on a node that shares no disk with the driver: `TrialKeeper` (a Ray actor there).

It unpacks the run the driver sent into a directory of its own, starts `seqtui trial` on it, and
hands back what the trial wrote whenever the driver asks (`pull`). A driver's stop or pause
request is passed on to the trial (`request`); `stop` ends it with a checkpoint and gives the last
parcel. The keeper outlives a driver that dies, so a driver started again picks the trial up where
it is (`pull(whole=True)`); once its trial has ended and no driver has asked for LINGER seconds,
it removes its directory and goes.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from pathlib import Path

from seqtui.session.launch import spawn, threads_env
from seqtui.store.files import write_json_atomic
from seqtui.store.layout import CONTROL, LOG
from seqtui.store.shipping import Outbox, unpack

LINGER = 600.0  # seconds an ended trial waits for a driver to take its last parcel


class TrialKeeper:
    def __init__(
        self,
        files: dict[str, bytes],
        options: list[str],
        threads: int | None,
        workroot: str | None = None,
        linger: float | None = None,
    ):
        """`options`: `seqtui trial`'s after the run directory; `workroot`: where on this node
        trial directories go (default: the system's temporary directory); `linger`: seconds after
        its trial ended with nobody asking before the keeper removes it all and ends its process
        (an actor's; None: never)."""
        base = Path(workroot or tempfile.gettempdir())
        base.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix="seqtui-trial-", dir=base))
        unpack(self.path, files)
        self.outbox = Outbox(self.path)
        self.process = spawn(
            ["trial", str(self.path), *options], self.path / LOG, 0, threads_env(threads), detach=False, tied=True
        )
        self.where = f"{socket.gethostname()} via Ray"
        self.asked = time.monotonic()
        self.lock = threading.Lock()
        if linger is not None:
            threading.Thread(target=self._linger, args=(linger,), daemon=True).start()

    def pull(self, whole: bool = False, wait: float = 0.0) -> dict:
        """What the trial wrote since the last pull (all of it, `whole`), its exit status once it
        has ended (None while it trains), and where it runs. `wait`: seconds to wait first, unless
        the trial ends meanwhile, so a driver that asks again at once hears of its end at once."""
        deadline = time.monotonic() + wait
        while self.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        with self.lock:
            self.asked = time.monotonic()
            code = self.process.poll()  # before collecting: an ended trial's parcel holds all it wrote
            parcel = self.outbox.collect(whole)
            return {**parcel, "code": code, "where": self.where, "path": str(self.path)}

    def request(self, want: str) -> None:
        """The driver's copy was asked to pause, go on or stop: the trial is asked the same."""
        write_json_atomic(self.path / CONTROL, {"want": want, "at": time.time()})

    def stop(self) -> dict:
        """End the trial with a checkpoint (SIGTERM), and the whole run as it left it (whole: a
        pull whose answer the driver never read cannot leave a gap in its copy)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=120)
        except Exception:
            self.process.kill()
            self.process.wait()
        return self.pull(whole=True)

    def close(self) -> None:
        """The driver has the last parcel: the directory goes (the actor is ended by the driver)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.path, ignore_errors=True)

    def _linger(self, seconds: float) -> None:
        ended = None  # when the trial was first seen ended
        while True:
            time.sleep(min(5.0, seconds))
            if self.process.poll() is None:
                continue
            ended = ended or time.monotonic()
            with self.lock:  # not while a pull collects what is here
                if time.monotonic() - max(self.asked, ended) > seconds:  # nobody came for it
                    shutil.rmtree(self.path, ignore_errors=True)
                    os._exit(0)  # the actor ends
