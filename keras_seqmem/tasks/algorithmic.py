"""The algorithmic tasks of the Neural Turing Machine: copy, repeat copy and
associative recall (Graves, Wayne & Danihelka, 2014, section 4).

Sequences of random binary vectors (``num_bits`` bits, each 0 or 1 with
probability 1/2) with delimiter channels, as sequence-labelling tasks
(``kind="sequence"``, see :mod:`.base`): ``generate`` returns ``(x, y,
mask)``, float32 arrays of shapes ``(n, T, num_bits + 2)``, ``(n, T, ·)``
and ``(n, T)``. ``T`` is the longest possible episode for the parameters
(static whatever the seed); shorter episodes are followed by zero steps with
mask 0. The model sees ``x`` at every step and is scored, by
:func:`bits_per_sequence`, on the targets ``y`` of the steps where ``mask``
is 1 (the answer phase); during the answer phase the input is zero.

Input channels (``b = num_bits``): ``0..b−1`` the bits, ``b`` and ``b + 1``
the delimiters:

* ``copy``: ``L`` vectors (``min_length ≤ L ≤ max_length``), then one step
  with channel ``b`` set; then ``L`` answer steps whose targets are the
  vectors. ``T = 2 max_length + 1``, targets ``b`` wide.
* ``repeat_copy``: ``L`` vectors, then one step with channel ``b`` set and
  channel ``b + 1`` holding the number of repeats ``r`` divided by
  ``max_repeats``; then ``r L`` answer steps (the vectors ``r`` times) and
  one more whose target is an end marker, target channel ``b``. ``T =
  max_length (max_repeats + 1) + 2``, targets ``b + 1`` wide.
* ``associative_recall``: ``k`` items (``min_items ≤ k ≤ max_items``) of
  ``item_length`` vectors, each item preceded by a step with channel ``b``
  set; then a query — a copy of item ``q`` (uniform over the first
  ``k − 1``) between two steps with channel ``b + 1`` set; then
  ``item_length`` answer steps whose targets are item ``q + 1``. ``T =
  max_items (item_length + 1) + 2 item_length + 2``, targets ``b`` wide.

The metric (``metric_name="bits_per_sequence"``) is
:func:`bits_per_sequence`: the number of wrongly predicted bits in a
sequence, averaged over sequences. Graves et al. (2014) count copy as learnt
below about 0.1 bit per sequence; chance (:attr:`TaskSpec.baseline`) is half
the scored bits of an average sequence.

The three specs are registered in :data:`TASKS` (``get_task("copy")``,
``make_dataset("associative_recall", 1000)``); training on them, with the
NTM or an LSTM baseline, is :mod:`keras_seqmem.sequence_training`.
"""

from __future__ import annotations

import numpy as np

from .base import TaskSpec, check_int, register_task

__all__ = [
    "COPY",
    "REPEAT_COPY",
    "ASSOCIATIVE_RECALL",
    "SPECS",
    "bits_per_sequence",
    "generate_copy",
    "generate_repeat_copy",
    "generate_associative_recall",
]


def _bits(rng, shape):
    return (rng.random(shape) < 0.5).astype(np.float32)


def _check_range(task, low_name, low, high_name, high, minimum):
    low = check_int(task, low_name, low, minimum=minimum)
    high = check_int(task, high_name, high, minimum=low)
    return low, high


def generate_copy(
    num_examples: int,
    seed: int | None = 0,
    *,
    num_bits: int = 8,
    min_length: int = 1,
    max_length: int = 20,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Copy: reproduce a sequence of ``L`` binary vectors after a delimiter.

    Args:
        num_examples: Number of sequences.
        seed: Seed of ``numpy.random.default_rng``.
        num_bits: Bits per vector (≥ 1).
        min_length, max_length: Range of ``L`` (uniform, inclusive).

    Returns:
        ``(x, y, mask)``: float32 ``(n, T, num_bits + 2)``, ``(n, T,
        num_bits)``, ``(n, T)`` with ``T = 2 max_length + 1``.
    """
    name = "copy"
    num_examples = check_int(name, "num_examples", num_examples, minimum=1)
    bits = check_int(name, "num_bits", num_bits, minimum=1)
    low, high = _check_range(name, "min_length", min_length, "max_length",
                             max_length, 1)
    rng = np.random.default_rng(seed)
    steps = 2 * high + 1
    x = np.zeros((num_examples, steps, bits + 2), np.float32)
    y = np.zeros((num_examples, steps, bits), np.float32)
    mask = np.zeros((num_examples, steps), np.float32)
    lengths = rng.integers(low, high + 1, size=num_examples)
    for n, length in enumerate(lengths):
        sequence = _bits(rng, (length, bits))
        x[n, :length, :bits] = sequence
        x[n, length, bits] = 1.0  # delimiter
        y[n, length + 1 : 2 * length + 1] = sequence
        mask[n, length + 1 : 2 * length + 1] = 1.0
    return x, y, mask


def generate_repeat_copy(
    num_examples: int,
    seed: int | None = 0,
    *,
    num_bits: int = 8,
    min_length: int = 1,
    max_length: int = 10,
    min_repeats: int = 1,
    max_repeats: int = 10,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Repeat copy: reproduce a sequence ``r`` times, then an end marker.

    Args:
        num_examples: Number of sequences.
        seed: Seed of ``numpy.random.default_rng``.
        num_bits: Bits per vector (≥ 1).
        min_length, max_length: Range of the length ``L`` (uniform).
        min_repeats, max_repeats: Range of the number of repeats ``r``
            (uniform); the input shows ``r / max_repeats``.

    Returns:
        ``(x, y, mask)``: float32 ``(n, T, num_bits + 2)``, ``(n, T,
        num_bits + 1)`` (the last channel the end marker), ``(n, T)`` with
        ``T = max_length (max_repeats + 1) + 2``.
    """
    name = "repeat_copy"
    num_examples = check_int(name, "num_examples", num_examples, minimum=1)
    bits = check_int(name, "num_bits", num_bits, minimum=1)
    low, high = _check_range(name, "min_length", min_length, "max_length",
                             max_length, 1)
    r_low, r_high = _check_range(name, "min_repeats", min_repeats,
                                 "max_repeats", max_repeats, 1)
    rng = np.random.default_rng(seed)
    steps = high * (r_high + 1) + 2
    x = np.zeros((num_examples, steps, bits + 2), np.float32)
    y = np.zeros((num_examples, steps, bits + 1), np.float32)
    mask = np.zeros((num_examples, steps), np.float32)
    lengths = rng.integers(low, high + 1, size=num_examples)
    repeats = rng.integers(r_low, r_high + 1, size=num_examples)
    for n, (length, r) in enumerate(zip(lengths, repeats)):
        sequence = _bits(rng, (length, bits))
        x[n, :length, :bits] = sequence
        x[n, length, bits] = 1.0  # delimiter
        x[n, length, bits + 1] = r / r_high  # number of repeats
        start, end = length + 1, length + 1 + r * length
        y[n, start:end, :bits] = np.tile(sequence, (r, 1))
        y[n, end, bits] = 1.0  # end marker
        mask[n, start : end + 1] = 1.0
    return x, y, mask


def generate_associative_recall(
    num_examples: int,
    seed: int | None = 0,
    *,
    num_bits: int = 8,
    item_length: int = 3,
    min_items: int = 2,
    max_items: int = 6,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Associative recall: given a query item, produce the item after it.

    Args:
        num_examples: Number of sequences.
        seed: Seed of ``numpy.random.default_rng``.
        num_bits: Bits per vector (≥ 1).
        item_length: Vectors per item (≥ 1; the paper uses 3).
        min_items, max_items: Range of the number of items ``k`` (uniform,
            ``min_items ≥ 2``).

    Returns:
        ``(x, y, mask)``: float32 ``(n, T, num_bits + 2)``, ``(n, T,
        num_bits)``, ``(n, T)`` with ``T = max_items (item_length + 1) +
        2 item_length + 2``.
    """
    name = "associative_recall"
    num_examples = check_int(name, "num_examples", num_examples, minimum=1)
    bits = check_int(name, "num_bits", num_bits, minimum=1)
    size = check_int(name, "item_length", item_length, minimum=1)
    low, high = _check_range(name, "min_items", min_items, "max_items",
                             max_items, 2)
    rng = np.random.default_rng(seed)
    steps = high * (size + 1) + 2 * size + 2
    x = np.zeros((num_examples, steps, bits + 2), np.float32)
    y = np.zeros((num_examples, steps, bits), np.float32)
    mask = np.zeros((num_examples, steps), np.float32)
    counts = rng.integers(low, high + 1, size=num_examples)
    for n, k in enumerate(counts):
        items = _bits(rng, (k, size, bits))
        for i in range(k):
            t = i * (size + 1)
            x[n, t, bits] = 1.0  # item delimiter
            x[n, t + 1 : t + 1 + size, :bits] = items[i]
        query = rng.integers(0, k - 1)
        t = k * (size + 1)
        x[n, t, bits + 1] = 1.0  # query delimiter
        x[n, t + 1 : t + 1 + size, :bits] = items[query]
        x[n, t + 1 + size, bits + 1] = 1.0
        answer = t + 2 + size
        y[n, answer : answer + size] = items[query + 1]
        mask[n, answer : answer + size] = 1.0
    return x, y, mask


def bits_per_sequence(targets, logits_or_probs, mask=None,
                      from_logits=True) -> float:
    """Bits wrong per sequence, averaged over sequences (the NTM metric).

        error = mean_n Σ_{t, c} mask[n, t] · |round(σ(y[n, t, c])) − target[n, t, c]|

    Args:
        targets: 0/1 array ``(n, T, channels)``.
        logits_or_probs: Predictions of the same shape: logits (default;
            a bit is predicted 1 where the logit is > 0, i.e. σ > 1/2) or,
            with ``from_logits=False``, probabilities (1 where > 1/2).
        mask: ``(n, T)`` (or ``(n, T, channels)``) weights, 1 at the scored
            steps; None scores every step.
        from_logits: Whether ``logits_or_probs`` are logits.

    Returns:
        The mean number of wrong bits per sequence (a float).
    """
    targets = np.asarray(targets, dtype=np.float64)
    predictions = np.asarray(logits_or_probs, dtype=np.float64)
    if targets.ndim != 3 or predictions.shape != targets.shape:
        raise ValueError(
            f"bits_per_sequence expected targets and predictions of the same "
            f"shape (n, T, channels), got {targets.shape} and "
            f"{predictions.shape}."
        )
    threshold = 0.0 if from_logits else 0.5
    bits = (predictions > threshold).astype(np.float64)
    wrong = np.abs(bits - targets)
    if mask is not None:
        mask = np.asarray(mask, dtype=np.float64)
        if mask.ndim == 2:
            mask = mask[..., None]
        if mask.shape[:2] != targets.shape[:2]:
            raise ValueError(
                f"bits_per_sequence expected a mask of shape (n, T) = "
                f"{targets.shape[:2]}, got {mask.shape}."
            )
        wrong = wrong * mask
    return float(np.mean(np.sum(wrong, axis=(1, 2))))


def _baseline(min_value, max_value, bits_per_step):
    """Half the scored bits of an average sequence (guessing)."""
    return 0.5 * bits_per_step * (min_value + max_value) / 2.0


COPY = TaskSpec(
    name="copy",
    kind="sequence",
    input="features",
    baseline=_baseline(1, 20, 8),
    metric_name="bits_per_sequence",
    generator=generate_copy,
    defaults={"num_bits": 8, "min_length": 1, "max_length": 20},
    num_features=10,
    description="Copy a sequence of binary vectors after a delimiter.",
)
"""Copy (Graves et al. 2014, section 4.1); baseline for the defaults."""

REPEAT_COPY = TaskSpec(
    name="repeat_copy",
    kind="sequence",
    input="features",
    # Scored: r L vector steps (8 bits + the end channel) and the end step.
    baseline=0.5 * (9 * 5.5 * 5.5 + 9),
    metric_name="bits_per_sequence",
    generator=generate_repeat_copy,
    defaults={"num_bits": 8, "min_length": 1, "max_length": 10,
              "min_repeats": 1, "max_repeats": 10},
    num_features=10,
    description="Copy a sequence a given number of times, then an end mark.",
)
"""Repeat copy (section 4.2); baseline for the defaults."""

ASSOCIATIVE_RECALL = TaskSpec(
    name="associative_recall",
    kind="sequence",
    input="features",
    baseline=0.5 * 3 * 8,
    metric_name="bits_per_sequence",
    generator=generate_associative_recall,
    defaults={"num_bits": 8, "item_length": 3, "min_items": 2,
              "max_items": 6},
    num_features=10,
    description="Given one item of a list, produce the next item.",
)
"""Associative recall (section 4.3); baseline for the defaults."""

SPECS = {spec.name: register_task(spec)
         for spec in (COPY, REPEAT_COPY, ASSOCIATIVE_RECALL)}
"""The three specs by name (all three registered in :data:`TASKS`)."""
