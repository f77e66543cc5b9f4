"""cli: the `seqtui` command. The top floor: it may use every package below it.

    main             the parser and the dispatch to each subcommand
    common           what the subcommands share: the console, opening RUN, given settings
    training         train, trial, pause, resume, stop
    model            eval, predict, gradients, sample
    sweeps           sweep, compare
    listing          runs, export
    display_training the live line while a run trains in the terminal
    display_sweep    the live lines while a sweep runs

Commands that only read or signal run directories never import torch, so they answer at once.
"""
