"""Serving: `keras-seqmem export` writes a SavedModel whose serving_default
signature takes any batch size and sequence length, which a process without
keras_seqmem serves with the Keras model's outputs, which `saved_model_cli`
lists, and whose graphs hold standard TensorFlow ops only.

One test builds all the exports (several test functions would each redo
them under pytest-xdist): a PeepholeLSTM trained by `keras-seqmem train
--save`, an NTM saved with a static sequence length (exported with dynamic
axes all the same), an ACTRNN, the bAbI memory network of `keras-seqmem
babi --save` (two inputs) and a Seq2Seq (its own export: beam search in the
graph).
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_seqmem
import layer_checks
from keras_seqmem import cli
from keras_seqmem import serving
from keras_seqmem import training

SAVED_MODEL_CLI = os.path.join(os.path.dirname(sys.executable),
                               "saved_model_cli")

# Runs in a fresh process where importing keras_seqmem raises (the
# meta-path blocker of layer_checks, with its proof that the import fails):
# loading and serving must not need it.
_SERVE = """
import json

import numpy as np
import tensorflow as tf

manifest = json.load(open(sys.argv[1]))
for name, entry in manifest.items():
    serve = tf.saved_model.load(entry["dir"]).signatures["serving_default"]
    for case in entry["cases"]:
        data = np.load(case)
        inputs = {k[3:]: tf.constant(data[k]) for k in data.files
                  if k.startswith("in/")}
        outputs = serve(**inputs)
        for key in (k for k in data.files if k.startswith("out/")):
            np.testing.assert_allclose(
                outputs[key[4:]].numpy(), data[key], rtol=1e-5,
                atol=1e-5, err_msg=f"{name} {case} {key}")
        shapes = {k: tuple(v.shape) for k, v in inputs.items()}
        print(f"served {name} {shapes}", flush=True)
print("SERVED_OK", flush=True)
"""

NON_PORTABLE = {"PyFunc", "PyFuncStateless", "EagerPyFunc"}


def _loaded_op_types(export_dir):
    """The op types a TensorFlow process that loads the SavedModel runs:
    the graphs of its signatures as loaded, with their function libraries
    (the RNN loops live there), minus the calls of library functions."""
    loaded = tf.saved_model.load(export_dir)
    ops = set()
    for signature in loaded.signatures.values():
        ops |= serving.graph_op_types(signature.graph.as_graph_def())[0]
    return ops


def _sequences(batch, time, features, seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((batch, time, features)).astype("float32")


def _models(tmp_path, capsys):
    """name -> (.keras path, [(input dict, output dict), ...]) for two
    batch sizes and sequence lengths the exports were never traced with."""
    models = {}
    # 1. What `keras-seqmem train --save` writes (length 6, 2 features).
    path = str(tmp_path / "adding.keras")
    assert cli.main([
        "train", "--task", "adding", "--model", "peephole_lstm",
        "--length", "6", "--units", "4", "--train-size", "64",
        "--test-size", "32", "--batch-size", "32", "--epochs", "1",
        "--no-jit", "--save", path]) == 0
    assert "saved " + path in capsys.readouterr().out
    models["peephole_lstm"] = (path, lambda b, t, s: {
        "sequence": _sequences(b, t, 2, s)})

    # 2. An NTM built for sequences of exactly 6 steps.
    inputs = keras.Input((6, 3), name="sequence")
    x = keras_seqmem.NTM(4, memory_size=5, word_size=3, units=4,
                         memory_init="learned")(inputs)
    ntm = keras.Model(inputs, keras.layers.Dense(2)(x))
    models["ntm"] = (str(tmp_path / "ntm.keras"), lambda b, t, s: {
        "sequence": _sequences(b, t, 3, s)})
    ntm.save(models["ntm"][0])

    # 3. ACT around a PeepholeLSTMCell, output at every step.
    inputs = keras.Input((None, 3), name="sequence")
    act = keras_seqmem.ACT(keras_seqmem.PeepholeLSTMCell(4),
                           max_ponder_steps=4)
    x = keras_seqmem.ACTRNN(act, return_sequences=True)(inputs)
    act_model = keras.Model(inputs, keras.layers.Dense(2)(x))
    models["act_rnn"] = (str(tmp_path / "act.keras"), lambda b, t, s: {
        "sequence": _sequences(b, t, 3, s)})
    act_model.save(models["act_rnn"][0])

    # 4. The bAbI model of `keras-seqmem babi --save`: story and question.
    memory = training.build_memory_model(12, "memn2n", embedding_dim=5,
                                         hops=2, memory_size=10)

    def stories(b, t, s):
        rng = np.random.default_rng(s)
        story = rng.integers(0, 12, (b, t, 4)).astype("int32")
        story[:, :, 0] = rng.integers(1, 12, (b, t))
        return {"story": story,
                "question": rng.integers(1, 12, (b, 3)).astype("int32")}

    models["memn2n"] = (str(tmp_path / "memn2n.keras"), stories)
    memory.save(models["memn2n"][0])

    # 5. Seq2Seq: serving_default decodes (beam search, width 4) in-graph.
    seq2seq = keras_seqmem.Seq2Seq(source_vocab_size=9, target_vocab_size=9,
                                   embedding_dim=4, units=4,
                                   max_decode_length=5)
    seq2seq((np.full((1, 3), 3), np.ones((1, 2))))
    models["seq2seq"] = (str(tmp_path / "seq2seq.keras"), lambda b, t, s: {
        "source": np.random.default_rng(s).integers(3, 9, (b, t)).astype(
            "int32")})
    seq2seq.save(models["seq2seq"][0])
    return models


def _expected(model, inputs):
    if isinstance(model, keras_seqmem.Seq2Seq):
        result = model.generate(inputs["source"], method="beam",
                                beam_width=4, jit_compile=False)
        return {"ids": result.ids, "scores": result.scores,
                "lengths": result.lengths}
    feed = [inputs[t.name] for t in model.inputs]
    if model.inputs[0].shape[1] is not None:
        # Built for one length (the NTM): the model's input check refuses
        # others, its layers do not.
        out = feed[0]
        for layer in model.layers[1:]:
            out = layer(out, training=False)
    else:
        out = model(feed[0] if len(feed) == 1 else feed, training=False)
    return {"output_0": keras.ops.convert_to_numpy(out)}


def test_export_serves_without_keras_seqmem(tmp_path, capsys):
    models = _models(tmp_path, capsys)
    manifest = {}
    for name, (keras_path, sample) in models.items():
        export_dir = str(tmp_path / f"{name}_export")
        assert cli.main(["export", keras_path, export_dir]) == 0
        printed = capsys.readouterr().out
        assert "signature serving_default:" in printed, printed
        assert "all standard TensorFlow ops" in printed, printed
        assert "static batch or time" not in printed, printed
        # The documented signature: dynamic batch and time axes.
        signature = tf.saved_model.load(export_dir).signatures[
            "serving_default"]
        _, specs = signature.structured_input_signature
        assert sorted(specs) == sorted(sample(1, 1, 0)), (name, specs)
        for spec in specs.values():
            assert spec.shape[0] is None and spec.shape[1] is None, (
                name, spec)
        if name != "seq2seq":
            assert list(signature.structured_outputs) == ["output_0"]
            assert f"input  sequence: float32 (None, None," in printed or (
                name == "memn2n")
        # Outputs of the Keras model reloaded from the .keras file.
        model = keras.saving.load_model(keras_path, compile=False)
        cases = []
        for i, (batch, time) in enumerate([(3, 9), (5, 4)]):
            inputs = sample(batch, time, 10 + i)
            arrays = {f"in/{k}": v for k, v in inputs.items()}
            arrays.update({f"out/{k}": v for k, v in
                           _expected(model, inputs).items()})
            case = str(tmp_path / f"{name}_{i}.npz")
            np.savez(case, **arrays)
            cases.append(case)
        manifest[name] = {"dir": export_dir, "cases": cases}

        # Only standard, registered TensorFlow ops, in the whole library.
        ops, _ = serving.saved_model_op_types(export_dir)
        if name != "memn2n":  # (the recurrences: loops in the library)
            assert "While" in ops or "StatelessWhile" in ops, (name, ops)
        # The walk over saved_model.pb sees at least what loading runs.
        loaded = _loaded_op_types(export_dir)
        assert loaded <= ops, (name, loaded - ops)
        assert not ops & NON_PORTABLE, (name, ops & NON_PORTABLE)
        assert not [op for op in ops if op.startswith("Cudnn")], (name, ops)
        unregistered = sorted(op for op in ops if not hasattr(tf.raw_ops, op))
        assert not unregistered, (name, unregistered)
        assert serving.nonstandard_ops(export_dir) == []

    manifest_path = tmp_path / "manifest.json"
    manifest_path.write_text(json.dumps(manifest))
    run = layer_checks.run_without_keras_seqmem(
        _SERVE, [manifest_path], cwd=tmp_path)
    assert run.returncode == 0 and "SERVED_OK" in run.stdout and (
        "NO_KERAS_SEQMEM_OK" in run.stdout), (
        run.stdout + run.stderr[-4000:])
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    assert run.stdout.count("served ") == 2 * len(models)

    # saved_model_cli, as a TF Serving user would inspect it.
    show = subprocess.run(
        [SAVED_MODEL_CLI, "show", "--dir", manifest["peephole_lstm"]["dir"],
         "--all"], capture_output=True, text=True, env=env, timeout=300)
    assert show.returncode == 0, show.stderr[-3000:]
    text = show.stdout
    block = text[text.index("signature_def['serving_default']"):]
    assert "inputs['sequence'] tensor_info:" in block, text
    assert "shape: (-1, -1, 2)" in block, text
    assert "outputs['output_0'] tensor_info:" in block, text
    assert "shape: (-1, 1)" in block, text
    assert "Method name is: tensorflow/serving/predict" in block, text


def test_export_keeps_a_static_length_the_model_needs(tmp_path, capsys):
    """A model that only works at its built length (Flatten -> Dense) keeps
    its static time axis, and the command says so."""
    inputs = keras.Input((5, 2), name="sequence")
    flat = keras.Model(inputs, keras.layers.Dense(1)(
        keras.layers.Flatten()(inputs)))
    flat.save(tmp_path / "flat.keras")
    assert cli.main(["export", str(tmp_path / "flat.keras"),
                     str(tmp_path / "flat_export")]) == 0
    printed = capsys.readouterr().out
    assert "input  sequence: float32 (None, 5, 2)" in printed, printed
    assert "static batch or time axis" in printed, printed


# --- the op walk: planted faults ---------------------------------------------


class _PythonInALoop(tf.Module):
    """A `tf.py_function` (op `EagerPyFunc`) inside a `tf.while_loop` body:
    in the SavedModel, the op is in the body, a function of the library,
    and nowhere in the top-level graph."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
    def serve(self, x):
        def body(i, x):
            y = tf.py_function(lambda v: v * 2.0, [x], tf.float32)
            y.set_shape(x.shape)
            return i + 1, tf.math.floormod(y, 7.0)

        return {"y": tf.while_loop(lambda i, x: i < 3, body, [0, x])[1]}


def _save_python_in_a_loop(path):
    module = _PythonInALoop()
    tf.saved_model.save(module, str(path),
                        signatures={"serving_default": module.serve})
    return str(path)


def test_nonstandard_ops_finds_a_python_function_in_a_loop_body(tmp_path):
    path = _save_python_in_a_loop(tmp_path / "python_in_a_loop")
    ops, functions = serving.saved_model_op_types(path)
    assert "While" in ops or "StatelessWhile" in ops, ops
    assert "EagerPyFunc" in ops, ops
    assert not ops & functions
    assert serving.nonstandard_ops(path) == ["EagerPyFunc"]
    # Only in the library: the top-level graph holds calls, no EagerPyFunc.
    (meta,) = serving._meta_graphs(path)
    assert "EagerPyFunc" not in {n.op for n in meta.graph_def.node}
    bodies = [f.signature.name for f in meta.graph_def.library.function
              if "EagerPyFunc" in {n.op for n in f.node_def}]
    assert len(bodies) == 1 and "body" in bodies[0], bodies


def test_nonstandard_ops_finds_an_unregistered_op(tmp_path):
    """An op type TensorFlow does not register (what a custom kernel
    library would add): `FloorMod` renamed, in place, to `FloorMud`, inside
    the loop body. Loading such a SavedModel fails; the walk reads the
    protocol buffer and names the op."""
    path = _save_python_in_a_loop(tmp_path / "custom_op")
    pb = os.path.join(path, "saved_model.pb")
    with open(pb, "rb") as f:
        data = f.read()
    assert b"FloorMod" in data and b"FloorMud" not in data
    with open(pb, "wb") as f:  # (same length: the proto stays valid)
        f.write(data.replace(b"FloorMod", b"FloorMud"))
    assert not hasattr(tf.raw_ops, "FloorMud")
    assert serving.nonstandard_ops(path) == ["EagerPyFunc", "FloorMud"]
    with pytest.raises(Exception, match="FloorMud"):
        tf.saved_model.load(path)


def test_standard_op_is_tensorflows_registry():
    for op in ("While", "StatelessWhile", "If", "StatelessIf",
               "PartitionedCall", "StatefulPartitionedCall", "Const",
               "Placeholder", "NoOp", "MatMul", "TensorListReserve",
               "ReadVariableOp", "SaveV2", "RestoreV2"):
        assert serving.standard_op(op), op
    for op in ("FloorMud", "MyCustomKernel", "_Arg", "_sys", ""):
        assert not serving.standard_op(op), op


# --- the shared export check (tests/layer_checks.py): planted faults ---------


class _StepCell(keras.layers.Layer):
    """A small recurrent cell, `h' = tanh(x W + h U)`; `python=True` passes
    `h'` through a `tf.py_function` (op `EagerPyFunc`, which a server
    without Python cannot run) inside the step, i.e. inside the body of
    `keras_seqmem.RNN`'s `tf.while_loop`."""

    def __init__(self, units, python=False, **kwargs):
        super().__init__(**kwargs)
        self.units, self.python = units, python
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight((input_shape[-1], self.units))
        self.recurrent_kernel = self.add_weight((self.units, self.units))

    def call(self, x, states):
        h = keras.ops.tanh(x @ self.kernel
                           + states[0] @ self.recurrent_kernel)
        if self.python:
            through = tf.py_function(lambda v: v, [h], h.dtype)
            through.set_shape(h.shape)
            h = through
        return h, [h]


def _step_case(python):
    return layer_checks.LayerCase(
        name=f"RNN(StepCell, python={python})",
        make_layer=lambda **o: keras_seqmem.RNN(
            _StepCell(3, python=python, **o), return_sequences=True, **o),
        input_shapes=[(None, 2)])


def test_export_check_sees_a_python_function_in_a_recurrent_step(tmp_path):
    """The shared check fails on a `py_function` in the recurrent step,
    which sits in functions of the library only, the `While` body among
    them (the top-level graph of the loaded signature, all that the check
    read before, holds no `EagerPyFunc`), and names the body; the same
    model without it passes, served in a process without keras_seqmem."""
    with pytest.raises(AssertionError) as info:
        layer_checks.check_saved_model_export(_step_case(True),
                                              tmp_path / "python")
    message = str(info.value)
    assert "EagerPyFunc" in message and "while_body" in message, message
    path = str(tmp_path / "python" / "exported")
    (places,) = serving.op_locations(path, ["EagerPyFunc"]).values()
    # In the loop body (and in the layer's call, which runs step 0 before
    # the loop), never in the top-level graph.
    assert "<graph>" not in places, places
    assert any("while_body" in place for place in places), places
    loaded = tf.saved_model.load(path)
    top_level = {op.type for op in loaded.signatures[
        "serving_default"].graph.get_operations()}
    assert "EagerPyFunc" not in top_level
    assert {"While", "StatelessWhile"} & serving.saved_model_op_types(
        path)[0]

    (tmp_path / "clean").mkdir()
    layer_checks.check_saved_model_export(_step_case(False),
                                          tmp_path / "clean")


def test_export_check_blocks_keras_seqmem_for_real(tmp_path):
    """The serving process of the shared check cannot import keras_seqmem
    although it is installed (editable: importable from any folder); the
    process proves it first. Planted: without the blocker, that proof
    fails; a load that imports keras_seqmem (or only tries to, catching
    the error) fails the check."""
    install = subprocess.run(
        [sys.executable, "-c", "import keras_seqmem; print('IMPORTED')"],
        capture_output=True, text=True, cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    importable = "IMPORTED" in install.stdout
    body = "print('SERVED_OK')\n"
    ok = layer_checks.run_without_keras_seqmem(body, [], cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr[-3000:]
    assert ok.stdout.split() == ["SERVED_OK", "NO_KERAS_SEQMEM_OK"]

    unblocked = layer_checks.run_without_keras_seqmem(
        body, [], cwd=tmp_path, block=False)
    assert unblocked.returncode != 0 and "SERVED_OK" not in unblocked.stdout
    if importable:  # (the installed package: what the blocker is for)
        assert "keras_seqmem is importable in the serving process" in (
            unblocked.stderr), unblocked.stderr[-3000:]

    for dependency, error in [
            ("import keras_seqmem.recurrent", "blocked: keras_seqmem"),
            ("try:\n    import keras_seqmem.serving\nexcept ImportError:\n"
             "    pass", "tried to import ['keras_seqmem']")]:
        run = layer_checks.run_without_keras_seqmem(
            dependency + "\n" + body, [], cwd=tmp_path)
        assert run.returncode != 0, (dependency, run.stdout)
        assert "NO_KERAS_SEQMEM_OK" not in run.stdout
        assert error in run.stderr, (dependency, run.stderr[-3000:])
