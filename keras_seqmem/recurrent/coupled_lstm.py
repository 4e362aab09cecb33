"""LSTM with coupled input and forget gates (CIFG)."""

import keras
from keras import ops

from keras_seqmem.recurrent.base import GatedCell
from keras_seqmem.recurrent.base import SequenceRNN


@keras.saving.register_keras_serializable(package="keras_seqmem")
class CoupledLSTMCell(GatedCell):
    """LSTM cell whose input gate is one minus its forget gate (CIFG).

    One step, with `σ` the `recurrent_activation` (sigmoid by default) and
    `act` the `activation` (tanh by default); the peephole terms are present
    only with `use_peepholes=True`:

        f   = σ(x_t W_f + h_tm1 U_f [+ p_f ⊙ c_tm1] + b_f)
        c_t = f ⊙ c_tm1 + (1 - f) ⊙ act(x_t W_c + h_tm1 U_c + b_c)
        o   = σ(x_t W_o + h_tm1 U_o [+ p_o ⊙ c_t] + b_o)
        h_t = o ⊙ act(c_t)

    Coupling the gates removes a quarter of the LSTM's weights and keeps the
    cell state a convex combination of its past and the candidate; Greff et
    al. (2017) found it performs on par with the full LSTM.

    Weights (`d` input features, `u = units`):

        kernel                         (d, 3u)   blocks [W_f | W_c | W_o]
        recurrent_kernel               (u, 3u)   blocks [U_f | U_c | U_o]
        bias                           (3u,)     blocks [b_f | b_c | b_o]
        forget_gate_peephole_weights   (u,)      p_f  (use_peepholes only)
        output_gate_peephole_weights   (u,)      p_o  (use_peepholes only)

    State: `[h, c]`, each `(batch, units)`; the output is `h`.

    Replaces `tf.contrib.rnn.CoupledInputForgetGateLSTMCell` (TF 1.x); tfa
    had no equivalent.

    Args:
        units: Positive integer, the size of `h` and `c`.
        activation: Activation of the candidate and of the output squashing.
            Default `"tanh"`.
        recurrent_activation: Activation of the gates. Default `"sigmoid"`.
        use_bias: Whether the gates have a bias. Default True.
        use_peepholes: Whether `f` sees `c_tm1` and `o` sees `c_t` through
            diagonal peephole weights. Default False.
        kernel_initializer, recurrent_initializer, bias_initializer,
        peephole_initializer: Initializers of the matching weights.
        unit_forget_bias: If True (default), the forget-gate block of the
            bias starts at one, so the cell starts by remembering.
        kernel_regularizer, recurrent_regularizer, bias_regularizer,
        peephole_regularizer: Regularizers of the matching weights.
        kernel_constraint, recurrent_constraint, bias_constraint,
        peephole_constraint: Constraints of the matching weights.
        dropout: Fraction in [0, 1) of the input features dropped.
        recurrent_dropout: Fraction in [0, 1) of `h_tm1` dropped.
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

    cell = keras_seqmem.CoupledLSTMCell(16, use_peepholes=True)
    y = keras.layers.RNN(cell)(np.zeros((4, 10, 8), "float32"))  # (4, 16)
    ```

    Reference: Greff, Srivastava, Koutník, Steunebrink & Schmidhuber, "LSTM:
    A Search Space Odyssey", IEEE TNNLS 2017.
    """

    gate_names = ("f", "c", "o")
    peephole_names = (
        "forget_gate_peephole_weights",
        "output_gate_peephole_weights",
    )
    forget_gate = 0

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        use_peepholes=False,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        peephole_initializer="glorot_uniform",
        unit_forget_bias=True,
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        peephole_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        peephole_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        **kwargs,
    ):
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
            recurrent_activation=recurrent_activation,
            unit_forget_bias=unit_forget_bias,
            peephole_initializer=peephole_initializer,
            peephole_regularizer=peephole_regularizer,
            peephole_constraint=peephole_constraint,
            **kwargs,
        )
        self.use_peepholes = bool(use_peepholes)

    def peephole_weight_names(self):
        return self.peephole_names if self.use_peepholes else ()

    def gate_function(self):
        # Peephole vectors read once per sequence, not at every step.
        if self.use_peepholes:
            p_f = ops.convert_to_tensor(self.forget_gate_peephole_weights)
            p_o = ops.convert_to_tensor(self.output_gate_peephole_weights)
        sigma, act = self.recurrent_activation, self.activation

        def gates(z, states):
            c_tm1 = states[1]
            # f = forget gate (input gate is 1 - f), c = candidate, o = output
            z_f, z_c, z_o = ops.split(z, 3, axis=-1)
            if self.use_peepholes:
                z_f = z_f + p_f * c_tm1
            f = sigma(z_f)
            c = f * c_tm1 + (1.0 - f) * act(z_c)
            if self.use_peepholes:
                z_o = z_o + p_o * c
            o = sigma(z_o)
            h = o * act(c)
            return h, [h, c]

        return gates

    def get_config(self):
        return {**super().get_config(), "use_peepholes": self.use_peepholes}

@keras.saving.register_keras_serializable(package="keras_seqmem")
class CoupledLSTM(SequenceRNN):
    """Coupled-gate LSTM layer: `keras.layers.RNN(CoupledLSTMCell(...))`, faster.

    Takes every argument of `CoupledLSTMCell` (see there for the equations
    and weight layout) and of `keras.layers.RNN`: `return_sequences`,
    `return_state`, `go_backwards`, `stateful`, `unroll`,
    `zero_output_for_mask`, plus `activity_regularizer` and `fast_path`
    (one matrix product per step against `[kernel; recurrent_kernel]`
    stacked once per call; default True, same result as the cell loop).

    Call arguments:
        sequences: `(batch, timesteps, features)`.
        initial_state: Optional `[h_0, c_0]`, each `(batch, units)`.
        mask: Optional `(batch, timesteps)` boolean mask.
        training: Whether dropout applies.

    Example:

    ```python
    import numpy as np
    import keras_seqmem

    layer = keras_seqmem.CoupledLSTM(32, return_sequences=True)
    y = layer(np.zeros((4, 10, 8), "float32"))  # (4, 10, 32)
    ```
    """

    cell_class = CoupledLSTMCell

    def call(self, sequences, initial_state=None, mask=None, training=False):
        return super().call(
            sequences, initial_state=initial_state, mask=mask, training=training
        )
