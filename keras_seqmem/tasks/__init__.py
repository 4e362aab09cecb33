"""Classic long-memory tasks, generated locally as numpy arrays / tf.data.

Ten tasks are registered in :data:`TASKS`:

* ``"brackets"`` (:mod:`.brackets`): are the brackets of a code-like string
  balanced? Binary classification over tokens; hard near-miss negatives.
* ``"halves"`` (:mod:`.halves`): is the sequence two identical halves?
  Binary classification over tokens; negatives differ at few positions.
* ``"adding"`` (:mod:`.adding`): the adding problem of Hochreiter &
  Schmidhuber (1997); regression over 2 float features, baseline MSE 1/6.
* ``"dates"`` (:mod:`.dates`): human-written dates (16 formats) -> ISO
  ``YYYY-MM-DD``; sequence to sequence, character tokens.
* ``"reversal"`` (:mod:`.reversal`): a symbol sequence -> the same symbols
  reversed; sequence to sequence.
* ``"copy"``, ``"repeat_copy"``, ``"associative_recall"``
  (:mod:`.algorithmic`): the Neural Turing Machine's tasks, below.
* ``"parity"`` (:mod:`.parity`): the parity of the +1 entries of one vector
  of -1/0/+1 (Graves 2016, Adaptive Computation Time); binary
  classification over one step of 64 features.
* ``"addition"`` (:mod:`.addition`): the cumulative sums of a sequence of
  decimal numbers as digit classes (Graves 2016, Adaptive Computation Time;
  ``kind="sequence_classes"``: ``(x, y, mask)``), scored by
  ``addition.sequence_error_rate``.

The bAbI QA reader :mod:`.babi` (not in :data:`TASKS`) reads a given folder.

The Neural Turing Machine's tasks, copy, repeat copy and associative recall,
are the specs of :mod:`.algorithmic` (``kind="sequence"``: ``(x, y, mask)``
with per-step 0/1 targets, scored by ``algorithmic.bits_per_sequence``),
registered as ``"copy"``, ``"repeat_copy"`` and ``"associative_recall"``.

Sequence-to-sequence tasks (``kind="seq2seq"``) share the ids
:data:`PAD_ID` = 0, :data:`START_ID` = 1, :data:`END_ID` = 2; their
``generate`` returns ``(source, target)`` and :func:`make_dataset` yields
``((source, decoder_inputs(target)), target)`` for teacher forcing.

Example:
    >>> from keras_seqmem.tasks import get_task, make_dataset
    >>> x, y = get_task("halves").generate(1000, seed=0, length=40)
    >>> ds = make_dataset("adding", 10000, batch_size=32, length=100)
    >>> (source, dec_in), target = next(iter(make_dataset("dates", 100)))
"""

from .base import (
    END_ID,
    PAD_ID,
    SPECIAL_TOKENS,
    START_ID,
    TASKS,
    TaskSpec,
    decode,
    decoder_inputs,
    encode,
    exact_match,
    get_task,
    make_dataset,
    register_task,
)
from . import adding, brackets, dates, halves, reversal
from . import algorithmic
from . import addition, parity
from . import babi

__all__ = [
    "TASKS",
    "TaskSpec",
    "get_task",
    "make_dataset",
    "register_task",
    "PAD_ID",
    "START_ID",
    "END_ID",
    "SPECIAL_TOKENS",
    "decoder_inputs",
    "encode",
    "decode",
    "exact_match",
    "adding",
    "addition",
    "algorithmic",
    "babi",
    "brackets",
    "dates",
    "halves",
    "parity",
    "reversal",
]
