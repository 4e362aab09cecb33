"""Addition, the task of Adaptive Computation Time (Graves, 2016, "Adaptive
Computation Time for Recurrent Neural Networks", section 3.3).

A sequence of ``L`` decimal numbers (``L`` uniform in ``[min_length,
max_length]``, default ``[1, 5]``), one per step; the network outputs, at
every step but the first, the sum of the numbers seen so far. It is a
per-step class task (``kind="sequence_classes"``, see :mod:`.base`):
``generate`` returns ``(x, y, mask)`` with ``T = max_length`` steps
(static whatever the seed); shorter sequences are followed by all-zero
input steps with mask 0.

Layout (``D = num_digits``, default 5):

* ``x`` float32 ``(n, T, 10 D)``: step ``t < L`` holds one number of ``d``
  digits, ``d`` uniform in ``[1, D]``, each digit uniform in 0..9 (so the
  top digit may be 0). Block ``j`` (features ``10 j .. 10 j + 9``) is the
  one-hot code of the digit of ``10**j`` -- least significant digit first;
  the blocks ``j >= d`` (the unused higher digits) are all zero, as are all
  the blocks of the padding steps ``t >= L``.
* ``y`` int32 ``(n, T, D + 1)``: at step ``t < L`` the cumulative sum
  ``s_t`` of the numbers of steps ``0..t`` as ``D + 1`` digit classes,
  least significant digit first (as in Graves), each in ``0..10``: the
  digit itself in ``0..9``, or :data:`NO_DIGIT` = 10 beyond the most
  significant digit of ``s_t`` (the sum 0 is the single digit 0). The
  padding steps hold :data:`NO_DIGIT` everywhere. ``D + 1`` digits always
  hold the sum: ``max_length`` is limited so that ``max_length (10**D - 1)
  < 10**(D + 1)`` (at most 10 numbers, 11 when ``D = 1``).
* ``mask`` float32 ``(n, T)``: 1 at the steps ``1 <= t < L``, 0 at step 0
  (whose target, the first number itself, is not scored) and at padding.
  Sequences of length 1 have no scored step.

Metrics: ``metric_name="sequence_error"`` is :func:`sequence_error_rate`,
Graves's sequence error rate, the fraction of sequences with at least one
wrong digit class at a scored step; :func:`digit_error_rate` is the
fraction of wrong digit classes over the scored steps. Baseline
(:attr:`TaskSpec.baseline`): 1.0 -- a sequence with two or more numbers has
``D + 1`` classes of 11 to get right at each of up to four scored steps, so
guessing gets almost every sequence wrong.
"""

from __future__ import annotations

import numpy as np

from .base import TaskSpec, check_int, register_task

__all__ = [
    "SPEC",
    "NO_DIGIT",
    "NUM_CLASSES",
    "NUM_FEATURES",
    "generate",
    "sequence_error_rate",
    "digit_error_rate",
]

NAME = "addition"
NO_DIGIT = 10
"""Target class of the digit positions beyond the top digit of the sum."""
NUM_CLASSES = 11
"""Classes of each target digit: 0..9 and :data:`NO_DIGIT`."""
NUM_FEATURES = 50
"""Input features with the default parameters: 10 per digit, 5 digits."""


def _max_length_bound(num_digits: int) -> int:
    """Largest ``max_length`` whose sums always fit in ``num_digits + 1``
    digits: ``L (10**D - 1) <= 10**(D + 1) - 1``."""
    return (10 ** (num_digits + 1) - 1) // (10 ** num_digits - 1)


def generate(
    num_examples: int,
    seed: int | None = 0,
    *,
    num_digits: int = 5,
    min_length: int = 1,
    max_length: int = 5,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Generates the addition task.

    Args:
        num_examples: Number of sequences.
        seed: Seed of ``numpy.random.default_rng``.
        num_digits: Most digits of one number, ``D >= 1``.
        min_length, max_length: Range of the number of numbers ``L``
            (uniform, inclusive; ``1 <= min_length <= max_length``, and
            ``max_length`` at most 10, or 11 when ``num_digits`` is 1, so
            that the sums fit in ``D + 1`` digits).

    Returns:
        ``(x, y, mask)``: float32 ``(n, T, 10 num_digits)``, int32 ``(n, T,
        num_digits + 1)`` and float32 ``(n, T)`` with ``T = max_length``
        (see the module docstring).

    Raises:
        ValueError: If a parameter is invalid.
    """
    num_examples = check_int(NAME, "num_examples", num_examples, minimum=1)
    digits_max = check_int(NAME, "num_digits", num_digits, minimum=1)
    low = check_int(NAME, "min_length", min_length, minimum=1)
    high = check_int(NAME, "max_length", max_length, minimum=low,
                     maximum=_max_length_bound(digits_max))

    rng = np.random.default_rng(seed)
    lengths = rng.integers(low, high + 1, size=num_examples)
    num_used = rng.integers(1, digits_max + 1, size=(num_examples, high))
    digits = rng.integers(0, 10, size=(num_examples, high, digits_max))

    steps = np.arange(high)
    real = steps[None, :] < lengths[:, None]                   # (n, T)
    used = np.arange(digits_max)[None, None, :] < num_used[..., None]
    used &= real[..., None]                                    # (n, T, D)
    digits = np.where(used, digits, 0)

    x = np.zeros((num_examples, high, digits_max, 10), np.float32)
    n_idx, t_idx, j_idx = np.nonzero(used)
    x[n_idx, t_idx, j_idx, digits[n_idx, t_idx, j_idx]] = 1.0
    x = x.reshape(num_examples, high, 10 * digits_max)

    # Cumulative sums digit-wise (no big integers), then carry propagation.
    columns = np.cumsum(digits, axis=1)                        # (n, T, D)
    sums = np.zeros((num_examples, high, digits_max + 1), np.int64)
    carry = np.zeros((num_examples, high), np.int64)
    for j in range(digits_max + 1):
        total = carry + (columns[..., j] if j < digits_max else 0)
        sums[..., j] = total % 10
        carry = total // 10
    # Top digit: the highest non-zero one (position 0 for the sum 0).
    positions = np.arange(digits_max + 1)
    top = np.max(np.where(sums != 0, positions, 0), axis=-1)   # (n, T)
    y = np.where(positions <= top[..., None], sums, NO_DIGIT)
    y = np.where(real[..., None], y, NO_DIGIT).astype(np.int32)
    mask = (real & (steps[None, :] >= 1)).astype(np.float32)
    return x, y, mask


def _scored(y, logits_or_class_ids, mask, fn):
    """Predicted class ids, targets and the boolean mask, shapes checked."""
    y = np.asarray(y)
    predictions = np.asarray(logits_or_class_ids)
    if y.ndim != 3:
        raise ValueError(
            f"{fn} expects targets of shape (n, T, num_digits + 1), got "
            f"shape {y.shape}"
        )
    if predictions.shape == y.shape:
        class_ids = predictions
    elif (predictions.ndim == y.ndim + 1
          and predictions.shape[:-1] == y.shape):
        class_ids = np.argmax(predictions, axis=-1)
    else:
        raise ValueError(
            f"{fn} expects logits of shape {y.shape + (NUM_CLASSES,)} or "
            f"class ids of shape {y.shape}, got shape {predictions.shape}"
        )
    mask = np.asarray(mask)
    if mask.shape != y.shape[:2]:
        raise ValueError(
            f"{fn} expects a mask of shape (n, T) = {y.shape[:2]}, got shape "
            f"{mask.shape}"
        )
    return class_ids, y, mask > 0


def sequence_error_rate(y, logits_or_class_ids, mask) -> float:
    """Graves's sequence error rate: the fraction of sequences with at least
    one wrong digit class at a scored step.

    Sequences without any scored step (length 1) are left out of the
    fraction, which is 0.0 when no sequence has a scored step.

    Args:
        y: int targets ``(n, T, D + 1)``, as from :func:`generate`.
        logits_or_class_ids: Logits ``(n, T, D + 1, 11)`` (the predicted
            class is their argmax) or class ids ``(n, T, D + 1)``.
        mask: ``(n, T)``, non-zero at the scored steps.

    Returns:
        The sequence error rate in ``[0, 1]``.

    Raises:
        ValueError: If the shapes do not match.
    """
    class_ids, y, scored = _scored(y, logits_or_class_ids, mask,
                                   "sequence_error_rate")
    wrong = np.any((class_ids != y) & scored[..., None], axis=(1, 2))
    has_scored = np.any(scored, axis=1)
    if not has_scored.any():
        return 0.0
    return float(np.mean(wrong[has_scored]))


def digit_error_rate(y, logits_or_class_ids, mask) -> float:
    """The fraction of wrong digit classes (all ``D + 1`` of a step, the
    :data:`NO_DIGIT` ones included) over the scored steps.

    Args:
        y: int targets ``(n, T, D + 1)``, as from :func:`generate`.
        logits_or_class_ids: Logits ``(n, T, D + 1, 11)`` or class ids
            ``(n, T, D + 1)``.
        mask: ``(n, T)``, non-zero at the scored steps.

    Returns:
        The digit error rate in ``[0, 1]`` (0.0 without a scored step).

    Raises:
        ValueError: If the shapes do not match.
    """
    class_ids, y, scored = _scored(y, logits_or_class_ids, mask,
                                   "digit_error_rate")
    total = int(scored.sum()) * y.shape[-1]
    if total == 0:
        return 0.0
    wrong = np.sum((class_ids != y) & scored[..., None])
    return float(wrong) / total


SPEC = register_task(
    TaskSpec(
        name=NAME,
        kind="sequence_classes",
        input="features",
        baseline=1.0,
        metric_name="sequence_error",
        generator=generate,
        defaults={"num_digits": 5, "min_length": 1, "max_length": 5},
        num_features=NUM_FEATURES,
        description="Cumulative sums of a sequence of decimal numbers, as "
        "digit classes at every step but the first.",
    )
)
"""The registered :class:`TaskSpec` of this task; baseline: sequence error
1.0 (guessing)."""
