"""The Seq2Seq model: training, decoding (keras_seqmem.decoding's searches
over its step; the searches themselves are tested in test_decoding.py), any
cell and attention mechanism, XLA, save/load, export."""

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

PAD, START, END = 0, 1, 2


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
    with pytest.raises(ValueError, match="coverage_penalty >= 0"):
        model.generate(source, method="beam", coverage_penalty=-1.0)
    with pytest.raises(ValueError, match="coverage_penalty expected"):
        model.generate(source, coverage_penalty=0.5)
    plain = _model(seed=18, use_attention=False)
    with pytest.raises(ValueError, match="use_attention"):
        plain.generate(source, return_alignments=True)
    with pytest.raises(ValueError, match="use_attention"):
        plain.generate(source, method="beam", coverage_penalty=0.5)


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


def _decodes_as_it_trains_and_reloads(model, source, tmp_path):
    """Greedy scores equal the teacher-forced log-probabilities, and the
    model saved to `.keras` reloads with the same config and outputs."""
    greedy = model.generate(source, jit_compile=False)
    np.testing.assert_allclose(
        greedy.log_probs, _teacher_forced_score(model, source, greedy.ids),
        rtol=1e-4, atol=1e-4)
    path = os.path.join(tmp_path, "s2s.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.get_config() == model.get_config()
    decoder_inputs = np.ones((5, 4), "int32")
    np.testing.assert_array_equal(loaded((source, decoder_inputs)),
                                  model((source, decoder_inputs)))


@pytest.mark.parametrize("attention, order, layer_size", [
    ("luong", "bahdanau", None),
    ("bahdanau_monotonic", "bahdanau", None),
    ("luong_monotonic", "luong", 5),
    ("instance", "luong", None),
])
def test_attention_choice_decodes_as_it_trains_and_saves(
        attention, order, layer_size, tmp_path):
    """Every mechanism, both orders: greedy decoding (the decoder's step,
    mechanism states included) scores its ids as the teacher-forced model
    does, and the `.keras` file reloads the mechanism with the same
    outputs."""
    model = _model(seed=23, attention=_mechanism(attention),
                   attention_order=order, attention_layer_size=layer_size)
    expected = {"luong": "LuongAttention", "instance": "LuongAttention",
                "bahdanau_monotonic": "BahdanauMonotonicAttention",
                "luong_monotonic": "LuongMonotonicAttention"}[attention]
    assert expected in [type(x).__name__ for x in iter_layers(model)]
    assert model.decoder.order == order
    _decodes_as_it_trains_and_reloads(model, _source(seed=24), tmp_path)


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


def _construction(layer):
    """A layer's serialised config without build states (each encoder
    direction builds its copy for its own input)."""
    def strip(x):
        if isinstance(x, dict):
            return {k: strip(v) for k, v in x.items() if k != "build_config"}
        return [strip(v) for v in x] if isinstance(x, (list, tuple)) else x

    return strip(keras.saving.serialize_keras_object(layer))


def _cell(kind):
    return {
        "keras_gru": lambda: keras.layers.GRUCell(8),
        "layernorm_lstm": lambda: keras_seqmem.LayerNormLSTMCell(8),
        "stacked": lambda: keras.layers.StackedRNNCells(
            [keras.layers.LSTMCell(8), keras.layers.GRUCell(6)]),
    }[kind]()


@pytest.mark.parametrize("kind", ["keras_gru", "layernorm_lstm", "stacked"])
def test_cell_instance_decodes_as_it_trains_and_saves(kind, tmp_path):
    """Any Keras RNN cell instance: the decoder runs it, each encoder
    direction a fresh copy of it, one bridge per (flattened) state; greedy
    decoding scores its ids as the teacher-forced model does; the `.keras`
    file reloads it with the same outputs."""
    cell = _cell(kind)
    model = _model(seed=25, cell=cell, units=None, attention="luong",
                   attention_order="luong")
    assert model.cell is cell and model.decoder.cell is cell
    encoder_cells = [model.encoder.forward_layer.cell,
                     model.encoder.backward_layer.cell]
    assert len({id(c) for c in encoder_cells + [cell]}) == 3
    forward_only = keras_seqmem.Seq2Seq(11, 9, embedding_dim=6, cell=cell,
                                        bidirectional=False)
    encoder_cells.append(forward_only.encoder.cell)
    assert encoder_cells[-1] is not cell
    for copy in encoder_cells:
        assert type(copy) is type(cell)
        assert _construction(copy) == _construction(cell)
    sizes = [int(s) for s in keras.tree.flatten(cell.state_size)]
    assert [bridge.units for bridge in model.bridges] == sizes
    _decodes_as_it_trains_and_reloads(model, _source(seed=26), tmp_path)


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(cell=keras.layers.Dense(3)), "Keras RNN cell instance"),
    (dict(cell=keras.layers.LSTM(3)), "Keras RNN cell instance"),
    (dict(cell=keras.layers.GRUCell(3), units=8), "Drop them"),
])
def test_bad_cell_arguments(kwargs, fragment):
    kwargs = {"units": None, **kwargs}
    with pytest.raises(ValueError, match=fragment):
        keras_seqmem.Seq2Seq(11, 9, embedding_dim=6, **kwargs)
