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
from keras_seqmem._ops import vjp
from keras_seqmem._ops import work_dtype
from keras_seqmem._dropout import prepare_dropout_masks
from keras_seqmem._dropout import reset_dropout_masks

GRADIENTS = ("written", "loop")
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
    step is that of the slowest example in the batch. On TensorFlow and
    JAX its gradient is written out (`ops.custom_gradient`): the backward
    pass runs the cell again from the step's input states and goes back
    through the steps taken, so that training, under XLA too, costs what
    the steps taken cost whatever `M` (differentiating the loop itself kept
    buffers of `M` iterations, which XLA copied at every input step). On
    other backends (PyTorch) the loop itself is differentiated.

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
        gradient: `"written"` (default on TensorFlow and JAX): the ponder
            loop's backward pass written out, whose cost follows the ponder
            steps taken whatever `M` (with XLA: 26.0–27.1 ms per training
            step for `M` = 4 to 32 in docs/pages/act.md). `"loop"`: the
            backend differentiates the loop itself, which costs more with
            XLA and grows with `M`, but trains faster without XLA (each
            ponder step's cell is not run a second time): see "Cost" in
            docs/pages/act.md.

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
        gradient="written",
        **kwargs,
    ):
        who = kwargs.get("name") or "ACT"
        if gradient not in GRADIENTS:
            raise ValueError(
                f"Layer '{who}': argument `gradient` must be one of "
                f"{GRADIENTS}, got gradient={gradient!r}."
            )
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
        self.gradient = gradient
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

    def ponder(self, inputs, states, training=False, weight_values=None):
        """One input step with its ponder loop.

        `weight_values`: `read_weights()`, read by the caller (`ACTRNN` reads them once, outside its time loop);
        read here when None.

        Returns:
            `(output, new_states, steps, remainder)`: the halting-weighted
            output and states, `N(t)` and `R(t)` (`(batch,)`, float32).
        """
        states = _as_list(states)
        inputs = ops.cast(inputs, self.compute_dtype)
        if (self.gradient == "loop"
                or keras.backend.backend() not in ("tensorflow", "jax")):
            return self._ponder_loop(inputs, states, training)
        variables = self._ponder_variables()
        if weight_values is None:
            weight_values = self.read_weights()
        weight_values = list(weight_values)
        return self._ponder_with_gradient(inputs, states, training,
                                          variables, weight_values)

    def _ponder_variables(self):
        # The float variables the ponder step reads (the inner cell's and
        # the halting unit's), passed to it as values.
        return [v for v in self.variables
                if keras.backend.is_float_dtype(v.dtype)]

    def read_weights(self):
        """The values of the cell's float variables (the inner cell's, then
        the halting unit's): what `ponder` takes as `weight_values`."""
        return [ops.copy(v) for v in self._ponder_variables()]

    def _ponder_loop(self, inputs, states, training, differentiable=True):
        """The ponder loop itself: a `while` loop bounded by M that ends
        when every example has halted. `differentiable` on JAX: a
        `fori_loop` of M iterations (JAX cannot differentiate a `while`
        loop in reverse mode)."""
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
        if differentiable and keras.backend.backend() == "jax":
            # JAX cannot differentiate a while loop in reverse mode; a
            # fori_loop with static bounds is a scan, which it can. Once
            # every example has halted, `cond` skips the cell.
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

    def _ponder_with_gradient(self, inputs, states, training, variables,
                              weight_values):
        """`_ponder_loop` with a hand-written gradient whose cost follows
        the ponder steps taken, whatever M.

        Differentiating the `while` loop itself keeps, under XLA, buffers
        of M iterations for every intermediate of the loop body, which the
        time loop around it copies at every input step: the training step
        grew with M even when every example halted after two steps. Here
        the forward pass is the `while` loop, not differentiated (nothing
        is kept); the backward pass runs the cell again from the step's
        input states, keeping only the chain of inner states (one buffer
        of M slots per state, local to the backward step), then goes back
        through the `n` steps taken (n = the largest N(t) of the batch),
        each one's vector-Jacobian product taken of a fresh call of the
        cell and halting unit:

            ∂L/∂y^n = p^n g_y,   ∂L/∂s^n = p^n g_s + ∂L/∂s^n (from step n+1)
            ∂L/∂p^n = <g_y, y^n> + Σ <g_s, s^n>
            ∂L/∂h^n = ∂L/∂p^n − ∂L/∂p^N − g_R   for n < N, 0 otherwise

        (g_y, g_s, g_R the gradients of the step's output, states and
        R(t); `p^N = R(t) = 1 − Σ_{n<N} h^n`). The same function and
        gradients as differentiating the loop, in another summation order.
        """
        work = self._work()
        cell = self.cell
        state_dtypes = [s.dtype for s in states]
        num_states = len(states)
        max_steps = self.max_ponder_steps
        input_dim = inputs.shape[-1]

        def step_fn(x, chain, weights):
            """One ponder step: the inner cell and the halting unit."""
            with keras.StatelessScope(
                    state_mapping=list(zip(variables, weights))):
                output, new_states = call_cell(cell, x, list(chain),
                                               training=training)
                new_states = [ops.cast(s, d) for s, d in
                              zip(_as_list(new_states), state_dtypes)]
                h = self._halting(output, new_states)
            return output, new_states, h

        @ops.custom_gradient
        def run(inputs, *args):
            states = list(args[:num_states])
            weights = list(args[num_states:])
            with keras.StatelessScope(
                    state_mapping=list(zip(variables, weights))):
                output, new_states, steps, remainder = self._ponder_loop(
                    inputs, states, training, differentiable=False)

            def grad(*upstream, **_):
                if len(upstream) == 1 and isinstance(upstream[0],
                                                     (tuple, list)):
                    upstream = tuple(upstream[0])  # JAX: one tuple
                return self._ponder_gradient(
                    step_fn, inputs, states, weights, steps, remainder,
                    upstream, work, max_steps, input_dim)

            return (output, *new_states, steps, remainder), grad

        result = run(inputs, *states, *weight_values)
        output = result[0]
        new_states = list(result[1 : 1 + num_states])
        steps, remainder = result[1 + num_states], result[2 + num_states]
        return output, new_states, steps, remainder

    def _chain(self, step_fn, x_at, states, weights, taken, max_steps):
        """Runs the ponder steps taken again, keeping each one's input
        states; returns `read(k) -> [s^k ...]`. On TensorFlow a
        `tf.TensorArray` keeps them (a write is O(1) with and without XLA);
        elsewhere a preallocated `(max_steps, ...)` buffer updated in place
        (XLA)."""
        num_states = len(states)

        def chain_cond(k, *_):
            return ops.less(k + 1, taken)

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            tas = [tf.TensorArray(s.dtype, size=max_steps,
                                  element_shape=s.shape,
                                  clear_after_read=False).write(0, s)
                   for s in states]

            def ta_body(k, *loop):
                chain = list(loop[:num_states])
                tas = list(loop[num_states:])
                _, new_states, _ = step_fn(x_at(k), chain, weights)
                for new, old in zip(new_states, chain):
                    new.set_shape(old.shape)
                tas = [ta.write(k + 1, s) for ta, s in zip(tas, new_states)]
                return (k + 1, *new_states, *tas)

            loop = tf.while_loop(
                chain_cond, ta_body, (tf.constant(0, "int32"), *states, *tas),
                maximum_iterations=max_steps)
            tas = list(loop[1 + num_states:])
            return lambda k: [ta.read(k) for ta in tas]

        buffers = [ops.zeros((max_steps,) + tuple(ops.shape(s)), s.dtype)
                   for s in states]
        # (scatter_update, not slice_update: TF's slice_update is an XLA op
        # that an exported SavedModel cannot hold.)
        index0 = ops.zeros((1, 1), "int32")
        buffers = [ops.scatter_update(b, index0, s[None])
                   for b, s in zip(buffers, states)]

        def chain_body(k, *loop):
            chain = list(loop[:num_states])
            bufs = list(loop[num_states:])
            _, new_states, _ = step_fn(x_at(k), chain, weights)
            index = ops.reshape(k + 1, (1, 1))
            bufs = [ops.scatter_update(b, index, s[None])
                    for b, s in zip(bufs, new_states)]
            return (k + 1, *new_states, *bufs)

        loop = ops.while_loop(
            chain_cond, chain_body,
            (ops.convert_to_tensor(0, "int32"), *states, *buffers),
            maximum_iterations=max_steps)
        buffers = list(loop[1 + num_states:])
        return lambda k: [ops.take(b, k, axis=0) for b in buffers]

    def _ponder_gradient(self, step_fn, inputs, states, weights, steps,
                         remainder, upstream, work, max_steps, input_dim):
        num_states = len(states)
        batch = ops.shape(inputs)[0]

        g_out = upstream[0]
        g_out = (ops.zeros((batch, self.output_size), work) if g_out is None
                 else ops.cast(g_out, work))
        g_states = [ops.cast(g, work) if g is not None else
                    ops.zeros(ops.shape(s), work)
                    for g, s in zip(upstream[1 : 1 + num_states], states)]
        g_rem = upstream[2 + num_states]
        g_rem = (ops.zeros((batch,), work) if g_rem is None
                 else ops.cast(g_rem, work))
        taken = ops.cast(ops.max(ops.concatenate(
            [steps, ops.zeros((1,), steps.dtype)])), "int32")
        ones = ops.ones((batch, 1), inputs.dtype)
        first_input = ops.concatenate([inputs, ones], axis=-1)
        later_input = ops.concatenate([inputs, ones * 0], axis=-1)

        def x_at(k):
            first = ops.cast(ops.equal(k, 0), inputs.dtype)
            return first * first_input + (1 - first) * later_input

        # 1. The chain of inner states before each step taken:
        # chain[k] = s^k (s^0 the step's input states), k < taken.
        read_chain = self._chain(step_fn, x_at, states, weights, taken,
                                 max_steps)

        # 2. Back through the steps taken, last first.
        def back_cond(k, *_):
            return ops.greater_equal(k, 0)

        def back_body(k, *loop):
            d_chain = list(loop[:num_states])
            d_in = loop[num_states]
            q = loop[num_states + 1]
            d_w = list(loop[num_states + 2:])
            chain = read_chain(k)
            k_f = ops.cast(k, work)
            running = ops.less(k_f, steps)
            halting = ops.equal(k_f, steps - 1.0)

            def cotangents(outs):
                output, new_states, h = outs
                running_f = ops.cast(running, work)
                p = ops.where(halting, remainder, running_f * h)
                dp = ops.sum(g_out * ops.cast(output, work), axis=-1)
                for g, s in zip(g_states, new_states):
                    dp = dp + ops.sum(g * ops.cast(s, work), axis=-1)
                new_q = ops.where(halting, dp, q)
                inside = ops.logical_and(running, ops.logical_not(halting))
                dh = ops.where(inside, dp - new_q - g_rem, ops.zeros_like(dp))
                ct_out = ops.cast(p[:, None] * g_out, output.dtype)
                ct_states = [ops.cast(p[:, None] * g + ops.cast(d, work),
                                      s.dtype)
                             for g, d, s in zip(g_states, d_chain,
                                                new_states)]
                return (ct_out, ct_states, ops.cast(dh, h.dtype)), new_q

            (d_x, d_prev, d_wk), new_q = vjp(
                step_fn, (x_at(k), chain, weights), cotangents)
            d_in = d_in + ops.cast(d_x[:, :input_dim], d_in.dtype)
            d_w = [a + ops.cast(g, a.dtype) for a, g in zip(d_w, d_wk)]
            d_prev = [ops.cast(d, s.dtype) for d, s in zip(d_prev, states)]
            return (k - 1, *d_prev, d_in, new_q, *d_w)

        initial = (taken - 1,
                   *[ops.zeros(ops.shape(s), s.dtype) for s in states],
                   ops.zeros(ops.shape(inputs), inputs.dtype),
                   ops.zeros((batch,), work),
                   *[ops.zeros(ops.shape(w), w.dtype) for w in weights])
        loop = ops.while_loop(back_cond, back_body, initial,
                              maximum_iterations=max_steps)
        d_states = list(loop[1 : 1 + num_states])
        d_in = loop[1 + num_states]
        d_w = list(loop[3 + num_states:])
        return (d_in, *d_states, *d_w)

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
            "gradient": self.gradient,
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
        # The cell's weights, read once outside the time loop (the ponder
        # step's gradient takes them as values).
        weights = (cell.read_weights()
                   if keras.backend.backend() in ("tensorflow", "jax")
                   else None)
        total0 = ops.zeros((ops.shape(sequences)[0], 1), work)

        def step(inputs, states):
            states, total = states[:num_states], states[num_states]
            output, new_states, steps, remainder = cell.ponder(
                inputs, states, training=training, weight_values=weights)
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
