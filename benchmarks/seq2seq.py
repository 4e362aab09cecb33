"""Throughput of keras_seqmem's Seq2Seq (RNNsearch) against a Keras-only model.

Two measurements, each with XLA off and on (`jit_compile` False / True):

**Training** (teacher forcing): sequences per second of
`model.train_on_batch((source, decoder_inputs), target)` (Adam,
`SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)`) for

    ours      keras_seqmem.Seq2Seq(V, V, embedding_dim=E, units=U, cell="lstm")
    baseline  a Keras-only Functional model of the same sizes:
              Embedding(V, E, mask_zero) -> Bidirectional(LSTM(U,
                  return_sequences, return_state)) -> h_j        (encoder)
              s_0 = [Dense(U, tanh), Dense(U, tanh)]([h->_T; h<-_1])
                                                     (bridges, as ours)
              Embedding(V, E, mask_zero) -> LSTM(U, return_sequences,
                  initial_state=s_0) -> s_t                      (decoder)
              c_t = AdditiveAttention(use_scale=True)(
                  query=Dense(U, no bias)(s_t), value=h_j,
                  key=Dense(U, no bias)(h_j))                    (all t at once)
              logits = Dense(V)([s_t; c_t])

The baseline's `Dense` projections and `AdditiveAttention`'s scale are the
three weights our `BahdanauAttention` owns (`query_kernel`, `key_kernel`,
`score_kernel`), so the two models have the same layers except for one
thing, which is the point of the comparison: **the baseline has no input
feeding**. Our `AttentiveDecoder` attends with the previous state `s_{t-1}`
before every step and feeds the context `c_t` into the cell (RNNsearch,
Bahdanau et al. 2015), so the attention (a `(batch, T_s, U)` tanh and a
softmax) runs inside the sequential loop, T_t times, and the decoder cell's
input is `[E y_{t-1}; c_t]` (E + 2U features instead of E). The baseline
runs Keras' plain LSTM loop first and then the attention for all target
steps in one batched operation after the recurrence (Luong-style,
query `s_t`). `ratio` is ours / baseline throughput (above 1: ours is
faster). The baseline does less work per step, and less of it is
sequential, so a ratio below 1 is expected; the ratio measures what input feeding and the
step-by-step attention cost. (The decoder cell's larger input kernel is why
our parameter count is `8 U^2` higher; both counts are printed.)

**Decoding**: sequences per second of our `model.generate(source,
method=..., max_length=T_t, jit_compile=...)`, greedy and beam search
(`--beam-width`, 4), XLA off and on. `generate` caches one `tf.function` per
configuration; its first call (tracing, XLA compilation) is part of the
untimed warm-up. To time a fixed amount of work, the `END` logit's bias is
set to -1e4 before decoding, so no hypothesis ever ends and every search runs
all `max_length` steps (the worst case; an early stop only shortens it); the
script checks that every returned length is `max_length`. There is no
Keras-only decoding baseline (Keras has no beam search); the script reports
the beam / greedy cost ratio and the XLA speedup of each method instead.

All the calls of one table are timed in turn (`_timing.time_interleaved`:
ours, baseline, baseline, ours, ...; for decoding the four configurations in
turn) after untimed warm-up calls, so a change of machine load hits all of
them alike; the median call time gives the throughput, and `paired` ratios
are the median of the same ratio within each round. With jit on, the script
checks after the run that XLA was really used: for training, that
`model.jit_compile` is still True (Keras drops it silently); for decoding,
that the cached function's graph carries `_XlaMustCompile` and was traced
once. A row where it was not says DROPPED and the exit status is 3.

The machine may be shared: the `others` column is the fraction of all CPUs
that *other* processes kept busy while a row was timed (the machine's busy
time from /proc/stat minus this process's CPU time; 50% on 2 CPUs means one
core was taken), and the script warns when that exceeded 10% over the run.
It and the load averages at the start and the end go into the JSON.

Run `python benchmarks/seq2seq.py --help` for the flags; `--quick` is a
smoke run of seconds per row on tiny shapes.
"""

import argparse
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

from keras_seqmem.tasks import decoder_inputs as shift_right  # noqa: E402
from recurrent import xla_status  # noqa: E402  (same check as recurrent.py)

tf.get_logger().setLevel("ERROR")

PAD_ID, START_ID, END_ID = 0, 1, 2
METHODS = ("greedy", "beam")
PARTS = ("train", "decode")
# Bias given to the END logit for decoding, so that every search runs the
# full max_length steps (see the module docstring).
END_BIAS = -1e4


# -- models -------------------------------------------------------------------


def build_ours(args):
    return keras_seqmem.Seq2Seq(
        source_vocab_size=args.vocab,
        target_vocab_size=args.vocab,
        embedding_dim=args.embedding_dim,
        units=args.units,
        cell="lstm",
        max_decode_length=args.target_length,
        name="ours",
    )


def build_baseline(args):
    """The Keras-only encoder-decoder (see the module docstring)."""
    V, E, U = args.vocab, args.embedding_dim, args.units
    layers = keras.layers
    source = keras.Input((args.source_length,), dtype="int32", name="source")
    decoder_inputs = keras.Input(
        (args.target_length,), dtype="int32", name="decoder_inputs"
    )
    embedded_source = layers.Embedding(
        V, E, mask_zero=True, name="source_embedding"
    )(source)
    memory, fh, _, bh, _ = layers.Bidirectional(
        layers.LSTM(
            U, return_sequences=True, return_state=True, use_cudnn=False
        ),
        name="encoder",
    )(embedded_source)
    summary = layers.Concatenate(name="summary")([fh, bh])
    initial_state = [
        layers.Dense(U, activation="tanh", name=f"bridge_{i}")(summary)
        for i in range(2)  # h and c
    ]
    embedded_target = layers.Embedding(
        V, E, mask_zero=True, name="target_embedding"
    )(decoder_inputs)
    states = layers.LSTM(
        U, return_sequences=True, use_cudnn=False, name="decoder"
    )(embedded_target, initial_state=initial_state)
    # AdditiveAttention adds query and key as given: the projections that
    # BahdanauAttention owns (query_kernel, key_kernel) are Dense layers here,
    # and its `scale` is the score vector (score_kernel).
    query = layers.Dense(U, use_bias=False, name="query_projection")(states)
    keys = layers.Dense(U, use_bias=False, name="key_projection")(memory)
    context = layers.AdditiveAttention(use_scale=True, name="attention")(
        [query, memory, keys]
    )
    features = layers.Concatenate(name="output_features")([states, context])
    logits = layers.Dense(V, name="logits")(features)
    return keras.Model([source, decoder_inputs], logits, name="baseline")


def compile_model(model, jit):
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, ignore_class=PAD_ID
        ),
        jit_compile=jit,
    )
    return model


def decode_xla_status(fn, source):
    """(jit really on, traces) of a `generate` function: the concrete
    function's graph is marked `_XlaMustCompile` (TensorFlow then compiles
    all of it with XLA or raises) and it was traced once."""
    concrete = fn.get_concrete_function(source)
    attr = concrete.function_def.attr.get("_XlaMustCompile")
    return bool(attr is not None and attr.b), fn.experimental_get_tracing_count()


# -- data ---------------------------------------------------------------------


def make_data(args):
    """Random sequences with the conventions of keras_seqmem.tasks:
    source ids in [3, V), right-padded with PAD; target = ids, END, PAD...;
    decoder_inputs = [START] + target[:-1]. Lengths are uniform between half
    and all of the width."""
    rng = np.random.default_rng(0)
    n, ts, tt, V = args.batch, args.source_length, args.target_length, args.vocab
    source = np.zeros((n, ts), np.int32)
    target = np.zeros((n, tt), np.int32)
    for i in range(n):
        ls = rng.integers((ts + 1) // 2, ts + 1)
        source[i, :ls] = rng.integers(3, V, ls)
        lt = rng.integers(tt // 2, tt)  # tokens before END: 0 .. tt-1
        target[i, :lt] = rng.integers(3, V, lt)
        target[i, lt] = END_ID
    decoder_inputs = shift_right(target)
    return source, decoder_inputs, target


# -- machine load -------------------------------------------------------------


def cpu_snapshot():
    """CPU seconds used so far by the whole machine (all CPUs, from
    /proc/stat) and by this process, with a wall-clock time; None where
    /proc/stat is missing (not Linux)."""
    try:
        with open("/proc/stat") as f:
            values = [int(x) for x in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal: busy = all but idle
    # and iowait (steal is time another VM took from ours: load too).
    busy = sum(values) - values[3] - values[4]
    own = os.times()
    return (
        busy / os.sysconf("SC_CLK_TCK"),
        own.user + own.system,
        time.perf_counter(),
    )


def others_load(before, after, cpus):
    """Fraction of the machine's `cpus` that other processes kept busy
    between two `cpu_snapshot`s (0: we had the machine to ourselves; 0.5 on
    2 CPUs: one core was taken). None when not measurable."""
    if before is None or after is None or after[2] <= before[2]:
        return None
    others = (after[0] - before[0]) - (after[1] - before[1])
    return max(0.0, others / ((after[2] - before[2]) * cpus))


def format_load(value):
    return "  n/a" if value is None else f"{100 * value:4.0f}%"


# -- command line ---------------------------------------------------------------


def log(*parts):
    print(*parts, flush=True)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], allow_abbrev=False
    )
    p.add_argument("--batch", type=int, default=64, help="batch size (64)")
    p.add_argument(
        "--source-length", type=int, default=30, help="source steps (30)"
    )
    p.add_argument(
        "--target-length", type=int, default=30,
        help="target steps, and max_length of decoding (30)",
    )
    p.add_argument(
        "--vocab", type=int, default=40,
        help="source and target vocabulary size, special ids included (40)",
    )
    p.add_argument(
        "--embedding-dim", type=int, default=64, help="embedding size (64)"
    )
    p.add_argument(
        "--units", type=int, default=128,
        help="units of the decoder, of each encoder direction and of the "
        "attention (128)",
    )
    p.add_argument(
        "--beam-width", type=int, default=4, help="beam width (4)"
    )
    p.add_argument(
        "--repeats", type=int, default=None,
        help="timed training calls per model; the median is reported "
        "(100, or 2 with --quick)",
    )
    p.add_argument(
        "--decode-repeats", type=int, default=None,
        help="timed generate calls per decoding configuration (2 x "
        "--repeats: a decoding call is shorter than a training step)",
    )
    p.add_argument(
        "--warmup", type=int, default=None,
        help="untimed calls first, for tracing and XLA compilation "
        "(3, or 1 with --quick)",
    )
    p.add_argument(
        "--parts", default=",".join(PARTS),
        help="comma-separated subset of train,decode (both)",
    )
    p.add_argument(
        "--jit", choices=("both", "on", "off"), default="both",
        help="jit_compile False, True, or both (both)",
    )
    p.add_argument("--json", metavar="PATH", help="also write results here")
    p.add_argument(
        "--quick", action="store_true",
        help="smoke run of seconds: batch 8, lengths 6, vocab 12, embedding "
        "8, 16 units, 1 warm-up + 2 timed calls (4 for decoding) "
        "(flags given explicitly still win)",
    )
    args = p.parse_args(argv)

    if args.quick:
        _timing.apply_quick(args, argv, {
            "--batch": ("batch", 8),
            "--source-length": ("source_length", 6),
            "--target-length": ("target_length", 6),
            "--vocab": ("vocab", 12),
            "--embedding-dim": ("embedding_dim", 8),
            "--units": ("units", 16),
        })
    if args.repeats is None:
        args.repeats = 2 if args.quick else 100
    if args.decode_repeats is None:
        args.decode_repeats = 2 * args.repeats
    if args.warmup is None:
        args.warmup = 1 if args.quick else 3

    args.parts = [s.strip() for s in args.parts.split(",") if s.strip()]
    for part in args.parts:
        if part not in PARTS:
            p.error(f"unknown part {part!r}; choose from {', '.join(PARTS)}")
    for attr in ("batch", "source_length", "embedding_dim", "units",
                 "beam_width", "repeats", "decode_repeats"):
        if getattr(args, attr) < 1:
            p.error(f"--{attr.replace('_', '-')} must be >= 1")
    if args.target_length < 2:
        p.error("--target-length must be >= 2 (at least one token and END)")
    if args.vocab < 4:
        p.error("--vocab must be >= 4 (PAD, START, END and a token)")
    if args.warmup < 1:
        # The first call traces and compiles; it must never be timed.
        p.error("--warmup must be >= 1")
    args.jits = {"both": [False, True], "on": [True], "off": [False]}[args.jit]
    return args


# -- the two measurements ---------------------------------------------------------


TRAIN_HEADER = (
    f"{'jit':<4} {'ours seq/s':>11} {'keras seq/s':>11} {'ratio':>6}"
    f" {'paired':>6}  {'spread':>6}  {'others':>6}  xla"
)


def format_train_row(r):
    return (
        f"{('on' if r['jit'] else 'off'):<4}"
        f" {r['ours_seq_per_s']:>11.1f} {r['keras_seq_per_s']:>11.1f}"
        f" {r['ratio']:>6.2f} {r['paired_ratio']:>6.2f}"
        f"  {100 * r['spread']:>5.0f}%   {format_load(r['others_load'])}"
        f"  {r['xla']}"
    )


def measure_training(args, data, params, cpus):
    source, decoder_inputs, target = (
        tf.constant(x, tf.int32) for x in data
    )
    x = (source, decoder_inputs)
    rows, problems = [], []
    for jit in args.jits:
        keras.utils.set_random_seed(0)
        ours = compile_model(build_ours(args), jit)
        ours.build()
        keras.utils.set_random_seed(0)
        base = compile_model(build_baseline(args), jit)
        params["ours"] = int(ours.count_params())
        params["keras"] = int(base.count_params())
        t0 = time.perf_counter()
        load0 = cpu_snapshot()
        timings = _timing.time_interleaved(
            {
                "ours": lambda: ours.train_on_batch(x, target),
                "keras": lambda: base.train_on_batch(x, target),
            },
            repeats=args.repeats,
            warmup=args.warmup,
        )
        load = others_load(load0, cpu_snapshot(), cpus)
        xla = "-"
        if jit:
            ok = {"ours": xla_status(ours), "keras": xla_status(base)}
            if all(ok.values()):
                xla = "yes"
            else:
                dropped = [k for k, v in ok.items() if not v]
                xla = "DROPPED(" + ",".join(dropped) + ")"
                problems.append({"part": "train", "models": dropped})
                log(
                    f"!! XLA was requested but not used for training "
                    f"{' and '.join(dropped)}; that row is not an XLA "
                    f"measurement"
                )
        t_ours, t_base = timings["ours"].median, timings["keras"].median
        row = {
            "jit": jit,
            "ours_seq_per_s": args.batch / t_ours,
            "keras_seq_per_s": args.batch / t_base,
            "ratio": t_base / t_ours,
            "paired_ratio": float(np.median(
                np.asarray(timings["keras"].samples)
                / np.asarray(timings["ours"].samples)
            )),
            "spread": max(timings["ours"].spread, timings["keras"].spread),
            "others_load": load,
            "xla": xla,
            "ours_timing": timings["ours"].as_dict(),
            "keras_timing": timings["keras"].as_dict(),
        }
        rows.append(row)
        if len(rows) == 1:
            log("")
            log("training (teacher forcing, train_on_batch):")
            log(TRAIN_HEADER)
        log(
            format_train_row(row)
            + f"   [{time.perf_counter() - t0:.0f}s incl. warm-up]"
        )
        del ours, base
        keras.backend.clear_session()
    return rows, problems


DECODE_HEADER = (
    f"{'method':<8} {'jit':<4} {'seq/s':>8} {'tokens/s':>9} {'ms/batch':>9}"
    f"  {'spread':>6}  {'others':>6}  xla"
)


def decode_name(method, jit):
    return f"{method}/{'on' if jit else 'off'}"


def format_decode_row(r):
    return (
        f"{r['label']:<8} {('on' if r['jit'] else 'off'):<4}"
        f" {r['seq_per_s']:>8.1f} {r['tokens_per_s']:>9.0f}"
        f" {1e3 * r['timing']['median_s']:>9.1f}"
        f"  {100 * r['spread']:>5.0f}%   {format_load(r['others_load'])}"
        f"  {r['xla']}"
    )


def measure_decoding(args, data, cpus):
    source = data[0]
    keras.utils.set_random_seed(0)
    model = build_ours(args)
    model.build()
    # No hypothesis may end: every search runs max_length steps.
    bias = model.output_layer.bias
    bias.assign(
        keras.ops.where(keras.ops.arange(args.vocab) == END_ID, END_BIAS, bias)
    )
    source_tensor = tf.constant(source, tf.int32)

    configs = {}
    for jit in args.jits:
        for method in METHODS:
            configs[decode_name(method, jit)] = (method, jit)
    fns, functions, problems = {}, {}, []
    log("")
    log(
        f"decoding (generate, max_length {args.target_length}, beam width "
        f"{args.beam_width}); warm-up:"
    )
    for name, (method, jit) in configs.items():
        def call(method=method, jit=jit):
            return model.generate(
                source,
                method=method,
                beam_width=args.beam_width,
                max_length=args.target_length,
                jit_compile=jit,
            )

        before = set(model._decode_cache.functions)
        t0 = time.perf_counter()
        _timing.warm_up(call, args.warmup)
        result = call()
        new = set(model._decode_cache.functions) - before
        if len(new) != 1:
            raise RuntimeError(
                f"expected generate to cache one function for {name}, got "
                f"{len(new)}"
            )
        functions[name] = model._decode_cache.functions[new.pop()]
        if not np.all(result.lengths == args.target_length):
            raise RuntimeError(
                f"{name}: some hypotheses ended before max_length "
                f"(lengths {np.unique(result.lengths)}); the work per call "
                f"is not fixed"
            )
        log(
            f"  {name:<11} {time.perf_counter() - t0:6.1f}s "
            f"({args.warmup + 1} calls, ids {result.ids.shape})"
        )
        fns[name] = call

    # Warmed up above, one configuration at a time (to find its function).
    load0 = cpu_snapshot()
    timings = _timing.time_interleaved(
        fns, repeats=args.decode_repeats, warmup=0
    )
    # The four configurations were timed in turn: one figure for all.
    load = others_load(load0, cpu_snapshot(), cpus)

    rows = []
    for name, (method, jit) in configs.items():
        must_compile, traces = decode_xla_status(functions[name], source_tensor)
        if jit:
            xla = "yes" if must_compile and traces == 1 else "DROPPED"
            if xla != "yes":
                problems.append({"part": "decode", "config": name})
                log(
                    f"!! XLA was requested but not used for {name} "
                    f"(_XlaMustCompile={must_compile}, traces={traces})"
                )
        else:
            xla = "-" if not must_compile else "UNEXPECTED"
        timing = timings[name]
        rows.append({
            "method": method,
            "label": method if method == "greedy" else f"beam {args.beam_width}",
            "beam_width": args.beam_width if method == "beam" else 1,
            "jit": jit,
            "seq_per_s": args.batch / timing.median,
            "tokens_per_s": args.batch * args.target_length / timing.median,
            "spread": timing.spread,
            "others_load": load,
            "traces": traces,
            "xla": xla,
            "timing": timing.as_dict(),
        })

    def ratio(a, b):
        """Median time a / median time b, and the paired median."""
        ta, tb = timings[a], timings[b]
        return {
            "ratio": ta.median / tb.median,
            "paired": float(np.median(
                np.asarray(ta.samples) / np.asarray(tb.samples)
            )),
        }

    ratios = {"beam_over_greedy_time": {}, "xla_speedup": {}}
    for jit in args.jits:
        ratios["beam_over_greedy_time"]["on" if jit else "off"] = ratio(
            decode_name("beam", jit), decode_name("greedy", jit)
        )
    if len(args.jits) == 2:
        for method in METHODS:
            ratios["xla_speedup"][method] = ratio(
                decode_name(method, False), decode_name(method, True)
            )
    del model
    keras.backend.clear_session()
    return rows, ratios, problems


def print_decode_ratios(ratios, args):
    for jit, r in ratios["beam_over_greedy_time"].items():
        log(
            f"beam {args.beam_width} / greedy time, jit {jit:<3}: "
            f"{r['ratio']:5.2f} (paired {r['paired']:.2f})"
        )
    for method, r in ratios["xla_speedup"].items():
        label = method if method == "greedy" else f"beam {args.beam_width}"
        log(
            f"XLA speedup (time off / on), {label:<7}: {r['ratio']:5.2f} "
            f"(paired {r['paired']:.2f})"
        )


def run(args):
    env = _timing.environment()
    load_start = os.getloadavg()
    log("== keras_seqmem seq2seq benchmark ==")
    log(
        f"TensorFlow {env['tensorflow']}, Keras {env['keras']} "
        f"(backend {env['keras_backend']}), NumPy {env['numpy']}, "
        f"Python {env['python']}"
    )
    log(
        "device: "
        + (env["accelerator"] if env["accelerator"] != "none" else "CPU only")
        + f"; CPUs: {env['cpu_count']} ({env['usable_cpus']} usable); "
        f"{env['processor']}; {env['platform']}"
    )
    log(
        f"load average at start: {load_start[0]:.2f} {load_start[1]:.2f} "
        f"{load_start[2]:.2f} (1, 5, 15 min)"
    )
    log(
        f"shapes: batch {args.batch}, source length {args.source_length}, "
        f"target length {args.target_length}, vocab {args.vocab}, embedding "
        f"{args.embedding_dim}, units {args.units}, beam width "
        f"{args.beam_width}; {args.warmup} warm-up + {args.repeats} timed "
        f"training calls, {args.decode_repeats} timed decoding calls, median "
        f"reported"
    )
    cpus = env["usable_cpus"] or 1
    started = time.perf_counter()
    load0 = cpu_snapshot()
    data = make_data(args)
    params = {}
    train_rows, decode_rows, problems = [], [], []
    decode_ratios = {"beam_over_greedy_time": {}, "xla_speedup": {}}
    if "train" in args.parts:
        train_rows, p = measure_training(args, data, params, cpus)
        problems += p
        log(
            f"parameters: ours {params['ours']:,}, keras {params['keras']:,} "
            f"(ours - keras = {params['ours'] - params['keras']:,}: the "
            f"decoder cell's input includes the context, 2U x 4U = "
            f"{8 * args.units ** 2:,})"
        )
    if "decode" in args.parts:
        decode_rows, decode_ratios, p = measure_decoding(args, data, cpus)
        problems += p
    elapsed = time.perf_counter() - started
    load_end = os.getloadavg()
    others = others_load(load0, cpu_snapshot(), cpus)

    log("")
    log("== results ==")
    if train_rows:
        log("training, sequences/s (ratio = ours / keras, > 1: ours faster):")
        log(TRAIN_HEADER)
        for row in train_rows:
            log(format_train_row(row))
    if decode_rows:
        log("")
        log(
            f"decoding with generate, ours, max_length {args.target_length} "
            f"(every search runs all steps):"
        )
        log(DECODE_HEADER)
        for row in decode_rows:
            log(format_decode_row(row))
        print_decode_ratios(decode_ratios, args)
    noisy = [r for r in train_rows + decode_rows if r["spread"] > 0.25]
    if noisy:
        log(
            f"note: {len(noisy)} row(s) had a (max-min)/median spread over "
            f"25% (machine busy?); medians are robust but re-run to confirm."
        )
    log(
        f"load average at end: {load_end[0]:.2f} {load_end[1]:.2f} "
        f"{load_end[2]:.2f}; other processes kept "
        f"{format_load(others).strip()} of the {cpus} CPUs busy during the "
        f"run ('others' column: during each row); total time: {elapsed:.0f}s"
    )
    if others is not None and others > 0.1:
        log(
            "!! the machine was shared: other processes used more than 10% "
            "of the CPUs; the figures were taken under load."
        )
    if problems:
        log(
            "!! jit_compile=True was requested but XLA was not used in "
            f"{len(problems)} measurement(s): see the xla column."
        )
    return {
        "environment": env,
        "args": {k: v for k, v in vars(args).items() if k != "jits"},
        "load_average": {"start": list(load_start), "end": list(load_end)},
        "others_load": others,
        "parameters": params,
        "end_logit_bias_for_decoding": END_BIAS,
        "train": train_rows,
        "decode": decode_rows,
        "decode_ratios": decode_ratios,
        "xla_dropped": problems,
        "elapsed_s": elapsed,
    }


def main(argv=None):
    args = parse_args(argv)
    result = run(args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
        log(f"wrote {args.json}")
    return 3 if result["xla_dropped"] else 0


if __name__ == "__main__":
    sys.exit(main())
