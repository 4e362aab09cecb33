"""Bahdanau (additive) attention that owns its projections.

Bahdanau, Cho & Bengio, "Neural Machine Translation by Jointly Learning to
Align and Translate", ICLR 2015, eq. (6) and appendix A.1.2.

The calling convention every keras_seqmem mechanism shares, and the additive
score `BahdanauAttention` shares with `BahdanauMonotonicAttention`, are in
mechanism.py (`AttentionMechanism`, `AdditiveScore`; imported here too, as
before).
"""

import keras

from keras_seqmem.attention import probability
from keras_seqmem.attention.mechanism import NO_STATE  # noqa: F401
from keras_seqmem.attention.mechanism import AdditiveScore
from keras_seqmem.attention.mechanism import AttentionMechanism  # noqa: F401


@keras.saving.register_keras_serializable(package="keras_seqmem")
class BahdanauAttention(AdditiveScore):
    """Additive attention of Bahdanau et al. (2015), with its projections.

    For a query `q` and memory keys `k_j` / values `v_j`, j = 1..T_v:

        e_j = score_kernelᵀ tanh(q · query_kernel + k_j · key_kernel)
        α   = probability_fn(e) over the unmasked positions j
              (softmax by default; masked: α_j = 0)
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
    `AttentiveDecoder` does. It is stateless: `attend(..., state=None)`
    returns None as its state (the protocol: `AttentionMechanism`).

    Weights: `query_kernel (d_q, units)`, `key_kernel (d_k, units)`,
    `score_kernel (units,)`; with `normalize`, also `score_gain ()` (starts
    at `sqrt(1 / units)`, as tfa) and `score_bias (units,)`. tfa's
    `query_layer/kernel`, `memory_layer/kernel`, `attention_v`,
    `attention_g`, `attention_b`.

    Args:
        units: Size `n` of the hidden layer of the alignment model.
        normalize: Weight-normalise `score_kernel` with a learned scalar gain
            and add a bias inside the `tanh`.
        probability_fn: `"softmax"` (default), `"hardmax"` (one-hot of the
            largest score, as tfa's `hardmax`), `"sparsemax"` (Martins &
            Astudillo 2016, as `tfa.activations.sparsemax`), or a callable
            `fn(scores) -> weights` (masked scores arrive as the dtype's
            lowest value; its weights are multiplied by the mask). See
            `keras_seqmem.attention.probability`.
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
        probability_fn="softmax",
        **kwargs,
    ):
        super().__init__(
            units,
            normalize=normalize,
            kernel_initializer=kernel_initializer,
            score_initializer=score_initializer,
            kernel_regularizer=kernel_regularizer,
            score_regularizer=score_regularizer,
            kernel_constraint=kernel_constraint,
            score_constraint=score_constraint,
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
