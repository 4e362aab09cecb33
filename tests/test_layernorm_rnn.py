"""LayerNormLSTM(Cell), LayerNormSimpleRNN(Cell): tfa's equations, contract,
shared checks.

The references below are a float64 NumPy transcription of
tensorflow_addons/rnn/layer_norm_lstm_cell.py and
layer_norm_simple_rnn_cell.py (tfa 0.23): `kernel_norm`, `recurrent_norm`
(over all 4u gate values) and `state_norm` layers of the LSTM cell;
the gain-only layer norm of the sum of projections, then the bias, of the
simple RNN cell. benchmarks/tfa_parity_cells.py compares with tfa itself.
Backend-neutral (gradients by `jax.grad` on JAX, `tf.GradientTape` on
TensorFlow), so `KERAS_BACKEND=jax pytest tests/test_layernorm_rnn.py`
runs it on JAX.
"""

import functools

import keras
import numpy as np
import pytest

import backend_utils as bu
import layer_checks
import references
from keras_seqmem.recurrent import LayerNormLSTM
from keras_seqmem.recurrent import LayerNormLSTMCell
from keras_seqmem.recurrent import LayerNormSimpleRNN
from keras_seqmem.recurrent import LayerNormSimpleRNNCell

D, U = 5, 4  # input features, units
BACKEND = keras.backend.backend()


def _has_float64():
    """JAX computes float64 only with JAX_ENABLE_X64=1 (else float32)."""
    x = keras.ops.convert_to_tensor(np.zeros(1), dtype="float64")
    return keras.backend.standardize_dtype(x.dtype) == "float64"


needs_float64 = pytest.mark.skipif(
    not _has_float64(), reason="the float64 reference checks need float64 "
    "on the backend: on JAX run with JAX_ENABLE_X64=1")
# XLA's CPU tanh is accurate to about 3e-8 in float64 (measured against
# NumPy with JAX 0.10: it is also why tests/test_recurrent.py's 1e-10
# references fail under JAX_ENABLE_X64=1), so on JAX the float64 references
# hold to 1e-5 (the layer norms of small-variance vectors amplify it),
# not 1e-10.
REF_TOL = (dict(rtol=1e-5, atol=1e-6) if keras.backend.backend() == "jax"
           else dict(rtol=1e-10, atol=1e-12))


# --- float64 NumPy transcription of tfa's cells ------------------------------


def ln(a, gamma, beta, epsilon):
    """keras.layers.LayerNormalization(axis=-1): biased variance."""
    mean = a.mean(axis=-1, keepdims=True)
    var = ((a - mean) ** 2).mean(axis=-1, keepdims=True)
    out = (a - mean) / np.sqrt(var + epsilon) * gamma
    return out if beta is None else out + beta


def layer_norm_lstm_step(x, states, w, epsilon=1e-3):
    """tfa.rnn.LayerNormLSTMCell.call (no dropout), gate order i, f, c, o:

        z = kernel_norm(x W) + recurrent_norm(h U) + b
        c = f c_tm1 + i tanh(z_c);  c = state_norm(c);  h = o tanh(c)
    """
    h_tm1, c_tm1 = states
    z = ln(x @ w["kernel"], w["kernel_norm_gamma"], w["kernel_norm_beta"],
           epsilon)
    z = z + ln(h_tm1 @ w["recurrent_kernel"], w["recurrent_norm_gamma"],
               w["recurrent_norm_beta"], epsilon)
    z = z + w.get("bias", 0.0)
    z_i, z_f, z_c, z_o = np.split(z, 4, axis=1)
    i, f, o = (references.sigmoid(v) for v in (z_i, z_f, z_o))
    c = f * c_tm1 + i * np.tanh(z_c)
    c = ln(c, w["state_norm_gamma"], w["state_norm_beta"], epsilon)
    h = o * np.tanh(c)
    return h, (h, c)


def layer_norm_simple_rnn_step(x, states, w, epsilon=1e-5):
    """tfa.rnn.LayerNormSimpleRNNCell.call (no dropout):
    y = tanh(layernorm(x W + h U) + b), layernorm with a gain only."""
    (h_tm1,) = states
    net = x @ w["kernel"] + h_tm1 @ w["recurrent_kernel"]
    net = ln(net, w["layernorm_gamma"], None, epsilon)
    h = np.tanh(net + w.get("bias", 0.0))
    return h, (h,)


# --- the shared layer checks -------------------------------------------------


def _in_rnn(cell_class, return_sequences=False, **cell_kwargs):
    def make(**overrides):
        cell = cell_class(U, **cell_kwargs, **overrides)
        return keras.layers.RNN(cell, return_sequences=return_sequences,
                                **overrides)

    return make


CASES = [
    layer_checks.sequence_case(
        "LayerNormLSTM-seq",
        functools.partial(LayerNormLSTM, U, return_sequences=True), D),
    layer_checks.sequence_case(
        "LayerNormSimpleRNN",
        functools.partial(LayerNormSimpleRNN, U), D),
    layer_checks.sequence_case(
        "RNN(LayerNormLSTMCell)", _in_rnn(LayerNormLSTMCell), D,
        checks_rank=False),
    layer_checks.sequence_case(
        "RNN(LayerNormSimpleRNNCell)-seq",
        _in_rnn(LayerNormSimpleRNNCell, return_sequences=True), D,
        checks_rank=False),
]


@pytest.mark.parametrize("check", layer_checks.SHARED_CHECKS,
                         ids=lambda f: f.__name__[len("check_"):])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_shared_layer_checks(case, check, tmp_path):
    check(case, tmp_path)


# --- NumPy references: outputs and gradients ---------------------------------

LAYERS = {
    "lstm": (LayerNormLSTM, layer_norm_lstm_step, {}),
    "lstm-eps-nobias": (LayerNormLSTM,
                        functools.partial(layer_norm_lstm_step, epsilon=0.5),
                        dict(norm_epsilon=0.5, use_bias=False)),
    "simple": (LayerNormSimpleRNN, layer_norm_simple_rnn_step, {}),
    "simple-eps-nobias": (LayerNormSimpleRNN,
                          functools.partial(layer_norm_simple_rnn_step,
                                            epsilon=0.5),
                          dict(layernorm_epsilon=0.5, use_bias=False)),
}


def _randomise(layer, seed=0, scale=0.6):
    """Every weight random (gains around one, shifts and biases non-zero)."""
    rng = np.random.default_rng(seed)
    values = []
    for w in layer.weights:
        value = scale * rng.standard_normal(tuple(w.shape))
        if w.name.endswith("gamma"):
            value = 1.0 + value
        values.append(value.astype(keras.backend.standardize_dtype(w.dtype)))
    layer.set_weights(values)


def _weights(layer):
    return {w.name: keras.ops.convert_to_numpy(w).astype("float64")
            for w in layer.weights}


def _make(kind, **kwargs):
    cls, step, extra = LAYERS[kind]
    return cls(U, dtype="float64", **{**extra, **kwargs}), step


@needs_float64
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("masked", [True, False],
                         ids=["masked", "unmasked-training"])
@pytest.mark.parametrize("fast_path", [True, False])
@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_outputs_match_numpy_reference(kind, fast_path, go_backwards, masked):
    """Whole sequences with a mask and initial states, float64, 1e-10
    (1e-5 on JAX, REF_TOL)."""
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
    n_states = 2 if kind.startswith("lstm") else 1
    initial = [0.5 * rng.standard_normal((3, U)) for _ in range(n_states)]
    outputs, *states = layer(x, initial_state=initial, mask=mask,
                             training=not masked)
    expected, expected_states = references.run_rnn(
        step, x, initial, _weights(layer), mask=mask,
        go_backwards=go_backwards)
    np.testing.assert_allclose(outputs, expected, **REF_TOL)
    assert len(states) == n_states
    for got, want in zip(states, expected_states):
        np.testing.assert_allclose(got, want, **REF_TOL)


@needs_float64
@pytest.mark.parametrize("fast_path,training", [
    (True, True), (True, False), (False, False)])
@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_gradients_match_finite_differences(kind, fast_path, training):
    """d(loss)/d(every weight and the input) against central differences
    of the NumPy reference, 1e-5: the fast path's written-out gradient
    (`training=True`, keras_seqmem._fused), the backend's gradient of the
    fast path's loop and of the cell loop."""
    layer, step = _make(kind, return_sequences=True, fast_path=fast_path)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 5, D))
    layer(x)
    _randomise(layer, seed=3)
    probe = rng.standard_normal((2, 5, U))
    weight_grads, x_grad = bu.stateless_gradients(
        layer, x, lambda out: keras.ops.sum(out * probe), training)
    raw = _weights(layer)
    n_states = 2 if kind.startswith("lstm") else 1

    def reference_loss():
        outputs, _ = references.run_rnn(
            step, x, [np.zeros((2, U))] * n_states, raw)
        return np.sum(outputs * probe)

    names = [v.name for v in layer.trainable_variables]
    assert sorted(names) == sorted(raw)  # every weight is checked
    for name, grad in zip(names, weight_grads):
        expected = references.numeric_grad(reference_loss, raw[name])
        np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-7,
                                   err_msg=name)
    np.testing.assert_allclose(x_grad, references.numeric_grad(
        reference_loss, x), rtol=1e-5, atol=1e-7)


# --- the weights: names, shapes, tfa's order ---------------------------------


def test_weight_names_shapes_and_order():
    x = np.zeros((2, 3, D), "float32")
    lstm = LayerNormLSTM(U)
    simple = LayerNormSimpleRNN(U)
    simple_nobias = LayerNormSimpleRNN(U, use_bias=False)
    for layer in (lstm, simple, simple_nobias):
        layer(x)
    # The order of tfa's get_weights(), so set_weights moves them as they are.
    assert [(w.name, tuple(w.shape)) for w in lstm.weights] == [
        ("kernel", (D, 4 * U)), ("recurrent_kernel", (U, 4 * U)),
        ("bias", (4 * U,)),
        ("kernel_norm_gamma", (4 * U,)), ("kernel_norm_beta", (4 * U,)),
        ("recurrent_norm_gamma", (4 * U,)),
        ("recurrent_norm_beta", (4 * U,)),
        ("state_norm_gamma", (U,)), ("state_norm_beta", (U,))]
    assert [(w.name, tuple(w.shape)) for w in simple.weights] == [
        ("kernel", (D, U)), ("recurrent_kernel", (U, U)), ("bias", (U,)),
        ("layernorm_gamma", (U,))]
    assert [w.name for w in simple_nobias.weights] == [
        "kernel", "recurrent_kernel", "layernorm_gamma"]
    # Initial values: tfa's defaults (forget bias one, gains one, shifts 0).
    weights = {w.name: keras.ops.convert_to_numpy(w) for w in lstm.weights}
    np.testing.assert_array_equal(
        weights["bias"], np.r_[np.zeros(U), np.ones(U), np.zeros(2 * U)])
    for prefix in ("kernel_norm", "recurrent_norm", "state_norm"):
        assert np.all(weights[f"{prefix}_gamma"] == 1.0)
        assert np.all(weights[f"{prefix}_beta"] == 0.0)
    plain = LayerNormLSTM(U, unit_forget_bias=False, bias_initializer="ones")
    plain(x)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(plain.cell.bias), np.ones(4 * U))
    assert lstm.cell.norm_epsilon == 1e-3
    assert simple.cell.layernorm_epsilon == 1e-5


@needs_float64
def test_layer_norm_really_normalises():
    """With a negligible ε, kernels scaled by 100 change nothing (each
    projection, or their sum, is normalised)."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 6, D))
    for cls, eps in ((LayerNormLSTM, "norm_epsilon"),
                     (LayerNormSimpleRNN, "layernorm_epsilon")):
        layer = cls(U, dtype="float64", return_sequences=True,
                    **{eps: 1e-12})
        layer(x)
        _randomise(layer, seed=5)
        before = keras.ops.convert_to_numpy(layer(x))
        weights = layer.get_weights()
        layer.set_weights([w * 100.0 if i < 2 else w
                           for i, w in enumerate(weights)])
        after = keras.ops.convert_to_numpy(layer(x))
        tolerance = REF_TOL if BACKEND == "jax" else dict(rtol=1e-6,
                                                          atol=1e-8)
        np.testing.assert_allclose(after, before, **tolerance)


# --- fast path == cell path ----------------------------------------------------

FAST_VS_CELL = [
    dict(),
    dict(go_backwards=True),
    dict(return_sequences=True, return_state=True),
    dict(return_sequences=True, zero_output_for_mask=True),
    dict(unroll=True, return_sequences=True),
]


@pytest.mark.parametrize("options", FAST_VS_CELL, ids=str)
@pytest.mark.parametrize("kind", ["lstm", "simple"])
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
    a = keras.tree.flatten(fast(x, mask=mask))
    b = keras.tree.flatten(slow(x, mask=mask))
    assert len(a) == len(b)
    # float32: the fast path's one (B, T, d) x (d, 4u) product rounds
    # differently from T step products (both equal the float64 reference
    # to 1e-10 in test_outputs_match_numpy_reference).
    for got, want in zip(a, b):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["lstm", "simple"])
def test_fast_path_equals_cell_path_with_dropout(kind):
    """Same seed -> same per-sequence masks; both paths agree in training,
    and dropout acts in training only."""
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
    infer = keras.ops.convert_to_numpy(fast(x, training=False))
    assert not np.allclose(train_fast, infer, atol=1e-4)
    np.testing.assert_allclose(infer, slow(x, training=False), atol=1e-6)


def test_dropout_masks_one_per_sequence():
    """Input dropout drops the same features at every step (one mask per
    sequence): with a kernel that reads one feature per unit, the dropped
    features' inputs vanish at every step alike."""
    x = np.ones((2, 5, D), "float32")
    layer = LayerNormLSTM(U, dropout=0.5, seed=3, return_sequences=True)
    layer(x)
    cell = layer.cell
    seen = []
    original = cell.input_function

    def spy():
        project = original()

        def wrapped(inputs):
            seen.append(keras.ops.convert_to_numpy(inputs))
            return project(inputs)

        return wrapped

    cell.input_function = spy
    try:
        layer(x, training=True)
    finally:
        del cell.input_function
    (dropped,) = seen  # the whole sequence at once, (batch, T, d)
    assert dropped.shape == (2, 5, D)
    assert np.all(dropped == dropped[:, :1])  # the same mask at every step
    assert np.any(dropped == 0.0) and np.any(dropped != 0.0)


# --- the rest of the Keras RNN contract ----------------------------------------

CELLS = {
    "lstm": lambda **k: LayerNormLSTMCell(U, **k),
    "simple": lambda **k: LayerNormSimpleRNNCell(U, **k),
}


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_cell_in_keras_rnn_equals_layer(kind):
    """keras.layers.RNN(cell) (Keras' loop) == our layer, same weights."""
    cls, _, extra = LAYERS[kind]
    x = np.random.default_rng(9).standard_normal((3, 6, D)).astype("float32")
    ours = cls(U, return_sequences=True)
    theirs = keras.layers.RNN(CELLS[kind](), return_sequences=True)
    ours(x)
    theirs(x)
    _randomise(ours)
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(ours(x), theirs(x), atol=1e-6)


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_bidirectional_and_stacked(kind):
    x = np.random.default_rng(10).standard_normal((3, 6, D)).astype("float32")
    bi = keras.layers.Bidirectional(
        keras.layers.RNN(CELLS[kind](), return_sequences=True))
    assert tuple(bi(x).shape) == (3, 6, 2 * U)
    stacked = keras.layers.RNN(
        keras.layers.StackedRNNCells([CELLS[kind](), CELLS[kind]()]),
        return_sequences=True)
    out = stacked(x)
    first = keras.layers.RNN(CELLS[kind](), return_sequences=True)
    second = keras.layers.RNN(CELLS[kind](), return_sequences=True)
    second(first(x))
    n = len(first.weights)
    weights = stacked.get_weights()
    first.set_weights(weights[:n])
    second.set_weights(weights[n:])
    np.testing.assert_allclose(out, second(first(x)), atol=1e-6)


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_stateful(kind):
    cls, _, extra = LAYERS[kind]
    x = np.random.default_rng(11).standard_normal((2, 8, D)).astype("float32")
    whole = cls(U, return_sequences=True)
    stateful = cls(U, return_sequences=True, stateful=True)
    inputs = keras.Input(batch_shape=(2, 4, D))
    model = keras.Model(inputs, stateful(inputs))
    whole(x)
    _randomise(whole)
    stateful.set_weights(whole.get_weights())
    expected = keras.ops.convert_to_numpy(whole(x))
    # Direct calls carry the states on every backend (predict_on_batch
    # does on TensorFlow only: docs/pages/rnn.md).
    first = keras.ops.convert_to_numpy(stateful(x[:, :4]))
    second = keras.ops.convert_to_numpy(stateful(x[:, 4:]))
    np.testing.assert_allclose(np.concatenate([first, second], 1), expected,
                               atol=1e-5)
    stateful.reset_state()
    np.testing.assert_allclose(stateful(x[:, :4]), expected[:, :4],
                               atol=1e-5)
    if BACKEND == "tensorflow":
        stateful.reset_state()
        np.testing.assert_allclose(
            np.concatenate([model.predict_on_batch(x[:, :4]),
                            model.predict_on_batch(x[:, 4:])], 1),
            expected, atol=1e-5)


def test_norm_regularizers_constraints_initializers():
    x = np.random.default_rng(12).standard_normal((8, 5, D)).astype("float32")
    lstm = LayerNormLSTM(
        U, norm_gamma_initializer=keras.initializers.Constant(0.5),
        norm_beta_initializer=keras.initializers.Constant(0.25),
        norm_gamma_regularizer=keras.regularizers.L2(0.1),
        norm_beta_regularizer=keras.regularizers.L1(0.1),
        norm_gamma_constraint=keras.constraints.NonNeg(),
        norm_beta_constraint=keras.constraints.NonNeg())
    simple = LayerNormSimpleRNN(
        U, gamma_initializer=keras.initializers.Constant(0.5),
        gamma_regularizer=keras.regularizers.L2(0.1),
        gamma_constraint=keras.constraints.NonNeg())
    for layer, n_losses in ((lstm, 6), (simple, 1)):
        model = keras.Sequential([keras.Input((5, D)), layer])
        for w in layer.weights:
            value = keras.ops.convert_to_numpy(w)
            if w.name.endswith("gamma"):
                assert np.all(value == 0.5), w.name
            if w.name.endswith("beta"):
                assert np.all(value == 0.25), w.name
        model(x)
        assert len(model.losses) == n_losses
        model.compile(keras.optimizers.SGD(10.0), "mse")
        model.fit(x, np.full((8, U), -5.0, "float32"), verbose=0, epochs=3)
        for w in layer.weights:
            if w.name.endswith(("gamma", "beta")):
                assert np.all(keras.ops.convert_to_numpy(w) >= 0.0), w.name


# --- the cell's arguments on the layer, bad hyperparameters -------------------


@pytest.mark.parametrize("cls", [LayerNormLSTM, LayerNormSimpleRNN],
                         ids=lambda c: c.__name__)
def test_layer_exposes_the_cells_arguments(cls):
    cell_keys = set(cls.cell_class(U).get_config()) - {
        "name", "dtype", "trainable"}
    layer = cls(U + 1, dropout=0.25, recurrent_dropout=0.125,
                activation="relu", use_bias=False, seed=7)
    for name in sorted(cell_keys):
        assert getattr(layer, name) is getattr(layer.cell, name), name
    assert layer.units == U + 1 and layer.dropout == 0.25
    assert layer.activation is keras.activations.relu
    with pytest.raises(AttributeError):
        layer.dropout = 0.5


BAD_ARGUMENTS = [
    (LayerNormLSTM, dict(units=0), "units"),
    (LayerNormLSTMCell, dict(units=2.5), "units"),
    (LayerNormSimpleRNN, dict(units=-1), "units"),
    (LayerNormLSTM, dict(units=4, norm_epsilon=0.0), "norm_epsilon"),
    (LayerNormLSTMCell, dict(units=4, norm_epsilon=-1e-3), "norm_epsilon"),
    (LayerNormLSTM, dict(units=4, norm_epsilon="small"), "norm_epsilon"),
    (LayerNormSimpleRNN, dict(units=4, layernorm_epsilon=0.0),
     "layernorm_epsilon"),
    (LayerNormSimpleRNNCell, dict(units=4, layernorm_epsilon=float("nan")),
     "layernorm_epsilon"),
    (LayerNormLSTM, dict(units=4, dropout=1.0), "dropout"),
    (LayerNormSimpleRNNCell, dict(units=4, recurrent_dropout=-0.1),
     "recurrent_dropout"),
]


@pytest.mark.parametrize("cls,kwargs,argument", BAD_ARGUMENTS,
                         ids=lambda v: str(v) if not isinstance(v, type)
                         else v.__name__)
def test_bad_hyperparameters_raise_value_error(cls, kwargs, argument):
    with pytest.raises(ValueError) as info:
        cls(**kwargs)
    message = str(info.value)
    cell_name = getattr(cls, "cell_class", cls).__name__
    assert cell_name in message, message
    assert f"`{argument}`" in message, message
    assert "must" in message, message


def test_config_round_trip_keeps_tfa_arguments():
    lstm = LayerNormLSTM(U, norm_epsilon=0.01, norm_gamma_initializer="zeros",
                         norm_beta_initializer="ones", unit_forget_bias=False,
                         recurrent_activation="hard_sigmoid")
    config = lstm.get_config()
    assert config["norm_epsilon"] == 0.01
    assert config["unit_forget_bias"] is False
    clone = LayerNormLSTM.from_config(config)
    assert clone.get_config() == config
    simple = LayerNormSimpleRNN(U, layernorm_epsilon=0.02,
                                gamma_initializer="zeros")
    config = simple.get_config()
    assert config["layernorm_epsilon"] == 0.02
    assert LayerNormSimpleRNN.from_config(config).get_config() == config
