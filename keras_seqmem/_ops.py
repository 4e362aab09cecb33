"""Small pieces shared by the layer families.

One masked softmax for the whole package: attention weights over source
positions and memory reads over slots both go through `masked_softmax`.
`work_dtype`, `run_layer_rnn`, `call_cell` and `sequence_output_mask` serve
the sequence layers that run their own step (the recurrent fast path, `NTM`,
`ACTRNN`, `AttentiveDecoder`); `check_stateful_build`, `stateful_states`,
`keep_states` and `reset_to_initial_state` give them `stateful=True` as
`keras.layers.RNN` has it; `mirror_cell_arguments` gives a sequence layer
its cell's constructor arguments as read-only properties, as
`keras.layers.LSTM` has `units`, `dropout`, ...; `vjp` is the one
vector-Jacobian product of the written-out backward passes (ACT's ponder
loop, the recurrent layers' fused loop).
"""

import inspect

import keras
from keras import ops
from keras import tree

from keras_seqmem import _loop


def vjp(f, primals, cotangents):
    """Vector-Jacobian product of `f(*primals)` on TensorFlow or JAX.

    Args:
        f: A function of tensors and lists of tensors; returns a nested
            structure of tensors.
        primals: Tuple of `f`'s arguments.
        cotangents: `cotangents(outputs) -> (cts, extra)`: the cotangents,
            nested like `f`'s outputs (they may depend on the outputs),
            and anything to pass back.

    Returns:
        `(grads, extra)`, `grads` nested like `primals` (zeros for what the
        outputs do not depend on).
    """
    primals = tuple(list(p) if isinstance(p, (list, tuple)) else p
                    for p in primals)
    if keras.backend.backend() == "jax":
        import jax

        outputs, pullback = jax.vjp(f, *primals)
        cts, extra = cotangents(outputs)
        return pullback(tree.pack_sequence_as(outputs, tree.flatten(cts))), \
            extra
    import tensorflow as tf

    flat = tree.flatten(primals)
    with tf.GradientTape() as tape:
        tape.watch(flat)
        outputs = f(*primals)
    cts, extra = cotangents(outputs)
    grads = tape.gradient(
        tree.flatten(outputs), flat, output_gradients=tree.flatten(cts),
        unconnected_gradients=tf.UnconnectedGradients.ZERO)
    return tree.pack_sequence_as(primals, grads), extra


def work_dtype(dtype):
    """float32 (float64 for a float64 layer), whatever the compute dtype: the
    dtype of the NTM's addressing and of ACT's halting and weighted means."""
    dtype = keras.backend.standardize_dtype(dtype)
    return "float64" if dtype == "float64" else "float32"


def run_layer_rnn(layer, step, sequences, initial_state, mask,
                  return_all_outputs):
    """keras_seqmem's loop (`_loop.rnn`) over `sequences` with `step`,
    under the settings of the `keras.layers.RNN` subclass `layer`
    (`go_backwards`, `unroll`, `zero_output_for_mask`). Returns
    `(last_output, outputs, states)`; `outputs` is None unless
    `return_all_outputs`."""
    return _loop.rnn(
        step,
        sequences,
        initial_state,
        go_backwards=layer.go_backwards,
        mask=mask,
        unroll=layer.unroll,
        zero_output_for_mask=layer.zero_output_for_mask,
        return_all_outputs=return_all_outputs,
    )


def check_stateful_build(layer, sequences_shape):
    """At build: a stateful layer needs a fixed batch size (its states are
    variables of that batch size)."""
    if layer.stateful and sequences_shape[0] is None:
        raise ValueError(
            f"Layer '{layer.name}': stateful=True needs a fixed batch size, "
            f"got inputs of shape {tuple(sequences_shape)}; give the input "
            f"one, e.g. keras.Input(batch_shape=(batch_size, timesteps, "
            f"features)), or call the layer on a batch first."
        )


def stateful_states(layer, sequences):
    """The initial states of a stateful layer's call: a copy of its state
    variables (a copy: on PyTorch the variables' own tensors would be
    overwritten in place by the assign after the loop, which autograd still
    needs). Refuses a batch of another size than the states'."""
    expected = tree.flatten(layer.states)[0].shape[0]
    batch = sequences.shape[0]
    if batch is not None and expected is not None and batch != expected:
        raise ValueError(
            f"Layer '{layer.name}' is stateful with states for batches of "
            f"{expected}, got a batch of {batch}; feed batches of exactly "
            f"{expected} samples (batch_size={expected} in fit/predict, and "
            f"a number of samples divisible by it)."
        )
    return tree.map_structure(ops.copy, layer.states)


def keep_states(layer, states):
    """After the loop of a stateful layer: its state variables take the
    final states."""
    for variable, state in zip(tree.flatten(layer.states),
                               tree.flatten(states)):
        variable.assign(ops.cast(state, variable.dtype))


def reset_to_initial_state(layer):
    """`reset_state()` of a stateful sequence layer: its state variables go
    back to its cell's initial state (`get_initial_state`), which is not
    zeros for every cell (an NTM's memory and weightings)."""
    if layer.states is None:
        return
    batch = tree.flatten(layer.states)[0].shape[0]
    initial = layer.get_initial_state(batch)
    for variable, state in zip(tree.flatten(layer.states),
                               tree.flatten(initial)):
        variable.assign(ops.cast(state, variable.dtype))


def cell_arguments(cell_class, exclude=()):
    """The constructor arguments of `cell_class` and its bases up to Keras'
    `Layer` (those a subclass passes on through `**kwargs` included), in
    order, without `exclude`."""
    names = []
    for klass in cell_class.__mro__:
        if klass is keras.layers.Layer or not issubclass(
                klass, keras.layers.Layer):
            break
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        for p in inspect.signature(init).parameters.values():
            if (p.name != "self" and p.name not in names
                    and p.name not in exclude
                    and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)):
                names.append(p.name)
    return names


def _cell_property(name):
    def get(self):
        return getattr(self.cell, name)

    return property(get, doc=f"The cell's `{name}` (`layer.cell.{name}`).")


def mirror_cell_arguments(layer_class, cell_class, exclude=()):
    """Gives `layer_class` a read-only property per constructor argument of
    `cell_class` (`layer.dropout` is `layer.cell.dropout`), as
    `keras.layers.LSTM` has them; names the layer class already defines are
    left alone. Returns the names mirrored."""
    mirrored = []
    for name in cell_arguments(cell_class, exclude):
        if hasattr(layer_class, name):
            continue
        setattr(layer_class, name, _cell_property(name))
        mirrored.append(name)
    return mirrored


def accepts_training(fn):
    """Whether the callable `fn` takes a `training` keyword argument."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "training" or p.kind is p.VAR_KEYWORD
               for p in parameters)


def call_cell(cell, inputs, states, training=None):
    """`cell(inputs, states)`, passing `training` where the cell takes it.

    A Keras layer's `__call__` forwards `training` to `call` only when
    `call` declares it (the documented Keras 3 behaviour), so layers always
    get it; any other callable cell gets it when its `call` signature has
    it."""
    if isinstance(cell, keras.layers.Layer):
        return cell(inputs, states, training=training)
    if accepts_training(cell.call):
        return cell.call(inputs, states, training=training)
    return cell.call(inputs, states)


def sequence_output_mask(mask, return_sequences, extra_outputs):
    """`compute_mask` of a sequence layer returning its output and then
    `extra_outputs` unmasked tensors (states, weightings, ponder counts)."""
    if isinstance(mask, (list, tuple)):
        mask = mask[0]
    output_mask = mask if return_sequences else None
    if extra_outputs:
        return [output_mask] + [None] * extra_outputs
    return output_mask


def masked_softmax(scores, mask=None, axis=-1):
    """Softmax over `axis` restricted to the positions where `mask` is true.

        α_j = exp(e_j) / Σ_{k: mask_k} exp(e_k)   if mask_j,   α_j = 0 otherwise.

    Computed in float32 (or float64 when `scores` are float64) whatever the
    input dtype, so that float16/bfloat16 scores neither overflow in `exp`
    nor lose the small weights; the result is returned in that dtype too,
    and the caller casts back to its compute dtype.

    Masked positions get exactly zero weight, and a row whose positions are
    all masked gets all-zero weights (not the NaN of `0/0`, and not a uniform
    distribution over padding).

    Args:
        scores: Tensor of unnormalised scores `e`, any shape.
        mask: Boolean tensor broadcastable to `scores`, true where a position
            may be attended to; None attends everywhere.
        axis: The axis to normalise over.

    Returns:
        The weights `α`, same shape as `scores`, float32 (float64 for float64
        scores).
    """
    dtype = keras.backend.standardize_dtype(scores.dtype)
    dtype = "float64" if dtype == "float64" else "float32"
    scores = ops.cast(scores, dtype)
    if mask is None:
        return _softmax(scores, axis)
    mask = ops.cast(mask, "bool")
    # Masked scores become a large negative number (not -inf, whose
    # arithmetic gives NaN in a fully masked row), so exp(·) of them is
    # exactly 0 next to any valid score; multiplying by the mask then zeroes
    # the uniform weights a fully masked row would otherwise get.
    scores = ops.where(mask, scores, ops.cast(-1e9, dtype))
    return _softmax(scores, axis) * ops.cast(mask, dtype)


def _softmax(scores, axis):
    # Written out rather than `ops.softmax`, which warns on an axis of size
    # 1 -- a legitimate case here (a one-step source, a one-slot memory).
    exp = ops.exp(scores - ops.max(scores, axis=axis, keepdims=True))
    return exp / ops.sum(exp, axis=axis, keepdims=True)
