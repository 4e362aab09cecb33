"""Key-value memory: the soft associative read of memory networks.

Weston, Chopra & Bordes, "Memory Networks", ICLR 2015; Sukhbaatar, Szlam,
Weston & Fergus, "End-To-End Memory Networks", NIPS 2015, eq. (1)-(2);
Miller et al., "Key-Value Memory Networks for Directly Reading Documents",
EMNLP 2016, section 3.
"""

import keras
from keras import ops

from keras_seqmem import _validation
from keras_seqmem._ops import masked_softmax


def memory_weights(scores, slot_mask=None, softmax_weight=None):
    """Read weights `c` from match scores `α`, over the unmasked slots.

        c = softmax(α)                                  (softmax_weight None)
        c = λ · softmax(α) + (1 − λ) · α ⊙ mask         (softmax_weight = λ)

    The second form is the linear start of Sukhbaatar et al. (2015), section
    4.2: with `λ = 0` the softmax is removed (`c = α` on unmasked slots), and
    `λ = 1` puts it back; `λ` is a tensor, so a compiled training step need
    not be retraced when it changes.

    Args:
        scores: `(..., memory_size)` match scores `α`.
        slot_mask: Optional boolean `(..., memory_size)`, true at real slots.
        softmax_weight: Optional scalar tensor `λ` in [0, 1].

    Returns:
        `(..., memory_size)` weights in float32 (float64 for float64
        scores); exactly zero on masked slots, and all zero when every slot
        is masked.
    """
    weights = masked_softmax(scores, slot_mask, axis=-1)
    if softmax_weight is None:
        return weights
    linear = ops.cast(scores, weights.dtype)
    if slot_mask is not None:
        linear = linear * ops.cast(slot_mask, weights.dtype)
    if isinstance(softmax_weight, (int, float)):
        lam = ops.convert_to_tensor(softmax_weight, dtype=weights.dtype)
    else:
        lam = ops.cast(softmax_weight, weights.dtype)
    return lam * weights + (1.0 - lam) * linear


@keras.saving.register_keras_serializable(package="keras_seqmem")
class KeyValueMemory(keras.layers.Layer):
    """Soft associative read of a key-value memory.

    For a query `x` (`u` in Sukhbaatar et al.) and memory slots with keys
    `k_i` (the input memories `m_i`) and values `v_i` (the output memories
    `c_i`), i = 1..N:

        α_i = k_iᵀ x
        c   = softmax(α) over the unmasked slots (masked: c_i = 0)
        s   = Σ_i c_i v_i

    The layer has no weights: the embeddings that produce `x`, `k_i` and
    `v_i` belong to the model around it (`MemN2N`, `KeyValueMemoryNetwork`,
    or your own). It is what `keras.layers.Attention` computes without
    scaling, but with a memory mask that may be all false (a zero read, not
    NaN), one query or a sequence of queries, and the linear-start option.

    Args:
        dropout: Dropout rate on the read weights `c`, in training only.
        **kwargs: Base `Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: `[query, keys, values]` or `[query, keys]` (values = keys).
            `query` is `(batch, d)` or `(batch, T_q, d)`; `keys` is
            `(batch, N, d)`; `values` is `(batch, N, d_v)`.
        mask: `[query_mask, slot_mask]` or Keras' per-input list
            `[query_mask, keys_mask, values_mask]` (any may be None). A slot
            takes part in the read where every given slot mask is true;
            `query_mask` `(batch, T_q)` zeroes the read at padded queries.
        return_attention_scores: Also return the weights `c`.
        softmax_weight: Optional scalar `λ` in [0, 1] mixing the softmax
            with the raw scores (linear start; see `memory_weights`).
        training: Whether dropout is active.

    Returns:
        The read `s`, `(batch, d_v)` or `(batch, T_q, d_v)`; with
        `return_attention_scores=True` the pair `(s, c)`, `c` of shape
        `(batch, N)` or `(batch, T_q, N)`. A fully masked memory gives
        `c = 0` and `s = 0`.

    Example:

    ```python
    import numpy as np
    import keras_seqmem

    memory = keras_seqmem.KeyValueMemory()
    query = np.random.rand(2, 8).astype("float32")
    keys = np.random.rand(2, 5, 8).astype("float32")
    values = np.random.rand(2, 5, 3).astype("float32")
    slots = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    read, weights = memory(
        [query, keys, values], mask=[None, slots], return_attention_scores=True
    )
    print(read.shape, weights.shape)  # (2, 3) (2, 5)
    ```
    """

    def __init__(self, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.dropout = _validation.check_rate(dropout, "dropout", self.name)
        self.supports_masking = True
        if self.dropout > 0:
            self._dropout_layer = keras.layers.Dropout(
                self.dropout, dtype=self.dtype_policy
            )

    def _split_shapes(self, input_shape):
        if (
            not isinstance(input_shape, (list, tuple))
            or len(input_shape) not in (2, 3)
            or not all(isinstance(s, (list, tuple)) for s in input_shape)
        ):
            raise ValueError(
                f"Layer '{self.name}': expected inputs [query, keys, values] "
                f"or [query, keys], got input shape {input_shape}."
            )
        query_shape, keys_shape = tuple(input_shape[0]), tuple(input_shape[1])
        values_shape = (
            tuple(input_shape[2]) if len(input_shape) == 3 else keys_shape
        )
        if len(query_shape) not in (2, 3):
            raise ValueError(
                f"Layer '{self.name}': expected a query of shape (batch, d) "
                f"or (batch, query_steps, d), got shape {query_shape}."
            )
        for name, shape in (("keys", keys_shape), ("values", values_shape)):
            if len(shape) != 3:
                raise ValueError(
                    f"Layer '{self.name}': expected {name} of shape "
                    f"(batch, memory_size, features), got shape {shape}."
                )
        if (
            query_shape[-1] is not None
            and keys_shape[-1] is not None
            and query_shape[-1] != keys_shape[-1]
        ):
            raise ValueError(
                f"Layer '{self.name}': expected keys with as many features as "
                f"the query ({query_shape[-1]}), got query shape "
                f"{query_shape} and keys shape {keys_shape}."
            )
        if (
            keys_shape[1] is not None
            and values_shape[1] is not None
            and keys_shape[1] != values_shape[1]
        ):
            raise ValueError(
                f"Layer '{self.name}': expected keys and values with the same "
                f"number of slots, got keys shape {keys_shape} and values "
                f"shape {values_shape}."
            )
        return query_shape, keys_shape, values_shape

    def build(self, input_shape):
        self._split_shapes(input_shape)

    def read(
        self, query, keys, values, slot_mask=None, softmax_weight=None,
        training=None,
    ):
        """`(s, c)` for a query against the memory (see the class docs)."""
        single = len(query.shape) == 2
        if single:
            scores = ops.einsum("bd,bnd->bn", query, keys)
        else:
            scores = ops.einsum("bqd,bnd->bqn", query, keys)
            if slot_mask is not None:
                slot_mask = ops.expand_dims(slot_mask, axis=1)
        weights = ops.cast(
            memory_weights(scores, slot_mask, softmax_weight),
            self.compute_dtype,
        )
        if self.dropout > 0:
            weights = self._dropout_layer(weights, training=training)
        if single:
            read = ops.einsum("bn,bnd->bd", weights, values)
        else:
            read = ops.einsum("bqn,bnd->bqd", weights, values)
        return read, weights

    def call(
        self, inputs, mask=None, training=None, return_attention_scores=False,
        softmax_weight=None,
    ):
        query_shape, _, _ = self._split_shapes(
            [tuple(x.shape) for x in inputs]
            if isinstance(inputs, (list, tuple)) else tuple(inputs.shape)
        )
        query, keys = inputs[0], inputs[1]
        values = inputs[2] if len(inputs) == 3 else keys
        query_mask, slot_mask = self._split_mask(mask)
        read, weights = self.read(
            query, keys, values, slot_mask, softmax_weight, training
        )
        if query_mask is not None and len(query_shape) == 3:
            read = read * ops.cast(ops.expand_dims(query_mask, -1), read.dtype)
        if return_attention_scores:
            return read, weights
        return read

    def _split_mask(self, mask):
        if mask is None:
            return None, None
        if not isinstance(mask, (list, tuple)):
            raise ValueError(
                f"Layer '{self.name}': expected mask=[query_mask, slot_mask] "
                f"(or one mask per input), got a single mask of type "
                f"{type(mask).__name__}."
            )
        query_mask = mask[0]
        slot_mask = None
        for m in mask[1:]:
            if m is None:
                continue
            m = ops.cast(m, "bool")
            slot_mask = m if slot_mask is None else ops.logical_and(slot_mask, m)
        return query_mask, slot_mask

    def compute_mask(self, inputs, mask=None):
        query_mask, _ = self._split_mask(mask)
        if query_mask is None or len(inputs[0].shape) != 3:
            return None
        return query_mask

    def compute_output_shape(self, input_shape):
        query_shape, keys_shape, values_shape = self._split_shapes(input_shape)
        return tuple(query_shape[:-1]) + (values_shape[-1],)

    def get_config(self):
        return {**super().get_config(), "dropout": self.dropout}
