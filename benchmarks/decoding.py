"""Beam-search decode time against output length: Seq2Seq's decoding
before (its own beam search) and after (keras_seqmem.decoding).

Both decode the same `keras_seqmem.Seq2Seq` (LSTM encoder-decoder with
Bahdanau attention, random weights, `--seed`) on the same source batch, with
the same beam width, each in one `tf.function(jit_compile=True)`:

    old  benchmarks/_legacy_beam_search.py's `legacy_decode(model, source,
         "beam", K, max_length=L)`: Seq2Seq.decode as it was, on the beam
         search of keras_seqmem/attention/beam_search.py (retired): the ids
         buffer (batch, K, L) is gathered by the parents and rewritten at
         every step, O(K L) per step, O(K L^2) per decode
    new  model.generate(source, method="beam", beam_width=K, max_length=L):
         Seq2Seq.decode today, keras_seqmem.decoding.BeamSearch(K) over the
         model's step (`Seq2Seq.step_function`): parent pointers in a
         (L, batch, K) buffer, one backtrack at the end

for L in `--lengths` (25, 50, 100, 200).

`--model table` isolates the searches' own bookkeeping: the step is a
lookup of next-token logits in a fixed random `(vocab, vocab)` table (state:
nothing but a dummy vector), so almost all the time per step is the search
itself; old is then the legacy `beam_search` called directly (what
`Seq2Seq.decode` called) over the same table, new is `BeamSearch`. To time a fixed amount of work the
END logit's bias is set to -1e4, so no hypothesis ends and every search runs
all L steps; the script checks that every returned length is L and that the
two searches return the same ids. Calls are timed in turn
(`_timing.time_interleaved`: old, new, new, old, ...) after untimed warm-up
calls (tracing, XLA compilation); the median gives the time per decode and
per step, and the difference of the medians between successive lengths
over the difference of the lengths the marginal cost of a step at that
length (a call's fixed cost cancels). `others` is the share of the machine's CPUs that other processes
used while a row was timed (see benchmarks/seq2seq.py).

Run `python benchmarks/decoding.py --help`; `--quick` is a smoke run on tiny
shapes (seconds). Writes `--json` (default
benchmarks/results/decoding_cpu2_<date>.json; none with --quick unless
given).
"""

import argparse
import datetime
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import _legacy_beam_search  # noqa: E402
import _timing  # noqa: E402

try:
    import keras_seqmem  # noqa: E402
except ImportError:  # run from a checkout without installing the package
    sys.path.insert(0, os.path.dirname(_HERE))
    import keras_seqmem  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import ops  # noqa: E402

from keras_seqmem import decoding  # noqa: E402
from seq2seq import cpu_snapshot  # noqa: E402
from seq2seq import format_load  # noqa: E402
from seq2seq import others_load  # noqa: E402

tf.get_logger().setLevel("ERROR")

PAD_ID, START_ID, END_ID = 0, 1, 2
END_BIAS = -1e4

QUICK = {
    "--lengths": ("lengths", [4, 8]),
    "--vocab": ("vocab", 12),
    "--units": ("units", 8),
    "--embedding-dim": ("embedding_dim", 8),
    "--batch": ("batch", 2),
    "--source-length": ("source_length", 5),
    "--repeats": ("repeats", 2),
}


def log(*parts):
    print(*parts, flush=True)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], allow_abbrev=False
    )
    p.add_argument("--lengths", type=int, nargs="+", default=[25, 50, 100, 200],
                   help="output lengths L (25 50 100 200)")
    p.add_argument("--beam-width", type=int, default=4, help="K (4)")
    p.add_argument("--batch", type=int, default=16, help="batch size (16)")
    p.add_argument("--vocab", type=int, default=1000,
                   help="source and target vocabulary (1000)")
    p.add_argument("--units", type=int, default=64, help="LSTM units (64)")
    p.add_argument("--embedding-dim", type=int, default=32,
                   help="embedding size (32)")
    p.add_argument("--source-length", type=int, default=20,
                   help="source steps (20)")
    p.add_argument("--repeats", type=int, default=5,
                   help="timed calls per search and length (5)")
    p.add_argument("--warmup", type=int, default=1,
                   help="untimed calls after the first (1)")
    p.add_argument("--seed", type=int, default=0,
                   help="weights and source seed (0)")
    p.add_argument("--model", choices=("seq2seq", "table"), default="seq2seq",
                   help="what the step runs (seq2seq; table: a logits "
                        "lookup, see above)")
    p.add_argument("--json", metavar="PATH", help="write the results here")
    p.add_argument("--quick", action="store_true",
                   help="smoke run on tiny shapes")
    args = p.parse_args(argv)
    if args.quick:
        _timing.apply_quick(args, argv, QUICK)
    elif args.json is None:
        args.json = os.path.join(
            _HERE, "results",
            f"decoding_cpu2_{datetime.date.today().isoformat()}.json")
    return args


def build(args):
    keras.utils.set_random_seed(args.seed)
    model = keras_seqmem.Seq2Seq(
        source_vocab_size=args.vocab, target_vocab_size=args.vocab,
        embedding_dim=args.embedding_dim, units=args.units, cell="lstm",
        max_decode_length=max(args.lengths), name="seq2seq",
    )
    model.build()
    bias = model.output_layer.bias  # no hypothesis may end
    bias.assign(ops.where(ops.arange(args.vocab) == END_ID, END_BIAS, bias))
    rng = np.random.default_rng(args.seed)
    source = rng.integers(3, args.vocab,
                          (args.batch, args.source_length)).astype("int32")
    return model, source


def new_beam_search(model, beam_width, max_length):
    """`model.decode(source, "beam", K, max_length=L)` in one XLA function
    (what `model.generate` runs)."""

    def fn(source):
        result = model.decode(source, "beam", beam_width,
                              max_length=max_length)
        return result.ids, result.scores, result.lengths

    fn = tf.function(fn, jit_compile=True, autograph=False)
    return lambda source: tuple(np.asarray(x) for x in fn(source)), fn


def old_beam_search(model, beam_width, max_length):
    """Seq2Seq's decode before keras_seqmem.decoding, in one XLA function."""

    def fn(source):
        result = _legacy_beam_search.legacy_decode(
            model, source, "beam", beam_width, max_length=max_length)
        return result.ids, result.scores, result.lengths

    fn = tf.function(fn, jit_compile=True, autograph=False)
    return lambda source: tuple(np.asarray(x) for x in fn(source))


def table_searches(args, length):
    """(old, new) XLA-compiled beam searches over a logits table."""
    beam_search = _legacy_beam_search.beam_search

    rng = np.random.default_rng(args.seed)
    table = rng.normal(0.0, 1.0, (args.vocab, args.vocab)).astype("float32")
    table[:, END_ID] = END_BIAS  # no hypothesis may end
    table = tf.constant(table)

    def step(tokens, state):
        return ops.take(table, tokens, axis=0), state

    def old(start):
        r = beam_search(lambda tokens, state: step(tokens, state) + (None,),
                        [ops.zeros_like(start, "float32")], ops.shape(start)[0],
                        args.beam_width, length, START_ID, END_ID, PAD_ID)
        return r.ids, r.scores, r.lengths

    def new(start):
        r = decoding.BeamSearch(args.beam_width)(
            step, start, [ops.zeros_like(start, "float32")], end_token=END_ID,
            max_length=length, pad_token=PAD_ID)
        return r.ids, r.scores, r.lengths

    fns = [tf.function(f, jit_compile=True, autograph=False)
           for f in (old, new)]
    return [lambda source, f=f: tuple(np.asarray(x) for x in f(source[:, 0]))
            for f in fns] + [fns[1]]


def run(args):
    env = _timing.environment()
    cpus = env["usable_cpus"] or 1
    model, source = build(args)
    source_tensor = tf.constant(source)
    if args.model == "table":
        source_tensor = tf.fill((args.batch, 1), START_ID)
    rows = []
    what = (f"LSTM {args.units}" if args.model == "seq2seq"
            else "logits table")
    log(f"beam search, K={args.beam_width}, batch {args.batch}, vocab "
        f"{args.vocab}, {what}, XLA; times are medians of {args.repeats}")
    log(f"{'L':>5} {'old ms':>9} {'new ms':>9} {'old/new':>8} "
        f"{'old ms/step':>12} {'new ms/step':>12} {'others':>7}")
    for length in args.lengths:
        if args.model == "table":
            old_table, new_call, new_fn = table_searches(args, length)
            calls = {"old": lambda: old_table(source_tensor),
                     "new": lambda: new_call(source_tensor)}
        else:
            old_call = old_beam_search(model, args.beam_width, length)
            new_call, new_fn = new_beam_search(model, args.beam_width, length)
            calls = {"old": lambda: old_call(source_tensor),
                     "new": lambda: new_call(source_tensor)}
        t0 = time.perf_counter()
        results = {name: fn() for name, fn in calls.items()}
        compile_s = time.perf_counter() - t0
        for name, (ids, _, lengths) in results.items():
            if not np.all(lengths == length):
                raise RuntimeError(f"{name}: a hypothesis ended before "
                                   f"L={length}; the work is not fixed")
        same_ids = bool(np.array_equal(results["old"][0], results["new"][0]))
        max_score_diff = float(np.max(np.abs(
            results["old"][1] - results["new"][1])))
        if not same_ids:
            raise RuntimeError(f"L={length}: old and new beam search "
                               f"returned different ids")
        must_compile = new_fn.get_concrete_function(
            source_tensor[:, 0] if args.model == "table" else source_tensor
        ).function_def.attr.get("_XlaMustCompile")
        load0 = cpu_snapshot()
        timings = _timing.time_interleaved(calls, repeats=args.repeats,
                                           warmup=args.warmup)
        load = others_load(load0, cpu_snapshot(), cpus)
        old, new = timings["old"].median, timings["new"].median
        row = {
            "length": length,
            "old_ms": 1e3 * old,
            "new_ms": 1e3 * new,
            "ratio_old_over_new": old / new,
            "old_ms_per_step": 1e3 * old / length,
            "new_ms_per_step": 1e3 * new / length,
            "same_ids": same_ids,
            "max_abs_score_difference": max_score_diff,
            "new_xla_must_compile": bool(must_compile is not None
                                         and must_compile.b),
            "first_calls_s": compile_s,
            "others_load": load,
            "old_timing": timings["old"].as_dict(),
            "new_timing": timings["new"].as_dict(),
        }
        rows.append(row)
        log(f"{length:>5} {row['old_ms']:>9.1f} {row['new_ms']:>9.1f} "
            f"{row['ratio_old_over_new']:>8.2f} "
            f"{row['old_ms_per_step']:>12.3f} {row['new_ms_per_step']:>12.3f} "
            f"{format_load(load):>7}")
    # Marginal cost of a step between successive lengths: what a step costs
    # at that length, without the fixed cost of a call (constant for a
    # linear decode, growing with L for a quadratic one).
    for previous, row in zip(rows, rows[1:]):
        for name in ("old", "new"):
            row[f"{name}_marginal_ms_per_step"] = (
                (row[f"{name}_ms"] - previous[f"{name}_ms"])
                / (row["length"] - previous["length"]))
    log("marginal ms/step between successive L: " + "; ".join(
        f"{p['length']}->{r['length']}: old {r['old_marginal_ms_per_step']:.3f}"
        f" new {r['new_marginal_ms_per_step']:.3f}"
        for p, r in zip(rows, rows[1:])))
    # Growth: ms per step at the longest length over that at the shortest
    # (1 for linear total time, L_max / L_min for quadratic).
    growth = {
        name: rows[-1][f"{name}_ms_per_step"] / rows[0][f"{name}_ms_per_step"]
        for name in ("old", "new")
    }
    log(f"ms/step at L={rows[-1]['length']} over L={rows[0]['length']}: "
        f"old {growth['old']:.2f}, new {growth['new']:.2f}")
    report = {
        "benchmark": "decoding",
        "what": "beam-search decode time against output length, "
                "Seq2Seq.decode on keras_seqmem.decoding.BeamSearch (new) vs "
                "Seq2Seq.decode before it (old, "
                "benchmarks/_legacy_beam_search.py, formerly "
                "keras_seqmem/attention/beam_search.py)",
        "args": vars(args),
        "seeds": {"weights_and_source": args.seed},
        "end_logit_bias": END_BIAS,
        "environment": env,
        "rows": rows,
        "ms_per_step_growth_longest_over_shortest": growth,
    }
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)),
                    exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
        log(f"wrote {args.json}")
    return report


def main(argv=None):
    run(parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
