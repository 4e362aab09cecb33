"""Serving latency of an exported keras_seqmem model against the same model
built from Keras' own LSTM, exported and served the same way.

Both models are what `keras-seqmem train --task adding` builds (untrained:
the weights do not change the work), `Input((None, 2)) -> layer(units) ->
Dense(1)`:

    ours    `--model` (default peephole_lstm: PeepholeLSTM(64))
    keras   `--baseline` (default lstm: keras.layers.LSTM(64))

Each is exported with `keras_seqmem.serving.export_saved_model` (what
`keras-seqmem export` does), loaded back with `tf.saved_model.load`, and
its `serving_default` signature is called on one batch of `--length`-step
sequences made once up front, for each batch size of `--batches` (default
1 and 32): `--warmup` untimed calls each, then `--repeats` timed calls
taken in turn (ours, keras, keras, ours, ...: `_timing.time_interleaved`),
each ending when its output is on the host (`.numpy()`). Reported per model
and batch size: p50 and p99 latency in ms, sequences/s (batch / p50), and
the ratios ours / keras of throughput at p50 and p99 (> 1: ours faster),
with whether the exported graph holds only standard TensorFlow ops
(`serving.nonstandard_ops`: no Python functions, no cuDNN kernels). The
outputs of the two served models are checked against their Keras models
before timing.

    python benchmarks/serving.py                 # about 1 minute on 2 CPUs
    python benchmarks/serving.py --quick         # smoke run, tiny shapes
    python benchmarks/serving.py --json serving.json
"""

import argparse
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import _timing  # noqa: E402


def log(*parts):
    print(*parts, flush=True)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                allow_abbrev=False)
    p.add_argument("--model", default="peephole_lstm",
                   choices=["peephole_lstm", "coupled_lstm", "leaky_rnn"],
                   help="our layer (default peephole_lstm)")
    p.add_argument("--baseline", default="lstm",
                   choices=["lstm", "gru", "simple_rnn"],
                   help="Keras' layer (default lstm)")
    p.add_argument("--units", type=int, default=64)
    p.add_argument("--length", type=int, default=100,
                   help="time steps per sequence (100)")
    p.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    p.add_argument("--repeats", type=int, default=200,
                   help="timed calls per model and batch size (200)")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--json", metavar="PATH", help="also write results here")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: tiny shapes, few calls")
    args = p.parse_args(argv)
    if args.quick:
        _timing.apply_quick(args, argv, {
            "--units": ("units", 8), "--length": ("length", 10),
            "--repeats": ("repeats", 20), "--warmup": ("warmup", 2),
        })
    return args


def export_and_load(kind, args, folder):
    """Builds the `train` model with layer `kind`, exports it as
    `keras-seqmem export` does, loads it back; returns the Keras model, the
    serving function and whether the graph's ops are all portable."""
    import keras

    from keras_seqmem import serving
    from keras_seqmem import training

    keras.utils.set_random_seed(0)
    model = training.build_task_model("adding", kind, units=args.units)
    path = os.path.join(folder, kind)
    serving.export_saved_model(model, path)
    serve = tf.saved_model.load(path).signatures["serving_default"]
    return model, serve, serving.nonstandard_ops(path)


def percentile_ms(timing, q):
    return float(np.percentile(timing.samples, q)) * 1e3


def run(args):
    models = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, kind in (("ours", args.model), ("keras", args.baseline)):
            models[name] = export_and_load(kind, args, folder)
        rng = np.random.default_rng(0)
        rows = []
        for batch in args.batches:
            x = tf.constant(rng.standard_normal(
                (batch, args.length, 2)).astype("float32"))
            for name, (model, serve, _) in models.items():
                served = serve(sequence=x)["output_0"].numpy()
                np.testing.assert_allclose(
                    served, model(x).numpy(), rtol=1e-4, atol=1e-5,
                    err_msg=f"{name}: served output differs from Keras'")

            def call(serve, x=x):
                return lambda: serve(sequence=x)["output_0"].numpy()

            log(f"timing batch {batch}: {args.repeats} calls per model")
            timing = _timing.time_interleaved(
                {name: call(serve) for name, (_, serve, _) in models.items()},
                repeats=args.repeats, warmup=args.warmup)
            p50 = {n: percentile_ms(t, 50) for n, t in timing.items()}
            p99 = {n: percentile_ms(t, 99) for n, t in timing.items()}
            for name, (model, _, bad_ops) in models.items():
                rows.append({
                    "model": name,
                    "layer": args.model if name == "ours" else args.baseline,
                    "batch": batch,
                    "p50_ms": p50[name], "p99_ms": p99[name],
                    "sequences_per_s": batch / (p50[name] / 1e3),
                    # ours / keras throughput (> 1: ours faster)
                    "ratio_p50": p50["keras"] / p50[name],
                    "ratio_p99": p99["keras"] / p99[name],
                    "parameters": int(model.count_params()),
                    "nonstandard_ops": bad_ops,
                    "spread": timing[name].spread,
                    "timing": timing[name].as_dict(),
                })
    return rows


def print_table(rows, args):
    log(f"\nserving_default of the exported models (SavedModel, "
        f"tf.saved_model.load), {args.length} steps x 2 features, "
        f"{args.units} units; {args.repeats} interleaved calls after "
        f"{args.warmup} warm-up calls; ratio = ours / keras throughput "
        f"(> 1: ours faster)")
    log("| model | layer | batch | p50 ms | p99 ms | sequences/s | "
        "ratio p50 | ratio p99 | standard ops only |")
    log("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        log(f"| {r['model']} | {r['layer']} | {r['batch']} | "
            f"{r['p50_ms']:.3f} | {r['p99_ms']:.3f} | "
            f"{r['sequences_per_s']:.0f} | {r['ratio_p50']:.2f} | "
            f"{r['ratio_p99']:.2f} | "
            f"{'yes' if not r['nonstandard_ops'] else r['nonstandard_ops']}"
            " |")


def main(argv=None):
    args = parse_args(argv)
    environment = _timing.environment()
    log(f"environment: TF {environment['tensorflow']}, Keras "
        f"{environment['keras']}, {environment['usable_cpus']} usable CPUs, "
        f"accelerator {environment['accelerator']}")
    rows = run(args)
    print_table(rows, args)
    result = {"args": vars(args), "environment": environment, "rows": rows}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2, default=float)
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
