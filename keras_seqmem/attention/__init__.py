"""Attention mechanisms (Bahdanau, Luong, monotonic) and the seq2seq family
built on them."""

from keras_seqmem.attention.adapters import KerasAttentionAdapter
from keras_seqmem.attention.mechanism import AttentionMechanism
from keras_seqmem.attention.bahdanau import BahdanauAttention
from keras_seqmem.attention.decoder import AttentionMemory
from keras_seqmem.attention.decoder import AttentiveDecoder
from keras_seqmem.attention.decoder import DecoderState
from keras_seqmem.attention.luong import LuongAttention
from keras_seqmem.attention.monotonic import BahdanauMonotonicAttention
from keras_seqmem.attention.monotonic import LuongMonotonicAttention
from keras_seqmem.attention.monotonic import monotonic_attention
from keras_seqmem.attention.seq2seq import ATTENTION_ORDERS
from keras_seqmem.attention.seq2seq import ATTENTIONS
from keras_seqmem.attention.seq2seq import CELLS
from keras_seqmem.decoding import DecodeResult
from keras_seqmem.decoding import tile_batch
from keras_seqmem.attention.seq2seq import Seq2Seq

__all__ = [
    "AttentionMemory",
    "AttentiveDecoder",
    "AttentionMechanism",
    "DecoderState",
    "KerasAttentionAdapter",
    "BahdanauAttention",
    "BahdanauMonotonicAttention",
    "LuongAttention",
    "LuongMonotonicAttention",
    "monotonic_attention",
    "ATTENTION_ORDERS",
    "ATTENTIONS",
    "CELLS",
    "Seq2Seq",
    "DecodeResult",
    "tile_batch",
]
