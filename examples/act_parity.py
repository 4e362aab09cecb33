"""Reproduces the parity result of Adaptive Computation Time (Graves 2016,
section 3.1): a one-step RNN cannot compute parity, the same cell with ACT
can, and it ponders longer on inputs with more non-zero entries.

    python examples/act_parity.py                     # the default run
    python examples/act_parity.py --size 16 --steps 4000 --taus 1e-3 1e-2
    python examples/act_parity.py --quick             # a 1-minute look

Each example is ONE input step: a vector of `--size` entries (Graves: 64), a
random number of them set to ±1, the target the parity of the number of +1
entries (`keras_seqmem.tasks.parity`). The models, all with a
`SimpleRNNCell(--units)` (tanh; Graves: 128) and a logistic output:

    no ACT     keras.layers.RNN(SimpleRNNCell): one step per input
    ACT τ      ACTRNN(ACT(SimpleRNNCell, max_ponder_steps, time_penalty=τ))
               for every τ of `--taus`

are trained on fresh batches at every step (Adam, binary cross-entropy) for
`--steps` steps and then scored on `--test-size` held-out vectors: the error
rate, the mean ponder time `N + R`, and the mean ponder time per number of
non-zero entries. It prints one table row per model, then the ponder time by
difficulty, and writes `results.json` and two figures under `--out`:
`act_parity.png` (error rate and ponder time against τ) and
`act_parity_ponder.png` (ponder time against the number of non-zero
entries, Graves's Figure 5). A rerun with the same `--out` skips the models
already in `results.json`.

Graves (2016, Figure 4) reports an error rate near 0.5 without ACT, and for
ACT an error rate near 0 at small τ (up to about 1e-3) that rises at larger
τ as the ponder time falls towards 1.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

FIGURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                       "docs", "pages", "figures")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--max-ponder-steps", type=int, default=20)
    parser.add_argument("--taus", type=float, nargs="+",
                        default=[1e-4, 1e-3, 1e-2, 1e-1])
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the model without ACT")
    parser.add_argument("--steps", type=int, default=20000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--eval-every", type=int, default=1000)
    parser.add_argument("--test-size", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", default=None,
                        help="results.json and figures (default: the docs "
                        "figures folder for the figures, no JSON)")
    parser.add_argument("--figures", default=None,
                        help="folder of the two figures (default: --out, "
                        "else the docs figures folder)")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.size, args.units, args.max_ponder_steps = 8, 16, 5
        args.taus, args.steps, args.eval_every = [1e-2], 60, 30
        args.batch_size, args.test_size = 32, 200
    return args


def build(args, tau):
    import keras
    import keras_seqmem

    inputs = keras.Input((1, args.size))
    cell = keras.layers.SimpleRNNCell(args.units)
    ponder = None
    if tau is None:
        hidden = keras.layers.RNN(cell)(inputs)
    else:
        layer = keras_seqmem.ACTRNN(
            keras_seqmem.ACT(cell, max_ponder_steps=args.max_ponder_steps,
                             time_penalty=tau),
            return_ponder=True)
        hidden, steps, remainders = layer(inputs)
        ponder = keras.Model(inputs, (steps + remainders)[:, 0])
    model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
    model.compile(keras.optimizers.Adam(args.learning_rate),
                  keras.losses.BinaryCrossentropy(from_logits=True),
                  metrics=[keras.metrics.BinaryAccuracy(threshold=0.0)],
                  jit_compile=True)
    return model, ponder


def train_one(args, tau, test):
    import keras
    from keras_seqmem.tasks import parity

    keras.utils.set_random_seed(args.seed)
    model, ponder = build(args, tau)
    name = "no ACT" if tau is None else f"ACT tau={tau:g}"
    x_test, y_test = test
    start, done, chunk = time.time(), 0, 0
    curve = []
    while done < args.steps:
        n = min(args.eval_every, args.steps - done)
        x, y = parity.generate(n * args.batch_size, seed=[args.seed, chunk],
                               size=args.size)
        history = model.fit(x, y, batch_size=args.batch_size, epochs=1,
                            shuffle=False, verbose=0)
        done, chunk = done + n, chunk + 1
        _, accuracy = model.evaluate(x_test[:2000], y_test[:2000],
                                     batch_size=1000, verbose=0)
        mean_ponder = (float(np.mean(ponder.predict(
            x_test[:2000], batch_size=1000, verbose=0))) if ponder else 1.0)
        curve.append({"step": done, "loss": history.history["loss"][-1],
                      "error_rate": 1.0 - accuracy,
                      "ponder_time": mean_ponder,
                      "seconds": time.time() - start})
        print(f"{name}: step {done}/{args.steps}, loss "
              f"{curve[-1]['loss']:.4f}, held-out error "
              f"{curve[-1]['error_rate']:.3f}, ponder {mean_ponder:.2f}, "
              f"{curve[-1]['seconds']:.0f} s", flush=True)
    _, accuracy = model.evaluate(x_test, y_test, batch_size=1000, verbose=0)
    times = (ponder.predict(x_test, batch_size=1000, verbose=0) if ponder
             else np.ones(len(x_test)))
    return {"name": name, "tau": tau, "error_rate": 1.0 - accuracy,
            "ponder_time": float(np.mean(times)),
            "ponder_times": [float(t) for t in times],
            "seconds": time.time() - start, "curve": curve}


def main(argv=None):
    args = parse_args(argv)
    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    from keras_seqmem import plots
    from keras_seqmem.tasks import parity

    test = parity.generate(args.test_size, seed=10_000 + args.seed,
                           size=args.size)
    nonzero = parity.count_nonzero(test[0])
    results_path = os.path.join(args.out, "results.json") if args.out \
        else None
    runs = {}
    if results_path and os.path.exists(results_path):
        with open(results_path) as f:
            runs = json.load(f)["runs"]
    taus = ([] if args.no_baseline else [None]) + list(args.taus)
    for tau in taus:
        key = "none" if tau is None else f"{tau:g}"
        if key in runs:
            print(f"{runs[key]['name']}: in {results_path}, skipped")
            continue
        runs[key] = train_one(args, tau, test)
        if results_path:
            os.makedirs(args.out, exist_ok=True)
            with open(results_path, "w") as f:
                json.dump({"settings": vars(args), "runs": runs}, f)

    print(f"\nparity of {args.size}-element vectors, SimpleRNN-{args.units}, "
          f"{args.steps} steps of batch {args.batch_size}, "
          f"{args.test_size} test vectors (chance error 0.5)")
    print("| model | error rate | mean ponder time | train s |")
    print("|---|---|---|---|")
    for run in runs.values():
        print(f"| {run['name']} | {run['error_rate']:.4f} | "
              f"{run['ponder_time']:.2f} | {run['seconds']:.0f} |")
    edges = np.linspace(0, args.size, 5).astype(int)
    print("\nmean ponder time by number of non-zero entries")
    print("| model | " + " | ".join(
        f"{lo + 1}-{hi}" for lo, hi in zip(edges[:-1], edges[1:])) + " |")
    print("|---|" + "---|" * (len(edges) - 1))
    for run in runs.values():
        times = np.asarray(run["ponder_times"])
        cells = [float(times[(nonzero > lo) & (nonzero <= hi)].mean())
                 for lo, hi in zip(edges[:-1], edges[1:])]
        run["ponder_by_nonzero"] = {
            f"{lo + 1}-{hi}": c for (lo, hi), c in zip(
                zip(edges[:-1], edges[1:]), cells)}
        print(f"| {run['name']} | " + " | ".join(f"{c:.2f}" for c in cells)
              + " |")
    if results_path:  # the table's figures, with how they were made
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import _results

        with open(results_path, "w") as f:
            json.dump({"settings": vars(args), "runs": runs,
                       "provenance": _results.provenance(
                           "act_parity.py", [args.seed])}, f)
    print("\nGraves (2016, Figure 4): error near 0.5 without ACT; with ACT "
          "near 0 for small tau, ponder time falling towards 1 as tau grows")

    out = args.figures or args.out or FIGURES
    act_runs = [r for r in runs.values() if r["tau"] is not None]
    if act_runs:
        plots.plot_ponder_by(
            nonzero, {r["name"]: r["ponder_times"] for r in act_runs},
            os.path.join(out, "act_parity_ponder.png"),
            xlabel="number of non-zero entries",
            title=f"ACT on {args.size}-bit parity: ponder time by difficulty")
        png = _plot_by_tau(runs, os.path.join(out, "act_parity.png"), args)
        print(f"figures: {png}, {os.path.join(out, 'act_parity_ponder.png')}")
    return 0


def _plot_by_tau(runs, path, args):
    from keras_seqmem import plots

    plt = plots._pyplot()
    act_runs = sorted((r for r in runs.values() if r["tau"] is not None),
                      key=lambda r: r["tau"])
    taus = [r["tau"] for r in act_runs]
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.0, 3.2))
    left.semilogx(taus, [r["error_rate"] for r in act_runs], "o-",
                  label="ACT")
    if "none" in runs:
        left.axhline(runs["none"]["error_rate"], color="0.5",
                     linestyle="--", label="no ACT")
    left.set_xlabel("time penalty τ")
    left.set_ylabel("error rate")
    left.legend(fontsize=8)
    right.semilogx(taus, [r["ponder_time"] for r in act_runs], "o-")
    right.set_xlabel("time penalty τ")
    right.set_ylabel("mean ponder time")
    fig.suptitle(f"{args.size}-bit parity, SimpleRNN-{args.units}, "
                 f"{args.steps} steps", fontsize=9)
    fig.tight_layout()
    return plots._save(fig, path)


if __name__ == "__main__":
    sys.exit(main())
