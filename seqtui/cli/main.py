"""The `seqtui` command: argument checking, the subcommands, exit codes.

Every user error ends as one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from seqtui.settings.errors import SeqtuiError

if TYPE_CHECKING:
    from seqtui.settings.registry import Setting

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not a usage dump
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _positive_int(text: str) -> int:
    from seqtui.settings.units import parse_count

    try:
        value = parse_count(text)
    except SeqtuiError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _at_most(high: int, what: str) -> Callable[[str], int]:
    """argparse's type= for a positive count no larger than `high` (what the machine can do in a
    sitting: a larger one is a slip that would run for days with nothing to show)."""

    def read(text: str) -> int:
        value = _positive_int(text)
        if value > high:
            raise argparse.ArgumentTypeError(f"at most {high:,} {what}, got {value:,}")
        return value

    read.__name__ = "count"
    return read


EXAMPLES = _at_most(10**8, "examples")  # an evaluation of 10^8 takes minutes here; 10^15 would never end
SEEDS = _at_most(1_000, "seeds")
TRIALS = _at_most(1_024, "trials at once")


def _nice(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 0 <= value <= 19:
        raise argparse.ArgumentTypeError(f"must be between 0 and 19, got {value}")
    return value


def _axis_reader(name: str):
    """argparse's type= for a sweep's setting: a comma list of its values, each read and typed."""

    def read(text: str) -> list:
        from seqtui.sweep.spec import setting_value

        items = [item.strip() for item in text.split(",")]
        if not any(items):
            raise argparse.ArgumentTypeError("no value given")
        try:
            return [setting_value(name, item) for item in items if item or name != "model"]
        except SeqtuiError as error:
            raise argparse.ArgumentTypeError(str(error).removeprefix(f"{name}: ")) from None

    return read


def _typed(setting: Setting) -> dict[str, Any]:
    """How argparse takes a setting: one of its words, or a value read its own way."""
    return {"choices": setting.choices} if setting.choices else {"type": _reader(setting)}


def _reader(setting: Setting) -> Callable[[str], Any]:
    """argparse's type= for a setting: its own reading, its message on failure."""

    def read(text: str):
        if not text.strip():  # `--samples ''`: a slip, never "no limit" (that is `off`)
            off = f" or {setting.off}" if setting.off else ""
            raise argparse.ArgumentTypeError(f"empty: give a value{off}")
        try:
            return setting.read(text)
        except SeqtuiError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    read.__name__ = setting.name
    return read


def _run_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="RUN", help="a run directory, or a run's name under the runs root")
    parser.add_argument(
        "--root", type=Path, help="runs root where RUN names are looked up (default ./runs or $SEQTUI_RUNS)"
    )


def _task_arguments(parser: argparse.ArgumentParser, defaults: bool) -> None:
    from seqtui.settings.config import TaskConfig
    from seqtui.settings.registry import SETTING

    for name in ("task", "negatives", "n-min", "n-max"):
        setting = SETTING[name]
        default = getattr(TaskConfig(), setting.path[-1]) if defaults else argparse.SUPPRESS
        parser.add_argument(
            setting.flag,
            dest=name,
            default=default,
            help=setting.help,
            **_typed(setting),
        )


def build_parser() -> argparse.ArgumentParser:
    from seqtui.settings.registry import SETTING, SETTINGS, SWEEP_NO_FLAG
    from seqtui.settings.values import NEGATIVES
    from seqtui.sweep.spec import BEYOND, CLASSIC, EVAL_SAMPLES

    parser = _Parser(
        prog="seqtui",
        description="Train, watch and probe recurrent networks on digit-memory tasks. "
        "With no command: the terminal app.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("--root", type=Path, help="with no command: the runs root the app shows")
    parser.add_argument(
        "--read-only",
        action="store_true",
        help="with no command: look and probe only; nothing starts, stops, continues or deletes a run",
    )
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    train = sub.add_parser(
        "train",
        help="train a model in a run directory (headless)",
        description="Train a model. With no settings: the default preset (an LSTM, budget in examples); the "
        "defaults shown are that preset's, and --model rnn/gru or --preset tutorial start from their own. "
        "With --resume: continue a run from its checkpoint (or start it, if it never trained); budget flags "
        "then extend it by that much.",
    )
    from seqtui.settings.presets import PRESETS, preset_config

    preset = preset_config({})
    for setting in SETTINGS:
        value = preset.value(setting.name)
        shown = setting.blank or setting.show(value) if value is None else setting.show(value)
        train.add_argument(
            setting.flag,
            dest=setting.name,
            default=argparse.SUPPRESS,
            **_typed(setting),
            help=setting.help if "default" in setting.help else f"{setting.help} (default: {shown or 'none'})",
        )

    train.add_argument(
        "--preset",
        choices=list(PRESETS),
        default="default",
        help="the settings to start from: default (per model), or the tutorial's recipe exactly",
    )
    where = train.add_mutually_exclusive_group()
    where.add_argument("--run-dir", type=Path, help="the new run's directory (default: a new one under the runs root)")
    where.add_argument("--resume", metavar="RUN", help="continue RUN (a path or a name under the runs root)")
    train.add_argument(
        "--restart",
        action="store_true",
        help="with --resume: train RUN again from step 0 with its settings (its checkpoint and metrics are replaced)",
    )
    train.add_argument("--root", type=Path, help="runs root (default ./runs or $SEQTUI_RUNS)")
    train.add_argument("--quiet", action="store_true", help="no progress display")
    train.add_argument(
        "--nice",
        type=_nice,
        default=0,
        help="lower the trainer's CPU priority by this much (the app uses 5, so it stays responsive)",
    )

    evaluate = sub.add_parser("eval", help="accuracy by length of a run's latest checkpoint")
    _run_argument(evaluate)
    evaluate.add_argument("--samples", type=EXAMPLES, default=100_000)
    evaluate.add_argument("--force", action="store_true", help="evaluate even what would take more than a day here")
    evaluate.add_argument("--negatives", choices=NEGATIVES, help="default: the run's own")
    evaluate.add_argument("--max-len", type=int, help="longest sequence length to test (may exceed the training range)")
    evaluate.add_argument("--seed", type=int, default=12345)
    evaluate.add_argument("--device", default="auto")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")

    predict = sub.add_parser("predict", help="the model's verdict on sequences")
    _run_argument(predict)
    predict.add_argument(
        "sequences",
        nargs="*",
        metavar="SEQ",
        help="'1 4 2 1 4 2', '1,4,2,1,4,2' or '142142'; none: one per line on stdin",
    )
    predict.add_argument("--device", default="cpu")
    predict.add_argument("--json", action="store_true", help="one JSON object per line")

    gradients = sub.add_parser("gradients", help="gradient flow through time: |dL/dh_t| for every step t")
    _run_argument(gradients)
    gradients.add_argument(
        "--samples", type=_positive_int, default=256, help="probe examples per length (bounded by memory: checked)"
    )
    gradients.add_argument("--device", default="cpu")
    gradients.add_argument("--json", action="store_true", help="print one JSON object")

    compare = sub.add_parser("compare", help="train several models on the same task, seed, data and budget; report")
    _task_arguments(compare, defaults=False)
    compare.add_argument(
        "--models",
        default=",".join(CLASSIC),
        help="comma-separated models or variants (seqtui models lists them; irnn: the rnn identity-initialised "
        "and clipped); default: rnn,irnn,lstm,gru",
    )
    for name, text in (
        ("steps", "budget per model: optimiser steps"),
        ("samples", "budget per model: training examples (default: the preset's)"),
        ("time", "budget per model: a cap on seconds of training"),
        ("seed", "seed of every model's weights and data"),
    ):
        compare.add_argument(
            SETTING[name].flag, dest=name, type=_reader(SETTING[name]), default=argparse.SUPPRESS, help=text
        )
    compare.add_argument("--eval-samples", type=EXAMPLES, default=EVAL_SAMPLES, help="examples per evaluation")
    compare.add_argument("--root", type=Path, help="runs root (default ./runs or $SEQTUI_RUNS)")
    compare.add_argument("--nice", type=_nice, default=0, help="lower the CPU priority by this much")
    compare.add_argument(
        "--parallel",
        type=TRIALS,
        default=1,
        help="models trained at once, each in its own process with its share of the cores "
        "(default 1: one after another, each with the whole machine)",
    )
    compare.add_argument(
        "--name", help="the comparison is the sweep cmp-NAME, its runs cmp-NAME/<model> (default: MMDD-HHMMSS)"
    )

    sweep = sub.add_parser(
        "sweep",
        help="a grid of trials over settings, here or on Ray; `sweep report NAME`: the memory map",
        description="Train a grid of trials, each an ordinary run under ROOT/NAME/, then write the memory map "
        "(ROOT/NAME/report.md, .csv). A comma list sweeps a setting (--model rnn,irnn,lstm,gru --hidden 16,32); "
        "one value fixes it. `seqtui sweep --name NAME` (or the same command with the same --name) continues "
        "a sweep: finished trials are kept, interrupted ones resumed, a failed one retried once.",
    )
    sweep.add_argument(
        "words",
        nargs="*",
        metavar="FILE | report NAME",
        help="a sweep file (TOML or JSON: [grid], [settings], name, seeds); or `report NAME` to write a sweep's report",
    )
    sweep.add_argument(
        "--model",
        dest="model",
        type=_axis_reader("model"),
        default=argparse.SUPPRESS,
        help="models or variants, comma-separated (seqtui models lists them; irnn: the rnn identity-initialised)",
    )
    for setting in SETTINGS:
        if setting.name in SWEEP_NO_FLAG:
            continue
        sweep.add_argument(
            setting.flag,
            dest=setting.name,
            type=_axis_reader(setting.name),
            default=argparse.SUPPRESS,
            help=f"{setting.help} (a comma list sweeps it)",
        )
    sweep.add_argument("--seeds", type=SEEDS, help="sweep the seed over 0..K-1")
    sweep.add_argument("--preset", choices=list(PRESETS), default=None, help="the settings each trial starts from")
    sweep.add_argument("--name", help="the sweep's name (default: sweep-MMDD-HHMMSS)")
    sweep.add_argument("--root", type=Path, help="runs root (default ./runs or $SEQTUI_RUNS)")
    sweep.add_argument("--eval-samples", type=EXAMPLES, default=None, help="fresh examples per trial measurement")
    sweep.add_argument("--parallel", type=TRIALS, help="trials at once on this machine (default: one per core)")
    sweep.add_argument(
        "--ray",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="run trials as Ray tasks: alone, a local Ray instance; `auto` or an address joins a cluster",
    )
    sweep.add_argument("--gpus-per-trial", type=float, default=None, help="with --ray and a CUDA device (default 1)")
    sweep.add_argument(
        "--ray-shared-disk",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="with --ray: whether every node sees --root as this machine does (default: each node is asked); "
        "without, each trial trains on its node and its run comes back here",
    )
    sweep.add_argument(
        "--ray-workdir",
        metavar="DIR",
        help="with --ray and no shared disk: where on each node trials train (default: its temporary directory)",
    )
    sweep.add_argument(
        "--threads", type=_at_most(1024, "threads"), help="CPU threads per trial (default: the cores shared out)"
    )
    sweep.add_argument("--retry-failed", action="store_true", help="try again trials that failed twice already")
    sweep.add_argument("--nice", type=_nice, default=0, help="lower the trials' CPU priority by this much")

    prepared = sub.add_parser(
        "prepared",
        help="(used by the app and sweeps) load torch now, then run the command read from stdin",
        description="Load torch and the trainer, then read one JSON line on stdin, "
        '{"argv": [COMMAND, ...], "log": PATH}, and run that seqtui command with its output appended to PATH '
        "(this process's own output until then goes to LOG, which is then removed). Stdin closed first: exit 0.",
    )
    prepared.add_argument("log", type=Path, metavar="LOG")
    prepared.add_argument("--nice", type=_nice, default=0)

    trial = sub.add_parser("trial", help="train one trial of a sweep to its budget, then measure it (heldout.json)")
    _run_argument(trial)
    trial.add_argument("--eval-samples", type=EXAMPLES, default=EVAL_SAMPLES)
    trial.add_argument("--beyond", type=int, default=BEYOND, help="pattern lengths past training also measured")
    trial.add_argument("--threads", type=_at_most(1024, "threads"))
    trial.add_argument("--nice", type=_nice, default=0)

    serve = sub.add_parser(
        "serve",
        help="the app in a browser (textual-serve); read-only unless --writable",
        description="Serve the app to a browser. Binds 127.0.0.1: from a laptop, forward the port over SSH "
        "(ssh -L 8000:localhost:8000 HOST) and open http://localhost:8000. Read-only unless --writable.",
    )
    serve.add_argument("--root", type=Path, help="runs root (default ./runs or $SEQTUI_RUNS)")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)"
    )
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--public-url", help="the address the browser uses, when it is not http://HOST:PORT (a proxy, another port)"
    )
    serve.add_argument(
        "--writable", action="store_true", help="let the browser start, stop, continue and delete runs too"
    )

    export = sub.add_parser("export", help="write a run's metrics and evaluations as CSV")
    _run_argument(export)
    export.add_argument("--out", type=Path, help="directory for train.csv and evals.csv (default RUN/export)")

    sample = sub.add_parser("sample", help="print example sequences with their labels")
    _task_arguments(sample, defaults=True)
    sample.add_argument("-n", "--count", type=_at_most(10**9, "sequences"), default=10)
    sample.add_argument("--seed", type=int, help="default: a fresh random draw")
    sample.add_argument("--json", action="store_true", help="one JSON object per line")

    models = sub.add_parser(
        "models", help="the models a run can name: built in, and from installed packages (entry points)"
    )
    models.add_argument("--json", action="store_true", help="one JSON object per line")

    runs = sub.add_parser("runs", help="list the runs under the runs root (a sweep as one line)")
    runs.add_argument("sweep", nargs="?", help="list this sweep's trials instead")
    runs.add_argument("--root", type=Path)
    runs.add_argument("--json", action="store_true")

    open_run = sub.add_parser("open", help="open the app attached to a run (running or finished)")
    _run_argument(open_run)

    for name, text in (
        ("pause", "pause a training run"),
        ("resume", "resume a paused run"),
        ("stop", "stop a training run (it saves a checkpoint)"),
    ):
        control = sub.add_parser(name, help=text)
        _run_argument(control)
    return parser


# each subcommand's module, imported only when it runs (the light ones never import torch)
COMMANDS = {
    "train": "training",
    "trial": "training",
    "prepared": "training",
    "pause": "training",
    "resume": "training",
    "stop": "training",
    "eval": "model",
    "predict": "model",
    "gradients": "model",
    "sample": "model",
    "sweep": "sweeps",
    "compare": "sweeps",
    "runs": "listing",
    "models": "listing",
    "export": "listing",
}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from seqtui import __version__

        print(f"seqtui {__version__}")
        return 0
    try:
        if args.command in (None, "open"):
            return run_app(args)
        if args.command == "serve":
            from seqtui.app.serve import serve

            return serve(args)
        if getattr(args, "nice", 0):
            os.nice(args.nice)  # before torch starts its threads, which inherit it
        module = importlib.import_module(f"seqtui.cli.{COMMANDS[args.command]}")
        return getattr(module, f"cmd_{args.command}")(args)
    except SeqtuiError as error:
        print(f"seqtui: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("seqtui: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `seqtui sample -n 1000 | head`
        sys.stderr.close()
        return 0


def run_app(args: argparse.Namespace) -> int:
    from seqtui.store.catalogue import resolve_run
    from seqtui.store.layout import default_root
    from seqtui.store.run import Run

    run = None
    if args.command == "open":
        opened = Run.open(resolve_run(args.run, args.root))
        problem = opened.config_problem()
        if problem:
            raise SeqtuiError(f"run {opened.shown_name} cannot be opened: {problem}")
        run = opened.path
    root = args.root or (run.parent if run is not None else default_root())
    from seqtui.app import make_app

    app = make_app(root, run, read_only=args.read_only)
    app.run()
    if app.return_code:
        return app.return_code
    return 0


def entry() -> None:
    sys.exit(main())
