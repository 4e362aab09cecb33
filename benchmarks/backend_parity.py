"""TensorFlow against JAX: the same weights give the same numbers.

For every case of `tests/backend_utils.py` (each public layer, each cell in
`keras.layers.RNN`, `keras_seqmem.RNN` over stacked cells, `ACTRNN`, `NTM`,
`Seq2Seq`):

1. a TensorFlow process makes the problem: inputs and trainable weights from
   seeded NumPy RNGs (`INPUT_SEED`, `WEIGHT_SEED` + the case's index), fixed
   random loss weights R for every output;
2. a TensorFlow process and a JAX process each load it, `set_weights`, and
   compute the outputs and the gradients of `sum_i sum(out_i * R_i) +
   layer.losses` with respect to every trainable weight and every float
   input (TensorFlow: `tf.GradientTape`; JAX: `jax.jit(jax.value_and_grad)`,
   both over the public `layer.stateless_call`), and with `--time` (the
   default) the median time of a `train_on_batch` step (batch 8, Adam, MSE,
   `jit_compile=True`, 2 warm-up calls, 20 timed);
3. this script compares them: max abs difference of the outputs and of the
   gradients per case, whether all agree within rtol 1e-4 / atol 1e-5;
   ACTRNN's ponder counts equal, and unchanged on both backends when the
   halting bias moves by +-1e-3 (no decision near its threshold); Seq2Seq's
   greedy and beam-3 token ids equal.

    python benchmarks/backend_parity.py    # about 3 minutes on 2 CPU cores

writes `benchmarks/results/backend_parity_<date>.json` (command, versions,
seeds, date, per-case differences and step times) and prints a table.
The step times are of tiny models (batch 8, 5 steps): they show that the
jitted step runs, not which backend is faster at scale.
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
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # backend_utils: the cases

import backend_utils as bu  # noqa: E402

BACKENDS = ("tensorflow", "jax")


def _run(backend, *args):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    if backend == "jax":
        env["JAX_PLATFORMS"] = "cpu"
    command = [sys.executable, str(ROOT / "tests" / "backend_utils.py"),
               *args]
    start = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True,
                            text=True)
    if result.returncode != 0:
        sys.exit(f"{backend} {args[0]} failed:\n"
                 f"{(result.stdout + result.stderr)[-6000:]}")
    print(f"[{backend}] {args[0]}: {time.perf_counter() - start:.0f} s",
          flush=True)


def _versions():
    versions = {"python": platform.python_version()}
    for package, distributions in (
            ("keras", ["keras"]),
            ("tensorflow", ["tensorflow", "tensorflow-cpu",
                            "tensorflow-macos"]),
            ("jax", ["jax"]), ("jaxlib", ["jaxlib"]), ("numpy", ["numpy"])):
        versions[package] = None
        for distribution in distributions:
            try:
                versions[package] = importlib.metadata.version(distribution)
                break
            except importlib.metadata.PackageNotFoundError:
                pass
    return versions


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", nargs="+", default=bu.ALL_PARITY,
                        choices=bu.ALL_PARITY)
    parser.add_argument("--no-time", action="store_true",
                        help="skip the train-step timing")
    parser.add_argument("--json", default=None,
                        help="output path (default benchmarks/results/"
                             "backend_parity_<date>.json)")
    args = parser.parse_args(argv)
    today = datetime.date.today().isoformat()
    out = pathlib.Path(args.json or ROOT / "benchmarks" / "results" /
                       f"backend_parity_{today}.json")
    timed = [] if args.no_time else ["--time"]
    load = list(os.getloadavg()) if hasattr(os, "getloadavg") else None

    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        problem = tmp / "problem.npz"
        _run("tensorflow", "problems", str(problem), *args.cases)
        results = {}
        for backend in BACKENDS:
            path = tmp / f"{backend}.npz"
            _run(backend, "compute", str(problem), str(path), *timed,
                 *args.cases)
            import numpy as np

            results[backend] = dict(np.load(path))

    rows = []
    for name in args.cases:
        on = {b: bu.split(results[b], name) for b in BACKENDS}
        row = {"case": name,
               **bu.compare(name, on["tensorflow"], on["jax"])}
        if timed:
            row["train_step_s"] = {
                b: float(on[b]["train_step_s"]) for b in BACKENDS}
            row["train_step_min_s"] = {
                b: float(on[b]["train_step_min_s"]) for b in BACKENDS}
        rows.append(row)

    report = {
        "benchmark": "backend_parity",
        "command": " ".join(["python", "benchmarks/backend_parity.py",
                             *(argv if argv is not None else sys.argv[1:])]),
        "date": today,
        "versions": _versions(),
        "cpu_count": os.cpu_count(),
        "load_average_at_start": load,
        "train_step": ("median and min of 20 timed train_on_batch calls "
                       "after 2 warm-up calls; batch 8, Adam, MSE "
                       "(Seq2Seq: sparse cross-entropy), jit_compile=True"),
        "seeds": {"weight_seed": bu.WEIGHT_SEED, "input_seed": bu.INPUT_SEED,
                  "per_case": "seed + the case's index in cases",
                  "loss_weights_seed": bu.WEIGHT_SEED + 500},
        "weight_std": {**{n: bu.CASES[n].weight_std for n in bu.NAMES},
                       "Seq2Seq": bu.SEQ2SEQ_WEIGHT_STD},
        "tolerance": {"rtol": bu.RTOL, "atol": bu.ATOL},
        "ponder_margin": bu.PONDER_MARGIN,
        "cases": args.cases,
        "rows": rows,
        "all_within_tolerance": all(r["tolerance_ok"] for r in rows),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")

    header = "| case | outputs max abs diff | gradients max abs diff | ok |"
    if timed:
        header += " TF step ms | JAX step ms |"
    print(header)
    print("|" + " --- |" * header.count(" |"))
    for r in rows:
        line = (f"| {r['case']} | {r['outputs_max_abs_diff']:.2g} | "
                f"{r['gradients_max_abs_diff']:.2g} | "
                f"{'yes' if r['tolerance_ok'] else 'NO'} |")
        if timed:
            line += (f" {1e3 * r['train_step_s']['tensorflow']:.1f} | "
                     f"{1e3 * r['train_step_s']['jax']:.1f} |")
        print(line)
    print(f"wrote {out}")
    return 0 if report["all_within_tolerance"] else 1


if __name__ == "__main__":
    sys.exit(main())
