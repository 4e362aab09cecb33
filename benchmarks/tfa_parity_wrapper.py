"""Parity of `AttentiveDecoder(order="luong")` with tfa 0.23's
`AttentionWrapper`.

Run with the Python of a venv that holds TensorFlow Addons 0.23 next to
tf-keras (see benchmarks/tfa_parity_attention.py for the venv):

    TF_USE_LEGACY_KERAS=1 /work/tfa_venv/bin/python \
        benchmarks/tfa_parity_wrapper.py [--ours-python .venv/bin/python]

For every configuration (mechanism: Luong, Bahdanau and the two monotonic
ones, with their flag; `attention_layer_size` None or an int;
`output_attention` True or False; two mechanisms at once with a list of
sizes) and dtype (float32, float64):

1. this process (tfa, behind the `keras` -> `tf_keras` import shim of
   tfa_parity_attention.py) draws the inputs and the weights from seeded
   NumPy generators, builds `tfa.seq2seq.AttentionWrapper(LSTMCell, mechanism,
   attention_layer_size=..., alignment_history=True,
   output_attention=...)` on the memory with `memory_sequence_length`, sets
   every weight (the cell's, the mechanisms', the attention layers'), and
   runs the target sequence one step at a time from the wrapper's initial
   state with a random cell state;
2. a second process in the project's venv (Keras 3) builds
   `AttentiveDecoder(LSTMCell, mechanism, order="luong", ...)` with the same
   weights (mapped by name) and runs the same inputs two ways: one call
   (the recurrent loop) and `step` after `get_initial_state`, step by step
   (with `step_all`'s alignments of every mechanism);
3. this process writes the max abs differences of the outputs, of the
   alignment history (of every mechanism), of the final attention vector
   and of the final cell states to
   `benchmarks/results/tfa_parity_wrapper_<date>.json`.
"""

import argparse
import datetime
import json
import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import tfa_parity_attention as attention_parity  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

BATCH, T_T, T_S = 3, 6, 7
D_X, D_M, UNITS = 3, 5, 4  # target features, memory features, cell units
BAHDANAU_UNITS = 5
LENGTHS = (7, 3, 5)  # memory_sequence_length
SEED = 20261207 + 500
SCORE_BIAS = 0.4
WEIGHT_STD = 0.6


def cases():
    """(id, mechanisms, attention_layer_size, output_attention): each
    mechanism `(kind, flag, mode)` (mode None: softmax attention)."""
    out = []
    singles = [("luong", False, None), ("luong", True, None),
               ("bahdanau", False, None), ("bahdanau", True, None),
               ("luong", True, "parallel"), ("bahdanau", False, "recursive")]
    for mechanism in singles:
        for size, output_attention in ((None, True), (6, True), (6, False)):
            out.append(([mechanism], size, output_attention))
    out.append(([("luong", False, None), ("bahdanau", True, "parallel")],
                [6, 3], True))
    out.append(([("bahdanau", False, None), ("luong", True, None)], None,
                False))
    return [(_case_id(*c), *c) for c in out]


def _mechanism_id(kind, flag, mode):
    name = {"luong": "Luong", "bahdanau": "Bahdanau"}[kind]
    if mode is not None:
        name += "Monotonic"
    flag_name = {"luong": "scale", "bahdanau": "normalize"}[kind]
    extra = f", mode={mode}" if mode else ""
    return f"{name}({flag_name}={flag}{extra})"


def _case_id(mechanisms, size, output_attention):
    names = " + ".join(_mechanism_id(*m) for m in mechanisms)
    return (f"[{names}], attention_layer_size={size}, "
            f"output_attention={output_attention}")


def problem(index, dtype):
    rng = np.random.default_rng(SEED + index)
    targets = rng.standard_normal((BATCH, T_T, D_X)).astype(dtype)
    memory = rng.standard_normal((BATCH, T_S, D_M)).astype(dtype)
    cell_state = [0.5 * rng.standard_normal((BATCH, UNITS)).astype(dtype)
                  for _ in range(2)]
    lengths = np.array(LENGTHS, "int32")
    mask = np.arange(T_S)[None, :] < lengths[:, None]
    return targets, memory, cell_state, lengths, mask


def _units(kind):
    return UNITS if kind == "luong" else BAHDANAU_UNITS


# --- tfa side ------------------------------------------------------------------


def run_tfa(case_list, dtypes):
    attention_parity.install_shim()
    import tensorflow as tf
    import tensorflow_addons as tfa

    results, arrays = {}, {}
    for index, (cid, mechanisms, size, output_attention) in enumerate(
            case_list):
        for dtype in dtypes:
            key = f"{index}/{dtype}"
            try:
                out = _tfa_case(tf, tfa, index, mechanisms, size,
                                output_attention, dtype)
            except Exception as error:  # noqa: BLE001 (recorded, reported)
                results[key] = f"{type(error).__name__}: {error}"[:400]
                continue
            results[key] = "ok"
            for name, value in out.items():
                arrays[f"{key}/{name}"] = value
    return results, arrays


def _tfa_case(tf, tfa, index, mechanisms, size, output_attention, dtype):
    targets, memory, cell_state, lengths, _ = problem(index, dtype)
    memory_t, lengths_t = tf.constant(memory), tf.constant(lengths)
    layers = []
    for kind, flag, mode in mechanisms:
        kwargs = {"scale" if kind == "luong" else "normalize": flag}
        if mode is None:
            cls = (tfa.seq2seq.LuongAttention if kind == "luong"
                   else tfa.seq2seq.BahdanauAttention)
        else:
            cls = (tfa.seq2seq.LuongMonotonicAttention if kind == "luong"
                   else tfa.seq2seq.BahdanauMonotonicAttention)
            kwargs.update(mode=mode, score_bias_init=SCORE_BIAS,
                          sigmoid_noise=0.0)
        layers.append(cls(_units(kind), memory=memory_t,
                          memory_sequence_length=lengths_t, dtype=dtype,
                          **kwargs))
    cell = tf.keras.layers.LSTMCell(UNITS, dtype=dtype)
    wrapper = tfa.seq2seq.AttentionWrapper(
        cell, layers if len(layers) > 1 else layers[0],
        attention_layer_size=size, alignment_history=True,
        output_attention=output_attention, dtype=dtype)

    def initial():
        state = wrapper.get_initial_state(batch_size=BATCH, dtype=dtype)
        return state.clone(cell_state=[tf.constant(s) for s in cell_state])

    wrapper(tf.constant(targets[:, 0]), initial())  # builds every weight
    rng = np.random.default_rng(SEED + 1000 + index)
    out = {}

    def draw(variable):
        return (WEIGHT_STD * rng.standard_normal(variable.shape)).astype(
            dtype)

    for variable, name in ((cell.kernel, "kernel"),
                           (cell.recurrent_kernel, "recurrent_kernel"),
                           (cell.bias, "bias")):
        value = draw(variable)
        variable.assign(value)
        out[f"w/cell/{name}"] = value
    for i, layer in enumerate(layers):
        for variable, name in attention_parity._tfa_weights(layer):
            value = draw(variable)
            if name == "attention_g":
                value = (1.0 + 0.3 * value).astype(dtype)
            if name == "attention_score_bias":
                value = (SCORE_BIAS + 0.2 * value).astype(dtype)
            variable.assign(value)
            out[f"w/mechanism{i}/{attention_parity.WEIGHT_MAP[name]}"] = value
        # The keys were projected with the initial kernel: again.
        layer.setup_memory(memory_t, memory_sequence_length=lengths_t)
    # The attention layers' kernels, in the order of the mechanisms (found
    # by name: tfa names each Dense "attention_layer").
    kernels = [v for v in wrapper.trainable_weights
               if "attention_layer" in v.name]
    expected = 0 if size is None else len(mechanisms)
    assert len(kernels) == expected, [v.name for v in kernels]
    for i, variable in enumerate(kernels):
        value = draw(variable)
        variable.assign(value)
        out[f"w/attention_layer{i}/kernel"] = value
    state = initial()
    outputs = []
    for t in range(T_T):
        output, state = wrapper(tf.constant(targets[:, t]), state)
        outputs.append(output.numpy())
    out["outputs"] = np.stack(outputs, 1)
    history = state.alignment_history
    if not isinstance(history, tuple):
        history = (history,)
    for i, h in enumerate(history):
        out[f"alignments{i}"] = np.transpose(h.stack().numpy(), (1, 0, 2))
    out["attention"] = state.attention.numpy()
    out["cell_h"], out["cell_c"] = (s.numpy() for s in state.cell_state)
    return out


# --- our side ---------------------------------------------------------------------


def run_ours(case_list, tfa_arrays, dtypes):
    import keras

    import keras_seqmem
    from keras_seqmem.attention import monotonic

    arrays = {}
    for index, (cid, mechanisms, size, output_attention) in enumerate(
            case_list):
        for dtype in dtypes:
            key = f"{index}/{dtype}"
            if f"{key}/outputs" not in tfa_arrays:
                continue
            targets, memory, cell_state, _, mask = problem(index, dtype)
            layers = []
            for kind, flag, mode in mechanisms:
                kwargs = {"scale" if kind == "luong" else "normalize": flag}
                if mode is None:
                    cls = (keras_seqmem.attention.LuongAttention
                           if kind == "luong"
                           else keras_seqmem.BahdanauAttention)
                else:
                    cls = (monotonic.LuongMonotonicAttention
                           if kind == "luong"
                           else monotonic.BahdanauMonotonicAttention)
                    kwargs.update(mode=mode, score_bias_init=SCORE_BIAS)
                layers.append(cls(_units(kind), dtype=dtype, **kwargs))
            decoder = keras_seqmem.AttentiveDecoder(
                keras.layers.LSTMCell(UNITS, dtype=dtype),
                attention=layers if len(layers) > 1 else layers[0],
                order="luong", attention_layer_size=size,
                output_attention=output_attention, return_alignments=True,
                return_state=True, dtype=dtype)
            decoder([targets, memory])
            owners = [("cell", decoder.cell)] + [
                (f"mechanism{i}", layer) for i, layer in enumerate(layers)
            ] + [(f"attention_layer{i}", layer)
                 for i, layer in enumerate(decoder.attention_layers)]
            used = set()
            for owner, layer in owners:
                for variable in layer.weights:
                    name = f"{key}/w/{owner}/{variable.name}"
                    variable.assign(tfa_arrays[name])
                    used.add(name)
            given = {k for k in tfa_arrays if k.startswith(f"{key}/w/")}
            assert used == given, (cid, sorted(used ^ given))
            outputs, alignments, *states = decoder(
                [targets, memory], mask=[None, mask], initial_state=cell_state)
            arrays[f"{key}/call/outputs"] = keras.ops.convert_to_numpy(
                outputs)
            arrays[f"{key}/call/alignments0"] = keras.ops.convert_to_numpy(
                alignments)
            arrays[f"{key}/call/cell_h"] = keras.ops.convert_to_numpy(
                states[0])
            arrays[f"{key}/call/cell_c"] = keras.ops.convert_to_numpy(
                states[1])
            arrays[f"{key}/call/attention"] = keras.ops.convert_to_numpy(
                states[-1])
            prepared = decoder.prepare_memory(memory, mask)
            state = decoder.get_initial_state(BATCH, prepared,
                                              cell_states=cell_state)
            steps, every = [], [[] for _ in layers]
            for t in range(T_T):
                output, state, step_alignments = decoder.step_all(
                    targets[:, t], state, prepared)
                steps.append(keras.ops.convert_to_numpy(output))
                for i, a in enumerate(step_alignments):
                    every[i].append(keras.ops.convert_to_numpy(a))
            arrays[f"{key}/step/outputs"] = np.stack(steps, 1)
            for i, a in enumerate(every):
                arrays[f"{key}/step/alignments{i}"] = np.stack(a, 1)
            arrays[f"{key}/step/cell_h"] = keras.ops.convert_to_numpy(
                state[0])
            arrays[f"{key}/step/cell_c"] = keras.ops.convert_to_numpy(
                state[1])
            arrays[f"{key}/step/attention"] = keras.ops.convert_to_numpy(
                state[-1])
    return arrays


# --- the two processes --------------------------------------------------------------


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
            {**attention_parity._versions_here(), "keras": keras.__version__,
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
    for index, (cid, mechanisms, size, output_attention) in enumerate(
            case_list):
        for dtype in dtypes:
            key = f"{index}/{dtype}"
            row = {"configuration": cid, "dtype": dtype, "tfa": status[key]}
            if status[key] == "ok":
                # The scale of what is compared (a zero difference is not
                # two zero arrays).
                row["tfa_outputs_max_abs"] = float(
                    np.abs(tfa_arrays[f"{key}/outputs"]).max())
                row["tfa_alignments0_max"] = float(
                    tfa_arrays[f"{key}/alignments0"].max())
                for how in ("call", "step"):
                    names = ["outputs", "attention", "cell_h", "cell_c"] + [
                        f"alignments{i}" for i in range(len(mechanisms))
                        if how == "step" or i == 0]
                    for what in names:
                        diff = np.abs(ours[f"{key}/{how}/{what}"].astype(
                            "float64") - tfa_arrays[f"{key}/{what}"])
                        row[f"{how}_{what}_max_abs_diff"] = float(diff.max())
            rows.append(row)
    today = datetime.date.today().isoformat()
    path = pathlib.Path(args.results or RESULTS /
                        f"tfa_parity_wrapper_{today}.json")
    report = {
        "what": "max abs differences, AttentiveDecoder(order='luong') "
                "(Keras 3, TensorFlow backend) against tensorflow_addons "
                "0.23 AttentionWrapper (tf-keras), same weights, inputs and "
                "initial cell state (LSTMCell): outputs, alignment history "
                "(alignments0 the first mechanism's, alignments1 the "
                "second's), final attention vector and cell state; call = "
                "one call (the recurrent loop, first mechanism's "
                "alignments), step = get_initial_state + step_all step by "
                "step",
        "command": " ".join([f"TF_USE_LEGACY_KERAS=1 {sys.executable}",
                             "benchmarks/tfa_parity_wrapper.py",
                             *(argv if argv is not None else sys.argv[1:])]),
        "date": today,
        "versions": {"tfa_process": attention_parity._versions_here(),
                     "our_process": json.loads(str(ours["versions"]))},
        "seeds": {"inputs": f"{SEED} + case index",
                  "weights": f"{SEED + 1000} + case index"},
        "shapes": {"batch": BATCH, "target_steps": T_T, "memory_steps": T_S,
                   "target_features": D_X, "memory_features": D_M,
                   "cell_units": UNITS, "bahdanau_units": BAHDANAU_UNITS,
                   "memory_lengths": list(LENGTHS)},
        "weight_std": WEIGHT_STD,
        "weight_map": {**attention_parity.WEIGHT_MAP,
                       "attention_layer/kernel": "attention_layer/kernel "
                       "(attention_layer_<i> for the i-th mechanism, i > 0)"},
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
