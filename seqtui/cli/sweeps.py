"""`seqtui sweep` and `seqtui compare`: many runs, here or on Ray, and their reports."""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path
from typing import Any

from rich.markup import escape

from seqtui.cli.common import console
from seqtui.cli.display_sweep import SweepDisplay
from seqtui.settings.config import Budget
from seqtui.settings.errors import SeqtuiError
from seqtui.settings.registry import SETTINGS, SWEEP_NO_FLAG
from seqtui.store.layout import default_root, display_name


# -- compare ----------------------------------------------------------------------------------
def cmd_compare(args: Namespace) -> int:
    from seqtui.sweep.compare import compare
    from seqtui.sweep.executors import LocalExecutor, split_cores

    values = vars(args)
    settings: dict[str, Any] = {k: values[k] for k in ("task", "negatives", "n-min", "n-max", "seed") if k in values}
    budget = Budget(steps=values.get("steps"), samples=values.get("samples"), seconds=values.get("time"))
    if args.parallel < 1:
        raise SeqtuiError(f"--parallel {args.parallel}: train at least one model at a time")
    threads = None if args.parallel == 1 else split_cores(args.parallel)[1]
    md, table = compare(
        args.root or default_root(),
        settings,
        budget,
        [name.strip() for name in args.models.split(",") if name.strip()],
        LocalExecutor(args.parallel, threads),
        threads,
        args.eval_samples,
        report=console.print,
        stamp=args.name,
    )
    console.print(md.read_text())
    console.print(f"wrote {md} and {table}")
    return 0


def _sweep_directory(text: str, root) -> Path:
    from seqtui.store.layout import SWEEP_MANIFEST

    for candidate in (Path(text), Path(root) / text):
        if (candidate / SWEEP_MANIFEST).is_file():
            return candidate
    raise SeqtuiError(f"no sweep named {display_name(text)!r} under {root} (seqtui runs lists its trials)")


def cmd_sweep(args: Namespace) -> int:
    from datetime import datetime

    from seqtui.store.layout import SWEEP_MANIFEST
    from seqtui.sweep.compare import report_writer
    from seqtui.sweep.driver import RETRIES, run_sweep
    from seqtui.sweep.executors import Executor, LocalExecutor, RayExecutor, split_cores
    from seqtui.sweep.manifest import read_manifest
    from seqtui.sweep.spec import EVAL_SAMPLES, SweepSpec, check_name, read_sweep_file, sweep_dir

    root = args.root or default_root()
    words = list(args.words)
    if words[:1] == ["report"]:
        if len(words) != 2:
            raise SeqtuiError("seqtui sweep report NAME: one sweep's name (or its directory)")
        directory = _sweep_directory(words[1], root)
        written = report_writer(read_manifest(directory).spec.kind)(directory)
        if written is None:
            raise SeqtuiError(f"comparison {directory.name} is not finished: each model is trained and measured first")
        md, table = written
        console.print(md.read_text(), markup=False)
        console.print(f"wrote {md} and {table}")
        return 0
    if len(words) > 1:
        raise SeqtuiError(f"seqtui sweep takes one sweep file, got {len(words)} words (or: seqtui sweep report NAME)")
    given, top = read_sweep_file(words[0]) if words else ({}, {})
    values = vars(args)  # each swept flag is a list of typed values (a comma list read by the parser)
    flags = ["model"] + [s.name for s in SETTINGS if s.name not in SWEEP_NO_FLAG]
    given.update({name: values[name] for name in flags if name in values})
    name = args.name or top.get("name") or f"sweep-{datetime.now().strftime('%m%d-%H%M%S')}"
    seeds = args.seeds if args.seeds is not None else top.get("seeds")
    if seeds is not None and (not isinstance(seeds, int) or isinstance(seeds, bool)):
        raise SeqtuiError(f"seeds: a whole number, got {seeds!r}")
    eval_samples = args.eval_samples or top.get("eval_samples") or EVAL_SAMPLES
    if not isinstance(eval_samples, int) or isinstance(eval_samples, bool):
        from seqtui.settings.units import parse_count

        try:
            eval_samples = parse_count(str(eval_samples))
        except SeqtuiError as error:
            raise SeqtuiError(f"eval_samples: {error}") from None
    if eval_samples < 1:
        raise SeqtuiError(f"eval_samples {eval_samples}: at least one example")
    directory = sweep_dir(root, check_name(str(name)))
    continuing = not given and seeds is None and (directory / SWEEP_MANIFEST).is_file()
    if continuing:
        spec = read_manifest(directory).spec
    elif not given and seeds is None:
        raise SeqtuiError(
            "nothing to sweep: give settings (--model rnn,lstm --hidden 16,64 --seeds 3), a sweep file, "
            "or --name of a sweep to continue"
        )
    else:
        spec = SweepSpec.build(
            str(name),
            given,
            seeds=seeds,
            preset=args.preset or top.get("preset") or "default",
            eval_samples=eval_samples,
        )
    from seqtui.settings.presets import preset_device as device_of

    # the tutorial's batches of one: the CPU, unless the sweep gives or sweeps a batch size
    preset_device = None if "batch-size" in spec.grid else device_of(spec.preset, spec.settings)
    if "device" not in spec.settings and preset_device is None and not continuing:
        from seqtui.core.training import resolve_device  # on a GPU box "auto" means the GPU: its presets,

        if resolve_device("auto").type == "cuda":  # one trial at a time, a GPU per Ray task
            spec.settings["device"] = "cuda"
    device = str(spec.settings.get("device", preset_device or "cpu"))
    parallel, threads = split_cores(args.parallel, device)
    threads = args.threads or threads
    executor: Executor
    if args.ray is not None:
        gpus = args.gpus_per_trial if args.gpus_per_trial is not None else (1.0 if device.startswith("cuda") else 0.0)
        if gpus < 0:
            raise SeqtuiError(f"--gpus-per-trial {gpus:g}: not a share of a GPU")
        spec.trials()  # a bad value is refused before Ray starts
        executor = RayExecutor(
            None if args.ray == "local" else args.ray,
            threads,
            gpus,
            shared_disk=args.ray_shared_disk,
            root=root,
            workroot=args.ray_workdir,
        )
        console.print(f"Ray: {executor.disk}", markup=False, highlight=False)
    else:
        if args.gpus_per_trial is not None:
            raise SeqtuiError("--gpus-per-trial goes with --ray (here, --parallel N trials share the GPU)")
        if args.ray_shared_disk is not None or args.ray_workdir is not None:
            flag = "--ray-workdir" if args.ray_shared_disk is None else "--[no-]ray-shared-disk"
            raise SeqtuiError(f"{flag} goes with --ray: here, trials train in their run directories")
        executor = LocalExecutor(parallel, threads)  # trials inherit this process's niceness (--nice)
    display = SweepDisplay(console, "queued or starting" if args.ray is not None else "starting")
    try:
        with display:
            state = run_sweep(
                spec,
                root,
                executor,
                threads,
                args.retry_failed,
                on_change=display.change,
                tick=display.tick,
                resume_only=continuing,
                report=report_writer(spec.kind),
            )
    except KeyboardInterrupt:
        console.print(
            f"sweep {spec.name} interrupted: the running trials stopped with a checkpoint; "
            f"`seqtui sweep --name {spec.name}` continues it"
        )
        return 130
    failed = [t for t in state.manifest.trials.values() if t.state == "failed"]
    report = state.directory / "report.md"
    console.print(display.summary(state))
    if report.exists():
        console.print(f"report: {report} (and report.csv)")
    if failed:
        for record in failed:
            console.print(f"failed: {record.name}: {escape(record.reason or '')}")
        again = [r for r in failed if r.failures <= RETRIES]
        if again:
            console.print(f"`seqtui sweep --name {spec.name}` tries {len(again)} of them once more")
        if len(again) < len(failed):
            console.print(f"`seqtui sweep --name {spec.name} --retry-failed` tries the ones that failed twice")
        return 1
    return 0
