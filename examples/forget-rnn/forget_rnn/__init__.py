"""The spec seqtui reads: light (no torch), so listing models imports nothing heavy."""

from seqtui.settings.networks import ModelSpec

SPEC = ModelSpec(
    name="forget-rnn",
    build="forget_rnn.cell:ForgetRNN",  # imported only when a model is built
    about="Elman ReLU RNN with a learned forget gate",
    gates=2,  # two affine maps of width hidden per step: the candidate and the gate
    states=("forget",),  # the gate, shown on the probe screen beside the hidden state
    like="gru",  # no preset of its own: the GRU's settings
    signed=False,  # ReLU states are never negative
)
