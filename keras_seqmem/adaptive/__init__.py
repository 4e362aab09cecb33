"""Adaptive computation: `ACT`, the Adaptive Computation Time wrapper of any
Keras RNN cell (Graves 2016), and `ACTRNN`, its sequence layer with the
ponder cost and ponder counts."""

from keras_seqmem.adaptive.act import ACT
from keras_seqmem.adaptive.act import ACTRNN

__all__ = ["ACT", "ACTRNN"]
