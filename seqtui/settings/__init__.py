"""settings: what a run is asked to do, as plain data. Imports no torch and nothing of seqtui above it.

    errors     SeqtuiError: the one exception whose message a user is shown
    values     the names and ranges every setting is checked against
    units      numbers as people write them (20k, 1.5M, 90s) and back
    networks   every model by name: ModelSpec, the built-in ones and installed packages' (entry points)
    config     TaskConfig, ModelConfig, Budget, TrainConfig: immutable, checked when built
    registry   SETTINGS: each setting once (its flag, its form label, how its text is read)
    presets    the recipe each model trains with unless told otherwise (its ModelSpec's preset)
    limits     how much memory training, evaluation and a gradient probe need, and what is free

Every layer above reads its settings from here, so the command line, the app's form and a sweep's
grid are three views of the same typed values.
"""
