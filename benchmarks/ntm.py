"""Training throughput of keras_seqmem's NTM, XLA off and on, and how its
step time grows with the memory size, against Keras' own LSTM.

Steps per second of `model.train_on_batch(x, y, sample_weight=mask)` on copy
sequences (`keras_seqmem.tasks.algorithmic`, 8-bit vectors, lengths up to
`--length`, so T = 2 length + 1 steps; Adam with global norm clipping 50,
binary cross-entropy on logits), for

    ntm    keras_seqmem.sequence_training.build_sequence_model("copy", "ntm",
               units=100, memory_size=N, word_size=20): an NTM with an
               LSTMCell(100) controller, one read and one write head, for
               N = 64, 128, 256, 512 (`--memory-sizes`)
    lstm   the same function's "lstm" model: keras.layers.LSTM(100) and a
           Dense output, i.e. the NTM's controller alone without the memory

each with `jit_compile=False` and `True`. All models of one XLA setting are
timed interleaved (`_timing.time_interleaved`: each is called in turn, round
after round), so a change of machine load hits them alike. Reported per
model: the median step time, steps/s, sequences/s, the XLA speed-up (XLA off
time / on time), the ratio of the NTM's step time to the LSTM's measured in
the same run, and the step time relative to N = 64; then, per XLA setting,
how close the NTM's step time is to a straight line in N (`linear_fit`:
least-squares slope and intercept, R², the largest relative deviation from
the line, and the ratio time(2N) / time(N) per doubling). Every timed
sample is in the `--json` report, with the environment. A jit row whose
model does not run under XLA (`recurrent.xla_status`) is reported in
`xla_dropped` and the script exits 3.

    python benchmarks/ntm.py                  # about 3 minutes on 2 CPU cores
    python benchmarks/ntm.py --quick          # smoke run, tiny shapes
    python benchmarks/ntm.py --json ntm.json  # also write every sample
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


# The copy task's shapes and the timing, shared with ntm_ablation.py.
QUICK = {
    "--batch": ("batch", 2), "--length": ("length", 3),
    "--units": ("units", 8), "--word-size": ("word_size", 4),
    "--repeats": ("repeats", 2), "--warmup": ("warmup", 1),
    "--steps-per-call": ("steps_per_call", 1),
}


def add_task_arguments(p, repeats):
    """The copy task's and the timing's flags (`--batch`, `--length`,
    `--units`, `--word-size`, `--repeats`, `--warmup`, `--steps-per-call`,
    `--json`, `--quick`); `repeats` the default of `--repeats`."""
    p.add_argument("--batch", type=int, default=8, help="batch size (8)")
    p.add_argument("--length", type=int, default=20,
                   help="longest copy sequence (20: T = 41 steps)")
    p.add_argument("--units", type=int, default=100,
                   help="controller / LSTM units (100)")
    p.add_argument("--word-size", type=int, default=20)
    p.add_argument("--repeats", type=int, default=repeats,
                   help=f"timed calls per model ({repeats})")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--steps-per-call", type=int, default=5,
                   help="train_on_batch calls per timed call (5)")
    p.add_argument("--json", metavar="PATH", help="also write results here")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: tiny shapes, few repeats")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                allow_abbrev=False)
    add_task_arguments(p, repeats=15)
    p.add_argument("--memory-sizes", type=int, nargs="+",
                   default=[64, 128, 256, 512])
    args = p.parse_args(argv)
    if args.quick:
        _timing.apply_quick(args, argv, {
            **QUICK, "--memory-sizes": ("memory_sizes", [8, 16])})
    return args


def make_data(args):
    from keras_seqmem.tasks import algorithmic

    x, y, mask = algorithmic.COPY.generate(
        args.batch, seed=0, min_length=max(1, args.length // 2),
        max_length=args.length)
    return tuple(tf.constant(a) for a in (x, y, mask))


def run(args):
    from keras_seqmem import sequence_training

    x, y, mask = make_data(args)
    task_params = {"max_length": args.length}
    rows, problems, timings = [], [], {}
    for jit in (False, True):
        models = {}
        for n in args.memory_sizes:
            models[f"ntm_{n}"] = sequence_training.build_sequence_model(
                "copy", "ntm", units=args.units, memory_size=n,
                word_size=args.word_size, jit_compile=jit,
                task_params=task_params)
        models["lstm"] = sequence_training.build_sequence_model(
            "copy", "lstm", units=args.units, jit_compile=jit,
            task_params=task_params)

        def call(model):
            def fn():
                for _ in range(args.steps_per_call):
                    model.train_on_batch(x, y, sample_weight=mask)
            return fn

        log(f"timing jit_compile={jit}: {', '.join(models)}")
        timing = _timing.time_interleaved(
            {name: call(m) for name, m in models.items()},
            repeats=args.repeats, warmup=args.warmup)
        for name, model in models.items():
            if jit and not xla_status(model):
                problems.append(f"{name}: not run under XLA")
        lstm_step = timing["lstm"].median / args.steps_per_call
        first_step = timing[f"ntm_{args.memory_sizes[0]}"].median / \
            args.steps_per_call
        for name, model in models.items():
            step = timing[name].median / args.steps_per_call
            rows.append({
                "model": name, "jit": jit,
                "memory_size": int(name.split("_")[1]) if name != "lstm"
                else None,
                "parameters": int(model.count_params()),
                "step_s": step, "steps_per_s": 1.0 / step,
                "sequences_per_s": args.batch / step,
                "ratio_to_lstm": step / lstm_step,
                "relative_to_first": (step / first_step if name != "lstm"
                                      else None),
                "spread": timing[name].spread,
                "timing": timing[name].as_dict(),
            })
            timings[name, jit] = step
    for row in rows:
        off, on = timings[row["model"], False], timings[row["model"], True]
        row["xla_speedup"] = off / on
    return rows, problems


def linear_fit(xs, ys):
    """How close `ys` (step times) are to a straight line in `xs` (memory
    size, hops): the least-squares line `y = slope x + intercept`, its R²,
    the largest relative deviation of a point from it, and for each
    doubling of `x` in the sweep the ratio `y(2x) / y(x)` (2 when the time
    is proportional to `x`, 1 when it does not grow, above 2 when it grows
    faster than linearly)."""
    x = np.asarray(xs, dtype=float)
    y = np.asarray(ys, dtype=float)
    slope, intercept = np.polyfit(x, y, 1)
    fit = slope * x + intercept
    residual = float(np.sum((y - fit) ** 2))
    total = float(np.sum((y - y.mean()) ** 2))
    where = {float(v): i for i, v in enumerate(x)}
    doublings = {
        f"{int(v)}->{int(2 * v)}": float(y[where[2 * v]] / y[i])
        for i, v in enumerate(x) if float(2 * v) in where
    }
    return {
        "x": [float(v) for v in x], "y_s": [float(v) for v in y],
        "slope_s_per_unit": float(slope), "intercept_s": float(intercept),
        "r2": 1.0 - residual / total if total > 0 else 1.0,
        "max_relative_deviation": float(np.max(np.abs(y - fit) / y)),
        "doubling_ratios": doublings,
    }


def format_fit(fit, unit):
    doublings = ", ".join(f"{k}: x{v:.2f}"
                          for k, v in fit["doubling_ratios"].items())
    return (f"{1e3 * fit['intercept_s']:.2f} ms + "
            f"{1e6 * fit['slope_s_per_unit']:.2f} us/{unit}; R^2 "
            f"{fit['r2']:.4f}, largest deviation from the line "
            f"{100 * fit['max_relative_deviation']:.1f}%; per doubling "
            f"{doublings}")


def fits(rows, args):
    """Step time against the memory size, per XLA setting."""
    result = {}
    for jit in (False, True):
        series = sorted((r["memory_size"], r["step_s"]) for r in rows
                        if r["jit"] == jit and r["memory_size"] is not None)
        if len(series) >= 2:
            result["on" if jit else "off"] = linear_fit(*zip(*series))
    return result


def print_table(rows, args):
    log(f"\nNTM training on copy (batch {args.batch}, T = "
        f"{2 * args.length + 1}, LSTM-{args.units} controller, word size "
        f"{args.word_size}); median of {args.repeats} x "
        f"{args.steps_per_call} steps")
    log("| model | memory | params | XLA | steps/s | sequences/s | "
        "XLA speed-up | step / LSTM step | step / N=" +
        f"{args.memory_sizes[0]} step |")
    log("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        log(f"| {r['model']} | {r['memory_size'] or '-'} | "
            f"{r['parameters']:,} | {'yes' if r['jit'] else 'no'} | "
            f"{r['steps_per_s']:.1f} | {r['sequences_per_s']:.0f} | "
            f"{r['xla_speedup']:.2f} | {r['ratio_to_lstm']:.2f} | "
            + (f"{r['relative_to_first']:.2f}" if r["relative_to_first"]
               else "-") + " |")


def main(argv=None):
    args = parse_args(argv)
    environment = _timing.environment()
    log(f"environment: TF {environment['tensorflow']}, Keras "
        f"{environment['keras']}, {environment['usable_cpus']} usable CPUs, "
        f"accelerator {environment['accelerator']}")
    load_start = os.getloadavg()
    rows, problems = run(args)
    load_end = os.getloadavg()
    print_table(rows, args)
    linear = fits(rows, args)
    log("\nstep time against the memory size (least squares; a straight "
        "line and x2 per doubling = linear):")
    for label, fit in linear.items():
        log(f"  XLA {label}: {format_fit(fit, 'slot')}")
    log(f"load average: {' '.join(f'{v:.2f}' for v in load_start)} at the "
        f"start, {' '.join(f'{v:.2f}' for v in load_end)} at the end")
    for problem in problems:
        log(f"XLA DROPPED: {problem}")
    result = {"args": vars(args), "environment": environment, "rows": rows,
              "linear_fit_memory_size": linear,
              "load_average": {"start": list(load_start),
                               "end": list(load_end)},
              "xla_dropped": problems}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2, default=float)
        log(f"wrote {args.json}")
    return 3 if problems else 0


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    sys.exit(main())
