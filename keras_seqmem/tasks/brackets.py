"""Balanced brackets: is a code-like string correctly nested?

Each example is a string of "code" characters -- filler letters, digits and
operators (``a-z 0-9 + - * / = , ; . : _`` and space) mixed with brackets --
encoded as integer token ids (0 = padding, at the end). The label is 1 when
the brackets are balanced by the standard stack rule: every closing bracket
closes the most recent unclosed opening bracket of the same type, and nothing
is left open at the end. With a single bracket type (the default
``pairs="()"``) this is exactly "every prefix has depth >= 0 and the final
depth is 0", so the network must *count* open brackets over long spans.

Recognising bracket (Dyck) languages is the classic test of whether a
recurrent network can learn counting / stack-like memory; see Gers &
Schmidhuber, "LSTM recurrent networks learn simple context-free and
context-sensitive languages" (IEEE TNN 2001) and Suzgun et al., "LSTM
networks can perform dynamic counting" (ACL workshop, 2019).

Classes are balanced 50/50 and the negatives are *hard*: each one is a
balanced string with a single corruption, so simple statistics (length,
number of brackets, bracket fraction) do not separate the classes:

* ``"swap"``: a top-level ``(`` and a later ``)`` exchange places. The
  bracket counts still match and the final depth is 0, but the depth goes to
  -1 (or -2) in the middle.
* ``"flip_open"`` / ``"flip_close"``: one ``(`` becomes ``)`` (final depth
  -2) or one ``)`` becomes ``(`` (final depth +2).
* ``"drop_open"`` / ``"drop_close"``: one bracket is replaced by a filler
  character (final depth -1 or +1).
* ``"mismatch"`` (several bracket types only): one closing bracket is
  replaced by a closing bracket of another type, e.g. ``( ... ]``.

Hence, for one bracket type, every negative has a minimum prefix depth in
``{-2, -1}`` or a final depth in ``{-2, -1, 1, 2}``.

Example:
    >>> from keras_seqmem.tasks import brackets
    >>> x, y = brackets.generate(4, seed=0, length=30, min_length=10)
    >>> brackets.decode(x[0])  # doctest: +SKIP
    'k(x+(3);) =a..'
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .base import (
    TaskSpec,
    balanced_labels,
    check_float,
    check_int,
    register_task,
)

__all__ = [
    "BRACKET_CHARS",
    "FILLER_CHARS",
    "VOCAB",
    "VOCAB_SIZE",
    "vocab_size",
    "PAD_ID",
    "CORRUPTIONS",
    "SPEC",
    "generate",
    "encode",
    "decode",
    "is_balanced",
]

NAME = "brackets"

BRACKET_CHARS = "()[]{}"
"""Supported bracket characters, as (open, close) pairs."""

FILLER_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789+-*/=,;.:_ "
"""Non-bracket "code" characters used as filler."""

PAD_ID = 0
VOCAB: tuple[str, ...] = ("<pad>",) + tuple(BRACKET_CHARS) + tuple(FILLER_CHARS)
"""Token strings; ``VOCAB[i]`` is the character of token id ``i``."""

VOCAB_SIZE = len(VOCAB)
vocab_size = VOCAB_SIZE  # Lower-case alias.

_CHAR_TO_ID = {c: i for i, c in enumerate(VOCAB) if i != PAD_ID}
_FILLER_IDS = np.array([_CHAR_TO_ID[c] for c in FILLER_CHARS], dtype=np.int32)

CORRUPTIONS = (
    "swap",
    "flip_open",
    "flip_close",
    "drop_open",
    "drop_close",
    "mismatch",
)
"""Kinds of corruption used to make negatives (see the module docstring)."""

_DEFAULT_WEIGHTS_ONE_TYPE = {
    "swap": 0.4,
    "flip_open": 0.15,
    "flip_close": 0.15,
    "drop_open": 0.15,
    "drop_close": 0.15,
    "mismatch": 0.0,
}
_DEFAULT_WEIGHTS_MANY_TYPES = {
    "swap": 0.3,
    "flip_open": 0.125,
    "flip_close": 0.125,
    "drop_open": 0.125,
    "drop_close": 0.125,
    "mismatch": 0.2,
}

# Rows generated at once, to bound memory for large datasets.
_CHUNK = 16384


def encode(text: str, length: int | None = None) -> np.ndarray:
    """Encodes a string into token ids.

    Args:
        text: Characters from :data:`BRACKET_CHARS` and :data:`FILLER_CHARS`.
        length: If given, pad with 0 at the end to this length.

    Returns:
        int32 array of shape ``(len(text),)`` or ``(length,)``.

    Raises:
        ValueError: On an unknown character, or if ``text`` is too long.
    """
    try:
        ids = [_CHAR_TO_ID[c] for c in text]
    except KeyError as err:
        raise ValueError(f"Task 'brackets': cannot encode character {err}") from None
    if length is not None:
        if len(ids) > length:
            raise ValueError(
                f"Task 'brackets': text of length {len(ids)} does not fit in "
                f"`length`={length}"
            )
        ids = ids + [PAD_ID] * (length - len(ids))
    return np.asarray(ids, dtype=np.int32)


def decode(ids) -> str | list[str]:
    """Decodes token ids into a readable string, dropping padding.

    Args:
        ids: 1-D sequence of token ids, or a 2-D batch.

    Returns:
        The string, or a list of strings for a 2-D input.
    """
    arr = np.asarray(ids)
    if arr.ndim == 2:
        return [decode(row) for row in arr]
    if arr.ndim != 1:
        raise ValueError(f"decode expects 1-D or 2-D ids, got shape {arr.shape}")
    return "".join(VOCAB[int(i)] for i in arr if int(i) != PAD_ID)


def is_balanced(text, pairs: str = "()") -> bool:
    """Reference checker with the standard stack rule.

    Args:
        text: A string, or a 1-D sequence of token ids (padding ignored).
        pairs: Bracket pairs, e.g. ``"()[]{}"``; other characters are
            ignored.

    Returns:
        True when ``text`` is correctly nested.
    """
    if not isinstance(text, str):
        text = decode(text)
    closers = {pairs[i + 1]: pairs[i] for i in range(0, len(pairs), 2)}
    openers = set(pairs[0::2])
    stack = []
    for c in text:
        if c in openers:
            stack.append(c)
        elif c in closers:
            if not stack or stack.pop() != closers[c]:
                return False
    return not stack


def _check_pairs(pairs) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(pairs, str) or len(pairs) == 0 or len(pairs) % 2:
        raise ValueError(
            f"Task {NAME!r}: parameter `pairs` must be a non-empty string of "
            f"(open, close) pairs from {BRACKET_CHARS!r}, got {pairs!r}"
        )
    valid_pairs = {BRACKET_CHARS[i : i + 2] for i in range(0, len(BRACKET_CHARS), 2)}
    chunks = [pairs[i : i + 2] for i in range(0, len(pairs), 2)]
    if any(c not in valid_pairs for c in chunks) or len(set(chunks)) != len(chunks):
        raise ValueError(
            f"Task {NAME!r}: parameter `pairs` must list distinct pairs among "
            f"{sorted(valid_pairs)}, got {pairs!r}"
        )
    open_ids = np.array([_CHAR_TO_ID[c[0]] for c in chunks], dtype=np.int32)
    close_ids = np.array([_CHAR_TO_ID[c[1]] for c in chunks], dtype=np.int32)
    return open_ids, close_ids


def _check_weights(weights, num_types: int) -> np.ndarray:
    if weights is None:
        table = (
            _DEFAULT_WEIGHTS_ONE_TYPE if num_types == 1 else _DEFAULT_WEIGHTS_MANY_TYPES
        )
        w = np.array([table[k] for k in CORRUPTIONS], dtype=np.float64)
        return w / w.sum()
    if not isinstance(weights, Mapping):
        raise ValueError(
            f"Task {NAME!r}: parameter `corruption_weights` must be a mapping "
            f"from {CORRUPTIONS} to non-negative weights, got {weights!r}"
        )
    unknown = sorted(set(weights) - set(CORRUPTIONS))
    if unknown:
        raise ValueError(
            f"Task {NAME!r}: parameter `corruption_weights` has unknown "
            f"kind(s) {unknown}; expected keys among {CORRUPTIONS}"
        )
    w = np.array([float(weights.get(k, 0.0)) for k in CORRUPTIONS])
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(
            f"Task {NAME!r}: parameter `corruption_weights` must be "
            f"non-negative with a positive sum, got {dict(weights)!r}"
        )
    if num_types == 1 and w[CORRUPTIONS.index("mismatch")] > 0:
        raise ValueError(
            f"Task {NAME!r}: parameter `corruption_weights` gives weight to "
            f"'mismatch', which needs at least two bracket types in `pairs`"
        )
    return w / w.sum()


def _pick(rng: np.random.Generator, mask: np.ndarray) -> np.ndarray:
    """Uniformly random True column of each row (each row has one)."""
    scores = rng.random(mask.shape, dtype=np.float32)
    return np.where(mask, scores, -1.0).argmax(axis=1)


def _positives(
    rng: np.random.Generator,
    lengths: np.ndarray,
    length: int,
    bracket_prob: float,
    max_depth: int | None,
    open_ids: np.ndarray,
    close_ids: np.ndarray,
) -> np.ndarray:
    """Random balanced strings of the given lengths, padded to ``length``."""
    n = lengths.shape[0]
    positions = np.arange(length)
    valid = positions[None, :] < lengths[:, None]

    # Which positions hold brackets: an even number >= 2 per row.
    is_br = (rng.random((n, length), dtype=np.float32) < bracket_prob) & valid
    toggle = np.minimum((rng.random(n) * lengths).astype(np.int64), lengths - 1)
    odd = np.nonzero(is_br.sum(axis=1) % 2 == 1)[0]
    is_br[odd, toggle[odd]] ^= True
    empty = np.nonzero(is_br.sum(axis=1) == 0)[0]
    if empty.size:
        span = lengths[empty]
        j1 = np.minimum((rng.random(empty.size) * span).astype(np.int64), span - 1)
        off = np.minimum(
            (rng.random(empty.size) * (span - 1)).astype(np.int64), span - 2
        )
        j2 = (j1 + 1 + off) % span
        is_br[empty, j1] = True
        is_br[empty, j2] = True
    # Brackets at positions >= t (t included).
    remaining = np.cumsum(is_br[:, ::-1], axis=1, dtype=np.int32)[:, ::-1]

    # Random walk over the bracket positions that never goes below 0, never
    # above max_depth, and can always get back to 0 by the end.
    cap = length if max_depth is None else max_depth
    num_types = open_ids.shape[0]
    tokens = np.zeros((n, length), dtype=np.int32)
    depth = np.zeros(n, dtype=np.int64)
    stack = np.zeros((n, min(cap, length // 2) + 1), dtype=np.int8)
    for t in range(length):
        rows = np.nonzero(is_br[:, t])[0]
        if rows.size == 0:
            continue
        d = depth[rows]
        can_up = (d + 1 <= remaining[rows, t] - 1) & (d < cap)
        coin = rng.random(rows.size) < 0.5
        up = can_up & ((d == 0) | coin)
        up_rows, down_rows = rows[up], rows[~up]
        if num_types > 1:
            kinds = rng.integers(0, num_types, size=up_rows.size).astype(np.int8)
        else:
            kinds = np.zeros(up_rows.size, dtype=np.int8)
        stack[up_rows, depth[up_rows]] = kinds
        tokens[up_rows, t] = open_ids[kinds]
        depth[up_rows] += 1
        depth[down_rows] -= 1
        tokens[down_rows, t] = close_ids[stack[down_rows, depth[down_rows]]]

    filler = _FILLER_IDS[rng.integers(0, _FILLER_IDS.size, size=(n, length))]
    return np.where(valid & ~is_br, filler, tokens).astype(np.int32)


def _corrupt(
    rng: np.random.Generator,
    tokens: np.ndarray,
    weights: np.ndarray,
    open_ids: np.ndarray,
    close_ids: np.ndarray,
) -> np.ndarray:
    """Applies one corruption per row of balanced ``tokens`` (copy)."""
    tokens = tokens.copy()
    n, length = tokens.shape
    num_types = open_ids.shape[0]
    type_of = np.full(VOCAB_SIZE, -1, dtype=np.int64)
    type_of[open_ids] = np.arange(num_types)
    type_of[close_ids] = np.arange(num_types)
    is_open = np.isin(tokens, open_ids)
    is_close = np.isin(tokens, close_ids)
    depth_after = np.cumsum(is_open.astype(np.int32) - is_close, axis=1)
    kinds = rng.choice(len(CORRUPTIONS), size=n, p=weights)
    positions = np.arange(length)

    for k, kind in enumerate(CORRUPTIONS):
        rows = np.nonzero(kinds == k)[0]
        if rows.size == 0:
            continue
        if kind == "swap":
            i = _pick(rng, is_open[rows] & (depth_after[rows] == 1))
            j = _pick(rng, is_close[rows] & (positions[None, :] > i[:, None]))
            ti, tj = tokens[rows, i], tokens[rows, j]
            tokens[rows, i], tokens[rows, j] = tj, ti
        elif kind in ("flip_open", "drop_open"):
            i = _pick(rng, is_open[rows])
            if kind == "flip_open":
                new = close_ids[type_of[tokens[rows, i]]]
            else:
                new = _FILLER_IDS[rng.integers(0, _FILLER_IDS.size, size=rows.size)]
            tokens[rows, i] = new
        elif kind in ("flip_close", "drop_close"):
            i = _pick(rng, is_close[rows])
            if kind == "flip_close":
                new = open_ids[type_of[tokens[rows, i]]]
            else:
                new = _FILLER_IDS[rng.integers(0, _FILLER_IDS.size, size=rows.size)]
            tokens[rows, i] = new
        else:  # mismatch
            i = _pick(rng, is_close[rows])
            shift = rng.integers(1, num_types, size=rows.size)
            tokens[rows, i] = close_ids[(type_of[tokens[rows, i]] + shift) % num_types]
    return tokens


def generate(
    num_examples: int,
    seed: int | None = 0,
    *,
    length: int = 40,
    min_length: int | None = None,
    max_depth: int | None = None,
    bracket_prob: float = 0.5,
    pairs: str = "()",
    corruption_weights: Mapping[str, float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Generates the balanced-brackets task.

    Args:
        num_examples: Number of examples (half positives, half negatives).
        seed: Seed of ``numpy.random.default_rng``.
        length: Maximum (and padded) sequence length, >= 2.
        min_length: Minimum length, in ``[2, length]``; defaults to
            ``length`` (fixed length). Lengths are uniform in
            ``[min_length, length]`` and sequences are padded with 0 at the
            end.
        max_depth: Maximum nesting depth of the positives (>= 1), or ``None``
            for no limit. Corrupted negatives may exceed it by up to 2.
        bracket_prob: Approximate fraction of positions holding a bracket,
            in ``(0, 1]``. (Every example has an even number >= 2 of brackets
            before corruption.)
        pairs: Bracket pairs to use, e.g. ``"()"`` or ``"()[]{}"``.
        corruption_weights: Relative frequency of each kind of negative,
            a mapping with keys among :data:`CORRUPTIONS`; ``None`` for the
            defaults (40% ``swap`` and 15% each flip/drop with one bracket
            type; 30% ``swap``, 20% ``mismatch``, 12.5% each flip/drop with
            several).

    Returns:
        ``(x, y)``: ``x`` int32 ``(num_examples, length)`` token ids (see
        :data:`VOCAB`), ``y`` float32 ``(num_examples, 1)`` labels.

    Raises:
        ValueError: If a parameter is invalid.
    """
    num_examples = check_int(NAME, "num_examples", num_examples, minimum=1)
    length = check_int(NAME, "length", length, minimum=2)
    if min_length is None:
        min_length = length
    min_length = check_int(NAME, "min_length", min_length, minimum=2, maximum=length)
    if max_depth is not None:
        max_depth = check_int(NAME, "max_depth", max_depth, minimum=1)
    bracket_prob = check_float(
        NAME, "bracket_prob", bracket_prob, 0.0, 1.0, low_inclusive=False
    )
    open_ids, close_ids = _check_pairs(pairs)
    weights = _check_weights(corruption_weights, open_ids.shape[0])

    rng = np.random.default_rng(seed)
    labels = balanced_labels(rng, num_examples)
    x = np.zeros((num_examples, length), dtype=np.int32)
    for start in range(0, num_examples, _CHUNK):
        stop = min(start + _CHUNK, num_examples)
        lengths = rng.integers(min_length, length + 1, size=stop - start)
        chunk = _positives(
            rng, lengths, length, bracket_prob, max_depth, open_ids, close_ids
        )
        neg = np.nonzero(~labels[start:stop])[0]
        chunk[neg] = _corrupt(rng, chunk[neg], weights, open_ids, close_ids)
        x[start:stop] = chunk
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
        defaults={
            "length": 40,
            "min_length": None,
            "max_depth": None,
            "bracket_prob": 0.5,
            "pairs": "()",
            "corruption_weights": None,
        },
        vocab_size=VOCAB_SIZE,
        description="Are the brackets of a code-like string balanced?",
    )
)
"""The registered :class:`TaskSpec` of this task."""
