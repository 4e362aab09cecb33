"""Greedy and beam search, and the Seq2Seq model: decoding, XLA, export."""

import itertools
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_seqmem
from keras_seqmem._layers import iter_layers
from keras_seqmem.attention import beam_search
from keras_seqmem.attention import greedy_search

PAD, START, END = 0, 1, 2


# --- searches on hand-built step functions -----------------------------------


def _bigram_step(table):
    """A 'model' whose next-token distribution depends on the last token
    only: log p(next | last) = log table[last]. No state to carry but a
    dummy one (searches must carry states through)."""
    log_table = tf.constant(np.log(np.maximum(table, 1e-30)), tf.float32)

    def step(tokens, states):
        logits = tf.gather(log_table, tokens)
        return logits, [states[0] + 1.0], None

    return step


# Tokens: 0 pad, 1 start, 2 end, 3 "a", 4 "b".
# From start: a 0.6, b 0.4.  After a: a 0.35, b 0.35, end 0.3.
# After b: end 0.9, a 0.05, b 0.05.
# Greedy takes "a" (0.6) and then can only reach 0.6 * 0.35 = 0.21 or end at
# 0.18; "b end" has probability 0.4 * 0.9 = 0.36: greedy misses it.
TRAP = np.zeros((5, 5))
TRAP[START, [3, 4]] = [0.6, 0.4]
TRAP[3, [2, 3, 4]] = [0.3, 0.35, 0.35]
TRAP[4, [2, 3, 4]] = [0.9, 0.05, 0.05]
TRAP[2, 2] = 1.0
TRAP[0, 2] = 1.0


def _run(search, table, batch=2, **kwargs):
    step = _bigram_step(table)
    states = [tf.zeros((batch, 1))]
    if search is greedy_search:
        return greedy_search(step, states, batch, start_id=START, end_id=END,
                             **kwargs)
    return beam_search(step, states, batch, start_id=START, end_id=END,
                       **kwargs)


def test_beam_search_finds_the_sequence_greedy_misses():
    greedy = _run(greedy_search, TRAP, max_length=4)
    beam = _run(beam_search, TRAP, beam_width=2, max_length=4)
    assert greedy.ids[0, 0] == 3  # greedy commits to "a"
    greedy_prob = np.exp(greedy.log_probs.numpy()[0])
    assert greedy_prob < 0.36 - 0.1
    np.testing.assert_array_equal(beam.ids[0, 0], [4, END, PAD, PAD])
    np.testing.assert_allclose(beam.log_probs[0, 0], np.log(0.36), rtol=1e-5)
    assert beam.lengths[0, 0] == 2
    # Beams sorted best first.
    assert np.all(np.diff(beam.scores.numpy(), axis=1) <= 0)


def _brute_force_best(table, max_length):
    """The most probable sequence ending with END within max_length, or
    ending at max_length, by enumeration."""
    vocab = table.shape[0]
    best, best_lp = None, -np.inf
    for length in range(1, max_length + 1):
        for seq in itertools.product(range(vocab), repeat=length):
            if END in seq[:-1] or PAD in seq or START in seq:
                continue
            if length < max_length and seq[-1] != END:
                continue
            lp, last = 0.0, START
            for token in seq:
                lp += np.log(max(table[last, token], 1e-30))
                last = token
            if lp > best_lp:
                best, best_lp = seq, lp
    return best, best_lp


@pytest.mark.parametrize("seed", range(4))
def test_wide_beam_finds_the_most_probable_sequence(seed):
    rng = np.random.default_rng(seed)
    vocab, max_length = 5, 4
    table = rng.dirichlet(np.full(vocab - 2, 0.5), size=vocab)
    table = np.concatenate([np.zeros((vocab, 2)), table], axis=1)
    table[END] = 0
    table[END, END] = 1.0
    best, best_lp = _brute_force_best(table, max_length)
    # Every sequence of 3 free tokens fits in a beam of 3**3 = 27.
    beam = _run(beam_search, table, batch=1, beam_width=27,
                max_length=max_length)
    found = [t for t in beam.ids.numpy()[0, 0] if t != PAD]
    assert tuple(found) == best
    np.testing.assert_allclose(beam.log_probs[0, 0], best_lp, rtol=1e-5)


def test_beam_width_one_equals_greedy_on_a_recurrent_step():
    """A stateful random 'RNN' step: beam 1 and greedy agree exactly."""
    rng = np.random.default_rng(5)
    vocab, units = 7, 6
    embed = tf.constant(rng.standard_normal((vocab, units)), tf.float32)
    w = tf.constant(rng.standard_normal((units, units)), tf.float32)
    out = tf.constant(2 * rng.standard_normal((units, vocab)), tf.float32)

    def step(tokens, states):
        h = tf.tanh(tf.gather(embed, tokens) + states[0] @ w)
        return h @ out, [h], h[:, :3]

    init = [tf.constant(rng.standard_normal((6, units)), tf.float32)]
    kwargs = dict(max_length=9, start_id=START, end_id=END,
                  alignment_length=3)
    greedy = greedy_search(step, init, 6, **kwargs)
    beam = beam_search(step, init, 6, beam_width=1, **kwargs)
    np.testing.assert_array_equal(beam.ids[:, 0], greedy.ids)
    np.testing.assert_array_equal(beam.lengths[:, 0], greedy.lengths)
    np.testing.assert_allclose(beam.log_probs[:, 0], greedy.log_probs,
                               rtol=1e-6)
    np.testing.assert_allclose(beam.alignments[:, 0], greedy.alignments,
                               atol=1e-7)


def test_length_penalty_prefers_longer_hypotheses():
    """Two hypotheses hold all the mass: "end" with p = 0.55 (length 1) and
    "a b end" with p = 0.45 (length 3). Without a penalty the short one
    wins; with α = 2, lp(l) = ((5 + l) / 6)², log(0.45) / lp(3) = -0.45
    beats log(0.55) / lp(1) = -0.60."""
    table = np.zeros((5, 5))
    table[START, [END, 3]] = [0.55, 0.45]
    table[3, 4] = 1.0
    table[4, END] = 1.0
    table[END, END] = 1.0
    plain = _run(beam_search, table, batch=1, beam_width=2, max_length=4)
    assert list(plain.ids.numpy()[0, 0]) == [END, PAD, PAD, PAD]
    np.testing.assert_allclose(plain.scores.numpy()[0],
                               np.log([0.55, 0.45]), rtol=1e-5)
    penalised = _run(beam_search, table, batch=1, beam_width=2,
                     max_length=4, length_penalty=2.0)
    assert list(penalised.ids.numpy()[0, 0]) == [3, 4, END, PAD]
    lp = lambda n: ((5 + n) / 6) ** 2  # noqa: E731
    np.testing.assert_allclose(penalised.scores.numpy()[0],
                               [np.log(0.45) / lp(3), np.log(0.55) / lp(1)],
                               rtol=1e-5)
    np.testing.assert_allclose(penalised.log_probs.numpy()[0],
                               np.log([0.45, 0.55]), rtol=1e-5)


def test_decoding_stops_at_max_length_and_pads_after_end():
    never_ends = np.zeros((5, 5))
    never_ends[:, 3] = 1.0
    result = _run(greedy_search, never_ends, max_length=5)
    np.testing.assert_array_equal(result.lengths, [5, 5])
    np.testing.assert_array_equal(result.ids, np.full((2, 5), 3))
    ends_now = np.zeros((5, 5))
    ends_now[:, END] = 1.0
    result = _run(beam_search, ends_now, beam_width=3, max_length=4)
    np.testing.assert_array_equal(result.ids[:, 0], [[END, PAD, PAD, PAD]] * 2)
    np.testing.assert_array_equal(result.lengths[:, 0], [1, 1])


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(max_length=0, beam_width=2), "max_length"),
    (dict(max_length=3, beam_width=0), "beam_width"),
])
def test_search_bad_arguments(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        _run(beam_search, TRAP, **kwargs)


# --- the Seq2Seq model --------------------------------------------------------


def _model(seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    defaults = dict(source_vocab_size=11, target_vocab_size=9,
                    embedding_dim=6, units=8, max_decode_length=7)
    model = keras_seqmem.Seq2Seq(**{**defaults, **kwargs})
    model.build()
    # Larger output weights make the untrained model's choices decisive.
    logits = model.output_layer
    logits.kernel.assign(3.0 * logits.kernel.numpy())
    return model


def _source(seed=1, batch=5, steps=6):
    rng = np.random.default_rng(seed)
    source = rng.integers(3, 11, size=(batch, steps)).astype("int32")
    lengths = rng.integers(1, steps + 1, size=batch)
    return np.where(np.arange(steps)[None] < lengths[:, None], source, PAD)


def _teacher_forced_score(model, source, ids):
    """Σ log p(ids) from the training graph (`call`), with pad and start
    excluded as decoding excludes them, up to and including END."""
    decoder_inputs = np.concatenate(
        [np.full((len(ids), 1), START), ids[:, :-1]], axis=1)
    decoder_inputs = np.where(decoder_inputs == PAD, END, decoder_inputs)
    logits = keras.ops.convert_to_numpy(
        model((source, decoder_inputs))).astype("float64")
    logits[..., [PAD, START]] = -np.inf
    log_probs = logits - np.log(np.sum(np.exp(logits), -1, keepdims=True))
    picked = np.take_along_axis(log_probs, ids[..., None], -1)[..., 0]
    ended = np.cumsum(ids == END, axis=1) - (ids == END)
    return np.sum(np.where((ended == 0) & (ids != PAD), picked, 0.0), 1)


@pytest.mark.parametrize("use_attention", [True, False])
def test_decoding_scores_equal_the_teacher_forced_model(use_attention):
    """Decoding runs the same function as training: the scores greedy and
    beam search report are the log-probabilities `call` gives their ids."""
    model = _model(use_attention=use_attention)
    source = _source()
    greedy = model.generate(source)
    np.testing.assert_allclose(
        greedy.log_probs, _teacher_forced_score(model, source, greedy.ids),
        rtol=1e-4, atol=1e-4)
    beam = model.generate(source, method="beam", beam_width=3)
    for k in range(3):
        np.testing.assert_allclose(
            beam.log_probs[:, k],
            _teacher_forced_score(model, source, beam.ids[:, k]),
            rtol=1e-4, atol=1e-4)
    # The best beam is at least as probable as the greedy sequence.
    assert np.all(beam.log_probs[:, 0] >= greedy.log_probs - 1e-5)


def test_model_beam_width_one_equals_greedy():
    model = _model(seed=2)
    source = _source(seed=3, batch=7)
    greedy = model.generate(source)
    beam = model.generate(source, method="beam", beam_width=1)
    np.testing.assert_array_equal(beam.ids[:, 0], greedy.ids)
    np.testing.assert_allclose(beam.log_probs[:, 0], greedy.log_probs,
                               rtol=1e-5)


def _decoder(model, method):
    def decode(source):
        return model.decode(source, method, beam_width=3,
                            return_alignments=True)

    return decode


def test_decoding_compiles_with_xla_and_matches_graph_mode():
    model = _model(seed=4)
    source = tf.constant(_source(seed=5))
    for method in ("greedy", "beam"):
        fn = tf.function(_decoder(model, method), jit_compile=True)
        hlo = fn.experimental_get_compiler_ir(source)(stage="hlo")
        assert "ENTRY" in hlo and "while" in hlo.lower()
        xla = model.generate(source, method, beam_width=3,
                             return_alignments=True, jit_compile=True)
        plain = model.generate(source, method, beam_width=3,
                               return_alignments=True, jit_compile=False)
        np.testing.assert_array_equal(xla.ids, plain.ids)
        np.testing.assert_allclose(xla.scores, plain.scores, rtol=1e-5)
        np.testing.assert_allclose(xla.alignments, plain.alignments,
                                   atol=1e-5)


def test_decoded_alignments_are_distributions_over_the_source():
    model = _model(seed=6)
    source = _source(seed=7)
    result = model.generate(source, method="beam", beam_width=2,
                            return_alignments=True)
    assert result.alignments.shape == (5, 2, 7, 6)
    source_mask = source != PAD
    for b in range(5):
        for k in range(2):
            n = result.lengths[b, k]
            rows = result.alignments[b, k]
            np.testing.assert_allclose(rows[:n].sum(-1), 1.0, rtol=1e-5)
            np.testing.assert_array_equal(rows[n:], 0.0)
            np.testing.assert_array_equal(rows[:, ~source_mask[b]], 0.0)
    teacher = model.compute_alignments(source, np.ones((5, 3), "int32"))
    assert tuple(teacher.shape) == (5, 3, 6)


def test_padding_does_not_change_decoding():
    model = _model(seed=8)
    source = _source(seed=9, batch=4, steps=5)
    wide = np.concatenate([source, np.zeros((4, 4), "int32")], axis=1)
    a = model.generate(source, method="beam", beam_width=2)
    b = model.generate(wide, method="beam", beam_width=2)
    np.testing.assert_array_equal(a.ids, b.ids)
    np.testing.assert_allclose(a.scores, b.scores, rtol=1e-5)


@pytest.mark.parametrize("cell", sorted(keras_seqmem.attention.CELLS))
def test_every_cell_kind_trains_and_decodes(cell):
    model = _model(cell=cell, cell_kwargs={"dropout": 0.1}
                   if cell != "simple_rnn" else None)
    source = _source(seed=10, batch=4)
    decoder_inputs = np.ones((4, 3), "int32")
    targets = np.array([[3, 4, END]] * 4)
    # XLA is tested once below (test_teacher_forced_training_with_xla); the
    # cells themselves go through the shared XLA check in their own tests.
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, ignore_class=PAD), jit_compile=False)
    history = model.fit((source, decoder_inputs), targets, epochs=2,
                        verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    result = model.generate(source, method="beam", beam_width=2,
                            jit_compile=False)
    assert result.ids.shape == (4, 2, 7)


def test_teacher_forced_training_with_xla():
    model = _model(seed=20, cell="peephole_lstm")
    source = _source(seed=21, batch=8)
    decoder_inputs = np.ones((8, 3), "int32")
    targets = np.array([[3, 4, END]] * 8)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, ignore_class=PAD), jit_compile=True)
    assert model.jit_compile is True
    before = [w.numpy() for w in model.trainable_weights]
    history = model.fit((source, decoder_inputs), targets, epochs=2,
                        verbose=0)
    assert model.jit_compile is True, "XLA was silently turned off"
    assert all(layer.supports_jit for layer in iter_layers(model))
    assert np.all(np.isfinite(history.history["loss"]))
    assert any(not np.array_equal(a, w.numpy())
               for a, w in zip(before, model.trainable_weights))
    step = tf.function(model.train_step, jit_compile=True)
    data = ((tf.constant(source), tf.constant(decoder_inputs)),
            tf.constant(targets))
    assert "ENTRY" in step.experimental_get_compiler_ir(data)(stage="hlo")


def test_learns_to_copy_quickly():
    """A small model learns a 3-symbol copy task in a few epochs (greedy
    decoding exact match far above chance, 1/4**L)."""
    rng = np.random.default_rng(11)
    source = rng.integers(3, 7, size=(2000, 3)).astype("int32")
    targets = np.concatenate([source, np.full((2000, 1), END)], 1)
    decoder_inputs = np.concatenate([np.full((2000, 1), START),
                                     targets[:, :-1]], 1)
    model = _model(source_vocab_size=7, target_vocab_size=7, units=32,
                   embedding_dim=8, max_decode_length=4)
    model.compile(keras.optimizers.Adam(0.01),
                  keras.losses.SparseCategoricalCrossentropy(
                      from_logits=True, ignore_class=PAD), jit_compile=True)
    model.fit((source, decoder_inputs), targets, epochs=6, batch_size=64,
              verbose=0)
    test = rng.integers(3, 7, size=(200, 3)).astype("int32")
    ids = model.generate(test).ids
    exact = np.mean(np.all(ids[:, :3] == test, axis=1) & (ids[:, 3] == END))
    assert exact > 0.9, exact


def test_config_round_trip_and_keras_save_load(tmp_path):
    model = _model(seed=12, cell="peephole_lstm", normalize=True,
                   attention_units=5, cell_kwargs={"dropout": 0.1})
    source = _source(seed=13)
    decoder_inputs = np.ones((5, 4), "int32")
    config = model.get_config()
    clone = keras_seqmem.Seq2Seq.from_config(config)
    clone.build()
    clone.set_weights(model.get_weights())
    assert clone.get_config() == config
    np.testing.assert_array_equal(clone((source, decoder_inputs)),
                                  model((source, decoder_inputs)))
    path = os.path.join(tmp_path, "s2s.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(loaded((source, decoder_inputs)),
                                  model((source, decoder_inputs)))
    a = model.generate(source, method="beam", beam_width=3)
    b = loaded.generate(source, method="beam", beam_width=3)
    np.testing.assert_array_equal(a.ids, b.ids)


_SERVE = textwrap.dedent("""
    import sys
    import numpy as np
    import tensorflow as tf

    loaded = tf.saved_model.load(sys.argv[1])
    data = np.load(sys.argv[2])
    serve = loaded.signatures["serving_default"]
    for key in ("a", "b"):
        out = serve(source=tf.constant(data[key + "_source"]))
        np.testing.assert_array_equal(out["ids"].numpy(), data[key + "_ids"])
        np.testing.assert_allclose(out["scores"].numpy(),
                                   data[key + "_scores"], rtol=1e-5)
        np.testing.assert_array_equal(out["lengths"].numpy(),
                                      data[key + "_lengths"])
    logits = loaded.logits(tf.constant(data["a_source"]),
                           tf.constant(data["decoder_inputs"]))
    np.testing.assert_allclose(logits.numpy(), data["logits"], atol=1e-5)
    ops = set()
    for fn in [serve]:
        graph = fn.graph.as_graph_def()
        ops |= {n.op for n in graph.node}
        for f in graph.library.function:
            ops |= {n.op for n in f.node_def}
    assert "While" in ops or "StatelessWhile" in ops, sorted(ops)
    banned = sorted(o for o in ops
                    if "Cudnn" in o or "PyFunc" in o or o.startswith("Xla"))
    assert not banned, banned
    assert not [m for m in sys.modules if m.startswith("keras_seqmem")]
    print("SERVED_OK")
""")


def test_export_decodes_in_graph_without_keras_seqmem(tmp_path):
    model = _model(seed=14)
    path = os.path.join(tmp_path, "exported")
    model.export(path, beam_width=3, verbose=False)
    arrays = {}
    for key, (batch, steps) in (("a", (5, 6)), ("b", (2, 9))):
        source = _source(seed=15, batch=batch, steps=steps)
        result = model.generate(source, method="beam", beam_width=3,
                                jit_compile=False)
        arrays.update({key + "_source": source, key + "_ids": result.ids,
                       key + "_scores": result.scores,
                       key + "_lengths": result.lengths})
    arrays["decoder_inputs"] = np.ones((5, 3), "int32")
    arrays["logits"] = keras.ops.convert_to_numpy(
        model((arrays["a_source"], arrays["decoder_inputs"])))
    np.savez(os.path.join(tmp_path, "data.npz"), **arrays)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    run = subprocess.run(
        [sys.executable, "-c", _SERVE, path, os.path.join(tmp_path,
                                                          "data.npz")],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert run.returncode == 0 and "SERVED_OK" in run.stdout, (
        run.stdout + run.stderr[-3000:])


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision(policy):
    model = _model(seed=16, dtype=policy)
    assert model.decoder.compute_dtype == policy.split("_")[1]
    assert model.output_layer.compute_dtype == "float32"
    source = _source(seed=17)
    decoder_inputs = np.ones((5, 4), "int32")
    logits = model((source, decoder_inputs))
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    optimizer = keras.optimizers.Adam()
    if policy == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    model.compile(optimizer, keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, ignore_class=PAD))
    loss = model.train_on_batch((source, decoder_inputs),
                                np.full((5, 4), 3))
    assert np.isfinite(loss)
    result = model.generate(source, method="beam", beam_width=2,
                            jit_compile=False)
    assert np.all(np.isfinite(result.scores))


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(source_vocab_size=0, target_vocab_size=5), "source_vocab_size"),
    (dict(source_vocab_size=5, target_vocab_size=5, cell="tcn"), "`cell`"),
    (dict(source_vocab_size=5, target_vocab_size=5, end_id=7), "end_id"),
    (dict(source_vocab_size=5, target_vocab_size=5, end_id=1), "distinct"),
    (dict(source_vocab_size=5, target_vocab_size=5, units=-1), "units"),
])
def test_bad_hyperparameters(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        keras_seqmem.Seq2Seq(**kwargs)


def test_bad_inputs_and_decoding_arguments():
    model = _model(seed=18, name="s2s")
    source = _source(seed=19)
    with pytest.raises(ValueError, match="'s2s'.*expected source"):
        model((source[..., None], np.ones((5, 2), "int32")))
    with pytest.raises(ValueError, match="'s2s'.*expected inputs"):
        model(source)
    with pytest.raises(ValueError, match="method"):
        model.generate(source, method="sample")
    with pytest.raises(ValueError, match="beam_width"):
        model.generate(source, method="beam", beam_width=0)
    with pytest.raises(ValueError, match="length_penalty"):
        model.generate(source, method="beam", length_penalty=-1.0)
    plain = _model(seed=18, use_attention=False)
    with pytest.raises(ValueError, match="use_attention"):
        plain.generate(source, return_alignments=True)


def test_output_mask_covers_exactly_the_target_tokens():
    """The logits' mask (what Keras's masked loss and metrics use, e.g. the
    token accuracy of `compile_for_task`) is true exactly where the target
    is a real token or the end token, for targets of every length -- not
    also at the step fed the end token, whose label is padding."""
    from keras_seqmem import tasks

    spec = tasks.get_task("reversal")
    params = dict(min_length=1, max_length=6, num_symbols=5)
    source, target = spec.generate(40, seed=3, **params)
    model = _model(seed=22, source_vocab_size=spec.get_vocab_size(**params),
                   target_vocab_size=spec.get_target_vocab_size(**params))
    logits = model((source, tasks.decoder_inputs(target)))
    # Read through the public path a masked loss takes: an unreduced
    # cross-entropy is weighted by the logits' mask, so it is exactly 0 at
    # the masked steps and positive at the others.
    loss = keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction=None)(target, logits)
    loss = keras.ops.convert_to_numpy(loss)
    assert loss.shape == target.shape
    np.testing.assert_array_equal(loss != 0, target != PAD)


# --- any mechanism, any cell (issue 15) ----------------------------------------


def _mechanism(name):
    """A Seq2Seq `attention` argument: a name, or an instance for
    "instance" (a scaled LuongAttention, which no name gives)."""
    if name == "instance":
        return keras_seqmem.LuongAttention(8, scale=True, name="scaled")
    return name


@pytest.mark.parametrize("attention", [
    "luong", "bahdanau_monotonic", "luong_monotonic", "instance"])
def test_attention_choice_decodes_as_it_trains_and_saves(attention,
                                                         tmp_path):
    """Every mechanism: greedy decoding (the decoder's step, mechanism state
    included) scores its ids as the teacher-forced model does, and the
    `.keras` file reloads the mechanism with the same decoding."""
    if "monotonic" in attention and not hasattr(
            keras_seqmem.AttentiveDecoder, "cell_state_count"):
        pytest.skip("AttentiveDecoder does not carry mechanism states yet")
    model = _model(seed=23, attention=_mechanism(attention))
    expected = {"luong": "LuongAttention", "instance": "LuongAttention",
                "bahdanau_monotonic": "BahdanauMonotonicAttention",
                "luong_monotonic": "LuongMonotonicAttention"}[attention]
    assert expected in [type(x).__name__ for x in iter_layers(model)]
    source = _source(seed=24)
    greedy = model.generate(source, jit_compile=False)
    np.testing.assert_allclose(
        greedy.log_probs, _teacher_forced_score(model, source, greedy.ids),
        rtol=1e-4, atol=1e-4)
    path = os.path.join(tmp_path, "s2s.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(
        loaded.generate(source, jit_compile=False).ids, greedy.ids)


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(attention="dot"), "`attention` expected one of"),
    (dict(attention=3), "`attention` expected one of"),
    (dict(attention="luong", attention_units=5), "attention_units=8"),
    (dict(attention="luong", normalize=True), "scale=True"),
    (dict(attention=keras.layers.Dense(3), attention_units=4), "Drop them"),
    (dict(attention_order="tfa"), "attention_order"),
    (dict(use_attention=False, attention_order="luong"), "use_attention"),
])
def test_bad_attention_arguments(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        keras_seqmem.Seq2Seq(11, 9, embedding_dim=6, units=8, **kwargs)
