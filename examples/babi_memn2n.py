"""Reproduce Table 1 of "End-To-End Memory Networks" on bAbI (1k).

Trains one MemN2N per task, and one on all 20 tasks jointly, with the
paper's best setting (3 hops, position encoding, linear start, random
noise, adjacent weight tying; d = 20 per task, 50 jointly), keeps the best
of several restarts on a 10% validation split, and prints per task our test
error next to the paper's (columns PE LS RN and PE LS RN joint of
`memn2n_table1.tsv`), the difference, the mean error and the number of
failed tasks (error > 5%).

Every restart is saved as it ends (`<output>/task_NN.json`, and the best
weights so far), so an interrupted run goes on where it stopped; running
several processes on disjoint `--tasks` shares the work. `--report` prints
the table from what is saved, without training.

    python examples/babi_memn2n.py --data-dir ../shared/data/babi --restarts 10
    python examples/babi_memn2n.py --tasks 1-10 &  python examples/babi_memn2n.py --tasks 11-20 --no-joint
    python examples/babi_memn2n.py --report
    python examples/babi_memn2n.py --tasks 1 --restarts 1 --epochs 5 --no-joint  # a quick look
"""

import argparse
import csv
import dataclasses
import json
import os
import pathlib
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "babi"
JOINT = "joint"


PAPER_TABLE = HERE / "data" / "memn2n_table1.tsv"


def read_paper_table(path=PAPER_TABLE):
    """`examples/data/memn2n_table1.tsv` (Table 1 of Sukhbaatar et al. 2015,
    checked against the paper: see its header) -> `(per_task, summary)`:
    `{column: {task: error %}}` and `{column: {"mean_error": %,
    "failed_tasks_gt5": n}}` as the paper prints them."""
    path = pathlib.Path(path)
    if not path.exists():
        sys.exit(f"the paper's table is missing: {path} (it is part of the "
                 "repository; restore it with git)")
    rows = [line for line in path.read_text().splitlines()
            if line and not line.startswith("#")]
    reader = csv.DictReader(rows, delimiter="\t")
    table, summary = {}, {}
    for row in reader:
        for column, value in row.items():
            if column in ("task", "name"):
                continue
            if row["task"].isdigit():
                table.setdefault(column, {})[int(row["task"])] = float(value)
            elif row["task"] in ("mean_error", "failed_tasks_gt5"):
                summary.setdefault(column, {})[row["task"]] = float(value)
    return table, summary


def paper_summary(paper, summary, column, tasks):
    """The paper's mean error and failed count over `tasks`: as printed for
    all 20 tasks, else recomputed from its per-task figures."""
    p = paper.get(column, {})
    if set(tasks) == set(range(1, 21)) and column in summary:
        return summary[column]["mean_error"], int(
            summary[column]["failed_tasks_gt5"])
    shared = [t for t in tasks if t in p]
    return (sum(p[t] for t in shared) / max(1, len(shared)),
            sum(p[t] > 5.0 for t in shared))


def load_runs(path):
    if path.exists():
        return json.loads(path.read_text())
    return {"restarts": []}


def best_run(runs):
    restarts = runs["restarts"]
    if not restarts:
        return None
    return max(restarts, key=lambda r: (r["validation_accuracy"],
                                        -r["validation_loss"]))


def train(key, tasks, args, setting):
    from keras_seqmem import training
    from keras_seqmem.tasks import babi

    # The vocabulary of the training files of the tasks this model trains on
    # (words first seen in a test file map to <unk>).
    vocabulary = babi.build_vocabulary(args.data_dir, tasks)

    output = pathlib.Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    path = output / f"{key}.json"
    runs = load_runs(path)
    done = {r["seed"] for r in runs["restarts"]}
    restarts = setting.pop("restarts")
    seeds = [s for s in range(restarts) if s not in done]
    if not seeds:
        return runs
    print(f"[{key}] {len(done)} restarts saved, training seeds {seeds}",
          flush=True)

    def on_restart(restart, model):
        previous = best_run(runs)
        runs["restarts"].append(dataclasses.asdict(restart))
        runs["setting"] = setting
        runs["provenance"] = provenance(args)
        if best_run(runs)["seed"] == restart.seed or previous is None:
            model.save_weights(output / f"{key}.weights.h5")
        path.write_text(json.dumps(runs, indent=1))
        print(f"[{key}] seed {restart.seed}: test error "
              f"{100 * restart.test_error:.1f}%, validation accuracy "
              f"{restart.validation_accuracy:.3f}, {restart.epochs} epochs "
              f"(linear start {restart.linear_start_epochs}), "
              f"{restart.seconds:.0f} s", flush=True)

    training.train_memory_network_on_babi(
        args.data_dir, tasks, seeds=seeds, vocabulary=vocabulary,
        on_restart=on_restart, verbose=args.verbose, **setting)
    return runs


def report(args):
    output = pathlib.Path(args.output)
    paper, paper_printed = read_paper_table()
    ours, joint = {}, {}
    for task in range(1, 21):
        run = best_run(load_runs(output / f"task_{task:02d}.json"))
        if run:
            ours[task] = 100 * run["test_error"]
    joint_run = best_run(load_runs(output / f"{JOINT}.json"))
    if joint_run:
        joint = {int(t): 100 * e for t, e in joint_run["task_errors"].items()}
    from keras_seqmem.tasks.babi import TASK_NAMES

    columns = [("per task", ours, "PE_LS_RN"),
               ("joint", joint, "PE_LS_RN_joint")]
    header = f"{'task':>4} {'name':<24}"
    for title, _, column in columns:
        header += f" | {title + ' ours':>14} {'paper':>6} {'diff':>6}"
    print(header)
    for task in range(1, 21):
        line = f"{task:>4} {TASK_NAMES[task]:<24}"
        for _, values, column in columns:
            p = paper.get(column, {}).get(task)
            if task in values:
                diff = "" if p is None else f"{values[task] - p:+6.1f}"
                line += f" | {values[task]:14.1f} {p if p is not None else '':>6} {diff:>6}"
            else:
                line += f" | {'-':>14} {p if p is not None else '':>6} {'':>6}"
        print(line)
    for title, values, column in columns:
        if not values:
            continue
        n = len(values)
        mean = sum(values.values()) / n
        failed = sum(v > 100 * 0.05 for v in values.values())
        paper_mean, paper_failed = paper_summary(paper, paper_printed,
                                                 column, list(values))
        print(f"{title}: {n} tasks, mean error {mean:.1f}% "
              f"(paper {paper_mean:.1f}%), failed {failed} "
              f"(paper {paper_failed})")
        restarts = (
            [len(load_runs(output / f"task_{t:02d}.json")["restarts"])
             for t in values] if title == "per task"
            else [len(load_runs(output / f"{JOINT}.json")["restarts"])]
        )
        print(f"  restarts per model: {min(restarts)}-{max(restarts)}")
    if args.markdown:
        print(markdown_table(columns, paper, paper_printed, TASK_NAMES))
    write_report(args, columns, paper, paper_printed, joint_run)
    return ours, joint


def write_report(args, columns, paper, paper_printed, joint_run):
    """`<output>/report.json`: every figure of the printed table (ours, the
    paper's, the difference; mean and failed), the restarts behind them and
    the selection rule, with the command, versions and date."""
    output = pathlib.Path(args.output)
    result = {"selection": "per model, the restart with the best validation "
                           "accuracy (then the lowest validation loss); test "
                           "error is only reported",
              "paper_table": str(PAPER_TABLE.relative_to(HERE.parent)),
              "columns": {}, "provenance": provenance(args)}
    for title, values, column in columns:
        if not values:
            continue
        tasks = sorted(values)
        paper_mean, paper_failed = paper_summary(paper, paper_printed,
                                                 column, tasks)
        if title == "per task":
            runs = {t: load_runs(output / f"task_{t:02d}.json") for t in tasks}
            best = {t: best_run(runs[t]) for t in tasks}
            restarts = {t: len(runs[t]["restarts"]) for t in tasks}
        else:
            best = {t: joint_run for t in tasks}
            restarts = {t: len(load_runs(output / f"{JOINT}.json")["restarts"])
                        for t in tasks}
        mean = sum(values.values()) / len(values)
        result["columns"][title] = {
            "paper_column": column,
            "tasks": {str(t): {
                "ours": round(values[t], 1),
                "paper": paper.get(column, {}).get(t),
                "diff": (None if t not in paper.get(column, {}) else
                         round(round(values[t], 1) - paper[column][t], 1)),
                "best_seed": best[t]["seed"],
                "best_validation_accuracy": best[t]["validation_accuracy"],
                "restarts": restarts[t],
                "vocabulary_size": best[t].get("vocabulary_size"),
                "test_coverage": best[t].get("test_coverage"),
            } for t in tasks},
            "mean_error": round(mean, 1),
            "failed_tasks_gt5": sum(v > 5.0 for v in values.values()),
            "paper_mean_error": paper_mean,
            "paper_failed_tasks_gt5": paper_failed,
            "mean_error_diff": round(round(mean, 1) - paper_mean, 1),
        }
    path = output / "report.json"
    path.write_text(json.dumps(result, indent=1))
    print(f"report written to {path}")


def markdown_table(columns, paper, paper_printed, names):
    """The per-task table with the mean and failed rows, as Markdown."""
    head = "| task | name |"
    rule = "|---:|---|"
    for title, _, _ in columns:
        head += f" ours, {title} | paper | diff |"
        rule += "---:|---:|---:|"
    lines = [head, rule]
    for task in range(1, 21):
        line = f"| {task} | {names[task]} |"
        for _, values, column in columns:
            p = paper.get(column, {}).get(task)
            ours = values.get(task)
            line += " " + (f"{ours:.1f}" if ours is not None else "-") + " |"
            line += f" {p if p is not None else ''} |"
            line += (f" {ours - p:+.1f} |" if None not in (ours, p) else " |")
        lines.append(line)
    for label, summary in (
        ("mean error", lambda v: sum(v) / len(v)),
        ("failed (> 5%)", lambda v: sum(x > 5.0 for x in v)),
    ):
        line = f"| | **{label}** |"
        for _, values, column in columns:
            if not values:
                line += " - | | |"
                continue
            ours = summary(list(values.values()))
            theirs = paper_summary(paper, paper_printed, column,
                                   list(values))[label != "mean error"]
            fmt = "{:.1f}" if label == "mean error" else "{}"
            line += (f" **{fmt.format(ours)}** | {fmt.format(theirs)} |"
                     f" {ours - theirs:+.1f} |" if label == "mean error" else
                     f" **{fmt.format(ours)}** | {fmt.format(theirs)} | |")
        lines.append(line)
    return "\n".join(lines)


def provenance(args):
    """Command, versions and date, stored with every results file."""
    import datetime
    import platform

    import keras

    versions = {"python": platform.python_version(), "keras": keras.__version__,
                "backend": keras.backend.backend()}
    try:
        import tensorflow as tf
        versions["tensorflow"] = tf.__version__
    except ImportError:
        pass
    return {"command": "python examples/babi_memn2n.py " + " ".join(
                sys.argv[1:]),
            "versions": versions, "cpu_count": os.cpu_count(),
            "date": datetime.date.today().isoformat()}


def select(args):
    """Picks a recipe among saved runs on validation accuracy alone.

    For each folder (one recipe, e.g. `empty_slots`, the linear-start
    schedule): the mean over tasks of the best restart's validation
    accuracy (per-task models), and the joint model's best validation
    accuracy. Folders with more restarts would have an edge (a best of more
    draws), so the figures that decide are taken over the first n restarts
    of every folder, n the fewest any folder has (per task and jointly);
    the figures over all restarts are recorded beside them. The recipe with
    the highest per-task mean wins (the joint figure breaks ties). Test
    errors are not read.
    """
    folders = [pathlib.Path(folder) for folder in args.select]
    runs = {}
    for folder in folders:
        for task in range(1, 21):
            runs[folder, task] = load_runs(folder / f"task_{task:02d}.json")
            if not runs[folder, task]["restarts"]:
                sys.exit(f"{folder} has no runs of task {task}; train it "
                         f"first (--output {folder} --tasks {task})")
        runs[folder, JOINT] = load_runs(folder / f"{JOINT}.json")
    n_task = min(len(runs[key]["restarts"]) for key in runs
                 if key[1] != JOINT)
    n_joint = min(len(runs[folder, JOINT]["restarts"]) for folder in folders)

    def best_accuracy(key, n=None):
        run = best_run({"restarts": runs[key]["restarts"][:n]})
        return None if run is None else run["validation_accuracy"]

    rows = []
    for folder in folders:
        tasks = range(1, 21)
        rows.append({
            "folder": str(folder.relative_to(HERE) if folder.is_relative_to(
                HERE) else folder),
            "setting": runs[folder, 1].get("setting"),
            "restarts_per_task": len(runs[folder, 1]["restarts"]),
            "joint_restarts": len(runs[folder, JOINT]["restarts"]),
            "compared_restarts_per_task": n_task,
            "compared_joint_restarts": n_joint,
            "mean_best_validation_accuracy": sum(
                best_accuracy((folder, t), n_task) for t in tasks) / 20,
            "joint_best_validation_accuracy": best_accuracy(
                (folder, JOINT), n_joint),
            "all_restarts_mean_best_validation_accuracy": sum(
                best_accuracy((folder, t)) for t in tasks) / 20,
            "all_restarts_joint_best_validation_accuracy": best_accuracy(
                (folder, JOINT)),
        })
    rows.sort(key=lambda r: (r["mean_best_validation_accuracy"],
                             r["joint_best_validation_accuracy"] or 0.0),
              reverse=True)
    result = {"rule": select.__doc__.strip(), "chosen": rows[0]["folder"],
              "candidates": rows, "provenance": provenance(args)}
    pathlib.Path(args.select_out).write_text(json.dumps(result, indent=1))
    for row in rows:
        print(f"{row['folder']}: mean best validation accuracy "
              f"{row['mean_best_validation_accuracy']:.4f} per task, joint "
              f"{row['joint_best_validation_accuracy']} (first {n_task} "
              f"restarts per task, {n_joint} jointly)")
    print(f"chosen: {rows[0]['folder']} -> {args.select_out}")
    return result


def plot(args, vocabulary):
    """The paper's Table 2 analogue: hop-by-hop attention for a question."""
    from keras_seqmem import training
    from keras_seqmem.tasks import babi

    task = args.plot_task
    output = pathlib.Path(args.output)
    weights = output / f"task_{task:02d}.weights.h5"
    runs = load_runs(output / f"task_{task:02d}.json")
    if not weights.exists():
        print(f"no trained model for task {task} in {output}; no plot")
        return None
    setting = dict(runs["setting"])
    # The layer's memory is as long as the longest story (<= memory_size).
    setting["memory_size"] = best_run(runs).get("memory_size") or setting[
        "memory_size"]
    for key in ("epochs", "decay_every", "learning_rate",
                "linear_start_learning_rate", "linear_start_max_epochs",
                "linear_start", "model"):
        setting.pop(key, None)
    model = training.build_memory_model(len(vocabulary), **setting)
    example = babi.load_babi(args.data_dir, [task], "test")[args.plot_index]
    model.load_weights(weights)
    path = args.plot or str(output / f"babi_task{task}_hops.png")
    _, predicted = training.write_memory_attention_plot(
        model, vocabulary, example, path)
    print(f"hop attention for task {task}, test question {args.plot_index}: "
          f"{' '.join(example.question)}? answer {example.answer}, "
          f"predicted {predicted} -> {path}")
    return path


def main(argv=None):
    from keras_seqmem.tasks.babi import parse_tasks

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get(
        "KERAS_SEQMEM_BABI_DIR", str(DEFAULT_DATA)))
    parser.add_argument("--output", default=str(HERE / "output" / "babi"))
    parser.add_argument("--tasks", type=parse_tasks, default=list(range(1, 21)))
    parser.add_argument("--restarts", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--joint", action=argparse.BooleanOptionalAction,
                        default=True)
    parser.add_argument("--joint-restarts", type=int, default=10)
    parser.add_argument("--joint-epochs", type=int, default=60)
    parser.add_argument("--report", action="store_true",
                        help="print the table from saved runs; no training")
    parser.add_argument("--markdown", action="store_true",
                        help="with the report, also print it as Markdown")
    parser.add_argument("--plot", default=None,
                        help="PNG of the hop attention (default in --output)")
    parser.add_argument("--plot-task", type=int, default=2)
    parser.add_argument("--plot-index", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=0)
    parser.add_argument(
        "--select", nargs="+", metavar="FOLDER", default=None,
        help="choose among the recipes saved in these result folders by "
             "validation accuracy alone and write the choice to --select-out "
             "(no training)")
    parser.add_argument("--select-out", default=str(
        HERE / "results" / "babi_memn2n_recipe_selection.json"))
    args = parser.parse_args(argv)

    if not (pathlib.Path(args.data_dir) / "en").is_dir():
        sys.exit(f"bAbI data not found at {args.data_dir} (expected en/qa*"
                 ".txt there); pass --data-dir or set KERAS_SEQMEM_BABI_DIR")
    from keras_seqmem.tasks import babi

    if args.select:
        select(args)
        return
    print(f"bAbI from {args.data_dir}: results in {args.output}", flush=True)
    start = time.perf_counter()
    if not args.report:
        per_task = dict(embedding_dim=20, hops=3, memory_size=50,
                        weight_tying="adjacent", encoding="position",
                        temporal_encoding=True, random_noise=0.1,
                        empty_slots="attend", linear_start=True, linear_start_max_epochs=40,
                        linear_start_learning_rate=0.01, epochs=args.epochs,
                        decay_every=25, restarts=args.restarts)
        for task in args.tasks:
            train(f"task_{task:02d}", [task], args, dict(per_task))
        if args.joint:
            joint = dict(per_task, embedding_dim=50, epochs=args.joint_epochs,
                         decay_every=15, restarts=args.joint_restarts)
            train(JOINT, list(range(1, 21)), args, joint)
        print(f"training took {time.perf_counter() - start:.0f} s")
    report(args)
    plot(args, babi.build_vocabulary(args.data_dir, [args.plot_task]))


if __name__ == "__main__":
    main()
