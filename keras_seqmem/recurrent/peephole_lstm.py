"""LSTM with diagonal peephole connections (Gers & Schmidhuber, 2000)."""

import keras
from keras import ops

from keras_seqmem.recurrent.base import GatedCell
from keras_seqmem.recurrent.base import SequenceRNN


@keras.saving.register_keras_serializable(package="keras_seqmem")
class PeepholeLSTMCell(GatedCell):
    """LSTM cell whose gates also see the cell state (peephole connections).

    One step, with `⊙` the elementwise product and `σ` the
    `recurrent_activation` (sigmoid by default), `act` the `activation`
    (tanh by default):

        i   = σ(x_t W_i + h_tm1 U_i + p_i ⊙ c_tm1 + b_i)
        f   = σ(x_t W_f + h_tm1 U_f + p_f ⊙ c_tm1 + b_f)
        c_t = f ⊙ c_tm1 + i ⊙ act(x_t W_c + h_tm1 U_c + b_c)
        o   = σ(x_t W_o + h_tm1 U_o + p_o ⊙ c_t + b_o)
        h_t = o ⊙ act(c_t)

    The input and forget gates look at the previous cell state `c_tm1`, the
    output gate at the new one `c_t`, as in the paper.

    Weights (`d` input features, `u = units`), laid out exactly as
    `keras.layers.LSTMCell` lays them out, so that weights move between the
    two with `set_weights`:

        kernel                         (d, 4u)   blocks [W_i | W_f | W_c | W_o]
        recurrent_kernel               (u, 4u)   blocks [U_i | U_f | U_c | U_o]
        bias                           (4u,)     blocks [b_i | b_f | b_c | b_o]
        input_gate_peephole_weights    (u,)      p_i
        forget_gate_peephole_weights   (u,)      p_f
        output_gate_peephole_weights   (u,)      p_o

    With all three peephole vectors zero it computes exactly what
    `keras.layers.LSTMCell` computes.

    State: `[h, c]`, each `(batch, units)`; the output is `h`.

    Replaces `tf.keras.experimental.PeepholeLSTMCell` (removed in Keras 2.9)
    and `tfa.rnn.PeepholeLSTMCell`.

    Args:
        units: Positive integer, the size of `h` and `c`.
        activation: Activation of the candidate and of the output squashing
            (`act` above). Default `"tanh"`.
        recurrent_activation: Activation of the gates (`σ`). Default
            `"sigmoid"`.
        use_bias: Whether the gates have a bias. Default True.
        kernel_initializer, recurrent_initializer, bias_initializer:
            Initializers of `kernel`, `recurrent_kernel`, `bias`.
        peephole_initializer: Initializer of the three peephole vectors.
            Default `"glorot_uniform"`, as `tf.keras.experimental`'s cell.
        unit_forget_bias: If True (default), the forget-gate block of the
            bias starts at one (Jozefowicz et al., 2015).
        kernel_regularizer, recurrent_regularizer, bias_regularizer,
        peephole_regularizer: Regularizers of the matching weights.
        kernel_constraint, recurrent_constraint, bias_constraint,
        peephole_constraint: Constraints of the matching weights.
        dropout: Fraction in [0, 1) of the input features dropped (one mask
            per sequence).
        recurrent_dropout: Fraction in [0, 1) of `h_tm1` dropped before the
            recurrent product (one mask per sequence).
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

    rnn = keras.layers.RNN(keras_seqmem.PeepholeLSTMCell(16))
    y = rnn(np.zeros((4, 10, 8), "float32"))  # (4, 16)
    ```

    Reference: Gers, Schraudolph & Schmidhuber, "Learning precise timing
    with LSTM recurrent networks", JMLR 2002; Gers & Schmidhuber, "Recurrent
    nets that time and count", IJCNN 2000.
    """

    gate_names = ("i", "f", "c", "o")
    peephole_names = (
        "input_gate_peephole_weights",
        "forget_gate_peephole_weights",
        "output_gate_peephole_weights",
    )
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

    def gate_function(self):
        # Peephole vectors read once per sequence, not at every step.
        p_i = ops.convert_to_tensor(self.input_gate_peephole_weights)
        p_f = ops.convert_to_tensor(self.forget_gate_peephole_weights)
        p_o = ops.convert_to_tensor(self.output_gate_peephole_weights)
        sigma, act = self.recurrent_activation, self.activation

        def gates(z, states):
            c_tm1 = states[1]
            # i = input gate, f = forget gate, c = candidate, o = output gate
            z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
            i = sigma(z_i + p_i * c_tm1)
            f = sigma(z_f + p_f * c_tm1)
            c = f * c_tm1 + i * act(z_c)
            o = sigma(z_o + p_o * c)
            h = o * act(c)
            return h, [h, c]

        return gates



@keras.saving.register_keras_serializable(package="keras_seqmem")
class PeepholeLSTM(SequenceRNN):
    """Peephole LSTM layer: `keras.layers.RNN(PeepholeLSTMCell(...))`, faster.

    Takes every argument of `PeepholeLSTMCell` (see there for the equations
    and weight layout) and of `keras.layers.RNN`: `return_sequences`,
    `return_state`, `go_backwards`, `stateful`, `unroll`,
    `zero_output_for_mask`, plus `activity_regularizer` and `fast_path`
    (one matrix product per step against `[kernel; recurrent_kernel]`
    stacked once per call; default True, same result as the cell loop).

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
    import keras
    import keras_seqmem

    model = keras.Sequential([
        keras.Input((None, 8)),
        keras_seqmem.PeepholeLSTM(32, return_sequences=True),
        keras_seqmem.PeepholeLSTM(32),
        keras.layers.Dense(1),
    ])
    model.compile("adam", "mse", jit_compile=True)
    model.fit(np.zeros((16, 20, 8)), np.zeros((16, 1)), verbose=0)
    ```
    """

    cell_class = PeepholeLSTMCell

    def call(self, sequences, initial_state=None, mask=None, training=False):
        return super().call(
            sequences, initial_state=initial_state, mask=mask, training=training
        )
