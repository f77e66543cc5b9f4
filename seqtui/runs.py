"""A run directory: the contract between a trainer, its viewers and other tools.

    runs/<name>/
      config.json              the run's settings (TrainConfig as JSON); the budget is the total
      metrics.jsonl            one JSON object per line, each with "kind" and "step"
      checkpoint.safetensors   the latest checkpoint (replaced atomically)
      status.json              state, pid, host, heartbeat, step, examples, message
      control.json             what another process wants: {"want": "running"|"paused"|"stopped"}
      train.log                output of a trainer started in the background, if one was

Readers tolerate a partly written last line of metrics.jsonl. status.json and control.json are
replaced atomically, never written in place.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from seqtui.errors import SeqtuiError
from seqtui.training import TrainConfig

CONFIG = "config.json"
METRICS = "metrics.jsonl"
CHECKPOINT = "checkpoint.safetensors"
STATUS = "status.json"
CONTROL = "control.json"
LOG = "train.log"  # the output of a trainer started in the background (by the app)

ACTIVE_STATES = ("starting", "running", "paused")
WANTS = ("running", "paused", "stopped")
HEARTBEAT_STALE = 120.0  # seconds; a trainer on another host is presumed gone after this


def default_root() -> Path:
    return Path(os.environ.get("SEQTUI_RUNS", "runs"))


def write_text_atomic(path: Path, text: str) -> None:
    """Readers see the old file or the whole new one, never half of it (written as given, no
    newline translation)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "w", newline="") as handle:
        handle.write(text)
    os.replace(temporary, path)


def write_json_atomic(path: Path, data: dict) -> None:
    write_text_atomic(path, json.dumps(data, indent=2) + "\n")


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped) is not a live trainer
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


class Run:
    def __init__(self, path: Path):
        self.path = Path(path)

    @property
    def name(self) -> str:
        return self.path.name

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def checkpoint_path(self) -> Path:
        return self.file(CHECKPOINT)

    # -- creating and opening ---------------------------------------------------------------
    @classmethod
    def create(cls, path: Path, config: TrainConfig) -> "Run":
        path = Path(path)
        if path.exists() and any(p.name != LOG for p in path.iterdir()):
            raise SeqtuiError(f"{path} already exists and is not empty: pick another --run-dir or --resume it")
        path.mkdir(parents=True, exist_ok=True)
        run = cls(path)
        run.write_config(config)
        return run

    @classmethod
    def open(cls, path: Path) -> "Run":
        path = Path(path)
        if not path.is_dir():
            raise SeqtuiError(f"no run at {path}: the directory does not exist")
        if not (path / CONFIG).is_file():
            raise SeqtuiError(f"{path} is not a run directory (it has no {CONFIG})")
        return cls(path)

    def config(self) -> TrainConfig:
        data = _read_json(self.file(CONFIG))
        if data is None:
            raise SeqtuiError(f"{self.file(CONFIG)} is unreadable or not valid JSON")
        try:
            return TrainConfig.from_dict(data)
        except (TypeError, ValueError) as error:
            raise SeqtuiError(f"{self.file(CONFIG)} does not describe a run: {error}") from None

    def write_config(self, config: TrainConfig) -> None:
        write_json_atomic(self.file(CONFIG), config.to_dict())

    # -- metrics ------------------------------------------------------------------------------
    def append_metrics(self, record: dict) -> None:
        with open(self.file(METRICS), "a") as handle:
            handle.write(json.dumps(record) + "\n")

    def read_metrics(self) -> list[dict]:
        return MetricsReader(self.file(METRICS)).read_new()

    def truncate_metrics(self, step: int) -> None:
        """Keep only records up to `step`: what came after the checkpoint is being redone."""
        kept = [r for r in self.read_metrics() if r.get("step", 0) <= step]
        temporary = self.file(f".{METRICS}.tmp")
        temporary.write_text("".join(json.dumps(r) + "\n" for r in kept))
        os.replace(temporary, self.file(METRICS))

    # -- status and control ---------------------------------------------------------------------
    def write_status(self, **fields) -> None:
        status = self.raw_status()
        status.update(fields, heartbeat=time.time())
        write_json_atomic(self.file(STATUS), status)

    def raw_status(self) -> dict:
        return _read_json(self.file(STATUS)) or {}

    def status(self) -> dict:
        """The status as written, with `state` corrected when the trainer is gone."""
        status = self.raw_status()
        state = status.get("state", "new")
        if state in ACTIVE_STATES and not self._trainer_alive(status):
            status["state"] = "interrupted"
            status["message"] = "the trainer stopped without saying so; resume with seqtui train --resume"
        status.setdefault("state", state)
        return status

    def _trainer_alive(self, status: dict) -> bool:
        pid = status.get("pid")
        if not isinstance(pid, int):
            return False
        if status.get("host") == socket.gethostname():
            return pid_alive(pid)
        return time.time() - float(status.get("heartbeat", 0)) < HEARTBEAT_STALE

    def is_active(self) -> bool:
        return self.status()["state"] in ACTIVE_STATES

    def request(self, want: str) -> None:
        """Ask the trainer to run, pause or stop; it acts within about half a second."""
        if want not in WANTS:
            raise SeqtuiError(f"unknown request {want!r}: choose one of {', '.join(WANTS)}")
        write_json_atomic(self.file(CONTROL), {"want": want, "at": time.time()})

    def wanted(self) -> str:
        data = _read_json(self.file(CONTROL)) or {}
        want = data.get("want", "running")
        return want if want in WANTS else "running"


class MetricsReader:
    """Reads a growing metrics log like `tail -f`: complete lines only, from where it left off."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.offset = 0
        self.restarts = 0  # times the log was found shorter than what was read: rewritten

    def read_new(self) -> list[dict]:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return []
        if size < self.offset:  # the log was truncated (a resume): start again
            self.offset = 0
            self.restarts += 1
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            data = handle.read()
        end = data.rfind(b"\n") + 1  # a last line without its newline is still being written
        self.offset += end
        records = []
        for line in data[:end].splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line torn by a crash mid-write
            if isinstance(record, dict):
                records.append(record)
        return records


@dataclass
class RunSummary:
    run: Run
    state: str
    model: str
    task: str
    negatives: str
    step: int
    examples: int
    best_worst: float | None
    updated: float

    @classmethod
    def of(cls, run: Run) -> "RunSummary":
        config = run.config()
        status = run.status()
        return cls(
            run=run,
            state=status.get("state", "new"),
            model=f"{config.model.model}{config.model.hidden}"
            + ("-id" if config.model.init == "identity" else ""),
            task=config.task.task,
            negatives=config.task.negatives,
            step=int(status.get("step", 0)),
            examples=int(status.get("examples", 0)),
            best_worst=status.get("best_worst"),
            updated=float(status.get("heartbeat", run.path.stat().st_mtime)),
        )


def list_runs(root: Path | None = None) -> list[RunSummary]:
    """Every readable run directly under `root`, most recently active first."""
    root = Path(root) if root is not None else default_root()
    if not root.is_dir():
        return []
    summaries = []
    for path in root.iterdir():
        if path.is_dir() and (path / CONFIG).is_file():
            try:
                summaries.append(RunSummary.of(Run(path)))
            except SeqtuiError:
                continue  # a run whose config is damaged cannot be summarised; skip it
    return sorted(summaries, key=lambda s: s.updated, reverse=True)


def new_run_path(root: Path, config: TrainConfig) -> Path:
    stamp = datetime.now().strftime("%m%d-%H%M%S")
    base = f"{config.model.model}-{config.task.task}-{config.task.negatives}-{stamp}"
    path, suffix = Path(root) / base, 1
    while path.exists():
        suffix += 1
        path = Path(root) / f"{base}-{suffix}"
    return path
