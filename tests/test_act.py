"""ACT and ACTRNN (Adaptive Computation Time): float64 NumPy reference of the
halting distribution, N(t), R(t) and the weighted states, gradients by finite
differences, forced halting equal to the inner cell, the ponder cost, and
the shared layer checks."""

import functools
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_seqmem
from keras_seqmem import ACT
from keras_seqmem import ACTRNN

import layer_checks
import references as ref


def _np(x):
    return keras.ops.convert_to_numpy(x)

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


def test_loop_gradient_skips_the_written_one(monkeypatch):
    """gradient="loop" does not run the written-out gradient's path."""
    def boom(*args, **kwargs):
        raise AssertionError("written-out gradient used")

    monkeypatch.setattr(ACT, "_ponder_with_gradient", boom)
    x = np.zeros((2, 3, D), "float32")
    ACTRNN(ACT(keras.layers.LSTMCell(U), gradient="loop"))(x)
    with pytest.raises(AssertionError, match="written-out gradient used"):
        ACTRNN(ACT(keras.layers.LSTMCell(U)))(x)


def test_loop_gradient_equals_the_written_one():
    """ACT(gradient="loop") (the backend differentiates the ponder loop)
    and the default written-out gradient: same outputs, ponder cost and
    gradients, float64; the argument round-trips and is checked."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3, 4, D))
    probe = rng.normal(size=(3, 4, U))
    results = []
    for gradient in ("written", "loop"):
        layer = _float64_layer("lstm", max_steps=4, time_penalty=0.05,
                               seed=3)
        layer.cell.gradient = gradient
        with tf.GradientTape() as tape:
            outputs, *_ = layer(x)
            loss = tf.reduce_sum(outputs * probe) + tf.add_n(layer.losses)
        grads = tape.gradient(loss, layer.trainable_weights)
        results.append([loss] + grads)
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    act = ACT(keras.layers.LSTMCell(U), gradient="loop")
    assert ACT.from_config(act.get_config()).gradient == "loop"
    with pytest.raises(ValueError, match="`gradient` must be one of"):
        ACT(keras.layers.LSTMCell(U), gradient="custom")


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


def _xla_loop_state_bytes(max_steps):
    """Bytes of the largest `while` loop state in the optimized XLA HLO of
    a training step's forward and gradient (the loop variables, the
    accumulators the backward pass reads included)."""
    inputs = keras.Input((3, 2))
    layer = ACTRNN(ACT(keras.layers.LSTMCell(4), max_ponder_steps=max_steps))
    model = keras.Model(inputs, layer(inputs))

    def step(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model(x, training=True)) + sum(model.losses)
        return tape.gradient(loss, model.trainable_variables)

    hlo = tf.function(step, jit_compile=True).experimental_get_compiler_ir(
        tf.zeros((2, 3, 2)))(stage="optimized_hlo")
    sizes = []
    for state in re.findall(r"%while[.\d]* = \((.*)\) while\(", hlo):
        sizes.append(sum(
            4 * int(np.prod([int(d) for d in dims.split(",") if d]))
            for dims in re.findall(r"(?:f32|s32)\[([\d,]*)\]", state)))
    return max(sizes)


def test_xla_training_step_does_not_keep_buffers_of_the_bound():
    """The gradient is not that of the while loop, whose XLA accumulators
    (one slot per possible ponder step, copied at every input step) made
    the training step grow with M: from M = 2 to 16 the largest loop state
    grows by the chain of inner states only (1.6x here; 6.3x when the loop
    itself was differentiated)."""
    assert _xla_loop_state_bytes(16) < 2 * _xla_loop_state_bytes(2)


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
    built = keras.layers.SimpleRNNCell(3)
    built.build((None, D))  # no room for the flag
    with pytest.raises(ValueError, match="expected 4 .*flag"):
        ACTRNN(ACT(built))(np.zeros((1, 2, D), "float32"))


# --- the cell run by another loop: no silent loss of the ponder cost --------


@pytest.mark.parametrize("loop", ["keras.layers.RNN", "keras_seqmem.RNN"])
def test_cell_with_a_cost_outside_actrnn_fails_loudly(loop):
    """keras.layers.RNN(ACT(...)) cannot add the ponder cost: it raises at
    its first call, in one line naming ACTRNN, eagerly and in a compiled
    fit, instead of training without the cost."""
    wrap = keras.layers.RNN if loop == "keras.layers.RNN" else (
        keras_seqmem.RNN)
    x = np.random.default_rng(20).normal(size=(4, 5, D)).astype("float32")
    want = r"time_penalty=0\.01 runs in keras_seqmem\.ACTRNN only.*" \
        r"keras_seqmem\.ACTRNN\(act_cell, \.\.\.\)"
    layer = wrap(ACT(keras.layers.GRUCell(U), name="my_act"))
    with pytest.raises(ValueError, match=want) as info:
        layer(x)
    assert "my_act" in str(info.value)
    line = [ln for ln in str(info.value).splitlines() if "ACTRNN" in ln]
    assert len(line) == 1, str(info.value)
    inputs = keras.Input((5, D))
    model = keras.Model(inputs, keras.layers.Dense(1)(
        wrap(ACT(keras.layers.GRUCell(U), time_penalty=0.1))(inputs)))
    model.compile("sgd", "mse", jit_compile=True)
    with pytest.raises(ValueError, match=want.replace("0\\.01", "0\\.1")):
        model.fit(x, np.zeros((4, 1)), verbose=0)


def test_cell_without_a_cost_runs_in_a_plain_rnn():
    """time_penalty=0: nothing to lose, the cell runs in keras.layers.RNN
    and computes what ACTRNN computes (no loss added by either)."""
    x = np.random.default_rng(21).normal(size=(4, 5, D)).astype("float32")
    act = ACT(keras.layers.LSTMCell(U), max_ponder_steps=4, time_penalty=0.0,
              halting_bias_initializer=keras.initializers.Constant(-0.5))
    plain = keras.layers.RNN(act, return_sequences=True)
    ours = ACTRNN(act, return_sequences=True)
    np.testing.assert_allclose(plain(x), ours(x), rtol=1e-6, atol=1e-6)
    assert plain.losses == [] and ours.losses == []


# --- stateful, O(1) outputs, the cell's arguments on the layer ---------------


def _pair(batch, **kwargs):
    """A stateful ACTRNN in a model of fixed batch size and a plain one with
    the same weights (some examples ponder longer than others)."""
    def make(**extra):
        act = ACT(keras.layers.LSTMCell(U), max_ponder_steps=4,
                  time_penalty=0.05,
                  halting_bias_initializer=keras.initializers.Constant(-0.5))
        return ACTRNN(act, return_sequences=True, return_ponder=True,
                      **kwargs, **extra)

    inputs = keras.Input(batch_shape=(batch, None, D))
    stateful = keras.Model(inputs, make(stateful=True, name="act_rnn")(inputs))
    plain = make()
    plain.build((None, None, D))
    rng = np.random.default_rng(22)
    plain.set_weights([rng.normal(0.0, 0.7, w.shape) for w in plain.weights])
    stateful.set_weights(plain.get_weights())
    return stateful, plain


def test_stateful_halves_equal_the_whole_sequence(tmp_path):
    """stateful=True: a sequence fed in two halves gives the outputs, ponder
    counts and (summed) ponder cost of the whole; reset_states() starts
    over; the same after saving and loading."""
    x = np.random.default_rng(23).normal(size=(3, 8, D)).astype("float32")
    model, plain = _pair(3)
    y, steps, remainders = plain(x)
    (cost,) = plain.losses
    assert len(np.unique(steps)) > 1  # the halting varies
    layer = model.get_layer("act_rnn")
    got, costs = [], []
    for part in (x[:, :4], x[:, 4:]):
        got.append(layer(part))
        costs.append(float(layer.losses[0]))
    for i, want in enumerate((y, steps, remainders)):
        np.testing.assert_allclose(
            np.concatenate([g[i] for g in got], 1), want, atol=1e-5)
    assert sum(costs) == pytest.approx(float(cost), rel=1e-5)
    layer.reset_states()
    np.testing.assert_allclose(layer(x[:, :4])[0], y[:, :4], atol=1e-5)

    path = str(tmp_path / "stateful_act.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    layer = loaded.get_layer("act_rnn")
    assert layer.stateful
    layer.reset_states()
    halves = [loaded.predict_on_batch(x[:, :4])[0],
              loaded.predict_on_batch(x[:, 4:])[0]]
    np.testing.assert_allclose(np.concatenate(halves, 1), y, atol=1e-5)


def test_stateful_refuses_an_unknown_or_another_batch_size():
    act = ACT(keras.layers.GRUCell(U))
    with pytest.raises(ValueError, match=r"my_act_rnn.*fixed batch size.*"
                       r"batch_shape="):
        keras.Sequential([keras.Input((None, D)),
                          ACTRNN(act, stateful=True, name="my_act_rnn")])
    layer = ACTRNN(ACT(keras.layers.GRUCell(U)), stateful=True)
    layer(np.zeros((2, 3, D), "float32"))
    with pytest.raises(ValueError, match=r"batches of 2, got a batch of 3"):
        layer(np.zeros((3, 3, D), "float32"))


def _tensor_list_ops(layer, shape):
    """The TensorList ops of the layer's traced TensorFlow graph, loop
    bodies (the function library) included."""
    layer.build(shape)
    function = tf.function(lambda x: layer(x))
    graph = function.get_concrete_function(
        tf.TensorSpec(shape, "float32")).graph.as_graph_def()
    nodes = list(graph.node)
    for body in graph.library.function:
        nodes += list(body.node_def)
    return {n.op for n in nodes if n.op.startswith("TensorList")}


# A step's output written to a list in the loop, and the list stacked.
PER_STEP_OUTPUTS = {"TensorListSetItem", "TensorListStack"}


@pytest.mark.parametrize("kwargs,keeps_all", [
    ({}, False),
    (dict(return_state=True), False),
    (dict(return_sequences=True), True),
    (dict(return_ponder=True), True),
])
def test_only_the_last_output_is_kept_unless_every_step_is_asked_for(
        kwargs, keeps_all):
    """return_sequences=False, return_ponder=False: the loop writes no
    per-step output (O(1) memory in the sequence length), the ponder cost
    is still added; with return_sequences or return_ponder it does (the
    control, so the check can see)."""
    layer = ACTRNN(ACT(keras.layers.GRUCell(U), max_ponder_steps=3),
                   **kwargs)
    found = _tensor_list_ops(layer, (2, 9, D))
    assert (PER_STEP_OUTPUTS <= found) == keeps_all, found
    x = np.random.default_rng(24).normal(size=(2, 9, D)).astype("float32")
    mask = np.ones((2, 9), bool)
    mask[1, 5:] = False
    layer(x, mask=mask)
    counts = ACTRNN(layer.cell, return_ponder=True)
    _, steps, remainders = counts(x, mask=mask)
    want = 0.01 * np.mean(np.sum(_np(steps) + _np(remainders), 1))
    assert float(layer.losses[0]) == pytest.approx(want, rel=1e-6)


def test_layer_exposes_the_cells_arguments():
    """Every argument of the ACT cell but the inner cell (its config) is
    readable on ACTRNN."""
    act = ACT(keras.layers.GRUCell(U), max_ponder_steps=6,
              halting_epsilon=0.05, time_penalty=0.2,
              halting_bias_initializer="ones",
              halting_kernel_initializer="zeros", halting_input="state")
    layer = ACTRNN(act)
    keys = set(act.get_config()) - {"name", "dtype", "trainable", "cell"}
    assert keys
    for name in sorted(keys):
        assert getattr(layer, name) is getattr(act, name), name
    assert (layer.max_ponder_steps, layer.halting_epsilon,
            layer.time_penalty, layer.halting_input) == (6, 0.05, 0.2,
                                                         "state")
    assert layer.cell is act  # `cell` stays the ACT cell


# --- the shared layer checks ----------------------------------------------------


def _act_rnn(kind, halting_input="output", **overrides):
    dtype = overrides.get("dtype")
    act = ACT(_inner(kind, dtype=dtype), max_ponder_steps=4,
              time_penalty=0.01, halting_input=halting_input,
              halting_bias_initializer=keras.initializers.Constant(-0.5),
              **overrides)
    return ACTRNN(act, return_sequences=True, **overrides)


def _act_in_rnn(**overrides):
    # No ponder cost: with one, the cell runs in ACTRNN only.
    dtype = overrides.get("dtype")
    act = ACT(keras.layers.GRUCell(U, dtype=dtype), max_ponder_steps=3,
              time_penalty=0.0, **overrides)
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
