"""Two identical halves: is the sequence ``w + w`` for some ``w``?

Each example is a sequence of ``length`` (even) tokens over ``num_symbols``
symbols, token ids ``1..num_symbols`` (0 is reserved for padding and never
appears). The label is 1 when the second half repeats the first half exactly.

Positives are ``w + w`` with ``w`` uniformly random. Negatives are *near
misses*: a random ``w + w`` in which ``num_differences`` distinct offsets
``k`` (default 1) are changed to a different symbol, at offset ``k`` of the
first half or of the second half (chosen at random). The Hamming distance
between the two halves of a negative is therefore exactly
``num_differences``, so the network must remember the *whole* first half
while reading the second one -- a single unremembered symbol leaves it at
chance on the negatives that differ there.

This is the "copy"/"ww" language recognition problem used to probe
recurrent memory, e.g. the ``{ww}`` language in Deletang et al., "Neural
Networks and the Chomsky Hierarchy" (ICLR 2023), which needs memory
proportional to ``length / 2``.
"""

from __future__ import annotations

import numpy as np

from .base import TaskSpec, balanced_labels, check_int, register_task

__all__ = ["SPEC", "generate", "vocab_size"]

NAME = "halves"
PAD_ID = 0


def vocab_size(num_symbols: int = 8) -> int:
    """Vocabulary size (padding id 0 included) for ``num_symbols`` symbols.

    Args:
        num_symbols: Number of distinct symbols.

    Returns:
        ``num_symbols + 1``.
    """
    return check_int(NAME, "num_symbols", num_symbols, minimum=2) + 1


def generate(
    num_examples: int,
    seed: int | None = 0,
    *,
    length: int = 20,
    num_symbols: int = 8,
    num_differences: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Generates the two-identical-halves task.

    Args:
        num_examples: Number of examples (half positives, half negatives).
        seed: Seed of ``numpy.random.default_rng``.
        length: Sequence length, even and >= 2.
        num_symbols: Number of symbols (>= 2); tokens are ``1..num_symbols``.
        num_differences: Hamming distance between the halves of negatives,
            in ``[1, length // 2]``.

    Returns:
        ``(x, y)``: ``x`` int32 ``(num_examples, length)``, ``y`` float32
        ``(num_examples, 1)`` labels.

    Raises:
        ValueError: If a parameter is invalid.
    """
    num_examples = check_int(NAME, "num_examples", num_examples, minimum=1)
    length = check_int(NAME, "length", length, minimum=2)
    if length % 2:
        raise ValueError(
            f"Task {NAME!r}: parameter `length` must be even, got {length}"
        )
    num_symbols = check_int(NAME, "num_symbols", num_symbols, minimum=2)
    half = length // 2
    num_differences = check_int(
        NAME, "num_differences", num_differences, minimum=1, maximum=half
    )

    rng = np.random.default_rng(seed)
    labels = balanced_labels(rng, num_examples)
    first = rng.integers(1, num_symbols + 1, size=(num_examples, half), dtype=np.int32)
    x = np.concatenate([first, first], axis=1)

    neg = np.nonzero(~labels)[0]
    if neg.size:
        # num_differences distinct offsets per row.
        scores = rng.random((neg.size, half), dtype=np.float32)
        if num_differences < half:
            offsets = np.argpartition(scores, num_differences - 1, axis=1)
            offsets = offsets[:, :num_differences]
        else:
            offsets = np.argsort(scores, axis=1)
        in_second = rng.random((neg.size, num_differences)) < 0.5
        columns = offsets + half * in_second
        rows = np.broadcast_to(neg[:, None], columns.shape)
        # A different symbol: shift by 1..num_symbols-1 modulo num_symbols.
        shift = rng.integers(1, num_symbols, size=columns.shape, dtype=np.int32)
        old = x[rows, columns]
        x[rows, columns] = (old - 1 + shift) % num_symbols + 1
    y = labels.astype(np.float32)[:, None]
    return x, y


SPEC = register_task(
    TaskSpec(
        name=NAME,
        kind="classification",
        input="tokens",
        baseline=0.5,
        metric_name="accuracy",
        generator=generate,
        defaults={"length": 20, "num_symbols": 8, "num_differences": 1},
        vocab_size=vocab_size(8),
        description="Is the sequence made of two identical halves?",
        vocab_size_fn=lambda num_symbols, **_: vocab_size(num_symbols),
    )
)
"""The registered :class:`TaskSpec` of this task."""
