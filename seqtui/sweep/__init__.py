"""sweep: many runs. A grid of trials, where they run, and the memory map they draw.

    spec       the grid: typed values per setting (models by name), the trials it makes
    manifest   sweep.json: the grid and each trial's config and state, as data
    trial      one trial in one process: train it, then measure it (heldout.json)
    executors  where trials run: this machine or a Ray cluster (an Executor protocol)
    driver     run_sweep: hands trials to an executor, records what happened, resumes, retries
    report     the memory map: accuracy by length x the swept axis, per model (report.md, .csv)
    compare    a comparison: the same thing over models with one seed, and its report
    follow     what a viewer polls to follow a sweep as it grows

A trial is an ordinary run: the app, `seqtui runs`, `eval` and `export` see it as they see any run.
"""
