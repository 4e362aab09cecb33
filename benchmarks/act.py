"""Training throughput of keras_seqmem's ACT against the bare inner cell, and
how the step time grows with `max_ponder_steps`, XLA off and on.

Steps per second of `model.train_on_batch(x, y)` (a sequence model: the
recurrent layer, then `Dense(1)`; Adam, mse; random normal inputs of
`--features` features over `--steps` time steps, batch `--batch`) for

    keras_lstm   keras.layers.LSTM(units): Keras' own layer
    bare_cell    keras.layers.RNN(keras.layers.LSTMCell(units)): the inner
                 cell stepped by Keras' RNN, what ACT runs once per ponder
                 step
    act_M        ACTRNN(ACT(LSTMCell(units), max_ponder_steps=M,
                 halting_bias_initializer=-30)): halting never reaches
                 1 - eps before M, so every input step ponders exactly M
                 times, the worst case for that bound; M = 1, 2, 4, 8, 16
                 (`--ponder-steps`)
    act_typical  ACTRNN(ACT(LSTMCell(units), max_ponder_steps=16)) with the
                 default halting bias (1.0): ponder times of about 2, as at
                 the start of training; its mean ponder time is reported

with `jit_compile=False` and `True`. All models of one XLA setting are timed
interleaved (`_timing.time_interleaved`), so a change of machine load hits
them alike. Reported per model: median step time, steps/s, the ratio of its
step time to `bare_cell`'s and to `keras_lstm`'s measured in the same run,
the ratio per ponder step (step time / (M · bare_cell step time): the cost
of ACT's bookkeeping per inner-cell call), and the XLA speed-up. A jit row
whose model does not run under XLA (`recurrent.xla_status`) is reported in
`xla_dropped` and the script exits 3.

`--sweep-max-ponder [M ...]` measures instead how the step time grows with
the bound alone: `ACTRNN(ACT(LSTMCell(units), max_ponder_steps=M))` with the
default halting bias (every example halts after about 2 ponder steps,
whatever M) for M = 4, 8, 16, 32 (or the Ms given), the median training
step (`train_on_batch`) and prediction (`predict_on_batch`) times, XLA off
and on, all models of one XLA setting timed interleaved.

    python benchmarks/act.py                  # about 3 minutes on 2 CPU cores
    python benchmarks/act.py --quick          # smoke run, tiny shapes
    python benchmarks/act.py --json act.json  # also write every sample
    python benchmarks/act.py --sweep-max-ponder --json sweep.json
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import _timing  # noqa: E402
from recurrent import xla_status  # noqa: E402  (same check as recurrent.py)


def log(*parts):
    print(*parts, flush=True)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                allow_abbrev=False)
    p.add_argument("--batch", type=int, default=64, help="batch size (64)")
    p.add_argument("--steps", type=int, default=20, help="time steps (20)")
    p.add_argument("--features", type=int, default=32)
    p.add_argument("--units", type=int, default=128)
    p.add_argument("--ponder-steps", type=int, nargs="+",
                   default=[1, 2, 4, 8, 16])
    p.add_argument("--repeats", type=int, default=9)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--calls", type=int, default=3,
                   help="train_on_batch calls per timed call (3)")
    p.add_argument("--json", metavar="PATH", help="also write results here")
    p.add_argument("--sweep-max-ponder", type=int, nargs="*", metavar="M",
                   default=None,
                   help="instead: training-step and prediction time with the "
                   "default halting for each max_ponder_steps M (default 4 8 "
                   "16 32), XLA off and on")
    p.add_argument("--gradient", choices=("written", "loop"), default=None,
                   help="ACT's `gradient` argument (default: the layer's "
                   "default, 'written')")
    p.add_argument("--label", default="",
                   help="a name for this run in the results file (e.g. "
                   "'before' when keras_seqmem is imported from another "
                   "checkout through PYTHONPATH)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: tiny shapes, few repeats")
    args = p.parse_args(argv)
    if args.quick:
        _timing.apply_quick(args, argv, {
            "--batch": ("batch", 4), "--steps": ("steps", 3),
            "--features": ("features", 3), "--units": ("units", 4),
            "--ponder-steps": ("ponder_steps", [1, 3]),
            "--repeats": ("repeats", 2), "--warmup": ("warmup", 1),
            "--calls": ("calls", 1),
        })
    if args.sweep_max_ponder is not None and not args.sweep_max_ponder:
        args.sweep_max_ponder = [2, 4] if args.quick else [4, 8, 16, 32]
    if args.sweep_max_ponder and min(args.sweep_max_ponder) < 1:
        p.error("--sweep-max-ponder: every M must be >= 1")
    return args


def build(layer, args, jit):
    import keras

    inputs = keras.Input((args.steps, args.features))
    outputs = keras.layers.Dense(1)(layer(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.Adam(1e-3), "mse", jit_compile=jit)
    return model


def act_layer(units, m, bias, gradient=None):
    """ACTRNN(ACT(LSTMCell(units), max_ponder_steps=m)), halting bias `bias`
    (1.0 is the layer's default); `gradient` ACT's argument when given (a
    package from before that argument runs without it)."""
    import keras
    import keras_seqmem

    extra = {} if gradient is None else {"gradient": gradient}
    return keras_seqmem.ACTRNN(keras_seqmem.ACT(
        keras.layers.LSTMCell(units), max_ponder_steps=m,
        time_penalty=0.01,
        halting_bias_initializer=keras.initializers.Constant(bias), **extra))


def make_layers(args):
    import keras

    def act(m, bias):
        return act_layer(args.units, m, bias, args.gradient)

    layers = {"keras_lstm": lambda: keras.layers.LSTM(args.units),
              "bare_cell": lambda: keras.layers.RNN(
                  keras.layers.LSTMCell(args.units))}
    for m in args.ponder_steps:
        layers[f"act_{m}"] = lambda m=m: act(m, -30.0)
    layers["act_typical"] = lambda: act(max(args.ponder_steps), 1.0)
    return layers


def mean_ponder(model, x):
    """Mean N + R per input step of the model's ACTRNN layer."""
    import keras
    import keras_seqmem

    layer = next(l for l in model.layers
                 if isinstance(l, keras_seqmem.ACTRNN))
    probe = keras_seqmem.ACTRNN.from_config(
        {**layer.get_config(), "return_ponder": True, "name": "probe"})
    probe(x[:1])
    probe.set_weights(layer.get_weights())
    _, steps, remainders = probe(x)
    return float(keras.ops.mean(steps + remainders))


def run(args):
    rng = np.random.default_rng(0)
    x = tf.constant(rng.standard_normal(
        (args.batch, args.steps, args.features)), tf.float32)
    y = tf.constant(rng.standard_normal((args.batch, 1)), tf.float32)
    rows, problems, step_time = [], [], {}
    for jit in (False, True):
        models = {name: build(make(), args, jit)
                  for name, make in make_layers(args).items()}

        def call(model):
            def fn():
                for _ in range(args.calls):
                    model.train_on_batch(x, y)
            return fn

        log(f"timing jit_compile={jit}: {', '.join(models)}")
        timing = _timing.time_interleaved(
            {name: call(m) for name, m in models.items()},
            repeats=args.repeats, warmup=args.warmup)
        for name, model in models.items():
            if jit and not xla_status(model):
                problems.append(f"{name}: not run under XLA")
            step_time[name, jit] = timing[name].median / args.calls
        bare, lstm = step_time["bare_cell", jit], step_time["keras_lstm", jit]
        for name, model in models.items():
            step = step_time[name, jit]
            ponder = (mean_ponder(model, x) if name.startswith("act")
                      else 1.0)
            rows.append({
                "model": name, "jit": jit,
                "max_ponder_steps": (int(name.split("_")[1])
                                     if name[4:].isdigit() else None),
                "mean_ponder_time": ponder,
                "parameters": int(model.count_params()),
                "step_s": step, "steps_per_s": 1.0 / step,
                "ratio_to_bare_cell": step / bare,
                "ratio_to_keras_lstm": step / lstm,
                "spread": timing[name].spread,
                "timing": timing[name].as_dict(),
            })
    for row in rows:
        row["xla_speedup"] = (step_time[row["model"], False]
                              / step_time[row["model"], True])
        m = row["max_ponder_steps"]
        row["ratio_per_ponder_step"] = (row["ratio_to_bare_cell"] / m
                                        if m else None)
    return rows, problems


def hlo_loops(model, x, y):
    """Where the XLA training step's memory traffic goes: the `while` loops
    of the optimized HLO of forward + gradient (`tf.GradientTape`, as
    `train_on_batch` computes it, without the optimizer) and the bytes of
    each loop's state (the loop variables, accumulators of the values the
    backward pass reads included). Returns `{"while_loops": count,
    "loop_state_mb": [per loop, largest first]}`."""
    import re

    import keras

    def step(x, y):
        with tf.GradientTape() as tape:
            out = model(x, training=True)
            loss = keras.ops.mean((out - y) ** 2) + sum(model.losses)
        return tape.gradient(loss, model.trainable_variables)

    hlo = tf.function(step, jit_compile=True).experimental_get_compiler_ir(
        x, y)(stage="optimized_hlo")
    sizes = {"f32": 4, "f64": 8, "s32": 4, "pred": 1, "f16": 2, "bf16": 2}
    states = []
    for line in hlo.splitlines():
        found = re.match(r"\s*%while[.\d]* = \((.*)\) while\(", line)
        if not found:
            continue
        total = 0
        for dtype, dims in re.findall(r"(\w+)\[([\d,]*)\]", found.group(1)):
            count = 1
            for d in filter(None, dims.split(",")):
                count *= int(d)
            total += count * sizes.get(dtype, 4)
        states.append(total / 2**20)
    return {"while_loops": len(states),
            "loop_state_mb": sorted(states, reverse=True)}


def run_sweep(args):
    """Training-step and prediction time of the default-halting ACTRNN for
    each bound M, XLA off and on."""
    rng = np.random.default_rng(0)
    x = tf.constant(rng.standard_normal(
        (args.batch, args.steps, args.features)), tf.float32)
    y = tf.constant(rng.standard_normal((args.batch, 1)), tf.float32)
    rows, problems = [], []
    for jit in (False, True):
        models = {m: build(act_layer(args.units, m, 1.0, args.gradient),
                           args, jit)
                  for m in args.sweep_max_ponder}

        def train(model):
            def fn():
                for _ in range(args.calls):
                    model.train_on_batch(x, y)
            return fn

        def predict(model):
            def fn():
                for _ in range(args.calls):
                    model.predict_on_batch(x)
            return fn

        log(f"timing jit_compile={jit}: max_ponder_steps "
            f"{args.sweep_max_ponder}, training then prediction")
        train_t = _timing.time_interleaved(
            {m: train(model) for m, model in models.items()},
            repeats=args.repeats, warmup=args.warmup)
        predict_t = _timing.time_interleaved(
            {m: predict(model) for m, model in models.items()},
            repeats=args.repeats, warmup=args.warmup)
        for m, model in models.items():
            if jit and not xla_status(model):
                problems.append(f"max_ponder_steps={m}: not run under XLA")
            hlo = hlo_loops(model, x, y) if jit else None
            rows.append({
                "max_ponder_steps": m, "jit": jit,
                "mean_ponder_time": mean_ponder(model, x),
                "hlo": hlo,
                "train_step_ms": 1e3 * train_t[m].median / args.calls,
                "predict_ms": 1e3 * predict_t[m].median / args.calls,
                "train_spread": train_t[m].spread,
                "predict_spread": predict_t[m].spread,
                "train_timing": train_t[m].as_dict(),
                "predict_timing": predict_t[m].as_dict(),
            })
    return rows, problems


def print_sweep(rows, args):
    log(f"\nACT with the default halting (halting bias 1.0), batch "
        f"{args.batch}, {args.steps} steps, {args.features} features, "
        f"LSTMCell({args.units}) inside; median of {args.repeats} x "
        f"{args.calls} calls, ms per call")
    log("| max_ponder_steps | mean ponder | train ms, no XLA | train ms, XLA "
        "| predict ms, no XLA | predict ms, XLA | XLA loops | largest loop "
        "state MB |")
    log("|---:|---:|---:|---:|---:|---:|---:|---:|")
    by = {(r["max_ponder_steps"], r["jit"]): r for r in rows}
    for m in args.sweep_max_ponder:
        off, on = by[m, False], by[m, True]
        log(f"| {m} | {off['mean_ponder_time']:.2f} | "
            f"{off['train_step_ms']:.0f} | {on['train_step_ms']:.0f} | "
            f"{off['predict_ms']:.1f} | {on['predict_ms']:.1f} | "
            f"{on['hlo']['while_loops']} | {on['hlo']['loop_state_mb'][0]:.1f} "
            f"|")


def print_table(rows, args):
    log(f"\nACT training (batch {args.batch}, {args.steps} steps, "
        f"{args.features} features, LSTMCell({args.units}) inside); median "
        f"of {args.repeats} x {args.calls} steps")
    log("| model | XLA | mean ponder | steps/s | / bare cell | / keras LSTM "
        "| / (M x bare cell) | XLA speed-up |")
    log("|---|---|---|---|---|---|---|---|")
    for r in rows:
        per = (f"{r['ratio_per_ponder_step']:.2f}"
               if r["ratio_per_ponder_step"] else "-")
        log(f"| {r['model']} | {'yes' if r['jit'] else 'no'} | "
            f"{r['mean_ponder_time']:.2f} | {r['steps_per_s']:.1f} | "
            f"{r['ratio_to_bare_cell']:.2f} | {r['ratio_to_keras_lstm']:.2f} "
            f"| {per} | {r['xla_speedup']:.2f} |")


def main(argv=None):
    args = parse_args(argv)
    environment = _timing.environment()
    log(f"environment: TF {environment['tensorflow']}, Keras "
        f"{environment['keras']}, {environment['usable_cpus']} usable CPUs, "
        f"accelerator {environment['accelerator']}")
    if args.sweep_max_ponder:
        rows, problems = run_sweep(args)
        print_sweep(rows, args)
    else:
        rows, problems = run(args)
        print_table(rows, args)
    for problem in problems:
        log(f"XLA DROPPED: {problem}")
    import keras_seqmem

    environment["keras_seqmem_file"] = keras_seqmem.__file__
    environment["label"] = args.label
    result = {"args": vars(args), "environment": environment, "rows": rows,
              "xla_dropped": problems}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2, default=float)
        log(f"wrote {args.json}")
    return 3 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
