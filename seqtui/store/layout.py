"""A run directory's files, and how runs are named: the contract between a trainer, its viewers
and other tools.

    runs/<name>/
      config.json              the run's settings (TrainConfig as JSON); the budget is the total
      metrics.jsonl            one JSON object per line, each with "kind" and "step"
      checkpoint.safetensors   the latest checkpoint (replaced atomically)
      status.json              state, pid, host, heartbeat, step, examples, message
      control.json             what another process wants: {"want": "running"|"paused"|"stopped"}
      lock                     held (flock) by the one process that may change the run
      train.log                output of a trainer started in the background, if one was
      heldout.json             what a sweep's trial reached on fresh examples (seqtui.sweep.trial)

A sweep keeps its trials one level down, `runs/<sweep>/<trial>/`, beside its manifest
(`sweep.json`); such a run's name is `<sweep>/<trial>`, and it is listed and found like any other.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

CONFIG = "config.json"


METRICS = "metrics.jsonl"


CHECKPOINT = "checkpoint.safetensors"


STATUS = "status.json"


CONTROL = "control.json"


LOCK = "lock"


LOG = "train.log"  # the output of a trainer started in the background (by the app)


HELDOUT = "heldout.json"  # a sweep trial's measurement after training


SWEEP_MANIFEST = "sweep.json"  # marks a directory of trials (seqtui.sweep.manifest)


OWN_FILES = (CONFIG, METRICS, CHECKPOINT, STATUS, CONTROL, HELDOUT)


_TEMPORARY = re.compile(r"\.(.+)\.(\d+)\.tmp")


_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def default_root() -> Path:
    return Path(os.environ.get("SEQTUI_RUNS", "runs"))


def display_name(name: str) -> str:
    """A name safe to print: control characters (escape sequences) shown as '?'."""
    return _CONTROL_CHARACTERS.sub("?", name)


def distinct_names(names: list[str], width: int) -> list[str]:
    """`names` shortened to at most `width` characters each by what they share: a common leading
    part (whole words between '-' and '/') goes first, then the middle of what is left, so the ends
    that tell runs apart (the model at the start, the time at the end) stay."""
    if all(len(n) <= width for n in names):
        return list(names)
    words = [re.split(r"(?<=[-/])", n) for n in names]
    common = 0
    if len(names) > 1:
        while all(len(w) > common + 1 and w[common] == words[0][common] for w in words):
            common += 1
    out = []
    for w in words:
        rest = ("…" if common else "") + "".join(w[common:])
        if len(rest) > width:
            head = max(1, (width - 1) // 2)
            rest = rest[:head] + "…" + rest[len(rest) - (width - 1 - head) :]
        out.append(rest)
    return out


RUN_FILES = (CONFIG, STATUS, CHECKPOINT, METRICS)  # a directory holding any of these is (or was) a run
