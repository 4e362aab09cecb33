"""Layer-normalised recurrent cells (Ba, Kiros & Hinton, 2016), as tfa had.

`LayerNormLSTMCell` / `LayerNormLSTM` and `LayerNormSimpleRNNCell` /
`LayerNormSimpleRNN` compute what `tfa.rnn.LayerNormLSTMCell` and
`tfa.rnn.LayerNormSimpleRNNCell` (TensorFlow Addons 0.23) compute, with
their argument names, defaults and weight order, on Keras 3 and on
keras_seqmem's own loop.

Layer normalisation here is over the last axis, as
`keras.layers.LayerNormalization(axis=-1)` computes it:

    LN(a; g, β) = (a - mean(a)) / sqrt(var(a) + ε) ⊙ g + β

(`var` the biased variance; computed in float32 when the layer computes in
16 bits, in float64 for a float64 layer).

The fast paths (`fast_path=True`, the default of the layers), unmasked on
TensorFlow and JAX, are keras_seqmem's fused loop (`keras_seqmem._fused`;
in training with its backward pass written out):

* `LayerNormLSTM`: the input half of every step, `LN(x_t W) + b`, does not
  depend on the recurrence, so it is computed for the whole sequence before
  the loop (one `(B*T, d) x (d, 4u)` product and one vectorised
  normalisation); each step then does only `LN(h_tm1 U)` and the gates
  (`recurrent_post`). Masked calls use the same split in the step-by-step
  loop.
* `LayerNormSimpleRNN`: its normalisation is over the sum `x_t W + h_tm1 U`,
  so both products stay in the loop (`normalized_post` after them).

Measured speed: benchmarks/README.md ("Results (2026-12-07)").

Both paths share the step arithmetic below, so they compute the same
function (tests/test_layernorm_rnn.py proves it, with masks, dropout,
`go_backwards`, `unroll`).
"""

import numbers

import keras
from keras import activations
from keras import constraints
from keras import initializers
from keras import ops
from keras import regularizers

from keras_seqmem import _ops
from keras_seqmem.recurrent.base import FusedCell
from keras_seqmem.recurrent.base import SequenceRNN
from keras_seqmem.recurrent.rnn import RNN


def layer_norm(a, gamma, beta, epsilon):
    """`(a - mean) / sqrt(var + epsilon) ⊙ gamma [+ beta]` over the last
    axis, in float32 for 16-bit `a` (float64 for float64), returned in
    `a`'s dtype. `beta` may be None (no centring shift)."""
    dtype = keras.backend.standardize_dtype(a.dtype)
    work = "float64" if dtype == "float64" else "float32"
    a = ops.cast(a, work)
    mean = ops.mean(a, axis=-1, keepdims=True)
    centred = a - mean
    variance = ops.mean(ops.square(centred), axis=-1, keepdims=True)
    y = centred * ops.rsqrt(variance + epsilon) * ops.cast(gamma, work)
    if beta is not None:
        y = y + ops.cast(beta, work)
    return ops.cast(y, dtype)


def _check_epsilon(value, arg, who):
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not 0.0 < float(value) < float("inf")):
        raise ValueError(
            f"Layer '{who}': argument `{arg}` must be a positive finite "
            f"number (the variance floor of the layer normalisation), got "
            f"{arg}={value!r}."
        )
    return float(value)


def _norm_weight(layer, name, size, initializer, regularizer, constraint):
    return layer.add_weight(
        shape=(size,), name=name, initializer=initializer,
        regularizer=regularizer, constraint=constraint)


@keras.saving.register_keras_serializable(package="keras_seqmem")
class LayerNormLSTMCell(FusedCell):
    """LSTM cell with layer normalisation, as `tfa.rnn.LayerNormLSTMCell`.

    One step, with `σ` the `recurrent_activation` (sigmoid by default),
    `act` the `activation` (tanh by default), `LN` layer normalisation over
    the last axis (module docstring) and `ε = norm_epsilon`:

        z   = LN(x_t W; g_x, β_x) + LN(h_tm1 U; g_h, β_h) + b     (4u)
        i   = σ(z_i)     f = σ(z_f)     o = σ(z_o)
        c'  = f ⊙ c_tm1 + i ⊙ act(z_c)
        c_t = LN(c'; g_c, β_c)
        h_t = o ⊙ act(c_t)

    The input and recurrent projections are each normalised over all four
    gate blocks together (`4u` values, as tfa's `kernel_norm` and
    `recurrent_norm` layers do), then the bias is added; the new cell state
    is normalised before it is squashed and carried (tfa's `state_norm`).
    With dropout, `x_t` and `h_tm1` are multiplied by one mask each per
    sequence before their products.

    Weights (`d` input features, `u = units`), in the order of tfa's
    `get_weights()`, so `set_weights(tfa_cell.get_weights())` moves a tfa
    cell's weights into this one:

        kernel                 (d, 4u)  [W_i | W_f | W_c | W_o]   kernel
        recurrent_kernel       (u, 4u)  [U_i | U_f | U_c | U_o]   recurrent_kernel
        bias                   (4u,)    [b_i | b_f | b_c | b_o]   bias
        kernel_norm_gamma      (4u,)    g_x                       kernel_norm/gamma
        kernel_norm_beta       (4u,)    β_x                       kernel_norm/beta
        recurrent_norm_gamma   (4u,)    g_h                       recurrent_norm/gamma
        recurrent_norm_beta    (4u,)    β_h                       recurrent_norm/beta
        state_norm_gamma       (u,)     g_c                       state_norm/gamma
        state_norm_beta        (u,)     β_c                       state_norm/beta

    (last column: tfa's names). State: `[h, c]`, each `(batch, units)`;
    the output is `h`.

    Args:
        units: Positive integer, the size of `h` and `c`.
        activation: `act`. Default `"tanh"`.
        recurrent_activation: `σ`. Default `"sigmoid"`.
        use_bias: Whether `b` exists. Default True.
        kernel_initializer, recurrent_initializer, bias_initializer:
            Initializers of `kernel`, `recurrent_kernel`, `bias` (defaults
            `"glorot_uniform"`, `"orthogonal"`, `"zeros"`).
        unit_forget_bias: If True (default), the forget block of `bias`
            starts at one.
        kernel_regularizer, recurrent_regularizer, bias_regularizer,
        kernel_constraint, recurrent_constraint, bias_constraint: As in
            `keras.layers.LSTMCell`.
        dropout: Fraction in [0, 1) of the input features dropped.
        recurrent_dropout: Fraction in [0, 1) of `h_tm1` dropped before the
            recurrent product.
        norm_gamma_initializer: Initializer of the three gains `g`.
            Default `"ones"`.
        norm_beta_initializer: Initializer of the three shifts `β`.
            Default `"zeros"`.
        norm_epsilon: `ε > 0`. Default `1e-3` (tfa's).
        norm_gamma_regularizer, norm_beta_regularizer,
        norm_gamma_constraint, norm_beta_constraint: Regularizers and
            constraints of the gains and shifts (not in tfa; default None).
        seed: Seed of the dropout masks.

    Call arguments:
        inputs: `(batch, features)`, the input at one step.
        states: `[h_tm1, c_tm1]`, each `(batch, units)`.
        training: Whether dropout applies.

    Example:

    ```python
    import numpy as np
    import keras
    import keras_seqmem

    rnn = keras.layers.RNN(keras_seqmem.LayerNormLSTMCell(16))
    y = rnn(np.zeros((4, 10, 8), "float32"))
    ```

    Reference: Ba, Kiros & Hinton, "Layer Normalization", arXiv:1607.06450,
    2016.
    """

    gate_names = ("i", "f", "c", "o")
    forget_gate = 1

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        norm_gamma_initializer="ones",
        norm_beta_initializer="zeros",
        norm_epsilon=1e-3,
        norm_gamma_regularizer=None,
        norm_beta_regularizer=None,
        norm_gamma_constraint=None,
        norm_beta_constraint=None,
        seed=None,
        **kwargs,
    ):
        epsilon = _check_epsilon(
            norm_epsilon, "norm_epsilon", type(self).__name__)
        super().__init__(
            units,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            **kwargs,
        )
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.norm_gamma_initializer = initializers.get(norm_gamma_initializer)
        self.norm_beta_initializer = initializers.get(norm_beta_initializer)
        self.norm_epsilon = epsilon
        self.norm_gamma_regularizer = regularizers.get(norm_gamma_regularizer)
        self.norm_beta_regularizer = regularizers.get(norm_beta_regularizer)
        self.norm_gamma_constraint = constraints.get(norm_gamma_constraint)
        self.norm_beta_constraint = constraints.get(norm_beta_constraint)

    @property
    def state_size(self):
        return [self.units, self.units]  # [h, c]

    def _fused_bias_initializer(self):
        """`bias_initializer`, with the forget block at one when
        `unit_forget_bias` (as `keras.layers.LSTMCell`)."""
        if not self.unit_forget_bias:
            return self.bias_initializer
        units, base = self.units, self.bias_initializer

        def initializer(_, dtype=None):
            return ops.concatenate([
                base((units,), dtype=dtype),
                ops.ones((units,), dtype=dtype),
                base((2 * units,), dtype=dtype),
            ])

        return initializer

    def build_extra_weights(self, input_shape):
        width = 4 * self.units
        for prefix, size in (("kernel_norm", width),
                             ("recurrent_norm", width),
                             ("state_norm", self.units)):
            setattr(self, f"{prefix}_gamma", _norm_weight(
                self, f"{prefix}_gamma", size, self.norm_gamma_initializer,
                self.norm_gamma_regularizer, self.norm_gamma_constraint))
            setattr(self, f"{prefix}_beta", _norm_weight(
                self, f"{prefix}_beta", size, self.norm_beta_initializer,
                self.norm_beta_regularizer, self.norm_beta_constraint))

    # The step, in three parts shared by the cell and the fast path --------

    def input_function(self):
        """`x -> LN(x W; g_x, β_x) + b` for `x` `(..., d)`: the part of a
        step that does not depend on the state (any leading shape, so the
        fast path applies it to a whole sequence at once)."""
        kernel = self.kernel
        gamma, beta = self.kernel_norm_gamma, self.kernel_norm_beta
        bias = self.bias if self.use_bias else None
        epsilon = self.norm_epsilon

        def project(x):
            z = layer_norm(ops.matmul(x, kernel), gamma, beta, epsilon)
            return z if bias is None else z + bias

        return project

    def recurrent_post(self):
        """`(p, z_x, [h_tm1, c_tm1]) -> (h, [h, c])` given `p = h_tm1 U`
        (`h_tm1` already dropped out) and `z_x` the output of
        `input_function` for this step: everything of a step after its two
        products."""
        g_h, b_h = self.recurrent_norm_gamma, self.recurrent_norm_beta
        g_c, b_c = self.state_norm_gamma, self.state_norm_beta
        epsilon = self.norm_epsilon
        sigma, act = self.recurrent_activation, self.activation

        def post(p, z_x, states):
            c_tm1 = states[1]
            z = z_x + layer_norm(p, g_h, b_h, epsilon)
            # i = input gate, f = forget gate, c = candidate, o = output gate
            z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
            i, f, o = sigma(z_i), sigma(z_f), sigma(z_o)
            c = layer_norm(f * c_tm1 + i * act(z_c), g_c, b_c, epsilon)
            h = o * act(c)
            return h, [h, c]

        return post

    def recurrent_function(self):
        """`(z_x, h_tm1, c_tm1) -> (h, [h, c])`, `z_x` the output of
        `input_function` for this step and `h_tm1` already dropped out."""
        recurrent_kernel = self.recurrent_kernel
        post = self.recurrent_post()

        def step(z_x, h_tm1, c_tm1):
            return post(ops.matmul(h_tm1, recurrent_kernel), z_x,
                        [h_tm1, c_tm1])

        return step

    def call(self, inputs, states, training=False):
        h_tm1, c_tm1 = states[0], states[1]
        if training and self.dropout > 0.0:
            inputs = inputs * self.step_dropout_mask(inputs)
        h_in = h_tm1
        if training and self.recurrent_dropout > 0.0:
            h_in = h_tm1 * self.step_recurrent_dropout_mask(h_tm1)
        z_x = self.input_function()(inputs)
        return self.recurrent_function()(z_x, h_in, c_tm1)

    def get_config(self):
        config = {
            "recurrent_activation": activations.serialize(
                self.recurrent_activation),
            "unit_forget_bias": self.unit_forget_bias,
            "norm_gamma_initializer": initializers.serialize(
                self.norm_gamma_initializer),
            "norm_beta_initializer": initializers.serialize(
                self.norm_beta_initializer),
            "norm_epsilon": self.norm_epsilon,
            "norm_gamma_regularizer": regularizers.serialize(
                self.norm_gamma_regularizer),
            "norm_beta_regularizer": regularizers.serialize(
                self.norm_beta_regularizer),
            "norm_gamma_constraint": constraints.serialize(
                self.norm_gamma_constraint),
            "norm_beta_constraint": constraints.serialize(
                self.norm_beta_constraint),
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="keras_seqmem")
class LayerNormLSTM(SequenceRNN):
    """Layer-normalised LSTM layer: `keras.layers.RNN(LayerNormLSTMCell(...))`,
    faster under XLA.

    Takes every argument of `LayerNormLSTMCell` (see there for the
    equations and the weights) and of `keras.layers.RNN`:
    `return_sequences`, `return_state`, `go_backwards`, `stateful`,
    `unroll`, `zero_output_for_mask`, plus `activity_regularizer` and
    `fast_path`: with `fast_path=True` (default) the input half of every
    step, `LN(x_t W) + b`, is computed for the whole sequence before the
    loop (one product and one normalisation), and each step computes only
    `LN(h_tm1 U)` and the gates; the result is the cell loop's (faster
    under `jit_compile=True`, slower without XLA: module docstring).

    Call arguments:
        sequences: `(batch, timesteps, features)`.
        initial_state: Optional `[h_0, c_0]`, each `(batch, units)`.
        mask: Optional `(batch, timesteps)` boolean mask; masked steps keep
            the previous state and output.
        training: Whether dropout applies.

    Returns `(batch, units)`, or `(batch, timesteps, units)` with
    `return_sequences=True`; with `return_state=True` also `h_T` and `c_T`.

    Example:

    ```python
    import numpy as np
    import keras_seqmem

    layer = keras_seqmem.LayerNormLSTM(32, return_sequences=True)
    y = layer(np.zeros((4, 10, 8), "float32"))
    ```

    Replaces `keras.layers.RNN(tfa.rnn.LayerNormLSTMCell(...))`.
    """

    cell_class = LayerNormLSTMCell

    def call(self, sequences, initial_state=None, mask=None, training=False):
        return super().call(
            sequences, initial_state=initial_state, mask=mask, training=training
        )

    def fused_arguments(self, x):
        # The projected form: LN(x W) + b for the whole sequence before the
        # loop, LN(h U) and the gates in it.
        cell = self.cell
        return dict(make_post=cell.recurrent_post,
                    sequence=cell.input_function()(x),
                    variables=[cell.recurrent_norm_gamma,
                               cell.recurrent_norm_beta,
                               cell.state_norm_gamma, cell.state_norm_beta])

    def inner_loop_outputs(self, sequences, initial_state, mask, training):
        if not self.fast_path:
            return RNN.inner_loop_outputs(
                self, sequences, initial_state, mask, training)
        if self.uses_fused_loop(mask, training):
            return SequenceRNN.inner_loop_outputs(
                self, sequences, initial_state, mask, training)
        cell = self.cell
        x = sequences
        if training and cell.dropout > 0.0:
            # The per-sequence mask (batch, d), drawn before the loop by
            # keras_seqmem.RNN.call: the same at every step.
            x = x * ops.expand_dims(cell.step_dropout_mask(x[:, 0, :]), 1)
        # The input half of every step at once: (batch, timesteps, 4u).
        z_x = cell.input_function()(x)
        recurrent = cell.recurrent_function()
        recurrent_dropout = training and cell.recurrent_dropout > 0.0

        def step(z_x_t, states):
            h_tm1, c_tm1 = states[0], states[1]
            if recurrent_dropout:
                h_tm1 = h_tm1 * cell.step_recurrent_dropout_mask(h_tm1)
            return recurrent(z_x_t, h_tm1, c_tm1)

        return _ops.run_layer_rnn(self, step, z_x, initial_state, mask,
                                  return_all_outputs=self.return_sequences)

    def step_function(self, training):
        # The cell's own step (the fast path runs in inner_loop_outputs).
        return RNN.step_function(self, training)


@keras.saving.register_keras_serializable(package="keras_seqmem")
class LayerNormSimpleRNNCell(FusedCell):
    """Simple RNN cell with layer normalisation, as
    `tfa.rnn.LayerNormSimpleRNNCell`.

    One step, with `act` the `activation` (tanh by default), `LN` layer
    normalisation over the last axis without a shift (module docstring) and
    `ε = layernorm_epsilon`:

        h_t = act(LN(x_t W + h_tm1 U; g) + b)

    The sum of the two projections is normalised and scaled by the gain
    `g`, then the bias is added (so `b` is the normalisation's centring
    shift, Ba et al. 2016, eq. 4). With dropout, `x_t` and `h_tm1` are
    multiplied by one mask each per sequence before their products.

    Weights (`d` input features, `u = units`), in the order of tfa's
    `get_weights()`:

        kernel            (d, u)   W    kernel
        recurrent_kernel  (u, u)   U    recurrent_kernel
        bias              (u,)     b    bias (use_bias only)
        layernorm_gamma   (u,)     g    layernorm/gamma

    State: `h`, `(batch, units)`; the output is `h`.

    Args:
        units: Positive integer, the number of units.
        activation: `act`. Default `"tanh"`.
        use_bias: Whether `b` exists. Default True.
        layernorm_epsilon: `ε > 0`. Default `1e-5` (tfa's).
        kernel_initializer, recurrent_initializer, bias_initializer:
            Defaults `"glorot_uniform"`, `"orthogonal"`, `"zeros"`.
        gamma_initializer: Initializer of `g`. Default `"ones"`.
        kernel_regularizer, recurrent_regularizer, bias_regularizer,
        gamma_regularizer: Regularizers of the matching weights.
        kernel_constraint, recurrent_constraint, bias_constraint,
        gamma_constraint: Constraints of the matching weights.
        dropout: Fraction in [0, 1) of the input features dropped.
        recurrent_dropout: Fraction in [0, 1) of `h_tm1` dropped.
        seed: Seed of the dropout masks.

    Call arguments:
        inputs: `(batch, features)`, the input at one step.
        states: `[h_tm1]`, `(batch, units)`.
        training: Whether dropout applies.

    Example:

    ```python
    import numpy as np
    import keras
    import keras_seqmem

    rnn = keras.layers.RNN(keras_seqmem.LayerNormSimpleRNNCell(16))
    y = rnn(np.zeros((4, 10, 8), "float32"))
    ```

    Reference: Ba, Kiros & Hinton, "Layer Normalization", arXiv:1607.06450,
    2016.
    """

    gate_names = ("h",)

    def __init__(
        self,
        units,
        activation="tanh",
        use_bias=True,
        layernorm_epsilon=1e-5,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        gamma_initializer="ones",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        gamma_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        gamma_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        epsilon = _check_epsilon(
            layernorm_epsilon, "layernorm_epsilon", type(self).__name__)
        super().__init__(
            units,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            **kwargs,
        )
        self.layernorm_epsilon = epsilon
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.gamma_constraint = constraints.get(gamma_constraint)

    @property
    def state_size(self):
        return self.units

    def build_extra_weights(self, input_shape):
        self.layernorm_gamma = _norm_weight(
            self, "layernorm_gamma", self.units, self.gamma_initializer,
            self.gamma_regularizer, self.gamma_constraint)

    def normalized_post(self):
        """`(z, states) -> (h, [h])` given `z = x_t W + h_tm1 U`: the
        normalisation, the bias and the activation."""
        bias = self.bias if self.use_bias else None
        gamma, epsilon, act = (self.layernorm_gamma, self.layernorm_epsilon,
                               self.activation)

        def post(z, states):
            net = layer_norm(z, gamma, None, epsilon)
            if bias is not None:
                net = net + bias
            h = act(net)
            return h, [h]

        return post

    def normalized_step(self):
        """`(x_t, h_tm1) -> h` with both already dropped out; the weights
        read once (the fast path calls this once per sequence)."""
        kernel, recurrent_kernel = self.kernel, self.recurrent_kernel
        post = self.normalized_post()

        def step(x_t, h_tm1):
            net = ops.matmul(x_t, kernel) + ops.matmul(h_tm1, recurrent_kernel)
            return post(net, None)[0]

        return step

    def call(self, inputs, states, training=False):
        single = not isinstance(states, (list, tuple))
        h_tm1 = states if single else states[0]
        if training and self.dropout > 0.0:
            inputs = inputs * self.step_dropout_mask(inputs)
        h_in = h_tm1
        if training and self.recurrent_dropout > 0.0:
            h_in = h_tm1 * self.step_recurrent_dropout_mask(h_tm1)
        h = self.normalized_step()(inputs, h_in)
        return h, (h if single else [h])

    def get_config(self):
        config = {
            "layernorm_epsilon": self.layernorm_epsilon,
            "gamma_initializer": initializers.serialize(
                self.gamma_initializer),
            "gamma_regularizer": regularizers.serialize(
                self.gamma_regularizer),
            "gamma_constraint": constraints.serialize(self.gamma_constraint),
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="keras_seqmem")
class LayerNormSimpleRNN(SequenceRNN):
    """Layer-normalised simple RNN layer:
    `keras.layers.RNN(LayerNormSimpleRNNCell(...))` on keras_seqmem's loop.

    Takes every argument of `LayerNormSimpleRNNCell` (see there for the
    equation and the weights) and of `keras.layers.RNN`, plus
    `activity_regularizer` and `fast_path` (default True: the weights are
    read once per call and each step runs without a layer call; the
    normalisation is over `x_t W + h_tm1 U`, so no part of a step can leave
    the loop; the result is the cell loop's).

    Call arguments:
        sequences: `(batch, timesteps, features)`.
        initial_state: Optional `h_0`, `(batch, units)`.
        mask: Optional `(batch, timesteps)` boolean mask.
        training: Whether dropout applies.

    Example:

    ```python
    import numpy as np
    import keras_seqmem

    layer = keras_seqmem.LayerNormSimpleRNN(32)
    y = layer(np.zeros((4, 10, 8), "float32"))
    ```

    Replaces `keras.layers.RNN(tfa.rnn.LayerNormSimpleRNNCell(...))`.
    """

    cell_class = LayerNormSimpleRNNCell

    def fused_arguments(self, x):
        # The additive form without the bias (it comes after the norm).
        cell = self.cell
        return dict(make_post=cell.normalized_post, sequence=x,
                    kernel=cell.kernel, bias=None,
                    variables=[cell.layernorm_gamma] + (
                        [cell.bias] if cell.use_bias else []))

    def call(self, sequences, initial_state=None, mask=None, training=False):
        return super().call(
            sequences, initial_state=initial_state, mask=mask, training=training
        )

    def step_function(self, training):
        if not self.fast_path:
            return RNN.step_function(self, training)
        cell = self.cell
        dropout = training and cell.dropout > 0.0
        recurrent_dropout = training and cell.recurrent_dropout > 0.0
        compute = cell.normalized_step()

        def step(x_t, states):
            h_tm1 = states[0]
            if dropout:
                x_t = x_t * cell.step_dropout_mask(x_t)
            if recurrent_dropout:
                h_tm1 = h_tm1 * cell.step_recurrent_dropout_mask(h_tm1)
            h = compute(x_t, h_tm1)
            return h, [h]

        return step
