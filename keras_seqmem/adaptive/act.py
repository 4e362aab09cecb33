"""Adaptive Computation Time (Graves 2016).

`ACT` wraps any Keras RNN cell so that it takes a variable number of
internal ("ponder") steps per input step; it is itself a Keras RNN cell.
`ACTRNN` runs it over a sequence, adds the ponder cost to the model's
losses and can return the ponder counts of every step.
"""

import keras
from keras import initializers
from keras import ops
from keras.layers import InputSpec

from keras_seqmem import _validation
from keras_seqmem._ops import call_cell
from keras_seqmem._ops import check_stateful_build
from keras_seqmem._ops import keep_states
from keras_seqmem._ops import mirror_cell_arguments
from keras_seqmem._ops import reset_to_initial_state
from keras_seqmem._ops import run_layer_rnn
from keras_seqmem._ops import sequence_output_mask
from keras_seqmem._ops import stateful_states
from keras_seqmem._ops import work_dtype
from keras_seqmem._dropout import prepare_dropout_masks
from keras_seqmem._dropout import reset_dropout_masks

HALTING_INPUTS = ("output", "state")


def _as_list(states):
    if isinstance(states, (list, tuple)):
        return list(states)
    return [states]


@keras.saving.register_keras_serializable(package="keras_seqmem")
class ACT(keras.layers.Layer):
    """Adaptive Computation Time around a Keras RNN cell (Graves 2016).

    At input step `t`, with `S` the inner cell, `s_{t−1}` its state and
    `M = max_ponder_steps`, for `n = 1, 2, ...`:

        x^n_t = [x_t, 1] if n = 1 else [x_t, 0]          (the first-step flag)
        y^n_t, s^n_t = S(x^n_t, s^{n−1}_t),   s^0_t = s_{t−1}
        h^n_t = σ(W_h u^n_t + b_h)      u = y^n_t ("output") or the flat
                                        concatenated states ("state")
        N(t)  = min(M, min{n : Σ_{m≤n} h^m_t ≥ 1 − ε})
        R(t)  = 1 − Σ_{n<N(t)} h^n_t
        p^n_t = h^n_t for n < N(t),  R(t) for n = N(t)
        y_t   = Σ_n p^n_t y^n_t,   s_t = Σ_n p^n_t s^n_t (every state, e.g.
                                   an LSTM's h and c)

    The ponder time of step `t` is `ρ_t = N(t) + R(t)`; the ponder cost of
    a sequence is `τ Σ_t ρ_t` (`time_penalty` τ). Its gradient reaches the
    halting unit through `R(t)` (`N(t)` is piecewise constant). A cell
    cannot add losses from inside a time loop, so the cost is added by
    `ACTRNN` (which also masks padded steps). Run with a cost (`τ > 0`) by
    anything else (`keras.layers.RNN(ACT(...))`, `keras_seqmem.RNN`,
    another cell), the cell raises a `ValueError` naming `ACTRNN` at its
    first call instead of training without the cost; with
    `time_penalty=0` it runs anywhere a Keras RNN cell runs.

    The ponder loop is a `while` loop with the static bound `M`
    (`maximum_iterations`); examples that have halted are masked out (their
    `p^n` is 0) while the others go on, and the loop ends when every example
    of the batch has halted. So it compiles with XLA, and the work of a
    step is that of the slowest example in the batch. On JAX, which cannot
    differentiate a `while` loop in reverse mode, it is a `fori_loop` of
    `M` iterations (a scan) whose body runs the cell under `cond` only
    while some example is still running: the same function and gradients,
    with the empty iterations left over.

    Halting, the probabilities and the weighted means are computed in
    float32 under mixed precision (float64 in a float64 layer).

    Args:
        cell: The inner Keras RNN cell (e.g. `keras.layers.LSTMCell(64)`,
            `keras_seqmem.PeepholeLSTMCell(64)`, `keras_seqmem.NTMCell(...)`),
            unbuilt or built for `input_dim + 1` features (the flag). Cells
            with dropout are refused (put a `Dropout` before the layer).
        max_ponder_steps: `M ≥ 1`, the most internal steps per input step.
        halting_epsilon: `ε` in (0, 1): halting happens once the summed
            halting probability reaches `1 − ε` (Graves: 0.01).
        time_penalty: `τ ≥ 0`, the weight of the ponder cost (added by
            `ACTRNN`; with `τ > 0` the cell runs in `ACTRNN` only).
        halting_bias_initializer: Of `b_h`; default 1.0 (Graves: a positive
            initial bias makes the network start with short ponder times).
        halting_kernel_initializer: Of `W_h`.
        halting_input: `"output"` (default: the inner cell's output `y^n`)
            or `"state"` (all its states, concatenated, as in Graves's
            `h^n = σ(W_h s^n + b_h)`).

    Weights: the inner cell's (its kernel has one more input row than the
    input, the flag's, last), `halting_kernel` `(D, 1)` and `halting_bias`
    `(1,)`.

    Call arguments:
        inputs: `(batch, features)`.
        states: The inner cell's state list.
        training: Passed to the inner cell.

    Example:

    ```python
    import numpy as np
    import keras
    import keras_seqmem

    act = keras_seqmem.ACT(keras.layers.SimpleRNNCell(32),
                           max_ponder_steps=8, time_penalty=1e-3)
    model = keras.Sequential([
        keras.Input((None, 16)),
        keras_seqmem.ACTRNN(act),
        keras.layers.Dense(1),
    ])
    model.compile("adam", "mse", jit_compile=True)
    ```

    Reference: Graves, "Adaptive Computation Time for Recurrent Neural
    Networks", arXiv:1603.08983, 2016.
    """

    def __init__(
        self,
        cell,
        max_ponder_steps=10,
        halting_epsilon=0.01,
        time_penalty=0.01,
        halting_bias_initializer=None,
        halting_kernel_initializer="glorot_uniform",
        halting_input="output",
        **kwargs,
    ):
        who = kwargs.get("name") or "ACT"
        if isinstance(cell, dict):
            cell = keras.saving.deserialize_keras_object(cell)
        if not (isinstance(cell, keras.layers.Layer)
                and hasattr(cell, "state_size")):
            raise ValueError(
                f"Layer '{who}': argument `cell` must be a Keras RNN cell (a "
                f"layer with `state_size`), got cell={cell!r}."
            )
        for arg in ("dropout", "recurrent_dropout"):
            if float(getattr(cell, arg, 0.0) or 0.0) > 0.0:
                raise ValueError(
                    f"Layer '{who}': the inner cell has {arg}="
                    f"{getattr(cell, arg)}; dropout inside the ponder loop is "
                    f"not supported, expected {arg}=0 (put a Dropout layer "
                    f"before the ACT layer instead)."
                )
        max_ponder_steps = _validation.check_positive_int(
            max_ponder_steps, "max_ponder_steps", who)
        if not isinstance(halting_epsilon, (int, float)) or isinstance(
                halting_epsilon, bool) or not 0.0 < halting_epsilon < 1.0:
            raise ValueError(
                f"Layer '{who}': argument `halting_epsilon` must be a number "
                f"in (0, 1), got halting_epsilon={halting_epsilon!r}."
            )
        _validation.check_at_least(time_penalty, 0.0, "time_penalty", who)
        if halting_input not in HALTING_INPUTS:
            raise ValueError(
                f"Layer '{who}': argument `halting_input` must be one of "
                f"{HALTING_INPUTS}, got halting_input={halting_input!r}."
            )
        # autocast=False (public Layer argument): states keep their own
        # dtypes on the way in (an inner NTMCell's are float32); `ponder`
        # casts the inputs, and the halting weights are read in float32.
        kwargs["autocast"] = False
        super().__init__(**kwargs)
        self.cell = cell
        self.max_ponder_steps = max_ponder_steps
        self.halting_epsilon = float(halting_epsilon)
        self.time_penalty = float(time_penalty)
        if halting_bias_initializer is None:
            halting_bias_initializer = initializers.Constant(1.0)
        self.halting_bias_initializer = initializers.get(
            halting_bias_initializer)
        self.halting_kernel_initializer = initializers.get(
            halting_kernel_initializer)
        self.halting_input = halting_input
        self.input_spec = InputSpec(min_ndim=2)

    # Sizes -------------------------------------------------------------

    @property
    def state_size(self):
        return _as_list(self.cell.state_size)

    @property
    def output_size(self):
        size = getattr(self.cell, "output_size", None)
        if isinstance(size, int):
            return size
        if hasattr(self.cell, "units"):
            return int(self.cell.units)
        return int(self.state_size[0])

    def _halting_size(self):
        if self.halting_input == "output":
            return self.output_size
        return int(sum(self.state_size))

    def build(self, input_shape):
        _validation.check_feature_size(input_shape, self.name)
        input_dim = int(input_shape[-1])
        if not self.cell.built:
            self.cell.build((input_shape[0], input_dim + 1))
        else:
            kernel = getattr(self.cell, "kernel", None)
            if kernel is not None and kernel.shape[0] != input_dim + 1:
                raise ValueError(
                    f"Layer '{self.name}': the inner cell is built for "
                    f"{kernel.shape[0]} input features, expected "
                    f"{input_dim + 1} (the {input_dim} input features and "
                    f"the first-step flag)."
                )
        self.halting_kernel = self.add_weight(
            shape=(self._halting_size(), 1), name="halting_kernel",
            initializer=self.halting_kernel_initializer, dtype=self._work())
        self.halting_bias = self.add_weight(
            shape=(1,), name="halting_bias",
            initializer=self.halting_bias_initializer, dtype=self._work())
        self.input_spec = InputSpec(min_ndim=2, axes={-1: input_dim})
        self.built = True

    def _work(self):
        return work_dtype(self.compute_dtype)

    def get_initial_state(self, batch_size=None):
        return _as_list(self.cell.get_initial_state(batch_size=batch_size))

    # The step -----------------------------------------------------------

    def _halting(self, output, states):
        work = self._work()
        if self.halting_input == "output":
            u = ops.cast(output, work)
        else:
            u = ops.concatenate([ops.cast(s, work) for s in states], axis=-1)
        logits = ops.matmul(u, ops.cast(self.halting_kernel, work))
        return ops.sigmoid(logits + ops.cast(self.halting_bias, work))[:, 0]

    def ponder(self, inputs, states, training=False):
        """One input step with its ponder loop.

        Returns:
            `(output, new_states, steps, remainder)`: the halting-weighted
            output and states, `N(t)` and `R(t)` (`(batch,)`, float32).
        """
        states = _as_list(states)
        inputs = ops.cast(inputs, self.compute_dtype)
        work = self._work()
        state_dtypes = [s.dtype for s in states]
        batch = ops.shape(inputs)[0]
        ones = ops.ones((batch, 1), inputs.dtype)
        first_input = ops.concatenate([inputs, ones], axis=-1)
        later_input = ops.concatenate([inputs, ones * 0], axis=-1)
        threshold = 1.0 - self.halting_epsilon
        last_step = self.max_ponder_steps - 1
        num_states = len(states)
        zeros = ops.zeros((batch,), work)

        # Flat loop variables: n, s (num_states), acc_out, acc_s
        # (num_states), cumulative h, running, steps, remainder.
        def body(*loop):
            n = loop[0]
            chain = list(loop[1 : 1 + num_states])
            acc_out = loop[1 + num_states]
            acc_states = list(loop[2 + num_states : 2 + 2 * num_states])
            cumulative, running, steps, remainder = loop[2 + 2 * num_states :]
            first = ops.cast(ops.equal(n, 0), inputs.dtype)
            x = first * first_input + (1 - first) * later_input
            output, new_states = call_cell(self.cell, x, chain,
                                           training=training)
            new_states = [ops.cast(s, d) for s, d in
                          zip(_as_list(new_states), state_dtypes)]
            h = self._halting(output, new_states)
            running_f = ops.cast(running, work)
            halts = ops.logical_and(
                running,
                ops.logical_or(ops.greater_equal(cumulative + h, threshold),
                               ops.equal(n, last_step)))
            p = ops.where(halts, 1.0 - cumulative, running_f * h)
            acc_out = acc_out + p[:, None] * ops.cast(output, work)
            acc_states = [a + p[:, None] * ops.cast(s, work)
                          for a, s in zip(acc_states, new_states)]
            steps = steps + running_f
            remainder = ops.where(halts, 1.0 - cumulative, remainder)
            still = ops.logical_and(running, ops.logical_not(halts))
            cumulative = ops.where(still, cumulative + h, cumulative)
            return (n + 1, *new_states, acc_out, *acc_states, cumulative,
                    still, steps, remainder)

        def cond(*loop):
            return ops.any(loop[-3])

        initial = (
            ops.convert_to_tensor(0, "int32"),
            *states,
            ops.zeros((batch, self.output_size), work),
            *[ops.zeros(ops.shape(s), work) for s in states],
            zeros,
            ops.ones((batch,), "bool"),
            zeros,
            zeros,
        )
        if keras.backend.backend() == "jax":
            # JAX cannot differentiate a while loop in reverse mode; a
            # fori_loop with static bounds is a scan, which it can. Once
            # every example has halted, `cond` skips the cell (the early
            # exit as far as JAX allows: the remaining iterations are
            # empty).
            def scan_body(_, loop):
                return ops.cond(cond(*loop), lambda: tuple(body(*loop)),
                                lambda: tuple(loop))

            loop = ops.fori_loop(0, self.max_ponder_steps, scan_body,
                                 initial)
        else:
            loop = ops.while_loop(cond, body, initial,
                                  maximum_iterations=self.max_ponder_steps)
        acc_out = loop[1 + num_states]
        acc_states = loop[2 + num_states : 2 + 2 * num_states]
        steps, remainder = loop[-2], loop[-1]
        output = ops.cast(acc_out, self.compute_dtype)
        new_states = [ops.cast(s, d) for s, d in zip(acc_states, state_dtypes)]
        return output, new_states, steps, remainder

    def call(self, inputs, states, training=False):
        # ACTRNN runs `ponder` and adds the cost; `call` is what any other
        # loop runs, and it cannot add the cost from inside its loop.
        if self.time_penalty > 0:
            raise ValueError(
                f"Layer '{self.name}': an ACT cell with time_penalty="
                f"{self.time_penalty} runs in keras_seqmem.ACTRNN only, "
                f"which adds its ponder cost to the model's losses (run as a "
                f"plain RNN cell, e.g. by keras.layers.RNN, it would train "
                f"without it); use keras_seqmem.ACTRNN(act_cell, ...) in place "
                f"of keras.layers.RNN(act_cell), or time_penalty=0 to run it "
                f"without a cost."
            )
        output, new_states, _, _ = self.ponder(inputs, states, training)
        return output, new_states

    def get_config(self):
        config = {
            "cell": keras.saving.serialize_keras_object(self.cell),
            "max_ponder_steps": self.max_ponder_steps,
            "halting_epsilon": self.halting_epsilon,
            "time_penalty": self.time_penalty,
            "halting_bias_initializer": initializers.serialize(
                self.halting_bias_initializer),
            "halting_kernel_initializer": initializers.serialize(
                self.halting_kernel_initializer),
            "halting_input": self.halting_input,
        }
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["cell"] = keras.saving.deserialize_keras_object(config["cell"])
        return cls(**config)


@keras.saving.register_keras_serializable(package="keras_seqmem")
class ACTRNN(keras.layers.RNN):
    """An `ACT` cell over a sequence, with its ponder cost and counts.

    Computes what `keras.layers.RNN(act)` computes, and also:

    * adds the ponder cost `τ · mean_batch Σ_t (N(t) + R(t))` to the
      model's losses (`add_loss`; padded steps count 0), so that `fit`
      minimises task loss + ponder cost (Graves 2016, eq. 14); `τ` is the
      cell's `time_penalty`;
    * with `return_ponder=True`, returns the ponder counts `N(t)` and
      remainders `R(t)` of every step, `(batch, timesteps)` each (0 at
      masked steps; in processing order with `go_backwards`); the ponder
      time is their sum.

    Args:
        cell: An `ACT` cell.
        return_ponder: Also return `(steps, remainders)`.
        return_sequences, return_state, go_backwards, stateful, unroll,
        zero_output_for_mask: As `keras.layers.RNN`.

    Returns `output`, then the final states with `return_state=True`, then
    `steps, remainders` with `return_ponder=True`.

    The ponder cost is summed through the loop, so with
    `return_sequences=False` and `return_ponder=False` only the last output
    is kept (memory O(1) in the sequence length); `return_sequences` or
    `return_ponder` keep every step's output (and counts).

    With `stateful=True` (as `keras.layers.RNN`): the final states of the
    inner cell on a batch are its initial states on the next; the batch
    size must be fixed (`keras.Input(batch_shape=(batch, timesteps,
    features))`) and every batch must have it; `reset_states()` goes back
    to the inner cell's initial state. The ponder cost of a call is that of
    the steps of that call. The states are not saved with the model (as in
    Keras).

    The `ACT` cell's arguments are readable on the layer
    (`layer.max_ponder_steps`, `layer.time_penalty`, `layer.halting_input`,
    ...; `layer.cell.cell` is the inner cell).

    Example:

    ```python
    import numpy as np
    import keras
    import keras_seqmem

    layer = keras_seqmem.ACTRNN(
        keras_seqmem.ACT(keras.layers.GRUCell(16), max_ponder_steps=5),
        return_sequences=True, return_ponder=True)
    y, steps, remainders = layer(np.random.rand(2, 7, 3).astype("float32"))
    print(y.shape, steps.shape)  # (2, 7, 16) (2, 7)
    ```
    """

    def __init__(
        self,
        cell,
        return_ponder=False,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        zero_output_for_mask=False,
        **kwargs,
    ):
        who = kwargs.get("name") or "ACTRNN"
        if isinstance(cell, dict):
            cell = keras.saving.deserialize_keras_object(cell)
        if not isinstance(cell, ACT):
            raise ValueError(
                f"Layer '{who}': argument `cell` must be an ACT cell "
                f"(keras_seqmem.ACT(inner_cell, ...)), got cell={cell!r}."
            )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            zero_output_for_mask=zero_output_for_mask,
            **kwargs,
        )
        self.return_ponder = bool(return_ponder)
        self.input_spec = InputSpec(ndim=3)

    def build(self, sequences_shape, initial_state_shape=None):
        _validation.check_sequence_shape(sequences_shape, self.name)
        check_stateful_build(self, sequences_shape)
        super().build(sequences_shape, initial_state_shape)
        self.input_spec = InputSpec(ndim=3, axes={-1: sequences_shape[-1]})

    def reset_state(self):
        """Sets the states of a stateful layer back to the inner cell's
        initial state (`get_initial_state`)."""
        reset_to_initial_state(self)

    def reset_states(self):
        """Alias of `reset_state`, as in Keras."""
        self.reset_state()

    def call(self, sequences, initial_state=None, mask=None, training=False):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        cell = self.cell
        if initial_state is None:
            if self.stateful:
                initial_state = stateful_states(self, sequences)
            else:
                initial_state = cell.get_initial_state(
                    batch_size=ops.shape(sequences)[0])
        initial_state = _as_list(initial_state)
        work = work_dtype(cell.compute_dtype)
        units = cell.output_size
        num_states = len(initial_state)
        # Every step's output is kept only when it is returned (the outputs
        # or the ponder counts of every step); the ponder cost is summed in
        # an extra state, which a masked step keeps (padding costs 0).
        keep_all = self.return_sequences or self.return_ponder
        total0 = ops.zeros((ops.shape(sequences)[0], 1), work)

        def step(inputs, states):
            states, total = states[:num_states], states[num_states]
            output, new_states, steps, remainder = cell.ponder(
                inputs, states, training=training)
            output = ops.cast(output, work)
            if self.return_ponder:
                output = ops.concatenate(
                    [output, steps[:, None], remainder[:, None]], axis=-1)
            total = total + (steps + remainder)[:, None]
            return output, list(new_states) + [total]

        if training:
            # The inner cell's dropout masks, once per sequence; its input
            # is [x_t, first-step flag].
            batch = ops.shape(sequences)[0]
            prepare_dropout_masks(
                cell.cell,
                ops.zeros((batch, sequences.shape[-1] + 1), cell.compute_dtype),
                initial_state)
        try:
            last, outputs, states = run_layer_rnn(
                self, step, sequences, initial_state + [total0], mask,
                return_all_outputs=keep_all)
        finally:
            reset_dropout_masks(cell.cell)
        states, total = states[:num_states], states[num_states]
        if self.stateful:
            keep_states(self, states)
        if cell.time_penalty > 0:
            self.add_loss(cell.time_penalty * ops.mean(total[:, 0]))
        output = outputs if self.return_sequences else last
        output = ops.cast(output[..., :units], self.compute_dtype)
        result = [output]
        if self.return_state:
            result += [ops.cast(s, self.compute_dtype) for s in states]
        if self.return_ponder:
            steps, remainders = outputs[..., units], outputs[..., units + 1]
            if mask is not None:
                valid = ops.cast(mask, work)
                if self.go_backwards:
                    valid = ops.flip(valid, axis=1)
                steps, remainders = steps * valid, remainders * valid
            result += [steps, remainders]
        if len(result) == 1:
            return output
        return tuple(result)

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        batch, steps = sequences_shape[0], sequences_shape[1]
        units = self.cell.output_size
        output = (batch, steps, units) if self.return_sequences else (
            batch, units)
        result = [output]
        if self.return_state:
            result += [(batch, s) for s in self.cell.state_size]
        if self.return_ponder:
            result += [(batch, steps), (batch, steps)]
        return output if len(result) == 1 else tuple(result)

    def compute_mask(self, _, mask):
        extra = (len(self.cell.state_size) if self.return_state else 0) + (
            2 if self.return_ponder else 0)
        return sequence_output_mask(mask, self.return_sequences, extra)

    def get_config(self):
        config = super().get_config()
        return {**config, "return_ponder": self.return_ponder}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["cell"] = keras.saving.deserialize_keras_object(config["cell"])
        return cls(**config)


# `layer.max_ponder_steps`, `layer.time_penalty`, ...: the ACT cell's
# arguments, read-only (`cell`, the inner cell, is `layer.cell.cell`).
mirror_cell_arguments(ACTRNN, ACT, exclude=("cell",))
