"""Parity, the first task of Adaptive Computation Time (Graves, 2016,
"Adaptive Computation Time for Recurrent Neural Networks", section 3.1).

Each example is a single input step -- ``x`` float32 of shape ``(n, 1,
size)`` (sequence length 1, default ``size`` 64):

* ``k`` entries, ``k`` uniform in ``[min_nonzero, max_nonzero]`` (default
  ``[1, size]``), at ``k`` distinct positions chosen uniformly at random, are
  set to +1 or -1, each sign with probability 1/2;
* the other ``size - k`` entries are 0;
* target: 1 if the number of +1 entries is odd, else 0 ("1 if there was an
  odd number of ones"), float32 of shape ``(n, 1)`` as in the other binary
  classification tasks.

With one input step, a recurrent network can only solve the task by
pondering -- taking several internal steps for the one input -- and the
number of steps it needs should grow with the number of non-zero entries,
which :func:`count_nonzero` returns per example (the difficulty axis of
Graves's ponder plots).

Baseline: for every ``k >= 1`` the parity of the +1 count is a fair coin, so
the labels are balanced in expectation and guessing scores accuracy 0.5.
"""

from __future__ import annotations

import numpy as np

from .base import TaskSpec, check_int, register_task

__all__ = ["SPEC", "NUM_FEATURES", "generate", "count_nonzero"]

NAME = "parity"
NUM_FEATURES = 64
"""Input size with the default parameters (``size=64``)."""


def generate(
    num_examples: int,
    seed: int | None = 0,
    *,
    size: int = NUM_FEATURES,
    min_nonzero: int = 1,
    max_nonzero: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Generates the parity task.

    Args:
        num_examples: Number of examples.
        seed: Seed of ``numpy.random.default_rng``.
        size: Size of the input vector, >= 1.
        min_nonzero: Smallest number of non-zero entries, in ``[1, size]``.
        max_nonzero: Largest number of non-zero entries, in
            ``[min_nonzero, size]``; ``None`` means ``size``.

    Returns:
        ``(x, y)``: ``x`` float32 ``(num_examples, 1, size)`` with entries in
        ``{-1, 0, +1}``, ``y`` float32 ``(num_examples, 1)``: 1 where the
        number of +1 entries is odd, 0 otherwise.

    Raises:
        ValueError: If a parameter is invalid.
    """
    num_examples = check_int(NAME, "num_examples", num_examples, minimum=1)
    size = check_int(NAME, "size", size, minimum=1)
    min_nonzero = check_int(NAME, "min_nonzero", min_nonzero, minimum=1,
                            maximum=size)
    if max_nonzero is None:
        max_nonzero = size
    max_nonzero = check_int(NAME, "max_nonzero", max_nonzero,
                            minimum=min_nonzero, maximum=size)

    rng = np.random.default_rng(seed)
    counts = rng.integers(min_nonzero, max_nonzero + 1, size=num_examples)
    # k distinct uniform positions per row: the k smallest of random scores.
    scores = rng.random((num_examples, size))
    ranks = np.argsort(np.argsort(scores, axis=1), axis=1)
    nonzero = ranks < counts[:, None]
    positive = rng.random((num_examples, size)) < 0.5
    values = np.where(positive, 1.0, -1.0).astype(np.float32)
    x = np.where(nonzero, values, np.float32(0.0))[:, None, :]
    ones = np.sum(nonzero & positive, axis=1)
    y = (ones % 2).astype(np.float32)[:, None]
    return x.astype(np.float32), y


def count_nonzero(x) -> np.ndarray:
    """Number of non-zero entries of each example (its difficulty).

    Args:
        x: Parity inputs, ``(n, 1, size)`` as from :func:`generate` (or
            ``(n, size)``).

    Returns:
        int32 array ``(n,)``: the number of non-zero entries per example.
    """
    x = np.asarray(x)
    if x.ndim not in (2, 3):
        raise ValueError(
            f"count_nonzero expects inputs of shape (n, 1, size) or (n, size),"
            f" got shape {x.shape}"
        )
    return np.count_nonzero(x.reshape(len(x), -1), axis=1).astype(np.int32)


SPEC = register_task(
    TaskSpec(
        name=NAME,
        kind="classification",
        input="features",
        baseline=0.5,
        metric_name="accuracy",
        generator=generate,
        defaults={"size": NUM_FEATURES, "min_nonzero": 1, "max_nonzero": None},
        num_features=NUM_FEATURES,
        description="Parity of the +1 entries of one vector of -1/0/+1 "
        "(one input step).",
    )
)
"""The registered :class:`TaskSpec` of this task (default ``size`` 64)."""
