"""Common API of the synthetic long-memory tasks.

Every task is described by a frozen :class:`TaskSpec` that knows how to
generate ``(x, y)`` numpy arrays deterministically from a seed. Specs are
registered by name in :data:`TASKS` (looked up with :func:`get_task`), and
:func:`make_dataset` wraps the generated arrays in a batched, shuffled,
prefetched ``tf.data.Dataset``.

Conventions shared by the classification and regression tasks:

* ``x`` is ``int32`` of shape ``(n, length)`` for token tasks (id 0 is
  padding) or ``float32`` of shape ``(n, length, num_features)`` for feature
  tasks.
* ``y`` is ``float32`` of shape ``(n, 1)``: a 0/1 label for binary
  classification tasks, the regression target otherwise.
* Generation only uses ``numpy.random.default_rng(seed)``, so the same
  ``(num_examples, seed, params)`` always gives the same arrays.

Sequence-to-sequence tasks (``kind="seq2seq"``) follow these conventions:

* Ids :data:`PAD_ID` = 0, :data:`START_ID` = 1 and :data:`END_ID` = 2 are
  ``"<pad>"``, ``"<s>"`` and ``"</s>"`` in both the source and the target
  vocabulary; the first real token has id 3.
* ``generate`` returns ``(source, target)``: ``source`` is ``int32`` of shape
  ``(n, S)``, right-padded with 0; ``target`` is ``int32`` of shape
  ``(n, T)``: the target ids followed by exactly one ``END_ID``, then
  padding (no ``START_ID``). ``S`` and ``T`` are static for given parameters
  (the longest possible source and target), whatever the seed.
* :func:`decoder_inputs` shifts a target right behind ``START_ID`` (teacher
  forcing), and :func:`make_dataset` yields ``((source, decoder_inputs),
  target)`` batches that ``model.fit`` can use directly.
* The metric is ``"exact_match"`` (:func:`exact_match`): the fraction of
  sequences whose whole target, up to and including ``END_ID``, is right.

Sequence-labelling tasks (``kind="sequence"``, the algorithmic tasks of the
Neural Turing Machine in :mod:`.algorithmic`) follow these conventions:

* ``generate`` returns ``(x, y, mask)``: ``x`` float32 ``(n, T, features)``,
  ``y`` float32 ``(n, T, target_features)`` of 0/1 targets at every step,
  ``mask`` float32 ``(n, T)``, 1 at the steps whose targets are scored and
  0 elsewhere. ``T`` is static for given parameters, whatever the seed.
* :func:`make_dataset` yields ``(x, y, mask)`` batches: ``model.fit`` takes
  the mask as per-step sample weights.

Per-step class tasks (``kind="sequence_classes"``, the addition task of
Adaptive Computation Time in :mod:`.addition`) are handled like sequence
tasks, but ``y`` is ``int32`` ``(n, T, slots)`` of integer class ids (one
class per slot and step), scored where ``mask`` is 1.
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
    "PAD_ID",
    "START_ID",
    "END_ID",
    "SPECIAL_TOKENS",
    "decoder_inputs",
    "encode",
    "decode",
    "exact_match",
]

_KINDS = ("classification", "regression", "seq2seq", "sequence",
          "sequence_classes")
_INPUTS = ("tokens", "features")

PAD_ID = 0
"""Padding id of token tasks (both vocabularies of seq2seq tasks)."""
START_ID = 1
"""Start-of-sequence id of seq2seq tasks: first decoder input."""
END_ID = 2
"""End-of-sequence id of seq2seq tasks: ends every target exactly once."""
SPECIAL_TOKENS = ("<pad>", "<s>", "</s>")
"""Strings of ids 0, 1, 2 in seq2seq vocabularies; real tokens start at 3."""


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """Description of one synthetic task.

    Attributes:
        name: Registry name of the task (e.g. ``"brackets"``).
        kind: ``"classification"`` (binary, labels 0/1), ``"regression"``,
            ``"seq2seq"`` (token sequence to token sequence) or
            ``"sequence"`` (0/1 targets at every step, with a mask) or
            ``"sequence_classes"`` (integer class ids at every step, with a
            mask).
        input: ``"tokens"`` (integer ids, see ``vocab_size``) or
            ``"features"`` (float vectors, see ``num_features``); always
            ``"tokens"`` for seq2seq tasks.
        baseline: Chance-level value of ``metric_name``: accuracy 0.5 for the
            balanced classification tasks, the MSE of the best constant
            prediction for regression tasks, about 0 exact match for seq2seq
            tasks.
        metric_name: ``"accuracy"``, ``"mse"`` or ``"exact_match"`` (the
            fraction of whole target sequences decoded exactly; seq2seq).
        generator: ``generator(num_examples, seed, **params) -> (x, y)``; use
            :meth:`generate`, which validates arguments and fills defaults.
        defaults: Default value of every accepted parameter.
        vocab_size: Vocabulary size (including padding id 0) with the default
            parameters, for token tasks; ``None`` otherwise. For seq2seq tasks
            it is the source vocabulary size and is filled in from the source
            vocabulary when left ``None``.
        num_features: Size of the last input axis for feature tasks; ``None``
            for token tasks.
        description: One-line description of the task.
        vocab_size_fn: Optional ``fn(**params) -> int`` when the vocabulary
            depends on the parameters (e.g. ``num_symbols``).
        source_vocabulary: Seq2seq tasks: id -> token string of the source
            vocabulary (ids 0..2 are :data:`SPECIAL_TOKENS`), with the default
            parameters.
        target_vocabulary: Seq2seq tasks: the same for the target.
        source_vocabulary_fn: Optional ``fn(**params) -> tuple[str, ...]``
            when the source vocabulary depends on the parameters.
        target_vocabulary_fn: The same for the target vocabulary.
        lengths_fn: Seq2seq tasks: optional ``fn(**params) -> (S, T)``, the
            static widths of ``source`` and ``target``. Without it, they are
            read from one generated example.
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
    source_vocabulary: tuple[str, ...] | None = dataclasses.field(
        default=None, repr=False
    )
    target_vocabulary: tuple[str, ...] | None = dataclasses.field(
        default=None, repr=False
    )
    source_vocabulary_fn: Callable[..., tuple[str, ...]] | None = (
        dataclasses.field(default=None, repr=False, compare=False)
    )
    target_vocabulary_fn: Callable[..., tuple[str, ...]] | None = (
        dataclasses.field(default=None, repr=False, compare=False)
    )
    lengths_fn: Callable[..., tuple[int, int]] | None = dataclasses.field(
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
        if self.kind == "seq2seq":
            self._check_seq2seq()
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

    def _check_seq2seq(self):
        """Validates the seq2seq fields and fills ``vocab_size``."""
        if self.input != "tokens":
            raise ValueError(
                f"TaskSpec {self.name!r}: seq2seq tasks need "
                f"`input='tokens'`, got {self.input!r}"
            )
        for side in ("source", "target"):
            vocab = getattr(self, f"{side}_vocabulary")
            if vocab is None and getattr(self, f"{side}_vocabulary_fn") is None:
                raise ValueError(
                    f"TaskSpec {self.name!r}: seq2seq tasks need "
                    f"`{side}_vocabulary` or `{side}_vocabulary_fn`"
                )
            if vocab is not None:
                vocab = tuple(vocab)
                _check_vocabulary(self.name, f"{side}_vocabulary", vocab)
                object.__setattr__(self, f"{side}_vocabulary", vocab)
        if self.vocab_size is None:
            vocab = self.source_vocabulary
            if vocab is None:
                vocab = self.source_vocabulary_fn(**dict(self.defaults))
            object.__setattr__(self, "vocab_size", len(vocab))

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
            For seq2seq tasks, ``(source, target)``: int32 ``(n, S)`` and
            int32 ``(n, T)``, see :meth:`input_shape`, :meth:`target_shape`
            and the module docstring. For sequence tasks, ``(x, y, mask)``
            (see the module docstring).

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
            The vocabulary size (the source vocabulary's for seq2seq tasks),
            or ``None`` for feature tasks.
        """
        if self.input != "tokens":
            return None
        resolved = self.resolve_params(**params)
        if self.vocab_size_fn is not None:
            return int(self.vocab_size_fn(**resolved))
        if self.kind == "seq2seq":
            return len(self.get_source_vocabulary(**params))
        return self.vocab_size

    def _vocabulary(self, side: str, params) -> tuple[str, ...]:
        if self.kind != "seq2seq":
            raise ValueError(
                f"Task {self.name!r} is not a seq2seq task; it has no "
                f"{side} vocabulary"
            )
        resolved = self.resolve_params(**params)
        fn = getattr(self, f"{side}_vocabulary_fn")
        if fn is not None:
            return tuple(fn(**resolved))
        return getattr(self, f"{side}_vocabulary")

    def get_source_vocabulary(self, **params) -> tuple[str, ...]:
        """Source vocabulary of a seq2seq task (id -> token string).

        Args:
            **params: Task parameters (defaults are used for the others).

        Returns:
            A tuple whose first three entries are :data:`SPECIAL_TOKENS`.

        Raises:
            ValueError: If the task is not seq2seq or a parameter is invalid.
        """
        return self._vocabulary("source", params)

    def get_target_vocabulary(self, **params) -> tuple[str, ...]:
        """Target vocabulary of a seq2seq task (id -> token string).

        Args:
            **params: Task parameters (defaults are used for the others).

        Returns:
            A tuple whose first three entries are :data:`SPECIAL_TOKENS`.

        Raises:
            ValueError: If the task is not seq2seq or a parameter is invalid.
        """
        return self._vocabulary("target", params)

    def get_target_vocab_size(self, **params) -> int:
        """Target vocabulary size (specials included) of a seq2seq task.

        Args:
            **params: Task parameters (defaults are used for the others).

        Returns:
            ``len(get_target_vocabulary(**params))``.

        Raises:
            ValueError: If the task is not seq2seq or a parameter is invalid.
        """
        return len(self.get_target_vocabulary(**params))

    def _seq2seq_lengths(self, params) -> tuple[int, int]:
        resolved = self.resolve_params(**params)
        if self.lengths_fn is not None:
            source, target = self.lengths_fn(**resolved)
            return int(source), int(target)
        source, target = self.generator(1, 0, **resolved)
        return int(source.shape[1]), int(target.shape[1])

    def input_shape(self, **params) -> tuple[int, ...]:
        """Shape of one input example (without the batch axis).

        Args:
            **params: Task parameters (defaults are used for the others).

        Returns:
            ``(length,)`` for token tasks, ``(length, num_features)``
            for feature tasks, ``(S,)`` (the static source width) for
            seq2seq tasks.
        """
        if self.kind == "seq2seq":
            return (self._seq2seq_lengths(params)[0],)
        if self.kind in ("sequence", "sequence_classes"):
            return self._sequence_shapes(params)[0]
        resolved = self.resolve_params(**params)
        if "length" not in resolved:  # e.g. parity: read from one example
            return tuple(self.generator(1, 0, **resolved)[0].shape[1:])
        length = resolved["length"]
        if self.input == "tokens":
            return (length,)
        return (length, self.num_features)

    def target_shape(self, **params) -> tuple[int, ...]:
        """Shape of one target (without the batch axis).

        Args:
            **params: Task parameters (defaults are used for the others).

        Returns:
            ``(T,)``, the static target width (``END_ID`` included), for
            seq2seq tasks; ``(T, target_features)`` for sequence tasks;
            ``(1,)`` for the other tasks.
        """
        if self.kind == "seq2seq":
            return (self._seq2seq_lengths(params)[1],)
        if self.kind in ("sequence", "sequence_classes"):
            return self._sequence_shapes(params)[1]
        self.resolve_params(**params)
        return (1,)

    def _sequence_shapes(self, params):
        """``(T, features)`` and ``(T, target_features)`` of a sequence task
        (static for given parameters), read from one generated example."""
        x, y, _ = self.generator(1, 0, **self.resolve_params(**params))
        return tuple(x.shape[1:]), tuple(y.shape[1:])


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
    prefetched with ``AUTOTUNE``. The examples depend on ``seed`` only; their
    order, as for any ``tf.data`` shuffle, also on TensorFlow's global seed
    (``keras.utils.set_random_seed``): set it too for a repeatable order.

    For a sequence task (``kind="sequence"`` or ``"sequence_classes"``) the
    elements are ``(x, y, mask)``, the mask being per-step sample weights
    for ``model.fit``.

    For a seq2seq task the elements are ``((source, decoder_inputs),
    target)``, all int32: ``source`` ``(batch, S)``, ``decoder_inputs =
    decoder_inputs(target)`` ``(batch, T)`` (the target shifted right behind
    ``START_ID``) and ``target`` ``(batch, T)``, so that ``model.fit`` trains
    a two-input encoder-decoder with teacher forcing directly.

    Args:
        task: Task name or :class:`TaskSpec`.
        num_examples: Number of examples to generate.
        batch_size: Batch size (the last batch may be smaller).
        seed: Seed for both generation and shuffling.
        shuffle: Whether to shuffle the examples.
        repeat: Whether to repeat the dataset indefinitely.
        **params: Task parameters, e.g. ``length=100``.

    Returns:
        A ``tf.data.Dataset`` of ``(x, y)`` batches, or of ``((source,
        decoder_inputs), target)`` batches for seq2seq tasks.

    Raises:
        ValueError: If the task is unknown or an argument is invalid.
    """
    spec = get_task(task)
    check_int(spec.name, "batch_size", batch_size, minimum=1)
    arrays = spec.generate(num_examples, seed=seed, **params)
    x, y = arrays[0], arrays[1]
    if spec.kind == "seq2seq":
        elements = ((x, decoder_inputs(y)), y)
    elif spec.kind in ("sequence", "sequence_classes"):
        elements = (x, y, arrays[2])  # the mask as per-step sample weights
    else:
        elements = (x, y)

    from keras_seqmem._extras import require

    require("keras_seqmem.tasks.make_dataset (tf.data)", ["tensorflow"])
    import tensorflow as tf  # Lazy: generation itself needs numpy only.

    ds = tf.data.Dataset.from_tensor_slices(elements)
    if shuffle:
        ds = ds.shuffle(
            buffer_size=len(x), seed=seed, reshuffle_each_iteration=True
        )
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size)
    return ds.prefetch(tf.data.AUTOTUNE)


# --------------------------------------------------------------------------
# Sequence-to-sequence helpers.
# --------------------------------------------------------------------------


def _check_vocabulary(task: str, name: str, vocabulary) -> None:
    """Raises ValueError unless ``vocabulary`` is a valid seq2seq vocabulary."""
    if tuple(vocabulary[: len(SPECIAL_TOKENS)]) != SPECIAL_TOKENS:
        raise ValueError(
            f"TaskSpec {task!r}: `{name}` must start with {SPECIAL_TOKENS}, "
            f"got {tuple(vocabulary[:3])}"
        )
    if len(vocabulary) <= len(SPECIAL_TOKENS):
        raise ValueError(f"TaskSpec {task!r}: `{name}` has no real token")
    if len(set(vocabulary)) != len(vocabulary):
        raise ValueError(f"TaskSpec {task!r}: `{name}` has duplicate tokens")


def decoder_inputs(target) -> np.ndarray:
    """Teacher-forcing decoder inputs: ``[START_ID] + target[:-1]``.

    Args:
        target: Int array ``(n, T)`` (or ``(T,)``) of target ids as returned
            by a seq2seq task (ids, one ``END_ID``, padding).

    Returns:
        int32 array of the same shape: ``START_ID`` followed by the target
        without its last column.
    """
    target = np.asarray(target)
    if target.ndim < 1 or target.shape[-1] < 1:
        raise ValueError(
            f"decoder_inputs expects targets of shape (n, T) with T >= 1, "
            f"got shape {target.shape}"
        )
    out = np.empty(target.shape, dtype=np.int32)
    out[..., 0] = START_ID
    out[..., 1:] = target[..., :-1]
    return out


def encode(
    tokens,
    vocabulary,
    length: int | None = None,
    end: bool = False,
) -> np.ndarray:
    """Token strings -> ids of ``vocabulary``.

    Args:
        tokens: A string (one token per character) or a sequence of token
            strings.
        vocabulary: Sequence of token strings, id -> token.
        length: If given, right-pad with ``PAD_ID`` to this length.
        end: Whether to append ``END_ID`` (as in seq2seq targets).

    Returns:
        1-D int32 array of ids.

    Raises:
        ValueError: If a token is not in the vocabulary or the ids do not
            fit in ``length``.
    """
    index = {tok: i for i, tok in enumerate(vocabulary)}
    ids = []
    for tok in tokens:
        if tok not in index:
            raise ValueError(f"Token {tok!r} is not in the vocabulary")
        ids.append(index[tok])
    if end:
        ids.append(END_ID)
    if length is not None:
        if len(ids) > length:
            raise ValueError(
                f"{len(ids)} ids do not fit in length={length}"
            )
        ids += [PAD_ID] * (length - len(ids))
    return np.asarray(ids, dtype=np.int32)


def decode(ids, vocabulary, strip: bool = True):
    """Ids -> string, the inverse of :func:`encode`.

    Args:
        ids: 1-D int array of ids, or 2-D ``(n, length)``.
        vocabulary: Sequence of token strings, id -> token.
        strip: If True, stop at the first ``END_ID`` and drop ``PAD_ID`` and
            ``START_ID``; if False, render every id, special tokens included.

    Returns:
        The concatenated token strings; a list of strings for 2-D ``ids``.

    Raises:
        ValueError: If an id is outside the vocabulary.
    """
    ids = np.asarray(ids)
    if ids.ndim == 2:
        return [decode(row, vocabulary, strip=strip) for row in ids]
    if ids.ndim != 1:
        raise ValueError(f"decode expects 1-D or 2-D ids, got shape {ids.shape}")
    out = []
    for i in ids.tolist():
        if not 0 <= i < len(vocabulary):
            raise ValueError(
                f"Id {i} is outside the vocabulary of size {len(vocabulary)}"
            )
        if strip:
            if i == END_ID:
                break
            if i in (PAD_ID, START_ID):
                continue
        out.append(vocabulary[i])
    return "".join(out)


def exact_match(predictions, targets) -> float:
    """Fraction of sequences predicted exactly, the seq2seq metric.

    A row counts as correct when the predicted ids equal the target ids at
    every position up to and including the target's (first) ``END_ID``;
    what follows is ignored.

    Args:
        predictions: Int array ``(n, T')`` of predicted ids (e.g. the argmax
            of the decoder's logits). Shorter rows count as padded with
            ``PAD_ID``; extra columns are ignored.
        targets: Int array ``(n, T)`` of target ids, as from a seq2seq task.

    Returns:
        The exact-match rate in ``[0, 1]``.
    """
    predictions = np.asarray(predictions)
    targets = np.asarray(targets)
    if predictions.ndim != 2 or targets.ndim != 2:
        raise ValueError(
            "exact_match expects 2-D predictions and targets, got shapes "
            f"{predictions.shape} and {targets.shape}"
        )
    if len(predictions) != len(targets):
        raise ValueError(
            f"exact_match: {len(predictions)} predictions for "
            f"{len(targets)} targets"
        )
    if len(targets) == 0:
        return 0.0
    width = targets.shape[1]
    if predictions.shape[1] < width:
        pad = np.full(
            (len(predictions), width - predictions.shape[1]), PAD_ID,
            dtype=predictions.dtype,
        )
        predictions = np.concatenate([predictions, pad], axis=1)
    predictions = predictions[:, :width]
    is_end = targets == END_ID
    # Positions up to and including the first END (all of them without one).
    first_end = np.where(is_end.any(axis=1), is_end.argmax(axis=1), width - 1)
    relevant = np.arange(width)[None, :] <= first_end[:, None]
    correct = ((predictions == targets) | ~relevant).all(axis=1)
    return float(correct.mean())


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
