"""sweep.json, a sweep's manifest: its grid and settings, and each trial's values, config and
state, kept as data. Read back checked; manifests written by earlier versions still open.

    runs/<sweep>/
      sweep.json          the manifest
      sweep.log           one line per trial started, finished or failed
      lock                held by the process driving the sweep
      <trial>/            an ordinary run directory, with heldout.json once measured
      report.md, .csv     the report (the memory map, or a comparison side by side)
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqtui.settings.errors import SeqtuiError
from seqtui.store.files import read_small_json, write_json_atomic
from seqtui.store.layout import SWEEP_MANIFEST
from seqtui.sweep.spec import TRIAL_NAME, SweepSpec, setting_value

TRIAL_STATES = ("waiting", "running", "finished", "failed")
FORMAT = 2  # values as JSON values; format 1 (or none) wrote them as display strings


# -- the manifest -----------------------------------------------------------------------------------
@dataclass
class TrialRecord:
    name: str
    values: dict[str, Any]  # the swept settings' typed values, as in Trial.values
    state: str = "waiting"
    attempts: int = 0
    failures: int = 0
    reason: str | None = None
    updated: float | None = None
    # the trial's whole config as it was when it joined the sweep: a later seqtui whose presets
    # differ continues the sweep on the same recipe
    config: dict | None = None


@dataclass
class Manifest:
    name: str
    spec: SweepSpec
    trials: dict[str, TrialRecord]
    created: float = field(default_factory=time.time)
    format: int = FORMAT  # as read: format 1 kept values as display text (6 significant digits)
    # this sweep and no other, wherever its directory is: names what it leaves on a cluster (keepers)
    key: str = field(default_factory=lambda: secrets.token_hex(8))

    def holds(self, spec: SweepSpec) -> bool:
        """Whether this is the sweep `spec` asks for. A format-1 manifest wrote values as text
        rounded to 6 digits: the same sweep given again with its exact values reads the same."""
        if self.spec.to_dict() == spec.to_dict():
            return True
        if self.format >= 2:
            return False
        rest = ("preset", "eval_samples", "beyond", "kind")
        ours, theirs = self.spec.to_dict(), spec.to_dict()
        return self.spec.shown() == spec.shown() and all(ours[k] == theirs[k] for k in rest)

    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "name": self.name,
            "created": self.created,
            "key": self.key,
            **self.spec.to_dict(),
            "trials": [vars(t) for t in self.trials.values()],
        }


def read_manifest(directory: Path) -> Manifest:
    """A sweep's manifest, checked; one SeqtuiError saying what is wrong with it otherwise."""
    directory = Path(directory)
    data = read_small_json(directory / SWEEP_MANIFEST)
    try:
        spec = SweepSpec.from_dict(directory.name, data)
    except SeqtuiError as error:
        raise SeqtuiError(f"{directory / SWEEP_MANIFEST}: {error}") from None
    trials = {}
    for item in data.get("trials", []) if isinstance(data.get("trials"), list) else []:
        if not (isinstance(item, dict) and isinstance(item.get("name"), str) and TRIAL_NAME.fullmatch(item["name"])):
            continue
        record = TrialRecord(item["name"], {})
        values = item.get("values")
        record.values = _typed(values) if isinstance(values, dict) else {}
        state = item.get("state")
        record.state = state if isinstance(state, str) and state in TRIAL_STATES else "waiting"
        for key in ("attempts", "failures"):
            value = item.get(key)
            setattr(record, key, value if isinstance(value, int) and value >= 0 else 0)
        record.reason = item["reason"] if isinstance(item.get("reason"), str) else None
        record.updated = item["updated"] if isinstance(item.get("updated"), (int, float)) else None
        record.config = item["config"] if isinstance(item.get("config"), dict) else None
        trials[record.name] = record
    created = data.get("created")
    version = data.get("format", 1)
    manifest = Manifest(
        spec.name,
        spec,
        trials,
        created if isinstance(created, (int, float)) else time.time(),
        version if isinstance(version, int) and not isinstance(version, bool) else 1,
    )
    stored = data.get("key")
    if isinstance(stored, str) and re.fullmatch(r"[0-9a-f]{16}", stored):  # else a new one (older manifests)
        manifest.key = stored
    return manifest


def _typed(values: dict) -> dict[str, Any]:
    """A trial's values as data; a value this version cannot read is left out (the trial's name
    and config still say what it was)."""
    typed = {}
    for key, value in values.items():
        try:
            typed[str(key)] = setting_value(str(key), value)
        except (SeqtuiError, TypeError, ValueError, OverflowError):
            continue
    return typed


def write_manifest(directory: Path, manifest: Manifest) -> None:
    try:
        Path(directory).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SeqtuiError(f"cannot create {directory}: {error.strerror or error}") from None
    write_json_atomic(Path(directory) / SWEEP_MANIFEST, manifest.to_dict())


def find_sweeps(root: Path) -> list[Path]:
    try:
        return sorted(p for p in Path(root).iterdir() if (p / SWEEP_MANIFEST).is_file())
    except OSError:
        return []
