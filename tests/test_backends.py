"""Every public layer, cell and model on the active Keras backend.

Backend-neutral: runs under whatever `KERAS_BACKEND` is set. The default
run (TensorFlow) runs it directly, and `tests/test_jax_backend.py` runs it
again in a subprocess under `KERAS_BACKEND=jax`.

* every case of `backend_utils.CASES` (each layer, each cell in
  `keras.layers.RNN`, `keras_seqmem.RNN` over stacked cells) trains with
  `compile(jit_compile=True)` (finite loss, its weights move) and predicts;
* `Seq2Seq` trains, predicts, and decodes greedily and with a beam;
* `ACTRNN`'s ponder cost is in `model.losses` and in the training loss;
* the shared layer checks (`layer_checks.SHARED_CHECKS`) on one
  configuration of every layer, on backends other than TensorFlow (on
  TensorFlow the family test files run them on every configuration).
"""

import keras
import numpy as np
import pytest

import backend_utils as bu
import keras_seqmem
import layer_checks

BACKEND = keras.backend.backend()


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _weights(layer):
    return [_np(w) for w in layer.trainable_weights]


# --- every layer trains under XLA and predicts ----------------------------------


def _train_model(case):
    """`build_model`, with a Dense on the first input of a weightless layer
    (KeyValueMemory), so that training has something to move."""
    model, layer = case.build_model()
    if layer.trainable_weights:
        return model, layer
    inputs = [keras.Input(s) for s in case.input_shapes]
    projected = [keras.layers.Dense(case.input_shapes[0][-1])(inputs[0])]
    outputs = layer(bu.feed(projected + inputs[1:]))
    return keras.Model(bu.feed(inputs), outputs), layer


@pytest.mark.parametrize("name", bu.NAMES)
def test_trains_under_jit_and_predicts(name):
    """fit (2 epochs of 2 batches, jit) gives a finite loss and moves the
    layer's weights; predict (compiled) gives finite outputs of the right
    shape, which training changed. (No eager calls: on JAX each one of a
    loop compiles it again.)"""
    case = bu.CASES[name]
    keras.utils.set_random_seed(0)
    model, layer = _train_model(case)
    x = bu.feed(case.inputs(0, batch=8))
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse",
                  jit_compile=True)
    first = model.predict(x, batch_size=4, verbose=0)
    assert first.shape[0] == 8 and np.all(np.isfinite(first))
    y = np.random.default_rng(1).standard_normal(first.shape).astype(
        "float32")
    before, layer_before = _weights(model), _weights(layer)
    history = model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    assert model.jit_compile is True, "XLA was turned off"
    losses = history.history["loss"]
    assert len(losses) == 2 and np.all(np.isfinite(losses)), losses
    after = _weights(model)
    assert all(np.all(np.isfinite(w)) for w in after)
    assert any(not np.array_equal(a, b) for a, b in zip(before, after))
    if layer_before:  # the layer's own weights moved, not just a Dense's
        assert any(not np.array_equal(a, b)
                   for a, b in zip(layer_before, _weights(layer)))
    predicted = model.predict(x, batch_size=4, verbose=0)
    assert predicted.shape == first.shape
    assert np.all(np.isfinite(predicted))
    assert not np.allclose(predicted, first), "training changed nothing"


def test_actrnn_ponder_cost_in_model_losses_and_training_loss():
    """The ponder cost `τ · mean_b Σ_t (N(t) + R(t))` is the model's one
    added loss, is part of the loss `fit` / `evaluate` minimise (jit), and
    its gradient moves the halting unit."""
    case = bu.CASES["ACTRNN"]
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, bu.D))
    layer = case.make()  # return_ponder=True
    output, steps, remainders = layer(inputs)
    model = keras.Model(inputs, [output, steps, remainders])
    train = keras.Model(inputs, output)
    (x,) = case.inputs(0, batch=8)
    out, steps, remainders = (_np(t) for t in model(x))
    assert np.all((steps >= 1) & (steps <= 4))
    tau = layer.cell.time_penalty
    ponder = tau * np.mean(np.sum(steps + remainders, axis=1))
    assert len(model.losses) == 1
    np.testing.assert_allclose(_np(model.losses[0]), ponder, rtol=1e-5)
    y = np.zeros(out.shape, "float32")
    train.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse",
                  jit_compile=True)
    evaluated = train.evaluate(x, y, batch_size=8, verbose=0)
    np.testing.assert_allclose(evaluated, np.mean(out ** 2) + ponder,
                               rtol=1e-4)
    halting = [w for w in layer.trainable_weights
               if w.path.endswith("halting_kernel")]
    before = _np(halting[0])
    history = train.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert not np.array_equal(before, _np(halting[0]))


# --- the recurrent layers' written-out gradient ---------------------------------

# The layers whose training runs the fused loop (the one-gate ones train
# on the step-by-step path: SequenceRNN.uses_fused_loop).
FUSED = {
    "PeepholeLSTM": dict(),
    "CoupledLSTM": dict(use_peepholes=True),
    "LayerNormLSTM": dict(),
}


def _grad(layer, x, probes, training):
    """d(Σ_i outputs_i ⊙ probe_i)/d(trainable weights, x), stateless."""
    weight_grads, x_grad = bu.stateless_gradients(
        layer, x,
        lambda outs: sum(keras.ops.sum(o * p) for o, p in zip(outs, probes)),
        training)
    return weight_grads + [x_grad]


@pytest.mark.parametrize("name", sorted(FUSED))
def test_fused_gradient_equals_the_cell_loops(name):
    """In training the recurrent layers' fast path carries its own backward
    pass (keras_seqmem._fused); with dropout on the input and the state,
    `go_backwards` and every output (sequence and final states), its
    gradients equal the backend's gradient of the cell loop
    (`fast_path=False`) to 1e-5, on this backend."""
    cls = getattr(keras_seqmem, name)
    kwargs = dict(FUSED[name], return_sequences=True, return_state=True,
                  go_backwards=True, dropout=0.3, recurrent_dropout=0.3,
                  seed=5)
    fused = cls(4, **kwargs)
    loop = cls(4, fast_path=False, **kwargs)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 6, 5)).astype("float32")
    fused.build(x.shape)
    loop.build(x.shape)
    loop.set_weights(fused.get_weights())
    n_states = len(fused.cell.state_size) if isinstance(
        fused.cell.state_size, (list, tuple)) else 1
    probes = [rng.standard_normal((3, 6, 4)).astype("float32")] + [
        rng.standard_normal((3, 4)).astype("float32")
        for _ in range(n_states)]
    got = _grad(fused, x, probes, training=True)
    want = _grad(loop, x, probes, training=True)
    names = [v.name for v in fused.trainable_variables] + ["x"]
    assert len(got) == len(want) == len(names)
    for name_, a, b in zip(names, got, want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5, err_msg=name_)
    # The masks were drawn: the gradient differs from inference's.
    assert not np.allclose(got[-1], _grad(fused, x, probes, False)[-1],
                           atol=1e-3)


# --- Seq2Seq ------------------------------------------------------------------


def test_seq2seq_trains_under_jit_predicts_and_decodes():
    keras.utils.set_random_seed(0)
    model = bu.make_seq2seq()
    source, decoder_inputs, targets = bu.seq2seq_batch(0, batch=8)
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, ignore_class=0),
        jit_compile=True)
    model.build()
    before = _weights(model)
    history = model.fit((source, decoder_inputs), targets, epochs=2,
                        batch_size=4, verbose=0)
    assert model.jit_compile is True
    assert np.all(np.isfinite(history.history["loss"]))
    assert any(not np.array_equal(a, b)
               for a, b in zip(before, _weights(model)))
    logits = model.predict((source, decoder_inputs), batch_size=4, verbose=0)
    assert logits.shape == (8, 4, bu.S2S_VOCAB)
    assert np.all(np.isfinite(logits))

    length = bu.S2S_MAX_LENGTH
    greedy = model.generate(source, method="greedy")
    assert greedy.ids.shape == (8, length)
    assert greedy.scores.shape == greedy.lengths.shape == (8,)
    # Greedy = the argmax of the teacher-forced logits fed its own output
    # (padding and start never predicted), up to and including `end`.
    fed = np.concatenate([np.ones((8, 1), "int32"), greedy.ids[:, :-1]], 1)
    fed = np.where(fed == 0, 2, fed)  # after the end: anything but padding
    forced = _np(model((source, fed)))
    forced[..., :2] = -np.inf  # pad 0, start 1
    for b in range(8):
        n = greedy.lengths[b]
        np.testing.assert_array_equal(
            greedy.ids[b, :n], np.argmax(forced[b, :n], -1))
        assert np.all(greedy.ids[b, n:] == 0)

    beam = model.generate(source, method="beam", beam_width=3)
    assert beam.ids.shape == (8, 3, length)
    assert beam.scores.shape == (8, 3)
    assert np.all(np.diff(beam.scores, axis=1) <= 1e-6), "best first"
    assert np.all((beam.ids >= 0) & (beam.ids < bu.S2S_VOCAB))
    # A beam of one is greedy search.
    one = model.generate(source, method="beam", beam_width=1)
    np.testing.assert_array_equal(one.ids[:, 0], greedy.ids)
    np.testing.assert_allclose(one.scores[:, 0], greedy.scores, rtol=1e-5,
                               atol=1e-6)


# --- the shared layer checks -----------------------------------------------


def _shared_cases():
    """One configuration of each layer from the family test files (their
    masking checks and bad inputs included), plus keras_seqmem.RNN over
    stacked cells."""
    import test_act
    import test_attention
    import test_attention_mechanisms
    import test_esn
    import test_layernorm_rnn
    import test_memory
    import test_recurrent

    chosen = {
        test_recurrent: ["LeakyRNN-range-seq", "PeepholeLSTM-seq",
                         "CoupledLSTM-peepholes-seq",
                         "RNN(PeepholeLSTMCell)"],
        test_attention: ["Bahdanau-seq-normalize",
                         "AttentiveDecoder-PeepholeLSTMCell-normalize"],
        test_attention_mechanisms: [
            "Luong-step-scale-sparsemax", "LuongMonotonic-seq-parallel",
            "BahdanauMonotonic-seq-normalize-recursive"],
        test_layernorm_rnn: ["LayerNormLSTM-seq", "LayerNormSimpleRNN"],
        test_esn: ["LeakyRNN.echo_state-seq"],
        test_memory: ["KeyValueMemory", "MemN2N-adjacent-PE-TE-RN",
                      "KeyValueMemoryNetwork"],
        test_act: ["ACTRNN-lstm-seq", "RNN(ACT-gru)"],
    }
    cases = []
    for module, names in chosen.items():
        by_name = {c.name: c for c in module.CASES}
        cases += [by_name[n] for n in names]

    def stacked(**overrides):
        return keras_seqmem.RNN(
            [keras_seqmem.PeepholeLSTMCell(4, **overrides),
             keras_seqmem.LeakyRNNCell(4, gamma=2.0, **overrides)],
            return_sequences=True, **overrides)

    cases.append(layer_checks.sequence_case(
        "keras_seqmem.RNN(stacked)", stacked, 5, checks_rank=False))
    # Smaller NTMs than test_ntm.py's (XLA compiles the NTM step slowly).
    cases += [
        layer_checks.sequence_case(
            "NTM-lstm-seq",
            lambda **o: keras_seqmem.NTM(
                4, memory_size=4, word_size=3, units=3,
                memory_init="learned", return_sequences=True, **o),
            3, mixed_tolerance=3e-2),
        layer_checks.sequence_case(
            "RNN(NTMCell-dense)", _ntm_cell_in(keras.layers.RNN), 3,
            checks_rank=False, mixed_tolerance=3e-2),
    ]
    return cases


def _ntm_cell_in(rnn_class):
    def make(**overrides):
        cell = keras_seqmem.NTMCell(
            keras.layers.Dense(4, activation="relu",
                               dtype=overrides.get("dtype")),
            memory_size=4, word_size=3, units=3, memory_init="random",
            weighting_init="constant", seed=0, **overrides)
        return rnn_class(cell, **overrides)

    return make


# Keras' own JAX loop (keras.layers.RNN) repeats `states[0]` at a masked
# step, taking it for the previous output (keras/src/backend/jax/rnn.py,
# `output_tm1 = states[0]`); NTMCell's first state is not its output, so a
# masked keras.layers.RNN(NTMCell) fails there (shapes (4, 15) vs (4, 4)).
# keras_seqmem.RNN and NTM run our loop, which keeps the previous output.
_KERAS_JAX_MASKING = pytest.mark.xfail(
    strict=True, raises=ValueError,
    reason="keras.layers.RNN on JAX takes states[0] for the previous output "
           "at masked steps; NTMCell's first state is not its output (use "
           "keras_seqmem.RNN or NTM)")


def _shared_params():
    params = []
    for case in _shared_cases():
        for check in layer_checks.SHARED_CHECKS:
            marks = ()
            if (case.name == "RNN(NTMCell-dense)"
                    and check is layer_checks.check_masking):
                marks = (_KERAS_JAX_MASKING,)
            params.append(pytest.param(
                case, check, id=f"{case.name}-{check.__name__[6:]}",
                marks=marks))
    # The same cell under masking in keras_seqmem.RNN: our loop.
    params.append(pytest.param(
        layer_checks.sequence_case("keras_seqmem.RNN(NTMCell)",
                                   _ntm_cell_in(keras_seqmem.RNN), 3,
                                   checks_rank=False),
        layer_checks.check_masking, id="keras_seqmem.RNN(NTMCell)-masking"))
    return params


if BACKEND == "tensorflow":
    _SHARED = [pytest.param(
        None, None, id="on-tensorflow",
        marks=pytest.mark.skip(
            reason="on TensorFlow the family test files (test_recurrent.py, "
                   "test_attention.py, ...) run the shared checks on every "
                   "configuration"))]
else:
    _SHARED = _shared_params()


@pytest.mark.parametrize("case, check", _SHARED)
def test_shared_layer_checks(case, check, tmp_path):
    check(case, tmp_path)
