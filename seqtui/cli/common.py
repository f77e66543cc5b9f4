"""What the subcommands share: the console, RUN as a user gives it, the settings given as flags."""

from __future__ import annotations

import sys
from argparse import Namespace
from typing import Any

from rich.console import Console

from seqtui.settings.registry import SETTINGS
from seqtui.store.catalogue import resolve_run
from seqtui.store.run import Run

# piped (not a terminal): plain lines, never wrapped mid-phrase at an assumed width
console = Console(highlight=False, soft_wrap=not sys.stdout.isatty())


def _open_run(args: Namespace) -> Run:
    """RUN as given: a path, or a name under --root / $SEQTUI_RUNS / ./runs."""
    return Run.open(resolve_run(args.run, getattr(args, "root", None)))


# -- train ------------------------------------------------------------------------------------
def given_settings(args: Namespace) -> dict[str, Any]:
    """The settings given on the command line, by name (absent ones are not there at all)."""
    values = vars(args)
    return {s.name: values[s.name] for s in SETTINGS if s.name in values}
