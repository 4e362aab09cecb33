"""Keras's own attention layers as `AttentiveDecoder` mechanisms.

`keras.layers.Attention`, `keras.layers.AdditiveAttention` and
`keras.layers.MultiHeadAttention` take a query sequence and return a context
sequence; the decoder's attention protocol (`AttentiveDecoder`) asks for
`project_keys` / `attend` on one query step. `KerasAttentionAdapter` gives a
Keras attention layer that protocol; `AttentiveDecoder` wraps those layers
in it automatically.
"""

import keras
from keras import ops

KERAS_ATTENTION_LAYERS = (
    keras.layers.Attention,
    keras.layers.AdditiveAttention,
    keras.layers.MultiHeadAttention,
)


def is_keras_attention(layer):
    """Whether `layer` is one of Keras's attention layers (and no adapter)."""
    return isinstance(layer, KERAS_ATTENTION_LAYERS)


@keras.saving.register_keras_serializable(package="keras_seqmem")
class KerasAttentionAdapter(keras.layers.Layer):
    """A Keras attention layer with the attention protocol of
    `AttentiveDecoder`.

    At each decoder step the query `q_t` `(batch, d_q)` becomes a one-step
    query sequence `(batch, 1, d_q)`, the memory is both value and key, and
    the memory mask is the layer's value mask:

        keras.layers.Attention / AdditiveAttention:
            context, α = layer([q_t, memory, memory], mask=[None, memory_mask],
                               return_attention_scores=True)
            (the query and the memory must have the same features, as those
            layers require: they do not project)
        keras.layers.MultiHeadAttention:
            context, scores = layer(q_t, memory, memory,
                                    attention_mask=memory_mask,
                                    return_attention_scores=True)
            α = the mean of `scores` over the heads  (batch, T_s)
            (the context has the layer's output size, by default d_q)

    The adapter is stateless and projects nothing once per sequence
    (`project_keys` returns the keys; the Keras layers project them on
    every call). Its weights are the wrapped layer's.

    Args:
        layer: A `keras.layers.Attention`, `AdditiveAttention` or
            `MultiHeadAttention` instance (or its serialized config).
        **kwargs: Base `Layer` arguments (default: the wrapped layer's
            dtype policy, and its name with `_adapter`).
    """

    def __init__(self, layer, **kwargs):
        if isinstance(layer, dict):
            layer = keras.saving.deserialize_keras_object(layer)
        if not is_keras_attention(layer):
            raise ValueError(
                f"KerasAttentionAdapter: argument `layer` expected a "
                f"keras.layers.Attention, AdditiveAttention or "
                f"MultiHeadAttention; for another mechanism give it "
                f"`project_keys` and `attend` (the protocol on "
                f"docs/pages/attentive_decoder.md), got layer={layer!r}."
            )
        kwargs.setdefault("dtype", layer.dtype_policy)
        kwargs.setdefault("name", f"{layer.name}_adapter")
        super().__init__(**kwargs)
        self.layer = layer
        self.multi_head = isinstance(layer, keras.layers.MultiHeadAttention)

    def build(self, input_shape):
        query_shape, value_shape = tuple(input_shape[0]), tuple(input_shape[1])
        sequence = (query_shape[0], 1, query_shape[-1])
        if not self.multi_head and (
            query_shape[-1] is not None
            and value_shape[-1] is not None
            and query_shape[-1] != value_shape[-1]
        ):
            raise ValueError(
                f"Layer '{self.name}': {type(self.layer).__name__} compares "
                f"the query with the memory as they are, so it expected a "
                f"query with the memory's {value_shape[-1]} features, got "
                f"{query_shape[-1]}; use a cell with {value_shape[-1]} "
                f"units, project the memory to the cell size, or use a "
                f"mechanism that projects (BahdanauAttention, "
                f"MultiHeadAttention)."
            )
        if not self.layer.built:
            if self.multi_head:
                self.layer.build(sequence, value_shape, value_shape)
            else:
                self.layer.build([sequence, value_shape, value_shape])

    def context_size(self, query_size, value_size):
        """Features of the context: the memory's, or for
        `MultiHeadAttention` its output size."""
        if not self.multi_head:
            return value_size
        shape = self.layer.compute_output_shape(
            (None, 1, query_size), (None, None, value_size)
        )
        return shape[-1]

    def project_keys(self, keys):
        """The keys as they are (the Keras layers project on every call)."""
        return keys

    def get_initial_state(self, values):
        """None: stateless."""
        return None

    def attend(self, query, processed_keys, values, value_mask=None,
               training=None, state=None):
        """`(context (batch, d_c), weights (batch, T_s), None)`."""
        query = ops.expand_dims(query, 1)
        if value_mask is not None:
            value_mask = ops.cast(value_mask, "bool")
        if self.multi_head:
            attention_mask = (
                None if value_mask is None
                else ops.expand_dims(value_mask, 1)
            )
            context, scores = self.layer(
                query, values, processed_keys, attention_mask=attention_mask,
                return_attention_scores=True, training=training,
            )
            weights = ops.mean(scores, axis=1)
        else:
            context, weights = self.layer(
                [query, values, processed_keys], mask=[None, value_mask],
                return_attention_scores=True, training=training,
            )
        return context[:, 0], weights[:, 0], None

    def call(self, inputs, mask=None, training=None,
             return_attention_scores=False):
        """`[query (batch, d_q), memory]`: one step, as `attend`."""
        query, values = inputs[0], inputs[1]
        value_mask = None
        if isinstance(mask, (list, tuple)) and len(mask) > 1:
            value_mask = mask[1]
        context, weights, _ = self.attend(
            query, self.project_keys(values), values, value_mask,
            training=training)
        if return_attention_scores:
            return context, weights
        return context

    def get_config(self):
        config = {"layer": keras.saving.serialize_keras_object(self.layer)}
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layer"] = keras.saving.deserialize_keras_object(
            config["layer"])
        return cls(**config)
