"""Date normalisation with an attention-based encoder-decoder.

Trains a `Seq2Seq` (RNNsearch: bidirectional encoder, Bahdanau attention by
default; `--attention` luong / bahdanau_monotonic / luong_monotonic,
`--attention-order luong` for tfa AttentionWrapper's order) to rewrite human-written dates -- `3 May 1979`, `Thursday, May 3, 1979`,
`05/03/79`, ... (16 formats, `keras_seqmem.tasks.dates`) -- as ISO
`1979-05-03`, then measures the exact match (the whole date right) on held-out
generated dates with greedy and beam-search decoding, per format too, and
saves the attention heatmaps of a few examples.

    python examples/dates.py                  # the default run, a few minutes
    python examples/dates.py --seed 1         # another training/test draw
    python examples/dates.py --quick          # smoke run, seconds
    python examples/dates.py --attention luong --attention-order luong

Training (`keras_seqmem.training.train_on_task`) uses the dates of seed
`--seed`; the validation and test dates come from other seeds
(`seed + 10000`, `seed + 20000`). A different seed is not a disjoint set:
the script measures and prints how many test strings also occur in the
training set, and the accuracy on the others. See `examples/README.md` for
the results of the default run.
"""

import argparse
import datetime
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "examples" / "output"

# Examples whose alignments are plotted: (format name, date). Three formats
# that put day, month and year in different places and spell them
# differently. 3 May 1979 is a Thursday.
ALIGNMENT_EXAMPLES = [
    ("d_month_yyyy", datetime.date(1979, 5, 3)),
    ("weekday_month_d_yyyy", datetime.date(1979, 5, 3)),
    ("mm_dd_yy_slash", datetime.date(1979, 5, 3)),
]

QUICK = {"epochs": 1, "units": 16, "train_size": 512, "test_size": 256}


def parse_args(argv=None):
    from keras_seqmem.attention.seq2seq import ATTENTION_ORDERS
    from keras_seqmem.attention.seq2seq import ATTENTIONS
    from keras_seqmem.attention.seq2seq import CELLS

    parser = argparse.ArgumentParser(
        description="Train a Seq2Seq with attention on date normalisation "
        "and print its held-out exact match (greedy and beam search).",
    )
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--train-size", type=int, default=20000)
    parser.add_argument("--test-size", type=int, default=5000,
                        help="held-out dates (default 5000)")
    parser.add_argument("--units", type=int, default=64,
                        help="units of the decoder and of each encoder "
                        "direction (default 64)")
    parser.add_argument("--embedding-dim", type=int, default=16)
    parser.add_argument("--cell", default="lstm", choices=sorted(CELLS),
                        help="encoder and decoder cell (default lstm)")
    parser.add_argument("--attention", default="bahdanau",
                        choices=sorted(ATTENTIONS),
                        help="attention mechanism (default bahdanau)")
    parser.add_argument("--attention-order", default="bahdanau",
                        choices=ATTENTION_ORDERS,
                        help="attend before the decoder cell (bahdanau, "
                        "RNNsearch) or after it on its output (luong, tfa's "
                        "AttentionWrapper) (default bahdanau)")
    parser.add_argument("--attention-layer-size", type=int, default=None,
                        metavar="N",
                        help="Luong order: project [h_t; c_t] to N units "
                        "(tfa's attention_layer_size, W_a without bias); "
                        "default none: the attentional vector is c_t")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=3e-3,
                        help="Adam learning rate (default 3e-3)")
    parser.add_argument("--beam-width", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(DEFAULT_OUT),
                        help="folder of the PNGs (default examples/output)")
    parser.add_argument("--no-jit", action="store_true",
                        help="do not compile training with XLA")
    parser.add_argument("--results", default=None, metavar="PATH",
                        help="JSON file of every figure printed, with the "
                        "command, versions, seed and date (default "
                        "examples/results/dates_<date>/seed<seed>.json, "
                        "<attention>_<order>_order_seed<seed>.json for other "
                        "attention than bahdanau in bahdanau order; "
                        "with --quick: none)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny smoke run: 16 units, 512 dates, 1 epoch, "
                        "256 test dates, no XLA training (results mean "
                        "nothing)")
    args = parser.parse_args(argv)
    if args.quick:
        args.no_jit = True
        for key, value in QUICK.items():
            if getattr(args, key) == parser.get_default(key):
                setattr(args, key, value)
    return args


def _rows(array):
    """One hashable bytes object per row."""
    import numpy as np

    array = np.ascontiguousarray(array)
    return [row.tobytes() for row in array]


def formats_of(source, target):
    """The format of every (source, target) row: the first of
    `dates.FORMATS` that writes the target date as the source string.

    The task does not return the format it drew; a few strings are written
    the same by two formats (`3 May 1979`: `d_month_yyyy` and `d_mon_yyyy`),
    and count for the first.
    """
    from keras_seqmem.tasks import dates as dates_task
    from keras_seqmem.tasks import decode

    strings = decode(source, dates_task.SOURCE_VOCABULARY)
    isos = decode(target, dates_task.TARGET_VOCABULARY)
    names = []
    for string, iso in zip(strings, isos):
        date = datetime.date.fromisoformat(iso)
        for name in dates_task.FORMATS:
            try:
                if dates_task.format_date(date, name) == string:
                    names.append(name)
                    break
            except ValueError:  # two-digit year outside its window
                continue
        else:
            raise AssertionError(f"no format writes {iso} as {string!r}")
    return names


def _match(predicted, target):
    """Per-row exact match (the rows of `tasks.exact_match`)."""
    import numpy as np

    from keras_seqmem.tasks import END_ID

    width = target.shape[1]
    predicted = predicted[:, :width]
    if predicted.shape[1] < width:
        predicted = np.pad(predicted, ((0, 0), (0, width - predicted.shape[1])))
    ends = np.argmax(target == END_ID, axis=1)
    inside = np.arange(width)[None, :] <= ends[:, None]
    return np.all((predicted == target) | ~inside, axis=1)


def run(args):
    """Trains and evaluates; returns a dict of everything measured."""
    import numpy as np
    import tensorflow as tf

    from keras_seqmem import tasks
    from keras_seqmem import training

    tf.get_logger().setLevel("ERROR")
    spec = tasks.get_task("dates")
    print(f"\n=== Seq2Seq ({args.cell}, {args.units} units, {args.attention} "
          f"attention, {args.attention_order} order): "
          f"{args.train_size} dates, {args.epochs} epochs ===", flush=True)
    start = time.perf_counter()
    result = training.train_on_task(
        "dates", args.cell, units=args.units, train_size=args.train_size,
        test_size=args.test_size, batch_size=args.batch_size,
        epochs=args.epochs, learning_rate=args.learning_rate, seed=args.seed,
        jit_compile=not args.no_jit, verbose=2,
        embedding_dim=args.embedding_dim,
        model_kwargs={"attention": args.attention,
                      "attention_order": args.attention_order,
                      **({"attention_layer_size": args.attention_layer_size}
                         if args.attention_layer_size else {})},
    )
    model = result.model
    train_seconds = result.seconds

    # The same sets train_on_task generated (training: `seed`, test:
    # `seed + 20000`).
    train_source, _ = spec.generate(args.train_size, seed=args.seed)
    source, target = spec.generate(args.test_size, seed=args.seed + 20_000)
    seen = set(_rows(train_source))
    overlap = np.array([row in seen for row in _rows(source)])

    decoded = {}
    for method in ("greedy", "beam"):
        t0 = time.perf_counter()
        predicted = training.predict_sequences(
            model, source, method=method, beam_width=args.beam_width)
        decoded[method] = (_match(predicted, target), predicted,
                           time.perf_counter() - t0)
    greedy = decoded["greedy"][0].mean()
    # train_on_task decoded the same test set greedily itself.
    assert abs(greedy - result.test_metric) < 1e-9, (greedy,
                                                     result.test_metric)
    for method in decoded:
        rows = decoded[method][0]
        assert abs(rows.mean() - tasks.exact_match(decoded[method][1],
                                                   target)) < 1e-9

    formats = np.array(formats_of(source, target))
    return {
        "model": model, "params": model.count_params(),
        "train_seconds": train_seconds, "history": result.history,
        "source": source, "target": target, "overlap": overlap,
        "decoded": decoded, "formats": formats,
        "seconds": time.perf_counter() - start, "train_source_rows": seen,
        "start": start,
    }


def _table(header, rows, left=1):
    """A GitHub-flavoured markdown table; the first `left` columns are
    left-aligned, the others right-aligned."""
    widths = [max(len(h), *(len(row[j]) for row in rows))
              for j, h in enumerate(header)]

    def line(cells):
        return "| " + " | ".join(
            c.ljust(w) if j < left else c.rjust(w)
            for j, (c, w) in enumerate(zip(cells, widths))) + " |"

    rule = "|" + "|".join(
        "-" * (w + 1) + ("-" if j < left else ":")
        for j, w in enumerate(widths)) + "|"
    return "\n".join([line(header), rule] + [line(r) for r in rows])


def format_table(measured, beam_width):
    """The headline table: exact match per decoding method."""
    overlap = measured["overlap"]
    n = len(overlap)
    unseen = ~overlap
    rows = []
    for method, label in (("greedy", "greedy"),
                          ("beam", f"beam-{beam_width}")):
        right, _, seconds = measured["decoded"][method]
        rows.append([
            label, f"{right.mean():.4f}", f"{int(right.sum())} / {n}",
            f"{right[unseen].mean():.4f}" if unseen.any() else "-",
            f"{seconds:.1f}",
        ])
    return _table(["decoding", "exact match", "right", "unseen strings",
                   "decode s"], rows)


def format_per_format_table(measured, beam_width):
    """Exact match per date format (greedy and beam)."""
    from keras_seqmem.tasks import dates as dates_task

    formats = measured["formats"]
    greedy = measured["decoded"]["greedy"][0]
    beam = measured["decoded"]["beam"][0]
    rows = []
    for name in dates_task.FORMATS:
        pick = formats == name
        if not pick.any():
            continue
        rows.append([name, str(int(pick.sum())), f"{greedy[pick].mean():.4f}",
                     f"{beam[pick].mean():.4f}"])
    return _table(["format", "n", "greedy", f"beam-{beam_width}"], rows)


def format_errors(measured, limit=10):
    """The first `limit` test dates decoded wrong (greedy), as text."""
    import numpy as np

    from keras_seqmem.tasks import dates as dates_task
    from keras_seqmem.tasks import decode

    right, predicted, _ = measured["decoded"]["greedy"]
    wrong = np.flatnonzero(~right)
    lines = []
    for i in (wrong if limit is None else wrong[:limit]):
        source = decode(measured["source"][i], dates_task.SOURCE_VOCABULARY)
        truth = decode(measured["target"][i], dates_task.TARGET_VOCABULARY)
        output = decode(predicted[i], dates_task.TARGET_VOCABULARY)
        lines.append(f"  {source!r:32} -> {output!r} (expected {truth!r}, "
                     f"{measured['formats'][i]})")
    if limit is not None and len(wrong) > limit:
        lines.append(f"  ... and {len(wrong) - limit} more")
    return "\n".join(lines) if lines else "  (none)"


def results_record(args, measured, alignments):
    """Every figure the run prints, for the results file."""
    from keras_seqmem.tasks import dates as dates_task

    overlap = measured["overlap"]
    unseen = ~overlap
    decoding = {}
    for method in ("greedy", "beam"):
        right, _, seconds = measured["decoded"][method]
        decoding[method] = {
            "exact_match": float(right.mean()), "right": int(right.sum()),
            "n": int(len(right)),
            "exact_match_unseen": (float(right[unseen].mean())
                                   if unseen.any() else None),
            "decode_seconds": float(seconds)}
    formats = measured["formats"]
    per_format = {}
    for name in dates_task.FORMATS:
        pick = formats == name
        if pick.any():
            per_format[name] = {
                "n": int(pick.sum()),
                "greedy": float(measured["decoded"]["greedy"][0][pick].mean()),
                "beam": float(measured["decoded"]["beam"][0][pick].mean())}
    history = {k: [float(v) for v in values]
               for k, values in measured["history"].items()}
    return {
        "settings": {k: v for k, v in vars(args).items()},
        "test_seed": args.seed + 20_000,
        "test_size": int(len(overlap)),
        "test_in_training": int(overlap.sum()),
        "test_in_training_fraction": float(overlap.mean()),
        "test_unseen": int(unseen.sum()),
        "test_unseen_fraction": float(unseen.mean()),
        "params": int(measured["params"]),
        "train_seconds": float(measured["train_seconds"]),
        "decoding": decoding, "per_format": per_format,
        "greedy_errors": format_errors(measured, limit=None).splitlines(),
        "alignments": alignments, "history": history,
        "total_seconds": float(measured["seconds"]),
    }


def write_alignments(model, out, train_rows):
    """The attention heatmaps of `ALIGNMENT_EXAMPLES`; returns the lines to
    print."""
    from keras_seqmem import tasks
    from keras_seqmem import training
    from keras_seqmem.tasks import dates as dates_task

    width = tasks.get_task("dates").input_shape()[0]
    lines = []
    for name, date in ALIGNMENT_EXAMPLES:
        text = dates_task.format_date(date, name)
        ids = tasks.encode(text, dates_task.SOURCE_VOCABULARY, length=width)
        path = pathlib.Path(out) / f"dates_alignment_{name}.png"
        _, source_text, output_text = training.write_alignment_plot(
            model, "dates", ids, str(path))
        ok = "right" if output_text == date.isoformat() else "WRONG"
        in_training = ("in" if ids.tobytes() in train_rows
                       else "not in")
        lines.append(f"  {source_text!r} -> {output_text!r} ({ok}; "
                     f"{in_training} the training set): {path}")
    return lines


def main(argv=None):
    args = parse_args(argv)
    print(f"dates: cell={args.cell} units={args.units} "
          f"attention={args.attention} "
          f"attention_order={args.attention_order} "
          f"attention_layer_size={args.attention_layer_size} "
          f"embedding_dim={args.embedding_dim} epochs={args.epochs} "
          f"train_size={args.train_size} test_size={args.test_size} "
          f"batch_size={args.batch_size} learning_rate={args.learning_rate:g} "
          f"beam_width={args.beam_width} seed={args.seed} out={args.out}",
          flush=True)
    measured = run(args)
    overlap = measured["overlap"]
    print(f"\nExact match on {len(overlap)} held-out dates (seed "
          f"{args.seed + 20_000}; {overlap.sum()} of them, "
          f"{overlap.mean():.2%}, also occur in the {args.train_size} "
          f"training dates; 'unseen strings' = the other "
          f"{(~overlap).sum()}), Seq2Seq {args.cell} {args.units} units, "
          f"{args.attention} attention ({args.attention_order} order), "
          f"{measured['params']:,} parameters, {args.epochs} epochs "
          f"({measured['train_seconds']:.0f} s training):\n")
    print(format_table(measured, args.beam_width))
    print("\nPer format (the first format that writes the string):\n")
    print(format_per_format_table(measured, args.beam_width))
    print("\nGreedy errors:")
    print(format_errors(measured))
    print("\nAlignments:")
    alignments = write_alignments(measured["model"], args.out,
                                  measured["train_source_rows"])
    for line in alignments:
        print(line)
    measured["seconds"] = time.perf_counter() - measured["start"]
    print(f"\ntotal {measured['seconds']:.0f} s", flush=True)
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
    import _results

    record = {"provenance": _results.provenance("dates.py", [args.seed]),
              **results_record(args, measured, alignments)}
    if args.quick and not args.results:  # a smoke run's figures mean nothing
        return 0
    suffix = f"seed{args.seed}"
    if args.attention_layer_size:
        suffix = f"layer{args.attention_layer_size}_{suffix}"
    if (args.attention, args.attention_order) != ("bahdanau", "bahdanau"):
        suffix = f"{args.attention}_{args.attention_order}_order_{suffix}"
    path = args.results or _results.default_path("dates", suffix)
    print(f"results: {_results.write(path, record)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
