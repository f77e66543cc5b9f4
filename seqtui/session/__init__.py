"""session: one trainer inside one run directory, and how such a trainer is started.

    runner   trains a run: prepares or resumes its Trainer, writes metrics, status and
             checkpoints, obeys pause and stop requests, and says how the run ended
    launch   starts `seqtui train` in its own process (detached, tied to its parent if asked),
             and waits until it holds its run

A trainer knows nothing of sweeps or screens; the app and sweeps start trainers through launch.
"""
