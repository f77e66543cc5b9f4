"""core: the torch part. Tasks, models, the training loop, evaluation, gradients, checkpoints.

    tasks       the digit-memory tasks: patterns, negatives, batches
    models      the protocol every network follows (SequenceClassifier), the rnn, LSTM and GRU
    recurrences minGRU, minLSTM and the LRU: recurrences linear in h, by parallel scans
    fastrnn     the tutorial's Elman step written for speed on a CPU
    training    Trainer: a generator of typed events over a budget of work
    evaluation  accuracy by length on a held-out set, with intervals
    gradients   how much of the loss reaches each step (gradient flow)
    projection  the hidden states' principal directions (the probe's path)
    threads     how many threads a trainer uses on a shared machine
    checkpoint  weights, optimiser and random state in safetensors, checked on load

The loop knows no run directory: `seqtui.session` puts it in one. Only checkpoint reads and writes
files, through `seqtui.store`'s writer.
"""

import os

# Intel MKL (torch's BLAS on x86) splits a matrix product's sums by thread count unless asked to be
# strict; strict, a run trained on one thread or two learns the same weights, which lets the thread
# governor change the count while a run trains (tests/test_threads.py). Read at MKL's first call.
os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")
