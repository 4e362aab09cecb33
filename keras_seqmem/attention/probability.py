"""Probability functions: attention scores to attention weights.

What `tfa.seq2seq`'s `probability_fn` was, with the memory mask built in:
every function here maps scores `e` of shape `(..., T_v)` and a boolean
mask `(..., T_v)` (true where a position may be attended to; None attends
everywhere) to weights `α` of the same shape, with

    α_j = 0 at every masked position j, and
    α = 0 everywhere in a row whose positions are all masked.

    softmax    α_j = exp(e_j) / Σ_{k unmasked} exp(e_k)            (default)
    hardmax    α = one_hot(argmax_{j unmasked} e_j)   (first maximum; as
               `tfa.seq2seq.hardmax`; no gradient reaches the scores)
    sparsemax  α_j = max(e_j − τ(e), 0), τ such that Σ_j α_j = 1
               (Martins & Astudillo 2016, "From Softmax to Sparsemax",
               as `tfa.activations.sparsemax`): sort e descending (z),
               k(z) = max{k : 1 + k z_k > Σ_{i≤k} z_i} over unmasked
               positions, τ = (Σ_{i≤k(z)} z_i − 1) / k(z)

A callable `fn(scores) -> weights` may be given instead of a name: it gets
the scores with masked positions set to the most negative finite value of
their dtype (what tfa gave its probability functions), and its weights are
multiplied by the mask.

All of them compute in float32 (float64 for float64 scores), whatever the
compute dtype, and return that dtype; the layers cast back.
"""

import keras
import numpy as np
from keras import ops

from keras_seqmem._ops import masked_softmax

NAMES = ("softmax", "hardmax", "sparsemax")


def _work(scores):
    dtype = keras.backend.standardize_dtype(scores.dtype)
    dtype = "float64" if dtype == "float64" else "float32"
    return ops.cast(scores, dtype), dtype


def masked_hardmax(scores, mask=None, axis=-1):
    """One-hot of the (first) largest unmasked score; zeros in a fully
    masked row."""
    scores, dtype = _work(scores)
    if mask is not None:
        mask = ops.cast(mask, "bool")
        scores = ops.where(mask, scores, ops.cast(float("-inf"), dtype))
    hard = ops.cast(
        ops.equal(
            ops.expand_dims(ops.argmax(scores, axis=axis), axis),
            _positions(scores, axis),
        ),
        dtype,
    )
    if mask is not None:
        hard = hard * ops.cast(mask, dtype)
    return ops.stop_gradient(hard)


def _positions(scores, axis):
    """0, 1, ..., T-1 along `axis` (int32), broadcastable to `scores`."""
    ones = ops.ones_like(scores, dtype="int32")
    return ops.cumsum(ones, axis=axis) - 1


def masked_sparsemax(scores, mask=None, axis=-1):
    """Sparsemax over the unmasked positions; zeros at masked positions and
    in a fully masked row."""
    scores, dtype = _work(scores)
    if axis not in (-1, len(scores.shape) - 1):
        scores = ops.moveaxis(scores, axis, -1)
        if mask is not None:
            mask = ops.moveaxis(ops.cast(mask, "bool"), axis, -1)
        return ops.moveaxis(masked_sparsemax(scores, mask), -1, axis)
    if mask is None:
        valid = ops.ones_like(scores, dtype="bool")
    else:
        valid = ops.logical_and(
            ops.cast(mask, "bool"), ops.ones_like(scores, dtype="bool")
        )
    # z: the scores sorted descending, masked positions last (as -inf, for
    # the ordering only: they are zeroed before any arithmetic).
    ordered = ops.where(valid, scores, ops.cast(float("-inf"), dtype))
    z = ops.flip(ops.sort(ordered, axis=-1), axis=-1)
    n_valid = ops.sum(ops.cast(valid, "int32"), axis=-1, keepdims=True)
    k = _positions(z, -1) + 1  # 1, 2, ..., T
    in_range = k <= n_valid
    z = ops.where(in_range, z, ops.zeros_like(z))
    z_cumsum = ops.cumsum(z, axis=-1)
    kf = ops.cast(k, dtype)
    support = ops.logical_and(in_range, 1.0 + kf * z > z_cumsum)
    k_z = ops.sum(ops.cast(support, dtype), axis=-1, keepdims=True)
    # Σ_{i ≤ k(z)} z_i: the support is a prefix of the sorted scores.
    tau = (ops.sum(ops.where(support, z, ops.zeros_like(z)), axis=-1,
                   keepdims=True) - 1.0) / ops.maximum(k_z, 1.0)
    safe_scores = ops.where(valid, scores, ops.zeros_like(scores))
    weights = ops.maximum(safe_scores - tau, 0.0)
    return weights * ops.cast(valid, dtype)


def _callable_with_mask(fn):
    def probability(scores, mask=None, axis=-1):
        scores, dtype = _work(scores)
        if mask is None:
            return ops.cast(fn(scores), dtype)
        mask = ops.cast(mask, "bool")
        lowest = ops.full_like(scores, _lowest(dtype))
        weights = ops.cast(fn(ops.where(mask, scores, lowest)), dtype)
        return weights * ops.cast(mask, dtype)

    return probability


def _lowest(dtype):
    return float(np.finfo(dtype).min)


_BY_NAME = {
    "softmax": masked_softmax,
    "hardmax": masked_hardmax,
    "sparsemax": masked_sparsemax,
}


def check(probability_fn, layer_name):
    """The argument as given (a name of `NAMES`, or a callable), or a
    ValueError naming the layer and the choices."""
    if isinstance(probability_fn, str) and probability_fn in _BY_NAME:
        return probability_fn
    if callable(probability_fn) and not isinstance(probability_fn, str):
        return probability_fn
    raise ValueError(
        f"Layer '{layer_name}': argument `probability_fn` expected one of "
        f"{', '.join(repr(n) for n in NAMES)} or a callable "
        f"`fn(scores) -> weights`, got probability_fn={probability_fn!r}."
    )


def get(probability_fn):
    """`fn(scores, mask=None, axis=-1) -> weights` for a name of `NAMES` or
    a callable `fn(scores)` (see the module docstring)."""
    if isinstance(probability_fn, str):
        return _BY_NAME[probability_fn]
    return _callable_with_mask(probability_fn)


def serialize(probability_fn):
    """A name as itself; a callable as Keras serializes functions (register
    it with `keras.saving.register_keras_serializable` to reload it)."""
    if isinstance(probability_fn, str):
        return probability_fn
    return keras.saving.serialize_keras_object(probability_fn)


def deserialize(config):
    if isinstance(config, str):
        return config
    return keras.saving.deserialize_keras_object(config)
