"""Training throughput of keras_seqmem's MemN2N against a Keras-only model.

Questions per second of `model.train_on_batch([story, question], answer)`
(SGD as Sukhbaatar et al. 2015: learning rate 0.01, gradients clipped to a
global norm of 40; `SparseCategoricalCrossentropy(from_logits=True)`),
XLA off and on (`jit_compile` False / True), for

    ours      keras_seqmem.training.build_memory_model(V, "memn2n",
                  embedding_dim=d, hops=K, memory_size=N,
                  weight_tying="adjacent", encoding=..., temporal_encoding=True)
    baseline  a Keras-only Functional model of the same equations and sizes
              (`build_baseline`), made of Keras layers and `keras.ops`:
              - K + 1 `keras.layers.Embedding(V, d)` word tables E_0..E_K:
                A^k = E_{k-1}, C^k = E_k (adjacent tying: A^{k+1} = C^k),
                B = E_0 = A^1; tied by calling the same layer objects;
              - sentence vectors: sum over the words of E_k x_ij times the
                word mask (padding id 0 contributes nothing) times, for
                `position`, a constant position-encoding tensor l (L, d)
                (`keras_seqmem.memory.memory_network.position_encoding`);
                the weights (mask x l) are computed once and shared by all
                tables;
              - temporal encoding: K + 1 `Embedding(N, d)` tables T_0..T_K
                of the slot's temporal index, added to the sentence vectors;
                the index is the number of real sentences after the slot,
                computed from the slot mask with `keras.ops` (flip, cumsum),
                as ours defines it;
              - per hop k: o = `keras.layers.Attention(use_scale=False)`(
                [u[:, None], c^k, m^k], mask=[None, slot_mask]) (query,
                value, key; dot-product scores, padded slots masked out by
                Keras' -1e9 on their scores) and u = `keras.layers.Add`()(
                [u, o]);
              - logits = u (C^K)^T: W tied to E_K, an `einsum` of u with the
                `Embedding` layer's own `embeddings` variable (so the
                baseline has no weights of its own for W, like ours).

The two models compute the same function: before timing, the script copies
our weights into the baseline and checks on a batch that the logits and the
gradients of every table agree (to 1e-4 relative), and that the parameter
counts differ only by ours' `softmax_weight` (the non-trainable scalar
lambda of linear start, 1 = softmax on; counted by `count_params`). Two
differences of work, both at ours' expense: (1) ours computes the position
encoding of each sentence with its own word count J, as the paper defines
it, while the baseline multiplies by a constant l for J = L (the usual
shortcut; the same numbers only for sentences of all L words, which is how
the equivalence batch is made; the timed batches have sentences of L/2 to L
words, which changes no shape); (2) ours mixes the softmax with the linear
read of linear start, `lambda * softmax + (1 - lambda) * scores`, at every
hop. Random noise (RN) is off in both (`random_noise=0`); the baseline has
no equivalent.

Data (like bAbI 1k by default: V = 175 words, sentences of L = 11 words,
questions of 6, d = 20, batch 32): stories of N slots holding a random
number of real sentences, 1..N, left-aligned as
`keras_seqmem.tasks.babi.vectorize` writes them, the other slots all-zero
padding, so that both models do real masking work; word ids in [1, V),
random answers. Tensors are made once, up front.

Three tables, all from one interleaved timing per `jit_compile` setting
(every configuration's ours and baseline called in turn, round after round:
`_timing.time_interleaved`, ours/c1, keras/c1, ours/c2, ..., reversed on
odd rounds, so that a change of machine load hits every row alike):

1. headline: bag of words and position encoding, N = 50 slots, 3 hops;
2. memory size: N = 50, 100, 200, 400 slots, 3 hops, position encoding;
3. hops: K = 1, 2, 3, 4 at 50 slots, position encoding.

(The 50-slot, 3-hop, position-encoding configuration is one row of all
three tables and is timed once.) `ratio` is ours / baseline throughput
(above 1: ours faster); `paired` is the median over the rounds of baseline
time / our time within a round (the two calls ran back to back); `rel` is
a row's median step time over that of the table's first row (50 slots; 1
hop). With jit on, the script checks after the run that XLA was really used
(`recurrent.xla_status`: `model.jit_compile` still True, no layer withdrew
XLA support); a row where it was not says DROPPED and the exit status is 3.
The `others` figure is the share of all CPUs that other processes kept busy
while a jit setting was timed (`seq2seq.others_load`).

Run `python benchmarks/memory.py --help` for the flags; `--quick` is a
smoke run of a few seconds per row on tiny shapes.
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
from keras import ops  # noqa: E402

from keras_seqmem._layers import iter_layers  # noqa: E402
from keras_seqmem.memory.memory_network import position_encoding  # noqa: E402
from keras_seqmem.training import build_memory_model  # noqa: E402
from ntm import format_fit, linear_fit  # noqa: E402  (the same fit)
from recurrent import xla_status  # noqa: E402  (same check as recurrent.py)
from seq2seq import cpu_snapshot, format_load, others_load  # noqa: E402

tf.get_logger().setLevel("ERROR")

ENCODINGS = ("bow", "position")
LEARNING_RATE = 0.01  # Sukhbaatar et al. (2015), section 4.2
CLIPNORM = 40.0
# Relative tolerance of the equivalence check (float32, sums of ~10^3 terms).
CHECK_RTOL = 1e-4


# -- models -------------------------------------------------------------------


def init():
    # Ours' default, N(0, 0.1) (the paper's); the values do not change the
    # time of a step.
    return keras.initializers.RandomNormal(stddev=0.1)


def build_ours(args, encoding, slots, hops, empty_slots="masked"):
    return build_memory_model(
        args.vocab,
        "memn2n",
        embedding_dim=args.embedding_dim,
        hops=hops,
        memory_size=slots,
        weight_tying="adjacent",
        encoding=encoding,
        temporal_encoding=True,
        random_noise=0.0,
        empty_slots=empty_slots,
    )


def build_baseline(args, encoding, slots, hops, empty_slots="masked"):
    """The Keras-only MemN2N (adjacent tying, TE; see the module docstring).

    `empty_slots="attend"` (ours' option of that name): the empty slots'
    memory vectors are zeroed (no temporal encoding either) and `Attention`
    gets no mask, so they take part in the softmax with score 0 and add
    nothing to the read, as ours computes them.

    Returns `(model, word_tables, temporal_tables)`; the tables are the
    `Embedding` layers E_0..E_K and T_0..T_K, for the equivalence check.
    """
    V, d, N, K = args.vocab, args.embedding_dim, slots, hops
    L, Lq = args.sentence_length, args.question_length
    layers = keras.layers
    story = keras.Input((N, L), dtype="int32", name="story")
    question = keras.Input((Lq,), dtype="int32", name="question")
    words = [
        layers.Embedding(V, d, embeddings_initializer=init(), name=f"E{k}")
        for k in range(K + 1)
    ]
    temporal = [
        layers.Embedding(N, d, embeddings_initializer=init(), name=f"T{k}")
        for k in range(K + 1)
    ]

    def word_weights(ids, length):
        # (..., L, 1) word mask, times the constant PE l (L, d).
        weights = ops.expand_dims(ops.cast(ops.not_equal(ids, 0), "float32"), -1)
        if encoding == "position":
            weights = weights * ops.convert_to_tensor(
                position_encoding(length, d).astype("float32")
            )
        return weights

    story_weights = word_weights(story, L)  # (batch, N, L, 1 or d)
    slot_mask = ops.any(ops.not_equal(story, 0), axis=-1)  # (batch, N)
    counts = ops.cast(slot_mask, "int32")
    recency = (
        ops.flip(ops.cumsum(ops.flip(counts, axis=-1), axis=-1), axis=-1)
        - counts
    )  # number of real sentences after each slot
    memories = [
        ops.sum(words[k](story) * story_weights, axis=-2) + temporal[k](recency)
        for k in range(K + 1)
    ]  # (batch, N, d): m^1 = memories[0], c^k = m^k+1 = memories[k]
    attention_mask = [None, slot_mask]
    if empty_slots == "attend":
        keep = ops.expand_dims(ops.cast(slot_mask, memories[0].dtype), -1)
        memories = [m * keep for m in memories]
        attention_mask = None
    u = ops.sum(words[0](question) * word_weights(question, Lq), axis=-2)
    for k in range(K):
        o = layers.Attention(use_scale=False, name=f"hop{k + 1}")(
            [ops.expand_dims(u, 1), memories[k + 1], memories[k]],
            mask=attention_mask,
        )  # query u, value c^k, key m^k
        u = layers.Add(name=f"u{k + 2}")([u, ops.squeeze(o, 1)])
    # W = (C^K)^T, tied: the layer's own variable, read at every call.
    logits = ops.einsum("bd,vd->bv", u, words[K].embeddings)
    model = keras.Model([story, question], logits, name="baseline")
    return model, words, temporal


def compile_model(model, jit):
    model.compile(
        optimizer=keras.optimizers.SGD(LEARNING_RATE, global_clipnorm=CLIPNORM),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit,
    )
    return model


def memn2n_layer(model):
    return next(
        layer for layer in iter_layers(model)
        if isinstance(layer, keras_seqmem.MemN2N)
    )


def check_equivalence(ours, baseline, words, temporal, data):
    """Copy ours' weights into the baseline; compare logits and gradients.

    Returns the largest relative differences; raises if they exceed
    CHECK_RTOL (the baseline would then not be the same computation).
    """
    layer = memn2n_layer(ours)
    for k, (w, t) in enumerate(zip(words, temporal)):
        w.embeddings.assign(layer.embeddings[k])
        t.embeddings.assign(layer.temporal[k])
    story, question, answer = (tf.constant(x) for x in data)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def forward(model, variables):
        with tf.GradientTape() as tape:
            logits = model([story, question])
            loss = loss_fn(answer, logits)
        return logits, tape.gradient(loss, variables)

    ours_logits, (g_words, g_temporal) = forward(
        ours, [layer.embeddings, layer.temporal]
    )
    base_logits, base_grads = forward(
        baseline,
        [w.embeddings for w in words] + [t.embeddings for t in temporal],
    )
    K1 = len(words)
    pairs = {
        "logits": (ours_logits, base_logits),
        "grad_word_tables": (g_words, ops.stack(base_grads[:K1])),
        "grad_temporal_tables": (g_temporal, ops.stack(base_grads[K1:])),
    }
    result = {}
    for name, (a, b) in pairs.items():
        a, b = np.asarray(a), np.asarray(b)
        result[name] = float(np.abs(a - b).max() / max(np.abs(a).max(), 1e-30))
    bad = {k: v for k, v in result.items() if not v <= CHECK_RTOL}
    if bad:
        raise RuntimeError(
            f"the Keras-only baseline does not compute what MemN2N does "
            f"(relative differences {bad}); the comparison would be void"
        )
    return result


# -- data ---------------------------------------------------------------------


def make_data(args, slots, seed, full_sentences=False):
    """(story, question, answer) as NumPy arrays: `batch` stories of `slots`
    slots, 1..slots real sentences left-aligned (the rest all zero),
    sentences of L/2..L words (all L with `full_sentences`), ids in
    [1, V)."""
    rng = np.random.default_rng(seed)
    B, N = args.batch, slots
    L, Lq, V = args.sentence_length, args.question_length, args.vocab
    story = np.zeros((B, N, L), np.int32)
    question = np.zeros((B, Lq), np.int32)
    for i in range(B):
        for s in range(rng.integers(1, N + 1)):
            n = L if full_sentences else rng.integers((L + 1) // 2, L + 1)
            story[i, s, :n] = rng.integers(1, V, n)
        n = Lq if full_sentences else rng.integers((Lq + 1) // 2, Lq + 1)
        question[i, :n] = rng.integers(1, V, n)
    answer = rng.integers(1, V, B).astype(np.int32)
    return story, question, answer


# -- command line ---------------------------------------------------------------


def log(*parts):
    print(*parts, flush=True)


def int_list(text):
    return [int(s) for s in text.split(",") if s.strip()]


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], allow_abbrev=False
    )
    p.add_argument("--batch", type=int, default=32, help="batch size (32)")
    p.add_argument(
        "--vocab", type=int, default=175,
        help="vocabulary size V, padding id 0 included (175, bAbI 1k)",
    )
    p.add_argument(
        "--sentence-length", type=int, default=11,
        help="words per sentence slot L (11)",
    )
    p.add_argument(
        "--question-length", type=int, default=6, help="question words (6)"
    )
    p.add_argument(
        "--embedding-dim", type=int, default=20, help="embedding size d (20)"
    )
    p.add_argument(
        "--memory-size", type=int, default=50,
        help="slots N of the headline rows and of the hops table (50)",
    )
    p.add_argument(
        "--hops", type=int, default=3,
        help="hops K of the headline rows and of the memory-size table (3)",
    )
    p.add_argument(
        "--slots", type=int_list, default=[50, 100, 200, 400],
        help="memory sizes of the scaling table (50,100,200,400)",
    )
    p.add_argument(
        "--hop-counts", type=int_list, default=[1, 2, 3, 4],
        help="hop counts of the scaling table (1,2,3,4)",
    )
    p.add_argument(
        "--repeats", type=int, default=None,
        help="timed training calls per model; the median is reported "
        "(50, or 3 with --quick)",
    )
    p.add_argument(
        "--warmup", type=int, default=None,
        help="untimed calls first, for tracing and XLA compilation "
        "(3, or 1 with --quick)",
    )
    p.add_argument(
        "--jit", choices=("both", "on", "off"), default="both",
        help="jit_compile False, True, or both (both)",
    )
    p.add_argument(
        "--empty-slots", choices=("both", "masked"), default="both",
        help="time MemN2N(empty_slots='attend') and its baseline too "
        "(both; with --quick the headline position-encoding configuration "
        "only), or the masked read only (masked)",
    )
    p.add_argument("--json", metavar="PATH", help="also write results here")
    p.add_argument(
        "--quick", action="store_true",
        help="smoke run of a few seconds per row: batch 4, vocabulary 20, "
        "sentences of 4 words, questions of 3, d 8, 1 warm-up + 3 timed "
        "calls; the same slots and hops (flags given explicitly still win)",
    )
    args = p.parse_args(argv)

    if args.quick:
        _timing.apply_quick(args, argv, {
            "--batch": ("batch", 4),
            "--vocab": ("vocab", 20),
            "--sentence-length": ("sentence_length", 4),
            "--question-length": ("question_length", 3),
            "--embedding-dim": ("embedding_dim", 8),
        })
    if args.repeats is None:
        args.repeats = 3 if args.quick else 50
    if args.warmup is None:
        args.warmup = 1 if args.quick else 3

    for attr in ("batch", "sentence_length", "question_length",
                 "embedding_dim", "memory_size", "hops", "repeats"):
        if getattr(args, attr) < 1:
            p.error(f"--{attr.replace('_', '-')} must be >= 1")
    if args.vocab < 2:
        p.error("--vocab must be >= 2 (padding and a word)")
    if not args.slots or min(args.slots) < 1:
        p.error("--slots must be a list of positive sizes")
    if not args.hop_counts or min(args.hop_counts) < 1:
        p.error("--hop-counts must be a list of positive counts")
    if args.warmup < 1:
        # The first call traces and compiles; it must never be timed.
        p.error("--warmup must be >= 1")
    args.jits = {"both": [False, True], "on": [True], "off": [False]}[args.jit]
    return args


# -- measurement ------------------------------------------------------------------


def configurations(args):
    """Unique (encoding, slots, hops) of the three tables, in order."""
    wanted = [(e, args.memory_size, args.hops) for e in ENCODINGS]
    wanted += [("position", n, args.hops) for n in args.slots]
    wanted += [("position", args.memory_size, k) for k in args.hop_counts]
    return list(dict.fromkeys(wanted))


def attend_configurations(args):
    """The configurations timed with `empty_slots="attend"` too: all of
    them (both encodings at the headline size, the memory-size and hops
    sweeps), or with `--quick` the headline position-encoding one only;
    none with `--empty-slots masked`."""
    if args.empty_slots == "masked":
        return []
    if args.quick:
        return [("position", args.memory_size, args.hops)]
    return configurations(args)


def config_name(config, empty_slots="masked"):
    encoding, slots, hops = config
    name = f"{encoding}/N{slots}/K{hops}"
    return name if empty_slots == "masked" else f"attend/{name}"


def measure(args, data, cpus):
    """One interleaved timing per jit setting over every configuration."""
    configs = [(c, "masked") for c in configurations(args)] + [
        (c, "attend") for c in attend_configurations(args)]
    rows, checks, params, problems, blocks = [], {}, {}, [], []
    attend_rows, attend_checks = [], {}
    for jit in args.jits:
        label = "on" if jit else "off"
        log("")
        log(f"jit {label}: building, checking and warming up "
            f"{len(configs)} configurations x 2 models")
        models, fns = {}, {}
        for config, empty in configs:
            encoding, slots, hops = config
            name = config_name(config, empty)
            t0 = time.perf_counter()
            keras.utils.set_random_seed(0)
            ours = compile_model(build_ours(args, *config, empty), jit)
            keras.utils.set_random_seed(0)
            base, words, temporal = build_baseline(args, *config, empty)
            compile_model(base, jit)
            story, question, answer = (
                tf.constant(x) for x in data[slots]["timed"]
            )
            x = [story, question]
            checked = checks if empty == "masked" else attend_checks
            if name not in checked:
                # Eagerly, before any training step changed the weights.
                ours([story, question])  # build
                checked[name] = check_equivalence(
                    ours, base, words, temporal, data[slots]["check"]
                )
                params[name] = {
                    "ours": int(ours.count_params()),
                    "keras": int(base.count_params()),
                    "ours_trainable": int(sum(
                        np.prod(v.shape) for v in ours.trainable_weights
                    )),
                    "keras_trainable": int(sum(
                        np.prod(v.shape) for v in base.trainable_weights
                    )),
                }
            fns[f"ours/{name}"] = (
                lambda m=ours, x=x, y=answer: m.train_on_batch(x, y)
            )
            fns[f"keras/{name}"] = (
                lambda m=base, x=x, y=answer: m.train_on_batch(x, y)
            )
            models[name] = (ours, base)
            _timing.warm_up(fns[f"ours/{name}"], args.warmup)
            _timing.warm_up(fns[f"keras/{name}"], args.warmup)
            log(f"  {name:<18} {time.perf_counter() - t0:6.1f}s")

        log(f"jit {label}: timing ({args.repeats} rounds of "
            f"{len(fns)} calls) ...")
        t0 = time.perf_counter()
        load0 = cpu_snapshot()
        # One more untimed call of each, all in a row: without XLA, the
        # first call of a model's train step after other models were traced
        # takes ~100 ms more (seen on TF 2.21 CPU), so the per-model warm-up
        # above is not enough.
        timings = _timing.time_interleaved(
            fns, repeats=args.repeats, warmup=1
        )
        load = others_load(load0, cpu_snapshot(), cpus)
        elapsed = time.perf_counter() - t0
        blocks.append({"jit": jit, "others_load": load, "timing_s": elapsed})
        log(f"jit {label}: timed in {elapsed:.0f}s; other processes kept "
            f"{format_load(load).strip()} of the CPUs busy")

        for config, empty in configs:
            name = config_name(config, empty)
            ours, base = models[name]
            xla = "-"
            if jit:
                ok = {"ours": xla_status(ours), "keras": xla_status(base)}
                if all(ok.values()):
                    xla = "yes"
                else:
                    dropped = [k for k, v in ok.items() if not v]
                    xla = "DROPPED(" + ",".join(dropped) + ")"
                    problems.append({"config": name, "models": dropped})
                    log(f"!! XLA was requested but not used for "
                        f"{' and '.join(dropped)} ({name})")
            t_ours = timings[f"ours/{name}"]
            t_base = timings[f"keras/{name}"]
            encoding, slots, hops = config
            (rows if empty == "masked" else attend_rows).append({
                "encoding": encoding,
                "slots": slots,
                "hops": hops,
                "empty_slots": empty,
                "jit": jit,
                "ours_step_s": t_ours.median,
                "keras_step_s": t_base.median,
                "ours_q_per_s": args.batch / t_ours.median,
                "keras_q_per_s": args.batch / t_base.median,
                "ratio": t_base.median / t_ours.median,
                "paired_ratio": float(np.median(
                    np.asarray(t_base.samples) / np.asarray(t_ours.samples)
                )),
                "spread": max(t_ours.spread, t_base.spread),
                "others_load": load,
                "xla": xla,
                "ours_timing": t_ours.as_dict(),
                "keras_timing": t_base.as_dict(),
            })
        del models, fns
        keras.backend.clear_session()
    return rows, checks, params, problems, blocks, attend_rows, attend_checks


def fits(args, tables_by_mode):
    """Step time against the memory size and the hops: a `linear_fit` per
    empty-slots mode, jit setting and model (ours, keras)."""
    result = []
    for empty, (by_slots, by_hops) in tables_by_mode.items():
        for against, table in (("slots", by_slots), ("hops", by_hops)):
            for jit in args.jits:
                series = [r for r in table if r["jit"] == jit]
                if len(series) < 2:
                    continue
                for model in ("ours", "keras"):
                    fit = linear_fit([r[against] for r in series],
                                     [r[f"{model}_step_s"] for r in series])
                    result.append({"empty_slots": empty, "model": model,
                                   "jit": jit, "against": against, **fit})
    return result


def find(rows, encoding, slots, hops, jit):
    for r in rows:
        if (r["encoding"], r["slots"], r["hops"], r["jit"]) == (
            encoding, slots, hops, jit
        ):
            return r
    raise KeyError((encoding, slots, hops, jit))


def tables(args, rows, partial=False):
    """The three tables as lists of row dicts (with `rel` columns added).
    `partial`: leave out what was not timed (the attend rows of a quick
    run) instead of failing."""
    def get(*key):
        try:
            return find(rows, *key)
        except KeyError:
            if partial:
                return None
            raise

    headline, by_slots, by_hops = [], [], []
    for jit in args.jits:
        for e in ENCODINGS:
            r = get(e, args.memory_size, args.hops, jit)
            if r is not None:
                headline.append(r)
        for key, values, out in (
            ("slots", args.slots, by_slots),
            ("hops", args.hop_counts, by_hops),
        ):
            series = [
                get("position",
                    n if key == "slots" else args.memory_size,
                    args.hops if key == "slots" else n, jit)
                for n in values
            ]
            if any(r is None for r in series):
                continue
            first = series[0]
            for r in series:
                out.append({
                    **{k: r[k] for k in (
                        "encoding", "slots", "hops", "empty_slots", "jit",
                        "ours_step_s", "keras_step_s", "ours_q_per_s",
                        "keras_q_per_s", "ratio", "paired_ratio", "spread",
                        "xla")},
                    "ours_rel": r["ours_step_s"] / first["ours_step_s"],
                    "keras_rel": r["keras_step_s"] / first["keras_step_s"],
                })
    return headline, by_slots, by_hops


HEADLINE_HEADER = (
    f"{'encoding':<9} {'jit':<4} {'ours q/s':>9} {'keras q/s':>9}"
    f" {'ratio':>6} {'paired':>6}  {'spread':>6}  {'others':>6}  xla"
)


def format_headline(r):
    return (
        f"{r['encoding']:<9} {('on' if r['jit'] else 'off'):<4}"
        f" {r['ours_q_per_s']:>9.0f} {r['keras_q_per_s']:>9.0f}"
        f" {r['ratio']:>6.2f} {r['paired_ratio']:>6.2f}"
        f"  {100 * r['spread']:>5.0f}%   {format_load(r['others_load'])}"
        f"  {r['xla']}"
    )


def scaling_header(key):
    return (
        f"{key:<6} {'jit':<4} {'ours ms':>8} {'ours q/s':>9} {'rel':>5}"
        f" {'keras ms':>8} {'keras q/s':>9} {'rel':>5} {'ratio':>6}"
        f" {'paired':>6}  {'spread':>6}  xla"
    )


def format_scaling(r, key):
    return (
        f"{r[key]:<6} {('on' if r['jit'] else 'off'):<4}"
        f" {1e3 * r['ours_step_s']:>8.2f} {r['ours_q_per_s']:>9.0f}"
        f" {r['ours_rel']:>5.2f}"
        f" {1e3 * r['keras_step_s']:>8.2f} {r['keras_q_per_s']:>9.0f}"
        f" {r['keras_rel']:>5.2f}"
        f" {r['ratio']:>6.2f} {r['paired_ratio']:>6.2f}"
        f"  {100 * r['spread']:>5.0f}%  {r['xla']}"
    )


def run(args):
    env = _timing.environment()
    load_start = os.getloadavg()
    log("== keras_seqmem memory-network benchmark ==")
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
        f"shapes: batch {args.batch}, vocabulary {args.vocab}, sentences of "
        f"{args.sentence_length} words, questions of {args.question_length}, "
        f"d {args.embedding_dim}; headline {args.memory_size} slots, "
        f"{args.hops} hops; slots {args.slots}; hops {args.hop_counts}; "
        f"{args.warmup} warm-up + {args.repeats} timed train_on_batch calls "
        f"per model, median reported"
    )
    cpus = env["usable_cpus"] or 1
    started = time.perf_counter()
    load0 = cpu_snapshot()
    slot_sizes = sorted({c[1] for c in configurations(args)})
    data = {
        n: {
            "timed": make_data(args, n, seed=n),
            "check": make_data(args, n, seed=10_000 + n, full_sentences=True),
        }
        for n in slot_sizes
    }
    for n in slot_sizes:
        story = data[n]["timed"][0]
        real = (story != 0).any(-1).sum(-1)
        data[n]["real_sentences"] = {
            "min": int(real.min()), "mean": float(real.mean()),
            "max": int(real.max()),
        }
    (rows, checks, params, problems, blocks, attend_rows,
     attend_checks) = measure(args, data, cpus)
    headline, by_slots, by_hops = tables(args, rows)
    a_headline, a_by_slots, a_by_hops = tables(args, attend_rows,
                                               partial=True)
    linear = fits(args, {"masked": (by_slots, by_hops),
                         "attend": (a_by_slots, a_by_hops)})
    elapsed = time.perf_counter() - started
    load_end = os.getloadavg()
    others = others_load(load0, cpu_snapshot(), cpus)

    head = config_name(("position", args.memory_size, args.hops))
    p = params[head]
    worst_check = max(v for c in checks.values() for v in c.values())
    log("")
    log("== results ==")
    log(
        f"parameters ({head}): ours {p['ours']:,}, keras {p['keras']:,} "
        f"(trainable: {p['ours_trainable']:,} and {p['keras_trainable']:,}; "
        f"ours - keras = {p['ours'] - p['keras']}: ours' non-trainable "
        f"softmax_weight, the lambda of linear start)"
    )
    log(
        f"same function: ours' weights copied into the baseline, logits and "
        f"gradients of every table agree in all {len(checks)} configurations "
        f"(largest relative difference {worst_check:.1e})"
    )
    log("")
    log(
        f"training, questions/s ({args.memory_size} slots, {args.hops} hops; "
        f"ratio = ours / keras, > 1: ours faster):"
    )
    log(HEADLINE_HEADER)
    for r in headline:
        log(format_headline(r))
    log("")
    log(f"memory size ({args.hops} hops, position encoding; ms per training "
        f"step, rel = time / {args.slots[0]}-slot time):")
    log(scaling_header("slots"))
    for r in by_slots:
        log(format_scaling(r, "slots"))
    log("")
    log(f"hops ({args.memory_size} slots, position encoding; rel = time / "
        f"{args.hop_counts[0]}-hop time):")
    log(scaling_header("hops"))
    for r in by_hops:
        log(format_scaling(r, "hops"))

    if attend_rows:
        log("")
        log("empty_slots='attend' (ours and the baseline with the empty "
            "slots in the softmax; same interleaved timing):")
        log(HEADLINE_HEADER)
        for r in a_headline:
            log(format_headline(r))
        for key, table, what in (
                ("slots", a_by_slots, f"memory size ({args.hops} hops"),
                ("hops", a_by_hops, f"hops ({args.memory_size} slots")):
            if table:
                log(f"{what}, position encoding, attend):")
                log(scaling_header(key))
                for r in table:
                    log(format_scaling(r, key))
    if linear:
        log("")
        log("step time against memory size and hops (least squares; a "
            "straight line and x2 per doubling = linear):")
        for fit in linear:
            log(f"  {fit['empty_slots']:<6} {fit['model']:<5} jit "
                f"{'on ' if fit['jit'] else 'off'} vs {fit['against']:<5}: "
                + format_fit(fit, "slot" if fit["against"] == "slots"
                             else "hop"))

    ratios = [r["ratio"] for r in rows]
    parts = []
    for jit in args.jits:
        label = "on" if jit else "off"
        h = {r["encoding"]: r for r in headline if r["jit"] == jit}
        s = [r for r in by_slots if r["jit"] == jit]
        parts.append(
            f"jit {label}: bow {h['bow']['ratio']:.2f}, position "
            f"{h['position']['ratio']:.2f}; {s[0]['slots']}->{s[-1]['slots']} "
            f"slots x{s[-1]['ours_rel']:.1f} ours, x{s[-1]['keras_rel']:.1f} "
            f"keras"
        )
    log("")
    log(
        f"summary: ours / keras throughput {min(ratios):.2f}-"
        f"{max(ratios):.2f} over {len(rows)} rows, "
        f"{sum(x >= 1.0 for x in ratios)}/{len(rows)} >= 1.0; "
        + "; ".join(parts)
    )
    noisy = [r for r in rows if r["spread"] > 0.25]
    if noisy:
        log(
            f"note: {len(noisy)} row(s) had a (max-min)/median spread over "
            f"25% (machine busy?); medians are robust but re-run to confirm."
        )
    log(
        f"load average at end: {load_end[0]:.2f} {load_end[1]:.2f} "
        f"{load_end[2]:.2f}; other processes kept "
        f"{format_load(others).strip()} of the {cpus} CPUs busy during the "
        f"run (during the timing: "
        + ", ".join(
            f"jit {'on' if b['jit'] else 'off'} "
            f"{format_load(b['others_load']).strip()}" for b in blocks
        )
        + f"); total time: {elapsed:.0f}s"
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
        "optimizer": {"name": "SGD", "learning_rate": LEARNING_RATE,
                      "global_clipnorm": CLIPNORM},
        "load_average": {"start": list(load_start), "end": list(load_end)},
        "others_load": others,
        "timing_blocks": blocks,
        "real_sentences": {
            str(n): data[n]["real_sentences"] for n in slot_sizes
        },
        "parameters": params,
        "equivalence_check": {"rtol": CHECK_RTOL, "max_relative": checks},
        "rows": rows,
        "headline": headline,
        "memory_size": by_slots,
        "hops": by_hops,
        "attend": {
            "rows": attend_rows,
            "headline": a_headline,
            "memory_size": a_by_slots,
            "hops": a_by_hops,
            "equivalence_check": {"rtol": CHECK_RTOL,
                                  "max_relative": attend_checks},
        },
        "linear_fit": linear,
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
