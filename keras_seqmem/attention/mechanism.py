"""The attention protocol of keras_seqmem's mechanisms (`AttentionMechanism`)
and Bahdanau's additive score (`AdditiveScore`), the bases of
`BahdanauAttention` (bahdanau.py), `LuongAttention` (luong.py, on
`MultiplicativeScore`) and the monotonic mechanisms (monotonic.py).

`AttentiveDecoder` needs only part of the protocol (`project_keys`,
`get_initial_state`, `attend(..., state=)`): a layer with those methods plugs
into it without this base (docs/pages/attentive_decoder.md).
"""

import keras
from keras import constraints
from keras import initializers
from keras import ops
from keras import regularizers

from keras_seqmem import _validation
from keras_seqmem.attention import probability


class _NoState:
    """The default of `attend(state=...)`: no state given (the two-value
    return of `attend` before the protocol had a state)."""

    def __repr__(self):
        return "NO_STATE"


NO_STATE = _NoState()


class AttentionMechanism(keras.layers.Layer):
    """The attention protocol of keras_seqmem's mechanisms.

    A mechanism scores a query against the memory keys, turns the scores
    into weights `α` over the memory positions (its probability function,
    or for a monotonic mechanism its recursion over the previous
    alignment), and returns the context `Σ_j α_j v_j`:

        processed_keys = mechanism.project_keys(keys)      # once per memory
        state = mechanism.get_initial_state(values)        # None: stateless
        context, weights, state = mechanism.attend(
            query, processed_keys, values, value_mask, training=training,
            state=state)                                   # every step

    `project_keys(keys)`: `(batch, T_v, d_k)` to whatever `attend` takes
    (`(batch, T_v, units)` for the additive and multiplicative scores).

    `get_initial_state(values)`: the state before the first query: None for
    a stateless mechanism (softmax / hardmax / sparsemax attention), the
    previous alignment `(batch, T_v)` for a monotonic one (one-hot on the
    first memory position), float32 (float64 for a float64 layer).

    `attend(query, processed_keys, values, value_mask=None, training=None,
    state=NO_STATE)`: `query` is one step `(batch, d_q)` or a sequence
    `(batch, T_q, d_q)` (a stateful mechanism then runs its recursion over
    the T_q steps); `value_mask` `(batch, T_v)` is true where a position may
    be attended to. With a `state` (None for a stateless mechanism) it
    returns `(context, weights, new_state)`: `(batch, [T_q,] d_v)`,
    `(batch, [T_q,] T_v)` and the state after the last query step (None
    for a stateless mechanism, which ignores the state it is given).
    Without `state` it returns `(context, weights)`, for callers written
    before mechanisms had a state; a stateful mechanism refuses that.

    Calling the layer, `mechanism([query, value(, key)], mask=[query_mask,
    value_mask])`, does all of it from the initial state.
    """

    #: Whether the mechanism carries a state between queries.
    stateful_attention = False

    def __init__(self, probability_fn="softmax", dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.probability_fn = probability.check(probability_fn, self.name)
        self._probability = probability.get(self.probability_fn)
        self.dropout = _validation.check_rate(dropout, "dropout", self.name)
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

    def _check_features(self, shape, expected, name):
        if shape[-1] is not None and shape[-1] != expected:
            raise ValueError(
                f"Layer '{self.name}': expected a {name} with {expected} "
                f"features (the size it was built with), got shape "
                f"{tuple(shape)}."
            )

    # -- what a mechanism defines -----------------------------------------------

    def project_keys(self, keys):
        raise NotImplementedError

    def _scores(self, query, processed_keys):
        """Unnormalised scores `e`, `(batch, [T_q,] T_v)`."""
        raise NotImplementedError

    def _alignments(self, scores, value_mask, state, query_mask, training):
        """Weights `α` (float32/float64) and the new state. Stateless: the
        probability function over the unmasked positions."""
        return self._probability(scores, value_mask, axis=-1), None

    def get_initial_state(self, values):
        """The state before the first query: None (stateless)."""
        return None

    # -- the protocol ---------------------------------------------------------

    def attend(
        self,
        query,
        processed_keys,
        values,
        value_mask=None,
        training=None,
        state=NO_STATE,
    ):
        """Scores, weights and context for a query against projected keys.

        Args:
            query: `(batch, d_q)` or `(batch, T_q, d_q)`.
            processed_keys: `project_keys(keys)`.
            values: `(batch, T_v, d_v)`.
            value_mask: Optional boolean `(batch, T_v)`.
            training: Whether dropout (and a monotonic mechanism's
                pre-sigmoid noise) is active.
            state: The mechanism's state before this query
                (`get_initial_state(values)` at the first; None for a
                stateless mechanism).

        Returns:
            `(context, weights, new_state)`: `(batch, [T_q,] d_v)` and
            `(batch, [T_q,] T_v)` in the layer's compute dtype, and the
            state after the query (None for a stateless mechanism); without
            `state`, `(context, weights)`.
        """
        legacy = state is NO_STATE
        if legacy:
            if self.stateful_attention:
                raise ValueError(
                    f"Layer '{self.name}': expected attend(..., state=...): "
                    f"{type(self).__name__} carries its previous alignment "
                    f"as a state; pass state=get_initial_state(values) at "
                    f"the first query and the returned state after that."
                )
            state = None
        context, weights, new_state = self._attend(
            query, processed_keys, values, value_mask, training, state, None
        )
        if legacy:
            return context, weights
        return context, weights, new_state

    def _attend(self, query, processed_keys, values, value_mask, training,
                state, query_mask):
        single_step = len(query.shape) == 2
        scores = self._scores(query, processed_keys)
        if value_mask is not None:
            value_mask = ops.cast(value_mask, "bool")
            if not single_step:
                value_mask = ops.expand_dims(value_mask, axis=1)
        weights, new_state = self._alignments(
            scores, value_mask, state, query_mask, training
        )
        weights = ops.cast(weights, self.compute_dtype)
        if self.dropout > 0:
            weights = self._dropout_layer(weights, training=training)
        if single_step:
            context = ops.einsum("bj,bjd->bd", weights, values)
        else:
            context = ops.einsum("bij,bjd->bid", weights, values)
        return context, weights, new_state

    def call(
        self, inputs, mask=None, training=None, return_attention_scores=False
    ):
        query_shape, _, _ = self._split_shapes(
            [tuple(x.shape) for x in inputs]
        )
        query, values = inputs[0], inputs[1]
        keys = inputs[2] if len(inputs) == 3 else values
        query_mask, value_mask = self._split_mask(mask)
        sequence = len(query_shape) == 3
        if query_mask is not None and sequence:
            query_mask = ops.cast(query_mask, "bool")
        else:
            query_mask = None
        context, weights, _ = self._attend(
            query,
            self.project_keys(keys),
            values,
            value_mask,
            training,
            self.get_initial_state(values),
            query_mask,
        )
        if query_mask is not None:
            context = context * ops.cast(
                ops.expand_dims(query_mask, -1), context.dtype
            )
        if return_attention_scores:
            return context, weights
        return context

    def _split_mask(self, mask):
        if mask is None:
            return None, None
        if not isinstance(mask, (list, tuple)):
            raise ValueError(
                f"{type(self).__name__} expected mask=[query_mask, "
                f"value_mask], got a single mask of type "
                f"{type(mask).__name__}."
            )
        return mask[0], mask[1] if len(mask) > 1 else None

    def compute_mask(self, inputs, mask=None):
        query_mask, _ = self._split_mask(mask)
        if query_mask is None or len(inputs[0].shape) != 3:
            return None
        return query_mask


class AdditiveScore(AttentionMechanism):
    """Bahdanau's score `e_j = vᵀ tanh(W_q q + W_k k_j)` (optionally weight
    normalised): the weights and the score shared by `BahdanauAttention` and
    `BahdanauMonotonicAttention`."""

    def __init__(
        self,
        units,
        normalize=False,
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
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.score_initializer = initializers.get(score_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.score_regularizer = regularizers.get(score_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.score_constraint = constraints.get(score_constraint)

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

    def project_keys(self, keys):
        """`k_j · key_kernel` for every memory position: `(batch, T_v, units)`.

        Done once per source sequence; pass the result to `attend` at every
        decoding step.
        """
        self._check_features(keys.shape, self.key_kernel.shape[0], "key")
        return ops.matmul(keys, self.key_kernel)

    def _scores(self, query, processed_keys):
        self._check_features(query.shape, self.query_kernel.shape[0], "query")
        processed_query = ops.matmul(query, self.query_kernel)
        if len(query.shape) == 2:
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
        return ops.sum(score_kernel * ops.tanh(hidden), axis=-1)

    def get_config(self):
        config = {
            "units": self.units,
            "normalize": self.normalize,
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
