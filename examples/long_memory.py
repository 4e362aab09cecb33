"""Which recurrent layers can remember across a long sequence?

Trains several recurrent layers on the same generated data -- the adding
problem (default) or balanced brackets -- writes a results file (command,
versions, seeds, date, machine; per model and seed: parameters, validation
curve, best and final validation metric, test metric, seconds), prints their
test metric side by side with the chance baseline from that file, then saves
a plot of the validation metric after every epoch.

    python examples/long_memory.py                       # adding, length 200
    python examples/long_memory.py --select              # choose the recipe
    python examples/long_memory.py --task brackets
    python examples/long_memory.py --models simple_rnn leaky_rnn --seeds 0 1
    python examples/long_memory.py --replot FILE.json    # table + plot again
    python examples/long_memory.py --quick               # smoke run, seconds

The recipe (the shared learning rate, the LeakyRNN's activation) is chosen
by `--select` on the VALIDATION split only: it trains every candidate and
never generates, let alone evaluates, the test sequences. The script's
defaults are its choice (examples/results/long_memory_2026-12-02/
selection_adding_200.json).

Every model sees exactly the same training, validation and test sequences for
a given seed (`keras_seqmem.training.train_on_task`); with several seeds,
every (model, seed) run is printed -- none is dropped. See
`examples/README.md` for the results of the default run.
"""

import argparse
import datetime
import json
import math
import os
import pathlib
import platform
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIGURES = ROOT / "docs" / "pages" / "figures"
RESULTS = ROOT / "examples" / "results"

DEFAULT_MODELS = ["simple_rnn", "leaky_rnn", "peephole_lstm", "coupled_lstm",
                  "lstm"]

# The recipe, as chosen by `--select` on validation MSE (see SELECTION_*
# below and examples/results/long_memory_2026-12-02/
# selection_adding_200.json): the learning rate shared by all models and the
# LeakyRNN's activation. Every other model uses its layer's defaults
# (SimpleRNN: tanh). LeakyRNN: time constants that start spread
# geometrically from 1 (an ordinary simple-RNN unit) to 100 (a memory of
# about 100 steps) and are learned (`trainable_gamma`); the range was not
# part of the selection (see examples/README.md).
DEFAULT_LEARNING_RATE = 3e-3
LEAKY_GAMMA_RANGE = (1.0, 100.0)
LEAKY_ACTIVATION = "relu"

# The selection grid (`--select`): every combination of these, each model
# trained on the training split and scored on the validation split. The
# choice is the candidate with the most models below the solved threshold in
# BEST validation metric (the best epoch of the run, not the last), ties
# broken by the geometric mean of the models' best validation MSE (the mean
# best validation accuracy on a classification task). The test split is
# never generated in this mode.
SELECTION_LEARNING_RATES = (1e-3, 3e-3)
SELECTION_ACTIVATIONS = ("tanh", "relu")
# Fewer epochs than the default run (40) to keep the grid within ~20 min on
# 2 shared CPU cores. Every candidate gets the same number, so the
# comparison is fair; it favours recipes that learn early.
SELECTION_EPOCHS = 10


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


def default_results_dir(date=None):
    date = date or datetime.date.today().isoformat()
    return RESULTS / f"long_memory_{date}"


def parse_args(argv=None):
    from keras_seqmem.training import RECURRENT_LAYERS

    parser = argparse.ArgumentParser(
        description="Train recurrent layers on a long-memory task, write a "
        "results file and print their test metrics side by side; or, with "
        "--select, choose the recipe on validation data.",
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
    parser.add_argument("--units", type=int, default=64,
                        help="recurrent units (default 64)")
    parser.add_argument("--train-size", type=int, default=10000,
                        help="training sequences (default 10000)")
    parser.add_argument("--test-size", type=int, default=2000,
                        help="test sequences; validation gets a quarter "
                        "(default 2000)")
    parser.add_argument("--batch-size", type=int, default=64,
                        help="default 64")
    parser.add_argument("--learning-rate", type=float,
                        default=DEFAULT_LEARNING_RATE,
                        help="Adam learning rate, all models (default "
                        f"{DEFAULT_LEARNING_RATE:g}, chosen by --select)")
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
                        f"{LEAKY_ACTIVATION}, chosen by --select)")
    parser.add_argument("--results-dir", default=None, metavar="DIR",
                        help="where the results file goes (default: "
                        "examples/results/long_memory_<date>; with --quick "
                        "a temporary folder)")
    parser.add_argument("--select", action="store_true",
                        help="choose the learning rate and the LeakyRNN "
                        "activation on validation data (grid: learning "
                        "rates "
                        + " ".join(f"{lr:g}" for lr in
                                   SELECTION_LEARNING_RATES)
                        + ", activations "
                        + " ".join(SELECTION_ACTIVATIONS)
                        + "); never touches the test split")
    parser.add_argument("--select-epochs", type=int, default=None,
                        help="epochs of every candidate in --select "
                        f"(default {SELECTION_EPOCHS}; with --quick 1)")
    parser.add_argument("--replot", default=None, nargs="+",
                        metavar="RESULTS_JSON",
                        help="train nothing: print the tables of results "
                        "files written by this script and redraw the plot "
                        "(several files, e.g. of runs made in parallel "
                        "processes, are joined: same settings but for the "
                        "models, no (model, seed) twice)")
    parser.add_argument("--plot", default=None, metavar="PATH",
                        help="learning-curve PNG (default: docs/pages/figures/"
                        "long_memory_<task>_<length>.png, with --replot "
                        "those of the file)")
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
        if args.select_epochs is None:
            args.select_epochs = 1
    if args.select_epochs is None:
        args.select_epochs = SELECTION_EPOCHS
    if args.select and len(args.seeds) != 1:
        parser.error("--select runs one seed; give one with --seeds")
    if args.select_epochs < 1:
        parser.error(f"--select-epochs must be at least 1, got "
                     f"{args.select_epochs}")
    for key, value in TASK_DEFAULTS[args.task].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    for name in args.replot or ():
        if not pathlib.Path(name).is_file():
            parser.error(f"--replot: no file {name!r}; give a results "
                         "JSON written by examples/long_memory.py")
    args.plot_given = args.plot is not None
    if args.plot is None:
        args.plot = str(FIGURES / f"long_memory_{args.task}_{args.length}.png")
    if args.results_dir is None:
        args.results_dir = str(
            pathlib.Path(tempfile.gettempdir()) / "long_memory_quick"
            if args.quick else default_results_dir())
    return args


# --- results files --------------------------------------------------------


def provenance(seeds):
    """Command, versions, seeds, date and machine of this run."""
    import keras
    import numpy
    import tensorflow

    return {
        "command": " ".join(["python", "examples/long_memory.py"]
                            + sys.argv[1:]),
        "versions": {"python": platform.python_version(),
                     "keras": keras.__version__,
                     "tensorflow": tensorflow.__version__,
                     "numpy": numpy.__version__,
                     "keras_backend": keras.backend.backend()},
        "seeds": list(seeds),
        "date": datetime.date.today().isoformat(),
        "started": datetime.datetime.now().astimezone().isoformat(
            timespec="seconds"),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "threads_env": {k: os.environ[k] for k in (
            "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")
            if k in os.environ},
    }


def settings_of(args):
    keys = ("task", "length", "epochs", "units", "train_size", "test_size",
            "batch_size", "learning_rate", "seeds", "models", "gamma_range",
            "leaky_activation", "no_jit", "quick")
    out = {k: getattr(args, k) for k in keys}
    out["validation_size"] = max(args.test_size // 4, args.batch_size)
    return out


def solved_threshold(metric):
    from keras_seqmem.training import SOLVED_ACCURACY, SOLVED_MSE

    return SOLVED_MSE if metric == "mse" else SOLVED_ACCURACY


def is_better(metric):
    """`is_better(a, b)`: a beats b, for this metric."""
    if metric == "mse":
        return lambda a, b: a < b
    return lambda a, b: a > b


def validation_summary(curve, metric):
    """Best (and its epoch), final, and first epoch past the threshold."""
    better = is_better(metric)
    threshold = solved_threshold(metric)
    best_epoch = 1
    for epoch, value in enumerate(curve, 1):
        if better(value, curve[best_epoch - 1]):
            best_epoch = epoch
    if metric == "mse":
        first = next((e for e, v in enumerate(curve, 1) if v < threshold),
                     None)
    else:
        first = next((e for e, v in enumerate(curve, 1) if v >= threshold),
                     None)
    return {f"best_val_{metric}": curve[best_epoch - 1],
            "best_epoch": best_epoch,
            f"final_val_{metric}": curve[-1],
            f"first_epoch_val_{'below' if metric == 'mse' else 'at'}_"
            f"{threshold:g}": first}


def write_json(path, payload):
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=1) + "\n")
    tmp.replace(path)
    return path


def results_path(args):
    seeds = "-".join(str(s) for s in args.seeds)
    models = ("" if args.models == DEFAULT_MODELS
              else "_" + "-".join(args.models))
    return (pathlib.Path(args.results_dir)
            / f"{args.task}_{args.length}_seed{seeds}{models}.json")


def selection_path(args):
    return (pathlib.Path(args.results_dir)
            / f"selection_{args.task}_{args.length}.json")


# --- the default run: train, test, write, print ---------------------------


def run(args, path=None):
    """Trains every (seed, model); returns the results payload.

    The payload is written to `path` after every run (`"complete": false`
    until the last one), so a long run that stops leaves what it measured.
    """
    import tensorflow as tf

    from keras_seqmem import training

    # One fresh model per run: TensorFlow's "retracing" warnings are expected.
    tf.get_logger().setLevel("ERROR")
    payload = {"kind": "long_memory results", **provenance(args.seeds),
               "settings": settings_of(args), "complete": False, "runs": []}
    start = time.perf_counter()
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
        metric = result.metric_name
        curve = [float(v) for v in result.history[f"val_{metric}"]]
        record = {
            "model": kind, "seed": seed, "layer_kwargs": kwargs,
            "params": int(result.model.count_params()),
            **validation_summary(curve, metric),
            f"test_{metric}": result.test_metric,
            "baseline": result.baseline, "solved": bool(result.solved),
            "train_seconds": round(result.seconds, 1),
            f"val_{metric}_per_epoch": curve,
            "loss_per_epoch": [float(v) for v in result.history["loss"]],
        }
        payload["metric"] = metric
        payload["baseline"] = result.baseline
        payload["runs"].append(record)
        payload["wall_seconds"] = round(time.perf_counter() - start, 1)
        if path is not None:
            write_json(path, payload)
        print(f"--> {kind} seed {seed}: test {metric} "
              f"{result.test_metric:.4f} (baseline {result.baseline:.4f}), "
              f"{result.seconds:.0f} s", flush=True)
    payload["complete"] = True
    payload["finished"] = datetime.datetime.now().astimezone().isoformat(
        timespec="seconds")
    if path is not None:
        write_json(path, payload)
    return payload


def _markdown(header, rows):
    widths = [max(len(h), *(len(row[j]) for row in rows))
              for j, h in enumerate(header)]

    def line(cells):
        return "| " + " | ".join(
            c.ljust(w) if j == 0 else c.rjust(w)
            for j, (c, w) in enumerate(zip(cells, widths))) + " |"

    rule = "|" + "|".join(
        "-" * (w + 1) + (":" if j else "-") for j, w in enumerate(widths)
    ) + "|"
    return [line(header), rule] + [line(row) for row in rows]


def format_table(payload):
    """The side-by-side test table of a results payload (markdown)."""
    metric = payload["metric"]
    better = "lower" if metric == "mse" else "higher"
    header = ["model", "seed", "params", f"test {metric}", "baseline",
              "solved", "train s"]
    rows = [[r["model"], str(r["seed"]), f"{r['params']:,}",
             f"{r[f'test_{metric}']:.4f}", f"{r['baseline']:.4f}",
             "yes" if r["solved"] else "no", f"{r['train_seconds']:.0f}"]
            for r in payload["runs"]]
    threshold = solved_threshold(metric)
    threshold = (f"mse < {threshold:g}" if metric == "mse"
                 else f"accuracy >= {threshold:g}")
    return "\n".join(
        _markdown(header, rows)
        + [f"({better} is better; solved = test {threshold}; baseline = "
           "best constant prediction)"])


def format_validation_table(payload):
    """Best/final validation metric and the first epoch past the threshold."""
    metric = payload["metric"]
    threshold = solved_threshold(metric)
    first_key = (f"first_epoch_val_{'below' if metric == 'mse' else 'at'}_"
                 f"{threshold:g}")
    header = ["model", "seed", f"best val {metric}", "at epoch",
              f"final val {metric}",
              f"first epoch {'<' if metric == 'mse' else '>='} {threshold:g}"]
    rows = [[r["model"], str(r["seed"]), f"{r[f'best_val_{metric}']:.4f}",
             str(r["best_epoch"]), f"{r[f'final_val_{metric}']:.4f}",
             "-" if r[first_key] is None else str(r[first_key])]
            for r in payload["runs"]]
    return "\n".join(_markdown(header, rows))


def plot(payload, path, title):
    """Validation metric after every epoch, one line per (model, seed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metric = payload["metric"]
    runs = payload["runs"]
    kinds = list(dict.fromkeys(r["model"] for r in runs))
    colors = {k: f"C{i}" for i, k in enumerate(kinds)}
    seeds = list(dict.fromkeys(r["seed"] for r in runs))
    styles = ["-", "--", ":", "-."]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for r in runs:
        values = r[f"val_{metric}_per_epoch"]
        label = (r["model"] if len(seeds) == 1
                 else f"{r['model']} (seed {r['seed']})")
        ax.plot(range(1, len(values) + 1), values, marker="o", markersize=3,
                color=colors[r["model"]],
                linestyle=styles[seeds.index(r["seed"]) % len(styles)],
                label=label)
    ax.axhline(payload["baseline"], color="gray", linestyle="--",
               linewidth=1, label="chance baseline")
    ax.axhline(solved_threshold(metric), color="black", linestyle=":",
               linewidth=1, label="solved")
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


def title_of(settings):
    return (f"{settings['task']}, length {settings['length']}: "
            f"{settings['units']} units, {settings['train_size']} training "
            f"sequences, lr {settings['learning_rate']:g}")


def join_results(paths):
    """One payload from results files of the same settings (models aside).

    Raises ValueError naming the file that is not a results file of this
    script, whose settings differ, or that repeats a (model, seed).
    """
    payloads = []
    for path in paths:
        payload = json.loads(pathlib.Path(path).read_text())
        if payload.get("kind") != "long_memory results":
            raise ValueError(f"{path} is not a results file of "
                             "examples/long_memory.py (no test table)")
        payloads.append(payload)
    first = payloads[0]
    ignore = ("models", "seeds")
    joined = dict(first, runs=[], sources=[])
    seen = set()
    for path, payload in zip(paths, payloads):
        differ = [k for k in first["settings"] if k not in ignore
                  and payload["settings"].get(k) != first["settings"][k]]
        if differ:
            raise ValueError(f"{path} differs from {paths[0]} in {differ}; "
                             "join only runs of the same settings")
        for r in payload["runs"]:
            if (r["model"], r["seed"]) in seen:
                raise ValueError(f"{path} repeats {r['model']} seed "
                                 f"{r['seed']}; give each run once")
            seen.add((r["model"], r["seed"]))
            joined["runs"].append(r)
        joined["sources"].append({
            "file": str(path), "command": payload["command"],
            "complete": payload["complete"],
            "runs": [f"{r['model']} seed {r['seed']}"
                     for r in payload["runs"]]})
    return joined


def report(payload, plot_path, source):
    """Prints the tables of a results payload and draws its plot."""
    s = payload["settings"]
    print(f"\nFrom {source}:\n")
    sources = payload.get("sources", [])
    for src in sources if len(sources) > 1 else ():
        print(f"  {src['file']}: {', '.join(src['runs'])}"
              + ("" if src["complete"] else
                 " (stopped before the rest of its runs)"))
    print(f"Test {payload['metric']} on {s['test_size']} unseen sequences, "
          f"{s['task']} length {s['length']}, {s['epochs']} epochs:\n")
    print(format_table(payload))
    print(f"\nValidation {payload['metric']} ({s['validation_size']} "
          "sequences), per run:\n")
    print(format_validation_table(payload))
    path = plot(payload, plot_path, title_of(s))
    print(f"\nlearning curves: {path}", flush=True)
    return path


# --- selection on validation data -----------------------------------------


def fit_on_validation(args, kind, seed, learning_rate, layer_kwargs, epochs):
    """Trains one candidate; returns its validation curve. No test data.

    The training and validation sequences and the initial weights are those
    of `training.train_on_task` for the same seed (same generators, seeds and
    sizes), but the test split is never generated.
    """
    import keras

    from keras_seqmem import tasks
    from keras_seqmem import training

    spec = tasks.get_task(args.task)
    keras.utils.set_random_seed(seed)
    train = tasks.make_dataset(spec, args.train_size,
                               batch_size=args.batch_size, seed=seed,
                               length=args.length)
    val = tasks.make_dataset(spec, max(args.test_size // 4, args.batch_size),
                             batch_size=args.batch_size, seed=seed + 10_000,
                             shuffle=False, length=args.length)
    model = training.build_task_model(spec, kind, args.units,
                                      layer_kwargs=layer_kwargs,
                                      length=args.length)
    training.compile_for_task(model, spec, learning_rate,
                              jit_compile=not args.no_jit)
    start = time.perf_counter()
    history = model.fit(train, validation_data=val, epochs=epochs, verbose=2,
                        shuffle=False)
    seconds = time.perf_counter() - start
    metric = spec.metric_name
    return {"metric": metric, "params": int(model.count_params()),
            "curve": [float(v) for v in history.history[f"val_{metric}"]],
            "seconds": round(seconds, 1)}


def score_candidate(runs, metric):
    """(models solved on validation, mean log10 best val MSE / -mean acc)."""
    threshold = solved_threshold(metric)
    best = [r[f"best_val_{metric}"] for r in runs]
    if metric == "mse":
        solved = sum(b < threshold for b in best)
        spread = sum(math.log10(max(b, 1e-12)) for b in best) / len(best)
    else:
        solved = sum(b >= threshold for b in best)
        spread = -sum(best) / len(best)
    return solved, spread


def select(args, path):
    """Runs the grid, chooses on validation, writes the selection file."""
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    seed = args.seeds[0]
    epochs = args.select_epochs
    candidates = [(lr, act) for lr in SELECTION_LEARNING_RATES
                  for act in SELECTION_ACTIVATIONS]
    rule = ("choose the candidate (learning rate, LeakyRNN activation) with "
            "the most models whose BEST validation metric over the epochs "
            "passes the solved threshold (mse < 0.01 / accuracy >= 0.95); "
            "ties: the lower geometric mean of the models' best validation "
            "MSE (higher mean best validation accuracy). Models other than "
            "leaky_rnn do not depend on the activation: they are trained "
            "once per learning rate and shared by both candidates.")
    payload = {
        "kind": "long_memory selection", **provenance([seed]),
        "settings": {**settings_of(args), "epochs": epochs},
        "grid": {"learning_rate": list(SELECTION_LEARNING_RATES),
                 "leaky_activation": list(SELECTION_ACTIVATIONS)},
        "fixed": {"gamma_range": list(args.gamma_range),
                  "trainable_gamma": True, "models": args.models},
        "criterion": "best validation metric over the epochs",
        "rule": rule,
        "epochs_note": (
            f"every candidate trains {epochs} epochs (the default run "
            f"trains {args.epochs}); the same for all, so the comparison is "
            "fair, but it favours recipes that learn early"),
        "test_split": "never generated or evaluated in this mode",
        "defaults_when_run": {"learning_rate": DEFAULT_LEARNING_RATE,
                              "leaky_activation": LEAKY_ACTIVATION},
        "complete": False, "runs": [],
    }
    plan = []
    for lr in SELECTION_LEARNING_RATES:
        for kind in args.models:
            if kind == "leaky_rnn":
                plan += [(lr, kind, act) for act in SELECTION_ACTIVATIONS]
            else:
                plan.append((lr, kind, None))
    start = time.perf_counter()
    for i, (lr, kind, act) in enumerate(plan, 1):
        kwargs = (layer_kwargs_for(kind, args.gamma_range, act)
                  if act is not None else layer_kwargs_for(kind))
        print(f"\n=== select [{i}/{len(plan)}] {kind} {kwargs or ''} lr "
              f"{lr:g}, seed {seed}, {epochs} epochs ===", flush=True)
        fit = fit_on_validation(args, kind, seed, lr, kwargs, epochs)
        metric = fit["metric"]
        payload["metric"] = metric
        payload["runs"].append({
            "learning_rate": lr, "model": kind, "leaky_activation": act,
            "layer_kwargs": kwargs, "seed": seed, "params": fit["params"],
            **validation_summary(fit["curve"], metric),
            "train_seconds": fit["seconds"],
            f"val_{metric}_per_epoch": fit["curve"],
        })
        payload["wall_seconds"] = round(time.perf_counter() - start, 1)
        write_json(path, payload)
    metric = payload["metric"]
    scored = []
    for lr, act in candidates:
        runs = [r for r in payload["runs"] if r["learning_rate"] == lr
                and r["leaky_activation"] in (None, act)]
        solved, spread = score_candidate(runs, metric)
        scored.append({
            "learning_rate": lr, "leaky_activation": act,
            "models_solved_on_validation": solved,
            ("mean_log10_best_val_mse" if metric == "mse"
             else "minus_mean_best_val_accuracy"): spread,
            f"best_val_{metric}": {r["model"]: r[f"best_val_{metric}"]
                                   for r in runs}})
    spread_key = ("mean_log10_best_val_mse" if metric == "mse"
                  else "minus_mean_best_val_accuracy")
    order = sorted(range(len(scored)), key=lambda j: (
        -scored[j]["models_solved_on_validation"], scored[j][spread_key]))
    chosen = scored[order[0]]
    payload["candidates"] = scored
    payload["choice"] = {"learning_rate": chosen["learning_rate"],
                         "leaky_activation": chosen["leaky_activation"]}
    payload["choice_matches_defaults"] = (
        chosen["learning_rate"] == DEFAULT_LEARNING_RATE
        and chosen["leaky_activation"] == LEAKY_ACTIVATION)
    payload["complete"] = True
    payload["finished"] = datetime.datetime.now().astimezone().isoformat(
        timespec="seconds")
    write_json(path, payload)
    return payload


def format_selection(payload):
    metric = payload["metric"]
    threshold = solved_threshold(metric)
    first_key = (f"first_epoch_val_{'below' if metric == 'mse' else 'at'}_"
                 f"{threshold:g}")
    rows = [[r["model"], f"{r['learning_rate']:g}",
             r["leaky_activation"] or "", f"{r[f'best_val_{metric}']:.4f}",
             str(r["best_epoch"]), f"{r[f'final_val_{metric}']:.4f}",
             "-" if r[first_key] is None else str(r[first_key]),
             f"{r['train_seconds']:.0f}"]
            for r in payload["runs"]]
    lines = _markdown(["model", "lr", "activation", f"best val {metric}",
                       "at epoch", f"final val {metric}",
                       f"first epoch {'<' if metric == 'mse' else '>='} "
                       f"{threshold:g}", "train s"], rows)
    spread_key = ("mean_log10_best_val_mse" if metric == "mse"
                  else "minus_mean_best_val_accuracy")
    cand = [[f"{c['learning_rate']:g}", c["leaky_activation"],
             str(c["models_solved_on_validation"]),
             f"{c[spread_key]:.3f}"] for c in payload["candidates"]]
    lines += [""] + _markdown(["lr", "leaky activation",
                               "models solved (val)", spread_key], cand)
    c = payload["choice"]
    lines += ["", f"choice: learning rate {c['learning_rate']:g}, leaky_rnn "
              f"activation {c['leaky_activation']} "
              f"({'the script defaults' if payload['choice_matches_defaults'] else 'NOT the script defaults: change them'})"]
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    if args.replot:
        try:
            payload = join_results(args.replot)
        except ValueError as error:
            print(f"--replot: {error}", file=sys.stderr)
            return 2
        s = payload["settings"]
        plot_path = (args.plot if args.plot_given else FIGURES
                     / f"long_memory_{s['task']}_{s['length']}.png")
        report(payload, plot_path, ", ".join(args.replot))
        return 0
    print(f"long_memory: task={args.task} length={args.length} "
          f"epochs={args.select_epochs if args.select else args.epochs} "
          f"units={args.units} train_size={args.train_size} "
          + ("" if args.select else f"test_size={args.test_size} ")
          + f"batch_size={args.batch_size} "
          + ("" if args.select else f"learning_rate={args.learning_rate:g} ")
          + f"seeds={args.seeds} models={args.models}", flush=True)
    if args.select:
        path = selection_path(args)
        payload = select(args, path)
        print(f"\nSelection on validation {payload['metric']} "
              f"({payload['settings']['validation_size']} sequences, "
              f"{args.select_epochs} epochs each; criterion: "
              f"{payload['criterion']}), from {path}:\n")
        print(format_selection(payload), flush=True)
        return 0
    path = results_path(args)
    payload = run(args, path)
    print(f"\nresults: {path}")
    report(json.loads(path.read_text()), args.plot, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
