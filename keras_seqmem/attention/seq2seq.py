"""RNNsearch: a bidirectional encoder, an attentive decoder, and decoding.

Bahdanau, Cho & Bengio, "Neural Machine Translation by Jointly Learning to
Align and Translate", ICLR 2015 (with `use_attention=False`, the RNN
Encoder–Decoder of Cho et al. 2014 that the paper compares against).
"""

import keras
from keras import ops
from keras import tree

from keras_seqmem import _validation
from keras_seqmem import decoding
from keras_seqmem.attention.bahdanau import BahdanauAttention
from keras_seqmem.attention.luong import LuongAttention
from keras_seqmem.attention.monotonic import BahdanauMonotonicAttention
from keras_seqmem.attention.monotonic import LuongMonotonicAttention
from keras_seqmem.attention.decoder import AttentionMemory
from keras_seqmem.attention.decoder import AttentiveDecoder
from keras_seqmem.recurrent import CoupledLSTM
from keras_seqmem.recurrent import CoupledLSTMCell
from keras_seqmem.recurrent import LeakyRNN
from keras_seqmem.recurrent import LeakyRNNCell
from keras_seqmem.recurrent import PeepholeLSTM
from keras_seqmem.recurrent import PeepholeLSTMCell

# name -> (cell class, sequence layer class or None for keras.layers.RNN).
# Keras's LSTM/GRU layers are not used for the encoder: on a GPU they pick
# cuDNN, which turns XLA off and puts CudnnRNN ops in the SavedModel.
CELLS = {
    "lstm": (keras.layers.LSTMCell, None),
    "gru": (keras.layers.GRUCell, None),
    "simple_rnn": (keras.layers.SimpleRNNCell, None),
    "peephole_lstm": (PeepholeLSTMCell, PeepholeLSTM),
    "coupled_lstm": (CoupledLSTMCell, CoupledLSTM),
    "leaky_rnn": (LeakyRNNCell, LeakyRNN),
}

# name -> mechanism class; "luong*" scores need units = the query's size.
ATTENTIONS = {
    "bahdanau": BahdanauAttention,
    "luong": LuongAttention,
    "bahdanau_monotonic": BahdanauMonotonicAttention,
    "luong_monotonic": LuongMonotonicAttention,
}
ATTENTION_ORDERS = ("bahdanau", "luong")

DECODE_METHODS = ("greedy", "beam")


@keras.saving.register_keras_serializable(package="keras_seqmem")
class Seq2Seq(keras.Model):
    """Attention-based encoder–decoder (RNNsearch) with greedy/beam decoding.

        h_j = [h→_j; h←_j]                    bidirectional encoder over x
        s_0 = tanh(W_s [h→_T; h←_1])          one bridge per decoder state
        c_t, α_t = attention(s_{t-1}, h)       (default: BahdanauAttention)
        s_t = cell([E y_{t-1}; c_t], s_{t-1})   (AttentiveDecoder)
        p(y_t | y_<t, x) = softmax(W_o [s_t; c_t] + b_o)

    (`attention_order="luong"`: the decoder attends after the cell, on its
    output, tfa `AttentionWrapper`'s order; see `AttentiveDecoder`.)

    `call((source, decoder_inputs))` returns the logits `(batch, T_t, V_t)`
    under teacher forcing, so `fit` trains on `((source, [start] + target[:-1]),
    target)` pairs (what `keras_seqmem.tasks.make_dataset` yields for
    seq2seq tasks) with `SparseCategoricalCrossentropy(from_logits=True,
    ignore_class=pad_id)`. `decode` runs `keras_seqmem.decoding`'s greedy
    or beam search over the model's step (`step_function`) in graph (one
    `while_loop` with a static bound, so it compiles with XLA); `generate`
    wraps it in a cached `tf.function(jit_compile=True)`; `export` writes a
    SavedModel whose `serving_default` decodes in-graph.

    With `use_attention=False` the decoder sees the fixed context
    `c = [h→_T; h←_1]` at every step instead of attending (Cho et al. 2014).

    Args:
        source_vocab_size: Source vocabulary size, padding id included.
        target_vocab_size: Target vocabulary size, padding, start and end
            ids included.
        embedding_dim: Size of both embeddings.
        units: Units of a named cell (decoder and each encoder direction;
            default 128). None with a cell instance.
        cell: The cell of encoder and decoder: one of `CELLS` (`"lstm"`,
            `"gru"`, `"simple_rnn"`, `"peephole_lstm"`, `"coupled_lstm"`,
            `"leaky_rnn"`), or any Keras RNN cell instance (ours, Keras's,
            a `keras.layers.StackedRNNCells`): the decoder runs it, each
            encoder direction runs a fresh copy made from its config, and one
            bridge is made per entry of its flattened `state_size`.
        cell_kwargs: Extra arguments of a named cell (dropout, `gamma`, ...).
        attention_units: Units of a named mechanism (default `units`; for
            `"luong"` / `"luong_monotonic"`, whose query is not projected,
            the query's size).
        normalize: Weight-normalised Bahdanau attention (`tfa`'s
            `normalize=True`; `"bahdanau"` and `"bahdanau_monotonic"`).
        use_attention: False for the fixed-context baseline.
        bidirectional: Bidirectional (default) or forward-only encoder.
        pad_id, start_id, end_id: Special target token ids (source padding is
            `pad_id` too).
        max_decode_length: Default static bound of `decode`.
        attention: The mechanism: `"bahdanau"` (default), `"luong"`,
            `"bahdanau_monotonic"`, `"luong_monotonic"` (`ATTENTIONS`; the
            monotonic ones with their defaults: parallel mode, no noise,
            score bias 0), or a mechanism layer instance (ours, a Keras
            attention layer, or any layer with the attention protocol of
            `AttentiveDecoder`), serialised in `get_config`.
        attention_order: `"bahdanau"` (attend, then the cell; default) or
            `"luong"` (the cell, then attend on its output).
        attention_layer_size: Luong order's attention projection `W_a`
            (tfa's `attention_layer_size`; None: the context itself).
        **kwargs: Base `Model` arguments (`name`, `dtype`, ...).

    Example:

    ```python
    import numpy as np
    import keras
    import keras_seqmem

    model = keras_seqmem.Seq2Seq(source_vocab_size=12, target_vocab_size=12,
                                 embedding_dim=8, units=16, max_decode_length=6)
    source = np.array([[3, 4, 5, 0], [6, 7, 0, 0]])
    decoder_inputs = np.array([[1, 5, 4, 3], [1, 7, 6, 0]])
    targets = np.array([[5, 4, 3, 2], [7, 6, 2, 0]])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, ignore_class=0))
    model.fit((source, decoder_inputs), targets, epochs=1, verbose=0)
    result = model.generate(source, method="beam", beam_width=3)
    print(result.ids.shape, result.scores.shape)  # (2, 3, 6) (2, 3)
    ```
    """

    def __init__(
        self,
        source_vocab_size,
        target_vocab_size,
        embedding_dim=64,
        units=None,
        cell="lstm",
        cell_kwargs=None,
        attention_units=None,
        normalize=False,
        use_attention=True,
        bidirectional=True,
        pad_id=0,
        start_id=1,
        end_id=2,
        max_decode_length=64,
        attention="bahdanau",
        attention_order="bahdanau",
        attention_layer_size=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        # The given cell and mechanism instances, kept out of Keras's layer
        # tracking: the decoder owns (and saves) them.
        self._given = _Untracked()
        check = _validation.check_positive_int
        self.source_vocab_size = check(
            source_vocab_size, "source_vocab_size", self.name
        )
        self.target_vocab_size = check(
            target_vocab_size, "target_vocab_size", self.name
        )
        self.embedding_dim = check(embedding_dim, "embedding_dim", self.name)
        self._check_cell(cell, units, cell_kwargs)
        self.normalize = bool(normalize)
        self.use_attention = bool(use_attention)
        self.bidirectional = bool(bidirectional)
        if attention_order not in ATTENTION_ORDERS:
            raise ValueError(
                f"Model '{self.name}': argument `attention_order` expected "
                f"one of {ATTENTION_ORDERS}, got "
                f"attention_order={attention_order!r}."
            )
        self.attention_order = attention_order
        self.attention_layer_size = (
            None if attention_layer_size is None else check(
                attention_layer_size, "attention_layer_size", self.name)
        )
        for arg, value in (
            ("pad_id", pad_id), ("start_id", start_id), ("end_id", end_id)
        ):
            if not isinstance(value, int) or not 0 <= value < target_vocab_size:
                raise ValueError(
                    f"Model '{self.name}': argument `{arg}` expected an id in "
                    f"[0, target_vocab_size={target_vocab_size}), got "
                    f"{arg}={value!r}."
                )
        if len({pad_id, start_id, end_id}) != 3:
            raise ValueError(
                f"Model '{self.name}': expected distinct pad_id, start_id and "
                f"end_id, got {pad_id}, {start_id}, {end_id}."
            )
        self.pad_id, self.start_id, self.end_id = pad_id, start_id, end_id
        self.max_decode_length = check(
            max_decode_length, "max_decode_length", self.name
        )

        policy = self.dtype_policy
        self.source_embedding = keras.layers.Embedding(
            self.source_vocab_size, embedding_dim, mask_zero=pad_id == 0,
            dtype=policy, name="source_embedding",
        )
        self.target_embedding = keras.layers.Embedding(
            self.target_vocab_size, embedding_dim, mask_zero=pad_id == 0,
            dtype=policy, name="target_embedding",
        )
        encoder = self._make_encoder_rnn(name="encoder_rnn")
        if self.bidirectional:
            encoder = keras.layers.Bidirectional(
                encoder, dtype=policy, name="encoder"
            )
        self.encoder = encoder
        decoder_cell = self._make_cell(name="decoder_cell")
        self._decoder_state_sizes = _state_sizes(decoder_cell)
        self.bridges = [
            keras.layers.Dense(
                size, activation="tanh", dtype=policy, name=f"bridge_{i}"
            )
            for i, size in enumerate(self._decoder_state_sizes)
        ]
        # The query of the attention: the cell's first state before the step
        # (Bahdanau order) or its output after it (Luong order).
        query_size = (
            self._decoder_state_sizes[0]
            if self.attention_order == "bahdanau"
            else _output_size(decoder_cell)
        )
        mechanism = self._make_attention(
            attention, attention_units, query_size
        )
        if not self.use_attention and self.attention_order != "bahdanau":
            raise ValueError(
                f"Model '{self.name}': attention_order="
                f"{self.attention_order!r} expected use_attention=True (the "
                f"fixed-context baseline has no attention to order)."
            )
        self.decoder = AttentiveDecoder(
            decoder_cell, attention=mechanism, order=self.attention_order,
            attention_layer_size=self.attention_layer_size, dtype=policy,
            name="decoder",
        )
        # Logits in float32 under mixed precision, for a stable softmax.
        self.output_layer = keras.layers.Dense(
            self.target_vocab_size, dtype="float32", name="logits"
        )
        self._decode_cache = _FunctionCache()

    # -- construction helpers ------------------------------------------------

    def _check_cell(self, cell, units, cell_kwargs):
        if isinstance(cell, dict):  # from get_config
            cell = keras.saving.deserialize_keras_object(cell)
        if isinstance(cell, str):
            if cell not in CELLS:
                raise ValueError(
                    f"Model '{self.name}': argument `cell` expected one of "
                    f"{sorted(CELLS)} or a Keras RNN cell instance, got "
                    f"cell={cell!r}."
                )
            self.units = _validation.check_positive_int(
                128 if units is None else units, "units", self.name
            )
            self.cell_kwargs = dict(cell_kwargs or {})
        elif _is_cell(cell):
            if units is not None or cell_kwargs:
                raise ValueError(
                    f"Model '{self.name}': `units` and `cell_kwargs` size and "
                    f"configure a named cell; cell={cell.name!r} is an "
                    f"instance with its own, got units={units!r}, "
                    f"cell_kwargs={cell_kwargs!r}. Drop them (or pass a "
                    f"cell name)."
                )
            self.units = None
            self.cell_kwargs = {}
            self._given.cell = cell
            self._cell_name = None
            return
        else:
            raise ValueError(
                f"Model '{self.name}': argument `cell` expected one of "
                f"{sorted(CELLS)} or a Keras RNN cell instance (with `call` "
                f"and `state_size`, e.g. keras.layers.GRUCell(64) or "
                f"keras.layers.StackedRNNCells([...])), got cell={cell!r}."
            )
        self._cell_name = cell

    def _make_attention(self, attention, attention_units, query_size):
        if isinstance(attention, dict):  # from get_config
            attention = keras.saving.deserialize_keras_object(attention)
        if isinstance(attention, str):
            if attention not in ATTENTIONS:
                raise ValueError(
                    f"Model '{self.name}': argument `attention` expected one "
                    f"of {sorted(ATTENTIONS)} or an attention mechanism "
                    f"layer, got attention={attention!r}."
                )
            luong = attention.startswith("luong")
            if attention_units is None:
                attention_units = query_size if (
                    luong or self.units is None) else self.units
            self.attention_units = _validation.check_positive_int(
                attention_units, "attention_units", self.name
            )
            if luong and self.attention_units != query_size:
                raise ValueError(
                    f"Model '{self.name}': attention={attention!r} scores "
                    f"the query (the decoder cell's "
                    f"{'first state' if self.attention_order == 'bahdanau' else 'output'}"
                    f", {query_size} features) against keys projected to "
                    f"attention_units: expected attention_units={query_size} "
                    f"(or None), got attention_units={self.attention_units}."
                )
            if luong and self.normalize:
                raise ValueError(
                    f"Model '{self.name}': normalize=True is Bahdanau's "
                    f"weight normalisation; attention={attention!r} has none "
                    f"(pass a LuongAttention(units, scale=True) instance for "
                    f"a learned scale)."
                )
            self.attention_name = attention
            if not self.use_attention:
                return None
            options = {} if luong else {"normalize": self.normalize}
            return ATTENTIONS[attention](
                self.attention_units, dtype=self.dtype_policy,
                name="attention", **options,
            )
        if isinstance(attention, keras.layers.Layer):
            if attention_units is not None or self.normalize:
                raise ValueError(
                    f"Model '{self.name}': `attention_units` and `normalize` "
                    f"configure a named mechanism; attention="
                    f"{attention.name!r} is an instance with its own, got "
                    f"attention_units={attention_units!r}, normalize="
                    f"{self.normalize}. Drop them."
                )
            if not self.use_attention:
                raise ValueError(
                    f"Model '{self.name}': an attention mechanism instance "
                    f"expected use_attention=True, got use_attention=False."
                )
            self.attention_units = None
            self.attention_name = None
            self._given.attention = attention
            return attention
        raise ValueError(
            f"Model '{self.name}': argument `attention` expected one of "
            f"{sorted(ATTENTIONS)} or an attention mechanism layer (e.g. "
            f"keras_seqmem.LuongAttention(64, scale=True)), got "
            f"attention={attention!r}."
        )

    @property
    def cell(self):
        """The cell's name (a `CELLS` key) or the decoder's cell instance."""
        if self._cell_name is not None:
            return self._cell_name
        return self._given.cell

    def _new_cell(self, name):
        """A fresh cell: of the named kind, or a copy of the given instance
        (same config, new weights)."""
        if self._cell_name is not None:
            cell_class, _ = CELLS[self._cell_name]
            return cell_class(
                self.units, dtype=self.dtype_policy, name=name,
                **self.cell_kwargs,
            )
        cell = self._given.cell
        return cell.__class__.from_config(_unbuilt(cell.get_config()))

    def _make_cell(self, name):
        if self._cell_name is not None:
            return self._new_cell(name)
        return self._given.cell

    def _make_encoder_rnn(self, name):
        common = dict(
            return_sequences=True, return_state=True,
            dtype=self.dtype_policy, name=name,
        )
        if self._cell_name is not None:
            _, layer_class = CELLS[self._cell_name]
            if layer_class is not None:
                return layer_class(self.units, **self.cell_kwargs, **common)
        # Bidirectional makes the backward direction from this layer's
        # config: a second fresh copy of the cell.
        return keras.layers.RNN(self._new_cell(name=f"{name}_cell"), **common)

    def build(self, input_shape=None):
        if self.built:
            return
        # Sub-layers are built by running the model once on a tiny batch.
        self.call(
            (ops.ones((1, 2), "int32") * 3, ops.ones((1, 2), "int32"))
        )
        self.built = True

    # -- the model ------------------------------------------------------------

    def _check_ids(self, ids, what):
        if len(ids.shape) != 2:
            raise ValueError(
                f"Model '{self.name}': expected {what} token ids of shape "
                f"(batch, steps), got shape {tuple(ids.shape)}."
            )
        return ops.cast(ids, "int32")

    def encode(self, source, training=None):
        """Runs the encoder.

        Returns:
            `(memory, memory_mask, summary, initial_states)`: encoder outputs
            `(batch, T_s, 2 d_h)`, the boolean source mask, the fixed
            summary `[h→_T; h←_1]` (each direction's output after its
            whole input) and the bridged initial cell states (a flat list,
            one per entry of the decoder cell's flattened `state_size`).
        """
        source = self._check_ids(source, "source")
        embedded = self.source_embedding(source)
        mask = ops.not_equal(source, self.pad_id)
        outputs = self.encoder(embedded, mask=mask, training=training)
        memory = outputs[0]
        summary = self._summary(memory, mask)
        initial_states = [bridge(summary) for bridge in self.bridges]
        return memory, mask, summary, initial_states

    def _summary(self, memory, mask):
        """`[h→_T; h←_1]`: the forward output at the last real source step
        and the backward output at the first (for the cells whose output is
        their first state, LSTM/GRU/ours, these are the final `h` of each
        direction); any cell, stacked cells included."""
        lengths = ops.sum(ops.cast(mask, "int32"), axis=1)
        last = ops.maximum(lengths - 1, 0)[:, None, None]
        if not self.bidirectional:
            return ops.take_along_axis(memory, last, axis=1)[:, 0]
        half = memory.shape[-1] // 2
        forward = ops.take_along_axis(memory[..., :half], last, axis=1)[:, 0]
        return ops.concatenate([forward, memory[:, 0, half:]], axis=-1)

    def _memory(self, memory, mask, summary):
        if self.use_attention:
            return self.decoder.prepare_memory(memory, mask)
        return AttentionMemory(summary, None, None)

    def initial_decoder_states(self, memory_state, cell_states):
        """The decoder's whole state before the first step (a flat list):
        the bridged cell states, then what the decoder adds (each stateful
        mechanism's state, Luong order's previous attentional vector)."""
        batch_size = ops.shape(cell_states[0])[0]
        return list(self.decoder.get_initial_state(
            batch_size, memory=memory_state, cell_states=list(cell_states)
        ))

    def call(self, inputs, training=None):
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError(
                f"Model '{self.name}': expected inputs (source, "
                f"decoder_inputs), got {type(inputs).__name__}."
            )
        source, decoder_inputs = inputs
        memory, memory_mask, summary, states = self.encode(source, training)
        decoder_inputs = self._check_ids(decoder_inputs, "decoder_inputs")
        embedded = self.target_embedding(decoder_inputs)
        # A step is real while its input is neither padding nor the end
        # token: the step fed `end_id` predicts past the end of the target
        # (its label is padding), so it carries no loss and no metric.
        target_mask = ops.logical_and(
            ops.not_equal(decoder_inputs, self.pad_id),
            ops.not_equal(decoder_inputs, self.end_id),
        )
        context = memory if self.use_attention else summary
        outputs = self.decoder(
            [embedded, context],
            mask=[target_mask, memory_mask if self.use_attention else None],
            initial_state=states,
            training=training,
        )
        return self.output_layer(outputs)

    def compute_alignments(self, source, decoder_inputs):
        """Teacher-forced attention weights `(batch, T_t, T_s)`."""
        if not self.use_attention:
            raise ValueError(
                f"Model '{self.name}': alignments expected use_attention=True."
            )
        memory, memory_mask, _, states = self.encode(source)
        decoder_inputs = self._check_ids(decoder_inputs, "decoder_inputs")
        memory_state = self.decoder.prepare_memory(memory, memory_mask)
        embedded = self.target_embedding(decoder_inputs)
        states = self.initial_decoder_states(memory_state, states)

        alignments = []
        for t in range(decoder_inputs.shape[1]):
            _, states, alignment = self.decoder.step(
                embedded[:, t], states, memory_state
            )
            alignments.append(alignment)
        return ops.stack(alignments, axis=1)

    # -- decoding -------------------------------------------------------------

    def decode(
        self,
        source,
        method="greedy",
        beam_width=4,
        length_penalty=0.0,
        max_length=None,
        return_alignments=False,
        coverage_penalty=0.0,
    ):
        """Decodes `source` in graph with `keras_seqmem.decoding`: a
        `keras_seqmem.decoding.DecodeResult`.

        The model's step (`step_function`) goes through
        `decoding.Greedy()` or `decoding.BeamSearch(beam_width,
        length_penalty, coverage_penalty)`, started from `start_id` and the
        decoder's initial states (the bridged cell states, then each stateful
        mechanism's state); the encoder side is tiled with
        `decoding.tile_batch` for beam search. Greedy results have no beam
        axis; beam results are sorted best first along axis 1; `ids` hold
        `pad_id` after `end_id`. Call inside `tf.function(jit_compile=True)`
        / `jax.jit` (what `generate` does on TensorFlow) or directly.

        Args:
            source: int `(batch, T_s)` source ids, `pad_id`-padded.
            method: `"greedy"` or `"beam"`.
            beam_width: Hypotheses per example for beam search.
            length_penalty: GNMT `α` (0: rank by log-probability).
            max_length: Static bound on the output length (default
                `max_decode_length`).
            return_alignments: Record the attention weights at every step.
            coverage_penalty: GNMT `β` of beam search (0: none).
        """
        method, max_length = self._check_decode_args(
            method, beam_width, length_penalty, max_length, return_alignments,
            coverage_penalty,
        )
        source = self._check_ids(source, "source")
        step, states = self.step_function(
            source, beam_width if method == "beam" else 1
        )
        start_tokens = ops.full((ops.shape(source)[0],), self.start_id,
                                dtype="int32")
        if method == "greedy":
            search = decoding.Greedy()
        else:
            search = decoding.BeamSearch(
                beam_width, length_penalty=float(length_penalty),
                coverage_penalty=float(coverage_penalty),
            )
        return search(
            step, start_tokens, states, end_token=self.end_id,
            max_length=max_length, pad_token=self.pad_id,
            return_alignments=return_alignments,
        )

    def step_function(self, source, beam_width=1):
        """The model as a `keras_seqmem.decoding` step: `(step, states)`.

        `step(tokens, states) -> (logits, states[, alignments])` runs one
        decoder step on `batch * beam_width` rows (the encoder side is
        encoded once and tiled with `decoding.tile_batch(·, beam_width)`);
        `logits` `(rows, target_vocab_size)`, with `pad_id` and `start_id`
        at -1e9 (never predictions); `alignments` `(rows, T_s)` with
        attention. `states` is the decoder's initial state `(batch, ...)`
        (a flat list, untiled: the decoders tile it). Use it to decode with
        any `keras_seqmem.decoding` decoder, e.g. sampling:

            step, states = model.step_function(source)
            decoding.Sampling(top_p=0.9)(step, start_tokens, states,
                                         end_token=model.end_id,
                                         max_length=20)
        """
        memory, memory_mask, summary, cell_states = self.encode(source)
        memory_state = self._memory(memory, memory_mask, summary)
        states = self.initial_decoder_states(memory_state, cell_states)
        if beam_width > 1:
            memory_state = decoding.tile_batch(memory_state, beam_width)
        # Padding and start are never predictions: they get no probability.
        vocab = ops.arange(self.target_vocab_size)
        never = ops.logical_or(vocab == self.pad_id, vocab == self.start_id)

        def step(tokens, states):
            outputs, states, alignment = self.decoder.step(
                self.target_embedding(tokens), states, memory_state
            )
            logits = ops.where(never, -1e9, self.output_layer(outputs))
            if alignment is None:
                return logits, states
            return logits, states, alignment

        return step, states

    def _check_decode_args(
        self, method, beam_width, length_penalty, max_length, alignments,
        coverage_penalty=0.0,
    ):
        if method not in DECODE_METHODS:
            raise ValueError(
                f"Model '{self.name}': decoding `method` expected one of "
                f"{DECODE_METHODS}, got method={method!r}."
            )
        if method == "beam":
            _validation.check_positive_int(beam_width, "beam_width", self.name)
        if max_length is None:
            max_length = self.max_decode_length
        _validation.check_positive_int(max_length, "max_length", self.name)
        for arg, value in (("length_penalty", length_penalty),
                           ("coverage_penalty", coverage_penalty)):
            if float(value) < 0:
                raise ValueError(
                    f"Model '{self.name}': expected {arg} >= 0, got "
                    f"{arg}={value!r}."
                )
        if float(coverage_penalty) > 0 and method != "beam":
            raise ValueError(
                f"Model '{self.name}': coverage_penalty expected "
                f"method='beam', got method={method!r}."
            )
        if (alignments or float(coverage_penalty) > 0) and (
            not self.use_attention
        ):
            raise ValueError(
                f"Model '{self.name}': "
                + ("return_alignments=True" if alignments
                   else "coverage_penalty > 0")
                + " expected use_attention=True (the attention weights)."
            )
        return method, int(max_length)

    def generate(
        self,
        source,
        method="greedy",
        beam_width=4,
        length_penalty=0.0,
        max_length=None,
        return_alignments=False,
        jit_compile=True,
        coverage_penalty=0.0,
    ):
        """`decode` in a cached `tf.function`, results as NumPy arrays.

        One compiled function per decoding configuration; with
        `jit_compile=True` (default) the whole search is one XLA cluster.
        On other backends `decode` runs directly. Returns a
        `keras_seqmem.decoding.DecodeResult` of NumPy arrays (`state`: a
        list of them).
        """
        import numpy as np

        if not self.built:
            self.build()
        method, max_length = self._check_decode_args(
            method, beam_width, length_penalty, max_length, return_alignments,
            coverage_penalty,
        )
        key = (method, beam_width if method == "beam" else 1,
               float(length_penalty), float(coverage_penalty), max_length,
               bool(return_alignments), bool(jit_compile))
        fn = self._decode_cache.functions.get(key)
        if fn is None:
            def fn(source):
                return self.decode(source, method, beam_width,
                                   length_penalty, max_length,
                                   return_alignments, coverage_penalty)

            if keras.backend.backend() == "tensorflow":
                import tensorflow as tf

                fn = tf.function(
                    fn,
                    jit_compile=jit_compile,
                    reduce_retracing=True,
                    autograph=False,
                )
            self._decode_cache.functions[key] = fn
        result = fn(ops.convert_to_tensor(np.asarray(source), "int32"))
        return tree.map_structure(ops.convert_to_numpy, result)

    def export(
        self,
        filepath,
        format="tf_saved_model",
        verbose=True,
        method="beam",
        beam_width=4,
        length_penalty=0.0,
        max_length=None,
        coverage_penalty=0.0,
        **kwargs,
    ):
        """Writes a SavedModel that decodes in-graph (`decode`).

        Signatures:

        * `serving_default(source)`: int32 `(batch, T_s)` source ids ->
          `{"ids": int32 (batch, [beam,] L), "scores": float32 (batch,
          [beam]), "lengths": int32 (batch, [beam])}`, with `method` /
          `beam_width` / `length_penalty` / `coverage_penalty` /
          `max_length` fixed at export.
        * `logits(source, decoder_inputs)`: the teacher-forced logits.

        The graph holds standard TensorFlow ops only (a `While` loop, no
        Python function), and loads with `tf.saved_model.load` without
        keras_seqmem. Only `format="tf_saved_model"` is supported.
        """
        if format != "tf_saved_model":
            raise ValueError(
                f"Model '{self.name}': export expected "
                f"format='tf_saved_model', got format={format!r}."
            )
        import tensorflow as tf
        from keras.export import ExportArchive

        if not self.built:
            self.build()
        method, max_length = self._check_decode_args(
            method, beam_width, length_penalty, max_length, False,
            coverage_penalty,
        )

        def serve(source):
            result = self.decode(
                source, method, beam_width, length_penalty, max_length,
                coverage_penalty=coverage_penalty,
            )
            return {
                "ids": result.ids,
                "scores": result.scores,
                "lengths": result.lengths,
            }

        def logits(source, decoder_inputs):
            return self((source, decoder_inputs), training=False)

        ids = tf.TensorSpec((None, None), tf.int32, name="source")
        archive = ExportArchive()
        archive.track(self)
        archive.add_endpoint("serving_default", serve, input_signature=[ids])
        archive.add_endpoint(
            "logits",
            logits,
            input_signature=[
                ids, tf.TensorSpec((None, None), tf.int32, name="decoder_inputs")
            ],
        )
        archive.write_out(filepath, verbose=verbose)

    def get_config(self):
        config = {
            "source_vocab_size": self.source_vocab_size,
            "target_vocab_size": self.target_vocab_size,
            "embedding_dim": self.embedding_dim,
            "units": self.units,
            "cell": (
                self._cell_name if self._cell_name is not None
                else _serialize(self._given.cell)
            ),
            "cell_kwargs": dict(self.cell_kwargs),
            "attention_units": self.attention_units,
            "normalize": self.normalize,
            "use_attention": self.use_attention,
            "bidirectional": self.bidirectional,
            "pad_id": self.pad_id,
            "start_id": self.start_id,
            "end_id": self.end_id,
            "max_decode_length": self.max_decode_length,
            "attention": (
                self.attention_name if self.attention_name is not None
                else _serialize(self._given.attention)
            ),
            "attention_order": self.attention_order,
            "attention_layer_size": self.attention_layer_size,
        }
        base = super().get_config()
        return {
            **{k: v for k, v in base.items()
               if k in ("name", "trainable", "dtype")},
            **config,
        }


def _unbuilt(config):
    """`config` without the build state of the layers it serialises (a
    `StackedRNNCells` keeps its cells' `build_config`): the model builds
    them, for the input each gets."""
    if isinstance(config, dict):
        return {k: _unbuilt(v) for k, v in config.items()
                if k != "build_config"}
    if isinstance(config, (list, tuple)):
        return type(config)(_unbuilt(v) for v in config)
    return config


def _serialize(layer):
    """The layer's construction config (without its build state)."""
    return _unbuilt(keras.saving.serialize_keras_object(layer))


class _Untracked:
    """Plain attributes that Keras neither tracks nor saves."""


class _FunctionCache:
    """Compiled decoding functions by configuration; not tracked by Keras
    or checkpointed (a plain dict attribute would be)."""

    def __init__(self):
        self.functions = {}


def _is_cell(cell):
    return (
        isinstance(cell, keras.layers.Layer)
        and hasattr(cell, "state_size")
        and not isinstance(cell, keras.layers.RNN)
    )


def _state_sizes(cell):
    """The cell's flattened state sizes (stacked cells: all of them, bottom
    cell first)."""
    return [int(size) for size in tree.flatten(cell.state_size)]


def _output_size(cell):
    size = getattr(cell, "output_size", None)
    if size is None:  # a cell without output_size: Keras takes state_size[0]
        return _state_sizes(cell)[0]
    return int(tree.flatten(size)[0])
