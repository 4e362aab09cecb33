"""Where a recurrent layer's time goes: forward vs backward, the loop's
matrix products vs the rest, the fused loop vs the step-by-step one.

For one layer (default `PeepholeLSTM`) against `keras.layers.LSTM`, at the
shapes of `recurrent.py`, with `jit_compile` off and on, this times in
`tf.function`s (interleaved, median of `--repeats`):

    infer      layer(x, training=False)
    forward    layer(x, training=True) (no dropout: the training path, with
               what the fused loop keeps for its backward pass)
    gradient   d sum(layer(x, training=True)) / d(weights, x)

for

    keras       keras.layers.LSTM(units) (use_cudnn=False)
    fused       our layer's fast path (keras_seqmem._fused): one
                [x_t, h] [W; U] product per step (LayerNormLSTM: the input
                half LN(x W) + b for the whole sequence before the loop,
                one h U per step), reads made one step ahead, in training
                the backward pass written out (forced here for the one-gate
                cells too, which train step-by-step by default)
    stepwise    our layer with fast_path="stepwise", the path before the
                fused loop: one [x_t, h] [W; U] product per step, the
                backend's gradient of the loop
    matmul      the floor: a loop doing only the per-step products of the
                fused loop (read xz_t, h = (h U + xz_t)[:, :u]), no gates

With XLA it also counts the instructions of the optimised HLO of each
forward and gradient function (`experimental_get_compiler_ir`): while
loops, dots, fusions, dynamic slices.

    python benchmarks/recurrent_profile.py --json benchmarks/results/recurrent_profile_cpu2_<date>.json
"""

import argparse
import collections
import json
import os
import re
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import _timing  # noqa: E402
import recurrent  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


VARIANTS = ("keras", "fused", "stepwise", "matmul")
OPCODES = ("while", "dot", "fusion", "dynamic-slice", "dynamic-update-slice")


def log(*parts):
    print(*parts, flush=True)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                allow_abbrev=False)
    p.add_argument("--layer", default="PeepholeLSTM",
                   choices=[k for k, v in recurrent.LAYERS.items()
                            if v[2] != "RNN(LSTMCell)"])
    p.add_argument("--shapes", default="reference,large",
                   help="comma-separated subset of "
                   + ",".join(recurrent.SHAPES))
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--quick", action="store_true",
                   help="tiny shape, 2 repeats (smoke run)")
    p.add_argument("--json", metavar="PATH")
    args = p.parse_args(argv)
    if args.quick:
        args.shapes = {"quick": (4, 6, 3, 8)}
        args.repeats = 2
    else:
        names = [s for s in args.shapes.split(",") if s]
        for n in names:
            if n not in recurrent.SHAPES:
                p.error(f"unknown shape {n!r}")
        args.shapes = {n: recurrent.SHAPES[n] for n in names}
    return args


def _layer(args, variant, units):
    make, gates, base = recurrent.LAYERS[args.layer]
    if variant == "keras":
        return recurrent.BASELINES[base][0](units, False), \
            recurrent.BASELINES[base][1]
    fast_path = True if variant == "fused" else "stepwise"
    layer = make(units, False, fast_path=fast_path)
    if variant == "fused":
        # The fused loop in training too: one-gate cells train on the
        # step-by-step path by default (SequenceRNN.uses_fused_loop); this
        # measures what that choice avoids.
        base_rule = type(layer).uses_fused_loop

        class Forced(type(layer)):
            def uses_fused_loop(self, mask, training):
                return base_rule(self, mask, False)

        layer = Forced(**{k: v for k, v in layer.get_config().items()
                          if k != "name"})
    return layer, gates


def _hlo_counts(fn, *inputs):
    text = fn.experimental_get_compiler_ir(*inputs)(stage="optimized_hlo")
    counts = collections.Counter()
    for op in OPCODES:
        counts[op] = len(re.findall(r"\s%s\(" % re.escape(op), text))
    return dict(counts)


def _functions(args, variant, shape, jit):
    batch, steps, features, units = shape
    rng = np.random.default_rng(0)
    x = tf.constant(rng.standard_normal((batch, steps, features)),
                    tf.float32)
    if variant == "matmul":
        gates = recurrent.LAYERS[args.layer][1]
        width = gates * units
        kernel = tf.Variable(rng.standard_normal((features, width)) * 0.05,
                             dtype=tf.float32)
        rkernel = tf.Variable(rng.standard_normal((units, width)) * 0.05,
                              dtype=tf.float32)
        weights = [kernel, rkernel]

        def run(x, training):
            xz = tf.transpose(tf.matmul(x, kernel), (1, 0, 2))
            ta = tf.TensorArray(tf.float32, size=steps).unstack(xz)
            out = tf.TensorArray(tf.float32, size=steps)

            def body(t, h, out):
                h = (tf.matmul(h, rkernel) + ta.read(t))[:, :units]
                return t + 1, h, out.write(t, h)

            _, h, out = tf.while_loop(
                lambda t, *_: t < steps, body,
                (0, tf.zeros((batch, units)), out),
                maximum_iterations=steps)
            return h
    else:
        layer, gates = _layer(args, variant, units)
        layer.build(x.shape)
        weights = layer.trainable_weights

        def run(x, training):
            return layer(x, training=training)

    @tf.function(jit_compile=jit)
    def forward(x):
        # training=True (no dropout here): the fused loop's forward, with
        # what it keeps for the backward pass.
        return tf.reduce_sum(run(x, True))

    @tf.function(jit_compile=jit)
    def infer(x):
        return tf.reduce_sum(run(x, False))

    @tf.function(jit_compile=jit)
    def gradient(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(run(x, True))
        grads = tape.gradient(loss, [x] + list(weights))
        return tf.add_n([tf.reduce_sum(g) for g in grads])

    return x, forward, infer, gradient, gates


def main(argv=None):
    args = parse_args(argv)
    env = _timing.environment()
    log(f"== where the time goes: {args.layer} vs keras ==")
    log(f"TensorFlow {env['tensorflow']}, Keras {env['keras']}; "
        f"{env['usable_cpus']} CPUs")
    started = time.perf_counter()
    rows, hlo = [], []
    for shape_name, shape in args.shapes.items():
        batch, steps, features, units = shape
        for jit in (False, True):
            fns = {}
            for variant in VARIANTS:
                x, forward, infer, gradient, gates = _functions(
                    args, variant, shape, jit)
                fns[(variant, "infer")] = (lambda f=infer, x=x:
                                           f(x).numpy())
                fns[(variant, "forward")] = (lambda f=forward, x=x:
                                             f(x).numpy())
                fns[(variant, "gradient")] = (lambda f=gradient, x=x:
                                              f(x).numpy())
                if jit:
                    for part, fn in (("infer", infer), ("forward", forward),
                                     ("gradient", gradient)):
                        counts = _hlo_counts(fn, x)
                        hlo.append({"shape": shape_name, "variant": variant,
                                    "function": part, **counts})
            timings = _timing.time_interleaved(
                {f"{v}/{m}": fn for (v, m), fn in fns.items()},
                repeats=args.repeats, warmup=2)
            keras_t = {m: timings[f"keras/{m}"].median
                       for m in ("infer", "forward", "gradient")}
            for (variant, part) in fns:
                t = timings[f"{variant}/{part}"]
                rows.append({
                    "shape": shape_name, "batch": batch, "steps": steps,
                    "features": features, "units": units, "jit": jit,
                    "variant": variant, "function": part,
                    "ms": 1e3 * t.median,
                    "ms_per_step": 1e3 * t.median / steps,
                    "keras_over_this": keras_t[part] / t.median,
                    "timing": t.as_dict(),
                })
    elapsed = time.perf_counter() - started
    log("")
    log(f"{'shape':<10} {'jit':<4} {'variant':<9} {'function':<9} "
        f"{'ms':>9} {'ms/step':>8} {'keras/this':>10}")
    for r in rows:
        log(f"{r['shape']:<10} {('on' if r['jit'] else 'off'):<4} "
            f"{r['variant']:<9} {r['function']:<9} {r['ms']:>9.2f} "
            f"{r['ms_per_step']:>8.3f} {r['keras_over_this']:>10.2f}")
    log("")
    log("optimised HLO (jit on): instructions by opcode")
    log(f"{'shape':<10} {'variant':<9} {'function':<9} "
        + " ".join(f"{op:>20}" for op in OPCODES))
    for h in hlo:
        log(f"{h['shape']:<10} {h['variant']:<9} {h['function']:<9} "
            + " ".join(f"{h[op]:>20}" for op in OPCODES))
    log(f"total time: {elapsed:.0f}s")
    result = {"environment": env, "layer": args.layer,
              "args": {"shapes": args.shapes, "repeats": args.repeats},
              "rows": rows, "hlo": hlo, "elapsed_s": elapsed}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
