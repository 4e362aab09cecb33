"""Luong (multiplicative) attention, as `tfa.seq2seq.LuongAttention`.

Luong, Pham & Manning, "Effective Approaches to Attention-based Neural
Machine Translation", EMNLP 2015, eq. (8), the "general" score
`score(h_t, h̄_s) = h_tᵀ W_a h̄_s`; the scaled form (a learned scalar in
front of the score) is tfa's, after the weight-normalised Bahdanau score.
"""

import keras
from keras import constraints
from keras import initializers
from keras import ops
from keras import regularizers

from keras_seqmem import _validation
from keras_seqmem.attention import probability
from keras_seqmem.attention.bahdanau import AttentionMechanism


class MultiplicativeScore(AttentionMechanism):
    """Luong's score `e_j = g · q · (k_j · key_kernel)`: the weights and the
    score shared by `LuongAttention` and `LuongMonotonicAttention`."""

    def __init__(
        self,
        units,
        scale=False,
        kernel_initializer="glorot_uniform",
        kernel_regularizer=None,
        kernel_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = _validation.check_positive_int(units, "units", self.name)
        if not isinstance(scale, bool):
            raise ValueError(
                f"Layer '{self.name}': argument `scale` expected a bool, "
                f"got scale={scale!r}."
            )
        self.scale = scale
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)

    def build(self, input_shape):
        query_shape, _, key_shape = self._split_shapes(input_shape)
        _validation.check_feature_size(query_shape, self.name)
        _validation.check_feature_size(key_shape, self.name)
        if query_shape[-1] != self.units:
            raise ValueError(
                f"Layer '{self.name}': expected a query with units="
                f"{self.units} features (the score is the dot product of the "
                f"query with the keys projected to `units`), got query shape "
                f"{query_shape}; set units={query_shape[-1]}, or project the "
                f"query to {self.units} features first."
            )
        self.key_kernel = self.add_weight(
            name="key_kernel",
            shape=(key_shape[-1], self.units),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        if self.scale:
            self.score_gain = self.add_weight(
                name="score_gain", shape=(), initializer="ones"
            )

    def project_keys(self, keys):
        """`k_j · key_kernel` for every memory position: `(batch, T_v, units)`.

        Done once per source sequence; pass the result to `attend` at every
        decoding step.
        """
        self._check_features(keys.shape, self.key_kernel.shape[0], "key")
        return ops.matmul(keys, self.key_kernel)

    def _scores(self, query, processed_keys):
        self._check_features(query.shape, self.units, "query")
        if len(query.shape) == 2:
            scores = ops.einsum("bu,bju->bj", query, processed_keys)
        else:
            scores = ops.einsum("biu,bju->bij", query, processed_keys)
        if self.scale:
            scores = self.score_gain * scores
        return scores

    def get_config(self):
        config = {
            "units": self.units,
            "scale": self.scale,
            "kernel_initializer": initializers.serialize(
                self.kernel_initializer
            ),
            "kernel_regularizer": regularizers.serialize(
                self.kernel_regularizer
            ),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="keras_seqmem")
class LuongAttention(MultiplicativeScore):
    """Multiplicative attention of Luong et al. (2015), as tfa's.

    For a query `q` (`units` features) and memory keys `k_j` / values
    `v_j`, j = 1..T_v:

        e_j = q · (k_j · key_kernel)          (scale=True: times score_gain)
        α   = probability_fn(e) over the unmasked positions j
              (softmax by default; masked: α_j = 0)
        context = Σ_j α_j v_j

    This is `tfa.seq2seq.LuongAttention(units, scale=...)`: Luong's
    "general" score `qᵀ W_a k_j` with `W_a = key_kernel` (tfa's
    `memory_layer`, a bias-free Dense), and with `scale=True` a learned
    scalar `score_gain` (tfa's `attention_g`) that starts at 1. The query
    is not projected: it must have `units` features (a ValueError at build
    says so otherwise). Keys default to the values; `project_keys` /
    `attend` split the work as `BahdanauAttention` does, and the mechanism
    is stateless (`attend(..., state=None)` returns None as its state).

    Weights: `key_kernel (d_k, units)`; with `scale`, `score_gain ()`.

    Args:
        units: Depth of the projected keys, which must equal the query's.
        scale: Multiply the score by a learned scalar (initialised to 1).
        probability_fn: `"softmax"` (default), `"hardmax"`, `"sparsemax"`
            or a callable `fn(scores) -> weights`; see
            `keras_seqmem.attention.probability`.
        dropout: Dropout rate on the attention weights, in training only.
        kernel_initializer, kernel_regularizer, kernel_constraint: Of
            `key_kernel`.
        **kwargs: Base `Layer` arguments (`name`, `dtype`, ...).

    Call arguments, returns: as `BahdanauAttention`'s: `inputs` `[query,
    value]` or `[query, value, key]`, `mask=[query_mask, value_mask]`,
    `return_attention_scores`, `training`; `context` `(batch, [T_q,] d_v)`
    and the weights `(batch, [T_q,] T_v)`.
    """

    def __init__(
        self,
        units,
        scale=False,
        probability_fn="softmax",
        dropout=0.0,
        kernel_initializer="glorot_uniform",
        kernel_regularizer=None,
        kernel_constraint=None,
        **kwargs,
    ):
        super().__init__(
            units,
            scale=scale,
            kernel_initializer=kernel_initializer,
            kernel_regularizer=kernel_regularizer,
            kernel_constraint=kernel_constraint,
            probability_fn=probability_fn,
            dropout=dropout,
            **kwargs,
        )

    def get_config(self):
        config = {
            "dropout": self.dropout,
            "probability_fn": probability.serialize(self.probability_fn),
        }
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "probability_fn" in config:
            config["probability_fn"] = probability.deserialize(
                config["probability_fn"]
            )
        return cls(**config)
