"""keras_seqmem: recurrent and memory layers for Keras 3.

The public API is re-exported here; see `docs/` for one page per layer.
"""

from keras_seqmem.adaptive import ACT
from keras_seqmem.adaptive import ACTRNN
from keras_seqmem.attention import AttentiveDecoder
from keras_seqmem.attention import BahdanauAttention
from keras_seqmem.attention import BahdanauMonotonicAttention
from keras_seqmem.attention import LuongAttention
from keras_seqmem.attention import LuongMonotonicAttention
from keras_seqmem.attention import KerasAttentionAdapter
from keras_seqmem.attention import Seq2Seq
from keras_seqmem.memory import KeyValueMemory
from keras_seqmem.memory import KeyValueMemoryNetwork
from keras_seqmem.memory import LinearStart
from keras_seqmem.memory import MemN2N
from keras_seqmem.memory import NTM
from keras_seqmem.memory import NTMCell
from keras_seqmem.recurrent import CoupledLSTM
from keras_seqmem.recurrent import CoupledLSTMCell
from keras_seqmem.recurrent import LayerNormLSTM
from keras_seqmem.recurrent import LayerNormLSTMCell
from keras_seqmem.recurrent import LayerNormSimpleRNN
from keras_seqmem.recurrent import LayerNormSimpleRNNCell
from keras_seqmem.recurrent import LeakyRNN
from keras_seqmem.recurrent import LeakyRNNCell
from keras_seqmem.recurrent import PeepholeLSTM
from keras_seqmem.recurrent import PeepholeLSTMCell
from keras_seqmem.recurrent import RNN
from keras_seqmem import convert  # noqa: F401  (registers keras2_hard_sigmoid with Keras)

__version__ = "0.1.0"

__all__ = [
    "ACT",
    "ACTRNN",
    "AttentiveDecoder",
    "BahdanauAttention",
    "BahdanauMonotonicAttention",
    "CoupledLSTM",
    "CoupledLSTMCell",
    "KeyValueMemory",
    "KeyValueMemoryNetwork",
    "LayerNormLSTM",
    "LayerNormLSTMCell",
    "LayerNormSimpleRNN",
    "LayerNormSimpleRNNCell",
    "LeakyRNN",
    "LeakyRNNCell",
    "LinearStart",
    "LuongAttention",
    "LuongMonotonicAttention",
    "KerasAttentionAdapter",
    "MemN2N",
    "NTM",
    "NTMCell",
    "PeepholeLSTM",
    "PeepholeLSTMCell",
    "RNN",
    "Seq2Seq",
]
