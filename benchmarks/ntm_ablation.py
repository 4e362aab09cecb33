"""Where the NTM's training step goes: ablations of its addressing and
write, timed against its LSTM controller alone.

The models of `benchmarks/ntm.py` at one memory size (`--memory-size`, 128
by default): `sequence_training.build_sequence_model("copy", "ntm",
units=100, memory_size=N, word_size=20)` (an NTM with an `LSTMCell(100)`
controller, one read and one write head) and the same function's `"lstm"`
model (`keras.layers.LSTM(100)` and a `Dense` output: the controller
alone), trained with `model.train_on_batch(x, y, sample_weight=mask)` on
copy sequences (`ntm.make_data`). The NTM is built once per variant:

    full          the package's NTM: eqs. (5)-(9) and the write
    content_only  content addressing alone, w_t = w^c_t: no interpolation,
                  shift or sharpening (not the NTM)
    no_shift      content, interpolation, sharpening: w_t = sharpen(w^g_t)
    no_sharpen    content, interpolation, shift: w_t = w̃_t
    no_content    location addressing alone: the previous weighting
                  shifted and sharpened, w_t = sharpen(shift(w_{t−1}, s_t))
                  (no content weighting, no interpolation)
    no_write      the memory is never written (M_t = M_{t−1}, the initial
                  memory throughout); the addressing is the full one

The variants exist only in this process: `keras_seqmem.memory.addressing`'s
`address` and `write` are replaced here by functions that dispatch on the
variant of the model being called (set before each call, so a retrace
traces the same variant); the package is unchanged. The cell still computes
every head parameter; the ones a variant does not use (the gate in
`content_only` and `no_content`, the erase and add vectors in `no_write`)
are dead code that XLA drops. Every variant starts from the full model's
weights, and the script checks that the variants are in effect: before
timing, that each changes the outputs (`max_abs_output_difference_from_full`
> 0); after timing, that training left unchanged exactly the head
projection's columns the timed variant does not use
(`UNUSED_HEAD_PARAMETERS`, plus those listed in `MAY_BE_UNCHANGED`; the
full NTM changes them all). A failed check
is listed in `problems` and the script exits 3.

All models of one XLA setting (`--jit on|off|both`, on by default) are
timed interleaved (`_timing.time_interleaved`); reported per model: the
median step time (ms), the ratio to the LSTM's step, and the share of the
full NTM's step (`step / full step`; `1 −` that is what removing the stage
saves). A jit row whose model does not run under XLA
(`recurrent.xla_status`) is reported in `xla_dropped` and the script exits
3. Every timed sample is in the `--json` report, with the environment and
the load average.

    python benchmarks/ntm_ablation.py                 # about 3 min, 2 cores
    python benchmarks/ntm_ablation.py --quick         # smoke run: tiny
                                                      # shapes, no XLA, one
                                                      # variant timed
    python benchmarks/ntm_ablation.py --json ablation.json
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import _timing  # noqa: E402
import ntm  # noqa: E402  (benchmarks/ntm.py)
from ntm import log  # noqa: E402
from ntm import make_data  # noqa: E402
from recurrent import xla_status  # noqa: E402

VARIANTS = {
    "full": "the package's NTM: content, interpolation, shift, sharpening, "
            "write",
    "content_only": "content addressing alone (no interpolation, shift or "
                    "sharpening)",
    "no_shift": "no circular shift",
    "no_sharpen": "no sharpening",
    "no_content": "no content addressing: previous weighting shifted and "
                  "sharpened",
    "no_write": "no write: the memory stays the initial memory",
}

# The head parameters each variant leaves unused: their columns of the
# head projection get an exactly zero gradient, so training leaves them as
# they were (Adam without weight decay), while the full NTM's training
# changes every column. `check_trained_variants` compares.
UNUSED_HEAD_PARAMETERS = {
    "full": [],
    "content_only": ["gate", "shift", "sharpen"],
    "no_shift": ["shift"],
    "no_sharpen": ["sharpen"],
    "no_content": ["key", "strength", "gate"],
    "no_write": ["erase", "add"],
}

# ... and those it may leave unchanged too: without the write, or with
# content addressing alone, the memory's rows stay equal (the constant
# initial memory, never written or written uniformly), so the content
# weighting is uniform whatever the key and strength, and their gradient is
# zero up to rounding (which Adam's normalisation turns into a step or not).
MAY_BE_UNCHANGED = {
    "content_only": ["key", "strength"],
    "no_write": ["key", "strength"],
}

_ACTIVE = {"variant": "full"}
_ORIGINAL = {}


def _address(memory, previous, keys, strengths, gates, shifts, gammas,
             epsilon=None):
    """`addressing.address` of the active variant."""
    from keras_seqmem.memory import addressing as a

    if epsilon is None:
        epsilon = a.NORM_EPSILON
    variant = _ACTIVE["variant"]
    if variant == "content_only":
        return a.content_weights(memory, keys, strengths, epsilon)
    if variant == "no_shift":
        return a.sharpen(a.interpolate(
            a.content_weights(memory, keys, strengths, epsilon), previous,
            gates), gammas)
    if variant == "no_sharpen":
        return a.circular_shift(a.interpolate(
            a.content_weights(memory, keys, strengths, epsilon), previous,
            gates), shifts)
    if variant == "no_content":
        return a.sharpen(a.circular_shift(previous, shifts), gammas)
    return _ORIGINAL["address"](memory, previous, keys, strengths, gates,
                                shifts, gammas, epsilon)


def _write(memory, weights, erase, add):
    """`addressing.write` of the active variant."""
    if _ACTIVE["variant"] == "no_write":
        return memory
    return _ORIGINAL["write"](memory, weights, erase, add)


def install_variants():
    """Replaces `addressing.address` and `addressing.write` in this process
    by the dispatching functions above (the NTM cell looks them up on the
    module at every call)."""
    from keras_seqmem.memory import addressing

    if not _ORIGINAL:
        _ORIGINAL["address"] = addressing.address
        _ORIGINAL["write"] = addressing.write
    addressing.address = _address
    addressing.write = _write


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                allow_abbrev=False)
    ntm.add_task_arguments(p, repeats=21)
    p.add_argument("--memory-size", type=int, default=128,
                   help="memory slots N (128)")
    p.add_argument("--jit", choices=("on", "off", "both"), default="on",
                   help="XLA setting(s) to time (on)")
    p.add_argument("--variants", nargs="+", choices=list(VARIANTS),
                   default=list(VARIANTS),
                   help="NTM variants to time (all; 'full' is always "
                   "added; the output check runs on all)")
    args = p.parse_args(argv)
    if args.quick:
        _timing.apply_quick(args, argv, {
            **ntm.QUICK, "--memory-size": ("memory_size", 8),
            # Tracing a training step costs about 2.5 s per NTM model even
            # at tiny shapes, XLA's compilation more: the smoke run times
            # one variant without XLA (the output check still covers all).
            "--jit": ("jit", "off"), "--variants": ("variants", ["no_write"]),
        })
    if "full" not in args.variants:
        args.variants = ["full"] + args.variants
    return args


def build_models(args, jit):
    """Every NTM variant (all of `VARIANTS`, for the output check; only
    `args.variants` are timed), with the full model's weights, and the
    LSTM."""
    from keras_seqmem import sequence_training

    task_params = {"max_length": args.length}
    models = {}
    for variant in VARIANTS:
        models[variant] = sequence_training.build_sequence_model(
            "copy", "ntm", units=args.units, memory_size=args.memory_size,
            word_size=args.word_size, jit_compile=jit,
            task_params=task_params)
    full_weights = models["full"].get_weights()
    for variant in VARIANTS:
        models[variant].set_weights(full_weights)
    models["lstm"] = sequence_training.build_sequence_model(
        "copy", "lstm", units=args.units, jit_compile=jit,
        task_params=task_params)
    return models


def output_differences(models, x):
    """Largest |output − full output| of each NTM variant (same weights),
    eager, before any training step: 0 for a variant means its patch was
    not in effect."""
    outputs = {}
    for variant, model in models.items():
        if variant == "lstm":
            continue
        _ACTIVE["variant"] = variant
        outputs[variant] = np.asarray(model(x, training=False))
    _ACTIVE["variant"] = "full"
    return {v: float(np.max(np.abs(o - outputs["full"])))
            for v, o in outputs.items()}


def head_columns(cell):
    """{parameter: column indices of the cell's head projection}, from the
    layout documented in `NTMCell` (head j = [k | β | g | s | γ], then
    [e_0 | a_0 | e_1 | a_1 ...])."""
    W, S = cell.word_size, 2 * cell.shift_range + 1
    columns = {name: [] for name in ("key", "strength", "gate", "shift",
                                     "sharpen", "erase", "add")}
    for j in range(cell.num_heads):
        base = j * cell.head_size
        columns["key"] += range(base, base + W)
        columns["strength"].append(base + W)
        columns["gate"].append(base + W + 1)
        columns["shift"] += range(base + W + 2, base + W + 2 + S)
        columns["sharpen"].append(base + W + 2 + S)
    offset = cell.num_heads * cell.head_size
    for h in range(cell.num_write_heads):
        columns["erase"] += range(offset + 2 * h * W, offset + (2 * h + 1) * W)
        columns["add"] += range(offset + (2 * h + 1) * W,
                                offset + (2 * h + 2) * W)
    return columns


def head_projection(model):
    cell = model.get_layer("ntm").cell
    return (np.asarray(cell.head_kernel.numpy()),
            np.asarray(cell.head_bias.numpy()))


def unchanged_head_parameters(model, initial):
    """The head parameters whose projection columns (kernel and bias) are
    exactly as they were before training."""
    cell = model.get_layer("ntm").cell
    kernel, bias = head_projection(model)
    kernel0, bias0 = initial
    return [name for name, cols in head_columns(cell).items()
            if np.array_equal(kernel[:, cols], kernel0[:, cols])
            and np.array_equal(bias[cols], bias0[cols])]


def run(args):
    install_variants()
    x, y, mask = make_data(args)
    jits = {"on": [True], "off": [False], "both": [False, True]}[args.jit]
    rows, problems, checks = [], [], {}
    for jit in jits:
        models = build_models(args, jit)
        differences = output_differences(models, x)
        checks["on" if jit else "off"] = differences
        for variant, d in differences.items():
            if variant != "full" and not d > 0:
                problems.append(f"{variant} (jit {jit}): outputs equal the "
                                f"full NTM's; the variant is not in effect")

        models = {name: model for name, model in models.items()
                  if name in args.variants or name == "lstm"}
        initial_heads = head_projection(models["full"])

        def call(name, model):
            variant = name if name != "lstm" else "full"

            def fn():
                _ACTIVE["variant"] = variant
                for _ in range(args.steps_per_call):
                    model.train_on_batch(x, y, sample_weight=mask)
            return fn

        log(f"timing jit_compile={jit}: {', '.join(models)}")
        timing = _timing.time_interleaved(
            {name: call(name, m) for name, m in models.items()},
            repeats=args.repeats, warmup=args.warmup)
        _ACTIVE["variant"] = "full"
        xla_problems = [f"{name}: not run under XLA" for name, model
                        in models.items() if jit and not xla_status(model)]
        problems += xla_problems
        # Each timed model trained as its own variant (a model traced while
        # another variant was active would change the other's columns).
        unchanged = {name: unchanged_head_parameters(model, initial_heads)
                     for name, model in models.items() if name != "lstm"}
        for name, found in unchanged.items():
            unused = set(UNUSED_HEAD_PARAMETERS[name])
            if not unused <= set(found) <= unused | set(
                    MAY_BE_UNCHANGED.get(name, ())):
                problems.append(
                    f"{name} (jit {jit}): head parameters left unchanged by "
                    f"training {sorted(found)}, expected "
                    f"{sorted(unused)} (and maybe "
                    f"{MAY_BE_UNCHANGED.get(name, [])}): the timed model did "
                    f"not run this variant")
        lstm_step = timing["lstm"].median / args.steps_per_call
        full_step = timing["full"].median / args.steps_per_call
        for name, model in models.items():
            step = timing[name].median / args.steps_per_call
            rows.append({
                "model": name, "jit": jit,
                "description": VARIANTS.get(name, "keras.layers.LSTM "
                                            "controller alone"),
                "memory_size": None if name == "lstm" else args.memory_size,
                "parameters": int(model.count_params()),
                "unused_head_parameters": UNUSED_HEAD_PARAMETERS.get(name),
                "head_parameters_unchanged_by_training": unchanged.get(name),
                "step_s": step, "step_ms": 1e3 * step,
                "ratio_to_lstm": step / lstm_step,
                "share_of_full": step / full_step,
                "saved_share_of_full": 1.0 - step / full_step,
                "spread": timing[name].spread,
                "timing": timing[name].as_dict(),
            })
    return rows, problems, checks


def print_table(rows, args):
    log(f"\nNTM ablations, training on copy (batch {args.batch}, T = "
        f"{2 * args.length + 1}, LSTM-{args.units} controller, "
        f"{args.memory_size} slots of {args.word_size}); median of "
        f"{args.repeats} x {args.steps_per_call} steps")
    log("| variant | XLA | ms/step | step / LSTM step | step / full step | "
        "saved |")
    log("|---|---|---|---|---|---|")
    for r in rows:
        log(f"| {r['model']} | {'yes' if r['jit'] else 'no'} | "
            f"{r['step_ms']:.2f} | {r['ratio_to_lstm']:.2f} | "
            f"{r['share_of_full']:.2f} | "
            f"{100 * r['saved_share_of_full']:.0f}% |")


def main(argv=None):
    args = parse_args(argv)
    environment = _timing.environment()
    log(f"environment: TF {environment['tensorflow']}, Keras "
        f"{environment['keras']}, {environment['usable_cpus']} usable CPUs, "
        f"accelerator {environment['accelerator']}")
    load_start = os.getloadavg()
    rows, problems, checks = run(args)
    load_end = os.getloadavg()
    print_table(rows, args)
    log(f"load average: {' '.join(f'{v:.2f}' for v in load_start)} at the "
        f"start, {' '.join(f'{v:.2f}' for v in load_end)} at the end")
    for problem in problems:
        log(f"PROBLEM: {problem}")
    result = {"args": vars(args), "environment": environment,
              "variants": {v: VARIANTS[v] for v in args.variants},
              "rows": rows,
              "max_abs_output_difference_from_full": checks,
              "load_average": {"start": list(load_start),
                               "end": list(load_end)},
              "xla_dropped": [p for p in problems if "XLA" in p],
              "problems": problems}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2, default=float)
        log(f"wrote {args.json}")
    return 3 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
