"""Writes tests/data/tfa/: small REAL tfa / Keras-2 checkpoints, their inputs
and tfa's outputs, for tests/test_convert.py (which needs no tfa).

Run in the venv that has TensorFlow Addons 0.23 next to tf-keras (tfa never
ran on Keras 3):

    TF_USE_LEGACY_KERAS=1 /work/tfa_venv/bin/python tests/data/make_tfa_fixtures.py

For every tfa cell (`LayerNormLSTMCell`, `LayerNormSimpleRNNCell`,
`ESNCell`, `PeepholeLSTMCell` with tfa's default `sigmoid` and with
`hard_sigmoid`, the default of Keras 2's `tf.keras.experimental.
PeepholeLSTMCell`, which tf-keras 2.21 no longer has) it builds a Keras-2
`Sequential` model of `tf.keras.layers.RNN(cell, return_sequences=True)`
(the layer-norm LSTM twice, stacked, so that a checkpoint holds two cells of
one class), trains it two SGD steps (so no weight is at its initial value;
ESNCell's weights are frozen, as in tfa), saves it with
`model.save_weights(<dir>/ckpt)` (TensorFlow's object-based format; the
layer-norm LSTM also as a Keras-2 `.h5` weights file, the layer-norm
simple RNN as a whole-model `.h5` file, the ESN's cell also in TF1's
name-based format), and records the
outputs on fixed inputs.

For every tfa attention mechanism (`BahdanauAttention(normalize=True)`,
`LuongAttention(scale=True)`, `BahdanauMonotonicAttention(normalize=True)`,
`LuongMonotonicAttention(scale=True)`, monotonic in mode "parallel") it sets
up a memory with `memory_sequence_length`, trains two SGD steps on the
contexts of a query sequence, saves `tf.train.Checkpoint(mechanism=...)`,
and records the alignments and contexts of each query step as
`AttentionWrapper` computes them (the state: the previous alignment). And an
`AttentionWrapper(LSTMCell, LuongAttention(scale=True),
attention_layer_size=5)` (tfa's order: cell, then attention on the cell
output, `attention_layer` over `[h_t; context]`), trained two steps, saved
with `tf.train.Checkpoint(wrapper=...)`, with its outputs per step.

And the two sequence losses of tfa (`sequence_loss`, `SequenceLoss`) on
padded targets with a 0/1 mask and with general weights. Also written: `tfa_symbols.json` (every public name of `tfa.rnn` and
`tfa.seq2seq`, from `dir()` of the installed package, with its kind),
`hard_sigmoid.npz` (tf-keras's `hard_sigmoid` on a grid) and
`manifest.json` (versions, shapes, seeds, the checkpoints' variable names).
"""

import importlib
import importlib.machinery
import inspect
import json
import os
import pathlib
import shutil
import sys

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE / "tfa"

B, T, D = 3, 5, 3  # batch, time steps, input features
U = 4  # units
T_V, D_K = 6, 5  # memory steps, memory features
LENGTHS = [6, 3, 4]  # memory_sequence_length
SEED = 20261207
LEAKY, CONNECTIVITY, SPECTRAL_RADIUS = 0.6, 0.5, 0.9
SCORE_BIAS_INIT = 0.3
ATTENTION_LAYER_SIZE = 5


class _KerasIsTfKeras:
    """Import shim for tfa 0.23 on TF 2.21: `keras` (and its submodules)
    is the tf-keras package, as it was when tfa was current."""

    def find_spec(self, name, path=None, target=None):
        if name != "keras" and not name.startswith("keras."):
            return None
        return importlib.machinery.ModuleSpec(name, self)

    def create_module(self, spec):
        return importlib.import_module("tf_keras" + spec.name[len("keras"):])

    def exec_module(self, module):
        pass


def _import_tfa():
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    sys.meta_path.insert(0, _KerasIsTfKeras())
    for name in [m for m in sys.modules
                 if m == "keras" or m.startswith("keras.")]:
        del sys.modules[name]
    import tensorflow as tf
    import tensorflow_addons as tfa

    return tf, tfa


def _kind(obj):
    if inspect.ismodule(obj):
        return "module"
    if inspect.isclass(obj):
        return "class"
    return "function"


def symbols(tfa):
    return {f"tfa.{module}": {name: _kind(getattr(getattr(tfa, module), name))
                              for name in sorted(dir(getattr(tfa, module)))
                              if not name.startswith("_")}
            for module in ("rnn", "seq2seq")}


def _variables(tf, prefix):
    return {name: list(shape) for name, shape in tf.train.list_variables(prefix)
            if not name.startswith("_CHECKPOINTABLE_OBJECT_GRAPH")}


def _sgd_steps(tf, variables, loss_fn, steps=2, rate=0.1):
    for _ in range(steps):
        with tf.GradientTape() as tape:
            loss = loss_fn()
        grads = tape.gradient(loss, variables)
        for v, g in zip(variables, grads):
            if g is not None:
                v.assign_sub(rate * g)


def cells(tf, tfa, arrays, manifest):
    rng = np.random.default_rng(SEED)
    x = rng.standard_normal((B, T, D)).astype("float32")
    y = rng.standard_normal((B, T, U)).astype("float32")
    arrays["cells/x"] = x
    models = {
        "layer_norm_lstm": lambda: [tfa.rnn.LayerNormLSTMCell(6),
                                    tfa.rnn.LayerNormLSTMCell(U)],
        "layer_norm_simple_rnn": lambda: [tfa.rnn.LayerNormSimpleRNNCell(U)],
        "esn": lambda: [tfa.rnn.ESNCell(
            U, connectivity=CONNECTIVITY, leaky=LEAKY,
            spectral_radius=SPECTRAL_RADIUS)],
        "peephole_lstm": lambda: [tfa.rnn.PeepholeLSTMCell(U)],
        "peephole_lstm_hard_sigmoid": lambda: [tfa.rnn.PeepholeLSTMCell(
            U, recurrent_activation="hard_sigmoid")],
    }
    for index, (name, make) in enumerate(models.items()):
        tf.keras.utils.set_random_seed(SEED + index)
        model = tf.keras.Sequential(
            [tf.keras.Input((T, D))]
            + [tf.keras.layers.RNN(cell, return_sequences=True)
               for cell in make()])
        model.compile(tf.keras.optimizers.SGD(0.5), "mse")
        before = [w.copy() for w in model.get_weights()]
        model.fit(x, y, batch_size=B, epochs=2, verbose=0)
        moved = [not np.array_equal(a, b)
                 for a, b in zip(before, model.get_weights())]
        folder = OUT / name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        model.save_weights(str(folder / "ckpt"))
        if name == "layer_norm_lstm":
            model.save_weights(str(OUT / "layer_norm_lstm.h5"))
        if name == "esn":  # TF1's name-based format (tf.compat.v1 Saver)
            tf1 = OUT / "esn_tf1"
            shutil.rmtree(tf1, ignore_errors=True)
            tf.compat.v1.train.Saver(var_list=model.layers[0].cell.weights
                                     ).save(None, str(tf1 / "ckpt"),
                                            write_meta_graph=False)
        if name == "layer_norm_simple_rnn":  # a whole model, Keras-2 .h5
            model.save(str(OUT / "layer_norm_simple_rnn_model.h5"))
        arrays[f"{name}/outputs"] = model(x).numpy()
        if len(model.layers) > 1:
            arrays[f"{name}/outputs_0"] = model.layers[0](x).numpy()
        manifest["checkpoints"][name] = {
            "path": f"{name}/ckpt",
            "cells": [
                {"class": type(layer.cell).__name__,
                 "config": {k: v for k, v in layer.cell.get_config().items()
                            if isinstance(v, (int, float, str, bool))},
                 "weights": [w.name for w in layer.cell.weights]}
                for layer in model.layers],
            "weights_moved": moved,
            "variables": _variables(tf, str(folder / "ckpt")),
        }


def mechanisms(tf, tfa, arrays, manifest):
    rng = np.random.default_rng(SEED + 100)
    query = rng.standard_normal((B, T, U)).astype("float32")
    memory = rng.standard_normal((B, T_V, D_K)).astype("float32")
    lengths = np.array(LENGTHS, "int32")
    arrays["attention/query"] = query
    arrays["attention/memory"] = memory
    arrays["attention/lengths"] = lengths
    made = {
        "bahdanau": lambda: tfa.seq2seq.BahdanauAttention(U, normalize=True),
        "luong": lambda: tfa.seq2seq.LuongAttention(U, scale=True),
        "bahdanau_monotonic": lambda: tfa.seq2seq.BahdanauMonotonicAttention(
            U, normalize=True, score_bias_init=SCORE_BIAS_INIT,
            mode="parallel"),
        "luong_monotonic": lambda: tfa.seq2seq.LuongMonotonicAttention(
            U, scale=True, score_bias_init=SCORE_BIAS_INIT, mode="parallel"),
    }
    for index, (name, make) in enumerate(made.items()):
        tf.keras.utils.set_random_seed(SEED + 200 + index)
        mechanism = make()

        def run():
            mechanism.setup_memory(tf.constant(memory),
                                   memory_sequence_length=tf.constant(lengths))
            state = mechanism.initial_state(B, tf.float32)
            alignments, contexts = [], []
            for t in range(T):
                alignment, state = mechanism([tf.constant(query[:, t]), state])
                context = tf.squeeze(tf.matmul(
                    tf.expand_dims(alignment, 1), mechanism.values), [1])
                alignments.append(alignment)
                contexts.append(context)
            return tf.stack(alignments, 1), tf.stack(contexts, 1)

        run()  # builds the weights
        before = [v.numpy().copy() for v in mechanism.weights]
        target = rng.standard_normal((B, T, D_K)).astype("float32")
        _sgd_steps(tf, mechanism.trainable_weights,
                   lambda: tf.reduce_mean((run()[1] - target) ** 2))
        moved = [not np.array_equal(a, v.numpy())
                 for a, v in zip(before, mechanism.weights)]
        alignments, contexts = run()
        arrays[f"{name}/alignments"] = alignments.numpy()
        arrays[f"{name}/contexts"] = contexts.numpy()
        folder = OUT / name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        prefix = tf.train.Checkpoint(mechanism=mechanism).write(
            str(folder / "ckpt"))
        manifest["checkpoints"][name] = {
            "path": f"{name}/ckpt",
            "class": type(mechanism).__name__,
            "weights": [v.name for v in mechanism.weights],
            "weights_moved": moved,
            "variables": _variables(tf, prefix),
        }


def attention_wrapper(tf, tfa, arrays, manifest):
    rng = np.random.default_rng(SEED + 300)
    targets = rng.standard_normal((B, T, D)).astype("float32")
    arrays["wrapper/targets"] = targets
    memory = arrays["attention/memory"]
    lengths = arrays["attention/lengths"]
    tf.keras.utils.set_random_seed(SEED + 300)
    mechanism = tfa.seq2seq.LuongAttention(U, scale=True)
    wrapper = tfa.seq2seq.AttentionWrapper(
        tf.keras.layers.LSTMCell(U), mechanism,
        attention_layer_size=ATTENTION_LAYER_SIZE)

    def run():
        mechanism.setup_memory(tf.constant(memory),
                               memory_sequence_length=tf.constant(lengths))
        state = wrapper.get_initial_state(batch_size=B, dtype=tf.float32)
        outputs, alignments = [], []
        for t in range(T):
            output, state = wrapper(tf.constant(targets[:, t]), state)
            outputs.append(output)
            alignments.append(state.alignments)
        return tf.stack(outputs, 1), tf.stack(alignments, 1)

    run()
    before = [v.numpy().copy() for v in wrapper.weights]
    goal = rng.standard_normal((B, T, ATTENTION_LAYER_SIZE)).astype("float32")
    _sgd_steps(tf, wrapper.trainable_weights,
               lambda: tf.reduce_mean((run()[0] - goal) ** 2))
    moved = [not np.array_equal(a, v.numpy())
             for a, v in zip(before, wrapper.weights)]
    outputs, alignments = run()
    arrays["wrapper/outputs"] = outputs.numpy()
    arrays["wrapper/alignments"] = alignments.numpy()
    folder = OUT / "attention_wrapper"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    prefix = tf.train.Checkpoint(wrapper=wrapper).write(str(folder / "ckpt"))
    manifest["checkpoints"]["attention_wrapper"] = {
        "path": "attention_wrapper/ckpt",
        "class": "AttentionWrapper(LSTMCell, LuongAttention(scale=True), "
                 f"attention_layer_size={ATTENTION_LAYER_SIZE})",
        "weights": [v.name for v in wrapper.weights],
        "weights_moved": moved,
        "variables": _variables(tf, prefix),
    }


def losses(tf, tfa, arrays):
    """tfa's sequence_loss (default: sum(l w) / sum(w)) and SequenceLoss
    (default: sum(l w) / count_nonzero(w)) on padded targets, with 0/1
    weights (a mask) and with general weights."""
    rng = np.random.default_rng(SEED + 400)
    vocab = 7
    logits = rng.standard_normal((B, T, vocab)).astype("float32")
    targets = rng.integers(1, vocab, (B, T)).astype("int32")
    mask = (np.arange(T)[None, :] < np.array([T, 2, 3])[:, None])
    targets[~mask] = 0  # the padding id
    weights = (mask * rng.uniform(0.5, 1.5, (B, T))).astype("float32")
    arrays["loss/logits"] = logits
    arrays["loss/targets"] = targets
    arrays["loss/mask"] = mask
    arrays["loss/weights"] = weights
    for name, w in (("mask", mask.astype("float32")), ("weights", weights)):
        arrays[f"loss/sequence_loss/{name}"] = tfa.seq2seq.sequence_loss(
            logits, targets, w).numpy()
        arrays[f"loss/SequenceLoss/{name}"] = tfa.seq2seq.SequenceLoss()(
            targets, logits, sample_weight=w).numpy()


def _plain(config):
    """The JSON-able scalars of a config (initializers by class name)."""
    out = {}
    for key, value in config.items():
        if isinstance(value, dict) and "class_name" in value:
            value = value["class_name"]
        if isinstance(value, (int, float, str, bool)) or value is None:
            out[key] = value
    return out


def default_configs(tf, tfa):
    """`get_config()` of each tfa class built with only its required
    arguments (units), and of tf-keras's LSTMCell: the defaults."""
    configs = {}
    for name in ("ESNCell", "LayerNormLSTMCell", "LayerNormSimpleRNNCell",
                 "NASCell", "PeepholeLSTMCell"):
        configs[f"tfa.rnn.{name}"] = _plain(
            getattr(tfa.rnn, name)(U).get_config())
    configs["tf.keras.layers.LSTMCell"] = _plain(
        tf.keras.layers.LSTMCell(U).get_config())
    for name in ("BahdanauAttention", "LuongAttention",
                 "BahdanauMonotonicAttention", "LuongMonotonicAttention"):
        configs[f"tfa.seq2seq.{name}"] = _plain(
            getattr(tfa.seq2seq, name)(U).get_config())
    for name, sig in (("tfa.seq2seq.AttentionWrapper",
                       tfa.seq2seq.AttentionWrapper.__init__),
                      ("tfa.seq2seq.BeamSearchDecoder",
                       tfa.seq2seq.BeamSearchDecoder.__init__)):
        configs[name] = {
            k: v.default for k, v in inspect.signature(sig).parameters.items()
            if v.default is not inspect.Parameter.empty
            and isinstance(v.default, (int, float, str, bool, type(None)))}
    return configs


def main():
    tf, tfa = _import_tfa()
    import tf_keras

    OUT.mkdir(parents=True, exist_ok=True)
    arrays = {}
    manifest = {
        "command": "TF_USE_LEGACY_KERAS=1 /work/tfa_venv/bin/python "
                   "tests/data/make_tfa_fixtures.py",
        "versions": {"tensorflow": tf.__version__,
                     "tensorflow_addons": tfa.__version__,
                     "tf_keras": tf_keras.__version__,
                     "numpy": np.__version__},
        "shapes": {"batch": B, "timesteps": T, "features": D, "units": U,
                   "memory_steps": T_V, "memory_features": D_K,
                   "memory_lengths": LENGTHS,
                   "attention_layer_size": ATTENTION_LAYER_SIZE},
        "esn": {"leaky": LEAKY, "connectivity": CONNECTIVITY,
                "spectral_radius": SPECTRAL_RADIUS},
        "score_bias_init": SCORE_BIAS_INIT,
        "seed": SEED,
        "dtype": "float32",
        "checkpoints": {},
    }
    cells(tf, tfa, arrays, manifest)
    mechanisms(tf, tfa, arrays, manifest)
    attention_wrapper(tf, tfa, arrays, manifest)
    losses(tf, tfa, arrays)
    manifest["default_configs"] = default_configs(tf, tfa)
    grid = np.linspace(-4.0, 4.0, 81).astype("float32")
    np.savez(OUT / "hard_sigmoid.npz", x=grid,
             tf_keras=tf.keras.activations.hard_sigmoid(
                 tf.constant(grid)).numpy())
    np.savez_compressed(OUT / "outputs.npz", **arrays)
    (OUT / "tfa_symbols.json").write_text(
        json.dumps(symbols(tfa), indent=1) + "\n")
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    size = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {OUT} ({size} bytes)")


if __name__ == "__main__":
    main()
