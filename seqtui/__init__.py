"""seqtui: train, watch and probe recurrent networks on digit-memory tasks from a terminal."""

__version__ = "0.1.0"
