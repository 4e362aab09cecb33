"""keras_seqmem.convert on REAL tfa 0.23 / tf-keras 2.21 checkpoints.

The fixtures in tests/data/tfa/ were written by
tests/data/make_tfa_fixtures.py in a venv with TensorFlow Addons (this test
needs no tfa): small tfa models trained two SGD steps, their checkpoints,
fixed inputs and tfa's outputs. Each test builds our layer, loads the
checkpoint with `load_tfa_weights`, runs the same inputs and compares with
tfa's outputs in float32 to `ATOL` (the largest difference measured is
2.4e-7; a wrong mapping or activation moves the outputs by more than 1e-2,
which the fault tests below show).
"""

import json
import os
import pathlib
import re
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_seqmem
from keras_seqmem import convert
from keras_seqmem.attention import BahdanauMonotonicAttention
from keras_seqmem.attention import LuongAttention
from keras_seqmem.attention import LuongMonotonicAttention

ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "tfa"
ATOL = 1e-5  # float32 on both sides
FAULT = 1e-2  # what a planted fault must move the outputs by, at least

OUT = dict(np.load(DATA / "outputs.npz"))
MANIFEST = json.loads((DATA / "manifest.json").read_text())
ESN = MANIFEST["esn"]
SCORE_BIAS_INIT = MANIFEST["score_bias_init"]


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _ckpt(name):
    return str(DATA / name / "ckpt")


# --- the cells ---------------------------------------------------------------------

CELLS = {
    # fixture: (our layer, input key, output key, scope)
    "layer_norm_lstm": (
        lambda: keras_seqmem.LayerNormLSTM(6, return_sequences=True),
        "layer_norm_lstm/outputs_0", "layer_with_weights-0"),
    "layer_norm_simple_rnn": (
        lambda: keras_seqmem.LayerNormSimpleRNN(4, return_sequences=True),
        "layer_norm_simple_rnn/outputs", None),
    "esn": (
        lambda: keras_seqmem.LeakyRNN.echo_state(
            4, leaky=ESN["leaky"], connectivity=ESN["connectivity"],
            spectral_radius=ESN["spectral_radius"], return_sequences=True),
        "esn/outputs", None),
    "peephole_lstm": (
        lambda: keras_seqmem.PeepholeLSTM(4, return_sequences=True),
        "peephole_lstm/outputs", None),
    "peephole_lstm_hard_sigmoid": (
        lambda: keras_seqmem.PeepholeLSTM(
            4, return_sequences=True,
            recurrent_activation=convert.keras2_hard_sigmoid),
        "peephole_lstm_hard_sigmoid/outputs", None),
}


def _loaded(name, make=None, path=None, **kwargs):
    maker, _, scope = CELLS[name]
    layer = (make or maker)()
    x = OUT["cells/x"]
    before = _np(layer(x))
    convert.load_tfa_weights(layer, path or _ckpt(name),
                             **{"scope": scope, **kwargs})
    return layer, before, _np(layer(x))


@pytest.mark.parametrize("name", sorted(CELLS))
def test_cells_equal_tfa(name):
    _, before, after = _loaded(name)
    expected = OUT[CELLS[name][1]]
    np.testing.assert_allclose(after, expected, rtol=0, atol=ATOL)
    # The loaded weights are what made the difference.
    assert np.max(np.abs(before - expected)) > FAULT


def test_stacked_layers_by_scope_and_h5():
    x = OUT["cells/x"]
    first = keras_seqmem.LayerNormLSTM(6, return_sequences=True)
    second = keras_seqmem.LayerNormLSTM(4, return_sequences=True)
    second(first(x))
    convert.load_tfa_weights(first, _ckpt("layer_norm_lstm"),
                             scope="layer_with_weights-0")
    used = convert.load_tfa_weights(second, DATA / "layer_norm_lstm",
                                    scope="layer_with_weights-1")  # folder
    assert used["layer_norm_lstm_1/layer_norm_lstm_cell/kernel_norm_gamma"
                .replace("layer_norm_lstm_1", second.name)] == (
        "layer_with_weights-1/cell/kernel_norm/gamma")
    np.testing.assert_allclose(_np(second(first(x))),
                               OUT["layer_norm_lstm/outputs"], atol=ATOL)
    # The same model's Keras-2 .h5 weights file: layers by their names.
    for layer, scope in ((first, "rnn"), (second, "rnn_1")):
        for v in layer.weights:
            v.assign(np.zeros(v.shape, v.dtype))
        convert.load_tfa_weights(layer, DATA / "layer_norm_lstm.h5",
                                 scope=scope)
    np.testing.assert_allclose(_np(second(first(x))),
                               OUT["layer_norm_lstm/outputs"], atol=ATOL)


def test_tf1_name_based_checkpoint():
    """tf.compat.v1.train.Saver's format: variables by name
    (`rnn/esn_cell/kernel`), no object graph."""
    layer, _, after = _loaded("esn", path=DATA / "esn_tf1" / "ckpt")
    np.testing.assert_allclose(after, OUT["esn/outputs"], atol=ATOL)
    assert sorted(convert.read_checkpoint(DATA / "esn_tf1")) == [
        "rnn_3/esn_cell/bias", "rnn_3/esn_cell/kernel",
        "rnn_3/esn_cell/recurrent_kernel"]


def test_whole_model_h5_by_variable_names():
    """`model.save("m.h5")` of Keras 2: weights under `model_weights/`,
    optimizer slots under `optimizer_weights/` (ignored); the gain is the
    variable `<cell>/gamma` there, `layernorm/gamma` in a checkpoint."""
    used = _loaded("layer_norm_simple_rnn",
                   path=DATA / "layer_norm_simple_rnn_model.h5")[2]
    np.testing.assert_allclose(used, OUT["layer_norm_simple_rnn/outputs"],
                               atol=ATOL)
    names = convert.read_checkpoint(DATA / "layer_norm_simple_rnn_model.h5")
    assert sorted(names) == [
        f"rnn_2/rnn_2/layer_norm_simple_rnn_cell/{w}"
        for w in ("bias", "gamma", "kernel", "recurrent_kernel")]


# --- attention -----------------------------------------------------------------------

MECHANISMS = {
    "bahdanau": lambda: keras_seqmem.BahdanauAttention(4, normalize=True),
    "luong": lambda: LuongAttention(4, scale=True),
    "bahdanau_monotonic": lambda: BahdanauMonotonicAttention(
        4, normalize=True, score_bias_init=SCORE_BIAS_INIT),
    "luong_monotonic": lambda: LuongMonotonicAttention(
        4, scale=True, score_bias_init=SCORE_BIAS_INIT),
}


def _memory():
    memory = OUT["attention/memory"]
    mask = (np.arange(memory.shape[1])[None, :]
            < OUT["attention/lengths"][:, None])
    return memory, mask


@pytest.mark.parametrize("name", sorted(MECHANISMS))
def test_attention_mechanisms_equal_tfa(name):
    query = OUT["attention/query"]
    memory, mask = _memory()
    layer = MECHANISMS[name]()
    layer([query, memory])
    convert.load_tfa_weights(layer, _ckpt(name))
    # One call on the query sequence (a monotonic mechanism runs its
    # recursion over the steps from the one-hot start, as AttentionWrapper).
    context, alignment = layer([query, memory], mask=[None, mask],
                               return_attention_scores=True)
    np.testing.assert_allclose(_np(alignment), OUT[f"{name}/alignments"],
                               atol=ATOL)
    np.testing.assert_allclose(_np(context), OUT[f"{name}/contexts"],
                               atol=ATOL)


def test_attention_wrapper_equals_tfa():
    """tfa's AttentionWrapper(LSTMCell, LuongAttention(scale=True),
    attention_layer_size=5) onto AttentiveDecoder in Luong order."""
    targets = OUT["wrapper/targets"]
    memory, mask = _memory()
    decoder = keras_seqmem.AttentiveDecoder(
        keras.layers.LSTMCell(4), LuongAttention(4, scale=True),
        order="luong", attention_layer_size=5, return_alignments=True)
    decoder([targets, memory])
    used = convert.load_tfa_weights(decoder, _ckpt("attention_wrapper"),
                                    scope="wrapper")
    assert len(used) == 6
    # The checkpoint holds one wrapper: the scope may be left out.
    again = keras_seqmem.AttentiveDecoder.from_config(decoder.get_config())
    again([targets, memory])
    assert sorted(convert.load_tfa_weights(
        again, _ckpt("attention_wrapper")).values()) == sorted(used.values())
    outputs, alignments = decoder([targets, memory], mask=[None, mask])
    np.testing.assert_allclose(_np(alignments), OUT["wrapper/alignments"],
                               atol=ATOL)
    np.testing.assert_allclose(_np(outputs), OUT["wrapper/outputs"],
                               atol=ATOL)


# --- planted faults: what the comparisons catch -------------------------------------


def test_swapped_gate_blocks_and_swapped_names_are_caught():
    layer, _, good = _loaded("peephole_lstm")
    expected = OUT["peephole_lstm/outputs"]
    np.testing.assert_allclose(good, expected, atol=ATOL)
    # A mapping that swapped the i and f blocks of the kernel.
    kernel = layer.cell.kernel
    value = _np(kernel)
    u = value.shape[1] // 4
    kernel.assign(np.concatenate(
        [value[:, u:2 * u], value[:, :u], value[:, 2 * u:]], axis=1))
    assert np.max(np.abs(_np(layer(OUT["cells/x"])) - expected)) > FAULT
    # A name table that swapped two peephole vectors (small weights after
    # two steps from glorot_uniform, with small cell states: the outputs
    # move by about 1e-4, still ten times ATOL).
    _, _, wrong = _loaded("peephole_lstm", name_map={
        "input_gate_peephole_weights": "forget_gate_peephole_weights",
        "forget_gate_peephole_weights": "input_gate_peephole_weights"})
    assert np.max(np.abs(wrong - expected)) > 10 * ATOL
    # One that swapped the input and recurrent normalisations' gains.
    _, _, wrong = _loaded("layer_norm_lstm", name_map={
        "kernel_norm_gamma": "recurrent_norm/gamma",
        "recurrent_norm_gamma": "kernel_norm/gamma"})
    assert np.max(np.abs(wrong - OUT["layer_norm_lstm/outputs_0"])) > FAULT


def test_hard_sigmoid_default_not_converted_is_caught():
    expected = OUT["peephole_lstm_hard_sigmoid/outputs"]
    for activation in ("sigmoid", "hard_sigmoid"):  # ours, Keras 3's
        _, _, wrong = _loaded(
            "peephole_lstm_hard_sigmoid",
            make=lambda: keras_seqmem.PeepholeLSTM(
                4, return_sequences=True, recurrent_activation=activation))
        assert np.max(np.abs(wrong - expected)) > FAULT, activation


def test_keras2_and_keras3_hard_sigmoid():
    grid = dict(np.load(DATA / "hard_sigmoid.npz"))
    x = grid["x"]
    # tf-keras's hard_sigmoid (what the Keras 2 cell ran) is clip(0.2x+.5).
    np.testing.assert_allclose(grid["tf_keras"], np.clip(0.2 * x + 0.5, 0, 1),
                               atol=1e-7)
    np.testing.assert_allclose(_np(convert.keras2_hard_sigmoid(x)),
                               grid["tf_keras"], atol=1e-7)
    # Keras 3's is relu6(x + 3) / 6: up to 1/12 away (at |x| = 2.5).
    keras3 = _np(keras.activations.hard_sigmoid(x))
    np.testing.assert_allclose(keras3, np.clip(x + 3, 0, 6) / 6, atol=1e-6)
    gap = np.abs(keras3 - grid["tf_keras"])
    assert abs(gap.max() - 1 / 12) < 1e-6
    assert set(np.round(np.abs(x[gap > 1 / 12 - 1e-6]), 4)) == {2.5}
    # A cell built with it saves and loads (registered with Keras).
    cell = keras_seqmem.PeepholeLSTMCell(
        4, recurrent_activation=convert.keras2_hard_sigmoid)
    again = keras.saving.deserialize_keras_object(
        json.loads(json.dumps(keras.saving.serialize_keras_object(cell))))
    assert again.recurrent_activation is convert.keras2_hard_sigmoid


def test_missing_variable_names_it_and_lists_the_checkpoint():
    layer = keras_seqmem.LayerNormLSTM(4)  # same kernel shapes, no norms
    layer(OUT["cells/x"])
    with pytest.raises(ValueError) as error:
        convert.load_tfa_weights(layer, _ckpt("peephole_lstm"))
    message = str(error.value)
    assert "'kernel_norm_gamma'" in message and "'kernel_norm/gamma'" in message
    assert "layer_with_weights-0/cell/input_gate_peephole_weights (4,)" in (
        message)
    # strict=False loads what exists and leaves the rest.
    used = convert.load_tfa_weights(layer, _ckpt("peephole_lstm"),
                                    strict=False)
    assert sorted(k.rsplit("/", 1)[1] for k in used) == [
        "bias", "kernel", "recurrent_kernel"]


def test_variable_ours_lacks_is_refused():
    # An ESN (LeakyRNN) from a layer-norm simple RNN: kernel, recurrent
    # kernel and bias fit, but the checkpoint's cell also has a gain.
    layer = CELLS["esn"][0]()
    layer(OUT["cells/x"])
    with pytest.raises(ValueError, match=r"layernorm/gamma"):
        convert.load_tfa_weights(layer, _ckpt("layer_norm_simple_rnn"))
    # Luong without scale= from a scaled checkpoint.
    layer = LuongAttention(4)
    layer([OUT["attention/query"], OUT["attention/memory"]])
    with pytest.raises(ValueError, match=r"attention_g.*scale="):
        convert.load_tfa_weights(layer, _ckpt("luong"))


def test_shape_mismatch_names_both_shapes():
    layer = keras_seqmem.PeepholeLSTM(5)
    layer(OUT["cells/x"])
    with pytest.raises(ValueError, match=re.escape(
            "ours is (3, 20), the checkpoint's "
            "'layer_with_weights-0/cell/kernel' is (3, 16)")):
        convert.load_tfa_weights(layer, _ckpt("peephole_lstm"))


def test_several_layers_need_a_scope():
    layer = keras_seqmem.LayerNormLSTM(6)
    layer(OUT["cells/x"])
    with pytest.raises(ValueError, match=r"scope='layer_with_weights-0/cell'"):
        convert.load_tfa_weights(layer, _ckpt("layer_norm_lstm"))


def test_bad_calls_raise_clear_errors(tmp_path):
    layer = keras_seqmem.PeepholeLSTM(4)
    with pytest.raises(ValueError, match="not built"):
        convert.load_tfa_weights(layer, _ckpt("peephole_lstm"))
    layer(OUT["cells/x"])
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        convert.load_tfa_weights(layer, str(tmp_path / "nothing"))
    with pytest.raises(FileNotFoundError, match="no TensorFlow checkpoint in"):
        convert.load_tfa_weights(layer, str(tmp_path))
    conv = keras.layers.Conv1D(4, 3)
    conv(OUT["cells/x"])
    with pytest.raises(ValueError, match=r"Supported: .*LayerNormLSTMCell"):
        convert.load_tfa_weights(conv, _ckpt("peephole_lstm"))


# --- defaults and losses: what the weights do not carry ---------------------------


def _plain(config):
    return {k: (v["class_name"] if isinstance(v, dict) and "class_name" in v
                else v) for k, v in config.items()}


# tfa / Keras-2 class -> ours, built with only `units` (= 4, the fixture's).
DEFAULT_PAIRS = {
    "tfa.rnn.LayerNormLSTMCell": lambda: keras_seqmem.LayerNormLSTMCell(4),
    "tfa.rnn.LayerNormSimpleRNNCell":
        lambda: keras_seqmem.LayerNormSimpleRNNCell(4),
    "tfa.rnn.PeepholeLSTMCell": lambda: keras_seqmem.PeepholeLSTMCell(4),
    "tfa.rnn.ESNCell": lambda: keras_seqmem.LeakyRNNCell.echo_state(4),
    "tf.keras.layers.LSTMCell": lambda: keras.layers.LSTMCell(4),
    "tfa.seq2seq.BahdanauAttention":
        lambda: keras_seqmem.BahdanauAttention(4),
    "tfa.seq2seq.LuongAttention": lambda: LuongAttention(4),
    "tfa.seq2seq.BahdanauMonotonicAttention":
        lambda: BahdanauMonotonicAttention(4),
    "tfa.seq2seq.LuongMonotonicAttention":
        lambda: LuongMonotonicAttention(4),
}
# Config keys whose values differ by design (the migration page says how).
EXPECTED_DIFFERENCES = {
    "tfa.rnn.ESNCell": {"trainable", "recurrent_initializer"},
}


@pytest.mark.parametrize("name", sorted(DEFAULT_PAIRS))
def test_defaults_equal_tfa(name):
    """Every argument ours shares with the tfa class (recorded from tfa 0.23
    by the fixture script) has tfa's default: norm_epsilon 1e-3 and
    layernorm_epsilon 1e-5, recurrent_activation sigmoid, probability_fn,
    score_bias_init, mode, sigmoid_noise, the initializers."""
    theirs = MANIFEST["default_configs"][name]
    ours = _plain(DEFAULT_PAIRS[name]().get_config())
    shared = set(theirs) & set(ours) - {"name", "dtype"}
    differ = {k for k in shared if theirs[k] != ours[k]}
    assert differ == EXPECTED_DIFFERENCES.get(name, set()), {
        k: (theirs[k], ours[k]) for k in differ}
    assert len(shared) >= 3
    if name == "tfa.rnn.ESNCell":  # the arguments become gamma and the init
        config = DEFAULT_PAIRS[name]().get_config()
        assert config["gamma"] == 1.0 / theirs["leaky"]
        assert config["trainable"] is False  # tfa's weights: trainable=False
        reservoir = config["recurrent_initializer"]["config"]
        for key in ("connectivity", "spectral_radius", "use_norm2"):
            assert reservoir[key] == theirs[key]
        assert reservoir["base_initializer"]["class_name"] == (
            theirs["recurrent_initializer"])


def test_sequence_loss_the_keras3_way():
    logits, targets = OUT["loss/logits"], OUT["loss/targets"]
    mask, weights = OUT["loss/mask"], OUT["loss/weights"]
    tfa_mask = float(OUT["loss/sequence_loss/mask"])
    assert abs(tfa_mask - float(OUT["loss/SequenceLoss/mask"])) < 1e-6
    # 0/1 weights: the padding id as ignore_class (or a Keras mask).
    ignore = keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, ignore_class=0)
    assert abs(float(ignore(targets, logits)) - tfa_mask) < 1e-5
    # General weights: a sum, divided by sum(w) (sequence_loss) or by the
    # number of non-zero weights (SequenceLoss).
    summed = keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction="sum")
    total = float(summed(targets, logits, sample_weight=weights))
    assert abs(total / weights.sum()
               - float(OUT["loss/sequence_loss/weights"])) < 1e-5
    assert abs(total / np.count_nonzero(weights)
               - float(OUT["loss/SequenceLoss/weights"])) < 1e-5
    # The pitfall: sample_weight with the default reduction divides by
    # batch x time, padding included.
    plain = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    padded = float(plain(targets, logits, sample_weight=mask))
    assert abs(padded - tfa_mask * mask.mean()) < 1e-5
    assert abs(padded - tfa_mask) > 0.1


# --- the migration page ----------------------------------------------------------------


def test_migration_page_names_every_tfa_symbol():
    symbols = json.loads((DATA / "tfa_symbols.json").read_text())
    assert len(symbols["tfa.rnn"]) == 10 and len(symbols["tfa.seq2seq"]) == 38
    page = (ROOT / "docs" / "pages" / "migrating_from_tfa.md").read_text()
    missing = [f"{module}.{name}" for module, names in symbols.items()
               for name in names
               if not re.search(re.escape(f"{module}.{name}") + r"\b", page)]
    assert not missing, f"not on migrating_from_tfa.md: {missing}"


def test_migration_page_gives_every_weight_name_of_the_converter():
    """The page's weight-name table and `convert.TFA_NAMES` agree: each
    weight of ours and its tfa name are on the page, in code spans."""
    page = (ROOT / "docs" / "pages" / "migrating_from_tfa.md").read_text()
    page = re.sub(r"```.*?```", "", page, flags=re.S)  # code blocks
    spans = set()
    for span in re.findall(r"`([^`]+)`", page):
        spans.update(part.strip() for part in span.split(","))
    missing = sorted({name for table in convert.TFA_NAMES.values()
                      for ours, theirs in table.items()
                      for name in (ours, theirs[0]) if name not in spans})
    assert not missing, f"not on migrating_from_tfa.md: {missing}"


# --- JAX ---------------------------------------------------------------------------------

_JAX_SCRIPT = r"""
import sys
sys.modules["tensorflow"] = None  # TensorFlow not installed: .h5 files only
import h5py
import numpy as np
import keras
import keras_seqmem
# `import keras_seqmem` registers Keras 2's hard_sigmoid, so a saved model
# that uses it loads without importing keras_seqmem.convert first.
assert keras.saving.get_registered_object(
    "keras_seqmem>keras2_hard_sigmoid") is not None
from keras_seqmem import convert
assert keras.backend.backend() == "jax"
data = sys.argv[1]
out = dict(np.load(data + "/outputs.npz"))
x = out["cells/x"]
layer = keras_seqmem.LayerNormLSTM(4, return_sequences=True)
layer.build((None, None, 6))
convert.load_tfa_weights(layer, data + "/layer_norm_lstm.h5", scope="rnn_1")
with h5py.File(data + "/layer_norm_lstm.h5") as f:
    cell = f["rnn_1/rnn_1/layer_norm_lstm_cell_1"]
    assert np.array_equal(np.asarray(layer.cell.kernel_norm_gamma),
                          cell["kernel_norm/gamma:0"])
try:
    convert.load_tfa_weights(layer, data + "/peephole_lstm/ckpt")
    raise SystemExit("no ImportError without TensorFlow")
except ImportError as error:
    assert "pip install tensorflow-cpu" in str(error), error
del sys.modules["tensorflow"]  # TensorFlow installed: checkpoints load
layer = keras_seqmem.PeepholeLSTM(4, return_sequences=True)
layer.build(x.shape)
convert.load_tfa_weights(layer, data + "/peephole_lstm/ckpt")
print(np.abs(np.asarray(layer(x)) - out["peephole_lstm/outputs"]).max())
"""


def test_on_jax_in_a_subprocess():
    """Under KERAS_BACKEND=jax: an .h5 file loads without TensorFlow, a
    TensorFlow checkpoint says which pip install is missing, and with
    TensorFlow importable it loads and matches tfa's outputs."""
    pytest.importorskip("jax")
    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-c", _JAX_SCRIPT, str(DATA)],
                          env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert float(done.stdout.split()[-1]) < ATOL
