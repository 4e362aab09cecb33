"""The echo-state setup of LeakyRNN (tfa's ESNCell): the reservoir, the
equation, frozen weights, shared checks.

`esn_step` below is a float64 NumPy transcription of
tensorflow_addons/rnn/esn_cell.py (tfa 0.23), `ESNCell.call`:

    out = act([x, h] [W; U] + b);   h = (1 - leaky) h + leaky out

and `reservoir` of its `_esn_recurrent_initializer`.
"""

import functools

import keras
import numpy as np
import pytest

import layer_checks
import references
from keras_seqmem.recurrent import EchoStateInitializer
from keras_seqmem.recurrent import LeakyRNN
from keras_seqmem.recurrent import LeakyRNNCell

D, U = 5, 6  # input features, reservoir units


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


def esn_step(x, states, w, leaky):
    (h_tm1,) = states
    stacked = np.concatenate([w["kernel"], w["recurrent_kernel"]], axis=0)
    out = np.concatenate([x, h_tm1], axis=1) @ stacked
    out = np.tanh(out + w.get("bias", 0.0))
    h = (1.0 - leaky) * h_tm1 + leaky * out
    return h, (h,)


def reservoir(base, uniform, connectivity, spectral_radius, use_norm2):
    """tfa's `_esn_recurrent_initializer` given the base weights and the
    uniform draws of its mask."""
    w = base * (uniform < connectivity)
    if use_norm2:
        norm = np.sqrt(np.sum(w ** 2))
        return w * spectral_radius / (norm + (norm == 0))
    radius = np.max(np.abs(np.linalg.eigvals(w)))
    return w * (spectral_radius / radius if radius else 0.0)


# --- the reservoir -------------------------------------------------------------


@pytest.mark.parametrize("use_norm2", [False, True])
def test_reservoir_is_sparse_with_the_spectral_radius(use_norm2):
    base = keras.initializers.GlorotUniform(seed=1)
    init = EchoStateInitializer(connectivity=0.3, spectral_radius=0.8,
                                use_norm2=use_norm2, base_initializer=base,
                                seed=0)
    w = keras.ops.convert_to_numpy(init((40, 40))).astype("float64")
    # tfa's construction from the same base weights and mask draws.
    expected = reservoir(
        keras.ops.convert_to_numpy(base((40, 40))).astype("float64"),
        np.random.default_rng(0).random((40, 40)), 0.3, 0.8, use_norm2)
    np.testing.assert_allclose(w, expected, rtol=1e-6, atol=1e-7)
    if use_norm2:
        np.testing.assert_allclose(np.sqrt(np.sum(w ** 2)), 0.8, rtol=1e-6)
        assert np.max(np.abs(np.linalg.eigvals(w))) < 0.8
    else:
        np.testing.assert_allclose(np.max(np.abs(np.linalg.eigvals(w))),
                                   0.8, rtol=1e-5)
    kept = np.mean(w != 0.0)
    assert 0.25 < kept < 0.35, kept
    # Seeded: the same reservoir again; another mask seed, another one.
    again = keras.ops.convert_to_numpy(init((40, 40)))
    np.testing.assert_array_equal(again, w.astype("float32"))
    other = EchoStateInitializer(connectivity=0.3, base_initializer=base,
                                 seed=1)((40, 40))
    assert not np.array_equal(keras.ops.convert_to_numpy(other) != 0, w != 0)


def test_empty_reservoir_is_zeros_not_nan():
    for use_norm2 in (False, True):
        init = EchoStateInitializer(connectivity=1e-9, use_norm2=use_norm2,
                                    seed=0)
        w = keras.ops.convert_to_numpy(init((3, 3)))
        assert np.all(w == 0.0)


def test_reservoir_config_round_trip_and_shape_check():
    init = EchoStateInitializer(connectivity=0.2, spectral_radius=0.5,
                                use_norm2=True, seed=3,
                                base_initializer="random_normal")
    config = keras.saving.serialize_keras_object(init)
    clone = keras.saving.deserialize_keras_object(config)
    assert type(clone) is EchoStateInitializer
    assert clone.get_config() == init.get_config()
    with pytest.raises(ValueError, match=r"expected a square"):
        init((3, 4))


# --- the echo-state layer ---------------------------------------------------------


def _esn(leaky=0.4, **kwargs):
    return LeakyRNN.echo_state(
        U, connectivity=0.5, leaky=leaky, spectral_radius=0.9, seed=2,
        dtype="float64", **kwargs)


def test_echo_state_is_a_frozen_leaky_rnn_with_gamma_one_over_leaky():
    layer = _esn(return_sequences=True)
    layer(np.zeros((2, 3, D)))
    assert type(layer) is LeakyRNN and type(layer.cell) is LeakyRNNCell
    assert layer.trainable_weights == []
    assert [w.name for w in layer.weights] == [
        "kernel", "recurrent_kernel", "bias", "gamma"]
    np.testing.assert_allclose(layer.cell.effective_gamma(), 1 / 0.4)
    u = keras.ops.convert_to_numpy(layer.cell.recurrent_kernel)
    np.testing.assert_allclose(np.max(np.abs(np.linalg.eigvals(u))), 0.9,
                               rtol=1e-6)
    assert 0.25 < np.mean(u != 0.0) < 0.75
    cell = LeakyRNNCell.echo_state(U, leaky=0.5, use_bias=False,
                                   trainable=True)
    cell(np.zeros((2, D), "float32"), [np.zeros((2, U), "float32")])
    assert [w.name for w in cell.trainable_weights] == [
        "kernel", "recurrent_kernel"]


@needs_float64
@pytest.mark.parametrize("fast_path", [True, False])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("leaky", [1.0, 0.3])
def test_outputs_match_tfa_esn_equation(leaky, go_backwards, fast_path):
    layer = _esn(leaky=leaky, return_sequences=True, return_state=True,
                 go_backwards=go_backwards, fast_path=fast_path,
                 bias_initializer="random_normal")
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 7, D))
    mask = np.arange(7)[None, :] < np.array([[7], [3], [5]])
    initial = [0.5 * rng.standard_normal((3, U))]
    outputs, state = layer(x, initial_state=initial, mask=mask)
    weights = {w.name: keras.ops.convert_to_numpy(w) for w in layer.weights}
    expected, (expected_state,) = references.run_rnn(
        functools.partial(esn_step, leaky=leaky), x, initial, weights,
        mask=mask, go_backwards=go_backwards)
    np.testing.assert_allclose(outputs, expected, **REF_TOL)
    np.testing.assert_allclose(state, expected_state, **REF_TOL)


def test_fit_trains_the_readout_not_the_reservoir():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((16, 10, D)).astype("float32")
    esn = LeakyRNN.echo_state(32, leaky=0.5, seed=0)
    readout = keras.layers.Dense(1)
    model = keras.Sequential([keras.Input((10, D)), esn, readout])
    reservoir_before = [keras.ops.convert_to_numpy(w) for w in esn.weights]
    readout_before = keras.ops.convert_to_numpy(readout.kernel)
    model.compile(keras.optimizers.Adam(0.05), "mse", jit_compile=True)
    model.fit(x, rng.standard_normal((16, 1)), epochs=3, verbose=0)
    for before, w in zip(reservoir_before, esn.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(w), before)
    assert not np.array_equal(keras.ops.convert_to_numpy(readout.kernel),
                              readout_before)
    assert len(model.trainable_weights) == 2  # the readout's kernel, bias


BAD_ARGUMENTS = [
    (dict(leaky=0.0), "leaky"),
    (dict(leaky=1.5), "leaky"),
    (dict(connectivity=0.0), "connectivity"),
    (dict(connectivity=1.2), "connectivity"),
    (dict(spectral_radius=0.0), "spectral_radius"),
    (dict(spectral_radius=float("inf")), "spectral_radius"),
    (dict(units=0), "units"),
    (dict(gamma=2.0), "gamma"),
    (dict(trainable_gamma=True), "trainable_gamma"),
]


@pytest.mark.parametrize("cls", [LeakyRNN, LeakyRNNCell],
                         ids=lambda c: c.__name__)
@pytest.mark.parametrize("kwargs,argument", BAD_ARGUMENTS, ids=str)
def test_bad_echo_state_arguments_raise_value_error(cls, kwargs, argument):
    kwargs = {"units": 4, **kwargs}
    with pytest.raises(ValueError) as info:
        cls.echo_state(**kwargs)
    message = str(info.value)
    assert f"{cls.__name__}.echo_state" in message, message
    assert f"`{argument}`" in message, message


# --- the shared layer checks ------------------------------------------------------


CASES = [
    layer_checks.sequence_case(
        "LeakyRNN.echo_state-seq",
        functools.partial(LeakyRNN.echo_state, U, connectivity=0.5,
                          leaky=0.5, seed=0, return_sequences=True), D),
    # Trainable (echo_state(..., trainable=True)), so that the training
    # checks move weights; the case above is frozen, tfa's default.
    layer_checks.sequence_case(
        "RNN(LeakyRNNCell.echo_state)-trainable",
        lambda **overrides: keras.layers.RNN(
            LeakyRNNCell.echo_state(U, use_norm2=True, seed=1,
                                    trainable=True, **overrides),
            **overrides),
        D, checks_rank=False),
]


@pytest.mark.parametrize("check", layer_checks.SHARED_CHECKS,
                         ids=lambda f: f.__name__[len("check_"):])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_shared_layer_checks(case, check, tmp_path):
    check(case, tmp_path)
