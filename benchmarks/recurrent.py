"""Throughput of keras_seqmem's recurrent layers against Keras' own layers.

For each of `PeepholeLSTM`, `CoupledLSTM` (baseline `keras.layers.LSTM`) and
`LeakyRNN` (baseline `keras.layers.SimpleRNN`), with XLA on and off, this
builds the same small model around our layer and around its baseline,

    Input((steps, features)) -> layer(units) -> Dense(1)

compiled with Adam + MSE, and times, on the same in-memory batch:

    train   `model.train_on_batch(x, y)`   (forward, backward, Adam update)
    infer   `model.predict_on_batch(x)`    (forward only)

Our model and its baseline are warmed up (tracing and XLA compilation are
not timed), then timed in turn, call after call (ours, keras, keras, ours,
...), so that a change of machine load hits both alike, and the median call
time is turned into sequences per second. `ratio` is ours / baseline
throughput (above 1: our layer is faster); `paired` is the median over the
rounds of the same ratio within a round, the number least sensitive to
other processes. With jit on, the script checks after the run that XLA was
really used (Keras drops it silently, e.g. for cuDNN LSTM on a GPU): such a
row says DROPPED and the exit status is 3.

Achieved matmul GFLOP/s uses the FLOPs of the cell's matrix products,

    forward, per step:  2 * batch * (features + units) * G * units
    training step:      3 x forward (forward, grads wrt inputs and weights)

with G = 4 (LSTM, PeepholeLSTM), 3 (CoupledLSTM), 1 (SimpleRNN, LeakyRNN),
and is divided by the GFLOP/s of a large `tf.matmul` timed in the same run
(best of plain TensorFlow and XLA, at the start and at the end), which
gives the fraction of the machine's matmul peak the layer reaches.

Run `python benchmarks/recurrent.py --help` for the flags; `--quick` is a
smoke run of a few seconds per model on tiny shapes.
"""

import argparse
import functools
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import _timing  # noqa: E402

try:
    import keras_seqmem  # noqa: E402
except ImportError:  # run from a checkout without installing the package
    sys.path.insert(0, os.path.dirname(_HERE))
    import keras_seqmem  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_seqmem._layers import iter_layers  # noqa: E402

# Every model gets its own tf.functions, which trips TensorFlow's "N out of
# the last M calls triggered retracing" heuristic; that warning says nothing
# about the measurement. (Keras' own "Model doesn't support jit_compile"
# is a Python warning, not affected, and `xla_status` checks it anyway.)
tf.get_logger().setLevel("ERROR")


# name -> (constructor(units, return_sequences), gates G)
BASELINES = {
    "LSTM": (
        lambda units, rs: keras.layers.LSTM(units, return_sequences=rs),
        4,
    ),
    "SimpleRNN": (
        lambda units, rs: keras.layers.SimpleRNN(units, return_sequences=rs),
        1,
    ),
    # Keras' own loop over Keras' own cell: against keras_seqmem.RNN over the
    # same cell, this measures the loop alone.
    "RNN(LSTMCell)": (
        lambda units, rs: keras.layers.RNN(
            keras.layers.LSTMCell(units), return_sequences=rs),
        4,
    ),
}

# name -> (constructor(units, return_sequences), gates G, baseline name)
LAYERS = {
    "PeepholeLSTM": (
        lambda units, rs, **kw: keras_seqmem.PeepholeLSTM(
            units, return_sequences=rs, **kw
        ),
        4,
        "LSTM",
    ),
    "CoupledLSTM": (
        lambda units, rs, **kw: keras_seqmem.CoupledLSTM(
            units, return_sequences=rs, **kw
        ),
        3,
        "LSTM",
    ),
    # One time constant per unit, spread over (1, 100): the leaky RNN as it
    # is meant to be used (a scalar gamma costs the same, and gamma=1 would
    # make it a SimpleRNN).
    "LeakyRNN": (
        lambda units, rs, **kw: keras_seqmem.LeakyRNN(
            units, gamma_range=(1.0, 100.0), return_sequences=rs, **kw
        ),
        1,
        "SimpleRNN",
    ),
    "LayerNormLSTM": (
        lambda units, rs, **kw: keras_seqmem.LayerNormLSTM(
            units, return_sequences=rs, **kw
        ),
        4,
        "LSTM",
    ),
    "LayerNormSimpleRNN": (
        lambda units, rs, **kw: keras_seqmem.LayerNormSimpleRNN(
            units, return_sequences=rs, **kw
        ),
        1,
        "SimpleRNN",
    ),
    # keras_seqmem's loop (tf.while_loop / jax.lax.scan, public APIs) over
    # Keras' LSTMCell, against keras.layers.RNN over the same cell.
    "ksRNN(LSTMCell)": (
        lambda units, rs: keras_seqmem.RNN(
            keras.layers.LSTMCell(units), return_sequences=rs
        ),
        4,
        "RNN(LSTMCell)",
    ),
}

MODES = ("train", "infer")
# The issue's three shapes: name -> (batch, steps, features, units).
SHAPES = {
    "small": (32, 50, 32, 64),
    "reference": (64, 100, 64, 256),
    "large": (128, 200, 128, 512),
}
# Timed calls per model and mode at each shape (a large-shape training
# step takes about a second on 2 CPU cores).
SHAPE_REPEATS = {"small": 15, "reference": 15, "large": 5}
# Training step ~ forward + grad wrt activations + grad wrt weights.
TRAIN_FLOP_FACTOR = 3.0


def cell_flops(batch, steps, features, units, gates, mode):
    """Matmul FLOPs of one call of the recurrent layer on a batch."""
    forward = 2.0 * batch * (features + units) * gates * units * steps
    return forward * (TRAIN_FLOP_FACTOR if mode == "train" else 1.0)


def build_model(make_layer, args, jit):
    inputs = keras.Input((args.steps, args.features))
    hidden = make_layer(args.units, args.return_sequences)(inputs)
    outputs = keras.layers.Dense(1)(hidden)
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3), loss="mse", jit_compile=jit
    )
    return model


def xla_status(model):
    """True when the model runs under XLA: its `jit_compile` is still True
    and no layer withdrew XLA support while running (Keras' LSTM does on a
    GPU, when it takes the cuDNN path)."""
    return model.jit_compile is True and all(
        getattr(layer, "supports_jit", True) for layer in iter_layers(model)
    )


def make_data(args):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.batch, args.steps, args.features))
    y_shape = (
        (args.batch, args.steps, 1) if args.return_sequences else (args.batch, 1)
    )
    y = rng.standard_normal(y_shape)
    # Tensors up front, so that no call pays for a NumPy -> tensor copy.
    return tf.constant(x, tf.float32), tf.constant(y, tf.float32)


def make_call(model, mode, x, y):
    if mode == "train":
        return lambda: model.train_on_batch(x, y)
    return lambda: model.predict_on_batch(x)


def log(*parts):
    print(*parts, flush=True)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        allow_abbrev=False,
    )
    p.add_argument(
        "--shapes", default=None,
        help="comma-separated subset of " + ",".join(SHAPES) + " (all "
        "three), the (batch, steps, features, units) of each: "
        + "; ".join(f"{k} {v}" for k, v in SHAPES.items()),
    )
    p.add_argument("--batch", type=int, default=None,
                   help="batch size: with --steps, --features, --units, "
                   "one custom shape instead of --shapes (default 64)")
    p.add_argument("--steps", type=int, default=None,
                   help="time steps of the custom shape (100)")
    p.add_argument("--features", type=int, default=None,
                   help="input features of the custom shape (64)")
    p.add_argument("--units", type=int, default=None,
                   help="recurrent units of the custom shape (256)")
    p.add_argument(
        "--repeats", type=int, default=None,
        help="timed calls per model and mode; the median is reported "
        "(15 at the small and reference shapes, 5 at the large one, 2 "
        "with --quick)",
    )
    p.add_argument(
        "--warmup", type=int, default=None,
        help="untimed calls first, for tracing and XLA compilation "
        "(2, or 1 with --quick)",
    )
    p.add_argument(
        "--layers", default=",".join(LAYERS),
        help="comma-separated subset of " + ",".join(LAYERS) + " (all)",
    )
    p.add_argument(
        "--modes", default=",".join(MODES),
        help="comma-separated subset of train,infer (both)",
    )
    p.add_argument(
        "--jit", choices=("both", "on", "off"), default="both",
        help="compile the models with jit_compile=False, True, or both "
        "(both)",
    )
    p.add_argument(
        "--return-sequences", action="store_true",
        help="layers return the whole sequence, Dense(1) at every step",
    )
    p.add_argument(
        "--matmul-size", type=int, default=2048,
        help="n of the (n, n) x (n, n) reference matmul (2048)",
    )
    p.add_argument(
        "--fast-path", choices=("true", "stepwise", "false"), default="true",
        help="our layers' fast_path: the fused loop (true, the default), "
        "the step-by-step path, or the cell at every step",
    )
    p.add_argument("--json", metavar="PATH", help="also write results here")
    p.add_argument(
        "--quick", action="store_true",
        help="smoke run of seconds: batch 8, 10 steps, 8 features, 16 "
        "units, 256 reference matmul, 1 warm-up + 2 timed calls "
        "(flags given explicitly still win)",
    )
    args = p.parse_args(argv)

    custom = [getattr(args, a) for a in ("batch", "steps", "features",
                                          "units")]
    quick_shape = False
    if args.quick:
        _timing.apply_quick(args, argv, {
            "--matmul-size": ("matmul_size", 256),
        })
        if args.shapes is None and all(v is None for v in custom):
            custom = [8, 10, 8, 16]
            quick_shape = True
    if any(v is not None for v in custom):
        if args.shapes is not None:
            p.error("give either --shapes or --batch/--steps/--features/"
                    "--units (one custom shape), not both")
        args.shapes = {("quick" if quick_shape else "custom"): tuple(
            d if v is None else v
            for v, d in zip(custom, SHAPES["reference"]))}
    else:
        names = [s.strip() for s in (args.shapes or ",".join(SHAPES))
                 .split(",") if s.strip()]
        for name in names:
            if name not in SHAPES:
                p.error(f"unknown shape {name!r}; choose from "
                        f"{', '.join(SHAPES)}")
        args.shapes = {name: SHAPES[name] for name in names}
    args.shape_repeats = {
        name: (args.repeats if args.repeats is not None
               else 2 if args.quick else SHAPE_REPEATS.get(name, 15))
        for name in args.shapes
    }
    if args.warmup is None:
        args.warmup = 1 if args.quick else 2

    args.layers = [s.strip() for s in args.layers.split(",") if s.strip()]
    args.modes = [s.strip() for s in args.modes.split(",") if s.strip()]
    for name in args.layers:
        if name not in LAYERS:
            p.error(f"unknown layer {name!r}; choose from {', '.join(LAYERS)}")
    for mode in args.modes:
        if mode not in MODES:
            p.error(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
    for attr in ("repeats", "matmul_size"):
        if getattr(args, attr) is not None and getattr(args, attr) < 1:
            p.error(f"--{attr.replace('_', '-')} must be >= 1")
    for name, shape in args.shapes.items():
        if min(shape) < 1:
            p.error("--batch, --steps, --features and --units must be >= 1")
    if args.warmup < 1:
        # The first call traces and compiles; it must never be timed.
        p.error("--warmup must be >= 1")
    args.jits = {"both": [False, True], "on": [True], "off": [False]}[args.jit]
    return args


HEADER = (
    f"{'shape':<9} {'layer':<18} {'baseline':<10} {'jit':<4} {'mode':<6}"
    f" {'ours seq/s':>11} {'keras seq/s':>11} {'ratio':>6} {'paired':>6}"
    f" {'ours GF/s':>9} {'% peak':>7} {'keras GF/s':>10} {'% peak':>7}"
    f"  {'spread':>6}  xla"
)


def format_row(r):
    return (
        f"{r.get('shape', '-'):<9} {r['layer']:<18} {r['baseline']:<10} {('on' if r['jit'] else 'off'):<4}"
        f" {r['mode']:<6}"
        f" {r['ours_seq_per_s']:>11.1f} {r['keras_seq_per_s']:>11.1f}"
        f" {r['ratio']:>6.2f} {r['paired_ratio']:>6.2f}"
        f" {r['ours_gflops']:>9.1f} {100 * r['ours_peak_fraction']:>6.1f}%"
        f" {r['keras_gflops']:>10.1f} {100 * r['keras_peak_fraction']:>6.1f}%"
        f"  {100 * r['spread']:>5.0f}%"
        f"  {r['xla']}"
    )


def run_shape(args, shape_name, shape, peak, xla_problems):
    """The rows of one shape: every layer, XLA setting and mode."""
    import copy

    args = copy.copy(args)
    args.batch, args.steps, args.features, args.units = shape
    args.repeats = args.shape_repeats[shape_name]
    x, y = make_data(args)
    rows = []
    for jit in args.jits:
        for name in args.layers:
            make_ours, gates, base_name = LAYERS[name]
            make_base, base_gates = BASELINES[base_name]
            if base_name != "RNN(LSTMCell)":
                fast_path = {"true": True, "false": False}.get(
                    args.fast_path, args.fast_path)
                make_ours = functools.partial(make_ours, fast_path=fast_path)
            keras.utils.set_random_seed(0)
            ours = build_model(make_ours, args, jit)
            keras.utils.set_random_seed(0)
            base = build_model(make_base, args, jit)
            for mode in args.modes:
                t0 = time.perf_counter()
                timings = _timing.time_interleaved(
                    {
                        "ours": make_call(ours, mode, x, y),
                        "keras": make_call(base, mode, x, y),
                    },
                    repeats=args.repeats,
                    warmup=args.warmup,
                )
                xla = "-"
                if jit:
                    ok = {"ours": xla_status(ours), "keras": xla_status(base)}
                    if all(ok.values()):
                        xla = "yes"
                    else:
                        dropped = [k for k, v in ok.items() if not v]
                        xla = "DROPPED(" + ",".join(dropped) + ")"
                        xla_problems.append((name, mode, dropped))
                        log(
                            f"!! XLA was requested but not used for "
                            f"{' and '.join(dropped)} ({name} vs {base_name}, "
                            f"{mode}); that row is not an XLA measurement"
                        )
                t_ours = timings["ours"].median
                t_base = timings["keras"].median
                f_ours = cell_flops(
                    args.batch, args.steps, args.features, args.units,
                    gates, mode,
                )
                f_base = cell_flops(
                    args.batch, args.steps, args.features, args.units,
                    base_gates, mode,
                )
                row = {
                    "shape": shape_name,
                    "batch": args.batch,
                    "steps": args.steps,
                    "features": args.features,
                    "units": args.units,
                    "layer": name,
                    "baseline": base_name,
                    "jit": jit,
                    "mode": mode,
                    "ours_seq_per_s": args.batch / t_ours,
                    "keras_seq_per_s": args.batch / t_base,
                    "ratio": t_base / t_ours,
                    # Median over rounds of keras/ours of the same round:
                    # the two calls of a round ran back to back, so this
                    # one is the least sensitive to a change of load.
                    "paired_ratio": float(
                        np.median(
                            np.asarray(timings["keras"].samples)
                            / np.asarray(timings["ours"].samples)
                        )
                    ),
                    "ours_gflops": _timing.gflops(f_ours, t_ours),
                    "keras_gflops": _timing.gflops(f_base, t_base),
                    "ours_peak_fraction": _timing.gflops(f_ours, t_ours) / peak,
                    "keras_peak_fraction": _timing.gflops(f_base, t_base) / peak,
                    "spread": max(
                        timings["ours"].spread, timings["keras"].spread
                    ),
                    "xla": xla,
                    "ours_timing": timings["ours"].as_dict(),
                    "keras_timing": timings["keras"].as_dict(),
                }
                rows.append(row)
                if len(rows) == 1:
                    log("")
                    log(HEADER)
                log(
                    format_row(row)
                    + f"   [{time.perf_counter() - t0:.0f}s incl. warm-up]"
                )
            del ours, base
            keras.backend.clear_session()

    return rows


def run(args):
    env = _timing.environment()
    log("== keras_seqmem recurrent benchmark ==")
    log(
        f"TensorFlow {env['tensorflow']}, Keras {env['keras']} "
        f"(backend {env['keras_backend']}), NumPy {env['numpy']}, "
        f"Python {env['python']}"
    )
    log(
        f"device: {env['accelerator'] if env['accelerator'] != 'none' else 'CPU only'}"
        f"; CPUs: {env['cpu_count']} ({env['usable_cpus']} usable); "
        f"{env['processor']}; {env['platform']}"
    )
    for name, (b, t, d, u) in args.shapes.items():
        log(
            f"shape {name}: batch {b}, steps {t}, features {d}, units {u}, "
            f"return_sequences={args.return_sequences}; {args.warmup} "
            f"warm-up + {args.shape_repeats[name]} timed calls per model and "
            f"mode, median reported"
        )

    started = time.perf_counter()
    peaks = []

    def measure_peak(when):
        # Plain TensorFlow and XLA run a big matmul through different
        # kernels; the faster of the two is the machine's matmul peak.
        best = 0.0
        for jit in (False, True):
            gf, timing = _timing.matmul_peak(
                args.matmul_size,
                repeats=3 if args.quick else 5,
                warmup=2,
                jit_compile=jit,
            )
            peaks.append(
                {"when": when, "jit": jit, "gflops": gf, **timing.as_dict()}
            )
            log(
                f"reference tf.matmul {args.matmul_size}x{args.matmul_size} "
                f"float32, jit {'on ' if jit else 'off'} ({when}): "
                f"{gf:6.1f} GFLOP/s (median {1e3 * timing.median:.1f} ms)"
            )
            best = max(best, gf)
        return best

    peak = measure_peak("start")

    rows = []
    xla_problems = []
    for shape_name, shape in args.shapes.items():
        rows += run_shape(args, shape_name, shape, peak, xla_problems)

    peak_end = measure_peak("end")
    peak_start = peak
    # Other processes can take a core during one of the two measurements;
    # the best matmul rate seen in the run is the peak the rows are
    # compared with (so a fraction is never flattered by a busy moment).
    peak = max(peak_start, peak_end)
    for row in rows:
        row["ours_peak_fraction"] = row["ours_gflops"] / peak
        row["keras_peak_fraction"] = row["keras_gflops"] / peak
    elapsed = time.perf_counter() - started

    log("")
    log("== results ==")
    log(
        f"matmul peak: {peak:.1f} GFLOP/s (best of {peak_start:.1f} at the "
        f"start and {peak_end:.1f} at the end; '% peak' columns use it)"
    )
    log(HEADER)
    for row in rows:
        log(format_row(row))
    n = len(rows)
    at_least_1 = sum(r["ratio"] >= 1.0 for r in rows)
    at_least_125 = sum(r["ratio"] >= 1.25 for r in rows)
    xla_rows = [r for r in rows if r["jit"] and r["xla"] == "yes"]
    xla_125 = sum(r["ratio"] >= 1.25 for r in xla_rows)
    log("")
    log(
        f"summary: {at_least_125}/{n} ratios >= 1.25 (target), "
        f"{at_least_1}/{n} >= 1.0 (floor); {xla_125}/{len(xla_rows)} XLA "
        f"ratios >= 1.25"
    )
    per_shape = {}
    for shape_name in args.shapes:
        srows = [r for r in rows if r["shape"] == shape_name]
        per_shape[shape_name] = {
            "rows": len(srows),
            "ratios_at_least_1": sum(r["ratio"] >= 1.0 for r in srows),
            "ratios_at_least_1_25": sum(r["ratio"] >= 1.25 for r in srows),
            "min_ratio": min((r["ratio"] for r in srows), default=None),
            "max_ours_peak_fraction": max(
                (r["ours_peak_fraction"] for r in srows), default=None),
        }
        ps = per_shape[shape_name]
        if srows:
            log(
                f"  {shape_name}: {ps['ratios_at_least_1_25']}/{ps['rows']} "
                f">= 1.25, {ps['ratios_at_least_1']}/{ps['rows']} >= 1.0, "
                f"lowest {ps['min_ratio']:.2f}; our best % of matmul peak "
                f"{100 * ps['max_ours_peak_fraction']:.1f}%"
            )
    slow = [r for r in rows if r["ratio"] < 1.0]
    for r in slow:
        log(
            f"  below 1.0: {r['shape']} {r['layer']} vs {r['baseline']}, "
            f"jit {'on' if r['jit'] else 'off'}, {r['mode']}: "
            f"{r['ratio']:.2f}"
        )
    noisy = [r for r in rows if r["spread"] > 0.25]
    if noisy:
        log(
            f"note: {len(noisy)} row(s) had a (max-min)/median spread over "
            f"25% (machine busy?); medians are robust but re-run to confirm."
        )
    log(f"total time: {elapsed:.0f}s")

    result = {
        "environment": env,
        "args": {
            k: v for k, v in vars(args).items() if k not in ("jits",)
        },
        "flop_model": {
            "forward_per_step": "2 * batch * (features + units) * G * units",
            "train_factor": TRAIN_FLOP_FACTOR,
        },
        "matmul_peak": peaks,
        "rows": rows,
        "summary": {
            "rows": n,
            "ratios_at_least_1": at_least_1,
            "ratios_at_least_1_25": at_least_125,
            "per_shape": per_shape,
            "xla_rows": len(xla_rows),
            "xla_ratios_at_least_1_25": xla_125,
            "xla_dropped": [
                {"layer": l, "mode": m, "models": d} for l, m, d in xla_problems
            ],
        },
        "elapsed_s": elapsed,
    }
    if xla_problems:
        log(
            "!! jit_compile=True was requested but XLA was not used in "
            f"{len(xla_problems)} measurement(s): see the xla column."
        )
    return result


def main(argv=None):
    args = parse_args(argv)
    result = run(args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
        log(f"wrote {args.json}")
    # The XLA check is an assertion: a jit run that silently fell back to
    # plain TensorFlow must not pass for an XLA measurement.
    return 3 if result["summary"]["xla_dropped"] else 0


if __name__ == "__main__":
    sys.exit(main())
