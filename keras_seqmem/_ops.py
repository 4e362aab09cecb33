"""Small pieces shared by the layer families.

One masked softmax for the whole package: attention weights over source
positions and memory reads over slots both go through `masked_softmax`.
`work_dtype`, `run_layer_rnn`, `call_cell` and `sequence_output_mask` serve
the sequence layers that run their own step (the recurrent fast path, `NTM`,
`ACTRNN`, `AttentiveDecoder`).
"""

import inspect

import keras
from keras import ops

from keras_seqmem import _loop


def work_dtype(dtype):
    """float32 (float64 for a float64 layer), whatever the compute dtype: the
    dtype of the NTM's addressing and of ACT's halting and weighted means."""
    dtype = keras.backend.standardize_dtype(dtype)
    return "float64" if dtype == "float64" else "float32"


def run_layer_rnn(layer, step, sequences, initial_state, mask,
                  return_all_outputs):
    """keras_seqmem's loop (`_loop.rnn`) over `sequences` with `step`,
    under the settings of the `keras.layers.RNN` subclass `layer`
    (`go_backwards`, `unroll`, `zero_output_for_mask`). Returns
    `(last_output, outputs, states)`; `outputs` is None unless
    `return_all_outputs`."""
    return _loop.rnn(
        step,
        sequences,
        initial_state,
        go_backwards=layer.go_backwards,
        mask=mask,
        unroll=layer.unroll,
        zero_output_for_mask=layer.zero_output_for_mask,
        return_all_outputs=return_all_outputs,
    )


def accepts_training(fn):
    """Whether the callable `fn` takes a `training` keyword argument."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "training" or p.kind is p.VAR_KEYWORD
               for p in parameters)


def call_cell(cell, inputs, states, training=None):
    """`cell(inputs, states)`, passing `training` where the cell takes it.

    A Keras layer's `__call__` forwards `training` to `call` only when
    `call` declares it (the documented Keras 3 behaviour), so layers always
    get it; any other callable cell gets it when its `call` signature has
    it."""
    if isinstance(cell, keras.layers.Layer):
        return cell(inputs, states, training=training)
    if accepts_training(cell.call):
        return cell.call(inputs, states, training=training)
    return cell.call(inputs, states)


def sequence_output_mask(mask, return_sequences, extra_outputs):
    """`compute_mask` of a sequence layer returning its output and then
    `extra_outputs` unmasked tensors (states, weightings, ponder counts)."""
    if isinstance(mask, (list, tuple)):
        mask = mask[0]
    output_mask = mask if return_sequences else None
    if extra_outputs:
        return [output_mask] + [None] * extra_outputs
    return output_mask


def masked_softmax(scores, mask=None, axis=-1):
    """Softmax over `axis` restricted to the positions where `mask` is true.

        α_j = exp(e_j) / Σ_{k: mask_k} exp(e_k)   if mask_j,   α_j = 0 otherwise.

    Computed in float32 (or float64 when `scores` are float64) whatever the
    input dtype, so that float16/bfloat16 scores neither overflow in `exp`
    nor lose the small weights; the result is returned in that dtype too,
    and the caller casts back to its compute dtype.

    Masked positions get exactly zero weight, and a row whose positions are
    all masked gets all-zero weights (not the NaN of `0/0`, and not a uniform
    distribution over padding).

    Args:
        scores: Tensor of unnormalised scores `e`, any shape.
        mask: Boolean tensor broadcastable to `scores`, true where a position
            may be attended to; None attends everywhere.
        axis: The axis to normalise over.

    Returns:
        The weights `α`, same shape as `scores`, float32 (float64 for float64
        scores).
    """
    dtype = keras.backend.standardize_dtype(scores.dtype)
    dtype = "float64" if dtype == "float64" else "float32"
    scores = ops.cast(scores, dtype)
    if mask is None:
        return _softmax(scores, axis)
    mask = ops.cast(mask, "bool")
    # Masked scores become a large negative number (not -inf, whose
    # arithmetic gives NaN in a fully masked row), so exp(·) of them is
    # exactly 0 next to any valid score; multiplying by the mask then zeroes
    # the uniform weights a fully masked row would otherwise get.
    scores = ops.where(mask, scores, ops.cast(-1e9, dtype))
    return _softmax(scores, axis) * ops.cast(mask, dtype)


def _softmax(scores, axis):
    # Written out rather than `ops.softmax`, which warns on an axis of size
    # 1 -- a legitimate case here (a one-step source, a one-slot memory).
    exp = ops.exp(scores - ops.max(scores, axis=axis, keepdims=True))
    return exp / ops.sum(exp, axis=axis, keepdims=True)
