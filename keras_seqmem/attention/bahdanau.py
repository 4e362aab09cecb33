"""Bahdanau (additive) attention that owns its projections.

Bahdanau, Cho & Bengio, "Neural Machine Translation by Jointly Learning to
Align and Translate", ICLR 2015, eq. (6) and appendix A.1.2.
"""

import keras
from keras import constraints
from keras import initializers
from keras import ops
from keras import regularizers

from keras_seqmem import _validation
from keras_seqmem._ops import masked_softmax


@keras.saving.register_keras_serializable(package="keras_seqmem")
class BahdanauAttention(keras.layers.Layer):
    """Additive attention of Bahdanau et al. (2015), with its projections.

    For a query `q` and memory keys `k_j` / values `v_j`, j = 1..T_v:

        e_j = score_kernelᵀ tanh(q · query_kernel + k_j · key_kernel)
        α   = softmax(e) over the unmasked positions j (masked: α_j = 0)
        context = Σ_j α_j v_j

    With `normalize=True` (weight normalisation, Salimans & Kingma 2016, as
    `tfa.seq2seq.BahdanauAttention(normalize=True)`):

        e_j = (score_gain · score_kernel / ‖score_kernel‖)ᵀ
              tanh(q · query_kernel + k_j · key_kernel + score_bias)

    `score_kernel` is `v_a` of the paper, `query_kernel` is `W_a` and
    `key_kernel` is `U_a`. Keys default to the values. Unlike
    `keras.layers.AdditiveAttention`, which adds query and key as given, this
    layer owns the projections, so query and keys may have different sizes;
    and the keys can be projected once per sequence (`project_keys`) and
    reused at every decoding step (`attend`), which is what
    `AttentiveDecoder` does.

    Weights: `query_kernel (d_q, units)`, `key_kernel (d_k, units)`,
    `score_kernel (units,)`; with `normalize`, also `score_gain ()` (starts
    at `sqrt(1 / units)`, as tfa) and `score_bias (units,)`.

    Args:
        units: Size `n` of the hidden layer of the alignment model.
        normalize: Weight-normalise `score_kernel` with a learned scalar gain
            and add a bias inside the `tanh`.
        dropout: Dropout rate on the attention weights, in training only.
        kernel_initializer: Initializer of `query_kernel` and `key_kernel`.
        score_initializer: Initializer of `score_kernel`.
        kernel_regularizer, score_regularizer: Optional regularizers.
        kernel_constraint, score_constraint: Optional constraints.
        **kwargs: Base `Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: `[query, value]` or `[query, value, key]`. `query` is a single
            decoder step `(batch, d_q)` or a sequence `(batch, T_q, d_q)`;
            `value` is `(batch, T_v, d_v)`; `key` is `(batch, T_v, d_k)`
            (default: `value`).
        mask: `[query_mask, value_mask]` (either may be None): `value_mask`
            `(batch, T_v)` is true at positions that may be attended to;
            `query_mask` `(batch, T_q)` zeroes the context at padded query
            steps. Keras fills it from `Masking` / `mask_zero` embeddings.
        return_attention_scores: Also return the weights `α`.
        training: Whether dropout is active.

    Returns:
        `context` of shape `(batch, d_v)` or `(batch, T_q, d_v)`, and with
        `return_attention_scores=True` the pair `(context, weights)`, with
        `weights` of shape `(batch, T_v)` or `(batch, T_q, T_v)`. A query
        whose memory is entirely masked gets zero weights and zero context.

    Example:

    ```python
    import numpy as np
    import keras_seqmem

    attention = keras_seqmem.BahdanauAttention(16)
    query = np.random.rand(2, 8).astype("float32")       # one decoder step
    memory = np.random.rand(2, 5, 12).astype("float32")  # encoder outputs
    context, weights = attention([query, memory], return_attention_scores=True)
    print(context.shape, weights.shape)  # (2, 12) (2, 5)
    ```
    """

    def __init__(
        self,
        units,
        normalize=False,
        dropout=0.0,
        kernel_initializer="glorot_uniform",
        score_initializer="glorot_uniform",
        kernel_regularizer=None,
        score_regularizer=None,
        kernel_constraint=None,
        score_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = _validation.check_positive_int(units, "units", self.name)
        if not isinstance(normalize, bool):
            raise ValueError(
                f"Layer '{self.name}': argument `normalize` expected a bool, "
                f"got normalize={normalize!r}."
            )
        self.normalize = normalize
        self.dropout = _validation.check_rate(dropout, "dropout", self.name)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.score_initializer = initializers.get(score_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.score_regularizer = regularizers.get(score_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.score_constraint = constraints.get(score_constraint)
        self.supports_masking = True
        if self.dropout > 0:
            self._dropout_layer = keras.layers.Dropout(
                self.dropout, dtype=self.dtype_policy
            )

    # -- shapes -------------------------------------------------------------

    def _split_shapes(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) not in (
            2, 3,
        ) or not all(isinstance(s, (list, tuple)) for s in input_shape):
            raise ValueError(
                f"Layer '{self.name}': expected inputs [query, value] or "
                f"[query, value, key], got input shape {input_shape}."
            )
        query_shape, value_shape = tuple(input_shape[0]), tuple(input_shape[1])
        key_shape = tuple(input_shape[2]) if len(input_shape) == 3 else value_shape
        if len(query_shape) not in (2, 3):
            raise ValueError(
                f"Layer '{self.name}': expected a query of shape "
                f"(batch, query_dim) or (batch, query_steps, query_dim), got "
                f"shape {query_shape}."
            )
        for name, shape in (("value", value_shape), ("key", key_shape)):
            if len(shape) != 3:
                raise ValueError(
                    f"Layer '{self.name}': expected a {name} of shape "
                    f"(batch, memory_steps, {name}_dim), got shape {shape}."
                )
        if (
            key_shape[1] is not None
            and value_shape[1] is not None
            and key_shape[1] != value_shape[1]
        ):
            raise ValueError(
                f"Layer '{self.name}': expected key and value with the same "
                f"number of memory steps, got key shape {key_shape} and value "
                f"shape {value_shape}."
            )
        return query_shape, value_shape, key_shape

    def build(self, input_shape):
        query_shape, _, key_shape = self._split_shapes(input_shape)
        _validation.check_feature_size(query_shape, self.name)
        _validation.check_feature_size(key_shape, self.name)
        self.query_kernel = self.add_weight(
            name="query_kernel",
            shape=(query_shape[-1], self.units),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.key_kernel = self.add_weight(
            name="key_kernel",
            shape=(key_shape[-1], self.units),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.score_kernel = self.add_weight(
            name="score_kernel",
            shape=(self.units,),
            initializer=self.score_initializer,
            regularizer=self.score_regularizer,
            constraint=self.score_constraint,
        )
        if self.normalize:
            self.score_gain = self.add_weight(
                name="score_gain",
                shape=(),
                initializer=initializers.Constant((1.0 / self.units) ** 0.5),
            )
            self.score_bias = self.add_weight(
                name="score_bias", shape=(self.units,), initializer="zeros"
            )

    def _check_features(self, shape, kernel, name):
        if shape[-1] is not None and shape[-1] != kernel.shape[0]:
            raise ValueError(
                f"Layer '{self.name}': expected a {name} with {kernel.shape[0]} "
                f"features (the size it was built with), got shape "
                f"{tuple(shape)}."
            )

    # -- the two halves of the computation ------------------------------------

    def project_keys(self, keys):
        """`k_j · key_kernel` for every memory position: `(batch, T_v, units)`.

        Done once per source sequence; pass the result to `attend` at every
        decoding step.
        """
        self._check_features(keys.shape, self.key_kernel, "key")
        return ops.matmul(keys, self.key_kernel)

    def attend(
        self, query, processed_keys, values, value_mask=None, training=None
    ):
        """Scores, weights and context for a query against projected keys.

        Args:
            query: `(batch, d_q)` or `(batch, T_q, d_q)`.
            processed_keys: `project_keys(keys)`, `(batch, T_v, units)`.
            values: `(batch, T_v, d_v)`.
            value_mask: Optional boolean `(batch, T_v)`.
            training: Whether dropout is active.

        Returns:
            `(context, weights)`: `(batch, [T_q,] d_v)` and
            `(batch, [T_q,] T_v)`, in the layer's compute dtype.
        """
        self._check_features(query.shape, self.query_kernel, "query")
        single_step = len(query.shape) == 2
        processed_query = ops.matmul(query, self.query_kernel)
        if single_step:
            # (batch, 1, units) + (batch, T_v, units)
            hidden = processed_query[:, None, :] + processed_keys
        else:
            # (batch, T_q, 1, units) + (batch, 1, T_v, units)
            hidden = processed_query[:, :, None, :] + processed_keys[:, None]
        score_kernel = self.score_kernel
        if self.normalize:
            hidden = hidden + self.score_bias
            score_kernel = (
                self.score_gain
                * score_kernel
                * ops.rsqrt(ops.sum(ops.square(score_kernel)))
            )
        scores = ops.sum(score_kernel * ops.tanh(hidden), axis=-1)
        if value_mask is not None and not single_step:
            value_mask = ops.expand_dims(value_mask, axis=1)
        weights = ops.cast(
            masked_softmax(scores, value_mask, axis=-1), self.compute_dtype
        )
        if self.dropout > 0:
            weights = self._dropout_layer(weights, training=training)
        if single_step:
            context = ops.einsum("bj,bjd->bd", weights, values)
        else:
            context = ops.einsum("bij,bjd->bid", weights, values)
        return context, weights

    def call(
        self, inputs, mask=None, training=None, return_attention_scores=False
    ):
        query_shape, value_shape, key_shape = self._split_shapes(
            [tuple(x.shape) for x in inputs]
        )
        query, values = inputs[0], inputs[1]
        keys = inputs[2] if len(inputs) == 3 else values
        query_mask, value_mask = self._split_mask(mask)
        context, weights = self.attend(
            query, self.project_keys(keys), values, value_mask, training
        )
        if query_mask is not None and len(query_shape) == 3:
            context = context * ops.cast(
                ops.expand_dims(query_mask, -1), context.dtype
            )
        if return_attention_scores:
            return context, weights
        return context

    @staticmethod
    def _split_mask(mask):
        if mask is None:
            return None, None
        if not isinstance(mask, (list, tuple)):
            raise ValueError(
                "BahdanauAttention expected mask=[query_mask, value_mask], "
                f"got a single mask of type {type(mask).__name__}."
            )
        return mask[0], mask[1] if len(mask) > 1 else None

    def compute_mask(self, inputs, mask=None):
        query_mask, _ = self._split_mask(mask)
        if query_mask is None or len(inputs[0].shape) != 3:
            return None
        return query_mask

    def get_config(self):
        config = {
            "units": self.units,
            "normalize": self.normalize,
            "dropout": self.dropout,
            "kernel_initializer": initializers.serialize(
                self.kernel_initializer
            ),
            "score_initializer": initializers.serialize(self.score_initializer),
            "kernel_regularizer": regularizers.serialize(
                self.kernel_regularizer
            ),
            "score_regularizer": regularizers.serialize(self.score_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "score_constraint": constraints.serialize(self.score_constraint),
        }
        return {**super().get_config(), **config}
