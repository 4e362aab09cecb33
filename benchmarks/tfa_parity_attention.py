"""Parity of keras_seqmem's attention mechanisms with tfa 0.23's.

Run with the Python of a venv that holds TensorFlow Addons 0.23 next to
tf-keras (tfa never ran on Keras 3):

    python3 -m venv /work/tfa_venv
    /work/tfa_venv/bin/pip install tensorflow-cpu==2.21.0 tf-keras==2.21.0 \
        tensorflow-addons==0.23.0
    TF_USE_LEGACY_KERAS=1 /work/tfa_venv/bin/python \
        benchmarks/tfa_parity_attention.py [--ours-python .venv/bin/python]

For every mechanism (Luong, Bahdanau, both monotonic), flag (`scale` /
`normalize`), probability function (softmax, hardmax, sparsemax) or
monotonic mode (parallel, recursive, hard) and dtype (float32, float64):

1. this process (tfa) draws the inputs and the weights from seeded NumPy
   generators, builds the tfa mechanism on the memory with
   `memory_sequence_length`, sets the weights by name, and runs the query
   sequence one step at a time as `AttentionWrapper` does (the state is the
   previous alignment; the context `alignments · values`), sparsemax as
   tfa's `probability_fn` hook (`default_probability_fn`, since tfa's
   constructors only name softmax and hardmax);
2. a second process in the project's venv (`--ours`, Keras 3) builds ours
   with the same weights (mapped by name) and runs the same queries two
   ways: one call on the query sequence, and `attend(..., state=)` step by
   step;
3. this process writes the max abs differences of the alignments and the
   contexts to `benchmarks/results/tfa_parity_attention_<date>.json`.

The weights and results travel between the processes as .npz files.
"""

import argparse
import datetime
import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

BATCH, T_Q, T_V = 3, 5, 7
D_Q, D_K = 4, 6  # query features (Luong: = units), memory features
BAHDANAU_UNITS = 5
LENGTHS = (7, 3, 5)  # memory_sequence_length
SEED = 20261207
SCORE_BIAS = 0.4  # attention_score_bias of the monotonic mechanisms
WEIGHT_STD = 0.6

# tfa weight name (the part after the layer's scope) -> ours.
WEIGHT_MAP = {
    "query_layer/kernel": "query_kernel",
    "memory_layer/kernel": "key_kernel",
    "attention_v": "score_kernel",
    "attention_g": "score_gain",
    "attention_b": "score_bias",
    "attention_score_bias": "score_offset",
}


def cases():
    """(id, kind, flag, probability_fn, mode) of every comparison."""
    out = []
    for kind in ("luong", "bahdanau"):
        for flag in (False, True):
            for fn in ("softmax", "hardmax", "sparsemax"):
                out.append((kind, flag, fn, None))
            for mode in ("parallel", "recursive", "hard"):
                out.append((kind, flag, None, mode))
    return [(_case_id(*c), *c) for c in out]


def _case_id(kind, flag, fn, mode):
    name = {"luong": "Luong", "bahdanau": "Bahdanau"}[kind]
    if mode is not None:
        name += "Monotonic"
    flag_name = {"luong": "scale", "bahdanau": "normalize"}[kind]
    return f"{name}({flag_name}={flag}, {fn or 'mode=' + mode})"


def problem(index, dtype):
    """Inputs of case `index`: query sequence, memory, lengths, mask."""
    rng = np.random.default_rng(SEED + index)
    query = rng.standard_normal((BATCH, T_Q, D_Q)).astype(dtype)
    memory = rng.standard_normal((BATCH, T_V, D_K)).astype(dtype)
    lengths = np.array(LENGTHS, "int32")
    mask = np.arange(T_V)[None, :] < lengths[:, None]
    return query, memory, lengths, mask


def _tfa_weights(mechanism):
    """`(variable, tfa name)` of every weight of a tfa mechanism, found by
    the attributes that hold them (tf-keras names a sublayer's kernel
    `<mechanism>/kernel`, whichever sublayer it is)."""
    found = []
    for layer_name in ("query_layer", "memory_layer"):
        layer = getattr(mechanism, layer_name, None)
        if layer is not None:
            found.append((layer.kernel, f"{layer_name}/kernel"))
    for attribute, name in (("attention_v", "attention_v"),
                            ("attention_g", "attention_g"),
                            ("scale_weight", "attention_g"),  # LuongAttention
                            ("attention_b", "attention_b"),
                            ("attention_score_bias", "attention_score_bias")):
        variable = getattr(mechanism, attribute, None)
        if variable is not None:
            found.append((variable, name))
    assert len(found) == len(mechanism.weights), (
        [v.name for v in mechanism.weights], [n for _, n in found])
    return found


# --- tfa side -------------------------------------------------------------------


class KerasIsTfKeras:
    """The import shim tfa needs on TF 2.21: a `sys.meta_path` finder that
    makes `keras` and its submodules the tf-keras package's (the same module
    objects as `tf_keras...`), as `keras` was Keras 2 when tfa was current.
    (tfa 0.23 imports its KerasTensor type from Keras 2's module layout
    under the `keras` name, which Keras 3 no longer has.) Used in the tfa
    process only."""

    def find_spec(self, name, path=None, target=None):
        import importlib.machinery

        if name != "keras" and not name.startswith("keras."):
            return None
        return importlib.machinery.ModuleSpec(name, self)

    def create_module(self, spec):
        import importlib

        return importlib.import_module("tf_keras" + spec.name[len("keras"):])

    def exec_module(self, module):
        pass


def install_shim():
    sys.meta_path.insert(0, KerasIsTfKeras())
    for name in [m for m in sys.modules
                 if m == "keras" or m.startswith("keras.")]:
        del sys.modules[name]


def run_tfa(case_list, dtypes):
    install_shim()
    import tensorflow as tf
    import tensorflow_addons as tfa

    results, arrays = {}, {}
    for index, (cid, kind, flag, fn, mode) in enumerate(case_list):
        for dtype in dtypes:
            key = f"{index}/{dtype}"
            query, memory, lengths, _ = problem(index, dtype)
            try:
                out = _tfa_case(tf, tfa, kind, flag, fn, mode, dtype,
                                query, memory, lengths, index)
            except Exception as error:  # noqa: BLE001 (recorded, reported)
                results[key] = f"{type(error).__name__}: {error}"[:400]
                continue
            weights, alignments, contexts = out
            results[key] = "ok"
            for name, value in weights.items():
                arrays[f"{key}/w/{WEIGHT_MAP[name]}"] = value
            arrays[f"{key}/alignments"] = alignments
            arrays[f"{key}/contexts"] = contexts
    return results, arrays


def _tfa_case(tf, tfa, kind, flag, fn, mode, dtype, query, memory, lengths,
              index):
    units = D_Q if kind == "luong" else BAHDANAU_UNITS
    if mode is None:
        cls = tfa.seq2seq.LuongAttention if kind == "luong" else (
            tfa.seq2seq.BahdanauAttention)
        kwargs = {"probability_fn": "softmax" if fn == "sparsemax" else fn}
    else:
        cls = tfa.seq2seq.LuongMonotonicAttention if kind == "luong" else (
            tfa.seq2seq.BahdanauMonotonicAttention)
        kwargs = {"mode": mode, "score_bias_init": SCORE_BIAS,
                  "sigmoid_noise": 0.0}
    kwargs["scale" if kind == "luong" else "normalize"] = flag
    mechanism = cls(units, dtype=dtype, **kwargs)
    if fn == "sparsemax":
        # tfa's hook for a probability function its constructors do not
        # name: `probability_fn(score, state)`, wrapped with the memory mask
        # by setup_memory.
        mechanism.default_probability_fn = (
            lambda score, _: tfa.activations.sparsemax(score))
    mechanism.setup_memory(tf.constant(memory),
                           memory_sequence_length=tf.constant(lengths))
    state = mechanism.initial_state(BATCH, dtype)
    mechanism([tf.constant(query[:, 0]), state])  # builds the weights
    rng = np.random.default_rng(SEED + 1000 + index)
    weights = {}
    for variable, name in _tfa_weights(mechanism):
        value = WEIGHT_STD * rng.standard_normal(variable.shape)
        if name == "attention_g":
            value = 1.0 + 0.3 * value
        if name == "attention_score_bias":
            value = SCORE_BIAS + 0.2 * value
        value = value.astype(dtype)
        variable.assign(value)
        weights[name] = value
    # The keys were projected by setup_memory with the initial kernel:
    # project them again with the new one.
    mechanism.setup_memory(tf.constant(memory),
                           memory_sequence_length=tf.constant(lengths))
    alignments, contexts = [], []
    for t in range(T_Q):
        alignment, state = mechanism([tf.constant(query[:, t]), state])
        # AttentionWrapper's context: alignments · values (the masked memory)
        context = tf.squeeze(
            tf.matmul(tf.expand_dims(alignment, 1), mechanism.values), [1])
        alignments.append(alignment.numpy())
        contexts.append(context.numpy())
    return weights, np.stack(alignments, 1), np.stack(contexts, 1)


# --- our side ---------------------------------------------------------------------


def run_ours(case_list, tfa_arrays, dtypes):
    import keras

    import keras_seqmem
    from keras_seqmem.attention import monotonic

    arrays = {}
    for index, (cid, kind, flag, fn, mode) in enumerate(case_list):
        for dtype in dtypes:
            key = f"{index}/{dtype}"
            if f"{key}/alignments" not in tfa_arrays:
                continue
            query, memory, _, mask = problem(index, dtype)
            units = D_Q if kind == "luong" else BAHDANAU_UNITS
            flag_arg = {"scale" if kind == "luong" else "normalize": flag}
            if mode is None:
                cls = (keras_seqmem.attention.LuongAttention if kind == "luong"
                       else keras_seqmem.BahdanauAttention)
                layer = cls(units, probability_fn=fn, dtype=dtype, **flag_arg)
            else:
                cls = (monotonic.LuongMonotonicAttention if kind == "luong"
                       else monotonic.BahdanauMonotonicAttention)
                layer = cls(units, mode=mode, score_bias_init=SCORE_BIAS,
                            dtype=dtype, **flag_arg)
            layer([query, memory])
            for variable in layer.weights:
                variable.assign(tfa_arrays[f"{key}/w/{variable.name}"])
            used = {f"{key}/w/{v.name}" for v in layer.weights}
            given = {k for k in tfa_arrays if k.startswith(f"{key}/w/")}
            assert used == given, (cid, sorted(used ^ given))
            contexts, alignments = layer([query, memory], mask=[None, mask],
                                         return_attention_scores=True)
            arrays[f"{key}/call/contexts"] = keras.ops.convert_to_numpy(
                contexts)
            arrays[f"{key}/call/alignments"] = keras.ops.convert_to_numpy(
                alignments)
            processed = layer.project_keys(memory)
            state = layer.get_initial_state(memory)
            steps_c, steps_a = [], []
            for t in range(T_Q):
                context, alignment, state = layer.attend(
                    query[:, t], processed, memory, mask, state=state)
                steps_c.append(keras.ops.convert_to_numpy(context))
                steps_a.append(keras.ops.convert_to_numpy(alignment))
            arrays[f"{key}/attend/contexts"] = np.stack(steps_c, 1)
            arrays[f"{key}/attend/alignments"] = np.stack(steps_a, 1)
    return arrays


# --- the two processes --------------------------------------------------------------


def _versions_here():
    import tensorflow as tf

    versions = {"python": platform.python_version(), "numpy": np.__version__,
                "tensorflow": tf.__version__}
    for module in ("tf_keras", "tensorflow_addons"):
        try:
            versions[module] = __import__(module).__version__
        except ImportError:
            pass
    return versions


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ours", nargs=2, metavar=("TFA_NPZ", "OUT_NPZ"),
                        help="(internal) our side, in the project's venv")
    parser.add_argument("--ours-python", default=str(ROOT / ".venv" / "bin"
                                                     / "python"))
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--results", default=None)
    args = parser.parse_args(argv)
    dtypes = args.dtypes.split(",")
    case_list = cases()
    if args.ours:
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        tfa_arrays = dict(np.load(args.ours[0]))
        arrays = run_ours(case_list, tfa_arrays, dtypes)
        import keras

        arrays["versions"] = np.array(json.dumps(
            {**_versions_here(), "keras": keras.__version__,
             "backend": keras.backend.backend()}))
        np.savez(args.ours[1], **arrays)
        return 0

    if os.environ.get("TF_USE_LEGACY_KERAS") != "1":
        raise SystemExit("run with TF_USE_LEGACY_KERAS=1 (tfa needs "
                         "tf-keras as tf.keras)")
    status, tfa_arrays = run_tfa(case_list, dtypes)
    with tempfile.TemporaryDirectory() as folder:
        tfa_path = pathlib.Path(folder) / "tfa.npz"
        ours_path = pathlib.Path(folder) / "ours.npz"
        np.savez(tfa_path, **tfa_arrays)
        env = {k: v for k, v in os.environ.items()
               if k not in ("TF_USE_LEGACY_KERAS", "PYTHONPATH")}
        env["TF_CPP_MIN_LOG_LEVEL"] = "3"
        command = [args.ours_python, str(pathlib.Path(__file__).resolve()),
                   "--ours", str(tfa_path), str(ours_path),
                   "--dtypes", args.dtypes]
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True,
                              text=True)
        if done.returncode != 0:
            raise SystemExit("our side failed:\n" + done.stderr[-4000:])
        ours = dict(np.load(ours_path))
    rows = []
    for index, (cid, kind, flag, fn, mode) in enumerate(case_list):
        for dtype in dtypes:
            key = f"{index}/{dtype}"
            row = {"mechanism": cid, "dtype": dtype, "tfa": status[key]}
            if status[key] == "ok":
                for how in ("call", "attend"):
                    for what in ("alignments", "contexts"):
                        diff = np.abs(ours[f"{key}/{how}/{what}"].astype(
                            "float64") - tfa_arrays[f"{key}/{what}"])
                        row[f"{how}_{what}_max_abs_diff"] = float(diff.max())
            rows.append(row)
    today = datetime.date.today().isoformat()
    path = pathlib.Path(args.results or RESULTS /
                        f"tfa_parity_attention_{today}.json")
    report = {
        "what": "max abs differences of alignments and contexts, "
                "keras_seqmem (Keras 3, TensorFlow backend) against "
                "tensorflow_addons 0.23 (tf-keras), same weights and inputs; "
                "call = one call on the query sequence, attend = "
                "attend(..., state=) step by step; tfa = AttentionWrapper's "
                "step loop",
        "command": " ".join([f"TF_USE_LEGACY_KERAS=1 {sys.executable}",
                             "benchmarks/tfa_parity_attention.py",
                             *(argv if argv is not None else sys.argv[1:])]),
        "date": today,
        "versions": {"tfa_process": _versions_here(),
                     "our_process": json.loads(str(ours["versions"]))},
        "seeds": {"inputs": f"{SEED} + case index",
                  "weights": f"{SEED + 1000} + case index"},
        "shapes": {"batch": BATCH, "query_steps": T_Q, "memory_steps": T_V,
                   "query_features": D_Q, "memory_features": D_K,
                   "bahdanau_units": BAHDANAU_UNITS,
                   "memory_lengths": list(LENGTHS)},
        "weight_std": WEIGHT_STD,
        "weight_map": WEIGHT_MAP,
        "rows": rows,
    }
    path.write_text(json.dumps(report, indent=1) + "\n")
    worst = {}
    for row in rows:
        if row["tfa"] == "ok":
            w = max(v for k, v in row.items() if k.endswith("_diff"))
            worst[row["dtype"]] = max(worst.get(row["dtype"], 0.0), w)
    print(f"wrote {path}; worst max abs diff per dtype: {worst}; tfa "
          f"failures: {sum(r['tfa'] != 'ok' for r in rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
