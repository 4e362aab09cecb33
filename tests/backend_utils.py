"""One small configuration of every public layer, for the backend checks.

Shared by `tests/test_backends.py` (trains and predicts on the active
backend), `tests/test_jax_backend.py` (TensorFlow against JAX, same weights)
and `benchmarks/backend_parity.py` (the same comparison, written to a
results file).

    CASES                     name -> BackendCase (layers, cells in RNNs)
    make_seq2seq()            the small Seq2Seq of the decoding checks
    parity_problem(name)      fixed weights (seeded NumPy RNG), inputs and
                              the loss weights R of one case ("Seq2Seq"
                              too: its teacher-forced logits)
    compute(name, problem)    outputs, gradients of sum(out * R) + losses
                              w.r.t. every trainable weight and every float
                              input, on the active backend (TF: GradientTape,
                              JAX: jax.grad, both over `layer.stateless_call`);
                              Seq2Seq's greedy and beam decodes; ACTRNN's
                              halting margin
    compare(name, a, b)       max abs differences of two `compute` results
    python tests/backend_utils.py problems PROBLEM.npz CASE ...
    python tests/backend_utils.py compute PROBLEM.npz OUT.npz [--time] CASE ...
                              the same from the command line, on the backend
                              of $KERAS_BACKEND (one npz, keys CASE/...)

Everything uses public APIs only (`keras.ops`, `Layer.stateless_call`,
`tf.GradientTape`, `jax.grad`).
"""

import dataclasses
import sys
import time
from typing import Callable

import keras
import numpy as np

import keras_seqmem

B, T = 3, 5  # batch, time steps
D, U = 3, 4  # input features, units
DQ, DV, A = 3, 5, 6  # query, value features, attention units
V, E = 13, 5  # vocabulary (0 = padding), embedding dimension

# Trainable weights are drawn from N(0, weight_std^2) by a NumPy RNG seeded
# with WEIGHT_SEED + the case's index; inputs with INPUT_SEED + index.
WEIGHT_SEED, INPUT_SEED = 1000, 2000
SEQ2SEQ_WEIGHT_STD = 1.0  # (varied greedy / beam outputs)


@dataclasses.dataclass
class BackendCase:
    """How to make and feed one layer configuration.

    Attributes:
        name: Test id.
        make: `make() -> keras.layers.Layer`, a new (unbuilt) layer.
        sample: `sample(rng, batch, time) -> list of arrays`, the inputs.
        input_shapes: Per-example shapes (None for a variable axis), one per
            input, for `keras.Input`.
        int_inputs: Whether the inputs are token ids (no input gradients).
        ponder: An ACT layer: its ponder counts are an output and its ponder
            cost a loss.
        weight_std: Std of its random trainable weights in the parity
            problem (larger for ACT, so that the ponder counts vary).
    """

    name: str
    make: Callable
    sample: Callable
    input_shapes: list
    int_inputs: bool = False
    ponder: bool = False
    weight_std: float = 0.5

    def __str__(self):
        return self.name

    def inputs(self, seed, batch=B, time=T):
        return self.sample(np.random.default_rng(seed), batch, time)

    def build_model(self):
        """`inputs -> layer -> its first output`, Functional."""
        dtype = "int32" if self.int_inputs else "float32"
        inputs = [keras.Input(s, dtype=dtype) for s in self.input_shapes]
        layer = self.make()
        outputs = layer(feed(inputs))
        if isinstance(outputs, (list, tuple)):
            outputs = outputs[0]
        return keras.Model(feed(inputs), outputs), layer


def stateless_gradients(layer, x, loss_of_outputs, training=False):
    """d loss_of_outputs(outputs)/d(trainable weights, x) of the built
    `layer` called statelessly (`stateless_call`) on the active backend:
    `jax.grad` or `tf.GradientTape`. Returns `(weight grads, x grad)` as
    NumPy; skips the test on other backends."""
    trainable = [v.value for v in layer.trainable_variables]
    non_trainable = [v.value for v in layer.non_trainable_variables]

    def loss(tv, inputs):
        outputs, _ = layer.stateless_call(tv, non_trainable, inputs,
                                          training=training)
        return loss_of_outputs(outputs)

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        grads = jax.grad(loss, argnums=(0, 1))(trainable, x)
    elif backend == "tensorflow":
        import tensorflow as tf

        tv = [tf.constant(keras.ops.convert_to_numpy(t)) for t in trainable]
        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(tv)
            tape.watch(xt)
            value = loss(tv, xt)
        grads = tape.gradient(value, (tv, xt))
    else:
        import pytest

        pytest.skip(f"no gradient helper for {backend}")
    return ([keras.ops.convert_to_numpy(g) for g in grads[0]],
            keras.ops.convert_to_numpy(grads[1]))


def feed(arrays):
    """One input as itself, several as a list (what the layers take)."""
    return arrays[0] if len(arrays) == 1 else list(arrays)


def _normal(*shapes):
    def sample(rng, batch, time):
        return [
            rng.standard_normal(
                tuple(batch if d == "B" else time if d == "T" else d
                      for d in shape)).astype("float32")
            for shape in shapes
        ]

    return sample


def _story(with_values):
    def sample(rng, batch, time):
        story = rng.integers(0, V, (batch, time, 4)).astype("int32")
        story[:, :, 0] = rng.integers(1, V, (batch, time))
        question = rng.integers(1, V, (batch, 3)).astype("int32")
        if with_values:
            values = rng.integers(1, V, (batch, time, 2)).astype("int32")
            return [story, values, question]
        return [story, question]

    return sample


def _in_rnn(make_cell, **kwargs):
    return lambda: keras.layers.RNN(make_cell(), **kwargs)


def _act(inner, max_steps, time_penalty=0.01, **kwargs):
    return keras_seqmem.ACT(
        inner, max_ponder_steps=max_steps, time_penalty=time_penalty,
        halting_bias_initializer=keras.initializers.Constant(-0.5), **kwargs)


_SEQ = _normal(("B", "T", D))

_CASE_LIST = [
    BackendCase(
        "LeakyRNN",
        lambda: keras_seqmem.LeakyRNN(
            U, gamma=3.0, per_unit_gamma=True, trainable_gamma=True,
            return_sequences=True),
        _SEQ, [(None, D)]),
    BackendCase(
        "RNN(LeakyRNNCell)",
        _in_rnn(lambda: keras_seqmem.LeakyRNNCell(U, gamma_range=(1.0, 10.0)),
                return_sequences=True),
        _SEQ, [(None, D)]),
    BackendCase(
        "PeepholeLSTM",
        lambda: keras_seqmem.PeepholeLSTM(U, return_sequences=True),
        _SEQ, [(None, D)]),
    BackendCase(
        "RNN(PeepholeLSTMCell)",
        _in_rnn(lambda: keras_seqmem.PeepholeLSTMCell(U)),
        _SEQ, [(None, D)]),
    BackendCase(
        "CoupledLSTM",
        lambda: keras_seqmem.CoupledLSTM(U, use_peepholes=True,
                                         return_sequences=True),
        _SEQ, [(None, D)]),
    BackendCase(
        "RNN(CoupledLSTMCell)",
        _in_rnn(lambda: keras_seqmem.CoupledLSTMCell(U)),
        _SEQ, [(None, D)]),
    BackendCase(
        "keras_seqmem.RNN(stacked)",
        lambda: keras_seqmem.RNN(
            [keras_seqmem.PeepholeLSTMCell(U), keras_seqmem.LeakyRNNCell(U)],
            return_sequences=True),
        _SEQ, [(None, D)]),
    BackendCase(
        "BahdanauAttention",
        lambda: keras_seqmem.BahdanauAttention(A, normalize=True),
        _normal(("B", 2, DQ), ("B", "T", DV)), [(None, DQ), (None, DV)]),
    BackendCase(
        "AttentiveDecoder",
        lambda: keras_seqmem.AttentiveDecoder(
            keras_seqmem.PeepholeLSTMCell(U),
            attention=keras_seqmem.BahdanauAttention(A, normalize=True)),
        _normal(("B", "T", D), ("B", 4, DV)), [(None, D), (None, DV)]),
    BackendCase(
        "KeyValueMemory",
        lambda: keras_seqmem.KeyValueMemory(),
        _normal(("B", D), ("B", "T", D), ("B", "T", DV)),
        [(D,), (None, D), (None, DV)]),
    BackendCase(
        "MemN2N",
        lambda: keras_seqmem.MemN2N(V, E, memory_size=8, random_noise=0.1),
        _story(False), [(None, None), (None,)], int_inputs=True),
    BackendCase(
        "KeyValueMemoryNetwork",
        lambda: keras_seqmem.KeyValueMemoryNetwork(V, E, memory_size=8),
        _story(True), [(None, None), (None, None), (None,)], int_inputs=True),
    BackendCase(
        "NTM",
        lambda: keras_seqmem.NTM(
            5, memory_size=6, word_size=4, num_read_heads=2,
            num_write_heads=2, units=4, memory_init="learned",
            return_sequences=True),
        _SEQ, [(None, D)]),
    BackendCase(
        "RNN(NTMCell)",
        _in_rnn(lambda: keras_seqmem.NTMCell(
            keras.layers.Dense(6, activation="relu"), memory_size=5,
            word_size=3, num_read_heads=2, shift_range=2, units=4,
            memory_init="random", weighting_init="constant", seed=0)),
        _SEQ, [(None, D)]),
    BackendCase(
        "ACTRNN",
        lambda: keras_seqmem.ACTRNN(
            _act(keras.layers.LSTMCell(U), 4), return_sequences=True,
            return_ponder=True),
        _SEQ, [(None, D)], ponder=True, weight_std=1.0),
    BackendCase(
        "RNN(ACT)",
        # Outside ACTRNN the ponder cost cannot reach the model's losses, so
        # ACT refuses a time_penalty > 0 there (tests/test_act.py).
        _in_rnn(lambda: _act(keras_seqmem.PeepholeLSTMCell(U), 3,
                             time_penalty=0.0)),
        _SEQ, [(None, D)]),
    # Appended (each case's seeds are WEIGHT_SEED / INPUT_SEED + its index,
    # so the cases above keep theirs).
    BackendCase(
        "LayerNormLSTM",
        lambda: keras_seqmem.recurrent.LayerNormLSTM(
            U, return_sequences=True),
        _SEQ, [(None, D)]),
    BackendCase(
        "RNN(LayerNormLSTMCell)",
        _in_rnn(lambda: keras_seqmem.recurrent.LayerNormLSTMCell(U)),
        _SEQ, [(None, D)]),
    BackendCase(
        "LayerNormSimpleRNN",
        lambda: keras_seqmem.recurrent.LayerNormSimpleRNN(U),
        _SEQ, [(None, D)]),
    BackendCase(
        "LeakyRNN.echo_state",
        lambda: keras_seqmem.recurrent.LeakyRNN.echo_state(
            U, connectivity=0.5, leaky=0.5, seed=0, return_sequences=True),
        _SEQ, [(None, D)]),
    # The mechanisms of tests/test_attention_mechanisms.py.
    BackendCase(
        "LuongAttention",
        lambda: keras_seqmem.attention.LuongAttention(
            DQ, scale=True, probability_fn="sparsemax"),
        _normal(("B", 2, DQ), ("B", "T", DV)), [(None, DQ), (None, DV)]),
    BackendCase(
        "BahdanauMonotonicAttention",
        lambda: keras_seqmem.attention.BahdanauMonotonicAttention(
            A, normalize=True, mode="recursive"),
        _normal(("B", 3, DQ), ("B", "T", DV)), [(None, DQ), (None, DV)]),
    BackendCase(
        "LuongMonotonicAttention",
        lambda: keras_seqmem.attention.LuongMonotonicAttention(
            DQ, scale=True, score_bias_init=-0.5),
        _normal(("B", 3, DQ), ("B", "T", DV)), [(None, DQ), (None, DV)]),
]

CASES = {case.name: case for case in _CASE_LIST}
NAMES = list(CASES)
SEQ2SEQ_INDEX = 16


# --- Seq2Seq ------------------------------------------------------------------

S2S_VOCAB, S2S_MAX_LENGTH = 9, 5


def make_seq2seq():
    return keras_seqmem.Seq2Seq(
        source_vocab_size=S2S_VOCAB, target_vocab_size=S2S_VOCAB,
        embedding_dim=4, units=4, cell="peephole_lstm",
        max_decode_length=S2S_MAX_LENGTH)


def seq2seq_batch(seed, batch=4):
    """`(source, decoder_inputs, targets)`: pad 0, start 1, end 2."""
    rng = np.random.default_rng(seed)
    source = rng.integers(3, S2S_VOCAB, (batch, 4)).astype("int32")
    source[1:, 3] = 0  # padding
    body = rng.integers(3, S2S_VOCAB, (batch, 3)).astype("int32")
    targets = np.concatenate([body, np.full((batch, 1), 2, "int32")], 1)
    decoder_inputs = np.concatenate(
        [np.ones((batch, 1), "int32"), targets[:, :-1]], 1)
    return source, decoder_inputs, targets


# --- parity -------------------------------------------------------------------


def _fixed_weights(layer, rng, std):
    """Trainable float weights from the RNG; the others (a fixed γ, a
    seeded random memory, seed states) as the layer made them."""
    trainable = {id(v) for v in layer.trainable_weights}
    values = []
    for w in layer.weights:
        value = keras.ops.convert_to_numpy(w)
        if id(w) in trainable and np.issubdtype(value.dtype, np.floating):
            value = (std * rng.standard_normal(value.shape)).astype(
                value.dtype)
        values.append(value)
    return values


def parity_problem(name):
    """The arrays of one case's comparison: its inputs `x{i}`, weights
    `w{i}` (in `layer.weights` order), the loss weights `r{i}` of every
    output, and `weight_paths`; made on the active backend, computed on any
    (`compute`)."""
    # Seq2Seq: index 16, what it was before cases were appended to the list.
    index = NAMES.index(name) if name in CASES else SEQ2SEQ_INDEX
    if name == "Seq2Seq":
        layer = make_seq2seq()
        source, decoder_inputs, _ = seq2seq_batch(INPUT_SEED + index)
        xs = [source, decoder_inputs]
        layer.build()
        std = SEQ2SEQ_WEIGHT_STD
    else:
        case = CASES[name]
        layer = case.make()
        xs = case.inputs(INPUT_SEED + index)
        std = case.weight_std
    outputs = _outputs(layer, xs)
    weights = _fixed_weights(
        layer, np.random.default_rng(WEIGHT_SEED + index), std)
    r_rng = np.random.default_rng(WEIGHT_SEED + 500 + index)
    problem = {"weight_paths": np.array(_paths(layer.weights))}
    for i, x in enumerate(xs):
        problem[f"x{i}"] = x
    for i, w in enumerate(weights):
        problem[f"w{i}"] = w
    for i, out in enumerate(outputs):
        problem[f"r{i}"] = r_rng.standard_normal(out.shape).astype("float32")
    return problem


def _paths(variables):
    """`name:shape` of each variable (paths hold auto-numbered layer names,
    which differ between processes)."""
    return [f"{v.name}:{tuple(v.shape)}" for v in variables]


def _outputs(layer, xs):
    out = layer(xs if isinstance(layer, keras_seqmem.Seq2Seq) else feed(xs))
    return [keras.ops.convert_to_numpy(o) for o in keras.tree.flatten(out)]


def _indexed(problem, prefix):
    n = sum(1 for k in problem if k[len(prefix):].isdigit()
            and k.startswith(prefix))
    return [np.asarray(problem[f"{prefix}{i}"]) for i in range(n)]


def _is_float(x):
    return np.issubdtype(np.asarray(x).dtype, np.floating)


def _loss_fn(layer, non_trainable, xs, rs, float_index, seq2seq):
    """`f(trainable, float_inputs) -> (loss, outputs)` on backend tensors:
    sum_i sum(out_i * r_i) + the layer's losses (ACT's ponder cost)."""

    def f(trainable, float_inputs):
        inputs = list(xs)
        for i, x in zip(float_index, float_inputs):
            inputs[i] = x
        args = inputs if seq2seq else feed(inputs)
        outputs, _, losses = layer.stateless_call(
            trainable, non_trainable, args, return_losses=True,
            training=False)
        flat = keras.tree.flatten(outputs)
        loss = sum(keras.ops.sum(keras.ops.cast(o, "float32") * r)
                   for o, r in zip(flat, rs))
        for extra in losses:
            loss = loss + extra
        return loss, flat

    return f


def compute(name, problem):
    """Outputs and gradients of one case on the active backend.

    Returns a dict of arrays: `out{i}`, `grad_w{j}` (j indexes
    `layer.trainable_weights`), `grad_x{i}` (float inputs only), `loss`,
    `trainable_paths`; for Seq2Seq also the greedy and beam decodes.
    """
    seq2seq = name == "Seq2Seq"
    layer = make_seq2seq() if seq2seq else CASES[name].make()
    xs = _indexed(problem, "x")
    if seq2seq:
        layer.build()
    else:  # build, symbolically (no eager run of the loop)
        layer(feed([keras.Input(batch_shape=x.shape, dtype=x.dtype)
                    for x in xs]))
    paths = _paths(layer.weights)
    expected = [str(p) for p in problem["weight_paths"]]
    assert paths == expected, f"{name}: weights {paths} != {expected}"
    layer.set_weights(_indexed(problem, "w"))
    rs = _indexed(problem, "r")
    float_index = [i for i, x in enumerate(xs) if _is_float(x)]
    trainable = [keras.ops.convert_to_numpy(v) for v in
                 layer.trainable_variables]
    non_trainable = [v.value for v in layer.non_trainable_variables]
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        tensors = [tf.constant(x) for x in xs]
        tv = [tf.constant(v) for v in trainable]
        fx = [tensors[i] for i in float_index]
        f = _loss_fn(layer, non_trainable, tensors, rs, float_index, seq2seq)
        with tf.GradientTape() as tape:
            tape.watch(tv)
            tape.watch(fx)
            loss, outputs = f(tv, fx)
        grad_w, grad_x = tape.gradient(loss, (tv, fx))
    elif backend == "jax":
        import jax

        tensors = [jax.numpy.asarray(x) for x in xs]
        tv = [jax.numpy.asarray(v) for v in trainable]
        fx = [tensors[i] for i in float_index]
        f = _loss_fn(layer, non_trainable, tensors, rs, float_index, seq2seq)
        # One XLA computation (op-by-op dispatch of a scan is slow).
        (loss, outputs), (grad_w, grad_x) = jax.jit(jax.value_and_grad(
            f, argnums=(0, 1), has_aux=True))(tv, fx)
    else:
        raise ValueError(f"no gradient for backend {backend!r}")
    np_ = keras.ops.convert_to_numpy
    result = {"loss": np.asarray(np_(loss)),
              "trainable_paths": np.array(_paths(layer.trainable_variables))}
    for i, o in enumerate(outputs):
        result[f"out{i}"] = np_(o)
    for j, g in enumerate(grad_w):
        # A weight the loss does not reach has no gradient on TF (None).
        result[f"grad_w{j}"] = (np.zeros_like(trainable[j]) if g is None
                                else np_(g))
    for i, g in zip(float_index, grad_x):
        result[f"grad_x{i}"] = np_(g)
    if not seq2seq and CASES[name].ponder:
        result["ponder_margin_ok"] = np.asarray(
            ponder_margin_ok(layer, xs, _indexed(problem, "w")))
    if seq2seq:
        for method in ("greedy", "beam"):
            decoded = layer.generate(xs[0], method=method, beam_width=3)
            result[f"{method}_ids"] = decoded.ids
            result[f"{method}_scores"] = decoded.scores
    return result


PONDER_MARGIN = 1e-3


def ponder_margin_ok(layer, xs, weights, delta=PONDER_MARGIN):
    """Whether the ponder counts N(t) (the layer's second output) stay the
    same when every ACT halting bias moves by -delta and +delta: then no
    halting decision `Σ h ≥ 1 − ε` is within about delta/4 of its threshold,
    far more than float32 differences between backends, so both backends
    must halt at the same steps. Restores `weights`."""
    paths = [w.path for w in layer.weights]
    biases = [i for i, p in enumerate(paths) if p.endswith("halting_bias")]
    assert biases, paths

    def steps(shift):
        shifted = list(weights)
        for i in biases:
            shifted[i] = weights[i] + np.float32(shift)
        layer.set_weights(shifted)
        return keras.ops.convert_to_numpy(layer(feed(xs))[1])

    try:
        reference = steps(0.0)
        return all(np.array_equal(steps(d), reference)
                   for d in (-delta, delta))
    finally:
        layer.set_weights(weights)


def compare(name, a, b):
    """Max abs differences between two `compute` results: `outputs`,
    `gradients` (weights and inputs), and `tolerance_ok` under
    `assert_allclose(rtol=RTOL, atol=ATOL)`."""
    keys = sorted(k for k in a if k.startswith(("out", "grad_")))
    assert keys == sorted(k for k in b if k.startswith(("out", "grad_"))), (
        name, keys)
    diff = {"outputs": 0.0, "gradients": 0.0}
    ok = True
    worst = None
    for k in keys:
        x, y = np.asarray(a[k], "float64"), np.asarray(b[k], "float64")
        assert x.shape == y.shape, (name, k, x.shape, y.shape)
        d = float(np.max(np.abs(x - y))) if x.size else 0.0
        group = "outputs" if k.startswith("out") else "gradients"
        diff[group] = max(diff[group], d)
        if not np.allclose(x, y, rtol=RTOL, atol=ATOL):
            ok = False
            worst = worst or k
    report = {"outputs_max_abs_diff": diff["outputs"],
              "gradients_max_abs_diff": diff["gradients"],
              "tolerance_ok": ok, "first_out_of_tolerance": worst}
    if name in CASES and CASES[name].ponder:
        # out1: the ponder counts N(t), integers: equal or not.
        report["ponder_steps_equal"] = bool(
            np.array_equal(a["out1"], b["out1"]))
        report["ponder_margin_ok"] = bool(a["ponder_margin_ok"]) and bool(
            b["ponder_margin_ok"])
        report["ponder_counts_seen"] = sorted(
            int(n) for n in np.unique(a["out1"]))
    for method in ("greedy", "beam"):
        if f"{method}_ids" in a:
            report[f"{method}_ids_equal"] = bool(np.array_equal(
                a[f"{method}_ids"], b[f"{method}_ids"]))
            report[f"{method}_scores_max_abs_diff"] = float(np.max(np.abs(
                a[f"{method}_scores"] - b[f"{method}_scores"])))
    return report


RTOL, ATOL = 1e-4, 1e-5


def train_step_time(name, repeats=20):
    """Median and min seconds of one `train_on_batch` of `inputs -> layer
    -> first output` (Adam, MSE, `jit_compile=True`) after 2 warm-up
    calls."""
    if name == "Seq2Seq":
        model = make_seq2seq()
        source, decoder_inputs, targets = seq2seq_batch(0, batch=8)
        x, y = (source, decoder_inputs), targets
        loss = keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, ignore_class=0)
    else:
        case = CASES[name]
        model, _ = case.build_model()
        x = feed(case.inputs(0, batch=8))
        y = np.zeros(keras.ops.convert_to_numpy(model(x)).shape, "float32")
        loss = "mse"
    model.compile(optimizer="adam", loss=loss, jit_compile=True)
    for _ in range(2):
        model.train_on_batch(x, y)
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.train_on_batch(x, y)
        samples.append(time.perf_counter() - start)
    return float(np.median(samples)), float(np.min(samples))


def write_problems(path, names):
    """`parity_problem` of every case, in one npz (keys `CASE/...`)."""
    arrays = {}
    for name in names:
        for k, v in parity_problem(name).items():
            arrays[f"{name}/{k}"] = v
    np.savez(path, **arrays)


def split(arrays, name):
    """The arrays of one case from a `CASE/...`-keyed npz."""
    return {k[len(name) + 1:]: v for k, v in arrays.items()
            if k.startswith(name + "/")}


def compute_all(problem_path, out_path, names, timed=False):
    """`compute` of each case of `problem_path`, written to `out_path`
    (keys `CASE/...`); `timed` adds `CASE/train_step_s` (median) and
    `CASE/train_step_min_s`."""
    problems = dict(np.load(problem_path))
    results = {}
    for name in names:
        start = time.perf_counter()
        for k, v in compute(name, split(problems, name)).items():
            results[f"{name}/{k}"] = v
        if timed:
            median, fastest = train_step_time(name)
            results[f"{name}/train_step_s"] = np.asarray(median)
            results[f"{name}/train_step_min_s"] = np.asarray(fastest)
        print(f"{name}: {time.perf_counter() - start:.1f} s", flush=True)
    np.savez(out_path, **results)


def main(argv):
    """`backend_utils.py problems PROBLEM.npz CASE ...` writes the cases'
    problems; `backend_utils.py compute PROBLEM.npz OUT.npz [--time] CASE
    ...` computes them on the backend of $KERAS_BACKEND."""
    command, *rest = argv
    if command == "problems":
        write_problems(rest[0], rest[1:])
    elif command == "compute":
        names = [n for n in rest[2:] if n != "--time"]
        compute_all(rest[0], rest[1], names, timed="--time" in rest)
    else:
        raise SystemExit(f"unknown command {command!r}")
    print(f"{command}: done on {keras.backend.backend()}")


ALL_PARITY = NAMES + ["Seq2Seq"]


if __name__ == "__main__":
    main(sys.argv[1:])
