"""A decoder that runs any Keras RNN cell with attention: Bahdanau's
RNNsearch order (attend, then the cell) or Luong's / tfa `AttentionWrapper`'s
(the cell, then attend on its output), with one mechanism or several.

Keras 3's `RNN` dropped `constants`, so a cell can no longer see the encoder
outputs; this layer runs the recurrence itself (on keras_seqmem's own loop,
`keras_seqmem._loop.rnn`), closing over the attention memory, and exposes the
single step (`step`) that greedy and beam-search decoding reuse, so training
and inference compute exactly the same function.

The attention protocol (what a mechanism must provide to plug in) is
documented on `AttentiveDecoder` and on docs/pages/attentive_decoder.md.
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
    processed_keys: `mechanism.project_keys(h)` (`(batch, T_s, units)` for
        ours); a tuple of them, one per mechanism, with several mechanisms;
        None without attention.
    mask: Boolean `(batch, T_s)` of real source positions, or None.
"""

DecoderState = collections.namedtuple(
    "DecoderState", ["cell", "mechanisms", "attention"]
)
DecoderState.__doc__ = """An `AttentiveDecoder` step's state, unpacked from the flat list.

Attributes:
    cell: The cell's states (a flat list; `cell_state_count` of them).
    mechanisms: One entry per mechanism: its state, or None (stateless).
    attention: `a_{t-1}` `(batch, attention size)` in Luong's order, else
        None.
"""

ORDERS = ("bahdanau", "luong")


def _state_sizes(cell):
    """The cell's state sizes, flat (a `StackedRNNCells` nests them)."""
    sizes = cell.state_size
    return tree.flatten(sizes) if tree.is_nested(sizes) else [sizes]


def _flat(states):
    return tree.flatten(states) if tree.is_nested(states) else [states]


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _as_mechanism(attention, layer_name, dtype_policy, name):
    """A mechanism from what the user gave: a config, an int (Bahdanau
    units), a Keras attention layer (adapted) or a protocol layer."""
    if isinstance(attention, dict):
        attention = keras.saving.deserialize_keras_object(attention)
    if _is_int(attention) or (
        attention is not None
        and not isinstance(attention, keras.layers.Layer)
        and not hasattr(attention, "attend")
    ):
        units = _validation.check_positive_int(attention, "attention",
                                               layer_name)
        return BahdanauAttention(units, dtype=dtype_policy, name=name)
    from keras_seqmem.attention import adapters

    if adapters.is_keras_attention(attention):
        return adapters.KerasAttentionAdapter(attention)
    if not (
        isinstance(attention, keras.layers.Layer)
        and callable(getattr(attention, "attend", None))
        and callable(getattr(attention, "project_keys", None))
    ):
        raise ValueError(
            f"Layer '{layer_name}': argument `attention` expected an "
            f"attention mechanism (a keras_seqmem mechanism such as "
            f"BahdanauAttention, a keras.layers.Attention / "
            f"AdditiveAttention / MultiHeadAttention, or a Layer with "
            f"`project_keys(keys)` and `attend(query, processed_keys, "
            f"values, value_mask, training=, state=)`, see "
            f"docs/pages/attentive_decoder.md), an int (BahdanauAttention "
            f"units), a list of them or None, got attention={attention!r}."
        )
    return attention


@keras.saving.register_keras_serializable(package="keras_seqmem")
class AttentiveDecoder(keras.layers.Layer):
    """Runs any Keras RNN cell with attention and input feeding.

    Bahdanau's order (`order="bahdanau"`, the default; RNNsearch, Bahdanau
    et al. 2015): at target step `t`, with `s_{t-1}` the cell's previous
    state (its first state tensor, `h` for LSTM/GRU/SimpleRNN cells and
    ours) and `h_j` the encoder outputs,

        c_t, α_t = attention(query=s_{t-1}, values=h)      # e.g. Bahdanau
        o_t, s_t = cell([x_t; c_t], s_{t-1})                # input feeding
        y_t      = [o_t; c_t]    (or o_t with output_context=False)

    Luong's order (`order="luong"`, tfa's `AttentionWrapper`; Luong et
    al. 2015), with `a_0 = 0`:

        o_t, s_t = cell([x_t; a_{t-1}], s_{t-1})            # input feeding
        c_t, α_t = attention(query=o_t, values=h)
        a_t      = W_a [o_t; c_t]   (attention_layer_size; no bias, no
                                     activation, as tfa) or c_t (None)
        y_t      = a_t    (output_attention=True, default) or o_t

    `x_t` is the embedded previous target token (teacher forcing in
    training). Without attention (`attention=None`, Bahdanau order only),
    `c_t = c` is a fixed context vector given in place of the memory, fed at
    every step: the RNN Encoder–Decoder of Cho et al. (2014).

    Several mechanisms (a list, as tfa's `AttentionWrapper`): each attends
    with the same query to the same memory, `c_t` (Bahdanau order) or `a_t`
    (Luong order, one `W_a` per mechanism) is the concatenation of theirs,
    and the returned alignments are the first mechanism's.

    A stateful mechanism (the monotonic ones: the previous alignment) has its
    state carried from step to step; finished (masked) target steps keep it.

    The attention protocol. A mechanism is a Keras layer with

    * `project_keys(keys)`: whatever `attend` takes for the keys, computed
      once per source sequence (`(batch, T_s, units)` for ours);
    * `attend(query, processed_keys, values, value_mask=None, training=None,
      state=None) -> (context, weights, new_state)`: `query` `(batch, d_q)`,
      `values` `(batch, T_s, d_m)`, `value_mask` boolean `(batch, T_s)` or
      None; `context` `(batch, d_c)`, `weights` `(batch, T_s)`, `new_state`
      the state after this query (None for a stateless mechanism);
    * optionally `get_initial_state(values)`: the state before the first
      query, or None (stateless; the default when the method is absent);
    * optionally `context_size(query_size, value_size)`: `d_c` (default
      `value_size`).

    The decoder builds it with `build([(batch, d_q), memory_shape])` if it
    is not built. `keras.layers.Attention`, `AdditiveAttention` and
    `MultiHeadAttention` are wrapped in a `KerasAttentionAdapter`
    automatically.

    Args:
        cell: A Keras RNN cell instance (`keras.layers.LSTMCell`,
            `GRUCell`, `keras_seqmem.PeepholeLSTMCell`, ...).
        attention: A mechanism (ours, a Keras attention layer, or any layer
            with the protocol above), an int (`BahdanauAttention` units), a
            list of them, or None for a fixed context (Bahdanau order only).
        order: `"bahdanau"` (attend with the previous state, then the cell)
            or `"luong"` (the cell, then attend with its output; tfa's
            `AttentionWrapper`).
        attention_layer_size: Luong order only: the size of `W_a` (an int
            for one mechanism, a list of one int per mechanism, as tfa), or
            None (`a_t = c_t`).
        output_attention: Luong order only: output `a_t` (default, True) or
            the cell output `o_t` (False), as tfa's.
        output_context: Bahdanau order only: concatenate `c_t` to the cell
            output (what the output layer of RNNsearch sees).
        return_sequences: Return `y_t` for every step (default) or the last.
        return_alignments: Also return the attention weights `α_t` (the
            first mechanism's).
        return_state: Also return the final states (the flat list of
            `get_initial_state`: the cell's, then the mechanisms', then
            `a_t` in Luong order).
        **kwargs: Base `Layer` arguments.

    Call arguments:
        inputs: `[targets, memory]`: `targets` `(batch, T_t, d_x)`, `memory`
            `(batch, T_s, d_m)` encoder outputs, or `(batch, d_m)` without
            attention.
        mask: `[target_mask, memory_mask]`, filled by Keras from `mask_zero`
            embeddings / `Masking`; masked target steps keep the state and
            output zeros, masked memory positions get zero weight.
        initial_state: The cell's initial state(s) (e.g. a bridge from the
            encoder; the decoder adds the mechanisms' and `a_0`), or the
            whole flat state list (as `return_state` returns it); default
            the cell's `get_initial_state`.
        training: Whether dropout is active.

    Returns:
        `y` `(batch, T_t, output_size)` (or `(batch, output_size)` without
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
        order="bahdanau",
        attention_layer_size=None,
        output_attention=None,
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
        if order not in ORDERS:
            raise ValueError(
                f"Layer '{self.name}': argument `order` expected "
                f"'bahdanau' (attend, then the cell) or 'luong' (the cell, "
                f"then attend: tfa's AttentionWrapper), got order={order!r}."
            )
        self.order = order
        self._multi = isinstance(attention, (list, tuple))
        given = list(attention) if self._multi else (
            [] if attention is None else [attention]
        )
        if self._multi and not given:
            raise ValueError(
                f"Layer '{self.name}': argument `attention` got an empty "
                f"list; give at least one mechanism, or None for a fixed "
                f"context."
            )
        mechanisms = [
            _as_mechanism(
                a, self.name, self.dtype_policy,
                "attention" if i == 0 else f"attention_{i}",
            )
            for i, a in enumerate(given)
        ]
        # As given: one mechanism, or the list (tracked by Keras either way).
        self.attention = mechanisms if self._multi else (
            mechanisms[0] if mechanisms else None
        )
        if not mechanisms and return_alignments:
            raise ValueError(
                f"Layer '{self.name}': `return_alignments=True` expected an "
                f"attention mechanism, got attention=None."
            )
        luong = order == "luong"
        if luong and not mechanisms:
            raise ValueError(
                f"Layer '{self.name}': order='luong' attends with the cell "
                f"output and expected an attention mechanism, got "
                f"attention=None; give one, or use order='bahdanau' for a "
                f"fixed context."
            )
        if not luong and attention_layer_size is not None:
            raise ValueError(
                f"Layer '{self.name}': `attention_layer_size` is Luong "
                f"order's (a_t = W_a [o_t; c_t]); set order='luong', or "
                f"leave attention_layer_size=None, got "
                f"attention_layer_size={attention_layer_size!r}."
            )
        if not luong and output_attention is not None:
            raise ValueError(
                f"Layer '{self.name}': `output_attention` is Luong order's; "
                f"set order='luong', or use output_context in Bahdanau "
                f"order, got output_attention={output_attention!r}."
            )
        if luong and output_context is not True:
            raise ValueError(
                f"Layer '{self.name}': `output_context` is Bahdanau order's; "
                f"in Luong order choose the output with output_attention "
                f"(a_t or the cell output), got "
                f"output_context={output_context!r}."
            )
        self.attention_layer_size = self._check_layer_sizes(
            attention_layer_size, len(mechanisms)
        )
        self.output_attention = (
            (True if output_attention is None else bool(output_attention))
            if luong else None
        )
        if self.attention_layer_size is not None:
            self.attention_layers = [
                keras.layers.Dense(
                    size, use_bias=False, dtype=self.dtype_policy,
                    name="attention_layer" if i == 0
                    else f"attention_layer_{i}",
                )
                for i, size in enumerate(self._layer_sizes)
            ]
        else:
            self.attention_layers = []
        self.output_context = bool(output_context)
        self.return_sequences = bool(return_sequences)
        self.return_alignments = bool(return_alignments)
        self.return_state = bool(return_state)
        self.supports_masking = True
        self._stateful = None

    @property
    def _mechanisms(self):
        if self.attention is None:
            return []
        return list(self.attention) if self._multi else [self.attention]

    def _check_layer_sizes(self, sizes, count):
        if sizes is None:
            self._layer_sizes = None
            return None
        as_list = list(sizes) if isinstance(sizes, (list, tuple)) else [sizes]
        if len(as_list) != count or (
            not isinstance(sizes, (list, tuple)) and count > 1
        ):
            raise ValueError(
                f"Layer '{self.name}': argument `attention_layer_size` "
                f"expected one size per mechanism (an int for one mechanism, "
                f"a list of {count} ints for {count}, as tfa), got "
                f"attention_layer_size={sizes!r}."
            )
        self._layer_sizes = [
            _validation.check_positive_int(s, "attention_layer_size",
                                           self.name)
            for s in as_list
        ]
        return list(self._layer_sizes) if isinstance(
            sizes, (list, tuple)) else self._layer_sizes[0]

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
        memory_rank = 2 if not self._mechanisms else 3
        if len(memory_shape) != memory_rank:
            expected = (
                "(batch, context_dim) (a fixed context, attention=None)"
                if not self._mechanisms
                else "(batch, source_steps, memory_dim)"
            )
            raise ValueError(
                f"Layer '{self.name}': expected a memory of shape {expected}, "
                f"got shape {memory_shape}."
            )
        return target_shape, memory_shape

    @property
    def cell_state_count(self):
        """How many of the leading state tensors are the cell's."""
        return len(_state_sizes(self.cell))

    def _query_size(self):
        if self.order == "luong":
            size = self.cell.output_size
        else:
            size = _state_sizes(self.cell)[0]
        return size

    def build(self, input_shape):
        target_shape, memory_shape = self._split_shapes(input_shape)
        _validation.check_feature_size(target_shape, self.name)
        _validation.check_feature_size(memory_shape, self.name)
        self._input_features = target_shape[-1]
        self._memory_features = memory_shape[-1]
        batch = target_shape[0]
        query_size = self._query_size()
        context_sizes = []
        stateful = []
        for mechanism in self._mechanisms:
            if not mechanism.built:
                mechanism.build([(batch, query_size), memory_shape])
            size_fn = getattr(mechanism, "context_size", None)
            context_sizes.append(
                int(size_fn(query_size, memory_shape[-1]))
                if callable(size_fn) else memory_shape[-1]
            )
            # Stateful or not: what its initial state is on a tiny memory.
            get_initial = getattr(mechanism, "get_initial_state", None)
            probe = None
            if callable(get_initial):
                probe = get_initial(
                    ops.zeros((1, 1, memory_shape[-1]),
                              dtype=mechanism.compute_dtype)
                )
            stateful.append(probe is not None)
        self._stateful = stateful
        self._context_sizes = context_sizes
        if not self._mechanisms:
            self._attention_size = memory_shape[-1]
        elif self.attention_layers:
            for layer, size in zip(self.attention_layers, context_sizes):
                if not layer.built:
                    layer.build((batch, self.cell.output_size + size))
            self._attention_size = sum(self._layer_sizes)
        else:
            self._attention_size = sum(context_sizes)
        if not self.cell.built:
            self.cell.build((batch, target_shape[-1] + self._attention_size))

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

    def _require_built(self, what):
        if self._stateful is None:
            raise ValueError(
                f"Layer '{self.name}': `{what}` needs the decoder built; "
                f"call it once on [targets, memory] or call "
                f"build([targets_shape, memory_shape]) first."
            )

    @property
    def output_size(self):
        """Features of `y_t` (the decoder must be built)."""
        if self.order == "luong":
            if self.output_attention:
                return self._attention_size
            return self.cell.output_size
        size = self.cell.output_size
        return size + self._attention_size if self.output_context else size

    # -- the computation ------------------------------------------------------

    def prepare_memory(self, memory, memory_mask=None):
        """Projects the keys once per source sequence: an `AttentionMemory`."""
        if not self._mechanisms:
            return AttentionMemory(memory, None, None)
        if memory_mask is not None:
            memory_mask = ops.cast(memory_mask, "bool")
        keys = tuple(m.project_keys(memory) for m in self._mechanisms)
        return AttentionMemory(
            memory, keys if self._multi else keys[0], memory_mask
        )

    def get_initial_state(self, batch_size, memory=None, cell_states=None):
        """The flat list of state tensors before the first step.

        The cell's states (`cell_states` if given, e.g. a bridge from the
        encoder, else the cell's own initial state; `cell_state_count` of
        them), then the state of each stateful mechanism
        (`mechanism.get_initial_state(values)`; needs `memory`, the encoder
        outputs or the `AttentionMemory` of `prepare_memory`), then in
        Luong order the previous attentional vector `a_0 = 0`.
        """
        if cell_states is not None:
            states = [ops.cast(s, self.compute_dtype)
                      for s in _flat(cell_states)]
            if len(states) != self.cell_state_count:
                raise ValueError(
                    f"Layer '{self.name}': expected {self.cell_state_count} "
                    f"initial state tensor(s) for cell {self.cell.name}, got "
                    f"{len(states)}."
                )
        else:
            get_initial_state = getattr(self.cell, "get_initial_state", None)
            if get_initial_state is not None:
                states = get_initial_state(batch_size=batch_size)
            else:
                states = [
                    ops.zeros((batch_size, size), dtype=self.compute_dtype)
                    for size in _state_sizes(self.cell)
                ]
            states = _flat(states)
        if not self._mechanisms:
            return states
        self._require_built("get_initial_state")
        if any(self._stateful):
            if memory is None:
                raise ValueError(
                    f"Layer '{self.name}': a stateful mechanism (e.g. "
                    f"monotonic attention) needs the memory for its initial "
                    f"state; call get_initial_state(batch_size, "
                    f"memory=prepare_memory(memory))."
                )
            values = memory.values if isinstance(
                memory, AttentionMemory) else memory
            for mechanism, stateful in zip(self._mechanisms, self._stateful):
                if stateful:
                    states.append(mechanism.get_initial_state(values))
        if self.order == "luong":
            states.append(
                ops.zeros((batch_size, self._attention_size),
                          dtype=self.compute_dtype)
            )
        return states

    def _attend_all(self, query, memory, mechanism_states, training):
        contexts, alignments, new_states = [], [], []
        for i, mechanism in enumerate(self._mechanisms):
            keys = memory.processed_keys[i] if self._multi else (
                memory.processed_keys
            )
            context, alignment, state = mechanism.attend(
                query, keys, memory.values, memory.mask,
                training=training, state=mechanism_states[i],
            )
            contexts.append(ops.cast(context, query.dtype))
            alignments.append(alignment)
            new_states.append(state)
        return contexts, alignments, new_states

    def unpack_states(self, states):
        """The flat state list as a `DecoderState` (one entry per mechanism
        in `mechanisms`, None for a stateless one; `attention` None in
        Bahdanau's order)."""
        states = _flat(states)
        if self._mechanisms:
            self._require_built("step")
        expected = self._state_count()
        if len(states) != expected:
            raise ValueError(
                f"Layer '{self.name}': expected {expected} state tensors "
                f"(get_initial_state's flat list: the cell's, the stateful "
                f"mechanisms', a_(t-1) in Luong order), got {len(states)}."
            )
        n_cell = self.cell_state_count
        cell, rest = states[:n_cell], states[n_cell:]
        mechanisms = [
            rest.pop(0) if stateful else None
            for stateful in (self._stateful or [])
        ]
        attention = rest.pop(0) if self.order == "luong" else None
        return DecoderState(cell, mechanisms, attention)

    def pack_states(self, state):
        """A `DecoderState` as the flat state list."""
        return (
            list(state.cell)
            + [s for s in state.mechanisms if s is not None]
            + ([] if state.attention is None else [state.attention])
        )

    def step_all(self, inputs, states, memory, training=None):
        """As `step`, with the alignments of every mechanism (a list)."""
        state = self.unpack_states(states)

        def run_cell(cell_inputs):
            sizes = self.cell.state_size
            packed = (tree.pack_sequence_as(sizes, state.cell)
                      if tree.is_nested(sizes) else state.cell)
            output, new_cell = call_cell(
                self.cell, cell_inputs, packed, training=training)
            return output, _flat(new_cell)

        if self.order == "bahdanau":
            if not self._mechanisms:
                contexts, alignments, new_mech = [memory.values], [], []
            else:
                contexts, alignments, new_mech = self._attend_all(
                    state.cell[0], memory, state.mechanisms, training)
            context = contexts[0] if len(contexts) == 1 else ops.concatenate(
                contexts, axis=-1)
            output, new_cell = run_cell(ops.concatenate(
                [inputs, ops.cast(context, inputs.dtype)], axis=-1))
            if self.output_context:
                output = ops.concatenate(
                    [output, ops.cast(context, output.dtype)], axis=-1
                )
            attention = None
        else:
            output, new_cell = run_cell(ops.concatenate(
                [inputs, ops.cast(state.attention, inputs.dtype)], axis=-1))
            contexts, alignments, new_mech = self._attend_all(
                output, memory, state.mechanisms, training)
            if self.attention_layers:
                parts = [
                    layer(ops.concatenate([output, c], axis=-1))
                    for layer, c in zip(self.attention_layers, contexts)
                ]
            else:
                parts = contexts
            attention = parts[0] if len(parts) == 1 else ops.concatenate(
                parts, axis=-1)
            attention = ops.cast(attention, state.attention.dtype)
            if self.output_attention:
                output = ops.cast(attention, output.dtype)
        mechanisms = [
            None if old is None else ops.cast(new, old.dtype)
            for new, old in zip(new_mech, state.mechanisms)
        ]
        new_state = DecoderState(new_cell, mechanisms, attention)
        return output, self.pack_states(new_state), alignments

    def step(self, inputs, states, memory, training=None):
        """One decoder step: `(y_t, new_states, α_t)`.

        Args:
            inputs: `x_t`, `(batch, d_x)`.
            states: The flat state list (`get_initial_state`'s, or the
                previous step's).
            memory: From `prepare_memory`.
            training: Whether dropout is active.

        Returns:
            `y_t` `(batch, output_size)`, the new states (the same flat
            list), and the first mechanism's attention weights `(batch,
            T_s)` (None without attention).
        """
        output, new_states, alignments = self.step_all(
            inputs, states, memory, training=training)
        return output, new_states, alignments[0] if alignments else None

    def call(self, inputs, mask=None, initial_state=None, training=None):
        self._check_input(inputs)
        targets, memory = inputs
        target_mask, memory_mask = (None, None) if mask is None else mask
        memory = self.prepare_memory(memory, memory_mask)
        batch_size = ops.shape(targets)[0]
        full = self.get_initial_state(batch_size, memory)
        if initial_state is not None:
            initial_state = _flat(initial_state)
            if len(initial_state) == len(full) and (
                len(full) != self.cell_state_count
            ):
                full = [ops.cast(s, f.dtype)
                        for s, f in zip(initial_state, full)]
            else:
                full = self.get_initial_state(
                    batch_size, memory, cell_states=initial_state)
        if training:
            self._configure_dropout(targets, full[:self.cell_state_count])

        seeds = self._loop_seeds(training)
        n_states = len(full)
        if seeds:
            # JAX: a random draw inside the scan (attention dropout, the
            # monotonic pre-sigmoid noise, a Keras layer's dropout) advances
            # a SeedGenerator, whose new state must leave the scan through
            # its carry, not a variable assignment. Each seed rides the loop
            # tiled over the batch (the loop masks states per example); the
            # newest is the largest (the counter only grows).
            full = full + [
                ops.tile(ops.expand_dims(v.value, 0), (batch_size, 1))
                for v in seeds
            ]

        def step_function(x_t, states):
            states = list(states)
            if seeds:
                seed_values = [ops.max(s, axis=0) for s in states[n_states:]]
                states = states[:n_states]
                mapping = [(v, v.value) for v in self.variables
                           if not any(v is s for s in seeds)]
                with keras.StatelessScope(
                    state_mapping=mapping + list(zip(seeds, seed_values))
                ) as scope:
                    output, new_states, alignment = self.step(
                        x_t, states, memory, training=training
                    )
                new_states = list(new_states) + [
                    ops.tile(ops.expand_dims(scope.get_current_value(v), 0),
                             (ops.shape(states[0])[0], 1))
                    for v in seeds
                ]
            else:
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
                full,
                mask=target_mask,
                zero_output_for_mask=self.return_sequences,
                return_all_outputs=self.return_sequences,
            )
        finally:
            reset_dropout_masks(self.cell)
        states = list(states)
        for v, s in zip(seeds, states[n_states:]):
            v.assign(ops.max(s, axis=0))
        states = states[:n_states]
        result = outputs if self.return_sequences else last
        if self.return_alignments:
            result = list(result)
        else:
            result = [result]
        if self.return_state:
            result += list(states)
        return result[0] if len(result) == 1 else tuple(result)

    def _loop_seeds(self, training):
        """The SeedGenerator states the loop must carry (JAX, training)."""
        if not training or keras.backend.backend() != "jax":
            return []
        return [
            v for v in self.non_trainable_variables
            if keras.backend.standardize_dtype(v.dtype) == "uint32"
        ]

    def _configure_dropout(self, targets, states):
        # As keras_seqmem.RNN: make the dropout masks once per sequence, on
        # the shape of the cell's input [x_t; c_t] / [x_t; a_{t-1}], outside
        # the loop.
        cell_inputs = ops.zeros(
            (ops.shape(targets)[0], targets.shape[-1] + self._attention_size),
            dtype=targets.dtype,
        )
        prepare_dropout_masks(self.cell, cell_inputs, states)

    def _state_count(self):
        if self._stateful is None:
            return self.cell_state_count
        return self.cell_state_count + sum(self._stateful) + (
            1 if self.order == "luong" else 0)

    def compute_mask(self, inputs, mask=None):
        target_mask = None if mask is None else mask[0]
        if not self.return_sequences:
            target_mask = None
        masks = [target_mask]
        if self.return_alignments:
            masks.append(target_mask)
        if self.return_state:
            masks += [None] * self._state_count()
        return masks[0] if len(masks) == 1 else masks

    def get_config(self):
        def serialize(mechanism):
            return keras.saving.serialize_keras_object(mechanism)

        if self.attention is None:
            attention = None
        elif self._multi:
            attention = [serialize(m) for m in self._mechanisms]
        else:
            attention = serialize(self.attention)
        config = {
            "cell": keras.saving.serialize_keras_object(self.cell),
            "attention": attention,
            "order": self.order,
            "attention_layer_size": self.attention_layer_size,
            "output_attention": self.output_attention,
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
        attention = config.get("attention")
        if isinstance(attention, list):
            config["attention"] = [
                keras.saving.deserialize_keras_object(a) for a in attention
            ]
        elif attention is not None:
            config["attention"] = keras.saving.deserialize_keras_object(
                attention
            )
        return cls(**config)
