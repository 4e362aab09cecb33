"""Common API of the synthetic long-memory tasks.

Every task is described by a frozen :class:`TaskSpec` that knows how to
generate ``(x, y)`` numpy arrays deterministically from a seed. Specs are
registered by name in :data:`TASKS` (looked up with :func:`get_task`), and
:func:`make_dataset` wraps the generated arrays in a batched, shuffled,
prefetched ``tf.data.Dataset``.

Conventions shared by all tasks:

* ``x`` is ``int32`` of shape ``(n, length)`` for token tasks (id 0 is
  padding) or ``float32`` of shape ``(n, length, num_features)`` for feature
  tasks.
* ``y`` is ``float32`` of shape ``(n, 1)``: a 0/1 label for binary
  classification tasks, the regression target otherwise.
* Generation only uses ``numpy.random.default_rng(seed)``, so the same
  ``(num_examples, seed, params)`` always gives the same arrays.
"""

from __future__ import annotations

import dataclasses
import types
from typing import Any, Callable, Mapping

import numpy as np

__all__ = [
    "TaskSpec",
    "TASKS",
    "register_task",
    "get_task",
    "make_dataset",
]

_KINDS = ("classification", "regression")
_INPUTS = ("tokens", "features")


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """Description of one synthetic task.

    Attributes:
        name: Registry name of the task (e.g. ``"brackets"``).
        kind: ``"classification"`` (binary, labels 0/1) or ``"regression"``.
        input: ``"tokens"`` (integer ids, see ``vocab_size``) or
            ``"features"`` (float vectors, see ``num_features``).
        baseline: Chance-level value of ``metric_name``: accuracy 0.5 for the
            balanced classification tasks, the MSE of the best constant
            prediction for regression tasks.
        metric_name: ``"accuracy"`` or ``"mse"``.
        generator: ``generator(num_examples, seed, **params) -> (x, y)``; use
            :meth:`generate`, which validates arguments and fills defaults.
        defaults: Default value of every accepted parameter.
        vocab_size: Vocabulary size (including padding id 0) with the default
            parameters, for token tasks; ``None`` otherwise.
        num_features: Size of the last input axis for feature tasks; ``None``
            for token tasks.
        description: One-line description of the task.
        vocab_size_fn: Optional ``fn(**params) -> int`` when the vocabulary
            depends on the parameters (e.g. ``num_symbols``).
    """

    name: str
    kind: str
    input: str
    baseline: float
    metric_name: str
    generator: Callable[..., tuple[np.ndarray, np.ndarray]] = dataclasses.field(
        repr=False, compare=False
    )
    defaults: Mapping[str, Any] = dataclasses.field(
        default_factory=dict, compare=False, hash=False
    )
    vocab_size: int | None = None
    num_features: int | None = None
    description: str = ""
    vocab_size_fn: Callable[..., int] | None = dataclasses.field(
        default=None, repr=False, compare=False
    )

    def __post_init__(self):
        if self.kind not in _KINDS:
            raise ValueError(
                f"TaskSpec {self.name!r}: `kind` must be one of {_KINDS}, "
                f"got {self.kind!r}"
            )
        if self.input not in _INPUTS:
            raise ValueError(
                f"TaskSpec {self.name!r}: `input` must be one of {_INPUTS}, "
                f"got {self.input!r}"
            )
        if self.input == "tokens" and self.vocab_size is None:
            raise ValueError(
                f"TaskSpec {self.name!r}: token tasks need `vocab_size`"
            )
        if self.input == "features" and self.num_features is None:
            raise ValueError(
                f"TaskSpec {self.name!r}: feature tasks need `num_features`"
            )
        # Read-only view so that the frozen spec cannot be mutated through it.
        object.__setattr__(
            self, "defaults", types.MappingProxyType(dict(self.defaults))
        )

    @property
    def input_kind(self) -> str:
        """Alias of :attr:`input`."""
        return self.input

    def resolve_params(self, **params) -> dict[str, Any]:
        """Returns the defaults updated with ``params``.

        Args:
            **params: Task parameters.

        Returns:
            A new dict with every accepted parameter.

        Raises:
            ValueError: If a parameter is not accepted by this task.
        """
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            raise ValueError(
                f"Task {self.name!r}: unknown parameter(s) {unknown}; "
                f"accepted parameters: {sorted(self.defaults)}"
            )
        resolved = dict(self.defaults)
        resolved.update(params)
        return resolved

    def generate(
        self, num_examples: int, seed: int | None = 0, **params
    ) -> tuple[np.ndarray, np.ndarray]:
        """Generates ``num_examples`` examples.

        Args:
            num_examples: Number of examples (>= 1).
            seed: Seed of ``numpy.random.default_rng``; same seed, same data.
            **params: Task parameters (see :attr:`defaults`).

        Returns:
            ``(x, y)``: ``x`` int32 ``(n, length)`` tokens or float32
            ``(n, length, num_features)`` features; ``y`` float32 ``(n, 1)``.

        Raises:
            ValueError: If ``num_examples`` or a parameter is invalid.
        """
        check_int(self.name, "num_examples", num_examples, minimum=1)
        resolved = self.resolve_params(**params)
        return self.generator(num_examples, seed, **resolved)

    def get_vocab_size(self, **params) -> int | None:
        """Vocabulary size (padding included) for the given parameters.

        Args:
            **params: Task parameters (defaults are used for the others).

        Returns:
            The vocabulary size, or ``None`` for feature tasks.
        """
        if self.input != "tokens":
            return None
        resolved = self.resolve_params(**params)
        if self.vocab_size_fn is not None:
            return int(self.vocab_size_fn(**resolved))
        return self.vocab_size

    def input_shape(self, **params) -> tuple[int, ...]:
        """Shape of one input example (without the batch axis).

        Args:
            **params: Task parameters (defaults are used for the others).

        Returns:
            ``(length,)`` for token tasks, ``(length, num_features)``
            otherwise.
        """
        length = self.resolve_params(**params)["length"]
        if self.input == "tokens":
            return (length,)
        return (length, self.num_features)


TASKS: dict[str, TaskSpec] = {}
"""Registry of the known tasks, name -> :class:`TaskSpec`."""


def register_task(spec: TaskSpec) -> TaskSpec:
    """Adds ``spec`` to :data:`TASKS`.

    Args:
        spec: The task to register.

    Returns:
        ``spec`` itself.

    Raises:
        ValueError: If a different task with the same name is registered.
    """
    if not isinstance(spec, TaskSpec):
        raise ValueError(f"register_task expects a TaskSpec, got {type(spec)}")
    existing = TASKS.get(spec.name)
    if existing is not None and existing is not spec:
        raise ValueError(f"A task named {spec.name!r} is already registered")
    TASKS[spec.name] = spec
    return spec


def get_task(name: str | TaskSpec) -> TaskSpec:
    """Looks a task up by name.

    Args:
        name: A registered task name (``"brackets"``, ``"halves"``,
            ``"adding"``), or a :class:`TaskSpec`, returned unchanged.

    Returns:
        The :class:`TaskSpec`.

    Raises:
        ValueError: If the name is unknown; the message lists known names.
    """
    if isinstance(name, TaskSpec):
        return name
    try:
        return TASKS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown task {name!r}; known tasks: {', '.join(sorted(TASKS))}"
        ) from None


def make_dataset(
    task: str | TaskSpec,
    num_examples: int,
    batch_size: int = 64,
    seed: int | None = 0,
    shuffle: bool = True,
    repeat: bool = False,
    **params,
):
    """Generates a task and wraps it in a ``tf.data.Dataset``.

    The arrays from ``task.generate(num_examples, seed, **params)`` are sliced
    with ``from_tensor_slices``, shuffled (whole-dataset buffer, seeded with
    ``seed``, reshuffled each epoch), optionally repeated forever, batched and
    prefetched with ``AUTOTUNE``.

    Args:
        task: Task name or :class:`TaskSpec`.
        num_examples: Number of examples to generate.
        batch_size: Batch size (the last batch may be smaller).
        seed: Seed for both generation and shuffling.
        shuffle: Whether to shuffle the examples.
        repeat: Whether to repeat the dataset indefinitely.
        **params: Task parameters, e.g. ``length=100``.

    Returns:
        A ``tf.data.Dataset`` of ``(x, y)`` batches.

    Raises:
        ValueError: If the task is unknown or an argument is invalid.
    """
    spec = get_task(task)
    check_int(spec.name, "batch_size", batch_size, minimum=1)
    x, y = spec.generate(num_examples, seed=seed, **params)

    import tensorflow as tf  # Lazy: generation itself needs numpy only.

    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        ds = ds.shuffle(
            buffer_size=len(x), seed=seed, reshuffle_each_iteration=True
        )
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size)
    return ds.prefetch(tf.data.AUTOTUNE)


# --------------------------------------------------------------------------
# Validation helpers used by the task modules.
# --------------------------------------------------------------------------


def check_int(
    task: str,
    name: str,
    value: Any,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int:
    """Checks that ``value`` is an integer within ``[minimum, maximum]``.

    Args:
        task: Task name, for the error message.
        name: Parameter name, for the error message.
        value: Value to check.
        minimum: Inclusive lower bound, or ``None``.
        maximum: Inclusive upper bound, or ``None``.

    Returns:
        ``value`` as a Python int.

    Raises:
        ValueError: If the check fails; the message names task and parameter.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, np.integer)
    ):
        raise ValueError(
            f"Task {task!r}: parameter `{name}` must be an integer, "
            f"got {value!r}"
        )
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(
            f"Task {task!r}: parameter `{name}` must be >= {minimum}, "
            f"got {value}"
        )
    if maximum is not None and value > maximum:
        raise ValueError(
            f"Task {task!r}: parameter `{name}` must be <= {maximum}, "
            f"got {value}"
        )
    return value


def check_float(
    task: str,
    name: str,
    value: Any,
    low: float,
    high: float,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """Checks that ``value`` is a real number within the given interval.

    Args:
        task: Task name, for the error message.
        name: Parameter name, for the error message.
        value: Value to check.
        low: Lower bound.
        high: Upper bound.
        low_inclusive: Whether ``low`` itself is allowed.
        high_inclusive: Whether ``high`` itself is allowed.

    Returns:
        ``value`` as a Python float.

    Raises:
        ValueError: If the check fails; the message names task and parameter.
    """
    interval = (
        ("[" if low_inclusive else "(")
        + f"{low}, {high}"
        + ("]" if high_inclusive else ")")
    )
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise ValueError(
            f"Task {task!r}: parameter `{name}` must be a number in "
            f"{interval}, got {value!r}"
        )
    value = float(value)
    ok_low = value >= low if low_inclusive else value > low
    ok_high = value <= high if high_inclusive else value < high
    if not (ok_low and ok_high):
        raise ValueError(
            f"Task {task!r}: parameter `{name}` must be in {interval}, "
            f"got {value}"
        )
    return value


def balanced_labels(rng: np.random.Generator, num_examples: int) -> np.ndarray:
    """Returns shuffled 0/1 labels with exactly ``num_examples // 2`` zeros.

    Args:
        rng: Random generator.
        num_examples: Number of labels.

    Returns:
        Boolean array of shape ``(num_examples,)``, True for positives.
    """
    labels = np.zeros(num_examples, dtype=bool)
    labels[num_examples // 2 :] = True
    rng.shuffle(labels)
    return labels
