"""Does attention keep long sequences right? Reversal, with and without.

Bahdanau, Cho & Bengio (ICLR 2015) found that an RNN Encoder-Decoder, which
squeezes the whole source into one fixed-size vector, gets worse as
sentences get longer, while their attention model (RNNsearch) does not. This
script shows the same on sequence reversal, where the length is a parameter:
it trains the same `Seq2Seq` twice -- `use_attention=False` (the decoder
sees the fixed context `[h->_T; h<-_1]` at every step) and
`use_attention=True` -- on the same sequences of lengths 1..L with the same
budget, then measures exact match and per-token accuracy of greedy decoding
*per sequence length*, on sequences of exactly that length generated from
other seeds.

    python examples/reversal_attention.py                  # default, 7-10 min
    python examples/reversal_attention.py --seeds 1 2      # every run printed
    python examples/reversal_attention.py --models without --epochs 30
    python examples/reversal_attention.py --quick          # smoke run, seconds

See `examples/README.md` for the results of the default run.
"""

import argparse
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "examples" / "output"

MODELS = (("without", False), ("with", True))  # (label, use_attention)

QUICK = {"max_length": 10, "epochs": 1, "units": 16, "train_size": 512,
         "test_size": 64, "length_step": 5}

# Test sequences of length l come from seed `seed + TEST_SEED_OFFSET + l`;
# train_on_task uses seed, seed + 10000 and seed + 20000.
TEST_SEED_OFFSET = 30_000


def parse_args(argv=None):
    from keras_seqmem.attention.seq2seq import CELLS

    parser = argparse.ArgumentParser(
        description="Train a Seq2Seq without and with attention on "
        "sequence reversal; print accuracy as a function of length.",
    )
    parser.add_argument("--max-length", type=int, default=30,
                        help="training lengths 1..L (default 30)")
    parser.add_argument("--num-symbols", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--train-size", type=int, default=20000)
    parser.add_argument("--test-size", type=int, default=500,
                        help="test sequences per length (default 500)")
    parser.add_argument("--length-step", type=int, default=5,
                        help="test lengths step, step*2, ..., L (default 5)")
    parser.add_argument("--units", type=int, default=64,
                        help="units of the decoder and of each encoder "
                        "direction, both models (default 64)")
    parser.add_argument("--embedding-dim", type=int, default=16)
    parser.add_argument("--cell", default="lstm", choices=sorted(CELLS),
                        help="encoder and decoder cell (default lstm)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=3e-3,
                        help="Adam learning rate, both models (default 3e-3)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0],
                        help="one run per model and seed (default: 0)")
    parser.add_argument("--models", nargs="+", default=[m for m, _ in MODELS],
                        choices=[m for m, _ in MODELS],
                        help="which models to train: without and/or with "
                        "attention (default both)")
    parser.add_argument("--out", default=str(DEFAULT_OUT),
                        help="folder of the PNGs (default examples/output)")
    parser.add_argument("--no-jit", action="store_true",
                        help="do not compile training with XLA")
    parser.add_argument("--results", default=None, metavar="PATH",
                        help="JSON file of every figure printed, with the "
                        "command, versions, seeds and date (default "
                        "examples/results/reversal_attention_<date>/"
                        "<figure name>.json; with --quick: none)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny smoke run: lengths 1..10, 16 units, 512 "
                        "sequences, 1 epoch, 64 test sequences per length, "
                        "no XLA training (results mean nothing)")
    args = parser.parse_args(argv)
    if args.quick:
        args.no_jit = True
        for key, value in QUICK.items():
            if getattr(args, key) == parser.get_default(key):
                setattr(args, key, value)
    if args.length_step < 1 or args.max_length < 1:
        parser.error("--max-length and --length-step must be >= 1")
    return args


def test_lengths(args):
    """step, 2 step, ..., and L itself."""
    lengths = list(range(args.length_step, args.max_length + 1,
                         args.length_step))
    if not lengths or lengths[-1] != args.max_length:
        lengths.append(args.max_length)
    return lengths


def task_params(args):
    return {"min_length": 1, "max_length": args.max_length,
            "num_symbols": args.num_symbols}


def test_set(args, seed, length):
    """`test_size` sequences of exactly `length`, padded to the training
    widths (source L, target L + 1)."""
    import numpy as np

    from keras_seqmem import tasks

    source, target = tasks.get_task("reversal").generate(
        args.test_size, seed=seed + TEST_SEED_OFFSET + length,
        min_length=length, max_length=length, num_symbols=args.num_symbols)
    width = args.max_length
    source = np.pad(source, ((0, 0), (0, width - source.shape[1])))
    target = np.pad(target, ((0, 0), (0, width + 1 - target.shape[1])))
    return source, target


def accuracies(predicted, target):
    """(exact match, per-token accuracy) of decoded ids against targets.

    Per-token accuracy: the fraction of target positions -- the symbols and
    the END token -- where the decoded token is the target token.
    """
    import numpy as np

    from keras_seqmem import tasks

    width = target.shape[1]
    predicted = predicted[:, :width]
    if predicted.shape[1] < width:
        predicted = np.pad(predicted, ((0, 0), (0, width - predicted.shape[1])))
    ends = np.argmax(target == tasks.END_ID, axis=1)
    inside = np.arange(width)[None, :] <= ends[:, None]
    right = (predicted == target) & inside
    exact = float(tasks.exact_match(predicted, target))
    return exact, float(right.sum() / inside.sum())


def run(args):
    """Trains both models for every seed and measures them per length.

    Returns a list of dicts, one per (seed, model): label, seed, params,
    seconds, overall (train_on_task's exact match on mixed lengths), and
    per_length {length: (exact, token, seen)}, seen being the fraction of
    the test sequences that also occur in the training set.
    """
    import numpy as np
    import tensorflow as tf

    from keras_seqmem import tasks
    from keras_seqmem import training

    tf.get_logger().setLevel("ERROR")
    params = task_params(args)
    lengths = test_lengths(args)
    runs = []
    models = [(label, flag) for label, flag in MODELS if label in args.models]
    total = len(args.seeds) * len(models)
    i = 0
    for seed in args.seeds:
        train_source, _ = tasks.get_task("reversal").generate(
            args.train_size, seed=seed, **params)
        seen_rows = {row.tobytes() for row in train_source}
        for label, use_attention in models:
            i += 1
            print(f"\n=== [{i}/{total}] Seq2Seq {label} attention, seed "
                  f"{seed}: reversal lengths 1..{args.max_length}, "
                  f"{args.num_symbols} symbols, {args.cell} {args.units} "
                  f"units, {args.train_size} sequences, {args.epochs} "
                  "epochs ===", flush=True)
            result = training.train_on_task(
                "reversal", args.cell, units=args.units,
                train_size=args.train_size,
                test_size=max(args.test_size, 2 * args.batch_size),
                batch_size=args.batch_size, epochs=args.epochs,
                learning_rate=args.learning_rate, seed=seed,
                jit_compile=not args.no_jit, verbose=2,
                embedding_dim=args.embedding_dim,
                model_kwargs={"use_attention": use_attention}, **params)
            per_length = {}
            for length in lengths:
                source, target = test_set(args, seed, length)
                predicted = training.predict_sequences(result.model, source)
                seen = np.mean([row.tobytes() in seen_rows
                                for row in source])
                per_length[length] = accuracies(predicted, target) + (
                    float(seen),)
            print(f"--> {label} attention, seed {seed}: exact match "
                  f"{result.test_metric:.4f} on mixed lengths 1.."
                  f"{args.max_length}; at length {lengths[-1]}: "
                  f"{per_length[lengths[-1]][0]:.4f} ({result.seconds:.0f} s "
                  "training)", flush=True)
            runs.append({"label": label, "seed": seed,
                         "params": result.model.count_params(),
                         "seconds": result.seconds,
                         "overall": result.test_metric,
                         "per_length": per_length, "model": result.model})
    return runs


def _table(header, rows):
    widths = [max(len(h), *(len(row[j]) for row in rows))
              for j, h in enumerate(header)]

    def line(cells):
        return "| " + " | ".join(c.rjust(w) for c, w in zip(cells, widths)) \
            + " |"

    rule = "|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|"
    return "\n".join([line(header), rule] + [line(r) for r in rows])


def format_table(runs, test_size):
    """Length x {without, with}: exact match and per-token accuracy, one row
    per (length, seed)."""
    by = {(r["label"], r["seed"]): r for r in runs}
    seeds = list(dict.fromkeys(r["seed"] for r in runs))
    lengths = list(runs[0]["per_length"])
    header = ["length", "seed", "n", "seen", "without: exact",
              "without: token", "with: exact", "with: token"]
    rows = []
    for length in lengths:
        for seed in seeds:
            cells = []
            seen = None
            for label, _ in MODELS:
                run = by.get((label, seed))
                if run is None:  # not trained (--models)
                    cells += ["-", "-"]
                    continue
                exact, token, seen = run["per_length"][length]
                cells += [f"{exact:.4f}", f"{token:.4f}"]
            rows.append([str(length), str(seed), str(test_size),
                         f"{seen:.3f}"] + cells)
    return _table(header, rows)


def format_summary(runs):
    """Per (model, seed): parameters, training seconds, mixed-length exact
    match."""
    rows = [[r["label"], str(r["seed"]), f"{r['params']:,}",
             f"{r['overall']:.4f}", f"{r['seconds']:.0f}"] for r in runs]
    return _table(["attention", "seed", "params", "exact (1..L mixed)",
                   "train s"], rows)


def plot(runs, path, title):
    """Exact match (solid) and per-token accuracy (dashed) vs length."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"without": "C3", "with": "C0"}
    seeds = list(dict.fromkeys(r["seed"] for r in runs))
    markers = ["o", "s", "^", "D", "v"]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for r in runs:
        lengths = list(r["per_length"])
        exact = [r["per_length"][n][0] for n in lengths]
        token = [r["per_length"][n][1] for n in lengths]
        name = f"{r['label']} attention"
        if len(seeds) > 1:
            name += f" (seed {r['seed']})"
        marker = markers[seeds.index(r["seed"]) % len(markers)]
        ax.plot(lengths, exact, color=colors[r["label"]], marker=marker,
                markersize=4, label=f"{name}: exact match")
        ax.plot(lengths, token, color=colors[r["label"]], marker=marker,
                markersize=3, linestyle="--", alpha=0.7,
                label=f"{name}: per token")
    ax.set_xlabel("sequence length")
    ax.set_ylabel("test accuracy (greedy decoding)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def figure_stem(args):
    stem = "reversal_attention"
    if args.max_length != 30:
        stem += f"_L{args.max_length}"
    if args.seeds != [0]:
        stem += "_seed" + "-".join(str(s) for s in args.seeds)
    if len(args.models) == 1:
        stem += f"_{args.models[0]}_only"
    return stem


def results_record(args, runs):
    """Every figure the run prints, for the results file."""
    return {
        "settings": dict(vars(args)),
        "test_lengths": test_lengths(args),
        "runs": [{
            "attention": r["label"], "seed": r["seed"],
            "params": int(r["params"]), "train_seconds": float(r["seconds"]),
            "exact_mixed_lengths": float(r["overall"]),
            "per_length": {str(length): {"exact": float(exact),
                                         "token": float(token),
                                         "seen": float(seen), "n":
                                         args.test_size}
                           for length, (exact, token, seen)
                           in r["per_length"].items()},
        } for r in runs],
    }


def main(argv=None):
    args = parse_args(argv)
    print(f"reversal_attention: max_length={args.max_length} "
          f"num_symbols={args.num_symbols} cell={args.cell} "
          f"units={args.units} embedding_dim={args.embedding_dim} "
          f"epochs={args.epochs} train_size={args.train_size} "
          f"test_size={args.test_size} per length, lengths "
          f"{test_lengths(args)}, batch_size={args.batch_size} "
          f"learning_rate={args.learning_rate:g} seeds={args.seeds} "
          f"out={args.out}", flush=True)
    start = time.perf_counter()
    runs = run(args)
    print(f"\nGreedy decoding of {args.test_size} unseen-seed sequences per "
          f"length; trained on lengths 1..{args.max_length}, "
          f"{args.num_symbols} symbols, Seq2Seq {args.cell} {args.units} "
          f"units, {args.train_size} sequences x {args.epochs} epochs "
          "(seen = fraction of test sequences also in the training set):\n")
    print(format_table(runs, args.test_size))
    print()
    print(format_summary(runs))
    stem = figure_stem(args)
    out = pathlib.Path(args.out)
    title = (f"reversal, trained on lengths 1..{args.max_length}: "
             f"{args.cell} {args.units} units, {args.train_size} x "
             f"{args.epochs} epochs")
    path = plot(runs, out / f"{stem}.png", title)
    print(f"\naccuracy vs length: {path}")

    # The attention model's alignment of one longest test sequence: it
    # should be the anti-diagonal.
    from keras_seqmem import training

    with_attention = [r for r in runs if r["label"] == "with"]
    if with_attention:
        first = with_attention[0]
        source, _ = test_set(args, first["seed"], args.max_length)
        path, source_text, output_text = training.write_alignment_plot(
            first["model"], "reversal", source[0],
            str(out / f"{stem}_alignment.png"), **task_params(args))
        ok = "right" if output_text == source_text[::-1] else "WRONG"
        which = f" (seed {first['seed']})" if len(args.seeds) > 1 else ""
        alignment = (f"{source_text!r} -> {output_text!r} ({ok}): {path}")
        print(f"alignment{which}: {alignment}")
    else:
        alignment = None
    seconds = time.perf_counter() - start
    print(f"\ntotal {seconds:.0f} s", flush=True)
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
    import _results

    record = {"provenance": _results.provenance("reversal_attention.py",
                                                args.seeds),
              **results_record(args, runs), "alignment": alignment,
              "total_seconds": seconds}
    if args.quick and not args.results:  # a smoke run's figures mean nothing
        return 0
    path = args.results or _results.default_path("reversal_attention", stem)
    print(f"results: {_results.write(path, record)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
