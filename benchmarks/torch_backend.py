"""Does every public layer of keras_seqmem run on Keras' PyTorch backend?

For each public layer, cell and model (the rows of `_rows()`: every
public class, then the same with the options that take other code paths),
under `KERAS_BACKEND=torch`, this script

    build      constructs a tiny model around it (batch 4, a few steps, a
               few units) and builds it;
    train      `compile(SGD, jit_compile=False)` and `fit` for 2 steps
               (4 examples, batch_size=2, shuffle=False); the loss must be
               finite;
    predict    `predict` on the 4 examples; the outputs must be finite;
    save_load  `model.save("model.keras")`, `keras.saving.load_model`,
               predict: the same outputs;
    decode     (Seq2Seq only) `generate(method="greedy" / "beam",
               jit_compile=False)`;
    jit        (the rows of `JIT_ROWS`, each in a new process)
               `compile(jit_compile=True)` (on the torch backend Keras then
               runs `torch.compile`), `predict` with the initial weights
               (compared with the eager prediction), then `fit` for 2 steps
               from the same weights (losses compared with the eager fit);
               where torch.compile broke the graph, and why.

and records for every stage whether it worked, the seconds it took (one
call, first-call overheads included: these are not throughput figures),
and on failure the exception type and the first line of its message. A
stage is only tried when the stages it needs worked.

With `--reference-dir DIR` the torch run also writes, per row, the initial
and the trained weights, the training losses, the predictions and the
decodes to DIR. Running the script again under TensorFlow with `--compare
DIR` (in an environment that has TensorFlow) rebuilds each model, loads the
same initial weights and fits the same way (the losses compare the
gradients), then loads the weights torch trained and predicts and decodes
(the outputs compare the forward pass), and records the largest differences
from the torch numbers in the results file: a row that "works" on torch
also computes what it computes on TensorFlow. The optimizer is plain SGD
(0.1) for that reason (see `_compile`).

    # in a venv with torch, keras, numpy and keras_seqmem (no TensorFlow):
    python benchmarks/torch_backend.py --reference-dir /tmp/torch_ref \\
        --json benchmarks/results/torch_backend_2026-12-02.json
    # in a venv with TensorFlow:
    python benchmarks/torch_backend.py --compare /tmp/torch_ref \\
        --json benchmarks/results/torch_backend_2026-12-02.json

`--only NAME ...` runs some rows; `--no-jit` skips the jit stage and
`--jit-rows` picks the rows it runs on (`JIT_ROWS` by default, `all`);
`--jit-timeout S` bounds it per row (default 300 s; torch.compile builds
C++ kernels on the CPU, which is slow on 2 cores).
"""

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import traceback

BATCH, STEPS, FEATURES, UNITS = 4, 5, 3, 4
MEMORY_STEPS = 6

# torch.compile takes one to three minutes per row on 2 CPU cores, so by
# default the jit stage runs on one row per family of layers.
JIT_ROWS = ("LeakyRNN", "PeepholeLSTM + Masking",
            "PeepholeLSTMCell in keras_seqmem.RNN", "BahdanauAttention",
            "AttentiveDecoder", "Seq2Seq", "KeyValueMemory", "MemN2N",
            "NTM", "ACTRNN(ACT(LSTMCell))")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                allow_abbrev=False)
    p.add_argument("--json", metavar="PATH", help="write the results here")
    p.add_argument("--only", nargs="+", metavar="NAME",
                   help="run only these rows")
    p.add_argument("--no-jit", action="store_true",
                   help="skip the jit_compile=True stage")
    p.add_argument("--jit-rows", nargs="+", metavar="NAME",
                   default=list(JIT_ROWS),
                   help="rows whose jit stage runs (default: one per "
                        "family, JIT_ROWS; 'all' for every row)")
    p.add_argument("--jit-timeout", type=float, default=300.0,
                   help="seconds allowed to the jit stage of one row (300)")
    p.add_argument("--reference-dir", metavar="DIR",
                   help="torch run: save weights, losses and predictions")
    p.add_argument("--jit-child", nargs=3, help=argparse.SUPPRESS,
                   metavar=("NAME", "WEIGHTS", "OUT"))
    p.add_argument("--compare", metavar="DIR",
                   help="run under TensorFlow and compare with the torch "
                        "numbers saved in DIR; updates --json in place")
    return p.parse_args(argv)


ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None:
    os.environ["KERAS_BACKEND"] = "tensorflow" if ARGS.compare else "torch"

import numpy as np  # noqa: E402
import keras  # noqa: E402

import keras_seqmem  # noqa: E402


# -- the rows -----------------------------------------------------------------
#
# Each maker returns (model, x, y, loss): a built Keras model and 4
# examples. They run unchanged on every backend.

def _floats(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _sequence_model(layer, features=FEATURES, steps=STEPS):
    inputs = keras.Input((steps, features))
    outputs = keras.layers.Dense(1)(layer(inputs))
    return (keras.Model(inputs, outputs), _floats(BATCH, steps, features),
            _floats(BATCH, 1, seed=1), "mse")


def _masked_sequence_model(layer):
    """Masking -> layer(return_sequences=True) -> Dense(1) per step; the
    last two steps of examples 0 and 1 are padding."""
    inputs = keras.Input((STEPS, FEATURES))
    hidden = layer(keras.layers.Masking(0.0)(inputs))
    outputs = keras.layers.Dense(1)(hidden)
    x = _floats(BATCH, STEPS, FEATURES)
    x[:2, -2:] = 0.0
    return (keras.Model(inputs, outputs), x,
            _floats(BATCH, STEPS, 1, seed=1), "mse")


def _cells():
    return {
        "LeakyRNNCell": lambda: keras_seqmem.LeakyRNNCell(
            UNITS, gamma_range=(1, 10)),
        "PeepholeLSTMCell": lambda: keras_seqmem.PeepholeLSTMCell(UNITS),
        "CoupledLSTMCell": lambda: keras_seqmem.CoupledLSTMCell(UNITS),
        "NTMCell": lambda: keras_seqmem.NTMCell(
            controller=8, memory_size=6, word_size=3, units=UNITS),
        # time_penalty=0: outside ACTRNN no loop can add the ponder cost, and
        # ACT refuses a positive one there.
        "ACT": lambda: keras_seqmem.ACT(
            keras.layers.GRUCell(UNITS), max_ponder_steps=3, time_penalty=0.0),
    }


def make_layer_row(name):
    layer = getattr(keras_seqmem, name)
    if name == "LeakyRNN":
        return lambda: _sequence_model(layer(UNITS, gamma_range=(1, 10)))
    return lambda: _sequence_model(layer(UNITS))


def make_masked_row(name):
    layer = getattr(keras_seqmem, name)
    kwargs = {"gamma_range": (1, 10)} if name == "LeakyRNN" else {}
    return lambda: _masked_sequence_model(
        layer(UNITS, return_sequences=True, **kwargs))


def make_cell_row(cell_name, wrapper):
    def make():
        cell = _cells()[cell_name]()
        if wrapper == "keras.layers.RNN":
            return _sequence_model(keras.layers.RNN(cell))
        return _sequence_model(keras_seqmem.RNN(cell))
    return make


def make_bahdanau():
    query = keras.Input((STEPS, FEATURES))
    values = keras.Input((MEMORY_STEPS, 2))
    context = keras_seqmem.BahdanauAttention(UNITS, normalize=True)(
        [query, values])
    outputs = keras.layers.Dense(1)(context)
    x = [_floats(BATCH, STEPS, FEATURES), _floats(BATCH, MEMORY_STEPS, 2,
                                                  seed=2)]
    return (keras.Model([query, values], outputs), x,
            _floats(BATCH, STEPS, 1, seed=1), "mse")


def make_attentive_decoder():
    targets = keras.Input((STEPS, FEATURES))
    memory = keras.Input((MEMORY_STEPS, 2))
    decoder = keras_seqmem.AttentiveDecoder(
        keras.layers.LSTMCell(UNITS),
        attention=keras_seqmem.BahdanauAttention(UNITS))
    outputs = keras.layers.Dense(1)(decoder([targets, memory]))
    x = [_floats(BATCH, STEPS, FEATURES), _floats(BATCH, MEMORY_STEPS, 2,
                                                  seed=2)]
    return (keras.Model([targets, memory], outputs), x,
            _floats(BATCH, STEPS, 1, seed=1), "mse")


SEQ2SEQ_VOCAB = 9


def make_seq2seq(**kwargs):
    model = keras_seqmem.Seq2Seq(
        SEQ2SEQ_VOCAB, SEQ2SEQ_VOCAB, embedding_dim=4, units=UNITS,
        attention_units=UNITS, max_decode_length=6, **kwargs)
    model.build()
    rng = np.random.default_rng(0)
    source = rng.integers(3, SEQ2SEQ_VOCAB, (BATCH, 5)).astype("int32")
    source[0, 3:] = 0  # padding
    target = rng.integers(3, SEQ2SEQ_VOCAB, (BATCH, 4)).astype("int32")
    decoder_inputs = np.concatenate(
        [np.ones((BATCH, 1), "int32"), target], axis=1)
    labels = np.concatenate([target, np.full((BATCH, 1), 2, "int32")],
                            axis=1)
    loss = keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, ignore_class=0)
    return model, (source, decoder_inputs), labels, loss


MEMORY_VOCAB = 10


def _story_model(layer):
    story = keras.Input((None, None), dtype="int32")
    question = keras.Input((None,), dtype="int32")
    logits = layer([story, question])
    rng = np.random.default_rng(0)
    stories = rng.integers(1, MEMORY_VOCAB, (BATCH, 4, 3)).astype("int32")
    stories[0, 3] = 0  # an empty slot
    questions = rng.integers(1, MEMORY_VOCAB, (BATCH, 3)).astype("int32")
    answers = rng.integers(1, MEMORY_VOCAB, (BATCH,)).astype("int32")
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return (keras.Model([story, question], logits), [stories, questions],
            answers, loss)


def make_memn2n(**kwargs):
    return _story_model(keras_seqmem.MemN2N(
        MEMORY_VOCAB, embedding_dim=4, hops=2, memory_size=6, **kwargs))


def make_kv_network(**kwargs):
    return _story_model(keras_seqmem.KeyValueMemoryNetwork(
        MEMORY_VOCAB, embedding_dim=4, hops=2, memory_size=6, **kwargs))


def make_key_value_memory():
    query = keras.Input((FEATURES,))
    keys = keras.Input((MEMORY_STEPS, FEATURES))
    values = keras.Input((MEMORY_STEPS, 2))
    read = keras_seqmem.KeyValueMemory()([query, keys, values])
    outputs = keras.layers.Dense(1)(read)
    x = [_floats(BATCH, FEATURES), _floats(BATCH, MEMORY_STEPS, FEATURES,
                                           seed=2),
         _floats(BATCH, MEMORY_STEPS, 2, seed=3)]
    return (keras.Model([query, keys, values], outputs), x,
            _floats(BATCH, 1, seed=1), "mse")


def make_ntm():
    return _sequence_model(keras_seqmem.NTM(
        controller=8, memory_size=6, word_size=3, units=UNITS))


def make_actrnn():
    return _sequence_model(keras_seqmem.ACTRNN(keras_seqmem.ACT(
        keras.layers.LSTMCell(UNITS), max_ponder_steps=3)))


def make_stateful(layer):
    """A stateful layer needs a fixed batch: fit runs batches of 2."""
    def make():
        inputs = keras.Input((STEPS, FEATURES), batch_size=2)
        outputs = keras.layers.Dense(1)(layer()(inputs))
        return (keras.Model(inputs, outputs),
                _floats(BATCH, STEPS, FEATURES), _floats(BATCH, 1, seed=1),
                "mse")
    return make


def make_decoder_options():
    """Dropout in the cell and on the attention weights, weight-normalised
    attention, a memory mask, alignments and states returned."""
    targets = keras.Input((STEPS, FEATURES))
    memory = keras.Input((MEMORY_STEPS, 2))
    masked = keras.layers.Masking(0.0)(memory)
    decoder = keras_seqmem.AttentiveDecoder(
        keras_seqmem.PeepholeLSTMCell(UNITS, dropout=0.2),
        attention=keras_seqmem.BahdanauAttention(UNITS, normalize=True,
                                                 dropout=0.2),
        return_alignments=True, return_state=True)
    outputs, alignments, *_ = decoder([targets, masked])
    outputs = keras.layers.Dense(1)(outputs)
    memory_values = _floats(BATCH, MEMORY_STEPS, 2, seed=2)
    memory_values[0, -2:] = 0.0
    x = [_floats(BATCH, STEPS, FEATURES), memory_values]
    return (keras.Model([targets, memory], outputs), x,
            _floats(BATCH, STEPS, 1, seed=1), "mse")


def make_ntm_options():
    return _masked_sequence_model(keras_seqmem.NTM(
        controller=keras.layers.LSTMCell(8), memory_size=6, word_size=3,
        units=UNITS, num_read_heads=2, return_sequences=True,
        go_backwards=True))


def make_act_options():
    return _masked_sequence_model(keras_seqmem.ACTRNN(keras_seqmem.ACT(
        keras.layers.GRUCell(UNITS), max_ponder_steps=4,
        halting_input="state"), return_sequences=True))


def _option_rows():
    """Rows with the options that take other code paths (dropout masks,
    go_backwards, unroll, stateful, stacked cells, random noise, ...)."""
    stochastic = {"stochastic": True}
    return {
        "PeepholeLSTM(go_backwards, dropout, recurrent_dropout)": (
            lambda: _sequence_model(keras_seqmem.PeepholeLSTM(
                UNITS, go_backwards=True, dropout=0.2,
                recurrent_dropout=0.2)), stochastic),
        "LeakyRNN(unroll=True, dropout)": (
            lambda: _sequence_model(keras_seqmem.LeakyRNN(
                UNITS, gamma_range=(1, 10), unroll=True, dropout=0.2,
                recurrent_dropout=0.2)), stochastic),
        "CoupledLSTM(stateful=True)": (make_stateful(
            lambda: keras_seqmem.CoupledLSTM(UNITS, stateful=True)), {}),
        "CoupledLSTMCell in keras.layers.RNN(stateful=True)": (
            make_stateful(lambda: keras.layers.RNN(
                keras_seqmem.CoupledLSTMCell(UNITS), stateful=True)), {}),
        "keras_seqmem.RNN([PeepholeLSTMCell, CoupledLSTMCell])": (
            lambda: _sequence_model(keras_seqmem.RNN([
                keras_seqmem.PeepholeLSTMCell(UNITS),
                keras_seqmem.CoupledLSTMCell(UNITS)])), {}),
        "AttentiveDecoder(dropout, normalize, alignments, state)": (
            make_decoder_options, stochastic),
        "Seq2Seq(peephole_lstm, normalize)": (
            lambda: make_seq2seq(cell="peephole_lstm", normalize=True),
            {"decode": ("greedy", "beam")}),
        "Seq2Seq(gru, unidirectional, no attention)": (
            lambda: make_seq2seq(cell="gru", bidirectional=False,
                                 use_attention=False),
            {"decode": ("greedy", "beam")}),
        "MemN2N(layerwise, bow, random_noise, empty_slots=attend)": (
            lambda: make_memn2n(weight_tying="layerwise", encoding="bow",
                                random_noise=0.3, empty_slots="attend",
                                seed=1), stochastic),
        "KeyValueMemoryNetwork(random_noise, empty_slots=attend)": (
            lambda: make_kv_network(random_noise=0.3, empty_slots="attend",
                                    seed=1), stochastic),
        "NTM(LSTMCell controller, 2 read heads, go_backwards) + Masking": (
            make_ntm_options, {}),
        "ACTRNN(ACT(GRUCell, halting_input=state)) + Masking": (
            make_act_options, {}),
    }


def _rows():
    rows = {}
    for name in ("LeakyRNN", "PeepholeLSTM", "CoupledLSTM"):
        rows[name] = (make_layer_row(name), {})
    for name in ("LeakyRNN", "PeepholeLSTM", "CoupledLSTM"):
        rows[f"{name} + Masking"] = (make_masked_row(name), {})
    for cell in ("LeakyRNNCell", "PeepholeLSTMCell", "CoupledLSTMCell"):
        for wrapper in ("keras.layers.RNN", "keras_seqmem.RNN"):
            rows[f"{cell} in {wrapper}"] = (make_cell_row(cell, wrapper), {})
    rows["BahdanauAttention"] = (make_bahdanau, {})
    rows["AttentiveDecoder"] = (make_attentive_decoder, {})
    rows["Seq2Seq"] = (make_seq2seq, {"decode": ("greedy", "beam")})
    rows["KeyValueMemory"] = (make_key_value_memory, {})
    rows["MemN2N"] = (make_memn2n, {})
    rows["MemN2N + LinearStart"] = (make_memn2n, {"linear_start": True})
    rows["KeyValueMemoryNetwork"] = (make_kv_network, {})
    rows["NTM"] = (make_ntm, {})
    for wrapper in ("keras.layers.RNN", "keras_seqmem.RNN"):
        rows[f"NTMCell in {wrapper}"] = (make_cell_row("NTMCell", wrapper),
                                         {})
    rows["ACTRNN(ACT(LSTMCell))"] = (make_actrnn, {})
    for wrapper in ("keras.layers.RNN", "keras_seqmem.RNN"):
        rows[f"ACT(GRUCell) in {wrapper}"] = (make_cell_row("ACT", wrapper),
                                              {})
    rows.update(_option_rows())
    return rows


# -- running a row ------------------------------------------------------------

def _error(exc):
    message = str(exc).strip().splitlines()
    return {"type": type(exc).__name__,
            "message": message[0][:300] if message else ""}


def _stage(record, name, fn):
    """Runs `fn()`, records ok / seconds / error under `record[name]`."""
    start = time.perf_counter()
    try:
        value = fn()
    except Exception as exc:  # noqa: BLE001 -- recorded, not hidden
        seconds = time.perf_counter() - start
        record[name] = {"ok": False, "seconds": round(seconds, 3),
                        "error": _error(exc)}
        record[name]["traceback_tail"] = traceback.format_exc().splitlines(
        )[-6:]
        return None
    record[name] = {"ok": True,
                    "seconds": round(time.perf_counter() - start, 3)}
    return value


def _seconds(fn):
    start = time.perf_counter()
    fn()
    return round(time.perf_counter() - start, 4)


def _as_list(outputs):
    if isinstance(outputs, (list, tuple)):
        return [np.asarray(o) for o in outputs]
    return [np.asarray(outputs)]


def _check_finite(values, what):
    for v in values:
        if not np.all(np.isfinite(v)):
            raise FloatingPointError(f"non-finite {what}: {v!r}")


def _compile(model, loss, jit_compile):
    # Plain SGD: with Adam, Keras' TensorFlow optimizer updates an
    # embedding from its sparse gradient (`tf.IndexedSlices`), and a token
    # repeated in a batch then gets a different second moment than the dense
    # gradient of torch gives it; SGD keeps the comparison to the gradients.
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss,
                  jit_compile=jit_compile)


def _fit(model, x, y, options):
    callbacks = []
    if options.get("linear_start"):
        callbacks.append(keras_seqmem.LinearStart(monitor="loss",
                                                  max_epochs=1))
    history = model.fit(x, y, batch_size=2, epochs=1, shuffle=False,
                        verbose=0, callbacks=callbacks)
    losses = [float(v) for v in history.history["loss"]]
    _check_finite(losses, "loss")
    return losses


def _predict(model, x):
    # A stateful layer starts every prediction from zero states.
    for layer in model.layers:
        if getattr(layer, "stateful", False):
            layer.reset_states()
    outputs = _as_list(model.predict(x, batch_size=2, verbose=0))
    _check_finite(outputs, "prediction")
    return outputs


def _save_load(model, x, predictions, folder):
    """`model.save` to a .keras file, `load_model`, predict: the largest
    difference from `predictions`."""
    path = os.path.join(folder, "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    return float(max(np.max(np.abs(a - b)) for a, b in
                     zip(_predict(loaded, x), predictions)))


def _decode(model, source, method):
    result = model.generate(source, method=method, beam_width=3,
                            max_length=6, jit_compile=False)
    ids = np.asarray(result.ids)
    scores = np.asarray(result.scores)
    _check_finite([scores], "decode score")
    return ids, scores


def run_row(name, make, options, jit, jit_timeout, reference_dir=None):
    record = {"row": name}
    keras.utils.set_random_seed(0)
    built = _stage(record, "build", make)
    if built is None:
        return record
    model, x, y, loss = built
    record["parameters"] = int(model.count_params())
    saved = {}
    folder = (os.path.join(reference_dir, _slug(name)) if reference_dir
              else tempfile.mkdtemp(prefix="torch_backend_"))
    os.makedirs(folder, exist_ok=True)
    initial_weights = os.path.join(folder, "initial.weights.h5")
    model.save_weights(initial_weights)

    _compile(model, loss, jit_compile=False)
    losses = _stage(record, "train", lambda: _fit(model, x, y, options))
    if losses is not None:
        record["train"]["loss"] = losses
        saved["losses"] = np.asarray(losses)
    if reference_dir and losses is not None:
        model.save_weights(os.path.join(folder, "trained.weights.h5"))
    predictions = _stage(record, "predict", lambda: _predict(model, x))
    if predictions is not None:
        record["predict"]["shapes"] = [list(p.shape) for p in predictions]
        record["predict"]["second_call_seconds"] = _seconds(
            lambda: _predict(model, x))
        for i, p in enumerate(predictions):
            saved[f"prediction_{i}"] = p

    if predictions is not None:
        difference = _stage(record, "save_load",
                            lambda: _save_load(model, x, predictions, folder))
        if difference is not None:
            record["save_load"]["max_abs_diff"] = difference

    for method in options.get("decode", ()):
        decoded = _stage(record, f"decode_{method}",
                         lambda: _decode(model, x[0], method))
        if decoded is not None:
            ids, scores = decoded
            record[f"decode_{method}"]["ids_shape"] = list(ids.shape)
            saved[f"decode_{method}_ids"] = ids
            saved[f"decode_{method}_scores"] = scores

    if jit and losses is not None:
        record["jit_compile_true"] = run_jit_child(
            name, initial_weights, losses, jit_timeout)

    if reference_dir:
        np.savez(os.path.join(reference_dir, _slug(name), "outputs.npz"),
                 **saved)
    return record


# -- jit_compile=True, one fresh process per row ------------------------------
#
# torch.compile keeps per-function state for the whole process (compiled
# code, guards, a limit of 8 recompilations of one function), and Keras'
# `train_step` / `Layer.forward` are the same functions for every model: in
# one process, the rows tried later would fall back to eager once that
# limit is hit. So each row's jit stage runs in a new Python process, with
# TORCH_LOGS=graph_breaks to count where torch.compile split the step.

def run_jit_child(name, initial_weights, eager_losses, timeout):
    out = initial_weights + ".jit.json"
    # A fresh inductor cache: the compile times are those of a first run.
    env = dict(os.environ, KERAS_BACKEND="torch", TORCH_LOGS="graph_breaks",
               TORCHINDUCTOR_CACHE_DIR=tempfile.mkdtemp(prefix="inductor_"))
    command = [sys.executable, os.path.abspath(__file__), "--jit-child",
               name, initial_weights, out]
    start = time.perf_counter()
    try:
        done = subprocess.run(command, env=env, capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"ok": False, "seconds": round(timeout, 1),
                "error": {"type": "Timeout",
                          "message": f"no result after {timeout} s"}}
    seconds = round(time.perf_counter() - start, 3)
    if done.returncode != 0 or not os.path.exists(out):
        tail = done.stderr.strip().splitlines()[-3:]
        return {"ok": False, "seconds": seconds,
                "error": {"type": "ChildFailed",
                          "message": " | ".join(tail)[:300]}}
    with open(out) as f:
        record = json.load(f)
    record["process_seconds"] = seconds
    train = record.get("train", {})
    if train.get("ok"):
        train["loss_max_abs_diff_vs_eager"] = float(np.max(np.abs(
            np.asarray(train["loss"]) - np.asarray(eager_losses))))
    lines = done.stderr.splitlines()
    record["graph_breaks"] = graph_breaks(lines)
    record["graph_breaks_in_keras_seqmem"] = sum(
        b["count"] for b in record["graph_breaks"]
        if "keras_seqmem" in b["where"])
    record["recompile_limit_hits"] = [
        _short_path(line.split("function: ", 1)[1].strip())
        for previous, line in zip(lines, lines[1:])
        if "recompile_limit" in previous and "function: " in line]
    record["ok"] = all(record[k]["ok"] for k in ("predict", "train")
                       if k in record) and "train" in record
    return record


def _short_path(text):
    """Paths in `text` made relative to site-packages, the repository or
    the standard library."""
    repository = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    text = text.strip().replace(repository + "/", "")
    return re.sub(r"/\S*?/(site-packages|lib/python3\.\d+)/", "", text)


def graph_breaks(lines):
    """Where torch.compile broke the graph and why, from the TORCH_LOGS
    =graph_breaks log: `[{"where", "reason", "count"}]`."""
    marker = "[__graph_breaks] "
    messages = [line.split(marker, 1)[1] if marker in line else ""
                for line in lines]
    found = {}
    for i, message in enumerate(messages):
        if not message.startswith("Graph break in user code at "):
            continue
        where = _short_path(message[len("Graph break in user code at "):])
        reason = ""
        for j in range(i + 1, min(i + 8, len(messages))):
            if messages[j].startswith("Graph Break Reason"):
                reason = next((m.strip() for m in messages[j + 1:j + 5]
                               if m.strip()), "")
                break
        key = (where, reason)
        found[key] = found.get(key, 0) + 1
    return [{"where": w, "reason": r, "count": n}
            for (w, r), n in found.items()]


def jit_child(name, initial_weights, out):
    """In a fresh process: the eager prediction with the initial weights,
    then `compile(jit_compile=True)`, predict (compared with it) and fit."""
    make, options = _rows()[name]
    keras.utils.set_random_seed(0)
    model, x, y, loss = make()
    model.load_weights(initial_weights)
    record = {}
    _compile(model, loss, jit_compile=False)
    eager = _predict(model, x)
    _compile(model, loss, jit_compile=True)
    predictions = _stage(record, "predict", lambda: _predict(model, x))
    if predictions is not None:
        record["predict"]["max_abs_diff_vs_eager"] = float(max(
            np.max(np.abs(a - b)) for a, b in zip(predictions, eager)))
        record["predict"]["second_call_seconds"] = _seconds(
            lambda: _predict(model, x))
    losses = _stage(record, "train", lambda: _fit(model, x, y, options))
    if losses is not None:
        record["train"]["loss"] = losses
    with open(out, "w") as f:
        json.dump(record, f)


def _slug(name):
    return "".join(c if c.isalnum() else "_" for c in name)


# -- comparing with TensorFlow ------------------------------------------------

def compare_row(name, make, options, reference_dir):
    """Same model, same initial weights, under the current backend: the
    largest differences from the torch run's losses and predictions."""
    path = os.path.join(reference_dir, _slug(name))
    weights = os.path.join(path, "initial.weights.h5")
    if not os.path.exists(weights):
        return {"compared": False, "why": "no torch weights (build failed)"}
    reference = dict(np.load(os.path.join(path, "outputs.npz")))
    keras.utils.set_random_seed(0)
    model, x, y, loss = make()
    model.load_weights(weights)
    result = {"compared": True}
    _compile(model, loss, jit_compile=False)
    if options.get("stochastic"):
        result["loss_compared"] = False
        result["why"] = ("dropout / random noise in training: the backends "
                         "draw different random numbers")
    elif "losses" in reference:
        losses = np.asarray(_fit(model, x, y, options))
        result["loss_torch"] = reference["losses"].tolist()
        result["loss_tensorflow"] = losses.tolist()
        result["loss_max_abs_diff"] = float(
            np.max(np.abs(losses - reference["losses"])))
    # Predictions and decodes with the weights torch trained, so that they
    # compare the forward pass alone.
    trained = os.path.join(path, "trained.weights.h5")
    if os.path.exists(trained):
        model.load_weights(trained)
    keys = sorted(k for k in reference if k.startswith("prediction_"))
    if keys:
        predictions = _predict(model, x)
        result["prediction_max_abs_diff"] = float(max(
            np.max(np.abs(p - reference[k]))
            for p, k in zip(predictions, keys)))
    for method in options.get("decode", ()):
        key = f"decode_{method}_ids"
        if key in reference:
            ids, scores = _decode(model, x[0], method)
            result[f"decode_{method}_ids_equal"] = bool(
                np.array_equal(ids, reference[key]))
            result[f"decode_{method}_scores_max_abs_diff"] = float(np.max(
                np.abs(scores - reference[f"decode_{method}_scores"])))
    return result


# -- the report ---------------------------------------------------------------

def versions():
    import importlib.metadata as md

    found = {"python": platform.python_version(),
             "keras": keras.__version__, "numpy": np.__version__,
             "keras_backend": keras.backend.backend(),
             "keras_seqmem": keras_seqmem.__version__}
    for package in ("torch", "tensorflow", "tensorflow-cpu"):
        try:
            found[package] = md.version(package)
        except md.PackageNotFoundError:
            pass
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count()
    found["platform"] = platform.platform()
    found["usable_cpus"] = cpus
    found.update(_source_state())
    return found


def _source_state():
    """The commit of the checkout that was tested, and the files of the
    package that differed from it (the run imports the working tree)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        commit = subprocess.run(
            ["git", "-C", root, "rev-parse", "HEAD"], capture_output=True,
            text=True, check=True).stdout.strip()
        changed = subprocess.run(
            ["git", "-C", root, "status", "--porcelain", "--",
             "keras_seqmem"], capture_output=True, text=True,
            check=True).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return {}
    return {"git_commit": commit,
            "keras_seqmem_uncommitted": [line[3:] for line in changed]}


def _status(record):
    stages = [k for k in ("build", "train", "predict", "save_load",
                          "decode_greedy", "decode_beam") if k in record]
    failed = [k for k in stages if not record[k]["ok"]]
    return "works" if not failed and "predict" in record else (
        "fails: " + ", ".join(failed))


def main(args):
    rows = _rows()
    names = args.only or list(rows)
    unknown = [n for n in names if n not in rows]
    unknown += [n for n in args.jit_rows if n not in rows and n != "all"]
    if unknown:
        raise SystemExit(f"unknown rows {unknown}; known: {list(rows)}")
    command = "python " + " ".join(
        ["benchmarks/torch_backend.py"] + sys.argv[1:])

    if args.compare:
        if not args.json or not os.path.exists(args.json):
            raise SystemExit("--compare updates an existing --json file")
        with open(args.json) as f:
            report = json.load(f)
        by_name = {r["row"]: r for r in report["rows"]}
        for name in names:
            make, options = rows[name]
            print(f"[compare] {name}", flush=True)
            try:
                result = compare_row(name, make, options, args.compare)
            except Exception as exc:  # noqa: BLE001 -- recorded
                result = {"compared": False, "error": _error(exc)}
            print("   ", result, flush=True)
            if name in by_name:
                by_name[name]["vs_tensorflow"] = result
        report["comparison"] = {
            "command": f"KERAS_BACKEND=tensorflow {command}",
            "versions": versions(),
            "date": datetime.date.today().isoformat(),
        }
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
        return 0

    results = []
    for name in names:
        make, options = rows[name]
        print(f"[{name}]", flush=True)
        jit = not args.no_jit and ("all" in args.jit_rows
                                   or name in args.jit_rows)
        record = run_row(name, make, options, jit, args.jit_timeout,
                         args.reference_dir)
        record["status"] = _status(record)
        results.append(record)
        summary = {k: (v["ok"], v["seconds"]) for k, v in record.items()
                   if isinstance(v, dict) and "seconds" in v
                   and k != "jit_compile_true"}
        print("   ", record["status"], summary, flush=True)
        for k, v in record.items():
            if (isinstance(v, dict) and v.get("ok") is False
                    and "error" in v):
                print(f"    {k}: {v['error']}", flush=True)
        jit = record.get("jit_compile_true")
        if jit:
            print("    jit_compile=True:",
                  {k: v for k, v in jit.items() if k != "graph_breaks"},
                  flush=True)
    report = {
        "command": f"KERAS_BACKEND=torch {command}",
        "date": datetime.date.today().isoformat(),
        "versions": versions(),
        "shapes": {"batch": BATCH, "steps": STEPS, "features": FEATURES,
                   "units": UNITS, "memory_steps": MEMORY_STEPS},
        "notes": ("seconds are single calls, first-call overheads "
                  "(tracing, torch.compile with an empty inductor cache) "
                  "included; not throughput. The optimizer is SGD(0.1)."),
        "rows": results,
    }
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)),
                    exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    if ARGS.jit_child:
        jit_child(*ARGS.jit_child)
        sys.exit(0)
    sys.exit(main(ARGS))
