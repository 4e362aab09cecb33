"""Sequence reversal: output the input symbols in reverse order.

A sequence-to-sequence task (``kind="seq2seq"``, see :mod:`.base`), the
classic probe of encoder-decoder memory (Sutskever, Vinyals & Le, "Sequence
to Sequence Learning with Neural Networks", NeurIPS 2014, reversed the
source to shorten dependencies; Graves et al.'s copy tasks are its cousins).

* Source: ``L`` symbols drawn independently and uniformly from
  ``num_symbols`` symbols, with ``L`` uniform in ``[min_length,
  max_length]``, right-padded with 0 to width ``max_length``. To use a single
  length, set ``min_length == max_length``.
* Target: the same ``L`` symbols in reverse order, then ``END_ID``, padded to
  width ``max_length + 1``.

Source and target share one vocabulary: the special tokens (ids 0..2) then
the first ``num_symbols`` characters of :data:`ALPHABET` (``a..z``,
``A..Z``, ``0..9``; ids ``3..num_symbols + 2``), so :func:`~.base.decode`
renders a sequence as a plain string (``"abc"`` -> ``"cba"``). Hence
``num_symbols`` is at most 62.
"""

from __future__ import annotations

import string

import numpy as np

from .base import END_ID, SPECIAL_TOKENS, TaskSpec, check_int, register_task

__all__ = ["SPEC", "ALPHABET", "generate", "vocabulary", "lengths"]

NAME = "reversal"
ALPHABET = string.ascii_lowercase + string.ascii_uppercase + string.digits
"""The symbols, in id order (``"a"`` is id 3)."""


def vocabulary(num_symbols: int = 20) -> tuple[str, ...]:
    """Vocabulary (source and target) for ``num_symbols`` symbols.

    Args:
        num_symbols: Number of symbols, 2..62.

    Returns:
        ``SPECIAL_TOKENS`` followed by the first ``num_symbols`` characters
        of :data:`ALPHABET`.

    Raises:
        ValueError: If ``num_symbols`` is invalid.
    """
    num_symbols = check_int(NAME, "num_symbols", num_symbols, 2, len(ALPHABET))
    return SPECIAL_TOKENS + tuple(ALPHABET[:num_symbols])


def _check_lengths(min_length, max_length) -> tuple[int, int]:
    min_length = check_int(NAME, "min_length", min_length, minimum=1)
    max_length = check_int(NAME, "max_length", max_length, minimum=min_length)
    return min_length, max_length


def lengths(
    min_length: int = 1, max_length: int = 20, num_symbols: int = 20
) -> tuple[int, int]:
    """Static widths ``(S, T)`` of ``source`` and ``target``.

    Args:
        min_length: Shortest sequence, see :func:`generate`.
        max_length: Longest sequence, see :func:`generate`.
        num_symbols: Number of symbols, see :func:`generate`.

    Returns:
        ``(max_length, max_length + 1)``.

    Raises:
        ValueError: If a parameter is invalid.
    """
    vocabulary(num_symbols)
    _, max_length = _check_lengths(min_length, max_length)
    return max_length, max_length + 1


def generate(
    num_examples: int,
    seed: int | None = 0,
    *,
    min_length: int = 1,
    max_length: int = 20,
    num_symbols: int = 20,
) -> tuple[np.ndarray, np.ndarray]:
    """Generates the sequence-reversal task.

    Args:
        num_examples: Number of examples.
        seed: Seed of ``numpy.random.default_rng``.
        min_length: Shortest sequence, >= 1.
        max_length: Longest sequence, >= ``min_length``.
        num_symbols: Number of symbols, 2..62 (ids ``3..num_symbols + 2``).

    Returns:
        ``(source, target)``: ``source`` int32 ``(num_examples,
        max_length)``, right-padded with 0; ``target`` int32
        ``(num_examples, max_length + 1)``: the source symbols reversed, one
        ``END_ID``, then padding.

    Raises:
        ValueError: If a parameter is invalid.
    """
    num_examples = check_int(NAME, "num_examples", num_examples, minimum=1)
    num_symbols = len(vocabulary(num_symbols)) - len(SPECIAL_TOKENS)
    min_length, max_length = _check_lengths(min_length, max_length)

    rng = np.random.default_rng(seed)
    length = rng.integers(min_length, max_length + 1, size=num_examples)
    symbols = rng.integers(
        len(SPECIAL_TOKENS), len(SPECIAL_TOKENS) + num_symbols,
        size=(num_examples, max_length),
    ).astype(np.int32)
    positions = np.arange(max_length)[None, :]
    inside = positions < length[:, None]
    source = np.where(inside, symbols, 0).astype(np.int32)

    # target[i, j] = source[i, L_i - 1 - j] for j < L_i.
    reverse = np.clip(length[:, None] - 1 - positions, 0, max_length - 1)
    body = np.take_along_axis(source, reverse, axis=1)
    target = np.zeros((num_examples, max_length + 1), dtype=np.int32)
    target[:, :max_length] = np.where(inside, body, 0)
    target[np.arange(num_examples), length] = END_ID
    return source, target


SPEC = register_task(
    TaskSpec(
        name=NAME,
        kind="seq2seq",
        input="tokens",
        baseline=0.0,
        metric_name="exact_match",
        generator=generate,
        defaults={"min_length": 1, "max_length": 20, "num_symbols": 20},
        description="Output the input symbols in reverse order.",
        source_vocabulary_fn=lambda num_symbols, **_: vocabulary(num_symbols),
        target_vocabulary_fn=lambda num_symbols, **_: vocabulary(num_symbols),
        lengths_fn=lengths,
    )
)
"""The registered :class:`TaskSpec` of this task."""
