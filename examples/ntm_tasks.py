"""Reproduces the Neural Turing Machine's copy and associative-recall results
(Graves, Wayne & Danihelka 2014, sections 4.1 and 4.3) next to an LSTM.

    python examples/ntm_tasks.py copy --seeds 0 1 2 --out runs/ntm_copy
    python examples/ntm_tasks.py associative_recall --seeds 0 1 \\
        --out runs/ntm_recall
    python examples/ntm_tasks.py copy --quick            # a 1-minute look

For each seed, an NTM (LSTM-100 controller, 128 × 20 memory, one read and
one write head) and an LSTM baseline of about the same parameter count are
trained on fresh sequences (copy: lengths 1-20; associative recall: 2-6
items of three 6-bit vectors) until the held-out error is below 0.1 bit per
sequence or `--steps` is reached. The script prints progress, the steps and
seconds each model took, and then the error per sequence at the test lengths
(copy: 10, 20, 40, 60, 80, 120 vectors; recall: 2-12 items) for the NTM
next to the LSTM, with the paper's qualitative finding to compare against.

Everything is kept under `--out`: one directory per (model, seed) holding the
model and its progress, so an interrupted run resumes where it stopped, and
`results.json` with every figure printed.
"""

import argparse
import json
import os
import sys

import numpy as np

TASKS = {
    "copy": dict(
        task_params={"min_length": 1, "max_length": 20},
        test_lengths=[10, 20, 40, 60, 80, 120], unit="vectors",
        plot_length=20,
        steps=40000,
        paper=("the NTM copies sequences longer than it was trained on "
               "with few errors, the LSTM fails beyond length 20 "
               "(Graves et al. 2014, Figures 4-5)")),
    "associative_recall": dict(
        task_params={"num_bits": 6, "item_length": 3, "min_items": 2,
                     "max_items": 6},
        test_lengths=[2, 4, 6, 8, 10, 12], unit="items", plot_length=6,
        steps=40000,
        paper=("the NTM with an LSTM controller generalises to 12 items "
               "with a small error, the LSTM does not (Graves et al. 2014, "
               "Figure 11)")),
}


def lstm_units_like(parameters, features, outputs):
    """LSTM units whose LSTM + Dense parameter count is closest."""
    def count(u):
        return 4 * u * (features + u + 1) + (u + 1) * outputs

    return min(range(1, 1024), key=lambda u: abs(count(u) - parameters))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("task", choices=sorted(TASKS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--models", nargs="+", default=["ntm", "lstm"],
                        choices=("ntm", "lstm"))
    parser.add_argument("--steps", type=int, default=None,
                        help="most training steps per model")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--eval-every", type=int, default=500)
    parser.add_argument("--eval-size", type=int, default=500)
    parser.add_argument("--target-bits", type=float, default=0.1)
    parser.add_argument("--optimizer", default="adam",
                        choices=("adam", "rmsprop"))
    parser.add_argument("--learning-rate", type=float, default=None)
    parser.add_argument("--memory-size", type=int, default=128)
    parser.add_argument("--word-size", type=int, default=20)
    parser.add_argument("--controller", type=int, default=100)
    parser.add_argument("--test-sequences", type=int, default=200)
    parser.add_argument("--threads", type=int, default=None,
                        help="TensorFlow CPU threads (default: all)")
    parser.add_argument("--out", default=None,
                        help="directory of checkpoints and results.json")
    parser.add_argument("--plot-dir", default=None,
                        help="write each NTM's read and write weightings on "
                        "one episode here (default --out)")
    parser.add_argument("--quick", action="store_true",
                        help="a tiny run to see it work (small sizes)")
    args = parser.parse_args(argv)
    config = TASKS[args.task]
    task_params = dict(config["task_params"])
    test_lengths = list(config["test_lengths"])
    steps = args.steps or config["steps"]
    if args.quick:
        steps, args.eval_every, args.eval_size = 100, 50, 50
        args.memory_size, args.word_size, args.controller = 32, 8, 16
        args.test_sequences = 20
        test_lengths = test_lengths[:2]
        if args.task == "copy":
            task_params["max_length"] = 5
    plot_length = test_lengths[0] if args.quick else config["plot_length"]
    plot_dir = args.plot_dir or args.out

    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    from keras_seqmem import sequence_training
    from keras_seqmem.tasks import get_task

    spec = get_task(args.task)
    features = spec.input_shape(**task_params)[-1]
    outputs = spec.target_shape(**task_params)[-1]
    results_path = os.path.join(args.out, "results.json") if args.out \
        else None
    results = {"task": args.task, "settings": vars(args),
               "task_params": task_params, "test_lengths": test_lengths,
               "runs": {}}
    if results_path and os.path.exists(results_path):
        with open(results_path) as f:
            results["runs"] = json.load(f).get("runs", {})

    ntm_parameters = None
    for seed in args.seeds:
        for kind in args.models:
            key = f"{kind}_seed{seed}"
            kwargs = dict(optimizer=args.optimizer,
                          learning_rate=args.learning_rate)
            if kind == "ntm":
                kwargs.update(units=args.controller,
                              memory_size=args.memory_size,
                              word_size=args.word_size)
            else:
                if ntm_parameters is None:
                    probe = sequence_training.build_sequence_model(
                        spec, "ntm", units=args.controller,
                        memory_size=args.memory_size,
                        word_size=args.word_size, task_params=task_params,
                        jit_compile=False)
                    ntm_parameters = probe.count_params()
                kwargs["units"] = lstm_units_like(ntm_parameters, features,
                                                  outputs)
            print(f"== {args.task}: {kind} seed {seed} ({kwargs})",
                  flush=True)
            result = sequence_training.train_sequence_task(
                spec, kind, steps=steps, batch_size=args.batch_size,
                eval_every=args.eval_every, eval_size=args.eval_size,
                target_bits=args.target_bits, seed=seed,
                checkpoint_dir=(os.path.join(args.out, key) if args.out
                                else None),
                task_params=task_params, **kwargs)
            lengths = sequence_training.evaluate_lengths(
                result.model, spec, test_lengths,
                num_sequences=args.test_sequences, task_params=task_params)
            record = result.to_json()
            record["units"] = kwargs["units"]
            record["test_bits_per_sequence"] = {
                str(k): v for k, v in lengths.items()}
            if kind == "ntm" and plot_dir:
                png = sequence_training.write_weightings_plot(
                    result.model, spec,
                    os.path.join(plot_dir, f"{args.task}_{key}_weightings.png"),
                    length=plot_length, task_params=task_params,
                    title=(f"NTM on {args.task} ({plot_length} "
                           f"{config['unit']}) after {result.steps} steps, "
                           f"seed {seed}"))
                record["weightings_png"] = png
                print(f"weightings: {png}", flush=True)
            results["runs"][key] = record
            reached = (f"below {args.target_bits} bit after "
                       f"{result.steps_to_target} steps"
                       if result.steps_to_target else
                       f"not below {args.target_bits} bit in {result.steps} "
                       f"steps")
            print(f"{key}: {result.parameters} parameters, {reached} "
                  f"({result.seconds:.0f} s of training); held-out "
                  f"{result.final_bits:.3f} bits/sequence", flush=True)
            if results_path:
                os.makedirs(args.out, exist_ok=True)
                with open(results_path, "w") as f:
                    json.dump(results, f, indent=1)

    print(f"\n{args.task}: bits wrong per sequence at each test length "
          f"({config['unit']}), trained on {task_params}, "
          f"{args.test_sequences} sequences per length")
    header = f"{'run':14s} {'params':>7s} {'steps':>7s} " + " ".join(
        f"{n:>7d}" for n in test_lengths)
    print(header)
    for key, record in sorted(results["runs"].items()):
        steps_text = str(record["steps_to_target"] or f">{record['steps']}")
        print(f"{key:14s} {record['parameters']:7d} {steps_text:>7s} " +
              " ".join(f"{record['test_bits_per_sequence'].get(str(n), np.nan):7.2f}"
                       for n in test_lengths))
    for kind in args.models:
        runs = [r for k, r in results["runs"].items() if k.startswith(kind)]
        done = sum(r["steps_to_target"] is not None for r in runs)
        print(f"{kind}: {done} of {len(runs)} seeds below "
              f"{args.target_bits} bit per sequence")
    print(f"paper: {config['paper']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
