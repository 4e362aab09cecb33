"""The `keras-seqmem` command line.

    keras-seqmem train --task adding --model peephole_lstm --length 100
    keras-seqmem train --task dates --model lstm --alignment-plot dates.png
    keras-seqmem babi --data-dir tasks_1-20_v1-2 --tasks 1 --attention-plot hops.png
    keras-seqmem ntm --task copy --steps 40000 --checkpoint-dir runs/copy
    keras-seqmem tune --task adding --family recurrent --tuner bayesian --export best.keras
    keras-seqmem tasks
    keras-seqmem export runs/adding.keras runs/adding_savedmodel
"""

import argparse
import ast
import os
import sys

from keras_seqmem._extras import MissingExtraError
from keras_seqmem._extras import require


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


def _train_callbacks(args):
    """The Keras callbacks of `train`'s --checkpoint-dir, --tensorboard and
    --early-stopping flags (None when none is given)."""
    import keras

    callbacks = []
    if args.checkpoint_dir:
        # Backs up model, optimizer and epoch after every epoch; a rerun
        # with the same folder resumes at the epoch where the first stopped
        # (the backup is deleted when training completes).
        callbacks.append(keras.callbacks.BackupAndRestore(args.checkpoint_dir))
    if args.tensorboard:
        # keras.callbacks.TensorBoard writes with tf.summary, whose writers
        # live in the tensorboard package (TensorFlow >= 2.20 does not
        # install it), on every backend.
        require("--tensorboard", ["tensorboard", "tensorflow"])
        callbacks.append(keras.callbacks.TensorBoard(args.tensorboard))
    if args.early_stopping is not None:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=args.early_stopping,
            restore_best_weights=True, verbose=1))
    return callbacks or None


def _train(args):
    from keras_seqmem import training
    from keras_seqmem.tasks import get_task

    spec = get_task(args.task)
    task_params = dict(args.param or [])
    if args.length is not None:
        task_params["length"] = args.length
    layer_kwargs = dict(args.layer_arg or [])
    model_kwargs = dict(args.model_arg or [])
    if spec.kind == "sequence":
        raise SystemExit(
            f"keras-seqmem: {spec.name!r} is an NTM task (kind 'sequence'); "
            f"train it with `keras-seqmem ntm --task {spec.name}`")
    seq2seq = spec.kind == "seq2seq"
    if args.alignment_plot and not seq2seq:
        raise SystemExit(
            f"keras-seqmem: --alignment-plot expected a seq2seq task "
            f"(dates, reversal), got {spec.name!r} ({spec.kind})")
    if args.alignment_plot and model_kwargs.get("use_attention") is False:
        raise SystemExit(
            "keras-seqmem: --alignment-plot expected a model with attention, "
            "got --model-arg use_attention=False")
    if args.alignment_plot:
        require("--alignment-plot", ["matplotlib"])
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
        beam_width=args.beam_width, callbacks=_train_callbacks(args),
        **task_params,
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


def _babi(args):
    import pathlib

    from keras_seqmem import training
    from keras_seqmem.tasks import babi

    data_dir = args.data_dir or babi.default_data_dir()
    if data_dir is None:
        raise SystemExit(
            "keras-seqmem: --data-dir expected the bAbI folder holding en/ "
            "(tasks_1-20_v1-2), or set KERAS_SEQMEM_BABI_DIR")
    if args.attention_plot:
        require("--attention-plot", ["matplotlib"])
    vocabulary = babi.build_vocabulary(data_dir)
    tasks = list(args.tasks)
    print(
        f"keras-seqmem: training {args.model} ({args.hops} hops, d="
        f"{args.embedding_dim}, {args.encoding}, {args.weight_tying} tying, "
        f"linear start {not args.no_linear_start}, random noise "
        f"{args.random_noise}) on bAbI tasks {tasks} from {data_dir}, "
        f"{args.restarts} restart(s), vocabulary {len(vocabulary)}",
        flush=True,
    )

    def on_restart(restart, model):
        print(f"restart seed {restart.seed}: test error "
              f"{100 * restart.test_error:.1f}%, validation accuracy "
              f"{restart.validation_accuracy:.3f}, {restart.epochs} epochs, "
              f"{restart.seconds:.0f} s", flush=True)

    kwargs = dict(weight_tying=args.weight_tying) if args.model == "memn2n" \
        else {}
    best, _, model = training.train_memory_network_on_babi(
        data_dir, tasks, seeds=range(args.seed, args.seed + args.restarts),
        vocabulary=vocabulary, model=args.model,
        embedding_dim=args.embedding_dim, hops=args.hops,
        memory_size=args.memory_size, encoding=args.encoding,
        temporal_encoding=not args.no_temporal_encoding,
        random_noise=args.random_noise, empty_slots=args.empty_slots,
        linear_start=not args.no_linear_start,
        linear_start_max_epochs=args.linear_start_epochs,
        learning_rate=args.learning_rate, epochs=args.epochs,
        decay_every=args.decay_every, batch_size=args.batch_size,
        jit_compile=not args.no_jit,
        verbose=1 if sys.stdout.isatty() else 2, on_restart=on_restart,
        **kwargs,
    )
    for task, error in sorted(best.task_errors.items()):
        print(f"task {task:2d} {babi.TASK_NAMES[task]:24s} test error "
              f"{100 * error:5.1f}%")
    failed = sum(e > training.BABI_FAILED_ERROR
                 for e in best.task_errors.values())
    print(f"\nRESULT babi tasks={','.join(map(str, tasks))} model="
          f"{args.model} test_error={best.test_error:.4f} "
          f"failed_tasks={failed} (error > 5%) best_seed={best.seed} "
          f"train_seconds={best.seconds:.1f}", flush=True)
    if args.attention_plot:
        example = babi.load_babi(data_dir, tasks[:1], "test")[0]
        path, predicted = training.write_memory_attention_plot(
            model, vocabulary, example, args.attention_plot)
        print(f"hop attention for {' '.join(example.question)}? (answer "
              f"{example.answer}, predicted {predicted}) written to {path}")
    if args.save:
        pathlib.Path(args.save).resolve().parent.mkdir(parents=True,
                                                       exist_ok=True)
        model.save(args.save)
        print(f"saved {args.save}")
    return 0


def _ntm(args):
    from keras_seqmem import sequence_training
    from keras_seqmem.tasks import get_task

    spec = get_task(args.task)  # argparse has checked it is a sequence task
    task_params = dict(args.param or [])
    if args.weightings_plot and args.model != "ntm":
        raise SystemExit("keras-seqmem: --weightings-plot needs --model ntm")
    if args.weightings_plot:
        require("--weightings-plot", ["matplotlib"])
    kwargs = dict(optimizer=args.optimizer, learning_rate=args.learning_rate,
                  units=args.units, jit_compile=not args.no_jit)
    if args.model == "ntm":
        kwargs.update(memory_size=args.memory_size, word_size=args.word_size,
                      shift_range=args.shift_range)
    print(
        f"keras-seqmem: training {args.model} ({args.units} units"
        + (f", memory {args.memory_size} x {args.word_size}"
           if args.model == "ntm" else "")
        + f") on {spec.name} {task_params or spec.defaults}, batch "
        f"{args.batch_size}, at most {args.steps} steps, until below "
        f"{args.target_bits} bit per sequence", flush=True)
    result = sequence_training.train_sequence_task(
        spec, args.model, steps=args.steps, batch_size=args.batch_size,
        eval_every=args.eval_every, target_bits=args.target_bits,
        seed=args.seed, checkpoint_dir=args.checkpoint_dir,
        task_params=task_params, **kwargs)
    print(
        f"\nRESULT task={spec.name} model={args.model} "
        f"bits_per_sequence={result.final_bits:.4f} "
        f"(chance {spec.baseline:.1f} at the default lengths; learnt below "
        f"{args.target_bits}) steps={result.steps} "
        f"steps_to_target={result.steps_to_target} "
        f"train_seconds={result.seconds:.1f}", flush=True)
    if args.test_lengths:
        errors = sequence_training.evaluate_lengths(
            result.model, spec, args.test_lengths, task_params=task_params)
        for length, bits in errors.items():
            print(f"length {length}: {bits:.3f} bits/sequence")
    if args.weightings_plot:
        length = args.test_lengths[0] if args.test_lengths else None
        path = sequence_training.write_weightings_plot(
            result.model, spec, args.weightings_plot, length=length,
            task_params=task_params)
        print(f"read and write weightings written to {path}")
    if args.save:
        os.makedirs(os.path.dirname(os.path.abspath(args.save)), exist_ok=True)
        result.model.save(args.save)
        print(f"saved {args.save}")
    return 0


KERASTUNER_ENV = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP",
                  "KERASTUNER_ORACLE_PORT")
"""The environment variables of KerasTuner's distributed mode."""


def _kerastuner_role():
    """None, ``"chief"`` or ``"worker"``: KerasTuner's distributed tuning
    is configured by its documented environment variables
    (:data:`KERASTUNER_ENV`; KERASTUNER_ORACLE_IP turns it on, and the
    chief's KERASTUNER_TUNER_ID is ``chief``)."""
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return None
    missing = [name for name in KERASTUNER_ENV if not os.environ.get(name)]
    if missing:
        raise SystemExit(
            f"keras-seqmem: KERASTUNER_ORACLE_IP is set, so distributed "
            f"tuning also expected {' and '.join(missing)}")
    return ("chief" if "chief" in os.environ["KERASTUNER_TUNER_ID"]
            else "worker")


def _tune(args):
    import json

    from keras_seqmem import tuning  # says which extra if KerasTuner is not

    role = _kerastuner_role()

    task_params = dict(args.param or [])
    if args.length is not None:
        task_params["length"] = args.length
    fixed = dict(args.fix or [])
    try:
        if args.family == "memory":
            from keras_seqmem.tasks import babi

            if args.task != "babi":
                raise ValueError("the memory family is tuned on bAbI: give "
                                 "--task babi (and --data-dir)")
            data_dir = args.data_dir or babi.default_data_dir()
            if data_dir is None:
                raise ValueError(
                    "--data-dir expected the bAbI folder holding en/ "
                    "(tasks_1-20_v1-2), or set KERAS_SEQMEM_BABI_DIR")
            hypermodel = tuning.MemoryHyperModel(
                data_dir=data_dir, tasks=args.babi_tasks,
                memory_size=args.memory_size, fixed=fixed)
            data = hypermodel.make_data(args.train_size, args.test_size,
                                        batch_size=32, seed=args.seed)
            baseline = None
        else:
            hypermodel = tuning.get_hypermodel(
                args.family, args.task, fixed=fixed, task_params=task_params,
                embedding_dim=args.embedding_dim)
            data = hypermodel.make_data(args.train_size or 10000,
                                        args.test_size or 2000,
                                        batch_size=args.batch_size,
                                        seed=args.seed)
            baseline = hypermodel.spec.baseline
        project = (args.project_name
                   or f"{args.task}_{args.family}_{args.tuner}")
        tuner = tuning.make_tuner(
            args.tuner, hypermodel, objective=args.objective,
            max_trials=args.max_trials, max_epochs=args.epochs,
            directory=args.directory, project_name=project,
            overwrite=args.overwrite, seed=args.seed)
    except ValueError as error:
        raise SystemExit(f"keras-seqmem: {error}")
    worker = role == "worker"
    print(
        f"keras-seqmem: tuning the {args.family} family on {args.task} "
        f"{task_params or ''} with {args.tuner} search ("
        + (f"Hyperband, at most {args.epochs} epochs a trial"
           if args.tuner == "hyperband" else
           f"{args.max_trials} trials of {args.epochs} epochs")
        + f"), objective {args.objective}, fixed {fixed or 'nothing'}; "
        f"trials in {os.path.join(args.directory, project)}"
        + (f", as tuner {os.environ['KERASTUNER_TUNER_ID']}"
           if role else ""), flush=True)
    tuner.search_space_summary()
    # The datasets are shuffled (with the seed) by make_data already.
    tuner.search(data.train, validation_data=data.validation,
                 epochs=args.epochs, shuffle=False,
                 verbose=1 if sys.stdout.isatty() else 2)
    if worker:  # the chief holds the results
        print(f"keras-seqmem: tuner {tuner.tuner_id} finished its trials",
              flush=True)
        return 0
    tuner.results_summary(num_trials=args.summary_trials)
    best = tuner.oracle.get_best_trials(1)
    if not best or best[0].status != "COMPLETED":
        raise SystemExit("keras-seqmem: no trial completed; see the "
                         "messages above")
    best = best[0]
    model = tuner.load_model(best)
    metric, value = hypermodel.evaluate(model, data.test)
    completed = sum(t.status == "COMPLETED"
                    for t in tuner.oracle.trials.values())
    chance = "" if baseline is None else f" (chance baseline {baseline:.4f})"
    values = {k: v for k, v in best.hyperparameters.values.items()
              if not k.startswith("tuner/")}
    print(
        f"\nRESULT task={args.task} family={args.family} tuner={args.tuner} "
        f"trials={completed} best_trial={best.trial_id} "
        f"{args.objective}={best.score:.4f} test_{metric}={value:.4f}"
        f"{chance} hyperparameters={json.dumps(values, sort_keys=True)}",
        flush=True)
    if args.export:
        path = args.export
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        if path.endswith(".keras"):
            model.save(path)
        else:
            model.export(path)
        print(f"exported the best model to {path}", flush=True)
    return 0


def _export(args):
    import keras

    import keras_seqmem  # noqa: F401  (registers the layers for loading)
    from keras_seqmem.serving import describe_serving_signature
    from keras_seqmem.serving import export_saved_model
    from keras_seqmem.serving import nonstandard_ops
    from keras_seqmem.serving import saved_model_op_types

    model = keras.saving.load_model(args.model, compile=False)
    export_saved_model(model, args.out_dir)
    print(f"exported {args.model} to {args.out_dir} (SavedModel)")
    lines, dynamic = describe_serving_signature(args.out_dir)
    print("\n".join(lines))
    if not dynamic:
        print("note: an input of serving_default has a static batch or time "
              "axis")
    bad = nonstandard_ops(args.out_dir)
    if bad:
        raise SystemExit(f"keras-seqmem: the SavedModel holds ops that a "
                         f"plain TensorFlow server cannot run: {bad}")
    ops, _ = saved_model_op_types(args.out_dir)
    print(f"ops: {len(ops)} op types, all standard TensorFlow ops (no "
          f"Python functions, no cuDNN kernels)", flush=True)
    return 0


def _parse_babi_tasks(text):
    from keras_seqmem.tasks.babi import parse_tasks

    return parse_tasks(text)


def _tasks(args):
    from keras_seqmem.tasks import TASKS

    for name, spec in TASKS.items():
        print(f"{name:18s} {spec.kind:14s} {spec.metric_name:8s} "
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
    train.add_argument("--checkpoint-dir", default=None, metavar="DIR",
                       help="back up the training state here after every "
                       "epoch (keras.callbacks.BackupAndRestore); the same "
                       "command resumes an interrupted run where it stopped")
    train.add_argument("--tensorboard", default=None, metavar="DIR",
                       help="write TensorBoard logs here")
    train.add_argument("--early-stopping", type=int, default=None,
                       metavar="PATIENCE",
                       help="stop after PATIENCE epochs without a lower "
                       "val_loss and keep the best epoch's weights")
    train.set_defaults(func=_train)

    babi = sub.add_parser(
        "babi", help="train a memory network on bAbI tasks",
        description="Train an end-to-end memory network on bAbI tasks (the "
        "recipe of Sukhbaatar et al. 2015: SGD, linear start, random noise, "
        "best restart on a 10%% validation split) and print the test error "
        "per task.",
    )
    babi.add_argument("--data-dir", default=None,
                      help="the bAbI folder holding en/ (tasks_1-20_v1-2); "
                      "default $KERAS_SEQMEM_BABI_DIR")
    babi.add_argument("--tasks", type=_parse_babi_tasks, default=[1],
                      help="tasks trained together, e.g. 1, 1-20, 2,3 "
                      "(default 1)")
    babi.add_argument("--model", default="memn2n",
                      choices=["memn2n", "kv_memn2n"])
    babi.add_argument("--hops", type=int, default=3)
    babi.add_argument("--embedding-dim", type=int, default=20)
    babi.add_argument("--memory-size", type=int, default=50)
    babi.add_argument("--weight-tying", default="adjacent",
                      choices=["adjacent", "layerwise"])
    babi.add_argument("--encoding", default="position",
                      choices=["position", "bow"])
    babi.add_argument("--no-temporal-encoding", action="store_true")
    babi.add_argument("--random-noise", type=float, default=0.1)
    babi.add_argument("--empty-slots", default="attend",
                      choices=["attend", "masked"],
                      help="attend: the slots a story leaves empty take part "
                      "in the memory softmax, as the reference code "
                      "(default); masked: softmax over the sentences only")
    babi.add_argument("--no-linear-start", action="store_true")
    babi.add_argument("--linear-start-epochs", type=int, default=40,
                      help="epochs without the memory softmax, at learning "
                      "rate 0.01 (default 40)")
    babi.add_argument("--learning-rate", type=float, default=0.01,
                      help="SGD learning rate after linear start (0.01)")
    babi.add_argument("--epochs", type=int, default=100,
                      help="epochs after linear start (default 100)")
    babi.add_argument("--decay-every", type=int, default=25)
    babi.add_argument("--batch-size", type=int, default=32)
    babi.add_argument("--restarts", type=int, default=1,
                      help="keep the best of this many (validation)")
    babi.add_argument("--seed", type=int, default=0)
    babi.add_argument("--no-jit", action="store_true")
    babi.add_argument("--attention-plot", default=None, metavar="PNG",
                      help="write the hop attention for the first test "
                      "question to this PNG file")
    babi.add_argument("--save", default=None,
                      help="write the trained model to this .keras file")
    babi.set_defaults(func=_babi)

    ntm = sub.add_parser(
        "ntm", help="train an NTM (or an LSTM) on copy, repeat copy or "
        "associative recall",
        description="Train a Neural Turing Machine, or the LSTM baseline, on "
        "fresh sequences of an algorithmic task until the held-out error is "
        "below --target-bits bits per sequence, printing progress; resumable "
        "with --checkpoint-dir.",
    )
    ntm.add_argument("--task", default="copy",
                     choices=["copy", "repeat_copy", "associative_recall"])
    ntm.add_argument("--model", default="ntm", choices=["ntm", "lstm"])
    ntm.add_argument("--units", type=int, default=100,
                     help="controller (or LSTM) units (default 100)")
    ntm.add_argument("--memory-size", type=int, default=128)
    ntm.add_argument("--word-size", type=int, default=20)
    ntm.add_argument("--shift-range", type=int, default=1)
    ntm.add_argument("--steps", type=int, default=40000,
                     help="most training steps (default 40000)")
    ntm.add_argument("--batch-size", type=int, default=8)
    ntm.add_argument("--eval-every", type=int, default=500)
    ntm.add_argument("--target-bits", type=float, default=0.1)
    ntm.add_argument("--optimizer", default="adam",
                     choices=["adam", "rmsprop"])
    ntm.add_argument("--learning-rate", type=float, default=None,
                     help="default 1e-3 (adam) or 1e-4 (rmsprop)")
    ntm.add_argument("--seed", type=int, default=0)
    ntm.add_argument("--param", type=_parse_param, action="append",
                     metavar="KEY=VALUE",
                     help="task parameter, e.g. max_length=10")
    ntm.add_argument("--test-lengths", type=int, nargs="+", default=None,
                     help="also score episodes of these lengths (copy: "
                     "vectors, associative recall: items)")
    ntm.add_argument("--checkpoint-dir", default=None,
                     help="keep the model and progress here; resume from it")
    ntm.add_argument("--no-jit", action="store_true")
    ntm.add_argument("--weightings-plot", default=None, metavar="PNG",
                     help="write the read and write weightings on one "
                     "held-out episode to this PNG file")
    ntm.add_argument("--save", default=None,
                     help="write the trained model to this .keras file")
    ntm.set_defaults(func=_ntm)

    tune = sub.add_parser(
        "tune", help="search hyperparameters with KerasTuner",
        description="Run a KerasTuner search (random, Bayesian or "
        "Hyperband) over a family's search space (keras_seqmem.tuning) on a "
        "task, print the results summary, score the best model on a "
        "held-out test set and export it. Resumes an existing project "
        "unless --overwrite. With KERASTUNER_TUNER_ID, KERASTUNER_ORACLE_IP "
        "and KERASTUNER_ORACLE_PORT set it runs as KerasTuner's chief or "
        "as a worker.",
    )
    tune.add_argument("--task", default="adding",
                      help="a task of `keras-seqmem tasks` (`babi` for the "
                      "memory family; default adding)")
    tune.add_argument("--family", default="recurrent",
                      choices=["recurrent", "attention", "memory", "ntm",
                               "act"],
                      help="the search space (default recurrent)")
    tune.add_argument("--tuner", default="random",
                      choices=["random", "bayesian", "hyperband"])
    tune.add_argument("--max-trials", type=int, default=10,
                      help="trials of random and Bayesian search "
                      "(Hyperband sets its own from --epochs)")
    tune.add_argument("--epochs", type=int, default=5,
                      help="epochs a trial (Hyperband: the most a trial)")
    tune.add_argument("--objective", default="val_loss",
                      help="what is optimised (default val_loss)")
    tune.add_argument("--directory", default="runs/tuning",
                      help="where the trials are recorded")
    tune.add_argument("--project-name", default=None,
                      help="default TASK_FAMILY_TUNER")
    tune.add_argument("--overwrite", action="store_true",
                      help="start afresh instead of resuming the project")
    tune.add_argument("--fix", type=_parse_param, action="append",
                      metavar="NAME=VALUE",
                      help="pin a hyperparameter of the space, e.g. "
                      "units=64 or cell=leaky_rnn")
    tune.add_argument("--length", type=int, default=None,
                      help="sequence length (the task's default otherwise)")
    tune.add_argument("--param", type=_parse_param, action="append",
                      metavar="KEY=VALUE",
                      help="extra task parameter, e.g. min_length=20")
    tune.add_argument("--train-size", type=int, default=None,
                      help="training examples (default 10000; bAbI: all)")
    tune.add_argument("--test-size", type=int, default=None,
                      help="held-out test examples (default 2000; bAbI: "
                      "all)")
    tune.add_argument("--batch-size", type=int, default=64)
    tune.add_argument("--embedding-dim", type=int, default=16,
                      help="embedding size for token tasks (default 16)")
    tune.add_argument("--data-dir", default=None,
                      help="memory family: the bAbI folder holding en/")
    tune.add_argument("--babi-tasks", type=_parse_babi_tasks, default=[1],
                      help="memory family: bAbI tasks, e.g. 1 or 1-20")
    tune.add_argument("--memory-size", type=int, default=50,
                      help="memory family: sentences in memory (50)")
    tune.add_argument("--seed", type=int, default=0)
    tune.add_argument("--summary-trials", type=int, default=10,
                      help="trials shown by the results summary (10)")
    tune.add_argument("--export", default=None, metavar="PATH",
                      help="save the best model: a .keras file, or a "
                      "SavedModel folder (model.export) for other paths")
    tune.set_defaults(func=_tune)

    tasks = sub.add_parser("tasks", help="list the generated tasks")
    tasks.set_defaults(func=_tasks)

    export = sub.add_parser(
        "export", help="export a .keras model as a SavedModel for serving",
        description="Load a model saved by `keras-seqmem train --save` (or "
        "any .keras file of keras_seqmem layers) and write a SavedModel "
        "(model.export) whose serving_default signature takes any batch "
        "size and sequence length; print the signature and check that the "
        "graph holds only standard TensorFlow ops.",
    )
    export.add_argument("model", metavar="MODEL.keras")
    export.add_argument("out_dir", metavar="OUT_DIR")
    export.set_defaults(func=_export)
    return parser


def main(argv=None):
    """Runs the command; returns its exit status (2, with a one-line
    message, when a feature needs an extra that is not installed)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except MissingExtraError as error:
        print(f"keras-seqmem: {error}", file=sys.stderr, flush=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
