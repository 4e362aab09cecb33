"""The commands of `keras-seqmem`.

    keras-seqmem train --task adding --model peephole_lstm --length 100
    keras-seqmem train --task dates --model lstm --alignment-plot dates.png
    keras-seqmem babi --data-dir tasks_1-20_v1-2 --tasks 1 --attention-plot hops.png
    keras-seqmem ntm --task copy --steps 40000 --checkpoint-dir runs/copy
    keras-seqmem tune --task adding --family recurrent --tuner bayesian --export best.keras
    keras-seqmem tasks
    keras-seqmem export runs/adding.keras runs/adding_savedmodel

The arguments are parsed by the launcher, `keras_seqmem_cli` (standard
library only, so that `--help` and argument errors need no Keras); this
module runs the parsed command (:func:`run`). `main` and `build_parser` are
the launcher's, re-exported here.

User errors are one line and exit status 2: a command raises
:class:`UsageError` (a `SystemExit`) naming the flag and the fix, which
`main` prints on stderr.
"""

import os
import sys

from keras_seqmem._extras import MissingExtraError
from keras_seqmem._extras import require
from keras_seqmem_cli import UsageError
from keras_seqmem_cli import build_parser  # noqa: F401  (re-exported)
from keras_seqmem_cli import main  # noqa: F401  (re-exported)

# The task kinds that `train` does not train, and the command that does.
OTHER_COMMANDS = {"sequence": "ntm"}


def _one_line(error):
    """An exception's message on one line (Keras's can span several)."""
    return " ".join(str(error).split())


def _get_task(name, command="train"):
    """The TaskSpec of `--task NAME`, or a usage error listing the tasks."""
    from keras_seqmem.tasks import TASKS

    if name not in TASKS:
        raise UsageError(
            f"keras-seqmem {command}: unknown task {name!r} for --task; "
            f"`keras-seqmem tasks` lists them: {', '.join(TASKS)}")
    return TASKS[name]


def _check_task_params(spec, task_params, command="train"):
    """Generates one example with `task_params`: a parameter the task does
    not take, or a value it rejects, is a usage error naming --param."""
    if not task_params:
        return
    try:
        spec.generate(1, seed=0, **task_params)
    except (TypeError, ValueError) as error:
        flags = "--param" + ("/--length" if "length" in task_params else "")
        raise UsageError(
            f"keras-seqmem {command}: {flags} {task_params} rejected by task "
            f"{spec.name!r} (its parameters and defaults: "
            f"{dict(spec.defaults)}): {_one_line(error)}") from None


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


def _check_model_args(training, spec, args, layer_kwargs, model_kwargs,
                      task_params):
    """Builds the model once with the --layer-arg and --model-arg values
    given: an argument the layer (or Seq2Seq) does not take, or a value it
    rejects, is a usage error naming the flag."""
    seq2seq = spec.kind == "seq2seq"
    if model_kwargs and not seq2seq:
        raise UsageError(
            f"keras-seqmem train: --model-arg is for the seq2seq tasks "
            f"(Seq2Seq arguments); task {spec.name!r} is {spec.kind}: "
            f"give its layer's arguments with --layer-arg")
    for flag, given, kwargs in (("--layer-arg", layer_kwargs, None),
                                ("--model-arg", model_kwargs, model_kwargs)):
        if not given:
            continue
        try:
            if seq2seq:
                training.build_seq2seq_model(
                    spec, args.model, args.units, args.embedding_dim,
                    layer_kwargs, kwargs, **task_params).build()
            else:
                training.build_task_model(
                    spec, args.model, args.units, args.embedding_dim,
                    layer_kwargs=layer_kwargs, **task_params)
        except (TypeError, ValueError) as error:
            what = ("Seq2Seq" if flag == "--model-arg" else
                    f"the {args.model} cell" if seq2seq else args.model)
            raise UsageError(
                f"keras-seqmem train: {flag} {given} rejected by {what}: "
                f"{_one_line(error)}") from None


def _train(args):
    from keras_seqmem import training

    spec = _get_task(args.task)
    if spec.kind in OTHER_COMMANDS:
        command = OTHER_COMMANDS[spec.kind]
        raise UsageError(
            f"keras-seqmem train: {spec.name!r} is an NTM task (kind "
            f"{spec.kind!r}); train it with `keras-seqmem {command} --task "
            f"{spec.name}`")
    task_params = dict(args.param or [])
    if args.length is not None:
        task_params["length"] = args.length
    layer_kwargs = dict(args.layer_arg or [])
    model_kwargs = dict(args.model_arg or [])
    seq2seq = spec.kind == "seq2seq"
    if args.alignment_plot and not seq2seq:
        raise UsageError(
            f"keras-seqmem train: --alignment-plot expected a seq2seq task "
            f"(dates, reversal), got {spec.name!r} ({spec.kind})")
    if args.beam_width > 1 and not seq2seq:
        raise UsageError(
            f"keras-seqmem train: --beam-width is for the seq2seq tasks "
            f"(dates, reversal), got {spec.name!r} ({spec.kind})")
    if args.alignment_plot and model_kwargs.get("use_attention") is False:
        raise UsageError(
            "keras-seqmem train: --alignment-plot expected a model with "
            "attention, got --model-arg use_attention=False")
    if args.alignment_plot:
        require("--alignment-plot", ["matplotlib"])
    callbacks = _train_callbacks(args)
    _check_task_params(spec, task_params)
    _check_model_args(training, spec, args, layer_kwargs, model_kwargs,
                      task_params)
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
        beam_width=args.beam_width, callbacks=callbacks,
        **task_params,
    )
    better = ("lower" if result.metric_name in training.LOWER_IS_BETTER
              else "higher")
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
        raise UsageError(
            "keras-seqmem babi: --data-dir expected the bAbI folder holding "
            "en/ (tasks_1-20_v1-2), or set KERAS_SEQMEM_BABI_DIR")
    if args.attention_plot:
        require("--attention-plot", ["matplotlib"])
    tasks = list(args.tasks)
    # Only the files of the tasks asked for are read; a missing folder or
    # file is one line naming it, before anything is trained.
    try:
        for task in tasks:
            for split in ("train", "test"):
                babi.find_task_file(data_dir, task, split)
        vocabulary = babi.build_vocabulary(data_dir, tasks)
    except (FileNotFoundError, ValueError) as error:
        raise UsageError(f"keras-seqmem babi: {error}") from None
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
        raise UsageError(
            "keras-seqmem ntm: --weightings-plot needs --model ntm")
    if args.weightings_plot:
        require("--weightings-plot", ["matplotlib"])
    _check_task_params(spec, task_params, command="ntm")
    if args.test_lengths:
        for length in args.test_lengths:
            try:
                spec.generate(1, seed=0, **{
                    **task_params,
                    **sequence_training.length_params(spec, length)})
            except (TypeError, ValueError) as error:
                raise UsageError(f"keras-seqmem ntm: --test-lengths "
                                 f"{length}: {_one_line(error)}") from None
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
        raise UsageError(
            f"keras-seqmem tune: KERASTUNER_ORACLE_IP is set, so distributed "
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
    except (FileNotFoundError, TypeError, ValueError) as error:
        raise UsageError(f"keras-seqmem tune: {_one_line(error)}") from None
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
        raise UsageError("keras-seqmem: no trial completed; see the "
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
    import zipfile

    import keras

    import keras_seqmem  # noqa: F401  (registers the layers for loading)
    from keras_seqmem.serving import describe_serving_signature
    from keras_seqmem.serving import export_saved_model
    from keras_seqmem.serving import nonstandard_ops
    from keras_seqmem.serving import saved_model_op_types

    if not os.path.isfile(args.model):
        raise UsageError(
            f"keras-seqmem export: no file {args.model!r} (MODEL.keras: a "
            f"model saved by `keras-seqmem train --save` or model.save)")
    try:
        model = keras.saving.load_model(args.model, compile=False)
    except (OSError, TypeError, ValueError, zipfile.BadZipFile) as error:
        raise UsageError(
            f"keras-seqmem export: {args.model!r} is not a loadable .keras "
            f"model: {_one_line(error)}") from None
    export_saved_model(model, args.out_dir)
    print(f"exported {args.model} to {args.out_dir} (SavedModel)")
    lines, dynamic = describe_serving_signature(args.out_dir)
    print("\n".join(lines))
    if not dynamic:
        print("note: an input of serving_default has a static batch or time "
              "axis")
    bad = nonstandard_ops(args.out_dir)
    if bad:
        raise UsageError(f"keras-seqmem export: the SavedModel holds ops that a "
                         f"plain TensorFlow server cannot run: {bad}")
    ops, _ = saved_model_op_types(args.out_dir)
    print(f"ops: {len(ops)} op types, all standard TensorFlow ops (no "
          f"Python functions, no cuDNN kernels)", flush=True)
    return 0


def _tasks(args):
    from keras_seqmem.tasks import TASKS

    for name, spec in TASKS.items():
        command = OTHER_COMMANDS.get(spec.kind, "train")
        print(f"{name:18s} {spec.kind:16s} {spec.metric_name:17s} "
              f"baseline={spec.baseline:<8.4f} keras-seqmem {command:5s} "
              f"params={dict(spec.defaults)}")
    return 0


COMMANDS = {
    "train": _train,
    "babi": _babi,
    "ntm": _ntm,
    "tune": _tune,
    "tasks": _tasks,
    "export": _export,
}


def run(args):
    """Runs a parsed command (`keras_seqmem_cli.build_parser().parse_args`)
    and returns its exit status: 2, after printing the one line naming the
    `pip install`, when a feature needs an extra that is not installed. A
    user error raises :class:`UsageError`."""
    try:
        return COMMANDS[args.command](args)
    except MissingExtraError as error:
        print(f"keras-seqmem: {error}", file=sys.stderr, flush=True)
        return 2
