"""seqtui: train, watch and probe recurrent networks on digit-memory tasks from a terminal.

The packages are the floors of one house; each imports only the floors below it, and
import-linter holds that in CI (the contracts in pyproject.toml):

    cli       the `seqtui` command: the parser, each group of subcommands, the live displays
    app       the Textual app: screens, widgets, the stylesheet, `seqtui serve`
    sweep     many runs: the grid, sweep.json, one trial, executors, the driver, reports, comparisons
    session   one trainer in one run directory, and starting a trainer in its own process
    core      torch: tasks, models, Adam, the training loop, evaluation, gradients, checkpoints
    store     run directories, no torch: files, records, the lock, status, Run, the catalogue
    settings  what a run is asked to do, no torch: configs, the settings registry, presets, limits

Why this cut: the run directory is the one channel between a trainer and its viewers, so what
reads and writes it (store) sits below everything that trains (core, session) or shows (app,
cli), and needs no torch, which is what lets `seqtui`, `seqtui runs` and the app open at once.
What a run is asked to do (settings) is below even that, as config.json is written before
anything trains. A trainer knows nothing of sweeps (session below sweep), and nothing below the
app knows a screen. Each package's docstring lists its modules, one job each.
"""

__version__ = "0.1.0"
