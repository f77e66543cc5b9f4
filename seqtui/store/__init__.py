"""store: run directories on disk, for the trainer that writes one and every viewer that reads it.
Imports no torch; below it there is only `seqtui.settings`.

    layout     the files of a run directory, and how runs are named
    files      the atomic writer, the safe reader of small files, the file stamp
    records    the metrics log's record schema and its tail reader
    lock       the lock that says which process may change a run
    status     status.json's schema and a run's states
    run        Run: one run directory, read totally and written under its lock
    catalogue  many runs: listing them, finding one by name, naming a new one
    history    a run's metrics as series, and the follower a viewer polls
    export     a run's metrics as CSV files

Readers are total (damage becomes a message tied to its run); writers hold the run's lock.
"""
