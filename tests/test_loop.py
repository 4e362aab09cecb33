"""keras_seqmem's own loop (`_loop.rnn`, `keras_seqmem.RNN`) against Keras'.

On TensorFlow, Keras' `keras.layers.RNN` has the semantics our loop keeps on
every backend (masked steps repeat the previous output), so the same cell
with the same weights must give the same outputs and states through both.
"""

import numpy as np
import pytest

import keras
from keras import ops

import keras_seqmem
from keras_seqmem import _loop
from keras_seqmem._dropout import DropoutMasks

RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 7, 3)).astype("float32")
# Row 0 full, row 1 padded at the end, row 2 at the start, row 3 only one
# valid step in the middle.
MASK = np.array([
    [1, 1, 1, 1, 1, 1, 1],
    [1, 1, 1, 1, 0, 0, 0],
    [0, 0, 1, 1, 1, 1, 1],
    [0, 0, 0, 1, 0, 0, 0],
], bool)

CELLS = {
    "LSTMCell": lambda: keras.layers.LSTMCell(5),
    "GRUCell": lambda: keras.layers.GRUCell(5),
    "SimpleRNNCell": lambda: keras.layers.SimpleRNNCell(5),
    "stacked": lambda: [keras.layers.LSTMCell(4), keras.layers.GRUCell(5)],
    "PeepholeLSTMCell": lambda: keras_seqmem.PeepholeLSTMCell(5),
}

OPTIONS = [
    {},
    {"go_backwards": True},
    {"zero_output_for_mask": True},
    {"unroll": True},
    {"go_backwards": True, "unroll": True},
    {"unroll": True, "zero_output_for_mask": True},
]
# Not compared with Keras: go_backwards + unroll + zero_output_for_mask, where
# Keras' unrolled TensorFlow loop zeroes the (reversed) outputs with the
# mask in the original order (keras/src/backend/tensorflow/rnn.py, Keras
# 3.15), unlike its own while loop; ours agrees with its while loop, tested
# below (unrolled == looped for every option).


def _pair(make_cell, **kwargs):
    ours = keras_seqmem.RNN(make_cell(), return_sequences=True,
                            return_state=True, **kwargs)
    theirs = keras.layers.RNN(make_cell(), return_sequences=True,
                              return_state=True, **kwargs)
    ours(X)
    theirs(X)
    theirs.set_weights(ours.get_weights())
    return ours, theirs


def _numpy(values):
    return [ops.convert_to_numpy(v) for v in keras.tree.flatten(values)]


@pytest.mark.parametrize("options", OPTIONS, ids=str)
@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
def test_rnn_matches_keras_rnn(cell, options, masked):
    if keras.backend.backend() != "tensorflow":
        pytest.skip("Keras' own JAX/torch loops mask outputs differently "
                    "(they repeat the first state); compared on TensorFlow")
    ours, theirs = _pair(CELLS[cell], **options)
    mask = MASK if masked else None
    for a, b in zip(_numpy(ours(X, mask=mask)), _numpy(theirs(X, mask=mask))):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("zero_output_for_mask", [False, True])
def test_unrolled_equals_looped(go_backwards, zero_output_for_mask):
    kwargs = dict(go_backwards=go_backwards, return_sequences=True,
                  return_state=True, zero_output_for_mask=zero_output_for_mask)
    looped = keras_seqmem.RNN(keras.layers.LSTMCell(5), **kwargs)
    unrolled = keras_seqmem.RNN(keras.layers.LSTMCell(5), unroll=True,
                                **kwargs)
    looped(X)
    unrolled(X)
    unrolled.set_weights(looped.get_weights())
    for a, b in zip(_numpy(looped(X, mask=MASK)),
                    _numpy(unrolled(X, mask=MASK))):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_last_output_only_matches_the_sequence():
    layer = keras_seqmem.RNN(keras.layers.GRUCell(5), return_sequences=True)
    last = keras_seqmem.RNN(keras.layers.GRUCell(5))
    layer(X)
    last(X)
    last.set_weights(layer.get_weights())
    full = ops.convert_to_numpy(layer(X, mask=MASK))
    # The last output is the output of the last valid step of each row.
    expected = full[:, -1]
    np.testing.assert_allclose(ops.convert_to_numpy(last(X, mask=MASK)),
                               expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(expected[1], full[1, 3], rtol=1e-6)


def test_masked_steps_follow_the_equations():
    """Before the first valid step the output is 0; after the last it
    repeats; states freeze where the mask is off."""

    def step(x_t, states):
        h = states[0] + x_t  # a running sum: easy to check by hand
        return h * 2.0, [h]

    x = ops.convert_to_tensor(np.ones((4, 7, 1), "float32"))
    init = [ops.zeros((4, 1))]
    last, outputs, states = _loop.rnn(step, x, init, mask=MASK)
    outputs = ops.convert_to_numpy(outputs)[..., 0]
    counts = np.cumsum(MASK, axis=1)
    expected = np.where(counts > 0, 2.0 * counts, 0.0)
    np.testing.assert_allclose(outputs, expected)
    np.testing.assert_allclose(ops.convert_to_numpy(states[0])[:, 0],
                               MASK.sum(1))
    np.testing.assert_allclose(ops.convert_to_numpy(last)[:, 0],
                               2.0 * MASK.sum(1))
    _, zeroed, _ = _loop.rnn(step, x, init, mask=MASK,
                             zero_output_for_mask=True)
    np.testing.assert_allclose(ops.convert_to_numpy(zeroed)[..., 0],
                               np.where(MASK, expected, 0.0))


def test_nested_inputs_outputs_and_states():
    def step(inputs, states):
        a, b = inputs
        (h,), (c,) = states
        h, c = h + a, c * b
        return (h, {"sum": ops.sum(c, axis=-1)}), [[h], [c]]

    a = np.ones((2, 5, 3), "float32")
    b = np.full((2, 5, 1), 2.0, "float32")
    init = [[ops.zeros((2, 3))], [ops.ones((2, 1))]]
    last, outputs, states = _loop.rnn(step, (a, b), init, go_backwards=True)
    assert outputs[0].shape == (2, 5, 3)
    assert outputs[1]["sum"].shape == (2, 5)
    np.testing.assert_allclose(ops.convert_to_numpy(outputs[1]["sum"][0]),
                               [2, 4, 8, 16, 32])
    np.testing.assert_allclose(ops.convert_to_numpy(states[1][0]), 32.0)
    np.testing.assert_allclose(ops.convert_to_numpy(last[0]), 5.0)


@pytest.mark.parametrize("steps", [1, 2])
def test_short_sequences(steps):
    layer = keras_seqmem.PeepholeLSTM(3, return_sequences=True)
    y = layer(X[:, :steps])
    assert tuple(y.shape) == (4, steps, 3)
    cell_path = keras_seqmem.RNN(keras_seqmem.PeepholeLSTMCell(3),
                                 return_sequences=True)
    cell_path(X[:, :steps])
    cell_path.set_weights(layer.get_weights())
    np.testing.assert_allclose(ops.convert_to_numpy(cell_path(X[:, :steps])),
                               ops.convert_to_numpy(y), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("steps", [1, 3])
def test_xla_training_on_short_sequences(steps):
    """One step: the loop is skipped (XLA cannot compile the gradient of a
    while loop of zero iterations); nested loops (ACT) included."""
    x = X[:, :steps]
    for layer in (keras_seqmem.PeepholeLSTM(3),
                  keras_seqmem.ACTRNN(keras_seqmem.ACT(
                      keras.layers.GRUCell(3), max_ponder_steps=3))):
        model = keras.Sequential([keras.Input((steps, 3)), layer,
                                  keras.layers.Dense(1)])
        model.compile("sgd", "mse", jit_compile=True)
        loss = model.train_on_batch(x, np.zeros((4, 1), "float32"))
        assert np.isfinite(loss)


def test_unroll_needs_a_static_time_dimension():
    layer = keras_seqmem.RNN(keras.layers.GRUCell(3), unroll=True)
    with pytest.raises(ValueError, match="static time dimension"):
        layer.build((None, None, 3))
    keras_seqmem.RNN(keras.layers.GRUCell(3), unroll=True).build((None, 4, 3))


class _MaskProbe(keras.layers.Layer, DropoutMasks):
    """Outputs its input-dropout mask: shows which mask each step used."""

    def __init__(self, units, dropout, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units
        self.output_size = units
        self.dropout = dropout
        self.recurrent_dropout = 0.0
        self.seed_generator = keras.random.SeedGenerator(1)

    def call(self, inputs, states, training=False):
        mask = self.step_dropout_mask(inputs) if training else \
            ops.ones_like(inputs)
        return mask, [states[0]]


def test_one_dropout_mask_per_sequence():
    x = np.ones((16, 6, 8), "float32")
    probe = _MaskProbe(8, 0.5)
    masks = ops.convert_to_numpy(keras_seqmem.RNN(
        probe, return_sequences=True)(x, training=True))
    assert (masks == masks[:, :1]).all(), "the mask changed between steps"
    assert 0.2 < (masks == 0).mean() < 0.8
    assert probe.prepared_dropout_mask is None, "masks are reset after"
    # Two calls draw two masks.
    again = ops.convert_to_numpy(keras_seqmem.RNN(
        probe, return_sequences=True)(x, training=True))
    assert not np.array_equal(again, masks)
    # keras.layers.RNN prepares no mask for our cells: one per step instead.
    per_step = ops.convert_to_numpy(keras.layers.RNN(
        _MaskProbe(8, 0.5), return_sequences=True)(x, training=True))
    assert not (per_step == per_step[:, :1]).all()


@pytest.mark.parametrize("stacked", [False, True])
def test_keras_cells_get_the_masks_keras_gives_them(stacked):
    """Keras' cells draw their per-sequence masks in our loop exactly as in
    Keras' loop (same seeds, same order), through a stack too."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("compared with Keras' TensorFlow loop")

    def make():
        cells = [keras.layers.LSTMCell(4, dropout=0.3, recurrent_dropout=0.3,
                                       seed=5)]
        if stacked:
            cells.append(keras.layers.GRUCell(3, dropout=0.4, seed=6))
        return cells if stacked else cells[0]

    ours, theirs = keras_seqmem.RNN(make()), keras.layers.RNN(make())
    # build, not call: Keras' loop draws masks even at inference, which
    # would move its seed generators ahead of ours.
    ours.build(X.shape)
    theirs.build(X.shape)
    theirs.set_weights(ours.get_weights())
    a = ops.convert_to_numpy(ours(X, training=True))
    b = ops.convert_to_numpy(theirs(X, training=True))
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not np.allclose(a, ops.convert_to_numpy(ours(X)), atol=1e-4)


def test_stateful_rnn_carries_state():
    layer = keras_seqmem.RNN(keras.layers.GRUCell(3), stateful=True)
    x = X[:2]
    first = ops.convert_to_numpy(layer(x))
    second = ops.convert_to_numpy(layer(x))
    assert not np.allclose(first, second)
    layer.reset_state()
    np.testing.assert_allclose(ops.convert_to_numpy(layer(x)), first,
                               rtol=1e-6)


def test_rnn_saves_and_loads(tmp_path):
    model = keras.Sequential([
        keras.Input((7, 3)),
        keras_seqmem.RNN([keras_seqmem.LeakyRNNCell(4, gamma=2.0),
                          keras.layers.LSTMCell(3)]),
    ])
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(ops.convert_to_numpy(loaded(X)),
                               ops.convert_to_numpy(model(X)), rtol=1e-6)
    assert isinstance(loaded.layers[0], keras_seqmem.RNN)
