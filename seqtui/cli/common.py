"""What the subcommands share: the console, RUN as a user gives it, the settings given as flags."""

from __future__ import annotations

import sys
from argparse import Namespace
from typing import Any

from rich.console import Console

from seqtui.settings.errors import ModelUnavailable
from seqtui.settings.registry import SETTINGS
from seqtui.store.catalogue import resolve_run
from seqtui.store.run import Run

# piped (not a terminal): plain lines, never wrapped mid-phrase at an assumed width
console = Console(highlight=False, soft_wrap=not sys.stdout.isatty())


def _open_run(args: Namespace) -> Run:
    """RUN as given: a path, or a name under --root / $SEQTUI_RUNS / ./runs."""
    return Run.open(resolve_run(args.run, getattr(args, "root", None)))


def _open_whole_run(args: Namespace, needs_model: bool = True) -> Run:
    """RUN as given, refused as `train --resume` refuses it when its config.json is damaged (its
    checkpoint may hold settings, but the run is not whole). A model that is not installed here
    is refused too, unless the command reads only the run's files (`needs_model=False`)."""
    run = _open_run(args)
    try:
        run.config()
    except ModelUnavailable:
        if needs_model:
            raise
    return run


# -- train ------------------------------------------------------------------------------------
def given_settings(args: Namespace) -> dict[str, Any]:
    """The settings given on the command line, by name (absent ones are not there at all)."""
    values = vars(args)
    return {s.name: values[s.name] for s in SETTINGS if s.name in values}
