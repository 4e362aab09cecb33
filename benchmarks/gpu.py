"""A GPU run of keras_seqmem against cuDNN, in one script (issue 17, point 5).

On one GPU, in under 8 minutes (a time budget guards it, `--budget`):

1. **Recurrent layers**: `PeepholeLSTM`, `CoupledLSTM`, `LeakyRNN`,
   `LayerNormLSTM`, `LayerNormSimpleRNN`, each compiled with
   `jit_compile=True`, in `Input((T, D)) -> layer(U) -> Dense(1)` (Adam,
   MSE; `recurrent.build_model`), against two baselines built the same way:

       cuDNN     keras.layers.LSTM(U), default arguments, jit_compile=False:
                 on a GPU with TensorFlow, Keras runs it with cuDNN (the
                 `cudnn` column says whether it did)
       LSTM+XLA  keras.layers.LSTM(U, use_cudnn=False), jit_compile=True
                 (with the default use_cudnn="auto" Keras drops XLA on a
                 GPU and runs cuDNN instead)

   training (`train_on_batch`) and inference (`predict_on_batch`)
   throughput in sequences/s, at the reference shape (B=64, T=100, D=64,
   U=256) and the large one (128, 200, 128, 512). Each case (shape, layer,
   mode) times our model and both baselines interleaved
   (`_timing.time_interleaved`: ours, cuDNN, XLA, XLA, cuDNN, ours, ...),
   so the ratios are measured in the same run, round by round. `ratio` =
   ours / baseline throughput (baseline median time / our median time);
   `paired` = the median over rounds of the same ratio within a round.
2. **NTM**: training throughput of `ntm.py`'s copy model (128 slots, XLA)
   against its LSTM controller alone (`ntm.py`'s `lstm` model, XLA
   requested: on a GPU Keras runs that LSTM with cuDNN instead).
3. **MemN2N**: training throughput of `memory.py`'s model (position
   encoding, 50 slots, 3 hops, XLA) against its Keras-only baseline of the
   same equations (checked to agree first, `memory.check_equivalence`).
4. **Seq2Seq decoding**: greedy and beam-4 `generate` throughput with XLA
   (`seq2seq.measure_decoding`: every search runs all `max_length` steps).

Then the goal check, computed from the rows: a layer is "within 1.5x of
cuDNN LSTM" when every one of its ratios against the cuDNN baseline is at
least 1 / 1.5.

Everything (the command, versions, the device name from `tf.config`, the
seeds, the date, every timed sample, the cases skipped by the budget) goes
to `--json`, by default `benchmarks/results/gpu_<device>_<date>.json`.

Without a GPU the script refuses (exit status 2, one line) unless given
`--quick` (a smoke run on tiny shapes, under a minute on 2 CPU cores; the
results file says `"quick": true`) or `--allow-cpu` (the full run on the
CPU, marked so). TensorFlow backend only: Keras's LSTM runs cuDNN only
there. A case that raises is recorded (`errors`) and the run goes on; the
results file is rewritten after every case (`"complete": false` until the
end), so a run cut short keeps what it measured. Exit status 4 when a case
failed, 3 when XLA was requested but not used somewhere, else 0.

    python benchmarks/gpu.py                 # on a GPU machine, < 8 min
    python benchmarks/gpu.py --quick         # smoke run anywhere, < 60 s
"""

import argparse
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

try:
    import keras_seqmem  # noqa: E402
except ImportError:  # run from a checkout without installing the package
    sys.path.insert(0, os.path.dirname(_HERE))
    import keras_seqmem  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import memory  # noqa: E402
import ntm  # noqa: E402
import recurrent  # noqa: E402
import seq2seq  # noqa: E402

tf.get_logger().setLevel("ERROR")
_LOADED = time.perf_counter()

# name -> (batch B, steps T, features D, units U)
SHAPES = {"reference": (64, 100, 64, 256), "large": (128, 200, 128, 512)}
QUICK_SHAPES = {"tiny": (4, 5, 4, 8)}

# Our layers: constructor(units, return_sequences), as recurrent.LAYERS.
LAYERS = {name: recurrent.LAYERS[name][0]
          for name in ("PeepholeLSTM", "CoupledLSTM", "LeakyRNN")}
LAYERS["LayerNormLSTM"] = lambda units, rs: keras_seqmem.LayerNormLSTM(
    units, return_sequences=rs)
LAYERS["LayerNormSimpleRNN"] = (
    lambda units, rs: keras_seqmem.LayerNormSimpleRNN(
        units, return_sequences=rs))

# The baselines: constructor(units, return_sequences), jit_compile.
BASELINES = {
    # keras.layers.LSTM(units), default arguments (use_cudnn="auto").
    "cudnn": (recurrent.BASELINES["LSTM"][0], False),
    "lstm_xla": (lambda units, rs: keras.layers.LSTM(
        units, return_sequences=rs, use_cudnn=False), True),
}
MODES = recurrent.MODES  # ("train", "infer")
PARTS = ("recurrent", "ntm", "memn2n", "seq2seq")
GOAL = 1.5  # within 1.5x of cuDNN's LSTM: ratio >= 1 / GOAL
DEFAULT_BUDGET_S = 420.0
SEED = 0


def log(*parts):
    print(*parts, flush=True)


# -- the budget guard -----------------------------------------------------------


class Budget:
    """Stops adding cases once the run would go over `seconds`.

    A case of some kind may start only while the time spent so far plus its
    estimate fits in the budget: the duration of the last case of the same
    kind, or, for a kind not seen yet, of the longest case so far (0 before
    the first case). A refused case is recorded in `skipped` and said.
    """

    def __init__(self, seconds, clock=time.perf_counter):
        self.seconds = float(seconds)
        self.clock = clock
        self.start = clock()
        self.last = {}
        self.skipped = []

    def spent(self):
        return self.clock() - self.start

    def allows(self, case, kind):
        spent = self.spent()
        estimate = self.last.get(kind, max(self.last.values(), default=0.0))
        if spent + estimate <= self.seconds:
            return True
        self.skipped.append({"case": case, "spent_s": spent,
                             "estimate_s": estimate})
        log(f"!! budget: {spent:.1f} s spent of {self.seconds:.1f} s "
            f"(estimate of the next case {estimate:.1f} s): skipping {case}")
        return False

    def done(self, kind, seconds):
        self.last[kind] = seconds


# -- the device -----------------------------------------------------------------


def device_info():
    """Name and kind of the device TensorFlow computes on: the first GPU
    (`tf.config.experimental.get_device_details`) or the CPU."""
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return {"kind": "cpu", "name": "CPU", "gpus": [], "slug": "cpu"}
    names = [tf.config.experimental.get_device_details(g).get(
        "device_name", g.name) for g in gpus]
    details = tf.config.experimental.get_device_details(gpus[0])
    return {
        "kind": "gpu", "name": names[0], "gpus": names,
        "compute_capability": details.get("compute_capability"),
        "slug": re.sub(r"[^a-z0-9]+", "-", names[0].lower()).strip("-"),
    }


# -- recurrent layers -------------------------------------------------------------


def shape_args(shape):
    batch, steps, features, units = shape
    return argparse.Namespace(batch=batch, steps=steps, features=features,
                              units=units, return_sequences=False)


def ratios(timings, ours, base):
    """Throughput ratio ours / base (= base median time / ours median
    time) and its paired version (median over rounds)."""
    a = np.asarray(timings[base].samples)
    b = np.asarray(timings[ours].samples)
    return (float(np.median(a) / np.median(b)), float(np.median(a / b)))


def cudnn_used(model):
    """Keras's LSTM chose the cuDNN path: on TensorFlow, with a GPU visible
    and cuDNN-compatible arguments, it sets `supports_jit = False` (when
    built, and again when it runs the cuDNN kernel); never otherwise."""
    return bool(tf.config.list_physical_devices("GPU")) and any(
        isinstance(layer, keras.layers.LSTM) and layer.supports_jit is False
        for layer in model.layers)


def budget_clock():
    """Seconds since the module was loaded (progress stamps)."""
    return time.perf_counter() - _LOADED


def recurrent_case(args, shape_name, layer_name, baselines, data):
    sargs = shape_args(args.shapes[shape_name])
    keras.utils.set_random_seed(args.seed)
    ours = recurrent.build_model(LAYERS[layer_name], sargs, True)
    x, y = data
    rows = []
    for mode in args.modes:
        timings = _timing.time_interleaved(
            {"ours": recurrent.make_call(ours, mode, x, y),
             **{k: recurrent.make_call(m, mode, x, y)
                for k, m in baselines.items()}},
            repeats=args.repeats, warmup=args.warmup)
        r_cudnn, p_cudnn = ratios(timings, "ours", "cudnn")
        r_xla, p_xla = ratios(timings, "ours", "lstm_xla")
        row = {
            "layer": layer_name, "shape": shape_name, "mode": mode,
            "batch": sargs.batch, "steps": sargs.steps,
            "features": sargs.features, "units": sargs.units,
            "ours_seq_per_s": sargs.batch / timings["ours"].median,
            "cudnn_seq_per_s": sargs.batch / timings["cudnn"].median,
            "lstm_xla_seq_per_s": sargs.batch / timings["lstm_xla"].median,
            "ratio_cudnn": r_cudnn, "paired_cudnn": p_cudnn,
            "ratio_lstm_xla": r_xla, "paired_lstm_xla": p_xla,
            "ours_xla": recurrent.xla_status(ours),
            "lstm_xla_xla": recurrent.xla_status(baselines["lstm_xla"]),
            "cudnn": cudnn_used(baselines["cudnn"]),
            "spread": max(t.spread for t in timings.values()),
            "timing": {k: t.as_dict() for k, t in timings.items()},
        }
        rows.append(row)
        log(format_row(row) + f"  [{budget_clock():.0f}s]")
    del ours
    return rows


RECURRENT_HEADER = (
    f"{'layer':<19} {'shape':<9} {'mode':<5} {'ours seq/s':>10}"
    f" {'cuDNN seq/s':>11} {'LSTM+XLA':>9} {'vs cuDNN':>8} {'paired':>6}"
    f" {'vs XLA':>7} {'paired':>6} {'spread':>6}  xla  cudnn"
)


def format_row(r):
    xla = "yes" if r["ours_xla"] and r["lstm_xla_xla"] else "DROPPED"
    return (
        f"{r['layer']:<19} {r['shape']:<9} {r['mode']:<5}"
        f" {r['ours_seq_per_s']:>10.1f} {r['cudnn_seq_per_s']:>11.1f}"
        f" {r['lstm_xla_seq_per_s']:>9.1f} {r['ratio_cudnn']:>8.2f}"
        f" {r['paired_cudnn']:>6.2f} {r['ratio_lstm_xla']:>7.2f}"
        f" {r['paired_lstm_xla']:>6.2f} {100 * r['spread']:>5.0f}%"
        f"  {xla:<4} {'yes' if r['cudnn'] else 'no'}"
    )


def guarded(result, case, fn, *fn_args):
    """fn(*fn_args); an exception is recorded in result["errors"] and said,
    and the run goes on with the next case (a one-shot GPU run must not
    lose the cases that worked)."""
    try:
        return fn(*fn_args)
    except Exception as error:  # noqa: BLE001 -- reported, exit status 4
        message = f"{type(error).__name__}: {error}".splitlines()[0][:500]
        result["errors"].append({"case": case, "error": message})
        log(f"!! {case} failed: {message}")
        keras.backend.clear_session()
        return None


def run_recurrent(args, budget, result, save):
    log("")
    log("== recurrent layers (ours with XLA) vs keras.layers.LSTM: cuDNN "
        "(no XLA, default args) and LSTM+XLA (use_cudnn=False) ==")
    log(f"{args.warmup} warm-up + {args.repeats} timed calls per model, "
        f"interleaved; ratio = ours / baseline throughput")
    header_done = False
    for shape_name, shape in args.shapes.items():
        baselines, data = None, None
        for layer_name in args.layers:
            case = f"recurrent {shape_name} {layer_name}"
            if not budget.allows(case, f"recurrent/{shape_name}"):
                continue
            t0 = time.perf_counter()
            if baselines is None:  # built once per shape, shared by cases
                sargs = shape_args(shape)
                data = recurrent.make_data(sargs)
                baselines = {}
                for name, (make, jit) in BASELINES.items():
                    keras.utils.set_random_seed(args.seed)
                    baselines[name] = recurrent.build_model(make, sargs, jit)
                log(f"-- {shape_name}: baselines built [{budget_clock():.0f}s]")
            if not header_done:
                log(RECURRENT_HEADER)
                header_done = True
            rows = guarded(result, case, recurrent_case, args, shape_name,
                           layer_name, baselines, data)
            result["recurrent"] += rows or []
            budget.done(f"recurrent/{shape_name}", time.perf_counter() - t0)
            save()
        del baselines
        keras.backend.clear_session()


def goal_check(rows, layers):
    """Per layer: met when every ratio against the cuDNN baseline is at
    least 1 / GOAL; None when the layer was not measured."""
    goal = {}
    for layer in layers:
        mine = [r for r in rows if r["layer"] == layer]
        if not mine:
            goal[layer] = {"met": None, "rows": 0}
            continue
        worst = min(mine, key=lambda r: r["ratio_cudnn"])
        goal[layer] = {
            "met": bool(worst["ratio_cudnn"] >= 1.0 / GOAL),
            "rows": len(mine),
            "worst_ratio_cudnn": worst["ratio_cudnn"],
            "worst": f"{worst['shape']} {worst['mode']}",
            "shapes": sorted({r["shape"] for r in mine}),
            "cudnn_everywhere": all(r["cudnn"] for r in mine),
        }
    return goal


def print_goal(goal):
    log("")
    log(f"goal check: \"within {GOAL}x of cuDNN LSTM\" (every ratio vs "
        f"cuDNN >= {1 / GOAL:.3f}):")
    for layer, g in goal.items():
        if g["met"] is None:
            log(f"  {layer:<19} not measured (budget)")
            continue
        note = "" if g["cudnn_everywhere"] else (
            "; the baseline did not run cuDNN: not a GPU figure")
        log(f"  {layer:<19} {'met' if g['met'] else 'not met'} (worst "
            f"{g['worst_ratio_cudnn']:.2f}, {g['worst']}; shapes "
            f"{', '.join(g['shapes'])}{note})")


# -- NTM, MemN2N, Seq2Seq ------------------------------------------------------------


def run_ntm(args, budget, result):
    if not budget.allows("ntm", "ntm"):
        return
    t0 = time.perf_counter()
    from keras_seqmem import sequence_training

    nargs = ntm.parse_args(
        (["--quick", "--memory-sizes", "8"] if args.quick
         else ["--memory-sizes", "128", "--repeats", str(args.repeats)]))
    x, y, mask = ntm.make_data(nargs)
    slots = nargs.memory_sizes[0]
    models = {}
    for name in ("ntm", "lstm"):
        keras.utils.set_random_seed(args.seed)
        sizes = ({"memory_size": slots, "word_size": nargs.word_size}
                 if name == "ntm" else {})
        models[name] = sequence_training.build_sequence_model(
            "copy", name, units=nargs.units, jit_compile=True,
            task_params={"max_length": nargs.length}, **sizes)

    def call(model):
        def fn():
            for _ in range(nargs.steps_per_call):
                model.train_on_batch(x, y, sample_weight=mask)
        return fn

    timings = _timing.time_interleaved(
        {k: call(m) for k, m in models.items()},
        repeats=nargs.repeats, warmup=nargs.warmup)
    ratio, paired = ratios(timings, "ntm", "lstm")
    seqs = nargs.batch * nargs.steps_per_call
    row = {
        "memory_size": slots, "batch": nargs.batch, "units": nargs.units,
        "steps_per_call": nargs.steps_per_call, "length": nargs.length,
        "ntm_seq_per_s": seqs / timings["ntm"].median,
        "lstm_seq_per_s": seqs / timings["lstm"].median,
        "ratio_lstm": ratio, "paired_lstm": paired,
        "ntm_xla": recurrent.xla_status(models["ntm"]),
        "lstm_xla": recurrent.xla_status(models["lstm"]),
        "lstm_cudnn": cudnn_used(models["lstm"]),
        "timing": {k: t.as_dict() for k, t in timings.items()},
    }
    result["ntm"] = row
    log("")
    log(f"== NTM training, copy (batch {nargs.batch}, T = "
        f"{2 * nargs.length + 1}, LSTM-{nargs.units} controller, {slots} "
        f"slots, XLA) vs its LSTM controller alone ==")
    log(f"ntm seq/s {row['ntm_seq_per_s']:.1f}; lstm seq/s "
        f"{row['lstm_seq_per_s']:.1f} (xla {'yes' if row['lstm_xla'] else 'no'}"
        f", cudnn {'yes' if row['lstm_cudnn'] else 'no'}); ratio "
        f"{ratio:.2f} paired {paired:.2f}; ntm xla "
        f"{'yes' if row['ntm_xla'] else 'DROPPED'}  [{budget_clock():.0f}s]")
    del models
    keras.backend.clear_session()
    budget.done("ntm", time.perf_counter() - t0)


def run_memn2n(args, budget, result):
    if not budget.allows("memn2n", "memn2n"):
        return
    t0 = time.perf_counter()
    margs = memory.parse_args(
        ["--jit", "on"] + (["--quick", "--memory-size", "6", "--hops", "2"]
                           if args.quick else
                           ["--repeats", str(args.repeats)]))
    config = ("position", margs.memory_size, margs.hops)
    keras.utils.set_random_seed(args.seed)
    ours = memory.compile_model(memory.build_ours(margs, *config), True)
    keras.utils.set_random_seed(args.seed)
    base, words, temporal = memory.build_baseline(margs, *config)
    memory.compile_model(base, True)
    story, question, answer = (tf.constant(a) for a in memory.make_data(
        margs, margs.memory_size, args.seed))
    ours([story, question])  # build, then check before any training step
    # On Ampere and later GPUs TensorFlow multiplies float32 matrices in
    # TF32 (10-bit mantissa) by default, too coarse for the 1e-4 check:
    # the check runs in full float32, the timing with the default.
    tf32 = tf.config.experimental.tensor_float_32_execution_enabled()
    tf.config.experimental.enable_tensor_float_32_execution(False)
    try:
        check = memory.check_equivalence(
            ours, base, words, temporal,
            memory.make_data(margs, margs.memory_size, args.seed + 1,
                             full_sentences=True))
    finally:
        tf.config.experimental.enable_tensor_float_32_execution(tf32)
    timings = _timing.time_interleaved(
        {"memn2n": lambda: ours.train_on_batch([story, question], answer),
         "keras": lambda: base.train_on_batch([story, question], answer)},
        repeats=margs.repeats, warmup=margs.warmup)
    ratio, paired = ratios(timings, "memn2n", "keras")
    row = {
        "encoding": config[0], "memory_size": config[1], "hops": config[2],
        "batch": margs.batch, "equivalence": check,
        "memn2n_seq_per_s": margs.batch / timings["memn2n"].median,
        "keras_seq_per_s": margs.batch / timings["keras"].median,
        "ratio_keras": ratio, "paired_keras": paired,
        "memn2n_xla": recurrent.xla_status(ours),
        "keras_xla": recurrent.xla_status(base),
        "timing": {k: t.as_dict() for k, t in timings.items()},
    }
    result["memn2n"] = row
    log("")
    log(f"== MemN2N training ({config[0]} encoding, {config[1]} slots, "
        f"{config[2]} hops, batch {margs.batch}, XLA) vs the Keras-only "
        f"model of the same equations ==")
    log(f"memn2n q/s {row['memn2n_seq_per_s']:.1f}; keras q/s "
        f"{row['keras_seq_per_s']:.1f}; ratio {ratio:.2f} paired "
        f"{paired:.2f}; xla "
        f"{'yes' if row['memn2n_xla'] and row['keras_xla'] else 'DROPPED'}"
        f"  [{budget_clock():.0f}s]")
    del ours, base
    keras.backend.clear_session()
    budget.done("memn2n", time.perf_counter() - t0)


def run_seq2seq(args, budget, result):
    if not budget.allows("seq2seq", "seq2seq"):
        return
    t0 = time.perf_counter()
    sargs = seq2seq.parse_args(
        ["--parts", "decode", "--jit", "on"]
        + (["--quick"] if args.quick
           else ["--decode-repeats", str(args.repeats)]))
    data = seq2seq.make_data(sargs)
    rows, decode_ratios, problems = seq2seq.measure_decoding(
        sargs, data, os.cpu_count() or 1)
    result["seq2seq"] = {
        "batch": sargs.batch, "source_length": sargs.source_length,
        "max_length": sargs.target_length, "vocab": sargs.vocab,
        "units": sargs.units, "beam_width": sargs.beam_width,
        "rows": rows, "ratios": decode_ratios, "xla_dropped": problems,
    }
    r = decode_ratios["beam_over_greedy_time"]["on"]
    log("")
    log(f"== Seq2Seq decoding with generate, XLA (batch {sargs.batch}, "
        f"max_length {sargs.target_length}, every search runs all steps) ==")
    for row in rows:
        log(f"{row['label']:<8} seq/s {row['seq_per_s']:.1f}; tokens/s "
            f"{row['tokens_per_s']:.0f}; xla {row['xla']}")
    log(f"beam {sargs.beam_width} / greedy time: ratio {r['ratio']:.2f} "
        f"paired {r['paired']:.2f}  [{budget_clock():.0f}s]")
    budget.done("seq2seq", time.perf_counter() - t0)


# -- command line ---------------------------------------------------------------------


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                allow_abbrev=False)
    p.add_argument("--shapes", default=",".join(SHAPES),
                   help="comma-separated subset of reference,large (both)")
    p.add_argument("--layers", default=",".join(LAYERS),
                   help="comma-separated subset of " + ",".join(LAYERS))
    p.add_argument("--modes", default=",".join(MODES),
                   help="comma-separated subset of train,infer (both)")
    p.add_argument("--parts", default=",".join(PARTS),
                   help="comma-separated subset of " + ",".join(PARTS))
    p.add_argument("--repeats", type=int, default=None,
                   help="timed calls per model and case (20; 2 with --quick)")
    p.add_argument("--warmup", type=int, default=None,
                   help="untimed calls first (2; 1 with --quick)")
    p.add_argument("--budget", type=float, default=DEFAULT_BUDGET_S,
                   help="seconds; no new case starts once the time spent "
                        "plus the last case of its kind would exceed it "
                        f"({DEFAULT_BUDGET_S:.0f})")
    p.add_argument("--seed", type=int, default=SEED,
                   help="weights seed (keras.utils.set_random_seed) (0)")
    p.add_argument("--json", metavar="PATH",
                   help="results file (benchmarks/results/gpu_<device>_"
                        "<date>.json; _quick added with --quick)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run on tiny shapes (anywhere, < 60 s on 2 "
                        "CPU cores); the results file is marked quick")
    p.add_argument("--allow-cpu", action="store_true",
                   help="run the full benchmark without a GPU (marked so)")
    args = p.parse_args(argv)
    args.shapes = [s.strip() for s in args.shapes.split(",") if s.strip()]
    args.layers = [s.strip() for s in args.layers.split(",") if s.strip()]
    args.modes = [s.strip() for s in args.modes.split(",") if s.strip()]
    args.parts = [s.strip() for s in args.parts.split(",") if s.strip()]
    for flag, values, known in (("--shapes", args.shapes, SHAPES),
                                ("--layers", args.layers, LAYERS),
                                ("--modes", args.modes, MODES),
                                ("--parts", args.parts, PARTS)):
        for v in values:
            if v not in known:
                p.error(f"{flag}: unknown {v!r}; choose from "
                        f"{', '.join(known)}")
    args.shapes = (dict(QUICK_SHAPES) if args.quick
                   else {k: SHAPES[k] for k in args.shapes})
    if args.repeats is None:
        args.repeats = 2 if args.quick else 20
    if args.warmup is None:
        args.warmup = 1 if args.quick else 2
    if args.repeats < 1 or args.warmup < 1:
        p.error("--repeats and --warmup must be >= 1 (the first call "
                "compiles and is never timed)")
    return args


def main(argv=None):
    args = parse_args(argv)
    if keras.backend.backend() != "tensorflow":
        print(f"gpu.py: the cuDNN comparison needs KERAS_BACKEND=tensorflow "
              f"(got {keras.backend.backend()}); refusing", file=sys.stderr)
        return 2
    device = device_info()
    if device["kind"] != "gpu" and not (args.quick or args.allow_cpu):
        print("gpu.py: no GPU visible to TensorFlow; refusing to claim GPU "
              "figures on a CPU (pass --quick for a smoke run or --allow-cpu "
              "to measure on the CPU anyway)", file=sys.stderr)
        return 2
    env = _timing.environment()
    if args.json is None:
        args.json = os.path.join(
            _HERE, "results", f"gpu_{device['slug']}_{env['date']}"
            f"{'_quick' if args.quick else ''}.json")
    log("== keras_seqmem GPU benchmark ==")
    log(f"TensorFlow {env['tensorflow']}, Keras {env['keras']}, NumPy "
        f"{env['numpy']}, Python {env['python']}; device: {device['name']}"
        f"{' (quick smoke run)' if args.quick else ''}")
    if device["kind"] != "gpu":
        log("!! no GPU: the baselines run without cuDNN; these are CPU "
            "figures, not GPU ones")
    log("shapes: " + "; ".join(
        f"{k} B={s[0]} T={s[1]} D={s[2]} U={s[3]}"
        for k, s in args.shapes.items()) + f"; budget {args.budget:.0f} s")

    budget = Budget(args.budget)
    result = {"recurrent": [], "ntm": None, "memn2n": None, "seq2seq": None,
              "errors": []}
    report = {
        "quick": bool(args.quick),
        "cpu_run": device["kind"] != "gpu",
        "complete": False,
        "environment": env, "device": device,
        "tf32": tf.config.experimental.tensor_float_32_execution_enabled(),
        "args": dict(vars(args)),
        "seeds": {"weights": args.seed, "recurrent_data": 0, "ntm_data": 0,
                  "memn2n_data": args.seed, "memn2n_check": args.seed + 1,
                  "seq2seq_data": 0},
        "budget": {"seconds": args.budget, "skipped": budget.skipped},
        "result": result,
    }

    def save():
        """The results so far (after every case: a run cut short by the
        machine's time limit keeps what it measured)."""
        report["budget"]["spent_s"] = budget.spent()
        os.makedirs(os.path.dirname(os.path.abspath(args.json)),
                    exist_ok=True)
        flat = {k: v for k, v in report.items() if k != "result"}
        flat.update(result)
        with open(args.json, "w") as f:
            json.dump(flat, f, indent=1, default=float)

    if "recurrent" in args.parts:
        run_recurrent(args, budget, result, save)
    for part, fn in (("ntm", run_ntm), ("memn2n", run_memn2n),
                     ("seq2seq", run_seq2seq)):
        if part in args.parts:
            guarded(result, part, fn, args, budget, result)
            save()
    goal = goal_check(result["recurrent"], args.layers)
    if "recurrent" in args.parts:
        print_goal(goal)

    dropped = [f"recurrent {r['shape']} {r['layer']} {r['mode']}"
               for r in result["recurrent"]
               if not (r["ours_xla"] and r["lstm_xla_xla"])]
    if result["ntm"] and not result["ntm"]["ntm_xla"]:
        dropped.append("ntm")
    if result["memn2n"] and not (result["memn2n"]["memn2n_xla"]
                                 and result["memn2n"]["keras_xla"]):
        dropped.append("memn2n")
    if result["seq2seq"] and result["seq2seq"]["xla_dropped"]:
        dropped.append("seq2seq")
    if budget.skipped:
        log(f"!! budget of {args.budget:.0f} s reached: "
            f"{len(budget.skipped)} case(s) skipped: "
            + ", ".join(s["case"] for s in budget.skipped))
    for d in dropped:
        log(f"!! XLA requested but not used: {d}")
    for e in result["errors"]:
        log(f"!! failed: {e['case']}: {e['error']}")
    log(f"total time: {budget.spent():.0f}s")
    report.update({"goal": {"within": GOAL, "min_ratio_cudnn": 1.0 / GOAL,
                            "layers": goal},
                   "xla_dropped": dropped, "complete": True,
                   "elapsed_s": budget.spent()})
    save()
    log(f"wrote {args.json}")
    if result["errors"]:
        return 4
    return 3 if dropped else 0


if __name__ == "__main__":
    sys.exit(main())
