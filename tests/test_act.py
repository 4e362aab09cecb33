"""ACT and ACTRNN (Adaptive Computation Time): float64 NumPy reference of the
halting distribution, N(t), R(t) and the weighted states, gradients by finite
differences, forced halting equal to the inner cell, the ponder cost, and
the shared layer checks."""

import functools

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_seqmem
from keras_seqmem import ACT
from keras_seqmem import ACTRNN

import layer_checks
import references as ref

D = 3  # input features
U = 4  # inner units


def _inner(kind, units=U, dtype=None):
    return {
        "simple": lambda: keras.layers.SimpleRNNCell(units, dtype=dtype),
        "lstm": lambda: keras.layers.LSTMCell(units, dtype=dtype),
        "gru": lambda: keras.layers.GRUCell(units, dtype=dtype),
        "peephole": lambda: keras_seqmem.PeepholeLSTMCell(units, dtype=dtype),
        "coupled": lambda: keras_seqmem.CoupledLSTMCell(units, dtype=dtype),
        "leaky": lambda: keras_seqmem.LeakyRNNCell(units, dtype=dtype),
    }[kind]()


REF_STEPS = {"simple": ref.simple_rnn_step, "lstm": ref.lstm_step}


def _float64_layer(kind, max_steps=4, epsilon=0.01, halting_input="output",
                   time_penalty=0.0, seed=0, **layer_kwargs):
    """A float64 ACTRNN with random weights that spread the halting
    probabilities (some examples halt by the threshold, some at M)."""
    act = ACT(_inner(kind, dtype="float64"), max_ponder_steps=max_steps,
              halting_epsilon=epsilon, time_penalty=time_penalty,
              halting_input=halting_input, dtype="float64")
    layer = ACTRNN(act, return_sequences=True, return_state=True,
                   return_ponder=True, dtype="float64", **layer_kwargs)
    layer.build((None, None, D))
    rng = np.random.default_rng(seed)
    for w in layer.weights:
        if w.path.endswith("halting_bias"):
            w.assign(np.array([-0.8]))
        else:
            w.assign(rng.normal(0.0, 0.9, w.shape))
    return layer


def _weights(layer):
    act = layer.cell
    inner = {w.path.split("/")[-1]: np.asarray(w.numpy(), "float64")
             for w in act.cell.weights}
    return inner, act.halting_kernel.numpy(), act.halting_bias.numpy()


def _reference(layer, kind, x, mask=None, halting_input="output"):
    inner, hk, hb = _weights(layer)
    act = layer.cell
    initial = [np.zeros((x.shape[0], s)) for s in act.state_size]
    return ref.run_act(
        x, initial, mask=mask, inner_step=REF_STEPS[kind],
        inner_weights=inner, halting_kernel=hk, halting_bias=hb,
        max_steps=act.max_ponder_steps, epsilon=act.halting_epsilon,
        halting_input=halting_input)


@pytest.mark.parametrize("kind,halting_input", [
    ("simple", "output"), ("lstm", "output"), ("lstm", "state")])
@pytest.mark.parametrize("masked", [False, True])
def test_matches_the_numpy_reference(kind, halting_input, masked):
    layer = _float64_layer(kind, halting_input=halting_input)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 6, D))
    mask = None
    if masked:
        mask = np.ones((5, 6), bool)
        mask[0, 4:] = False
        mask[3, 2:] = False
    outputs, *states, steps, remainders = layer(x, mask=mask)
    want_out, want_states, want_n, want_r, margin = _reference(
        layer, kind, x, mask, halting_input)
    assert margin > 1e-3  # no decision is on the threshold
    np.testing.assert_allclose(outputs, want_out, rtol=1e-10, atol=1e-12)
    for got, want in zip(states, want_states):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(steps, want_n)
    np.testing.assert_allclose(remainders, want_r, rtol=1e-10, atol=1e-12)
    # The weights spread the ponder counts: some examples stop by the
    # threshold, some at max_ponder_steps.
    valid = want_n[want_n > 0]
    assert valid.min() < layer.cell.max_ponder_steps == valid.max()


def test_halting_distribution_of_one_step():
    """p^n sums to 1, N(t) is the first n whose running sum reaches 1 − ε
    and R(t) completes the distribution (the reference's own bookkeeping,
    checked against the layer's N and R)."""
    layer = _float64_layer("simple")
    inner, hk, hb = _weights(layer)
    x = np.random.default_rng(2).normal(size=(6, D))
    _, _, n, r, probabilities, _ = ref.act_step(
        x, [np.zeros((6, U))], ref.simple_rnn_step, inner, hk, hb,
        max_steps=4, epsilon=0.01)
    for p, steps, remainder in zip(probabilities, n, r):
        assert len(p) == steps and p[-1] == remainder
        assert sum(p) == pytest.approx(1.0)
        assert all(q > 0 for q in p)
        if steps < 4:
            assert sum(p[:-1]) < 0.99
    _, _, got_n, got_r = layer.cell.ponder(x, [np.zeros((6, U))])
    np.testing.assert_array_equal(got_n, n)
    np.testing.assert_allclose(got_r, r, rtol=1e-12)


def test_gradients_match_finite_differences():
    """Gradients of outputs + ponder cost for every weight, through the
    halting probabilities, the remainder and the weighted states."""
    tau = 0.05
    layer = _float64_layer("simple", max_steps=4, time_penalty=tau, seed=3)
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3, 4, D))
    mask = np.ones((3, 4), bool)
    mask[1, 3] = False
    probe = rng.normal(size=(3, 4, U))
    act = layer.cell

    with tf.GradientTape() as tape:
        outputs, *_ = layer(x, mask=mask)
        loss = tf.reduce_sum(outputs * probe) + tf.add_n(layer.losses)
    weights = [act.halting_kernel, act.halting_bias] + list(act.cell.weights)
    grads = tape.gradient(loss, weights)

    inner, hk, hb = _weights(layer)
    arrays = {"halting_kernel": hk, "halting_bias": hb, **inner}

    def f():
        out, _, n, r, margin = ref.run_act(
            x, [np.zeros((3, U))], mask=mask, inner_step=ref.simple_rnn_step,
            inner_weights={k: arrays[k] for k in inner},
            halting_kernel=arrays["halting_kernel"],
            halting_bias=arrays["halting_bias"], max_steps=4, epsilon=0.01)
        assert margin > 1e-4
        return float(np.sum(out * probe) + tau * np.mean(np.sum(n + r, 1)))

    names = ["halting_kernel", "halting_bias"] + [
        w.path.split("/")[-1] for w in act.cell.weights]
    for name, grad in zip(names, grads):
        want = ref.numeric_grad(f, arrays[name])
        np.testing.assert_allclose(grad, want, rtol=1e-5, atol=1e-7,
                                   err_msg=name)
    assert np.abs(grads[1]).max() > 1e-3


@pytest.mark.parametrize("kind", ["simple", "lstm", "gru", "peephole",
                                  "coupled", "leaky"])
def test_forced_halting_equals_the_inner_cell(kind):
    """With a large halting bias every step halts after one ponder step
    (N = 1, R = 1), and with the flag's kernel row zero the wrapper computes
    what its inner cell computes on the same input."""
    act = ACT(_inner(kind), max_ponder_steps=6,
              halting_bias_initializer=keras.initializers.Constant(30.0))
    layer = ACTRNN(act, return_sequences=True, return_ponder=True)
    x = np.random.default_rng(5).normal(size=(4, 7, D)).astype("float32")
    layer(x)
    plain = keras.layers.RNN(_inner(kind), return_sequences=True)
    plain(x)
    for w_act, w_plain in zip(act.cell.weights, plain.cell.weights):
        value = w_act.numpy()
        if w_act.path.endswith("/kernel"):
            value[-1] = 0.0  # the flag's row
            w_act.assign(value)
            value = value[:-1]
        w_plain.assign(value)
    outputs, steps, remainders = layer(x)
    np.testing.assert_allclose(outputs, plain(x), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(steps, 1.0)
    np.testing.assert_allclose(remainders, 1.0)


def test_max_ponder_steps_bounds_the_loop():
    act = ACT(keras.layers.GRUCell(U), max_ponder_steps=7,
              halting_bias_initializer=keras.initializers.Constant(-30.0))
    _, steps, remainders = ACTRNN(act, return_ponder=True)(
        np.ones((2, 3, D), "float32"))
    np.testing.assert_array_equal(steps, 7.0)
    np.testing.assert_allclose(remainders, 1.0, atol=1e-6)


def test_ponder_cost_is_added_and_reaches_the_halting_unit():
    tau = 0.1
    act = ACT(keras.layers.LSTMCell(U), max_ponder_steps=5,
              time_penalty=tau)
    layer = ACTRNN(act, return_ponder=True)
    x = np.random.default_rng(6).normal(size=(4, 6, D)).astype("float32")
    mask = np.ones((4, 6), bool)
    mask[2, 3:] = False
    with tf.GradientTape() as tape:
        _, steps, remainders = layer(x, mask=mask)
        (cost,) = layer.losses
    np.testing.assert_array_equal(np.asarray(steps)[2, 3:], 0.0)
    want = tau * np.mean(np.sum(np.asarray(steps) + np.asarray(remainders),
                                axis=1))
    assert float(cost) == pytest.approx(want, rel=1e-6)
    grad = tape.gradient(cost, act.halting_bias)
    # Halting sooner lowers R(t): the cost falls as the bias grows.
    assert float(grad[0]) < 0
    no_cost = ACTRNN(ACT(keras.layers.LSTMCell(U), time_penalty=0.0))
    no_cost(x)
    assert no_cost.losses == []


def test_fit_minimises_the_ponder_cost():
    """With a large time penalty, training lowers the mean ponder time."""
    keras.utils.set_random_seed(0)
    act = ACT(keras.layers.SimpleRNNCell(8), max_ponder_steps=8,
              time_penalty=0.2,
              halting_bias_initializer=keras.initializers.Constant(-2.0))
    layer = ACTRNN(act, return_ponder=True)
    inputs = keras.Input((5, D))
    y, steps, remainders = layer(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(y))
    model.compile(keras.optimizers.Adam(0.05), "mse", jit_compile=True)
    probe = keras.Model(inputs, steps + remainders)
    x = np.random.default_rng(7).normal(size=(64, 5, D)).astype("float32")
    target = np.zeros((64, 1), "float32")
    before = float(np.mean(probe.predict(x, verbose=0)))
    model.fit(x, target, epochs=30, batch_size=64, verbose=0)
    after = float(np.mean(probe.predict(x, verbose=0)))
    assert before > 4.0 and after < before - 1.0, (before, after)


def test_works_around_an_ntm_cell():
    ntm = keras_seqmem.NTMCell(keras.layers.LSTMCell(6), memory_size=5,
                               word_size=3, units=4)
    layer = ACTRNN(ACT(ntm, max_ponder_steps=3), return_ponder=True)
    inputs = keras.Input((None, D))
    y, steps, _ = layer(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(y))
    model.compile("adam", "mse", jit_compile=True)
    x = np.random.default_rng(8).normal(size=(4, 5, D)).astype("float32")
    history = model.fit(x, np.zeros((4, 1)), epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    counts = keras.Model(inputs, steps).predict(x, verbose=0)
    assert counts.shape == (4, 5) and counts.min() >= 1 and counts.max() <= 3


@pytest.mark.parametrize("kwargs,argument", [
    ({"cell": keras.layers.Dense(3)}, "cell"),
    ({"cell": "lstm"}, "cell"),
    ({"max_ponder_steps": 0}, "max_ponder_steps"),
    ({"max_ponder_steps": 2.5}, "max_ponder_steps"),
    ({"halting_epsilon": 0.0}, "halting_epsilon"),
    ({"halting_epsilon": 1.0}, "halting_epsilon"),
    ({"time_penalty": -0.1}, "time_penalty"),
    ({"halting_input": "memory"}, "halting_input"),
])
def test_bad_hyperparameters(kwargs, argument):
    args = {"cell": keras.layers.GRUCell(3), **kwargs}
    with pytest.raises(ValueError) as info:
        ACT(name="my_act", **args)
    message = str(info.value)
    assert f"`{argument}`" in message and "my_act" in message, message


def test_refused_configurations():
    with pytest.raises(ValueError, match="dropout inside the ponder loop"):
        ACT(keras.layers.LSTMCell(3, dropout=0.1))
    with pytest.raises(ValueError, match="must be an ACT cell"):
        ACTRNN(keras.layers.LSTMCell(3))
    with pytest.raises(ValueError, match="stateful"):
        ACTRNN(ACT(keras.layers.LSTMCell(3)), stateful=True)
    built = keras.layers.SimpleRNNCell(3)
    built.build((None, D))  # no room for the flag
    with pytest.raises(ValueError, match="expected 4 .*flag"):
        ACTRNN(ACT(built))(np.zeros((1, 2, D), "float32"))


# --- the shared layer checks ----------------------------------------------------


def _act_rnn(kind, halting_input="output", **overrides):
    dtype = overrides.get("dtype")
    act = ACT(_inner(kind, dtype=dtype), max_ponder_steps=4,
              time_penalty=0.01, halting_input=halting_input,
              halting_bias_initializer=keras.initializers.Constant(-0.5),
              **overrides)
    return ACTRNN(act, return_sequences=True, **overrides)


def _act_in_rnn(**overrides):
    dtype = overrides.get("dtype")
    act = ACT(keras.layers.GRUCell(U, dtype=dtype), max_ponder_steps=3,
              **overrides)
    return keras.layers.RNN(act, **overrides)


CASES = [
    layer_checks.sequence_case(
        "ACTRNN-lstm-seq", functools.partial(_act_rnn, "lstm"), D),
    layer_checks.sequence_case(
        "ACTRNN-peephole-state",
        functools.partial(_act_rnn, "peephole", "state"), D),
    layer_checks.sequence_case("RNN(ACT-gru)", _act_in_rnn, D,
                               checks_rank=False),
]


@pytest.mark.parametrize("check", layer_checks.SHARED_CHECKS,
                         ids=lambda f: f.__name__[len("check_"):])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_shared_layer_checks(case, check, tmp_path):
    check(case, tmp_path)
