"""The checks every keras_seqmem layer goes through.

A family's test file describes its layers as `LayerCase`s and runs every
function of `SHARED_CHECKS` on each, e.g.

    @pytest.mark.parametrize("check", layer_checks.SHARED_CHECKS)
    @pytest.mark.parametrize("case", CASES, ids=str)
    def test_shared(check, case, tmp_path):
        check(case, tmp_path)

The checks:
    check_config_round_trip   get_config -> JSON -> from_config, same outputs
    check_keras_save_load     model.save(".keras") -> load_model, same outputs
    check_xla_training_step   compile(jit_compile=True): really XLA, trains
    check_saved_model_export  model.export: only ops a TF server without
                              Python/GPU runs, in the graphs and in every
                              loop body of their function library; then
                              tf.saved_model.load in a fresh process where
                              importing keras_seqmem raises (a meta-path
                              blocker), new batch/length
                              (TensorFlow backend only: skipped elsewhere)
    check_masking             case.check_masking (padded steps change nothing)
    check_mixed_float16       mixed precision: f16 compute, f32 variables,
    check_mixed_bfloat16      close to float32, finite training step
    check_bad_input_rank      ValueError naming the layer and expectation
    check_bad_feature_size    ValueError naming the layer and expectation
"""

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from typing import Callable
from typing import Optional

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_seqmem._layers import iter_layers


@dataclasses.dataclass
class LayerCase:
    """How to build and feed one layer configuration.

    Attributes:
        name: Test id.
        make_layer: `make_layer(**overrides) -> keras.layers.Layer`; the
            overrides are layer constructor arguments (e.g. `dtype`), and a
            new layer is made at each call.
        input_shapes: Per-example input shapes with `None` for the time axis,
            one per model input (e.g. `[(None, 5)]`).
        check_masking: `check_masking(case)` proving that masked positions do
            not change the result; None where the layer takes no mask (the
            check then is skipped with that reason).
        bad_rank_input: An input of the wrong rank for the built layer.
        bad_feature_input: An input with the wrong feature size.
        mixed_tolerance: Max abs difference from float32 under mixed f16
            (bfloat16 gets 8x that: 8 bits of mantissa against 11).
        seed: Seed of the sample data.
        input_dtypes: One dtype per model input (default float32).
        sampler: `sampler(case, batch, time, seed) -> list of arrays`,
            replacing the standard-normal sample (e.g. for word ids).
    """

    name: str
    make_layer: Callable
    input_shapes: list
    check_masking: Optional[Callable] = None
    bad_rank_input: Optional[Callable] = None
    bad_feature_input: Optional[Callable] = None
    mixed_tolerance: float = 2e-2
    seed: int = 0
    input_dtypes: Optional[list] = None
    sampler: Optional[Callable] = None

    def __str__(self):
        return self.name

    def sample(self, batch=4, time=6, seed=None):
        """Standard-normal inputs with the case's shapes."""
        if self.sampler is not None:
            return self.sampler(
                self, batch, time, self.seed if seed is None else seed
            )
        rng = np.random.default_rng(self.seed if seed is None else seed)
        arrays = []
        for shape in self.input_shapes:
            full = (batch,) + tuple(time if d is None else d for d in shape)
            arrays.append(rng.standard_normal(full).astype("float32"))
        return arrays

    def build_model(self, **overrides):
        """A Functional model: the case's inputs -> the layer -> output 0."""
        dtypes = self.input_dtypes or [None] * len(self.input_shapes)
        inputs = [
            keras.Input(shape, dtype=dtype)
            for shape, dtype in zip(self.input_shapes, dtypes)
        ]
        layer = self.make_layer(**overrides)
        inputs = _feed(inputs)
        outputs = layer(inputs)
        if isinstance(outputs, (list, tuple)):
            outputs = outputs[0]
        return keras.Model(inputs, outputs), layer


def _feed(arrays):
    return arrays[0] if len(arrays) == 1 else arrays


def _numpy(outputs):
    if isinstance(outputs, dict):
        outputs = list(outputs.values())[0]
    if isinstance(outputs, (list, tuple)):
        outputs = outputs[0]
    return keras.ops.convert_to_numpy(outputs)


def check_config_round_trip(case, tmp_path):
    layer = case.make_layer()
    data = _feed(case.sample())
    expected = _numpy(layer(data))
    config = json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))
    clone = keras.saving.deserialize_keras_object(config)
    assert type(clone) is type(layer)
    clone(data)  # build
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(_numpy(clone(data)), expected)
    # The clone's config is the original's (nothing lost on the way).
    assert json.dumps(clone.get_config(), sort_keys=True, default=str) == (
        json.dumps(layer.get_config(), sort_keys=True, default=str)
    )


def check_keras_save_load(case, tmp_path):
    model, _ = case.build_model()
    data = _feed(case.sample(batch=3, time=7, seed=1))
    expected = _numpy(model(data))
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(_numpy(reloaded(data)), expected)
    for a, b in zip(model.weights, reloaded.weights):
        assert a.name == b.name
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b)
        )


def check_xla_training_step(case, tmp_path):
    model, _ = case.build_model()
    data = _feed(case.sample(batch=8, time=6, seed=2))
    target = np.random.default_rng(3).standard_normal(
        _numpy(model(data)).shape
    ).astype("float32")
    model.compile(optimizer="adam", loss="mse", jit_compile=True)
    assert model.jit_compile is True, "Keras turned XLA off at compile time"
    before = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    history = model.fit(data, target, epochs=2, batch_size=8, verbose=0)
    # Layers may opt out of XLA while being called (Keras' LSTM does on GPU);
    # a silent downgrade shows up here.
    assert all(layer.supports_jit for layer in iter_layers(model))
    assert model.jit_compile is True, "XLA was silently turned off"
    assert np.all(np.isfinite(history.history["loss"]))
    after = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    if before:  # (a weightless layer, e.g. KeyValueMemory, has none to move)
        assert any(not np.array_equal(a, b) for a, b in zip(before, after))
    # Every op of the train step lowers to XLA HLO: this raises otherwise.
    # (TensorFlow only: on JAX, `fit` above already ran the train step
    # compiled by `jax.jit`, i.e. lowered to XLA as a whole.)
    if keras.backend.backend() != "tensorflow":
        return
    x = tf.nest.map_structure(tf.constant, data)
    y = tf.constant(target)
    step = tf.function(model.train_step, jit_compile=True)
    hlo = step.experimental_get_compiler_ir((x, y))(stage="hlo")
    assert "ENTRY" in hlo


# The first lines of every "serves without keras_seqmem" process: a
# `sys.meta_path` finder that refuses `keras_seqmem` and its submodules
# (an installed keras_seqmem, editable or not, is importable from any
# working directory, so leaving the repository is no block), then proof
# that the block holds: importing keras_seqmem there raises. A script
# ends with `NO_KERAS_SEQMEM_END` (nothing imported, nothing attempted).
# `block=False` leaves the finder out and keeps the proof: the planted
# fault of tests/test_serving.py, where the proof fails.
_NO_KERAS_SEQMEM = """
import sys

if [m for m in sys.modules if m.split(".")[0] == "keras_seqmem"]:
    raise SystemExit("keras_seqmem was imported at start-up")


class NoKerasSeqmem:
    attempts = []

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "keras_seqmem":
            self.attempts.append(name)
            raise ImportError(f"blocked: {name} must not be imported "
                              "when serving")
        return None


if BLOCK:
    sys.meta_path.insert(0, NoKerasSeqmem())
for _module in ("keras_seqmem", "keras_seqmem.recurrent",
                "keras_seqmem.serving"):
    try:
        __import__(_module)
    except ImportError as error:
        assert "blocked" in str(error), error
    else:
        raise SystemExit(f"{_module} is importable in the serving process: "
                         "the check would not see a dependency on it")
NoKerasSeqmem.attempts.clear()
"""

NO_KERAS_SEQMEM_END = """
assert not NoKerasSeqmem.attempts, (
    f"loading or serving tried to import {NoKerasSeqmem.attempts}")
leaked = [m for m in sys.modules if m.split(".")[0] == "keras_seqmem"]
assert not leaked, f"keras_seqmem was imported: {leaked}"
print("NO_KERAS_SEQMEM_OK")
"""


def no_keras_seqmem_script(body, block=True):
    """`body` (Python source) preceded by the import block of keras_seqmem
    and its proof, followed by the check that nothing imported it, which
    prints `NO_KERAS_SEQMEM_OK` last."""
    return (f"BLOCK = {bool(block)}\n" + _NO_KERAS_SEQMEM
            + textwrap.dedent(body) + NO_KERAS_SEQMEM_END)


def run_without_keras_seqmem(body, args, cwd, block=True, timeout=300):
    """Runs `no_keras_seqmem_script(body)` in a fresh Python process (no
    PYTHONPATH, in `cwd`) with `args`; returns the `CompletedProcess`."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    return subprocess.run(
        [sys.executable, "-c", no_keras_seqmem_script(body, block),
         *map(str, args)],
        capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)


_SERVE_SCRIPT = """
import numpy as np
import tensorflow as tf

path, data_path = sys.argv[1], sys.argv[2]
loaded = tf.saved_model.load(path)
data = np.load(data_path)
n_inputs = int(data["n_inputs"])
for shape in ("a", "b"):
    inputs = [tf.constant(data[f"{shape}_x{i}"]) for i in range(n_inputs)]
    # Keras exports a multi-input model with one list argument.
    out = loaded.serve(inputs[0] if n_inputs == 1 else inputs)
    if isinstance(out, dict):
        out = list(out.values())[0]
    if isinstance(out, (list, tuple)):
        out = out[0]
    np.testing.assert_allclose(
        out.numpy(), data[f"{shape}_y"], rtol=1e-5, atol=1e-5)
print("SERVED_OK")
"""


def check_saved_model_export(case, tmp_path, block=True):
    """`model.export`: every op of the SavedModel, in its graphs and in
    every function of their library (the loop bodies that hold each
    recurrent step), is one a TensorFlow server without Python and without
    a GPU runs (`keras_seqmem.serving.nonstandard_ops`); and a fresh
    process in which importing keras_seqmem raises loads it and serves new
    batch sizes and lengths with the model's outputs."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("SavedModel export is TensorFlow's: keras_seqmem exports "
                    "with the TensorFlow backend only")
    from keras_seqmem import serving

    model, _ = case.build_model()
    path = os.path.join(tmp_path, "exported")
    model.export(path, format="tf_saved_model", verbose=False)
    bad = serving.nonstandard_ops(path)
    assert not bad, (
        f"{case.name}: the SavedModel holds ops that a TensorFlow server "
        f"without Python or a GPU cannot run: "
        f"{serving.op_locations(path, bad)}")
    # Shapes the export was never traced with: new batch sizes and lengths.
    arrays = {"n_inputs": len(case.input_shapes)}
    for key, (batch, time) in (("a", (3, 9)), ("b", (5, 4))):
        xs = case.sample(batch=batch, time=time, seed=4)
        for i, x in enumerate(xs):
            arrays[f"{key}_x{i}"] = x
        arrays[f"{key}_y"] = _numpy(model(_feed(xs)))
    data_path = os.path.join(tmp_path, "data.npz")
    np.savez(data_path, **arrays)
    result = run_without_keras_seqmem(_SERVE_SCRIPT, [path, data_path],
                                      cwd=tmp_path, block=block)
    assert result.returncode == 0 and "SERVED_OK" in result.stdout and (
        "NO_KERAS_SEQMEM_OK" in result.stdout), (
        result.stdout + result.stderr[-4000:])


def check_masking(case, tmp_path):
    if case.check_masking is None:
        pytest.skip(f"{case.name} takes no mask")
    case.check_masking(case)


def _check_mixed(case, policy, tolerance):
    data = _feed(case.sample(batch=4, time=6, seed=5))
    reference, ref_layer = case.build_model()
    mixed, layer = case.build_model(dtype=policy)
    mixed.set_weights(reference.get_weights())
    compute = policy.split("_")[1]
    assert layer.compute_dtype == compute
    assert all(w.dtype == "float32" for w in layer.weights)
    out = mixed(data)
    assert keras.backend.standardize_dtype(out.dtype) == compute
    out = _numpy(out).astype("float32")
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, _numpy(reference(data)), atol=tolerance)
    # A training step (loss scaling for float16) stays finite.
    target = np.zeros(out.shape, "float32")
    optimizer = keras.optimizers.Adam()
    if compute == "float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    mixed.compile(optimizer=optimizer, loss="mse")
    loss = mixed.train_on_batch(data, target)
    assert np.isfinite(loss)
    assert all(
        np.all(np.isfinite(keras.ops.convert_to_numpy(w)))
        for w in mixed.weights
    )


def check_mixed_float16(case, tmp_path):
    _check_mixed(case, "mixed_float16", case.mixed_tolerance)


def check_mixed_bfloat16(case, tmp_path):
    _check_mixed(case, "mixed_bfloat16", 8 * case.mixed_tolerance)


def _expect_value_error(layer, bad):
    """`layer(bad)` raises a ValueError naming the layer (or, for a wrapper
    such as `keras.layers.RNN(cell)`, the sublayer that checks) and what was
    expected."""
    with pytest.raises(ValueError) as info:
        layer(bad)
    message = str(info.value)
    names = [sub.name for sub in iter_layers(layer)]
    assert any(f"'{n}'" in message or f'"{n}"' in message for n in names), (
        f"none of {names} named in: {message}"
    )
    assert "expected" in message.lower(), message
    return message


def check_bad_input_rank(case, tmp_path):
    if case.bad_rank_input is None:
        pytest.skip(f"{case.name} declares no bad-rank input")
    layer = case.make_layer()
    layer(_feed(case.sample()))
    _expect_value_error(layer, case.bad_rank_input(case))
    fresh = case.make_layer()  # also before the layer is built
    _expect_value_error(fresh, case.bad_rank_input(case))


def check_bad_feature_size(case, tmp_path):
    if case.bad_feature_input is None:
        pytest.skip(f"{case.name} declares no bad-feature input")
    layer = case.make_layer()
    layer(_feed(case.sample()))
    _expect_value_error(layer, case.bad_feature_input(case))


SHARED_CHECKS = [
    check_config_round_trip,
    check_keras_save_load,
    check_xla_training_step,
    check_saved_model_export,
    check_masking,
    check_mixed_float16,
    check_mixed_bfloat16,
    check_bad_input_rank,
    check_bad_feature_size,
]


# --- helpers for recurrent layers (B, T, d) -> (B, [T,] u) -----------------


def check_sequence_masking(case):
    """Padded steps change nothing: masked == run on the unpadded prefix.

    Runs the layer on a right-padded batch with a mask (both as an explicit
    `mask=` and through `keras.layers.Masking`) and compares each example's
    result with the same layer run on that example alone, unpadded.
    """
    layer = case.make_layer()
    (x,) = case.sample(batch=4, time=8, seed=6)
    lengths = np.array([8, 5, 3, 1])
    mask = np.arange(8)[None, :] < lengths[:, None]
    x = np.where(mask[..., None], x, 0.0).astype("float32")
    masked = _numpy(layer(x, mask=mask))
    via_masking_layer = _numpy(layer(keras.layers.Masking(0.0)(x)))
    np.testing.assert_allclose(via_masking_layer, masked, atol=1e-6)
    return_sequences = masked.ndim == 3
    for b, n in enumerate(lengths):
        alone = _numpy(layer(x[b : b + 1, :n]))[0]
        if return_sequences:
            np.testing.assert_allclose(masked[b, :n], alone, atol=1e-5)
            # Past the end, outputs repeat the last valid output.
            np.testing.assert_allclose(
                masked[b, n:], np.repeat(alone[-1:], 8 - n, axis=0),
                atol=1e-5,
            )
        else:
            np.testing.assert_allclose(masked[b], alone, atol=1e-5)
    # The mask really matters: without it, padded steps change the result.
    unmasked = _numpy(layer(x))
    assert not np.allclose(unmasked[1:], masked[1:], atol=1e-4)


def bad_rank_sequence(case):
    return np.zeros((2, case.input_shapes[0][-1]), "float32")


def bad_feature_sequence(case):
    return np.zeros((2, 5, case.input_shapes[0][-1] + 1), "float32")


def sequence_case(name, make_layer, features, checks_rank=True, **kwargs):
    """A `LayerCase` for a layer over `(batch, time, features)` sequences:
    sequence masking and bad feature sizes checked; `checks_rank=False` for
    `keras.layers.RNN(cell)`, which slices the time axis before the cell sees
    the input, so a wrong rank fails inside Keras' own layer, not ours.
    `kwargs` go to `LayerCase` (`mixed_tolerance`, ...)."""
    return LayerCase(
        name=name,
        make_layer=make_layer,
        input_shapes=[(None, features)],
        check_masking=check_sequence_masking,
        bad_rank_input=bad_rank_sequence if checks_rank else None,
        bad_feature_input=bad_feature_sequence,
        **kwargs,
    )
