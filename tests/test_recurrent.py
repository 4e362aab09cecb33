"""LeakyRNN, PeepholeLSTM, CoupledLSTM: equations, contract, shared checks."""

import functools

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_seqmem
import layer_checks
import references

D, U = 5, 4  # input features, units


# --- the shared layer checks ---------------------------------------------


def _recurrent_case(name, make_layer, checks_rank=True):
    return layer_checks.sequence_case(name, make_layer, D, checks_rank)


def _in_rnn(cell_class, return_sequences=False, **cell_kwargs):
    def make(**overrides):
        cell = cell_class(U, **cell_kwargs, **overrides)
        return keras.layers.RNN(
            cell, return_sequences=return_sequences, **overrides
        )

    return make


CASES = [
    _recurrent_case(
        "LeakyRNN-range-seq",
        functools.partial(
            keras_seqmem.LeakyRNN, U, gamma_range=(1.0, 10.0),
            return_sequences=True,
        ),
    ),
    _recurrent_case(
        "LeakyRNN-trainable",
        functools.partial(
            keras_seqmem.LeakyRNN, U, gamma=3.0, per_unit_gamma=True,
            trainable_gamma=True,
        ),
    ),
    _recurrent_case(
        "PeepholeLSTM",
        functools.partial(keras_seqmem.PeepholeLSTM, U),
    ),
    _recurrent_case(
        "PeepholeLSTM-seq",
        functools.partial(
            keras_seqmem.PeepholeLSTM, U, return_sequences=True
        ),
    ),
    _recurrent_case(
        "CoupledLSTM-peepholes-seq",
        functools.partial(
            keras_seqmem.CoupledLSTM, U, use_peepholes=True,
            return_sequences=True,
        ),
    ),
    _recurrent_case(
        "CoupledLSTM",
        functools.partial(keras_seqmem.CoupledLSTM, U),
    ),
    _recurrent_case(
        "RNN(LeakyRNNCell)",
        _in_rnn(keras_seqmem.LeakyRNNCell, gamma=2.0),
        checks_rank=False,
    ),
    _recurrent_case(
        "RNN(PeepholeLSTMCell)",
        _in_rnn(keras_seqmem.PeepholeLSTMCell, return_sequences=True),
        checks_rank=False,
    ),
    _recurrent_case(
        "RNN(CoupledLSTMCell)",
        _in_rnn(keras_seqmem.CoupledLSTMCell, use_peepholes=True),
        checks_rank=False,
    ),
]


@pytest.mark.parametrize("check", layer_checks.SHARED_CHECKS,
                         ids=lambda f: f.__name__[len("check_"):])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_shared_layer_checks(case, check, tmp_path):
    check(case, tmp_path)


# --- NumPy references: outputs and gradients ------------------------------

LAYERS = {
    "leaky": (keras_seqmem.LeakyRNN, references.leaky_rnn_step,
              dict(gamma=[1.0, 1.5, 4.0, 20.0])),
    "leaky-trainable": (keras_seqmem.LeakyRNN, references.leaky_rnn_step,
                        dict(gamma_range=(1.2, 30.0), trainable_gamma=True)),
    "peephole": (keras_seqmem.PeepholeLSTM, references.peephole_lstm_step,
                 {}),
    "coupled": (keras_seqmem.CoupledLSTM, references.coupled_lstm_step, {}),
    "coupled-peepholes": (keras_seqmem.CoupledLSTM,
                          references.coupled_lstm_step,
                          dict(use_peepholes=True)),
}


def _randomise(layer, seed=0, scale=0.6):
    """Gives every weight non-trivial values (biases, peepholes included)."""
    rng = np.random.default_rng(seed)
    values = []
    for w in layer.weights:
        shape = tuple(w.shape)
        if w.name == "gamma":  # fixed time constants keep their values
            values.append(keras.ops.convert_to_numpy(w))
        else:
            values.append(scale * rng.standard_normal(shape))
    layer.set_weights(values)


def _reference_weights(layer):
    """The layer's weights as float64 arrays keyed by name (γ resolved)."""
    weights = {w.name: keras.ops.convert_to_numpy(w).astype("float64")
               for w in layer.weights}
    if "gamma_offset" in weights:
        weights["gamma"] = 1.0 + np.log1p(np.exp(weights.pop("gamma_offset")))
    return weights


def _make(kind, **kwargs):
    cls, step, extra = LAYERS[kind]
    layer = cls(U, dtype="float64", **{**extra, **kwargs})
    return layer, step


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("masked", [True, False],
                         ids=["masked", "unmasked-training"])
@pytest.mark.parametrize("fast_path", [True, False])
@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_outputs_match_numpy_reference(kind, fast_path, go_backwards, masked):
    layer, step = _make(kind, return_sequences=True, return_state=True,
                        fast_path=fast_path, go_backwards=go_backwards)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 7, D))
    # Unmasked in training, the fast path is the fused loop
    # (keras_seqmem._fused); masked, the step-by-step loop.
    mask = (np.arange(7)[None, :] < np.array([[7], [4], [6]])
            if masked else None)
    layer(x)
    _randomise(layer)
    n_states = len(layer.cell.state_size) if isinstance(
        layer.cell.state_size, list) else 1
    initial = [0.5 * rng.standard_normal((3, U)) for _ in range(n_states)]
    outputs, *states = layer(x, initial_state=initial, mask=mask,
                             training=not masked)
    expected, expected_states = references.run_rnn(
        step, x, initial, _reference_weights(layer), mask=mask,
        go_backwards=go_backwards,
    )
    np.testing.assert_allclose(outputs, expected, rtol=1e-10, atol=1e-12)
    for got, want in zip(states, expected_states):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_gradients_match_finite_differences(kind, training):
    """d(loss)/d(every weight and input) vs central differences of NumPy;
    with `training=True` the layer's written-out gradient
    (keras_seqmem._fused), without it the backend's gradient of the loop."""
    layer, step = _make(kind, return_sequences=True)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 5, D))
    layer(x)
    _randomise(layer, seed=3)
    probe = rng.standard_normal((2, 5, U))  # loss = Σ outputs ⊙ probe

    x_var = tf.Variable(x)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x_var, training=training) * probe)
    variables = layer.trainable_weights
    grads = tape.gradient(loss, [v.value for v in variables] + [x_var])

    def reference_loss(weights, inputs):
        init = [np.zeros((2, U))] * (2 if "gamma" not in weights else 1)
        outputs, _ = references.run_rnn(step, inputs, init, weights)
        return np.sum(outputs * probe)

    raw = {w.name: keras.ops.convert_to_numpy(w).astype("float64").copy()
           for w in layer.weights}

    def resolved():
        weights = dict(raw)
        if "gamma_offset" in weights:
            weights["gamma"] = 1.0 + np.log1p(
                np.exp(weights.pop("gamma_offset")))
        return weights

    for variable, grad in zip(variables, grads[:-1]):
        expected = references.numeric_grad(lambda: reference_loss(resolved(), x),
                           raw[variable.name])
        np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-7,
                                   err_msg=variable.name)
    expected_x = references.numeric_grad(lambda: reference_loss(resolved(), x), x)
    np.testing.assert_allclose(grads[-1], expected_x, rtol=1e-5, atol=1e-7)


# --- equivalences with Keras' own cells -------------------------------------


def test_leaky_with_gamma_one_is_simple_rnn():
    x = np.random.default_rng(4).standard_normal((3, 9, D)).astype("float32")
    ours = keras_seqmem.LeakyRNN(U, gamma=1.0, return_sequences=True)
    keras_layer = keras.layers.SimpleRNN(U, return_sequences=True)
    ours(x)
    keras_layer(x)
    _randomise(ours)
    keras_layer.set_weights(ours.get_weights()[:3])
    np.testing.assert_allclose(ours(x), keras_layer(x), atol=1e-6)
    # The cell alone, one step, against keras.layers.SimpleRNNCell.
    cell = keras_seqmem.LeakyRNNCell(U, gamma=1.0)
    keras_cell = keras.layers.SimpleRNNCell(U)
    h = np.ones((3, U), "float32") * 0.3
    cell(x[:, 0], [h])
    keras_cell(x[:, 0], [h])
    keras_cell.set_weights(cell.get_weights()[:3])
    np.testing.assert_allclose(
        cell(x[:, 0], [h])[0], keras_cell(x[:, 0], [h])[0], atol=1e-6
    )
    # And a leaky γ really changes the result.
    leaky = keras_seqmem.LeakyRNN(U, gamma=2.0, return_sequences=True)
    leaky(x)
    leaky.set_weights(ours.get_weights()[:3] + [np.float32(2.0)])
    assert not np.allclose(leaky(x), keras_layer(x), atol=1e-3)


def test_peephole_with_zero_peepholes_is_keras_lstm():
    x = np.random.default_rng(5).standard_normal((3, 9, D)).astype("float32")
    ours = keras_seqmem.PeepholeLSTM(U, return_sequences=True,
                                     return_state=True)
    keras_layer = keras.layers.LSTM(U, return_sequences=True,
                                    return_state=True)
    ours(x)
    keras_layer(x)
    _randomise(ours)
    weights = ours.get_weights()
    ours.set_weights(weights[:3] + [np.zeros(U, "float32")] * 3)
    keras_layer.set_weights(weights[:3])
    for a, b in zip(ours(x), keras_layer(x)):
        np.testing.assert_allclose(a, b, atol=1e-6)
    # With peepholes, the result differs.
    ours.set_weights(weights)
    assert not np.allclose(ours(x)[0], keras_layer(x)[0], atol=1e-3)


def test_weight_names_and_shapes():
    x = np.zeros((2, 3, D), "float32")
    expected = {
        keras_seqmem.PeepholeLSTM(U): {
            "kernel": (D, 4 * U), "recurrent_kernel": (U, 4 * U),
            "bias": (4 * U,), "input_gate_peephole_weights": (U,),
            "forget_gate_peephole_weights": (U,),
            "output_gate_peephole_weights": (U,)},
        keras_seqmem.CoupledLSTM(U, use_peepholes=True): {
            "kernel": (D, 3 * U), "recurrent_kernel": (U, 3 * U),
            "bias": (3 * U,), "forget_gate_peephole_weights": (U,),
            "output_gate_peephole_weights": (U,)},
        keras_seqmem.CoupledLSTM(U): {
            "kernel": (D, 3 * U), "recurrent_kernel": (U, 3 * U),
            "bias": (3 * U,)},
        keras_seqmem.LeakyRNN(U): {
            "kernel": (D, U), "recurrent_kernel": (U, U), "bias": (U,),
            "gamma": ()},
    }
    for layer, shapes in expected.items():
        layer(x)
        assert {w.name: tuple(w.shape) for w in layer.weights} == shapes


def test_unit_forget_bias():
    x = np.zeros((2, 3, D), "float32")
    peephole = keras_seqmem.PeepholeLSTM(U)
    coupled = keras_seqmem.CoupledLSTM(U)
    plain = keras_seqmem.PeepholeLSTM(U, unit_forget_bias=False,
                                      bias_initializer="zeros")
    for layer in (peephole, coupled, plain):
        layer(x)
    b = keras.ops.convert_to_numpy(peephole.cell.bias)
    np.testing.assert_array_equal(b, np.r_[np.zeros(U), np.ones(U),
                                           np.zeros(2 * U)])
    b = keras.ops.convert_to_numpy(coupled.cell.bias)
    np.testing.assert_array_equal(b, np.r_[np.ones(U), np.zeros(2 * U)])
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(plain.cell.bias), np.zeros(4 * U))


# --- fast path == cell path -----------------------------------------------

FAST_VS_CELL = [
    dict(),
    dict(go_backwards=True),
    dict(return_sequences=True, return_state=True),
    dict(return_sequences=True, zero_output_for_mask=True),
    dict(unroll=True, return_sequences=True),
]


@pytest.mark.parametrize("options", FAST_VS_CELL, ids=str)
@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_fast_path_equals_cell_path(kind, options):
    cls, _, extra = LAYERS[kind]
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 6, D)).astype("float32")
    mask = np.arange(6)[None, :] < np.array([[6], [2], [5], [1]])
    fast = cls(U, fast_path=True, **extra, **options)
    slow = cls(U, fast_path=False, **extra, **options)
    fast(x)
    slow(x)
    _randomise(fast)
    slow.set_weights(fast.get_weights())
    a = tf.nest.flatten(fast(x, mask=mask))
    b = tf.nest.flatten(slow(x, mask=mask))
    for got, want in zip(a, b):
        np.testing.assert_allclose(got, want, atol=1e-6)


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_fast_path_equals_cell_path_with_dropout(kind):
    """Same seed -> same dropout masks; both paths then agree in training."""
    cls, _, extra = LAYERS[kind]
    x = np.random.default_rng(8).standard_normal((4, 6, D)).astype("float32")
    kwargs = dict(dropout=0.4, recurrent_dropout=0.3, seed=11,
                  return_sequences=True, **extra)
    fast = cls(U, fast_path=True, **kwargs)
    slow = cls(U, fast_path=False, **kwargs)
    fast(x)
    slow(x)
    _randomise(fast)
    slow.set_weights(fast.get_weights())
    train_fast = keras.ops.convert_to_numpy(fast(x, training=True))
    train_slow = keras.ops.convert_to_numpy(slow(x, training=True))
    np.testing.assert_allclose(train_fast, train_slow, atol=1e-6)
    # Dropout acts in training and not in inference.
    infer = keras.ops.convert_to_numpy(fast(x, training=False))
    assert not np.allclose(train_fast, infer, atol=1e-4)
    np.testing.assert_allclose(infer, slow(x, training=False), atol=1e-6)


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_fused_stepwise_and_cell_paths_agree_in_training(kind):
    """fast_path=True (the fused loop and its written-out gradient),
    "stepwise" and False: same outputs and gradients in training."""
    cls, _, extra = LAYERS[kind]
    x = tf.constant(np.random.default_rng(9).standard_normal((3, 6, D)),
                    tf.float32)
    results = []
    weights = None
    for fast_path in (True, "stepwise", False):
        layer = cls(U, fast_path=fast_path, return_sequences=True, **extra)
        layer(x)
        if weights is None:
            _randomise(layer)
            weights = layer.get_weights()
        layer.set_weights(weights)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(tf.sin(y))
        grads = tape.gradient(loss, [x] + layer.trainable_weights)
        results.append([y] + grads)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_allclose(a, b, atol=1e-5)


def test_which_path_runs():
    """The fused loop runs unmasked on this backend, in training for cells
    of several gates; masks, one-gate cells in training, "stepwise" and
    mixed precision take the step-by-step path."""
    fused = keras_seqmem.PeepholeLSTM(U)
    one_gate = keras_seqmem.LeakyRNN(U)
    mask = np.ones((2, 3), bool)
    assert fused.uses_fused_loop(None, training=True)
    assert fused.uses_fused_loop(None, training=False)
    assert not fused.uses_fused_loop(mask, training=False)
    assert not one_gate.uses_fused_loop(None, training=True)
    assert one_gate.uses_fused_loop(None, training=False)
    assert not keras_seqmem.PeepholeLSTM(
        U, fast_path="stepwise").uses_fused_loop(None, training=True)
    assert not keras_seqmem.PeepholeLSTM(
        U, dtype="mixed_float16").uses_fused_loop(None, training=True)


def test_fast_path_takes_true_stepwise_or_false():
    for value in ("fused", 1, None):
        with pytest.raises(ValueError, match="fast_path must be True"):
            keras_seqmem.PeepholeLSTM(U, fast_path=value)
    layer = keras_seqmem.LeakyRNN(U, fast_path="stepwise")
    assert keras_seqmem.LeakyRNN.from_config(
        layer.get_config()).fast_path == "stepwise"


# --- the rest of the Keras RNN contract --------------------------------------

CELLS = {
    "leaky": lambda **k: keras_seqmem.LeakyRNNCell(U, gamma=2.0, **k),
    "peephole": lambda **k: keras_seqmem.PeepholeLSTMCell(U, **k),
    "coupled": lambda **k: keras_seqmem.CoupledLSTMCell(
        U, use_peepholes=True, **k),
}


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_bidirectional(kind):
    x = np.random.default_rng(9).standard_normal((3, 6, D)).astype("float32")
    layer = keras.layers.RNN(CELLS[kind](), return_sequences=True)
    bi = keras.layers.Bidirectional(layer, merge_mode="concat")
    out = keras.ops.convert_to_numpy(bi(x))
    assert out.shape == (3, 6, 2 * U)
    forward = keras.layers.RNN(CELLS[kind](), return_sequences=True)
    backward = keras.layers.RNN(CELLS[kind](), return_sequences=True,
                                go_backwards=True)
    forward(x)
    backward(x)
    forward.set_weights(bi.forward_layer.get_weights())
    backward.set_weights(bi.backward_layer.get_weights())
    np.testing.assert_allclose(out[..., :U], forward(x), atol=1e-6)
    np.testing.assert_allclose(out[..., U:],
                               np.flip(backward(x), axis=1), atol=1e-6)


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_stacked_cells(kind):
    x = np.random.default_rng(10).standard_normal((3, 6, D)).astype("float32")
    stacked = keras.layers.RNN(
        keras.layers.StackedRNNCells([CELLS[kind](), CELLS[kind]()]),
        return_sequences=True,
    )
    out = stacked(x)
    first = keras.layers.RNN(CELLS[kind](), return_sequences=True)
    second = keras.layers.RNN(CELLS[kind](), return_sequences=True)
    second(first(x))
    n = len(first.weights)
    weights = stacked.get_weights()
    first.set_weights(weights[:n])
    second.set_weights(weights[n:])
    np.testing.assert_allclose(out, second(first(x)), atol=1e-6)


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_stateful(kind):
    cls, _, extra = LAYERS[kind]
    x = np.random.default_rng(11).standard_normal((2, 8, D)).astype("float32")
    whole = cls(U, return_sequences=True, **extra)
    stateful = cls(U, return_sequences=True, stateful=True, **extra)
    inputs = keras.Input(batch_shape=(2, 4, D))
    model = keras.Model(inputs, stateful(inputs))
    whole(x)
    _randomise(whole)
    stateful.set_weights(whole.get_weights())
    expected = keras.ops.convert_to_numpy(whole(x))
    first = model.predict_on_batch(x[:, :4])
    second = model.predict_on_batch(x[:, 4:])
    np.testing.assert_allclose(np.concatenate([first, second], 1), expected,
                               atol=1e-5)
    stateful.reset_state()
    np.testing.assert_allclose(model.predict_on_batch(x[:, :4]),
                               expected[:, :4], atol=1e-5)


def test_regularizers_constraints_initializers():
    x = np.random.default_rng(12).standard_normal((8, 5, D)).astype("float32")
    layer = keras_seqmem.PeepholeLSTM(
        U,
        kernel_initializer="ones",
        recurrent_initializer="zeros",
        peephole_initializer=keras.initializers.Constant(0.25),
        kernel_regularizer=keras.regularizers.L2(0.1),
        recurrent_regularizer=keras.regularizers.L2(0.1),
        bias_regularizer=keras.regularizers.L2(0.1),
        peephole_regularizer=keras.regularizers.L2(0.1),
        peephole_constraint=keras.constraints.NonNeg(),
        kernel_constraint=keras.constraints.MaxNorm(0.5),
    )
    model = keras.Sequential([keras.Input((5, D)), layer])
    cell = layer.cell
    np.testing.assert_array_equal(cell.kernel, np.ones((D, 4 * U)))
    np.testing.assert_array_equal(cell.input_gate_peephole_weights,
                                  np.full(U, 0.25))
    model(x)
    assert len(model.losses) == 6  # kernel, recurrent, bias, 3 peepholes
    model.compile(keras.optimizers.SGD(10.0), "mse")
    model.fit(x, np.full((8, U), -5.0, "float32"), verbose=0, epochs=3)
    for p in (cell.input_gate_peephole_weights,
              cell.forget_gate_peephole_weights,
              cell.output_gate_peephole_weights):
        assert np.all(keras.ops.convert_to_numpy(p) >= 0.0)
    norms = np.linalg.norm(keras.ops.convert_to_numpy(cell.kernel), axis=0)
    assert np.all(norms <= 0.5 + 1e-6)


# --- γ: spread, trainability, lower bound ------------------------------------


def test_gamma_range_is_geometric_and_trainable_gamma_stays_above_one():
    x = np.random.default_rng(13).standard_normal((16, 10, D)).astype(
        "float32")
    layer = keras_seqmem.LeakyRNN(U, gamma_range=(1.5, 12.0),
                                  trainable_gamma=True)
    model = keras.Sequential([keras.Input((10, D)), layer])
    np.testing.assert_allclose(layer.cell.effective_gamma(),
                               [1.5, 3.0, 6.0, 12.0], rtol=1e-5)
    assert [w.name for w in layer.trainable_weights][-1] == "gamma_offset"
    # Push hard towards fast units (large steps); γ must stay >= 1.
    model.compile(keras.optimizers.SGD(100.0), "mse")
    model.fit(x, np.tanh(x[:, -1, :U]) * 3, verbose=0, epochs=5)
    gamma = keras.ops.convert_to_numpy(layer.cell.effective_gamma())
    assert np.all(np.isfinite(gamma)) and np.all(gamma >= 1.0)
    assert not np.allclose(gamma, [1.5, 3.0, 6.0, 12.0], rtol=1e-3)
    fixed = keras_seqmem.LeakyRNN(U, gamma=[1.0, 2.0, 3.0, 4.0])
    fixed(x)
    assert fixed.trainable_weights[-1].name == "bias"
    assert fixed.non_trainable_weights[0].name == "gamma"


# --- bad hyperparameters -----------------------------------------------------

BAD_ARGUMENTS = [
    (keras_seqmem.LeakyRNN, dict(units=0), "units"),
    (keras_seqmem.LeakyRNNCell, dict(units=-3), "units"),
    (keras_seqmem.PeepholeLSTM, dict(units=0), "units"),
    (keras_seqmem.CoupledLSTMCell, dict(units=2.5), "units"),
    (keras_seqmem.LeakyRNN, dict(units=4, gamma=0.5), "gamma"),
    (keras_seqmem.LeakyRNNCell, dict(units=4, gamma=[1.0, 2.0, 0.9, 3.0]),
     "gamma"),
    (keras_seqmem.LeakyRNN, dict(units=4, gamma=[1.0, 2.0]), "gamma"),
    (keras_seqmem.LeakyRNN, dict(units=4, gamma_range=(0.5, 10.0)),
     "gamma_range"),
    (keras_seqmem.LeakyRNN, dict(units=4, gamma_range=(10.0, 2.0)),
     "gamma_range"),
    (keras_seqmem.LeakyRNN, dict(units=4, gamma=2.0, gamma_range=(1, 3)),
     "gamma_range"),
    (keras_seqmem.PeepholeLSTM, dict(units=4, dropout=1.0), "dropout"),
    (keras_seqmem.CoupledLSTM, dict(units=4, dropout=-0.1), "dropout"),
    (keras_seqmem.LeakyRNN, dict(units=4, recurrent_dropout=1.5),
     "recurrent_dropout"),
    (keras_seqmem.PeepholeLSTMCell, dict(units=4, recurrent_dropout=1.0),
     "recurrent_dropout"),
]


@pytest.mark.parametrize("cls,kwargs,argument", BAD_ARGUMENTS,
                         ids=lambda v: str(v) if not isinstance(v, type)
                         else v.__name__)
def test_bad_hyperparameters_raise_value_error(cls, kwargs, argument):
    with pytest.raises(ValueError) as info:
        cls(**kwargs)
    message = str(info.value)
    cell_name = cls.cell_class.__name__ if hasattr(cls, "cell_class") else (
        cls.__name__)
    assert cell_name in message, message
    assert f"`{argument}`" in message, message
    assert "must" in message, message


def test_large_trainable_gamma_is_finite():
    """softplus^-1(γ - 1) must not overflow for long time constants."""
    layer = keras_seqmem.LeakyRNN(U, gamma=[1.0, 10.0, 1000.0, 1e6],
                                  trainable_gamma=True)
    layer(np.zeros((1, 3, D), "float32"))
    gamma = keras.ops.convert_to_numpy(layer.cell.effective_gamma())
    np.testing.assert_allclose(gamma, [1.001, 10.0, 1000.0, 1e6], rtol=1e-5)


# --- the cell's arguments on the layer, as keras.layers.LSTM has them -------

# Non-default values for every argument the layers take, so that a property
# returning a default (or another argument's value) is caught.
_ARGUMENT_VALUES = dict(
    activation="relu", recurrent_activation="hard_sigmoid", use_bias=False,
    kernel_initializer="ones", recurrent_initializer="zeros",
    bias_initializer="ones", peephole_initializer="zeros",
    unit_forget_bias=False,
    kernel_regularizer=keras.regularizers.L2(0.1),
    recurrent_regularizer=keras.regularizers.L1(0.2),
    bias_regularizer=keras.regularizers.L2(0.3),
    peephole_regularizer=keras.regularizers.L1(0.4),
    kernel_constraint=keras.constraints.NonNeg(),
    recurrent_constraint=keras.constraints.UnitNorm(),
    bias_constraint=keras.constraints.MaxNorm(2.0),
    peephole_constraint=keras.constraints.MinMaxNorm(),
    dropout=0.25, recurrent_dropout=0.125, seed=7,
)
_MIRRORED = {
    keras_seqmem.LeakyRNN: (keras.layers.SimpleRNN, dict(
        gamma_range=[1.5, 9.0], per_unit_gamma=True, trainable_gamma=True)),
    keras_seqmem.PeepholeLSTM: (keras.layers.LSTM, {}),
    keras_seqmem.CoupledLSTM: (keras.layers.LSTM, dict(use_peepholes=True)),
}


@pytest.mark.parametrize("cls", sorted(_MIRRORED, key=lambda c: c.__name__),
                         ids=lambda c: c.__name__)
def test_layer_exposes_the_cells_arguments(cls):
    """`PeepholeLSTM(4).dropout` & co.: every argument of the cell (the keys
    of its config) is readable on the layer and is the cell's value, and
    every property of the matching Keras layer exists."""
    keras_layer, own = _MIRRORED[cls]
    cell_keys = set(cls.cell_class(U).get_config()) - {
        "name", "dtype", "trainable"}
    kwargs = {k: v for k, v in _ARGUMENT_VALUES.items() if k in cell_keys}
    layer = cls(U + 1, **kwargs, **own)
    for name in sorted(cell_keys):
        assert getattr(layer, name) is getattr(layer.cell, name), name
    assert layer.units == U + 1
    assert layer.dropout == 0.25 and layer.recurrent_dropout == 0.125
    assert layer.activation is keras.activations.relu
    assert layer.use_bias is False and layer.seed == 7
    assert isinstance(layer.kernel_initializer, keras.initializers.Ones)
    assert layer.bias_regularizer is kwargs["bias_regularizer"]
    for name, value in own.items():
        assert getattr(layer, name) == value, name
    keras_properties = {n for n, v in vars(keras_layer).items()
                        if isinstance(v, property)}
    missing = {n for n in keras_properties if not hasattr(layer, n)}
    assert missing <= {"reset_after"}, missing  # GRU's; not ours
    # Read-only, as Keras' are: the cell holds the value.
    with pytest.raises(AttributeError):
        layer.dropout = 0.5


def test_stateful_layer_needs_a_fixed_batch_size():
    layer = keras_seqmem.PeepholeLSTM(U, stateful=True, name="my_lstm")
    with pytest.raises(ValueError, match=r"my_lstm.*fixed batch size.*"
                       r"batch_shape="):
        keras.Sequential([keras.Input((None, D)), layer])
    layer = keras_seqmem.CoupledLSTM(U, stateful=True, name="my_lstm")
    layer(np.zeros((2, 3, D), "float32"))
    with pytest.raises(ValueError, match=r"batches of 2, got a batch of 3"):
        layer(np.zeros((3, 3, D), "float32"))
