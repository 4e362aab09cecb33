"""tfa 0.23's cells against ours, given the same weights.

For `tfa.rnn.LayerNormLSTMCell`, `tfa.rnn.LayerNormSimpleRNNCell` and
`tfa.rnn.ESNCell` (each in `tf.keras.layers.RNN`), and our
`LayerNormLSTM`, `LayerNormSimpleRNN` and `LeakyRNN.echo_state`:

1. this process (the project's venv) draws, from seeded NumPy RNGs, each
   cell's weights (tfa's order and shapes; gains around one, shifts and
   biases non-zero), a batch of sequences, a right-padding mask and initial
   states, and writes them to a `.npz`;
2. a second process, in the venv that has TensorFlow Addons
   (`--tfa-python`, default `/work/tfa_venv/bin/python`, run with
   `TF_USE_LEGACY_KERAS=1` so that `tf.keras` is `tf_keras`, and an
   import shim under which `keras` is `tf_keras`, which tfa 0.23 needs on
   TF 2.21), builds each
   tfa cell, checks that its weight names map onto ours, `set_weights`,
   runs the masked batch from the initial states with `return_sequences`
   and `return_state`, and writes the outputs and final states to a
   `.npz`;
3. this process runs our layers on the same arrays (the fast path and the
   cell loop), and a float64 NumPy transcription of tfa's equations
   (`tests/test_layernorm_rnn.py`, `tests/test_esn.py`), and records the
   max abs differences of outputs and states per cell: ours - tfa,
   ours - NumPy, tfa - NumPy.

For `ESNCell` it also records the spectral radius of the reservoir each
side draws for itself (tfa: `tf.linalg.eig` of its `recurrent_kernel`;
ours: `EchoStateInitializer`), which are random draws and not compared
entry by entry.

    python benchmarks/tfa_parity_cells.py [--tfa-python PATH]

writes `benchmarks/results/tfa_parity_cells_<date>.json` (command,
versions of both sides, seeds, date, the weight-name mapping, the
differences) and prints a table. `--tfa-side PROBLEM OUT` is the second
process's entry point.
"""

import argparse
import datetime
import importlib.metadata
import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]

B, T, D, U = 4, 7, 5, 6  # batch, time steps, input features, units
LENGTHS = [7, 4, 6, 1]  # the mask: right padding
WEIGHT_SEED, INPUT_SEED = 15, 16
LEAKY, CONNECTIVITY, SPECTRAL_RADIUS = 0.6, 0.5, 0.9

# Our weight names, in tfa's get_weights() order; tfa's variable names are
# ours with the sublayer path tfa uses (`kernel_norm/gamma`).
WEIGHTS = {
    "LayerNormLSTMCell": [
        ("kernel", (D, 4 * U)), ("recurrent_kernel", (U, 4 * U)),
        ("bias", (4 * U,)),
        ("kernel_norm_gamma", (4 * U,)), ("kernel_norm_beta", (4 * U,)),
        ("recurrent_norm_gamma", (4 * U,)),
        ("recurrent_norm_beta", (4 * U,)),
        ("state_norm_gamma", (U,)), ("state_norm_beta", (U,))],
    "LayerNormSimpleRNNCell": [
        ("kernel", (D, U)), ("recurrent_kernel", (U, U)), ("bias", (U,)),
        ("layernorm_gamma", (U,))],
    "ESNCell": [
        ("kernel", (D, U)), ("recurrent_kernel", (U, U)), ("bias", (U,))],
}
TFA_NAMES = {
    "kernel_norm_gamma": "kernel_norm/gamma",
    "kernel_norm_beta": "kernel_norm/beta",
    "recurrent_norm_gamma": "recurrent_norm/gamma",
    "recurrent_norm_beta": "recurrent_norm/beta",
    "state_norm_gamma": "state_norm/gamma",
    "state_norm_beta": "state_norm/beta",
    # (tfa builds its `layernorm` sublayer outside that layer's name scope:
    # the variable is `<cell>/gamma:0`, the attribute `cell.layernorm.gamma`)
    "layernorm_gamma": "gamma",
}
N_STATES = {"LayerNormLSTMCell": 2, "LayerNormSimpleRNNCell": 1,
            "ESNCell": 1}


def tfa_name(ours):
    return TFA_NAMES.get(ours, ours)


def make_problem():
    """Weights, inputs, mask and initial states of every cell (float32)."""
    problem = {}
    for index, (cell, weights) in enumerate(WEIGHTS.items()):
        rng = np.random.default_rng(WEIGHT_SEED + index)
        for name, shape in weights:
            value = 0.5 * rng.standard_normal(shape)
            if name.endswith("gamma"):
                value = 1.0 + value
            if cell == "ESNCell" and name == "recurrent_kernel":
                # A reservoir as ESNCell draws one: sparse, rescaled.
                value = value * (rng.random(shape) < CONNECTIVITY)
                value *= SPECTRAL_RADIUS / np.max(
                    np.abs(np.linalg.eigvals(value)))
            problem[f"{cell}/w/{name}"] = value.astype("float32")
        rng = np.random.default_rng(INPUT_SEED + index)
        problem[f"{cell}/x"] = rng.standard_normal((B, T, D)).astype(
            "float32")
        for i in range(N_STATES[cell]):
            problem[f"{cell}/s{i}"] = (0.5 * rng.standard_normal(
                (B, U))).astype("float32")
    problem["mask"] = np.arange(T)[None, :] < np.array(LENGTHS)[:, None]
    return problem


def _weights(problem, cell):
    return [problem[f"{cell}/w/{name}"] for name, _ in WEIGHTS[cell]]


# --- the tfa side (run in the tfa venv) ----------------------------------------


class _KerasIsTfKeras:
    """Import shim for tfa 0.23 on TF 2.21 (tfa process only): a
    `sys.meta_path` finder under which `keras` and its submodules are the
    `tf_keras` package's modules, as `keras` was Keras 2 when tfa was
    current (tfa imports a type from Keras 2's module layout under the
    `keras` name, which Keras 3 does not have)."""

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


def tfa_side(problem_path, out_path):
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    sys.meta_path.insert(0, _KerasIsTfKeras())
    for name in [m for m in sys.modules
                 if m == "keras" or m.startswith("keras.")]:
        del sys.modules[name]
    import tensorflow as tf
    import tensorflow_addons as tfa

    problem = dict(np.load(problem_path))
    mask = tf.constant(problem["mask"])
    cells = {
        "LayerNormLSTMCell": lambda: tfa.rnn.LayerNormLSTMCell(U),
        "LayerNormSimpleRNNCell": lambda: tfa.rnn.LayerNormSimpleRNNCell(U),
        "ESNCell": lambda: tfa.rnn.ESNCell(
            U, connectivity=CONNECTIVITY, leaky=LEAKY,
            spectral_radius=SPECTRAL_RADIUS),
    }
    out = {}
    names = {}
    for cell_name, make in cells.items():
        cell = make()
        layer = tf.keras.layers.RNN(cell, return_sequences=True,
                                    return_state=True)
        x = tf.constant(problem[f"{cell_name}/x"])
        states = [tf.constant(problem[f"{cell_name}/s{i}"])
                  for i in range(N_STATES[cell_name])]
        layer(x, initial_state=states, mask=mask)  # build
        if cell_name == "ESNCell":
            own = cell.recurrent_kernel.numpy().astype("float64")
            out[f"{cell_name}/own_reservoir_radius"] = np.max(
                np.abs(np.linalg.eigvals(own)))
            out[f"{cell_name}/own_reservoir_density"] = np.mean(own != 0)
        # Each tfa variable gets the value of ours with the mapped name
        # (by name: ESNCell creates recurrent_kernel before kernel, so its
        # get_weights() order is not ours).
        tfa_weight_names = [w.name for w in cell.weights]
        names[cell_name] = tfa_weight_names
        ours = {tfa_name(n): n for n, _ in WEIGHTS[cell_name]}
        assert len(tfa_weight_names) == len(ours), (
            cell_name, tfa_weight_names)
        for variable in cell.weights:
            path = variable.name.split(":")[0]
            match = [t for t in ours if path.endswith("/" + t)]
            assert len(match) == 1, (cell_name, variable.name, match)
            variable.assign(problem[f"{cell_name}/w/{ours[match[0]]}"])
        output, *final = layer(x, initial_state=states, mask=mask)
        out[f"{cell_name}/outputs"] = output.numpy()
        for i, s in enumerate(final):
            out[f"{cell_name}/state{i}"] = s.numpy()
    versions = {"python": platform.python_version(),
                "tensorflow": tf.__version__,
                "tensorflow_addons": tfa.__version__}
    for dist in ("tf-keras", "typeguard", "numpy"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = None
    # Which Keras tfa ran on (TF_USE_LEGACY_KERAS=1: tf-keras).
    versions["tf.keras.layers.Layer"] = tf.keras.layers.Layer.__module__
    out["versions"] = np.array(json.dumps(versions))
    out["weight_names"] = np.array(json.dumps(names))
    np.savez(out_path, **out)


# --- our side ------------------------------------------------------------------


def _ours(cell_name, fast_path):
    from keras_seqmem.recurrent import LayerNormLSTM
    from keras_seqmem.recurrent import LayerNormSimpleRNN
    from keras_seqmem.recurrent import LeakyRNN

    common = dict(return_sequences=True, return_state=True,
                  fast_path=fast_path)
    if cell_name == "LayerNormLSTMCell":
        return LayerNormLSTM(U, **common)
    if cell_name == "LayerNormSimpleRNNCell":
        return LayerNormSimpleRNN(U, **common)
    return LeakyRNN.echo_state(U, connectivity=CONNECTIVITY, leaky=LEAKY,
                               spectral_radius=SPECTRAL_RADIUS, seed=0,
                               **common)


def _reference(cell_name, problem):
    sys.path.insert(0, str(ROOT / "tests"))
    import functools

    import references
    import test_esn
    import test_layernorm_rnn

    step = {
        "LayerNormLSTMCell": test_layernorm_rnn.layer_norm_lstm_step,
        "LayerNormSimpleRNNCell": test_layernorm_rnn.layer_norm_simple_rnn_step,
        "ESNCell": functools.partial(test_esn.esn_step, leaky=LEAKY),
    }[cell_name]
    weights = {name: problem[f"{cell_name}/w/{name}"].astype("float64")
               for name, _ in WEIGHTS[cell_name]}
    initial = [problem[f"{cell_name}/s{i}"]
               for i in range(N_STATES[cell_name])]
    outputs, states = references.run_rnn(
        step, problem[f"{cell_name}/x"], initial, weights,
        mask=problem["mask"])
    return [outputs, *states]


def _max_diff(a, b):
    return float(np.max(np.abs(np.asarray(a, "float64")
                               - np.asarray(b, "float64"))))


def our_side(problem):
    import keras

    results = {}
    for cell_name in WEIGHTS:
        x = problem[f"{cell_name}/x"]
        states = [problem[f"{cell_name}/s{i}"]
                  for i in range(N_STATES[cell_name])]
        runs = {}
        for fast_path in (True, False):
            layer = _ours(cell_name, fast_path)
            layer(x, initial_state=states, mask=problem["mask"])
            layer.set_weights(_weights(problem, cell_name)
                              + ([np.float32(1.0 / LEAKY)]
                                 if cell_name == "ESNCell" else []))
            out = layer(x, initial_state=states, mask=problem["mask"])
            runs[fast_path] = [keras.ops.convert_to_numpy(o) for o in out]
            if cell_name == "ESNCell" and fast_path:
                # The reservoir the layer draws itself (set_weights above
                # replaced this one's): a fresh layer, built.
                fresh = _ours(cell_name, True)
                fresh(x)
                own = keras.ops.convert_to_numpy(
                    fresh.cell.recurrent_kernel).astype("float64")
                results[f"{cell_name}/own_reservoir_radius"] = float(
                    np.max(np.abs(np.linalg.eigvals(own))))
                results[f"{cell_name}/own_reservoir_density"] = float(
                    np.mean(own != 0))
        results[cell_name] = {"fast_path": runs[True],
                              "cell_loop": runs[False],
                              "numpy_float64": _reference(cell_name, problem)}
    return results


def _row(cell_name, ours, tfa_out):
    tfa = [tfa_out[f"{cell_name}/outputs"]] + [
        tfa_out[f"{cell_name}/state{i}"] for i in range(N_STATES[cell_name])]
    numpy_ = ours["numpy_float64"]
    row = {"n_states": N_STATES[cell_name]}
    for label, run in (("fast_path", ours["fast_path"]),
                       ("cell_loop", ours["cell_loop"])):
        row[f"ours_{label}_vs_tfa"] = {
            "outputs_max_abs_diff": _max_diff(run[0], tfa[0]),
            "states_max_abs_diff": max(_max_diff(a, b)
                                       for a, b in zip(run[1:], tfa[1:]))}
        row[f"ours_{label}_vs_numpy"] = {
            "outputs_max_abs_diff": _max_diff(run[0], numpy_[0]),
            "states_max_abs_diff": max(_max_diff(a, b)
                                       for a, b in zip(run[1:], numpy_[1:]))}
    row["tfa_vs_numpy"] = {
        "outputs_max_abs_diff": _max_diff(tfa[0], numpy_[0]),
        "states_max_abs_diff": max(_max_diff(a, b)
                                   for a, b in zip(tfa[1:], numpy_[1:]))}
    row["output_max_abs"] = float(np.max(np.abs(tfa[0])))
    return row


def _versions():
    versions = {"python": platform.python_version()}
    for dist in ("keras", "tensorflow", "tensorflow-cpu", "numpy"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = None
    return versions


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tfa-python", default="/work/tfa_venv/bin/python")
    parser.add_argument("--out", default=None,
                        help="results file (default benchmarks/results/"
                             "tfa_parity_cells_<date>.json)")
    parser.add_argument("--tfa-side", nargs=2, metavar=("PROBLEM", "OUT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.tfa_side:
        tfa_side(*args.tfa_side)
        return
    date = datetime.date.today().isoformat()
    out_path = pathlib.Path(args.out or ROOT / "benchmarks" / "results"
                            / f"tfa_parity_cells_{date}.json")
    problem = make_problem()
    with tempfile.TemporaryDirectory() as tmp:
        problem_path = os.path.join(tmp, "problem.npz")
        tfa_path = os.path.join(tmp, "tfa.npz")
        np.savez(problem_path, **problem)
        env = dict(os.environ, TF_USE_LEGACY_KERAS="1",
                   TF_CPP_MIN_LOG_LEVEL="3")
        env.pop("KERAS_BACKEND", None)
        command = [args.tfa_python, str(pathlib.Path(__file__).resolve()),
                   "--tfa-side", problem_path, tfa_path]
        result = subprocess.run(command, env=env, capture_output=True,
                                text=True)
        if result.returncode != 0:
            sys.exit("the tfa side failed:\n"
                     + (result.stdout + result.stderr)[-6000:])
        tfa_out = dict(np.load(tfa_path))
    ours = our_side(problem)
    rows = {cell: _row(cell, ours[cell], tfa_out) for cell in WEIGHTS}
    esn = rows["ESNCell"]
    esn["reservoir_drawn_by_each_side"] = {
        "target_spectral_radius": SPECTRAL_RADIUS,
        "connectivity": CONNECTIVITY,
        "tfa_radius": float(tfa_out["ESNCell/own_reservoir_radius"]),
        "tfa_density": float(tfa_out["ESNCell/own_reservoir_density"]),
        "ours_radius": ours["ESNCell/own_reservoir_radius"],
        "ours_density": ours["ESNCell/own_reservoir_density"],
    }
    report = {
        "benchmark": "tfa_parity_cells",
        "command": " ".join(["python", "benchmarks/tfa_parity_cells.py"]
                            + (argv if argv is not None else sys.argv[1:])),
        "date": date,
        "versions": {"ours": _versions(),
                     "tfa_side": json.loads(str(tfa_out["versions"]))},
        "seeds": {"weights": WEIGHT_SEED, "inputs": INPUT_SEED,
                  "per_cell": "seed + index of the cell in `cells`"},
        "shapes": {"batch": B, "timesteps": T, "features": D, "units": U,
                   "lengths": LENGTHS},
        "esn": {"leaky": LEAKY, "connectivity": CONNECTIVITY,
                "spectral_radius": SPECTRAL_RADIUS},
        "cells": {"LayerNormLSTMCell": "tfa.rnn.LayerNormLSTMCell vs "
                  "keras_seqmem LayerNormLSTM",
                  "LayerNormSimpleRNNCell": "tfa.rnn.LayerNormSimpleRNNCell "
                  "vs keras_seqmem LayerNormSimpleRNN",
                  "ESNCell": "tfa.rnn.ESNCell vs keras_seqmem "
                  "LeakyRNN.echo_state (gamma = 1/leaky)"},
        "dtype": "float32 (both sides); numpy_float64 is the float64 "
                 "transcription of tfa's equations",
        "tfa_weight_names": json.loads(str(tfa_out["weight_names"])),
        "weight_name_map": {cell: {n: tfa_name(n) for n, _ in w}
                            for cell, w in WEIGHTS.items()},
        "rows": rows,
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{'cell':<24} {'ours-tfa out':>13} {'ours-tfa states':>16} "
          f"{'tfa-numpy out':>14}")
    for cell, row in rows.items():
        d = row["ours_fast_path_vs_tfa"]
        print(f"{cell:<24} {d['outputs_max_abs_diff']:>13.2e} "
              f"{d['states_max_abs_diff']:>16.2e} "
              f"{row['tfa_vs_numpy']['outputs_max_abs_diff']:>14.2e}")
    print(f"wrote {out_path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
