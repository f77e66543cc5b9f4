"""`seqtui train`, `trial`, `pause`, `resume`, `stop`: starting runs and asking them to change."""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path

from rich.markup import escape

from seqtui.cli.common import _open_run, console, given_settings
from seqtui.settings.config import Budget
from seqtui.settings.errors import SeqtuiError
from seqtui.settings.registry import SETTINGS
from seqtui.store.catalogue import new_run_path, resolve_run
from seqtui.store.layout import default_root, display_name
from seqtui.store.run import Run


def cmd_train(args: Namespace) -> int:
    from seqtui.cli.display_training import TrainingDisplay
    from seqtui.core.training import resolve_device
    from seqtui.session import runner
    from seqtui.settings.limits import check_training_fits
    from seqtui.settings.presets import preset_config

    given = given_settings(args)
    budget = {s.name: given.pop(s.name) for s in SETTINGS if s.budget and s.name in given}
    if args.resume is None:
        if args.restart:
            raise SeqtuiError("--restart goes with --resume RUN: it trains that run again from step 0")
        on_gpu = resolve_device(given.get("device", "auto")).type == "cuda"  # auto on a GPU box: its preset
        config = preset_config({**given, **budget}, args.preset, gpu=on_gpu)
        resolve_device(config.device)
        check_training_fits(config)  # all of this before the run directory exists
        run = Run.create(args.run_dir or new_run_path(args.root or default_root(), config), config)
        extra, settings = None, {}
    else:
        if args.preset != "default":
            raise SeqtuiError("--preset builds a new run: a resumed run keeps its own settings")
        fixed = [f"--{name}" for name in given if name not in runner.RESUMABLE_SETTINGS]
        if fixed:
            raise SeqtuiError(
                f"{', '.join(fixed)} cannot change when resuming: a resumed run keeps its settings "
                "(a budget, --device, --threads and the intervals may be given)"
            )
        run = Run.open(resolve_run(args.resume, args.root))
        extra = Budget(steps=budget.get("steps"), samples=budget.get("samples"), seconds=budget.get("time"))
        settings = given
    display = TrainingDisplay(run, console, quiet=args.quiet)
    with display:
        outcome = runner.train(
            run, extra, settings, restart=args.restart, on_event=display.update, on_start=display.start
        )
    display.summary(outcome)
    if outcome.state == "failed":
        return 1
    if outcome.stop_signal is not None:
        return 128 + outcome.stop_signal  # the shell's convention for "ended by signal N"
    return 0


def cmd_prepared(args: Namespace) -> int:
    """Load what training and measuring need, then run the command given on stdin (one JSON line:
    {"argv": [...], "log": PATH}) with its output in PATH; nothing given (stdin closed): exit 0."""
    import json
    import os
    import sys

    from seqtui.cli.main import main
    from seqtui.session import runner  # noqa: F401  (torch, the models and the trainer: the seconds saved)
    from seqtui.sweep import trial  # noqa: F401

    line = sys.stdin.readline()
    try:
        told = json.loads(line) if line.strip() else None
    except ValueError:
        told = None
    if not isinstance(told, dict) or not isinstance(told.get("argv"), list):
        _unlink(args.log)
        return 0
    try:
        fd = os.open(told["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except (OSError, TypeError, ValueError):
        pass
    else:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
    _unlink(args.log)
    return main([str(a) for a in told["argv"]])


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


# -- sweep ------------------------------------------------------------------------------------
def cmd_trial(args: Namespace) -> int:
    from seqtui.sweep.trial import run_trial

    code, line = run_trial(_open_run(args), args.eval_samples, args.beyond, args.threads)
    print(line, flush=True)
    return code


def _control(args: Namespace, want: str, verb: str) -> int:
    run = _open_run(args)
    status = run.status()
    if not status.active:
        shown = display_name(str(run.path))
        hint = f"; to train it further: seqtui train --resume {shown}" if want == "running" else ""
        raise SeqtuiError(f"run {run.shown_name} is not training (state: {status.state}){hint}")
    run.request(want)
    console.print(f"asked {escape(run.shown_name)} to {verb}")
    return 0


def cmd_pause(args: Namespace) -> int:
    return _control(args, "paused", "pause")


def cmd_resume(args: Namespace) -> int:
    return _control(args, "running", "resume")


def cmd_stop(args: Namespace) -> int:
    return _control(args, "stopped", "stop")
