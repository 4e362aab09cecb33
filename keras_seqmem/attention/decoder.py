"""A decoder that attends before every step, in Bahdanau's RNNsearch order.

Keras 3's `RNN` dropped `constants`, so a cell can no longer see the encoder
outputs; this layer runs the recurrence itself (on keras_seqmem's own loop,
`keras_seqmem._loop.rnn`), closing over the attention memory, and exposes the
single step (`step`) that greedy and beam-search decoding reuse, so training
and inference compute exactly the same function.
"""

import collections

import keras
from keras import ops
from keras import tree
from keras_seqmem import _loop
from keras_seqmem import _validation
from keras_seqmem._ops import call_cell
from keras_seqmem._dropout import prepare_dropout_masks
from keras_seqmem._dropout import reset_dropout_masks
from keras_seqmem.attention.bahdanau import BahdanauAttention

AttentionMemory = collections.namedtuple(
    "AttentionMemory", ["values", "processed_keys", "mask"]
)
AttentionMemory.__doc__ = """The encoder side of an `AttentiveDecoder`, prepared once.

Attributes:
    values: `(batch, T_s, d_m)` encoder outputs `h_j` (or, without attention,
        the fixed context `(batch, d_m)`).
    processed_keys: `h_j · key_kernel`, `(batch, T_s, units)`; None without
        attention.
    mask: Boolean `(batch, T_s)` of real source positions, or None.
"""


def _state_sizes(cell):
    sizes = cell.state_size
    return list(sizes) if tree.is_nested(sizes) else [sizes]


@keras.saving.register_keras_serializable(package="keras_seqmem")
class AttentiveDecoder(keras.layers.Layer):
    """Runs any Keras RNN cell with Bahdanau attention and input feeding.

    At target step `t`, with `s_{t-1}` the cell's previous state (its first
    state tensor, `h` for LSTM/GRU/SimpleRNN cells and ours) and `h_j` the
    encoder outputs (the paper's RNNsearch order, Bahdanau et al. 2015):

        c_t, α_t = attention(query=s_{t-1}, values=h)      # BahdanauAttention
        o_t, s_t = cell([x_t; c_t], s_{t-1})                # input feeding
        y_t      = [o_t; c_t]    (or o_t with output_context=False)

    `x_t` is the embedded previous target token (teacher forcing in
    training). Without attention (`attention=None`), `c_t = c` is a fixed
    context vector given in place of the memory, fed at every step: the RNN
    Encoder–Decoder of Cho et al. (2014), the paper's baseline.

    Args:
        cell: A Keras RNN cell instance (`keras.layers.LSTMCell`,
            `GRUCell`, `keras_seqmem.PeepholeLSTMCell`, ...).
        attention: A `BahdanauAttention` layer, or an int (its `units`), or
            None for a fixed context.
        output_context: Concatenate `c_t` to the cell output (what the
            output layer of RNNsearch sees).
        return_sequences: Return `y_t` for every step (default) or the last.
        return_alignments: Also return the attention weights `α_t`.
        return_state: Also return the final cell states.
        **kwargs: Base `Layer` arguments.

    Call arguments:
        inputs: `[targets, memory]`: `targets` `(batch, T_t, d_x)`, `memory`
            `(batch, T_s, d_m)` encoder outputs, or `(batch, d_m)` without
            attention.
        mask: `[target_mask, memory_mask]`, filled by Keras from `mask_zero`
            embeddings / `Masking`; masked target steps keep the state and
            output zeros, masked memory positions get zero weight.
        initial_state: Initial cell state(s) (e.g. a bridge from the encoder);
            default the cell's `get_initial_state`.
        training: Whether dropout is active.

    Returns:
        `y` `(batch, T_t, d_o + d_m)` (or `(batch, d_o + d_m)` without
        `return_sequences`), then `alignments` `(batch, T_t, T_s)` if
        `return_alignments`, then the final states if `return_state`.

    Example:

    ```python
    import numpy as np
    import keras
    import keras_seqmem

    decoder = keras_seqmem.AttentiveDecoder(
        keras.layers.GRUCell(32), attention=16, return_alignments=True
    )
    targets = np.random.rand(2, 7, 8).astype("float32")
    memory = np.random.rand(2, 5, 24).astype("float32")
    outputs, alignments = decoder([targets, memory])
    print(outputs.shape, alignments.shape)  # (2, 7, 56) (2, 7, 5)
    ```
    """

    def __init__(
        self,
        cell,
        attention=None,
        output_context=True,
        return_sequences=True,
        return_alignments=False,
        return_state=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(cell, dict):
            cell = keras.saving.deserialize_keras_object(cell)
        if not (hasattr(cell, "call") and hasattr(cell, "state_size")):
            raise ValueError(
                f"Layer '{self.name}': argument `cell` expected a Keras RNN "
                f"cell (with `call` and `state_size`), got cell={cell!r}."
            )
        self.cell = cell
        if isinstance(attention, dict):
            attention = keras.saving.deserialize_keras_object(attention)
        elif attention is not None and not isinstance(attention, keras.layers.Layer):
            units = _validation.check_positive_int(
                attention, "attention", self.name
            )
            attention = BahdanauAttention(
                units, dtype=self.dtype_policy, name="attention"
            )
        if attention is not None and not hasattr(attention, "attend"):
            raise ValueError(
                f"Layer '{self.name}': argument `attention` expected a "
                f"BahdanauAttention (or any layer with `project_keys` and "
                f"`attend`), an int or None, got attention={attention!r}."
            )
        if attention is None and return_alignments:
            raise ValueError(
                f"Layer '{self.name}': `return_alignments=True` expected an "
                f"attention mechanism, got attention=None."
            )
        self.attention = attention
        self.output_context = bool(output_context)
        self.return_sequences = bool(return_sequences)
        self.return_alignments = bool(return_alignments)
        self.return_state = bool(return_state)
        self.supports_masking = True

    # -- shapes -------------------------------------------------------------

    def _split_shapes(self, input_shape):
        if (
            not isinstance(input_shape, (list, tuple))
            or len(input_shape) != 2
            or not all(isinstance(s, (list, tuple)) for s in input_shape)
        ):
            raise ValueError(
                f"Layer '{self.name}': expected inputs [targets, memory], got "
                f"input shape {input_shape}."
            )
        target_shape, memory_shape = map(tuple, input_shape)
        if len(target_shape) != 3:
            raise ValueError(
                f"Layer '{self.name}': expected targets of shape (batch, "
                f"target_steps, features), got shape {target_shape}."
            )
        memory_rank = 2 if self.attention is None else 3
        if len(memory_shape) != memory_rank:
            expected = (
                "(batch, context_dim) (a fixed context, attention=None)"
                if self.attention is None
                else "(batch, source_steps, memory_dim)"
            )
            raise ValueError(
                f"Layer '{self.name}': expected a memory of shape {expected}, "
                f"got shape {memory_shape}."
            )
        return target_shape, memory_shape

    def build(self, input_shape):
        target_shape, memory_shape = self._split_shapes(input_shape)
        _validation.check_feature_size(target_shape, self.name)
        _validation.check_feature_size(memory_shape, self.name)
        self._input_features = target_shape[-1]
        self._memory_features = memory_shape[-1]
        batch = target_shape[0]
        if self.attention is not None and not self.attention.built:
            query_dim = _state_sizes(self.cell)[0]
            self.attention.build([(batch, query_dim), memory_shape])
        if not self.cell.built:
            self.cell.build((batch, target_shape[-1] + memory_shape[-1]))

    def _check_input(self, inputs):
        target_shape, memory_shape = self._split_shapes(
            [tuple(x.shape) for x in inputs]
        )
        for shape, expected, what in (
            (target_shape, self._input_features, "targets"),
            (memory_shape, self._memory_features, "memory"),
        ):
            if shape[-1] is not None and shape[-1] != expected:
                raise ValueError(
                    f"Layer '{self.name}': expected {what} with {expected} "
                    f"features (the size it was built with), got shape "
                    f"{shape}."
                )

    @property
    def output_size(self):
        size = self.cell.output_size
        return size + self._memory_features if self.output_context else size

    # -- the computation ------------------------------------------------------

    def prepare_memory(self, memory, memory_mask=None):
        """Projects the keys once per source sequence: an `AttentionMemory`."""
        if self.attention is None:
            return AttentionMemory(memory, None, None)
        if memory_mask is not None:
            memory_mask = ops.cast(memory_mask, "bool")
        return AttentionMemory(
            memory, self.attention.project_keys(memory), memory_mask
        )

    def step(self, inputs, states, memory, training=None):
        """One decoder step: `(y_t, new_states, α_t)`.

        Args:
            inputs: `x_t`, `(batch, d_x)`.
            states: The cell's states `s_{t-1}` (a list).
            memory: From `prepare_memory`.
            training: Whether dropout is active.

        Returns:
            `y_t` `(batch, output_size)`, the new states (a list), and the
            attention weights `(batch, T_s)` (None without attention).
        """
        states = list(states) if tree.is_nested(states) else [states]
        if self.attention is None:
            context, alignment = memory.values, None
        else:
            context, alignment = self.attention.attend(
                states[0],
                memory.processed_keys,
                memory.values,
                memory.mask,
                training=training,
            )
        cell_inputs = ops.concatenate(
            [inputs, ops.cast(context, inputs.dtype)], axis=-1
        )
        output, new_states = call_cell(
            self.cell, cell_inputs, states, training=training)
        if not tree.is_nested(new_states):
            new_states = [new_states]
        if self.output_context:
            output = ops.concatenate(
                [output, ops.cast(context, output.dtype)], axis=-1
            )
        return output, list(new_states), alignment

    def get_initial_state(self, batch_size):
        get_initial_state = getattr(self.cell, "get_initial_state", None)
        if get_initial_state is not None:
            states = get_initial_state(batch_size=batch_size)
        else:
            states = [
                ops.zeros((batch_size, size), dtype=self.compute_dtype)
                for size in _state_sizes(self.cell)
            ]
        return list(states) if tree.is_nested(states) else [states]

    def call(self, inputs, mask=None, initial_state=None, training=None):
        self._check_input(inputs)
        targets, memory = inputs
        target_mask, memory_mask = (None, None) if mask is None else mask
        memory = self.prepare_memory(memory, memory_mask)
        batch_size = ops.shape(targets)[0]
        if initial_state is None:
            initial_state = self.get_initial_state(batch_size)
        initial_state = [
            ops.cast(s, self.compute_dtype)
            for s in (
                initial_state
                if tree.is_nested(initial_state)
                else [initial_state]
            )
        ]
        if len(initial_state) != len(_state_sizes(self.cell)):
            raise ValueError(
                f"Layer '{self.name}': expected {len(_state_sizes(self.cell))} "
                f"initial state tensor(s) for cell {self.cell.name}, got "
                f"{len(initial_state)}."
            )
        if training:
            self._configure_dropout(targets, initial_state)

        def step_function(x_t, states):
            output, new_states, alignment = self.step(
                x_t, states, memory, training=training
            )
            if self.return_alignments:
                return (output, ops.cast(alignment, output.dtype)), new_states
            return output, new_states

        try:
            last, outputs, states = _loop.rnn(
                step_function,
                targets,
                initial_state,
                mask=target_mask,
                zero_output_for_mask=self.return_sequences,
                return_all_outputs=self.return_sequences,
            )
        finally:
            reset_dropout_masks(self.cell)
        result = outputs if self.return_sequences else last
        if self.return_alignments:
            result = list(result)
        else:
            result = [result]
        if self.return_state:
            result += list(states)
        return result[0] if len(result) == 1 else tuple(result)

    def _configure_dropout(self, targets, states):
        # As keras_seqmem.RNN: make the dropout masks once per sequence, on
        # the shape of the cell's input [x_t; c_t], outside the loop.
        cell_inputs = ops.zeros(
            (ops.shape(targets)[0], targets.shape[-1] + self._memory_features),
            dtype=targets.dtype,
        )
        prepare_dropout_masks(self.cell, cell_inputs, states)

    def compute_mask(self, inputs, mask=None):
        target_mask = None if mask is None else mask[0]
        if not self.return_sequences:
            target_mask = None
        masks = [target_mask]
        if self.return_alignments:
            masks.append(target_mask)
        if self.return_state:
            masks += [None] * len(_state_sizes(self.cell))
        return masks[0] if len(masks) == 1 else masks

    def get_config(self):
        config = {
            "cell": keras.saving.serialize_keras_object(self.cell),
            "attention": (
                None
                if self.attention is None
                else keras.saving.serialize_keras_object(self.attention)
            ),
            "output_context": self.output_context,
            "return_sequences": self.return_sequences,
            "return_alignments": self.return_alignments,
            "return_state": self.return_state,
        }
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["cell"] = keras.saving.deserialize_keras_object(config["cell"])
        if config.get("attention") is not None:
            config["attention"] = keras.saving.deserialize_keras_object(
                config["attention"]
            )
        return cls(**config)
