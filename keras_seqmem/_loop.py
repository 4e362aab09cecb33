"""keras_seqmem's own recurrent loop (as Sonnet owns `dynamic_unroll`).

`rnn(step, inputs, initial_states, ...)` runs `step(x_t, states) ->
(output, new_states)` over axis 1 of `inputs` and returns
`(last_output, outputs, final_states)`. It is what every sequence layer of
the package runs on (the recurrent layers, `NTM`, `ACTRNN`,
`AttentiveDecoder`) and it uses only public APIs:

* TensorFlow: `tf.while_loop` over `tf.TensorArray`s (inputs read, outputs
  written one step at a time), which XLA compiles and which costs O(1) per
  step with or without XLA;
* JAX: `jax.lax.scan` (reverse-mode differentiable, XLA-compiled);
* any other backend (PyTorch, NumPy): a Python loop over the time steps.

`unroll=True` gives a Python loop on every backend (the time dimension must
then be static).

Semantics (the same on every backend, those of Keras' TensorFlow loop):

* `go_backwards`: the steps run from last to first and `outputs` are in
  processing (reversed) order.
* `mask` `(batch, timesteps)`: at a masked step the states keep their
  previous value and the output repeats the previous step's output (zeros
  before the first valid step), or is zeros with `zero_output_for_mask`.
  `last_output` is the output of the last processed step after masking,
  i.e. the last valid output.
* Outputs and states may be nested structures (`keras.tree`).

The first step is run before the loop ("peeled"): it gives the structure,
shapes and dtypes of the outputs without a throw-away step, and any
per-sequence value a step function caches on its first call (a dropout
mask, say) is then made outside the loop.
"""

import keras
from keras import ops
from keras import tree


def _swap_batch_time(x):
    """`(batch, time, ...)` <-> `(time, batch, ...)`; takes variables too."""
    rank = len(x.shape)
    return ops.transpose(x, (1, 0) + tuple(range(2, rank)))


def _select(mask_t, new, old):
    """`new` where `mask_t` `(batch,)` is true, else `old`, for any rank."""
    m = ops.reshape(mask_t, (-1,) + (1,) * (len(new.shape) - 1))
    return ops.where(m, new, old)


def _masked_step(step, x_t, mask_t, states, prev_output,
                 zero_output_for_mask):
    output, new_states = step(x_t, states)
    new_states = tree.flatten(new_states)
    flat_output = tree.flatten(output)
    if mask_t is not None:
        flat_states = tree.flatten(states)
        new_states = [_select(mask_t, n, s)
                      for n, s in zip(new_states, flat_states)]
        if zero_output_for_mask or prev_output is None:
            fallback = [ops.zeros_like(o) for o in flat_output]
        else:
            fallback = prev_output
        flat_output = [_select(mask_t, o, f)
                       for o, f in zip(flat_output, fallback)]
    return output, flat_output, new_states


def rnn(step, inputs, initial_states, go_backwards=False, mask=None,
        unroll=False, zero_output_for_mask=False, return_all_outputs=True):
    """Runs `step` over the time axis (axis 1) of `inputs`.

    Args:
        step: `step(x_t, states) -> (output, new_states)`; `x_t` has the
            structure of `inputs` without the time axis, `states` and
            `new_states` that of `initial_states`.
        inputs: `(batch, timesteps, ...)` tensor, or a nested structure of
            them.
        initial_states: A list (possibly nested) of `(batch, ...)` tensors.
        go_backwards: Process the steps from last to first.
        mask: Optional boolean `(batch, timesteps)`.
        unroll: Python loop over a static number of steps.
        zero_output_for_mask: Masked steps output zeros instead of the
            previous output.
        return_all_outputs: If False, `outputs` is None and only the last
            output is kept (O(1) memory in the sequence length).

    Returns:
        `(last_output, outputs, final_states)`: `outputs` `(batch,
        timesteps, ...)` in processing order (None unless
        `return_all_outputs`), `final_states` with the structure of
        `initial_states`.
    """
    # Time-major: (timesteps, batch, ...).
    xs = [_swap_batch_time(x) for x in tree.flatten(inputs)]
    m = None
    if mask is not None:
        m = ops.transpose(ops.cast(mask, "bool"))  # (timesteps, batch)
    if go_backwards:
        xs = [ops.flip(x, axis=0) for x in xs]
        if m is not None:
            m = ops.flip(m, axis=0)

    state_structure = initial_states
    # Tensors, not variables (a stateful layer's states are variables).
    flat_states = [ops.cast(s, keras.backend.standardize_dtype(s.dtype))
                   for s in tree.flatten(initial_states)]

    def pack_x(flat):
        return tree.pack_sequence_as(inputs, flat)

    def pack_states(flat):
        return tree.pack_sequence_as(state_structure, flat)

    def one_step(t_inputs, mask_t, flat_states, prev_output):
        output, flat_output, new_states = _masked_step(
            step, pack_x(t_inputs), mask_t, pack_states(flat_states),
            prev_output, zero_output_for_mask)
        return output, flat_output, new_states

    timesteps = xs[0].shape[0]
    if unroll:
        if timesteps is None:
            raise ValueError(
                "Cannot unroll a recurrent loop over an undefined number of "
                "time steps: give the input a static time dimension "
                "(e.g. `keras.Input((timesteps, features))`), or set "
                "unroll=False."
            )
        return _unrolled(one_step, xs, m, flat_states, timesteps,
                         return_all_outputs, pack_states)

    # The first step, peeled: it fixes the outputs' structure and shapes.
    output0, flat_out0, flat_states = one_step(
        [x[0] for x in xs], None if m is None else m[0], flat_states, None)
    backend = keras.backend.backend()
    if timesteps == 1:
        # Nothing left to loop over (and XLA cannot compile a while loop of
        # zero iterations whose gradient accumulators have size 0).
        flat_last, flat_outputs = flat_out0, [o[None] for o in flat_out0]
    elif backend == "tensorflow":
        flat_last, flat_outputs, flat_states = _tf_loop(
            one_step, xs, m, flat_states, flat_out0, return_all_outputs)
    elif backend == "jax":
        flat_last, flat_outputs, flat_states = _jax_loop(
            one_step, xs, m, flat_states, flat_out0, return_all_outputs)
    else:
        flat_last, flat_outputs, flat_states = _python_loop(
            one_step, xs, m, flat_states, flat_out0, return_all_outputs)
    last = tree.pack_sequence_as(output0, flat_last)
    outputs = None
    if return_all_outputs:
        # Batch-major again: (batch, timesteps, ...).
        outputs = tree.pack_sequence_as(
            output0, [_swap_batch_time(o) for o in flat_outputs])
    return last, outputs, pack_states(flat_states)


def _unrolled(one_step, xs, m, flat_states, timesteps, return_all_outputs,
              pack_states):
    prev, collected, output = None, [], None
    for t in range(timesteps):
        output, prev, flat_states = one_step(
            [x[t] for x in xs], None if m is None else m[t], flat_states,
            prev)
        if return_all_outputs:
            collected.append(prev)
    last = tree.pack_sequence_as(output, prev)
    outputs = None
    if return_all_outputs:
        outputs = tree.pack_sequence_as(output, [
            ops.stack([c[i] for c in collected], axis=1)
            for i in range(len(prev))
        ])
    return last, outputs, pack_states(flat_states)


def _tf_loop(one_step, xs, m, flat_states, flat_out0, return_all_outputs):
    import tensorflow as tf

    n = tf.shape(xs[0])[0]
    static_n = xs[0].shape[0]
    input_tas = [
        tf.TensorArray(x.dtype, size=n, element_shape=x.shape[1:]).unstack(x)
        for x in xs
    ]
    mask_ta = None
    if m is not None:
        mask_ta = tf.TensorArray(tf.bool, size=n,
                                 element_shape=m.shape[1:]).unstack(m)
    output_tas = []
    if return_all_outputs:
        output_tas = [
            tf.TensorArray(o.dtype, size=n, element_shape=o.shape).write(0, o)
            for o in flat_out0
        ]
    num_tas, num_out = len(output_tas), len(flat_out0)

    def cond(time, *_):
        return time < n

    def body(time, *loop):
        tas = list(loop[:num_tas])
        prev = list(loop[num_tas:num_tas + num_out])
        states = list(loop[num_tas + num_out:])
        x_t = [ta.read(time) for ta in input_tas]
        mask_t = None if mask_ta is None else mask_ta.read(time)
        _, flat_out, new_states = one_step(x_t, mask_t, states, prev)
        # The loop's shape invariants: what the step returns has the shape
        # it was given (as Keras' loop does).
        for new, old in zip(new_states + flat_out, states + prev):
            new.set_shape(old.shape)
        tas = [ta.write(time, o) for ta, o in zip(tas, flat_out)]
        return (time + 1, *tas, *flat_out, *new_states)

    loop = tf.while_loop(
        cond, body,
        (tf.constant(1, "int32"), *output_tas, *flat_out0, *flat_states),
        parallel_iterations=32,
        swap_memory=True,
        maximum_iterations=None if static_n is None else max(static_n - 1, 0),
    )
    output_tas = loop[1:1 + num_tas]
    flat_last = list(loop[1 + num_tas:1 + num_tas + num_out])
    flat_states = list(loop[1 + num_tas + num_out:])
    flat_outputs = None
    if return_all_outputs:
        flat_outputs = []
        for ta, o in zip(output_tas, flat_out0):
            stacked = ta.stack()
            stacked.set_shape([static_n] + list(o.shape))
            flat_outputs.append(stacked)
    return flat_last, flat_outputs, flat_states


def _jax_loop(one_step, xs, m, flat_states, flat_out0, return_all_outputs):
    import jax

    def body(carry, x):
        states, prev = carry
        x_t, mask_t = x
        _, flat_out, new_states = one_step(x_t, mask_t, states, prev)
        return (new_states, flat_out), (
            flat_out if return_all_outputs else None)

    rest = ([x[1:] for x in xs], None if m is None else m[1:])
    (flat_states, flat_last), ys = jax.lax.scan(
        body, (list(flat_states), list(flat_out0)), rest)
    flat_outputs = None
    if return_all_outputs:
        flat_outputs = [ops.concatenate([o[None], y], axis=0)
                        for o, y in zip(flat_out0, ys)]
    return flat_last, flat_outputs, flat_states


def _python_loop(one_step, xs, m, flat_states, flat_out0,
                 return_all_outputs):
    n = ops.shape(xs[0])[0]
    prev, collected = list(flat_out0), [list(flat_out0)]
    for t in range(1, int(n)):
        _, prev, flat_states = one_step(
            [x[t] for x in xs], None if m is None else m[t], flat_states,
            prev)
        if return_all_outputs:
            collected.append(prev)
    flat_outputs = None
    if return_all_outputs:
        flat_outputs = [ops.stack([c[i] for c in collected], axis=0)
                        for i in range(len(prev))]
    return prev, flat_outputs, flat_states
