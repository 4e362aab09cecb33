"""The `keras-seqmem` command line.

    keras-seqmem train --task adding --model peephole_lstm --length 100
    keras-seqmem train --task dates --model lstm --alignment-plot dates.png
    keras-seqmem tasks
"""

import argparse
import ast
import os
import sys


def _parse_param(text):
    """`key=value` -> (key, python value); values are literals or strings."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(
            f"expected key=value, got {text!r}")
    key, value = text.split("=", 1)
    try:
        value = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        pass
    return key, value


def _train(args):
    from keras_seqmem import training
    from keras_seqmem.tasks import get_task

    spec = get_task(args.task)
    task_params = dict(args.param or [])
    if args.length is not None:
        task_params["length"] = args.length
    layer_kwargs = dict(args.layer_arg or [])
    model_kwargs = dict(args.model_arg or [])
    seq2seq = spec.kind == "seq2seq"
    if args.alignment_plot and not seq2seq:
        raise SystemExit(
            f"keras-seqmem: --alignment-plot expected a seq2seq task "
            f"(dates, reversal), got {spec.name!r} ({spec.kind})")
    if args.alignment_plot and model_kwargs.get("use_attention") is False:
        raise SystemExit(
            "keras-seqmem: --alignment-plot expected a model with attention, "
            "got --model-arg use_attention=False")
    print(
        f"keras-seqmem: training {args.model} ({args.units} units) on "
        f"{spec.name} {task_params or ''} for {args.epochs} epochs, "
        f"jit_compile={not args.no_jit}", flush=True,
    )
    result = training.train_on_task(
        spec, args.model, units=args.units, train_size=args.train_size,
        test_size=args.test_size, batch_size=args.batch_size,
        epochs=args.epochs, learning_rate=args.learning_rate, seed=args.seed,
        jit_compile=not args.no_jit, verbose=1 if sys.stdout.isatty() else 2,
        layer_kwargs=layer_kwargs, model_kwargs=model_kwargs or None,
        embedding_dim=args.embedding_dim,
        decode_method="beam" if args.beam_width > 1 else "greedy",
        beam_width=args.beam_width, **task_params,
    )
    better = "lower" if result.metric_name == "mse" else "higher"
    print(
        f"\nRESULT task={result.task} model={result.kind} "
        f"test_{result.metric_name}={result.test_metric:.4f} "
        f"(chance baseline {result.baseline:.4f}, {better} is better) "
        f"solved={result.solved} train_seconds={result.seconds:.1f}",
        flush=True,
    )
    if args.alignment_plot:
        source, _ = spec.generate(1, seed=args.seed + 30_000, **task_params)
        path, source_text, output_text = training.write_alignment_plot(
            result.model, spec, source[0], args.alignment_plot,
            method="beam" if args.beam_width > 1 else "greedy",
            beam_width=args.beam_width, **task_params)
        print(f"alignment of {source_text!r} -> {output_text!r} written to "
              f"{path}")
    if args.save:
        os.makedirs(os.path.dirname(os.path.abspath(args.save)), exist_ok=True)
        result.model.save(args.save)
        print(f"saved {args.save}")
    return 0


def _tasks(args):
    from keras_seqmem.tasks import TASKS

    for name, spec in TASKS.items():
        print(f"{name:10s} {spec.kind:14s} {spec.metric_name:8s} "
              f"baseline={spec.baseline:.4f}  params={dict(spec.defaults)}")
    return 0


def build_parser():
    from keras_seqmem.training import RECURRENT_LAYERS

    parser = argparse.ArgumentParser(
        prog="keras-seqmem",
        description="Recurrent and memory layers for Keras 3.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser(
        "train", help="train a model on a generated task",
        description="Train a recurrent model on a generated task and print "
        "its test metric next to the chance baseline.",
    )
    train.add_argument("--task", default="adding",
                       help="a task of `keras-seqmem tasks` (default adding)")
    train.add_argument("--model", default="peephole_lstm",
                       choices=sorted(RECURRENT_LAYERS))
    train.add_argument("--length", type=int, default=None,
                       help="sequence length (the task's default otherwise)")
    train.add_argument("--units", type=int, default=64)
    train.add_argument("--epochs", type=int, default=10)
    train.add_argument("--train-size", type=int, default=10000)
    train.add_argument("--test-size", type=int, default=2000)
    train.add_argument("--batch-size", type=int, default=64)
    train.add_argument("--learning-rate", type=float, default=1e-3)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--no-jit", action="store_true",
                       help="do not compile with XLA")
    train.add_argument("--param", type=_parse_param, action="append",
                       metavar="KEY=VALUE",
                       help="extra task parameter, e.g. min_length=20")
    train.add_argument("--layer-arg", type=_parse_param, action="append",
                       metavar="KEY=VALUE",
                       help="extra layer argument, e.g. gamma_range=(1,50)")
    train.add_argument("--model-arg", type=_parse_param, action="append",
                       metavar="KEY=VALUE",
                       help="seq2seq tasks: extra Seq2Seq argument, e.g. "
                       "use_attention=False or attention_units=32")
    train.add_argument("--embedding-dim", type=int, default=16,
                       help="embedding size for token tasks (default 16)")
    train.add_argument("--beam-width", type=int, default=1,
                       help="seq2seq tasks: decode the test set with a beam "
                       "of this width (default 1: greedy)")
    train.add_argument("--alignment-plot", default=None, metavar="PNG",
                       help="seq2seq tasks: write the attention alignment "
                       "of a held-out example to this PNG file")
    train.add_argument("--save", default=None,
                       help="write the trained model to this .keras file")
    train.set_defaults(func=_train)

    tasks = sub.add_parser("tasks", help="list the generated tasks")
    tasks.set_defaults(func=_tasks)
    return parser


def main(argv=None):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
