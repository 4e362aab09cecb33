"""Which recurrent layers can remember across a long sequence?

Trains several recurrent layers on the same generated data -- the adding
problem (default) or balanced brackets -- and prints their test metric side
by side with the chance baseline, then saves a plot of the validation metric
after every epoch.

    python examples/long_memory.py                       # adding, length 200
    python examples/long_memory.py --task brackets
    python examples/long_memory.py --models simple_rnn leaky_rnn --seeds 0 1
    python examples/long_memory.py --quick               # smoke run, seconds

Every model sees exactly the same training, validation and test sequences for
a given seed (`keras_seqmem.training.train_on_task`); with several seeds,
every (model, seed) run is printed -- none is dropped. See
`examples/README.md` for the results of the default run.
"""

import argparse
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIGURES = ROOT / "docs" / "pages" / "figures"

DEFAULT_MODELS = ["simple_rnn", "leaky_rnn", "peephole_lstm", "coupled_lstm",
                  "lstm"]

# Layer arguments per model; every other model uses its layer's defaults
# (SimpleRNN: tanh). LeakyRNN: ReLU units whose time constants start spread
# geometrically from 1 (an ordinary simple-RNN unit) to 100 (a memory of
# about 100 steps) and are learned (`trainable_gamma`). With the default tanh
# the LeakyRNN stayed at the baseline like the SimpleRNN (and a ReLU
# SimpleRNN, i.e. all gammas 1, failed too): see examples/README.md for
# everything that was tried.
LEAKY_GAMMA_RANGE = (1.0, 100.0)
LEAKY_ACTIVATION = "relu"


def layer_kwargs_for(kind, gamma_range=LEAKY_GAMMA_RANGE,
                     activation=LEAKY_ACTIVATION):
    if kind == "leaky_rnn":
        return {"gamma_range": tuple(gamma_range), "trainable_gamma": True,
                "activation": activation}
    return {}


# Per-task defaults of the length and the epochs, where --length/--epochs
# are not given.
TASK_DEFAULTS = {
    "adding": {"length": 200, "epochs": 40},
    "brackets": {"length": 100, "epochs": 10},
}

QUICK = {"length": 10, "epochs": 1, "units": 8, "train_size": 256,
         "test_size": 64}


def parse_args(argv=None):
    from keras_seqmem.training import RECURRENT_LAYERS

    parser = argparse.ArgumentParser(
        description="Train recurrent layers on a long-memory task and print "
        "their test metrics side by side.",
    )
    parser.add_argument("--task", choices=["adding", "brackets"],
                        default="adding")
    parser.add_argument("--length", type=int, default=None,
                        help="sequence length (default: "
                        + ", ".join(f"{t} {d['length']}"
                                    for t, d in TASK_DEFAULTS.items()) + ")")
    parser.add_argument("--epochs", type=int, default=None,
                        help="training epochs (default: "
                        + ", ".join(f"{t} {d['epochs']}"
                                    for t, d in TASK_DEFAULTS.items()) + ")")
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--train-size", type=int, default=10000)
    parser.add_argument("--test-size", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=3e-3,
                        help="Adam learning rate, all models (default 3e-3)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0],
                        help="one run per model and seed (default: 0)")
    parser.add_argument("--models", nargs="+", default=DEFAULT_MODELS,
                        choices=sorted(RECURRENT_LAYERS), metavar="MODEL",
                        help="models to compare, among "
                        f"{', '.join(sorted(RECURRENT_LAYERS))} (default: "
                        f"{' '.join(DEFAULT_MODELS)})")
    parser.add_argument("--gamma-range", type=float, nargs=2,
                        default=list(LEAKY_GAMMA_RANGE), metavar=("LO", "HI"),
                        help="initial time constants of leaky_rnn (default: "
                        f"{LEAKY_GAMMA_RANGE[0]:g} {LEAKY_GAMMA_RANGE[1]:g})")
    parser.add_argument("--leaky-activation", default=LEAKY_ACTIVATION,
                        help="activation of leaky_rnn (default "
                        f"{LEAKY_ACTIVATION})")
    parser.add_argument("--plot", default=None, metavar="PATH",
                        help="learning-curve PNG (default: docs/pages/figures/"
                        "long_memory_<task>_<length>.png)")
    parser.add_argument("--no-jit", action="store_true",
                        help="do not compile with XLA")
    parser.add_argument("--quick", action="store_true",
                        help="tiny smoke run: length 10, 8 units, 256 "
                        "sequences, 1 epoch, no XLA (results mean nothing)")
    args = parser.parse_args(argv)

    given = {key: getattr(args, key) for key in QUICK}
    if args.quick:
        args.no_jit = True  # XLA compilation would be most of a smoke run
        # --quick sets the sizes, except where given explicitly.
        for key, value in QUICK.items():
            if key in ("units", "train_size", "test_size"):
                if given[key] == parser.get_default(key):
                    setattr(args, key, value)
            elif given[key] is None:
                setattr(args, key, value)
    for key, value in TASK_DEFAULTS[args.task].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.plot is None:
        args.plot = str(FIGURES / f"long_memory_{args.task}_{args.length}.png")
    return args


def run(args):
    """Trains every (seed, model); returns the list of TrainResults."""
    import tensorflow as tf

    from keras_seqmem import training

    # One fresh model per run: TensorFlow's "retracing" warnings are expected.
    tf.get_logger().setLevel("ERROR")
    results = []
    runs = [(seed, kind) for seed in args.seeds for kind in args.models]
    for i, (seed, kind) in enumerate(runs, 1):
        kwargs = layer_kwargs_for(kind, args.gamma_range,
                                  args.leaky_activation)
        extra = f" {kwargs}" if kwargs else ""
        print(f"\n=== [{i}/{len(runs)}] {kind}{extra}, seed {seed}: "
              f"{args.task} length {args.length}, {args.units} units, "
              f"{args.train_size} sequences, {args.epochs} epochs ===",
              flush=True)
        result = training.train_on_task(
            args.task, kind, units=args.units, train_size=args.train_size,
            test_size=args.test_size, batch_size=args.batch_size,
            epochs=args.epochs, learning_rate=args.learning_rate, seed=seed,
            jit_compile=not args.no_jit, verbose=2, layer_kwargs=kwargs,
            length=args.length,
        )
        result.seed = seed
        result.params = result.model.count_params()
        print(f"--> {kind} seed {seed}: test {result.metric_name} "
              f"{result.test_metric:.4f} (baseline {result.baseline:.4f}), "
              f"{result.seconds:.0f} s", flush=True)
        results.append(result)
    return results


def format_table(results):
    """The side-by-side table, as a string (GitHub-flavoured markdown)."""
    metric = results[0].metric_name
    better = "lower" if metric == "mse" else "higher"
    header = ["model", "seed", "params", f"test {metric}", "baseline",
              "solved", "train s"]
    rows = []
    for r in results:
        rows.append([r.kind, str(r.seed), f"{r.params:,}",
                     f"{r.test_metric:.4f}", f"{r.baseline:.4f}",
                     "yes" if r.solved else "no", f"{r.seconds:.0f}"])
    widths = [max(len(h), *(len(row[j]) for row in rows))
              for j, h in enumerate(header)]

    def line(cells):
        return "| " + " | ".join(
            c.ljust(w) if j == 0 else c.rjust(w)
            for j, (c, w) in enumerate(zip(cells, widths))) + " |"

    rule = "|" + "|".join(
        "-" * (w + 1) + (":" if j else "-") for j, w in enumerate(widths)
    ) + "|"
    from keras_seqmem.training import SOLVED_ACCURACY, SOLVED_MSE
    threshold = (f"mse < {SOLVED_MSE:g}" if metric == "mse"
                 else f"accuracy >= {SOLVED_ACCURACY:g}")
    return "\n".join(
        [line(header), rule] + [line(row) for row in rows]
        + [f"({better} is better; solved = test {threshold}; baseline = "
           "best constant prediction)"]
    )


def plot(results, path, title):
    """Validation metric after every epoch, one line per (model, seed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from keras_seqmem.training import SOLVED_ACCURACY, SOLVED_MSE

    metric = results[0].metric_name
    kinds = list(dict.fromkeys(r.kind for r in results))
    colors = {k: f"C{i}" for i, k in enumerate(kinds)}
    seeds = list(dict.fromkeys(r.seed for r in results))
    styles = ["-", "--", ":", "-."]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for r in results:
        values = r.history[f"val_{metric}"]
        label = r.kind if len(seeds) == 1 else f"{r.kind} (seed {r.seed})"
        ax.plot(range(1, len(values) + 1), values, marker="o", markersize=3,
                color=colors[r.kind],
                linestyle=styles[seeds.index(r.seed) % len(styles)],
                label=label)
    ax.axhline(results[0].baseline, color="gray", linestyle="--", linewidth=1,
               label="chance baseline")
    solved = SOLVED_MSE if metric == "mse" else SOLVED_ACCURACY
    ax.axhline(solved, color="black", linestyle=":", linewidth=1,
               label="solved")
    if metric == "mse":
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"validation {metric}")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv=None):
    args = parse_args(argv)
    print(f"long_memory: task={args.task} length={args.length} "
          f"epochs={args.epochs} units={args.units} "
          f"train_size={args.train_size} test_size={args.test_size} "
          f"batch_size={args.batch_size} learning_rate={args.learning_rate:g} "
          f"seeds={args.seeds} models={args.models}", flush=True)
    results = run(args)
    title = (f"{args.task}, length {args.length}: {args.units} units, "
             f"{args.train_size} training sequences, "
             f"lr {args.learning_rate:g}")
    print(f"\nTest {results[0].metric_name} on {args.test_size} unseen "
          f"sequences, {args.task} length {args.length}, {args.epochs} "
          "epochs:\n")
    print(format_table(results))
    path = plot(results, args.plot, title)
    print(f"\nlearning curves: {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
