"""Small pieces shared by the layer families.

One masked softmax for the whole package: attention weights over source
positions and memory reads over slots both go through `masked_softmax`.
`work_dtype`, `run_layer_rnn` and `sequence_output_mask` serve the sequence
layers that run their own step (the recurrent fast path, `NTM`, `ACTRNN`).
"""

import keras
from keras import ops
from keras.src import backend as _keras_backend


def work_dtype(dtype):
    """float32 (float64 for a float64 layer), whatever the compute dtype: the
    dtype of the NTM's addressing and of ACT's halting and weighted means."""
    dtype = keras.backend.standardize_dtype(dtype)
    return "float64" if dtype == "float64" else "float32"


def run_layer_rnn(layer, step, sequences, initial_state, mask,
                  return_all_outputs):
    """Keras' RNN loop over `sequences` with `step`, under the settings of
    the `keras.layers.RNN` subclass `layer` (`go_backwards`, `unroll`,
    `zero_output_for_mask`). Returns `(last_output, outputs, states)`."""
    return _keras_backend.rnn(
        step,
        sequences,
        initial_state,
        go_backwards=layer.go_backwards,
        mask=mask,
        unroll=layer.unroll,
        input_length=sequences.shape[1],
        zero_output_for_mask=layer.zero_output_for_mask,
        return_all_outputs=return_all_outputs,
    )


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
