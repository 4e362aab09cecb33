"""Bahdanau attention and the seq2seq family built on it."""

from keras_seqmem.attention.bahdanau import BahdanauAttention
from keras_seqmem.attention.beam_search import DecodeResult
from keras_seqmem.attention.beam_search import beam_search
from keras_seqmem.attention.beam_search import greedy_search
from keras_seqmem.attention.beam_search import tile_batch
from keras_seqmem.attention.decoder import AttentionMemory
from keras_seqmem.attention.decoder import AttentiveDecoder
from keras_seqmem.attention.seq2seq import CELLS
from keras_seqmem.attention.seq2seq import Seq2Seq

__all__ = [
    "AttentionMemory",
    "AttentiveDecoder",
    "BahdanauAttention",
    "CELLS",
    "Seq2Seq",
    "DecodeResult",
    "beam_search",
    "greedy_search",
    "tile_batch",
]
