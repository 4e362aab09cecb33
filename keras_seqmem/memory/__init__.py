"""Memory layers: key-value memory reads and the memory networks built on
them (end-to-end memory networks, key-value memory networks), and the
Neural Turing Machine with its addressing functions."""

from keras_seqmem.memory.key_value import KeyValueMemory
from keras_seqmem.memory.key_value import memory_weights
from keras_seqmem.memory.memory_network import KeyValueMemoryNetwork
from keras_seqmem.memory.memory_network import LinearStart
from keras_seqmem.memory.memory_network import MemN2N
from keras_seqmem.memory.memory_network import encode_sentences
from keras_seqmem.memory.memory_network import position_encoding
from keras_seqmem.memory.memory_network import recency
from keras_seqmem.memory.ntm import NTM
from keras_seqmem.memory.ntm import NTMCell

__all__ = [
    "KeyValueMemory",
    "KeyValueMemoryNetwork",
    "LinearStart",
    "MemN2N",
    "NTM",
    "NTMCell",
    "encode_sentences",
    "memory_weights",
    "position_encoding",
    "recency",
]
