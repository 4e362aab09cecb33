"""BahdanauAttention and AttentiveDecoder: equations, masks, shared checks."""

import functools

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_seqmem
import layer_checks
import references

DQ, DK, DV, A = 3, 4, 5, 6  # query, key, value features; attention units
DX, U = 3, 4  # decoder input features, decoder units


def _weights(layer):
    return {w.name: keras.ops.convert_to_numpy(w).astype("float64")
            for w in layer.weights}


def _randomise(layer, seed=0, scale=0.7):
    rng = np.random.default_rng(seed)
    layer.set_weights([scale * rng.standard_normal(tuple(w.shape))
                       + (1.0 if w.name == "score_gain" else 0.0)
                       for w in layer.weights])


# --- BahdanauAttention against its equations -----------------------------


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("query_steps", [None, 3])
@pytest.mark.parametrize("normalize", [False, True])
def test_attention_matches_numpy(normalize, query_steps, masked):
    rng = np.random.default_rng(1)
    batch, steps = 3, 6
    qshape = (batch, DQ) if query_steps is None else (batch, query_steps, DQ)
    query = rng.standard_normal(qshape)
    keys = rng.standard_normal((batch, steps, DK))
    values = rng.standard_normal((batch, steps, DV))
    mask = None
    if masked:
        mask = np.arange(steps)[None, :] < np.array([[6], [2], [4]])
    layer = keras_seqmem.BahdanauAttention(A, normalize=normalize,
                                           dtype="float64")
    layer([query, values, keys])
    _randomise(layer)
    context, alpha = layer([query, values, keys], mask=[None, mask],
                           return_attention_scores=True)
    want_context, want_alpha = references.bahdanau_attention(
        query, keys, values, _weights(layer), mask)
    np.testing.assert_allclose(alpha, want_alpha, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(context, want_context, rtol=1e-10, atol=1e-14)
    if masked:
        assert np.all(keras.ops.convert_to_numpy(alpha)[1, ..., 2:] == 0.0)


@pytest.mark.parametrize("normalize", [False, True])
def test_attention_gradients_match_finite_differences(normalize):
    rng = np.random.default_rng(2)
    query = rng.standard_normal((2, DQ))
    keys = rng.standard_normal((2, 5, DK))
    values = rng.standard_normal((2, 5, DV))
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], bool)
    probe = rng.standard_normal((2, DV))
    layer = keras_seqmem.BahdanauAttention(A, normalize=normalize,
                                           dtype="float64")
    layer([query, values, keys])
    _randomise(layer, seed=3)
    inputs = [tf.Variable(a) for a in (query, values, keys)]
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(inputs, mask=[None, mask]) * probe)
    variables = layer.trainable_weights
    grads = tape.gradient(loss, [v.value for v in variables] + inputs)
    raw = _weights(layer)
    arrays = {"query": query.copy(), "values": values.copy(),
              "keys": keys.copy()}

    def reference_loss():
        context, _ = references.bahdanau_attention(
            arrays["query"], arrays["keys"], arrays["values"], raw, mask)
        return np.sum(context * probe)

    for variable, grad in zip(variables, grads):
        np.testing.assert_allclose(
            grad, references.numeric_grad(reference_loss, raw[variable.name]),
            rtol=1e-5, atol=1e-8, err_msg=variable.name)
    for name, grad in zip(("query", "values", "keys"), grads[len(variables):]):
        np.testing.assert_allclose(
            grad, references.numeric_grad(reference_loss, arrays[name]),
            rtol=1e-5, atol=1e-8, err_msg=name)


def test_fully_masked_memory_gives_zero_context_and_finite_gradients():
    rng = np.random.default_rng(3)
    query = tf.Variable(rng.standard_normal((2, DQ)).astype("float32"))
    values = tf.Variable(rng.standard_normal((2, 4, DV)).astype("float32"))
    mask = np.array([[True, True, False, False], [False] * 4])
    layer = keras_seqmem.BahdanauAttention(A, normalize=True)
    with tf.GradientTape() as tape:
        context, alpha = layer([query, values], mask=[None, mask],
                               return_attention_scores=True)
        loss = tf.reduce_sum(context)
    grads = tape.gradient(loss, layer.trainable_weights + [query, values])
    np.testing.assert_array_equal(alpha[1], np.zeros(4))
    np.testing.assert_array_equal(context[1], np.zeros(DV))
    np.testing.assert_array_equal(alpha[0, 2:], np.zeros(2))
    np.testing.assert_allclose(np.sum(alpha[0]), 1.0, rtol=1e-6)
    assert all(np.all(np.isfinite(g)) for g in grads)
    # Nothing flows into the masked values.
    np.testing.assert_array_equal(grads[-1][1], np.zeros((4, DV)))


def test_masked_positions_do_not_matter():
    rng = np.random.default_rng(4)
    query = rng.standard_normal((2, 3, DQ)).astype("float32")
    values = rng.standard_normal((2, 6, DV)).astype("float32")
    mask = np.arange(6)[None, :] < np.array([[6], [3]])
    layer = keras_seqmem.BahdanauAttention(A)
    context = layer([query, values], mask=[None, mask])
    garbage = np.where(mask[..., None], values, 1e4).astype("float32")
    np.testing.assert_allclose(
        layer([query, garbage], mask=[None, mask]), context, atol=1e-6)
    alone = layer([query[1:], values[1:, :3]])
    np.testing.assert_allclose(context[1:], alone, atol=1e-6)


def test_query_mask_zeroes_context_and_is_propagated():
    rng = np.random.default_rng(5)
    query = rng.standard_normal((2, 4, DQ)).astype("float32")
    values = rng.standard_normal((2, 6, DV)).astype("float32")
    query_mask = np.array([[1, 1, 1, 0], [1, 0, 0, 0]], bool)
    layer = keras_seqmem.BahdanauAttention(A)
    context = keras.ops.convert_to_numpy(
        layer([query, values], mask=[query_mask, None]))
    np.testing.assert_array_equal(context[~query_mask], 0.0)
    assert np.all(np.abs(context[query_mask]) > 0)
    np.testing.assert_array_equal(
        layer.compute_mask([query, values], [query_mask, None]), query_mask)
    # Through Keras masking in a Functional model.
    ids = keras.Input((None,), dtype="int32")
    memory = keras.Input((None, DV))
    q = keras.layers.Embedding(9, DQ, mask_zero=True)(ids)
    model = keras.Model([ids, memory], layer([q, memory]))
    out = model([np.array([[3, 4, 0, 0]]), values[:1]])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(out)[0, 2:], 0)


def test_keys_are_projected_once_and_reused():
    """`attend` on `project_keys` equals the call, step by step."""
    rng = np.random.default_rng(6)
    query = rng.standard_normal((2, 5, DQ)).astype("float32")
    values = rng.standard_normal((2, 7, DV)).astype("float32")
    keys = rng.standard_normal((2, 7, DK)).astype("float32")
    layer = keras_seqmem.BahdanauAttention(A, normalize=True)
    full, alpha = layer([query, values, keys], return_attention_scores=True)
    processed = layer.project_keys(keys)
    assert tuple(processed.shape) == (2, 7, A)
    for t in range(5):
        context, weights = layer.attend(query[:, t], processed, values)
        np.testing.assert_allclose(context, full[:, t], atol=1e-5)
        np.testing.assert_allclose(weights, alpha[:, t], atol=1e-6)


def test_keys_default_to_values():
    rng = np.random.default_rng(7)
    query = rng.standard_normal((2, DQ)).astype("float32")
    values = rng.standard_normal((2, 4, DV)).astype("float32")
    layer = keras_seqmem.BahdanauAttention(A)
    np.testing.assert_array_equal(layer([query, values]),
                                  layer([query, values, values]))


def test_attention_weight_names_and_shapes():
    layer = keras_seqmem.BahdanauAttention(A, normalize=True)
    layer([np.zeros((1, DQ)), np.zeros((1, 2, DV)), np.zeros((1, 2, DK))])
    shapes = {w.name: tuple(w.shape) for w in layer.weights}
    assert shapes == {"query_kernel": (DQ, A), "key_kernel": (DK, A),
                      "score_kernel": (A,), "score_gain": (),
                      "score_bias": (A,)}
    np.testing.assert_allclose(layer.score_gain.numpy(), (1 / A) ** 0.5)
    plain = keras_seqmem.BahdanauAttention(A)
    plain([np.zeros((1, DQ)), np.zeros((1, 2, DV))])
    assert [w.name for w in plain.weights] == [
        "query_kernel", "key_kernel", "score_kernel"]


def test_attention_dropout_only_in_training():
    rng = np.random.default_rng(8)
    query = rng.standard_normal((4, DQ)).astype("float32")
    values = rng.standard_normal((4, 9, DV)).astype("float32")
    layer = keras_seqmem.BahdanauAttention(A, dropout=0.5)
    _, infer = layer([query, values], return_attention_scores=True)
    _, train = layer([query, values], return_attention_scores=True,
                     training=True)
    np.testing.assert_allclose(np.sum(infer, -1), 1.0, rtol=1e-6)
    assert np.any(keras.ops.convert_to_numpy(train) == 0.0)


@pytest.mark.parametrize("inputs, fragment", [
    (lambda: [np.zeros((2, 3, 4, DQ)), np.zeros((2, 5, DV))], "query"),
    (lambda: [np.zeros((2, DQ)), np.zeros((2, DV))], "value"),
    (lambda: [np.zeros((2, DQ)), np.zeros((2, 5, DV)), np.zeros((2, 4, DK))],
     "same number of memory steps"),
    (lambda: [np.zeros((2, DQ))], "[query, value]"),
])
def test_attention_bad_inputs(inputs, fragment):
    layer = keras_seqmem.BahdanauAttention(A, name="att")
    with pytest.raises(ValueError, match="att") as info:
        layer(inputs())
    assert fragment in str(info.value)


@pytest.mark.parametrize("kwargs, argument", [
    (dict(units=0), "units"),
    (dict(units=-3), "units"),
    (dict(units=4, normalize="yes"), "normalize"),
    (dict(units=4, dropout=1.0), "dropout"),
])
def test_attention_bad_hyperparameters(kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        keras_seqmem.BahdanauAttention(**kwargs)


# --- AttentiveDecoder against the RNNsearch loop ------------------------------


CELLS = {
    "lstm": (keras.layers.LSTMCell, references.lstm_step, 2),
    "simple_rnn": (keras.layers.SimpleRNNCell, references.simple_rnn_step, 1),
    "peephole_lstm": (keras_seqmem.PeepholeLSTMCell,
                      references.peephole_lstm_step, 2),
}


def _decoder_data(seed=1, batch=3, target_steps=5, source_steps=6):
    rng = np.random.default_rng(seed)
    targets = rng.standard_normal((batch, target_steps, DX))
    memory = rng.standard_normal((batch, source_steps, DV))
    target_mask = np.arange(target_steps)[None, :] < np.array(
        [[5], [3], [4]])[:batch]
    memory_mask = np.arange(source_steps)[None, :] < np.array(
        [[6], [2], [5]])[:batch]
    return rng, targets, memory, target_mask, memory_mask


@pytest.mark.parametrize("output_context", [True, False])
@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("kind", sorted(CELLS))
def test_decoder_matches_numpy(kind, normalize, output_context):
    cell_class, step, n_states = CELLS[kind]
    rng, targets, memory, target_mask, memory_mask = _decoder_data()
    decoder = keras_seqmem.AttentiveDecoder(
        cell_class(U, dtype="float64"),
        attention=keras_seqmem.BahdanauAttention(A, normalize=normalize,
                                                 dtype="float64"),
        output_context=output_context, return_alignments=True,
        return_state=True, dtype="float64")
    decoder([targets, memory])
    _randomise(decoder.cell, seed=2)
    _randomise(decoder.attention, seed=3)
    initial = [0.5 * rng.standard_normal((3, U)) for _ in range(n_states)]
    outputs, alignments, *states = decoder(
        [targets, memory], mask=[target_mask, memory_mask],
        initial_state=initial)
    want, want_alignments, want_states = references.attentive_decoder(
        step, targets, memory, initial, _weights(decoder.cell),
        _weights(decoder.attention), target_mask, memory_mask,
        output_context)
    np.testing.assert_allclose(outputs, want, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(alignments, want_alignments, rtol=1e-10,
                               atol=1e-13)
    for got, expected in zip(states, want_states):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-13)
    alignments = keras.ops.convert_to_numpy(alignments)
    # Alignments: distributions over the real source positions, zero on
    # padded target steps.
    sums = alignments.sum(-1)
    np.testing.assert_allclose(sums[target_mask], 1.0, rtol=1e-12)
    np.testing.assert_array_equal(sums[~target_mask], 0.0)
    np.testing.assert_array_equal(alignments[1, :, 2:], 0.0)


def test_decoder_without_attention_is_cho_encoder_decoder():
    rng, targets, _, target_mask, _ = _decoder_data(seed=4)
    context = rng.standard_normal((3, DV))
    decoder = keras_seqmem.AttentiveDecoder(
        keras.layers.GRUCell(U, dtype="float64"), attention=None,
        dtype="float64")
    outputs = decoder([targets, context], mask=[target_mask, None])

    def gru_step(x, states, weights):  # keras GRUCell, reset_after=True
        (h,) = states
        W, Uw, b = weights["kernel"], weights["recurrent_kernel"], \
            weights["bias"]
        xz, xr, xh = np.split(x @ W + b[0], 3, axis=-1)
        hz, hr, hh = np.split(h @ Uw + b[1], 3, axis=-1)
        z, r = references.sigmoid(xz + hz), references.sigmoid(xr + hr)
        new = z * h + (1 - z) * np.tanh(xh + r * hh)
        return new, (new,)

    want, alignments, _ = references.attentive_decoder(
        gru_step, targets, context, [np.zeros((3, U))],
        _weights(decoder.cell), None, target_mask)
    assert alignments is None
    np.testing.assert_allclose(outputs, want, rtol=1e-10, atol=1e-13)


def test_decoder_gradients_match_finite_differences():
    rng, targets, memory, target_mask, memory_mask = _decoder_data(
        seed=5, batch=2, target_steps=3, source_steps=4)
    decoder = keras_seqmem.AttentiveDecoder(
        keras.layers.SimpleRNNCell(3, dtype="float64"),
        attention=keras_seqmem.BahdanauAttention(2, normalize=True,
                                                 dtype="float64"),
        dtype="float64")
    decoder([targets, memory])
    _randomise(decoder.cell, seed=6)
    _randomise(decoder.attention, seed=7)
    probe = rng.standard_normal((2, 3, 3 + DV))
    inputs = [tf.Variable(targets), tf.Variable(memory)]
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(
            decoder(inputs, mask=[target_mask, memory_mask]) * probe)
    variables = decoder.trainable_weights
    grads = tape.gradient(loss, [v.value for v in variables] + inputs)
    cell_w, att_w = _weights(decoder.cell), _weights(decoder.attention)
    arrays = {"targets": targets.copy(), "memory": memory.copy()}

    def reference_loss():
        out, _, _ = references.attentive_decoder(
            references.simple_rnn_step, arrays["targets"], arrays["memory"],
            [np.zeros((2, 3))], cell_w, att_w, target_mask, memory_mask)
        return np.sum(out * probe)

    for variable, grad in zip(variables, grads):
        owner = att_w if variable.name in att_w else cell_w
        np.testing.assert_allclose(
            grad, references.numeric_grad(reference_loss, owner[variable.name]),
            rtol=1e-5, atol=1e-8, err_msg=variable.name)
    for name, grad in zip(("targets", "memory"), grads[len(variables):]):
        np.testing.assert_allclose(
            grad, references.numeric_grad(reference_loss, arrays[name]),
            rtol=1e-5, atol=1e-8, err_msg=name)


@pytest.mark.parametrize("cell", [
    lambda: keras.layers.LSTMCell(U, dropout=0.2, recurrent_dropout=0.2),
    lambda: keras.layers.GRUCell(U),
    lambda: keras.layers.SimpleRNNCell(U),
    lambda: keras_seqmem.PeepholeLSTMCell(U, dropout=0.2),
    lambda: keras_seqmem.CoupledLSTMCell(U),
    lambda: keras_seqmem.LeakyRNNCell(U, gamma_range=(1, 10)),
], ids=["LSTMCell", "GRUCell", "SimpleRNNCell", "PeepholeLSTMCell",
        "CoupledLSTMCell", "LeakyRNNCell"])
def test_decoder_runs_any_cell(cell):
    _, targets, memory, target_mask, memory_mask = _decoder_data(seed=8)
    decoder = keras_seqmem.AttentiveDecoder(cell(), attention=A,
                                            return_alignments=True)
    outputs, alignments = decoder([targets, memory],
                                  mask=[target_mask, memory_mask],
                                  training=True)
    assert tuple(outputs.shape) == (3, 5, U + DV)
    assert tuple(alignments.shape) == (3, 5, 6)
    assert np.all(np.isfinite(outputs))


def test_decoder_step_by_step_equals_sequence():
    """`step` (what decoding uses) and `call` (what training uses) agree."""
    _, targets, memory, _, memory_mask = _decoder_data(seed=9)
    targets, memory = targets.astype("float32"), memory.astype("float32")
    decoder = keras_seqmem.AttentiveDecoder(keras.layers.LSTMCell(U),
                                            attention=A,
                                            return_alignments=True)
    outputs, alignments = decoder([targets, memory], mask=[None, memory_mask])
    prepared = decoder.prepare_memory(memory, memory_mask)
    states = decoder.get_initial_state(3)
    for t in range(targets.shape[1]):
        output, states, alignment = decoder.step(targets[:, t], states,
                                                 prepared)
        np.testing.assert_allclose(output, outputs[:, t], atol=1e-6)
        np.testing.assert_allclose(alignment, alignments[:, t], atol=1e-6)


def test_decoder_return_sequences_false_and_masks():
    _, targets, memory, target_mask, memory_mask = _decoder_data(seed=10)
    decoder = keras_seqmem.AttentiveDecoder(keras.layers.GRUCell(U),
                                            attention=A)
    full = decoder([targets, memory], mask=[target_mask, memory_mask])
    decoder.return_sequences = False
    last = decoder([targets, memory], mask=[target_mask, memory_mask])
    lengths = target_mask.sum(1)
    for b, n in enumerate(lengths):
        np.testing.assert_allclose(last[b], full[b, n - 1], atol=1e-6)
    assert decoder.compute_mask([targets, memory], [target_mask, None]) is None


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(cell="lstm"), "`cell`"),
    (dict(cell=keras.layers.LSTMCell(2), attention=0), "`attention`"),
    (dict(cell=keras.layers.LSTMCell(2), attention=keras.layers.Dense(2)),
     "`attention`"),
    (dict(cell=keras.layers.LSTMCell(2), return_alignments=True),
     "return_alignments"),
])
def test_decoder_bad_arguments(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        keras_seqmem.AttentiveDecoder(**kwargs)


def test_decoder_bad_initial_state():
    _, targets, memory, _, _ = _decoder_data(seed=11)
    decoder = keras_seqmem.AttentiveDecoder(keras.layers.LSTMCell(U),
                                            attention=A, name="dec")
    with pytest.raises(ValueError, match="'dec'.*expected 2 initial state"):
        decoder([targets, memory], initial_state=[np.zeros((3, U))])


# --- the shared checks ------------------------------------------------------


def _check_attention_masking(case):
    """Padded memory positions change nothing: equals the unpadded run."""
    layer = case.make_layer()
    query, values = case.sample(batch=3, time=7, seed=6)
    lengths = np.array([7, 4, 1])
    mask = np.arange(7)[None, :] < lengths[:, None]
    padded = np.where(mask[..., None], values, 0.0).astype("float32")
    masked = keras.ops.convert_to_numpy(layer([query, padded],
                                              mask=[None, mask]))
    via_masking = keras.ops.convert_to_numpy(
        layer([query, keras.layers.Masking(0.0)(padded)]))
    np.testing.assert_allclose(via_masking, masked, atol=1e-6)
    for b, n in enumerate(lengths):
        alone = keras.ops.convert_to_numpy(
            layer([query[b:b + 1], values[b:b + 1, :n]]))[0]
        np.testing.assert_allclose(masked[b], alone, atol=1e-5)
    unmasked = keras.ops.convert_to_numpy(layer([query, padded]))
    assert not np.allclose(unmasked[1:], masked[1:], atol=1e-4)


def _check_decoder_masking(case):
    """Padded source positions and padded target steps change nothing."""
    layer = case.make_layer()
    targets, memory = case.sample(batch=3, time=6, seed=7)
    target_lengths, memory_lengths = np.array([6, 3, 1]), np.array([6, 2, 4])
    target_mask = np.arange(6)[None, :] < target_lengths[:, None]
    memory_mask = np.arange(6)[None, :] < memory_lengths[:, None]
    out = keras.ops.convert_to_numpy(
        layer([targets, memory], mask=[target_mask, memory_mask]))
    for b in range(3):
        n, m = target_lengths[b], memory_lengths[b]
        alone = keras.ops.convert_to_numpy(
            layer([targets[b:b + 1, :n], memory[b:b + 1, :m]]))[0]
        np.testing.assert_allclose(out[b, :n], alone, atol=1e-5)
        np.testing.assert_array_equal(out[b, n:], 0.0)
    # Through Keras masking (Masking layers on both inputs).
    t_in, m_in = keras.Input((None, DX)), keras.Input((None, DV))
    model = keras.Model([t_in, m_in], layer([keras.layers.Masking(0.0)(t_in),
                                             keras.layers.Masking(0.0)(m_in)]))
    zeroed_t = np.where(target_mask[..., None], targets, 0.0)
    zeroed_m = np.where(memory_mask[..., None], memory, 0.0)
    np.testing.assert_allclose(model([zeroed_t, zeroed_m]), out, atol=1e-6)


def _bad_rank_attention(case):
    query, values = case.sample()
    return [query, values[:, 0]]


def _bad_feature_attention(case):
    query, values = case.sample()
    return [np.concatenate([query, query[..., :1]], -1), values]


def _bad_rank_decoder(case):
    targets, memory = case.sample()
    return [targets[:, 0], memory]


def _bad_feature_decoder(case):
    targets, memory = case.sample()
    return [targets, np.concatenate([memory, memory[..., :1]], -1)]


def _attention_case(name, query_shape, **kwargs):
    return layer_checks.LayerCase(
        name=name,
        make_layer=lambda **o: keras_seqmem.BahdanauAttention(
            A, **{**kwargs, **o}),
        input_shapes=[query_shape, (None, DV)],
        check_masking=_check_attention_masking,
        bad_rank_input=_bad_rank_attention,
        bad_feature_input=_bad_feature_attention,
    )


def _make_decoder(cell_class, normalize=False, **overrides):
    return keras_seqmem.AttentiveDecoder(
        cell_class(U, **overrides),
        attention=keras_seqmem.BahdanauAttention(A, normalize=normalize,
                                                 **overrides),
        **overrides)


CASES = [
    _attention_case("Bahdanau-step", (DQ,)),
    _attention_case("Bahdanau-seq-normalize", (None, DQ), normalize=True),
] + [
    layer_checks.LayerCase(
        name=f"AttentiveDecoder-{name}",
        make_layer=functools.partial(_make_decoder, cell_class, **kwargs),
        input_shapes=[(None, DX), (None, DV)],
        check_masking=_check_decoder_masking,
        bad_rank_input=_bad_rank_decoder,
        bad_feature_input=_bad_feature_decoder,
    )
    for name, cell_class, kwargs in [
        ("LSTMCell", keras.layers.LSTMCell, {}),
        ("PeepholeLSTMCell-normalize", keras_seqmem.PeepholeLSTMCell,
         dict(normalize=True)),
    ]
]


@pytest.mark.parametrize("check", layer_checks.SHARED_CHECKS,
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_shared_layer_checks(case, check, tmp_path):
    check(case, tmp_path)
