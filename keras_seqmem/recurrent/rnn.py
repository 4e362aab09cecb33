"""`keras_seqmem.RNN`: `keras.layers.RNN` on keras_seqmem's own loop."""

import keras
from keras import ops
from keras import tree

from keras_seqmem import _ops
from keras_seqmem._dropout import prepare_dropout_masks
from keras_seqmem._dropout import reset_dropout_masks


@keras.saving.register_keras_serializable(package="keras_seqmem")
class RNN(keras.layers.RNN):
    """`keras.layers.RNN` whose loop is keras_seqmem's own.

    Takes the arguments of `keras.layers.RNN` (`cell`, `return_sequences`,
    `return_state`, `go_backwards`, `stateful`, `unroll`,
    `zero_output_for_mask`) and computes what it computes, on any cell
    (keras_seqmem's, Keras', a `StackedRNNCells` or a list of cells), with
    differences a user can rely on:

    * the loop is ours (`keras_seqmem._loop.rnn`: `tf.while_loop` on
      TensorFlow, `jax.lax.scan` on JAX, a Python loop elsewhere), written
      on public APIs only, so it does not change when Keras' private loop
      does; at a masked step the output repeats the previous output (zeros
      before the first valid step) on every backend;
    * per-sequence dropout masks are drawn before the loop for every cell
      that has the public mask methods (`get_dropout_mask`, ...): Keras'
      cells and keras_seqmem's, through `StackedRNNCells` too;
    * with `stateful=True`, `reset_state()` sets the states back to the
      cell's `get_initial_state` (not to zeros, which is no initial state
      for an `NTMCell`), and a batch of another size than the states' is
      refused with a message naming the batch size to feed.

    Subclasses change the step by overriding `step_function(training)`.

    Example:

    ```python
    import numpy as np
    import keras
    import keras_seqmem

    layer = keras_seqmem.RNN(keras_seqmem.PeepholeLSTMCell(8, dropout=0.2),
                             return_sequences=True)
    y = layer(np.zeros((2, 5, 3), "float32"), training=True)
    print(y.shape)  # (2, 5, 8)
    ```
    """

    def build(self, sequences_shape, initial_state_shape=None):
        if self.unroll and sequences_shape[1] is None:
            raise ValueError(
                f"Layer '{self.name}': cannot unroll over an undefined number "
                f"of time steps; give the input a static time dimension "
                f"(keras.Input((timesteps, features))) or set unroll=False."
            )
        _ops.check_stateful_build(self, sequences_shape)
        super().build(sequences_shape, initial_state_shape)

    def reset_state(self):
        """Sets the states of a stateful layer back to the cell's initial
        state (`get_initial_state`: zeros for Keras' cells and the recurrent
        cells here, not for an `NTMCell`)."""
        _ops.reset_to_initial_state(self)

    def reset_states(self):
        """Alias of `reset_state`, as in Keras."""
        self.reset_state()

    def step_function(self, training):
        """`step(x_t, states) -> (output, new_states)` for one call: the
        cell's own `call`, with `training` passed where it is accepted."""
        cell = self.cell

        def step(x_t, states):
            output, new_states = _ops.call_cell(
                cell, x_t, states, training=training)
            if not tree.is_nested(new_states):
                new_states = [new_states]
            return output, new_states

        return step

    def call(self, sequences, initial_state=None, mask=None, training=False):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        if self.unroll and sequences.shape[1] is None:
            raise ValueError(
                f"Layer '{self.name}': cannot unroll over an undefined number "
                f"of time steps; give the input a static time dimension "
                f"(keras.Input((timesteps, features))) or set unroll=False."
            )
        if initial_state is None:
            if self.stateful:
                initial_state = _ops.stateful_states(self, sequences)
            else:
                initial_state = self.get_initial_state(
                    batch_size=ops.shape(sequences)[0])
        if not tree.is_nested(initial_state):
            initial_state = [initial_state]
        initial_state = tree.map_structure(
            lambda s: ops.cast(s, self.cell.compute_dtype)
            if hasattr(self.cell, "compute_dtype") else s,
            list(initial_state))

        if training:
            prepare_dropout_masks(self.cell, sequences[:, 0, :],
                                  initial_state)
        try:
            last_output, outputs, states = self.inner_loop_outputs(
                sequences, initial_state, mask, training)
        finally:
            reset_dropout_masks(self.cell)

        if self.stateful:
            _ops.keep_states(self, states)
        output = outputs if self.return_sequences else last_output
        output = ops.cast(output, self.compute_dtype)
        if self.return_state:
            states = tree.map_structure(
                lambda s: ops.cast(s, self.compute_dtype), states)
            return output, *states
        return output

    def inner_loop_outputs(self, sequences, initial_state, mask, training):
        """`(last_output, outputs, states)` of the loop (outputs None unless
        `return_sequences`)."""
        return _ops.run_layer_rnn(
            self, self.step_function(training), sequences, initial_state,
            mask, return_all_outputs=self.return_sequences)
