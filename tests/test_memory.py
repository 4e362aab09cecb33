"""KeyValueMemory, MemN2N, KeyValueMemoryNetwork: equations, masks, linear
start, random noise, shared checks."""

import functools

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_seqmem
import layer_checks
import references
from keras_seqmem.memory import memory_network

D, DV = 4, 3  # key/query features, value features
V, E = 13, 5  # vocabulary (id 0 = padding), embedding dimension


def _weights(layer):
    return {w.name: keras.ops.convert_to_numpy(w).astype("float64")
            for w in layer.weights}


def _story(seed=0, batch=3, slots=6, words=5, question_words=4):
    """Word ids with padded words, empty padding slots (also between real
    sentences) and one example whose story is a single sentence."""
    rng = np.random.default_rng(seed)
    story = rng.integers(1, V, (batch, slots, words))
    lengths = rng.integers(1, words + 1, (batch, slots))
    story[np.arange(words)[None, None, :] >= lengths[..., None]] = 0
    story[0, 2] = 0  # a gap between real sentences
    story[1, slots - 2:] = 0  # trailing padding
    story[-1, 1:] = 0  # one real sentence
    question = rng.integers(1, V, (batch, question_words))
    question[1, 2:] = 0
    return story.astype("int32"), question.astype("int32")


# --- KeyValueMemory ---------------------------------------------------------


@pytest.mark.parametrize("softmax_weight", [None, 0.0, 0.3])
@pytest.mark.parametrize("query_steps", [None, 3])
@pytest.mark.parametrize("masked", [False, True])
def test_key_value_memory_matches_numpy(masked, query_steps, softmax_weight):
    rng = np.random.default_rng(1)
    batch, slots = 3, 6
    qshape = (batch, D) if query_steps is None else (batch, query_steps, D)
    query = rng.standard_normal(qshape)
    keys = rng.standard_normal((batch, slots, D))
    values = rng.standard_normal((batch, slots, DV))
    mask = None
    if masked:
        mask = np.arange(slots)[None, :] < np.array([[6], [2], [4]])
    layer = keras_seqmem.KeyValueMemory(dtype="float64")
    kwargs = {} if softmax_weight is None else {
        "softmax_weight": softmax_weight}
    read, c = layer([query, keys, values], mask=[None, mask],
                    return_attention_scores=True, **kwargs)
    want_read, want_c = references.memory_read(
        query, keys, values, mask,
        1.0 if softmax_weight is None else softmax_weight)
    np.testing.assert_allclose(c, want_c, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(read, want_read, rtol=1e-12, atol=1e-14)
    if masked:
        assert np.all(keras.ops.convert_to_numpy(c)[1, ..., 2:] == 0.0)


def test_key_value_memory_gradients_match_finite_differences():
    rng = np.random.default_rng(2)
    arrays = {"query": rng.standard_normal((2, D)),
              "keys": rng.standard_normal((2, 5, D)),
              "values": rng.standard_normal((2, 5, DV))}
    mask = np.array([[1, 1, 1, 1, 1], [1, 0, 1, 0, 0]], bool)
    probe = rng.standard_normal((2, DV))
    layer = keras_seqmem.KeyValueMemory(dtype="float64")
    inputs = [tf.Variable(arrays[k]) for k in ("query", "keys", "values")]
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(inputs, mask=[None, mask]) * probe)
    grads = tape.gradient(loss, inputs)

    def reference_loss():
        read, _ = references.memory_read(arrays["query"], arrays["keys"],
                                         arrays["values"], mask)
        return np.sum(read * probe)

    for name, grad in zip(("query", "keys", "values"), grads):
        np.testing.assert_allclose(
            grad, references.numeric_grad(reference_loss, arrays[name]),
            rtol=1e-6, atol=1e-9, err_msg=name)
    # Nothing reaches the masked slots.
    np.testing.assert_array_equal(grads[1].numpy()[1, [1, 3, 4]], 0.0)
    np.testing.assert_array_equal(grads[2].numpy()[1, [1, 3, 4]], 0.0)


def test_fully_masked_memory_reads_zero_with_finite_gradients():
    rng = np.random.default_rng(3)
    query = tf.Variable(rng.standard_normal((2, 3, D)).astype("float32"))
    keys = tf.Variable(rng.standard_normal((2, 4, D)).astype("float32"))
    values = tf.Variable(rng.standard_normal((2, 4, DV)).astype("float32"))
    mask = np.array([[True, True, False, False], [False] * 4])
    layer = keras_seqmem.KeyValueMemory()
    with tf.GradientTape() as tape:
        read, c = layer([query, keys, values], mask=[None, mask],
                        return_attention_scores=True)
        loss = tf.reduce_sum(read)
    grads = tape.gradient(loss, [query, keys, values])
    np.testing.assert_array_equal(c[1], 0.0)
    np.testing.assert_array_equal(read[1], 0.0)
    np.testing.assert_array_equal(c[0, :, 2:], 0.0)
    np.testing.assert_allclose(np.sum(c[0], -1), 1.0, rtol=1e-6)
    assert all(np.all(np.isfinite(g)) for g in grads)


def test_key_value_memory_takes_keras_masks_per_input():
    rng = np.random.default_rng(4)
    query = rng.standard_normal((2, 2, D)).astype("float32")
    keys = rng.standard_normal((2, 5, D)).astype("float32")
    values = rng.standard_normal((2, 5, DV)).astype("float32")
    key_mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    value_mask = np.array([[1, 1, 1, 1, 1], [1, 1, 0, 1, 1]], bool)
    query_mask = np.array([[1, 0], [1, 1]], bool)
    layer = keras_seqmem.KeyValueMemory()
    read, c = layer([query, keys, values],
                    mask=[query_mask, key_mask, value_mask],
                    return_attention_scores=True)
    want, _ = references.memory_read(query, keys, values,
                                     key_mask & value_mask)
    want[0, 1] = 0.0  # the padded query step reads nothing
    np.testing.assert_allclose(read, want, atol=1e-6)
    # Through Keras' own mask propagation (Masking layers).
    q_in, k_in, v_in = (keras.Input((None, n)) for n in (D, D, DV))
    out = layer([keras.layers.Masking(0.0)(q_in),
                 keras.layers.Masking(0.0)(k_in), v_in])
    model = keras.Model([q_in, k_in, v_in], out)
    zeroed = [np.where(query_mask[..., None], query, 0.0),
              np.where(key_mask[..., None], keys, 0.0), values]
    want, _ = references.memory_read(zeroed[0], zeroed[1], values, key_mask)
    want[0, 1] = 0.0
    np.testing.assert_allclose(model(zeroed), want, atol=1e-6)
    assert layer.compute_mask([query, keys, values],
                              [query_mask, None, None]) is query_mask


def test_key_value_memory_values_default_to_keys():
    rng = np.random.default_rng(5)
    query, keys = rng.standard_normal((2, D)), rng.standard_normal((2, 3, D))
    layer = keras_seqmem.KeyValueMemory(dtype="float64")
    np.testing.assert_array_equal(layer([query, keys]),
                                  layer([query, keys, keys]))


def test_key_value_memory_dropout_only_in_training():
    rng = np.random.default_rng(6)
    data = [rng.standard_normal((4, D)), rng.standard_normal((4, 8, D)),
            rng.standard_normal((4, 8, DV))]
    layer = keras_seqmem.KeyValueMemory(dropout=0.5, dtype="float64")
    plain = keras_seqmem.KeyValueMemory(dtype="float64")
    np.testing.assert_array_equal(layer(data), plain(data))
    _, c = layer(data, training=True, return_attention_scores=True)
    assert np.any(keras.ops.convert_to_numpy(c) == 0.0)


@pytest.mark.parametrize("inputs, fragment", [
    ([np.zeros((2, D)), np.zeros((2, 5, D + 1))], "as many features"),
    ([np.zeros((2, D)), np.zeros((2, 5))], "expected keys of shape"),
    ([np.zeros((2, 3, 4, D)), np.zeros((2, 5, D))], "expected a query"),
    ([np.zeros((2, D)), np.zeros((2, 5, D)), np.zeros((2, 4, DV))],
     "same number of slots"),
    ([np.zeros((2, D))], "expected inputs"),
])
def test_key_value_memory_bad_inputs(inputs, fragment):
    with pytest.raises(ValueError, match=f"'kv'.*{fragment}"):
        keras_seqmem.KeyValueMemory(name="kv")(inputs)


def test_key_value_memory_bad_dropout():
    with pytest.raises(ValueError, match="'kv'.*`dropout`"):
        keras_seqmem.KeyValueMemory(dropout=1.0, name="kv")


# --- position encoding, temporal indices ----------------------------------


def test_position_encoding_is_the_papers_formula():
    # By hand, J = 2 words, d = 2: l_kj = (1 - j/J) - (k/d)(1 - 2j/J).
    np.testing.assert_allclose(
        memory_network.position_encoding(2, 2), [[0.5, 0.5], [0.5, 1.0]])
    for J, d in [(1, 1), (3, 5), (7, 20), (12, 50)]:
        np.testing.assert_allclose(memory_network.position_encoding(J, d),
                                   references.position_encoding(J, d),
                                   rtol=0, atol=1e-15)
    # The layer's in-graph encoding uses each sentence's own length J.
    rng = np.random.default_rng(7)
    embedded = rng.standard_normal((2, 3, 6, 4))
    token_mask = np.arange(6)[None, None, :] < np.array(
        [[6, 2, 0], [1, 4, 3]])[..., None]
    got = keras.ops.convert_to_numpy(memory_network.encode_sentences(
        embedded, token_mask, "position"))
    for b in range(2):
        for s in range(3):
            J = int(token_mask[b, s].sum())
            want = np.zeros(4) if J == 0 else np.sum(
                embedded[b, s, :J] * references.position_encoding(J, 4), 0)
            np.testing.assert_allclose(got[b, s], want, atol=1e-12)
    with pytest.raises(ValueError, match="sentence_length"):
        memory_network.position_encoding(0, 3)


def test_recency_counts_real_sentences_after_each_slot():
    mask = np.array([[1, 1, 0, 1, 0, 0], [1, 1, 1, 1, 1, 1]], bool)
    np.testing.assert_array_equal(
        memory_network.recency(mask), [[2, 1, 1, 0, 0, 0], [5, 4, 3, 2, 1, 0]])


def test_random_noise_inserts_blanks_and_keeps_the_order():
    slots = 40
    mask = np.ones((500, slots), bool)
    mask[:, 30:] = False  # 30 real sentences: up to ceil(3.0) = 3 blanks
    seed = keras.random.SeedGenerator(0)
    base = keras.ops.convert_to_numpy(memory_network.recency(mask))
    t = keras.ops.convert_to_numpy(
        memory_network.noisy_recency(mask, 0.1, seed))
    real = t[:, :30]
    shift = real - base[:, :30]
    assert np.all(shift >= 0) and np.all(shift <= 3)
    # Order kept: older sentences keep larger indices.
    assert np.all(np.diff(real, axis=1) < 0)
    # Blanks counts 0..3 all occur, and blank positions vary.
    assert set(np.unique(shift.max(axis=1))) == {0, 1, 2, 3}
    assert len({tuple(row) for row in shift}) > 50


# --- MemN2N against its equations -----------------------------------------


def _randomise(layer, seed=0, scale=0.5):
    rng = np.random.default_rng(seed)
    values = []
    for w in layer.weights:
        if w.name == "softmax_weight":
            values.append(np.asarray(keras.ops.convert_to_numpy(w)))
        else:
            values.append(scale * rng.standard_normal(tuple(w.shape)))
    layer.set_weights(values)


def _check_gradients(layer, inputs, reference, seed):
    """The layer's gradients of `Σ logits · probe` (probe ~ N(0, 1)) against
    finite differences of `reference(weights by name) -> logits`."""
    batch = inputs[0].shape[0]
    probe = np.random.default_rng(seed).standard_normal((batch, V))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(inputs) * probe)
    variables = layer.trainable_weights
    grads = tape.gradient(loss, [v.value for v in variables])
    raw = _weights(layer)

    def reference_loss():
        return np.sum(reference(raw) * probe)

    for variable, grad in zip(variables, grads):
        grad = tf.convert_to_tensor(grad).numpy()  # IndexedSlices -> dense
        np.testing.assert_allclose(
            grad, references.numeric_grad(reference_loss, raw[variable.name]),
            rtol=1e-5, atol=1e-8, err_msg=variable.name)


MEMN2N_VARIANTS = [
    dict(hops=1, weight_tying="adjacent", encoding="bow",
         temporal_encoding=False),
    dict(hops=3, weight_tying="adjacent", encoding="position",
         temporal_encoding=True),
    dict(hops=2, weight_tying="layerwise", encoding="bow",
         temporal_encoding=True),
    dict(hops=3, weight_tying="layerwise", encoding="position",
         temporal_encoding=False),
]


@pytest.mark.parametrize("variant", MEMN2N_VARIANTS, ids=lambda v: "-".join(
    str(x) for x in v.values()))
def test_memn2n_matches_numpy(variant):
    story, question = _story(seed=1)
    layer = keras_seqmem.MemN2N(V, E, memory_size=8, dtype="float64",
                                **variant)
    layer([story, question])
    _randomise(layer)
    logits, attention = layer([story, question], return_attention_scores=True)
    want_logits, want_attention = references.memn2n(
        story, question, _weights(layer), **variant)
    np.testing.assert_allclose(attention, want_attention, rtol=1e-10,
                               atol=1e-13)
    np.testing.assert_allclose(logits, want_logits, rtol=1e-10, atol=1e-12)
    # Padding slots get exactly zero weight, at every hop.
    empty = ~np.any(story != 0, axis=-1)
    assert np.all(keras.ops.convert_to_numpy(attention)[
        np.broadcast_to(empty[:, None, :], attention.shape)] == 0.0)


@pytest.mark.parametrize("weight_tying", ["adjacent", "layerwise"])
def test_memn2n_gradients_match_finite_differences(weight_tying):
    story, question = _story(seed=2, batch=2, slots=4, words=3)
    variant = dict(hops=2, weight_tying=weight_tying, encoding="position",
                   temporal_encoding=True)
    layer = keras_seqmem.MemN2N(V, 3, memory_size=5, dtype="float64",
                                **variant)
    layer([story, question])
    _randomise(layer, seed=3)
    _check_gradients(
        layer, [story, question],
        lambda raw: references.memn2n(story, question, raw, **variant)[0],
        seed=4)


@pytest.mark.parametrize("softmax_weight", [1.0, 0.3])
@pytest.mark.parametrize("variant", MEMN2N_VARIANTS[1:3], ids=lambda v: "-".join(
    str(x) for x in v.values()))
def test_memn2n_with_empty_slots_matches_numpy(variant, softmax_weight):
    """empty_slots="attend": the read is over a memory of memory_size slots
    whose unfilled ones are zero vectors (the reference NumPy builds that
    block literally), so the story's weights sum to Σe^α / (Σe^α + N − n)."""
    story, question = _story(seed=21)
    layer = keras_seqmem.MemN2N(V, E, memory_size=9, dtype="float64",
                                empty_slots="attend", **variant)
    layer([story, question])
    _randomise(layer, seed=22)
    layer.softmax_weight.assign(softmax_weight)
    logits, attention = layer([story, question], return_attention_scores=True)
    want_logits, want_attention = references.memn2n(
        story, question, _weights(layer), empty_slots_of=9, **variant)
    np.testing.assert_allclose(attention, want_attention, rtol=1e-10,
                               atol=1e-13)
    np.testing.assert_allclose(logits, want_logits, rtol=1e-10, atol=1e-12)
    if softmax_weight == 1.0:
        total = keras.ops.convert_to_numpy(attention).sum(-1)
        assert np.all(total < 1.0) and np.all(total > 0.0)
    # Not the masked read: the empty slots take part.
    masked = keras_seqmem.MemN2N(V, E, memory_size=9, dtype="float64",
                                 **variant)
    masked([story, question])
    masked.set_weights(layer.get_weights())
    assert not np.allclose(masked([story, question]), logits, atol=1e-6)


def test_memn2n_with_empty_slots_gradients_match_finite_differences():
    story, question = _story(seed=23, batch=2, slots=4, words=3)
    variant = dict(hops=2, weight_tying="adjacent", encoding="position",
                   temporal_encoding=True)
    layer = keras_seqmem.MemN2N(V, 3, memory_size=6, dtype="float64",
                                empty_slots="attend", **variant)
    layer([story, question])
    _randomise(layer, seed=24)
    _check_gradients(
        layer, [story, question],
        lambda raw: references.memn2n(story, question, raw, empty_slots_of=6,
                                      **variant)[0],
        seed=25)


def test_memn2n_with_empty_slots_reads_nothing_from_an_empty_story():
    """A story without sentences: every weight is on the empty slots, the
    read is zero (u passes through the hops unchanged), nothing is NaN."""
    story, question = _story(seed=26)
    story[1] = 0
    layer = keras_seqmem.MemN2N(V, E, hops=2, memory_size=8,
                                empty_slots="attend", temporal_encoding=False)
    with tf.GradientTape() as tape:
        logits, attention = layer([story, question],
                                  return_attention_scores=True)
        loss = tf.reduce_sum(logits)
    grads = tape.gradient(loss, layer.trainable_weights)
    np.testing.assert_array_equal(attention[1], 0.0)
    E0 = layer.embeddings.numpy()
    u = references.encode_sentence(question[1], E0[0], "position")
    np.testing.assert_allclose(logits[1], E0[2] @ u, rtol=1e-5, atol=1e-6)
    assert all(np.all(np.isfinite(tf.convert_to_tensor(g))) for g in grads)


def test_memn2n_linear_start_removes_the_softmax():
    story, question = _story(seed=5)
    variant = dict(hops=2, weight_tying="adjacent", encoding="position",
                   temporal_encoding=True)
    layer = keras_seqmem.MemN2N(V, E, memory_size=8, dtype="float64",
                                **variant)
    layer([story, question])
    _randomise(layer, seed=6)
    layer.softmax_weight.assign(0.0)
    logits, attention = layer([story, question], return_attention_scores=True)
    raw = _weights(layer)
    assert raw["softmax_weight"] == 0.0
    want_logits, want_attention = references.memn2n(story, question, raw,
                                                    **variant)
    np.testing.assert_allclose(logits, want_logits, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(attention, want_attention, rtol=1e-10,
                               atol=1e-13)
    # Linear: the weights are the raw scores, not a distribution.
    assert not np.allclose(np.sum(attention, -1), 1.0)


def test_memn2n_random_noise_only_in_training():
    story, question = _story(seed=7, slots=8)
    layer = keras_seqmem.MemN2N(V, E, memory_size=12, random_noise=0.5,
                                seed=1)
    plain = keras_seqmem.MemN2N(V, E, memory_size=12)
    layer([story, question])
    plain([story, question])
    plain.set_weights(layer.get_weights())
    np.testing.assert_array_equal(layer([story, question]),
                                  plain([story, question]))
    noisy = [keras.ops.convert_to_numpy(layer([story, question],
                                              training=True))
             for _ in range(5)]
    assert any(not np.allclose(n, plain([story, question])) for n in noisy)


def test_memn2n_padding_changes_nothing():
    story, question = _story(seed=8, slots=5, words=4)
    layer = keras_seqmem.MemN2N(V, E, memory_size=12, encoding="position")
    out = keras.ops.convert_to_numpy(layer([story, question]))
    # More padding words, more padding sentences at both ends and between.
    padded = np.zeros((3, 9, 7), "int32")
    padded[:, [1, 2, 4, 5, 7], :4] = story
    question_padded = np.pad(question, ((0, 0), (0, 3)))
    np.testing.assert_allclose(layer([padded, question_padded]), out,
                               atol=1e-6)


def test_linear_start_callback_switches_the_softmax_back_under_xla():
    story, question = _story(seed=9, batch=16, slots=6)
    answers = np.random.default_rng(10).integers(1, V, 16)
    inputs = [keras.Input((None, None), dtype="int32"),
              keras.Input((None,), dtype="int32")]
    layer = keras_seqmem.MemN2N(V, E, memory_size=8)
    model = keras.Model(inputs, layer(inputs))
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(
        from_logits=True), jit_compile=True)
    seen = []

    class Watch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            _, p = layer([story, question], return_attention_scores=True)
            seen.append(float(np.sum(p[0, 0])))

    linear_start = keras_seqmem.LinearStart(max_epochs=2, learning_rate=0.5)
    model.fit([story, question], answers, epochs=4, verbose=0,
              validation_data=([story, question], answers),
              callbacks=[linear_start, Watch()])
    assert linear_start.ended_at_epoch is not None
    assert linear_start.ended_at_epoch <= 1
    assert float(layer.softmax_weight.numpy()) == 1.0
    assert float(model.optimizer.learning_rate.numpy()) == 0.5
    # Linear at first (weights not summing to 1), a softmax at the end.
    assert abs(seen[0] - 1.0) > 1e-3
    np.testing.assert_allclose(seen[-1], 1.0, rtol=1e-5)
    # The compiled train step used the gate's current value: after the
    # switch, a compiled evaluation equals an eager one with the softmax on.
    assert model.jit_compile
    with pytest.raises(ValueError, match="val_loss"):
        model.fit([story, question], answers, epochs=1, verbose=0,
                  callbacks=[keras_seqmem.LinearStart()])
    x = keras.Input((4,))
    plain = keras.Model(x, keras.layers.Dense(3)(x))
    plain.compile("sgd", "mse")
    with pytest.raises(ValueError, match="MemN2N"):
        plain.fit(np.zeros((16, 4)), np.zeros((16, 3)), verbose=0,
                  callbacks=[keras_seqmem.LinearStart()])


def _linear_start_model(seed=11):
    story, question = _story(seed=seed, batch=8, slots=6)
    answers = np.random.default_rng(seed).integers(1, V, 8)
    inputs = [keras.Input((None, None), dtype="int32"),
              keras.Input((None,), dtype="int32")]
    layer = keras_seqmem.MemN2N(V, E, memory_size=8)
    model = keras.Model(inputs, layer(inputs))
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(
        from_logits=True))
    data = dict(x=[story, question], y=answers,
                validation_data=([story, question], answers), verbose=0)
    return model, layer, data


class _Gates(keras.callbacks.Callback):
    """The softmax gate and learning rate at the start of every epoch."""

    def __init__(self, layer):
        super().__init__()
        self.layer, self.seen = layer, []

    def on_epoch_begin(self, epoch, logs=None):
        self.seen.append(
            (float(keras.ops.convert_to_numpy(self.layer.softmax_weight)),
             float(keras.ops.convert_to_numpy(
                 self.model.optimizer.learning_rate))))


def test_linear_start_runs_once_per_model_not_once_per_fit():
    """A second fit with the same LinearStart leaves the softmax in once
    linear start has ended; one that had not ended goes on (its epochs
    count towards max_epochs); reset() or another model starts afresh."""
    model, layer, data = _linear_start_model()
    ls = keras_seqmem.LinearStart(patience=10, max_epochs=2)
    gates = _Gates(layer)
    model.fit(epochs=3, callbacks=[ls, gates], **data)
    assert ls.ended and ls.ended_at_epoch == 1 and ls.linear_epochs == 2
    model.fit(epochs=2, callbacks=[ls, gates], **data)
    assert [g for g, _ in gates.seen] == [0.0, 0.0, 1.0, 1.0, 1.0]
    assert ls.ended_at_epoch == 1 and ls.linear_epochs == 2

    # Interrupted: one epoch of three, then a second fit goes on.
    model, layer, data = _linear_start_model(seed=12)
    ls = keras_seqmem.LinearStart(patience=10, max_epochs=3)
    gates = _Gates(layer)
    model.fit(epochs=1, callbacks=[ls, gates], **data)
    assert ls.started and not ls.ended
    model.fit(epochs=3, callbacks=[ls, gates], **data)
    assert [g for g, _ in gates.seen] == [0.0, 0.0, 0.0, 1.0]
    assert ls.ended_at_epoch == 1 and ls.linear_epochs == 3

    # reset(): afresh on the same model; another model: afresh too.
    ls.reset()
    model.fit(epochs=1, callbacks=[ls, gates], **data)
    assert gates.seen[-1][0] == 0.0 and not ls.ended
    other, other_layer, other_data = _linear_start_model(seed=13)
    ls.end()
    other_gates = _Gates(other_layer)
    other.fit(epochs=1, callbacks=[ls, other_gates], **other_data)
    assert other_gates.seen == [(0.0, other_gates.seen[0][1])]


def test_memn2n_schedule_after_linear_start_ended_in_an_earlier_fit():
    """MemN2NSchedule with a LinearStart that ended in an earlier fit: the
    next fit runs the main schedule from its first rate (not the linear
    start rate, nor a rate computed from the earlier fit's epoch)."""
    from keras_seqmem.training import MemN2NSchedule

    model, layer, data = _linear_start_model(seed=14)
    ls = keras_seqmem.LinearStart(patience=10, max_epochs=2)
    schedule = MemN2NSchedule(learning_rate=0.04, epochs=3, decay_every=2,
                              linear_start=ls,
                              linear_start_learning_rate=0.01)
    gates = _Gates(layer)
    history = model.fit(epochs=10, callbacks=[ls, schedule, gates], **data)
    assert len(history.history["loss"]) == 5  # 2 linear + 3 main epochs
    np.testing.assert_allclose(gates.seen, [
        (0.0, 0.01), (0.0, 0.01), (1.0, 0.04), (1.0, 0.04), (1.0, 0.02)])
    gates.seen.clear()
    history = model.fit(epochs=10, callbacks=[ls, schedule, gates], **data)
    assert len(history.history["loss"]) == 3
    np.testing.assert_allclose(gates.seen,
                               [(1.0, 0.04), (1.0, 0.04), (1.0, 0.02)])


def test_linear_start_end_by_hand(capsys):
    """end() without an epoch (verbose=1) prints its line; before any fit
    it says what it needs."""
    model, layer, _ = _linear_start_model(seed=15)
    ls = keras_seqmem.LinearStart(verbose=1)
    with pytest.raises(ValueError, match="set_model"):
        ls.end()
    ls.set_model(model)
    layer.softmax_weight.assign(0.0)
    ls.end()
    assert capsys.readouterr().out == "LinearStart: softmax re-inserted\n"
    assert ls.ended and ls.ended_at_epoch is None
    assert float(keras.ops.convert_to_numpy(layer.softmax_weight)) == 1.0
    ls.end(epoch=4)
    assert capsys.readouterr().out == (
        "LinearStart: softmax re-inserted after epoch 5\n")


@pytest.mark.parametrize("kwargs, argument", [
    (dict(hops=0), "hops"),
    (dict(vocab_size=0), "vocab_size"),
    (dict(embedding_dim=-2), "embedding_dim"),
    (dict(memory_size=0), "memory_size"),
    (dict(weight_tying="tied"), "weight_tying"),
    (dict(encoding="onehot"), "encoding"),
    (dict(random_noise=1.5), "random_noise"),
    (dict(random_noise=0.1, temporal_encoding=False), "random_noise"),
    (dict(temporal_encoding=1), "temporal_encoding"),
    (dict(empty_slots="zero"), "empty_slots"),
])
def test_memn2n_bad_hyperparameters(kwargs, argument):
    with pytest.raises(ValueError, match=f"'mn'.*{argument}"):
        keras_seqmem.MemN2N(**{"vocab_size": V, **kwargs}, name="mn")


def test_memn2n_bad_inputs():
    story, question = _story()
    layer = keras_seqmem.MemN2N(V, E, memory_size=4, name="mn")
    with pytest.raises(ValueError, match="'mn'.*at most memory_size=4"):
        layer([story, question])
    layer = keras_seqmem.MemN2N(V, E, memory_size=8, name="mn")
    with pytest.raises(ValueError, match="'mn'.*integer word ids"):
        layer([story.astype("float32"), question])
    with pytest.raises(ValueError, match="'mn'.*expected inputs"):
        layer(story)
    with pytest.raises(ValueError, match="'mn'.*expected a question"):
        layer([story, story])


# --- KeyValueMemoryNetwork --------------------------------------------------


@pytest.mark.parametrize("encoding, temporal", [("bow", False),
                                                ("position", True)])
def test_kv_memory_network_matches_numpy(encoding, temporal):
    keys, question = _story(seed=11)
    values = np.random.default_rng(12).integers(1, V, keys.shape[:2] + (2,))
    values[~np.any(keys != 0, -1)] = 0
    variant = dict(hops=2, encoding=encoding, temporal_encoding=temporal)
    layer = keras_seqmem.KeyValueMemoryNetwork(V, E, memory_size=8,
                                               dtype="float64", **variant)
    layer([keys, values, question])
    _randomise(layer, seed=13)
    logits, attention = layer([keys, values, question],
                              return_attention_scores=True)
    want_logits, want_attention = references.kv_memory_network(
        keys, values, question, _weights(layer), **variant)
    np.testing.assert_allclose(attention, want_attention, rtol=1e-10,
                               atol=1e-13)
    np.testing.assert_allclose(logits, want_logits, rtol=1e-10, atol=1e-12)
    # [story, question]: the story is both keys and values.
    two = layer([keys, question])
    want, _ = references.kv_memory_network(keys, keys, question,
                                           _weights(layer), **variant)
    np.testing.assert_allclose(two, want, rtol=1e-10, atol=1e-12)


def test_kv_memory_network_with_empty_slots_matches_numpy():
    keys, question = _story(seed=27)
    values = np.random.default_rng(28).integers(1, V, keys.shape[:2] + (2,))
    values[~np.any(keys != 0, -1)] = 0
    variant = dict(hops=2, encoding="position", temporal_encoding=True)
    layer = keras_seqmem.KeyValueMemoryNetwork(
        V, E, memory_size=10, dtype="float64", empty_slots="attend", **variant)
    layer([keys, values, question])
    _randomise(layer, seed=29)
    logits, attention = layer([keys, values, question],
                              return_attention_scores=True)
    want_logits, want_attention = references.kv_memory_network(
        keys, values, question, _weights(layer), empty_slots_of=10, **variant)
    np.testing.assert_allclose(attention, want_attention, rtol=1e-10,
                               atol=1e-13)
    np.testing.assert_allclose(logits, want_logits, rtol=1e-10, atol=1e-12)


def test_kv_memory_network_gradients_match_finite_differences():
    keys, question = _story(seed=14, batch=2, slots=4, words=3)
    values = keys[..., :1]
    variant = dict(hops=2, encoding="position", temporal_encoding=True)
    layer = keras_seqmem.KeyValueMemoryNetwork(V, 3, memory_size=5,
                                               dtype="float64", **variant)
    layer([keys, values, question])
    _randomise(layer, seed=15)
    _check_gradients(
        layer, [keys, values, question],
        lambda raw: references.kv_memory_network(keys, values, question, raw,
                                                 **variant)[0],
        seed=16)


def test_kv_memory_network_identity_hops_start_as_identity():
    layer = keras_seqmem.KeyValueMemoryNetwork(V, E, hops=3)
    keys, question = _story()
    layer([keys, question])
    np.testing.assert_array_equal(layer.hop_kernels.numpy(),
                                  np.stack([np.eye(E)] * 3))


# --- the shared checks ------------------------------------------------------


def _token_sampler(case, batch, time, seed):
    rng = np.random.default_rng(seed)
    story = rng.integers(0, V, (batch, time, 5)).astype("int32")
    story[:, :, 0] = rng.integers(1, V, (batch, time))  # no empty sentence
    question = rng.integers(1, V, (batch, 4)).astype("int32")
    if len(case.input_shapes) == 3:
        values = rng.integers(1, V, (batch, time, 2)).astype("int32")
        return [story, values, question]
    return [story, question]


def _check_story_masking(case):
    """Padding sentences and padding words change nothing."""
    layer = case.make_layer()
    inputs = case.sample(batch=3, time=5, seed=6)
    out = keras.ops.convert_to_numpy(layer(inputs))
    padded = []
    for x in inputs[:-1]:
        p = np.zeros((3, 8, x.shape[-1] + 2), "int32")
        p[:, [0, 2, 3, 5, 6], : x.shape[-1]] = x
        padded.append(p)
    padded.append(np.pad(inputs[-1], ((0, 0), (0, 2))))
    np.testing.assert_allclose(layer(padded), out, atol=1e-5)
    # The padding really is padding: a real word there changes the answer.
    padded[0][:, 1, 0] = 1
    assert not np.allclose(layer(padded), out, atol=1e-5)


def _check_slot_masking(case):
    """Padded memory slots change nothing: equals the unpadded run."""
    layer = case.make_layer()
    query, keys, values = case.sample(batch=3, time=7, seed=6)
    lengths = np.array([7, 4, 1])
    mask = np.arange(7)[None, :] < lengths[:, None]
    out = keras.ops.convert_to_numpy(layer([query, keys, values],
                                           mask=[None, mask]))
    for b, n in enumerate(lengths):
        alone = layer([query[b:b + 1], keys[b:b + 1, :n], values[b:b + 1, :n]])
        np.testing.assert_allclose(out[b], alone[0], atol=1e-5)
    unmasked = keras.ops.convert_to_numpy(layer([query, keys, values]))
    assert not np.allclose(unmasked[1:], out[1:], atol=1e-4)


def _bad_rank_story(case):
    inputs = case.sample()
    return [inputs[0][:, 0]] + inputs[1:]


def _bad_dtype_story(case):
    inputs = case.sample()
    return [inputs[0].astype("float32")] + inputs[1:]


def _make_memn2n(**kwargs):
    return keras_seqmem.MemN2N(V, E, memory_size=12, **kwargs)


def _make_kv(**kwargs):
    return keras_seqmem.KeyValueMemoryNetwork(V, E, memory_size=12, **kwargs)


CASES = [
    layer_checks.LayerCase(
        name="KeyValueMemory",
        make_layer=lambda **o: keras_seqmem.KeyValueMemory(**o),
        input_shapes=[(D,), (None, D), (None, DV)],
        check_masking=_check_slot_masking,
        bad_rank_input=lambda case: [x[:, 0] if x.ndim == 3 else x
                                     for x in case.sample()],
        bad_feature_input=lambda case: [case.sample()[0][:, :-1]]
        + case.sample()[1:],
    ),
] + [
    layer_checks.LayerCase(
        name=name,
        make_layer=functools.partial(make, **kwargs),
        input_shapes=shapes,
        input_dtypes=["int32"] * len(shapes),
        sampler=_token_sampler,
        check_masking=_check_story_masking,
        bad_rank_input=_bad_rank_story,
        bad_feature_input=_bad_dtype_story,
    )
    for name, make, shapes, kwargs in [
        ("MemN2N-adjacent-PE-TE-RN", _make_memn2n,
         [(None, None), (None,)], dict(random_noise=0.1)),
        ("MemN2N-adjacent-PE-TE-RN-attend", _make_memn2n,
         [(None, None), (None,)],
         dict(random_noise=0.1, empty_slots="attend")),
        ("MemN2N-layerwise-BoW", _make_memn2n, [(None, None), (None,)],
         dict(weight_tying="layerwise", encoding="bow",
              temporal_encoding=False)),
        ("KeyValueMemoryNetwork", _make_kv,
         [(None, None), (None, None), (None,)], dict(random_noise=0.1)),
    ]
]


@pytest.mark.parametrize("check", layer_checks.SHARED_CHECKS,
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_shared_layer_checks(case, check, tmp_path):
    check(case, tmp_path)


def test_memn2n_learns_babi_task_1_within_a_few_epochs(babi_dir):
    """Learning sanity check: a 2-hop MemN2N trained for 8 epochs (Adam,
    no linear start) answers task 1's held-out test questions far above
    chance. Chance is an error of 5/6 (six places); measured here with seed
    0: 0.009 (2 CPU cores, TF 2.21)."""
    from keras_seqmem import training
    from keras_seqmem.tasks import babi

    keras.utils.set_random_seed(0)
    train_ex = babi.load_babi(babi_dir, [1], "train")
    test_ex = babi.load_babi(babi_dir, [1], "test")
    vocabulary = babi.build_vocabulary(babi_dir)
    lengths = babi.max_lengths(train_ex, test_ex, memory_size=50)
    train = babi.vectorize(train_ex, vocabulary, 50, *lengths)
    test = babi.vectorize(test_ex, vocabulary, 50, *lengths)
    model = training.build_memory_model(len(vocabulary), hops=2, seed=0)
    model.compile(keras.optimizers.Adam(0.01),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=True)
    model.fit([train["story"], train["query"]], train["answer"],
              batch_size=32, epochs=8, verbose=0)
    logits = model.predict([test["story"], test["query"]], verbose=0)
    error = float(np.mean(np.argmax(logits, -1) != test["answer"]))
    assert error < 0.2, f"test error {error:.3f} after 8 epochs (chance 0.833)"
