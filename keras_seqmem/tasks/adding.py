"""The adding problem (Hochreiter & Schmidhuber, 1997).

Form used by Le, Jaitly & Hinton, "A Simple Way to Initialize Recurrent
Networks of Rectified Linear Units" (2015), after Hochreiter & Schmidhuber,
"Long Short-Term Memory" (Neural Computation, 1997):

* input of shape ``(length, 2)``, float32;
* channel 0: values drawn uniformly from ``[0, 1)``;
* channel 1: a marker, 1 at exactly two positions -- one uniformly in the
  first half ``[0, length // 2)``, one uniformly in the second half
  ``[length // 2, length)`` -- and 0 elsewhere;
* target: the sum of the two marked values, float32 of shape ``(1,)``.

Baseline: the target is the sum of two independent U[0, 1) values, of mean 1
and variance 1/12 + 1/12, so always predicting the constant 1.0 gives an MSE
of 1/6 ~= 0.167 -- the level a model must beat to show any memory. The task
is conventionally considered solved at MSE < 0.01.
"""

from __future__ import annotations

import numpy as np

from .base import TaskSpec, check_int, register_task

__all__ = ["SPEC", "BASELINE_MSE", "SOLVED_MSE", "NUM_FEATURES", "generate"]

NAME = "adding"
NUM_FEATURES = 2
BASELINE_MSE = 1.0 / 6.0
"""MSE of the constant prediction 1.0 (the best constant)."""
SOLVED_MSE = 0.01
"""Conventional threshold under which the task counts as solved."""


def generate(
    num_examples: int,
    seed: int | None = 0,
    *,
    length: int = 50,
) -> tuple[np.ndarray, np.ndarray]:
    """Generates the adding problem.

    Args:
        num_examples: Number of examples.
        seed: Seed of ``numpy.random.default_rng``.
        length: Sequence length, >= 2.

    Returns:
        ``(x, y)``: ``x`` float32 ``(num_examples, length, 2)`` (values,
        markers), ``y`` float32 ``(num_examples, 1)`` sums of the two marked
        values.

    Raises:
        ValueError: If a parameter is invalid.
    """
    num_examples = check_int(NAME, "num_examples", num_examples, minimum=1)
    length = check_int(NAME, "length", length, minimum=2)
    half = length // 2

    rng = np.random.default_rng(seed)
    values = rng.random((num_examples, length), dtype=np.float32)
    first = rng.integers(0, half, size=num_examples)
    second = rng.integers(half, length, size=num_examples)
    rows = np.arange(num_examples)

    x = np.zeros((num_examples, length, NUM_FEATURES), dtype=np.float32)
    x[:, :, 0] = values
    x[rows, first, 1] = 1.0
    x[rows, second, 1] = 1.0
    y = (values[rows, first] + values[rows, second]).astype(np.float32)[:, None]
    return x, y


SPEC = register_task(
    TaskSpec(
        name=NAME,
        kind="regression",
        input="features",
        baseline=BASELINE_MSE,
        metric_name="mse",
        generator=generate,
        defaults={"length": 50},
        num_features=NUM_FEATURES,
        description="Sum of the two marked values of a long sequence.",
    )
)
"""The registered :class:`TaskSpec` of this task."""
