"""The launcher of the `keras-seqmem` command: arguments first, Keras later.

The console script points here, outside the `keras_seqmem` package, because
importing anything inside it runs `keras_seqmem/__init__.py`, which imports
Keras and its backend (TensorFlow: seconds to tens of seconds). This module
imports only the standard library, so `keras-seqmem --help`, each
subcommand's `--help` and every argument error answer at once; the command
itself (`keras_seqmem.cli`) is imported only once the arguments are known.

Before that import it quiets TensorFlow's start-up log: see
:func:`quiet_tensorflow`.

User errors (a bad argument, a missing file or folder, an unknown name) are
one line on stderr and exit status 2 (:class:`UsageError`), never a
traceback.
"""

import argparse
import ast
import contextlib
import os
import re
import sys
import tempfile

__all__ = ["UsageError", "build_parser", "main", "parse_babi_tasks",
           "quiet_tensorflow"]

PROG = "keras-seqmem"

# The recurrent layers of `train --model`: the keys of
# keras_seqmem.training.RECURRENT_LAYERS (and of Seq2Seq's cells), written
# out so that parsing imports no Keras; tests/test_cli.py checks they agree.
MODELS = ("coupled_lstm", "gru", "leaky_rnn", "lstm", "peephole_lstm",
          "simple_rnn")
BABI_TASKS = range(1, 21)


class UsageError(SystemExit):
    """A user error of the command line: its message is one line, and the
    process exits with status 2 (`main` prints the line on stderr first)."""

    def __init__(self, message):
        super().__init__(" ".join(str(message).split()))
        self.code = 2


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage block)."""

    def error(self, message):
        raise UsageError(f"{self.prog}: {message} (see `{self.prog} "
                         f"--help`)")


# --- argument types (standard library only) --------------------------------


def _parse_param(text):
    """`key=value` -> (key, python value); values are literals or strings."""
    if "=" not in text or not text.split("=", 1)[0].strip():
        raise argparse.ArgumentTypeError(
            f"expected KEY=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    try:
        value = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        pass
    return key.strip(), value


def parse_babi_tasks(text):
    """A bAbI task list as `1`, `1-20`, `2,3` or `1-3,7` -> task numbers
    (as keras_seqmem.tasks.babi.parse_tasks), each in 1..20, no repeats."""
    tasks = []
    for part in text.split(","):
        lo, dash, hi = part.strip().partition("-")
        try:
            first, last = int(lo), int(hi if dash else lo)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected bAbI task numbers such as 1, 1-20 or 2,3, got "
                f"{text!r}") from None
        if first > last:
            raise argparse.ArgumentTypeError(
                f"the range {part.strip()!r} is empty (write low-high)")
        tasks.extend(range(first, last + 1))
    bad = [t for t in tasks if t not in BABI_TASKS]
    if bad:
        raise argparse.ArgumentTypeError(
            f"bAbI tasks are numbered 1 to 20, got {bad[0]} (in {text!r})")
    if len(set(tasks)) != len(tasks):
        raise argparse.ArgumentTypeError(
            f"a bAbI task is repeated in {text!r}")
    return tasks


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer, got {value}")
    return value


def _add(parser, *flags, help, **kwargs):
    """`add_argument` whose help ends with the default, unless the help
    already names it or the flag is a switch (off unless given)."""
    if "default" not in help and kwargs.get("action") != "store_true":
        help += " (default: %(default)s)"
    parser.add_argument(*flags, help=help, **kwargs)


# --- the parser -------------------------------------------------------------


def _train_parser(sub):
    train = sub.add_parser(
        "train", help="train a model on a generated task",
        description="Train a recurrent model on a generated task (any task "
        "of `keras-seqmem tasks` but the NTM tasks, which `keras-seqmem "
        "ntm` trains) and print its test metric next to the chance "
        "baseline. Needs a backend (TensorFlow for the tf.data pipeline).",
    )
    _add(train, "--task", default="adding",
         help="a task of `keras-seqmem tasks`")
    _add(train, "--model", default="peephole_lstm", choices=MODELS,
         help="the recurrent layer (the cell of Seq2Seq for seq2seq tasks)")
    _add(train, "--length", type=_positive_int, default=None,
         help="sequence length (default: the task's own)")
    _add(train, "--units", type=_positive_int, default=64,
         help="units of the recurrent layer")
    _add(train, "--epochs", type=_positive_int, default=10, help="epochs")
    _add(train, "--train-size", type=_positive_int, default=10000,
         help="generated training sequences")
    _add(train, "--test-size", type=_positive_int, default=2000,
         help="generated test sequences (validation: a quarter as many)")
    _add(train, "--batch-size", type=_positive_int, default=64,
         help="batch size")
    _add(train, "--learning-rate", type=float, default=1e-3,
         help="Adam learning rate")
    _add(train, "--seed", type=int, default=0,
         help="seed of the data (train, validation and test: seed, "
         "seed+10000, seed+20000) and of the weights")
    _add(train, "--no-jit", action="store_true",
         help="do not compile with XLA")
    _add(train, "--param", type=_parse_param, action="append",
         metavar="KEY=VALUE",
         help="extra task parameter, repeatable, e.g. min_length=20 "
         "(default: the task's defaults, see `keras-seqmem tasks`)")
    _add(train, "--layer-arg", type=_parse_param, action="append",
         metavar="KEY=VALUE",
         help="extra layer argument, repeatable, a Python literal, e.g. "
         "gamma_range=(1,50) (default: none)")
    _add(train, "--model-arg", type=_parse_param, action="append",
         metavar="KEY=VALUE",
         help="seq2seq tasks: extra Seq2Seq argument, e.g. "
         "use_attention=False or attention_units=32 (default: none)")
    _add(train, "--embedding-dim", type=_positive_int, default=16,
         help="embedding size for token tasks")
    _add(train, "--beam-width", type=_positive_int, default=1,
         help="seq2seq tasks: decode the test set with a beam of this "
         "width (1: greedy)")
    _add(train, "--alignment-plot", default=None, metavar="PNG",
         help="seq2seq tasks: write the attention alignment of a held-out "
         "example to this PNG file (default: none; needs the plots extra)")
    _add(train, "--save", default=None, metavar="PATH",
         help="write the trained model to this .keras file (default: not "
         "saved)")
    _add(train, "--checkpoint-dir", default=None, metavar="DIR",
         help="back up the training state here after every epoch "
         "(keras.callbacks.BackupAndRestore); the same command resumes an "
         "interrupted run where it stopped (default: no backup)")
    _add(train, "--tensorboard", default=None, metavar="DIR",
         help="write TensorBoard logs here (default: none; needs the "
         "tensorboard extra)")
    _add(train, "--early-stopping", type=int, default=None,
         metavar="PATIENCE",
         help="stop after PATIENCE epochs without a lower val_loss and "
         "keep the best epoch's weights (default: train every epoch)")


def _babi_parser(sub):
    babi = sub.add_parser(
        "babi", help="train a memory network on bAbI tasks",
        description="Train an end-to-end memory network on bAbI tasks (the "
        "recipe of Sukhbaatar et al. 2015: SGD, linear start, random noise, "
        "best restart on a 10% validation split) and print the test error "
        "per task. Reads only the files of the tasks asked for.",
    )
    _add(babi, "--data-dir", default=None, metavar="DIR",
         help="the bAbI folder holding en/ (tasks_1-20_v1-2) (default: "
         "$KERAS_SEQMEM_BABI_DIR)")
    _add(babi, "--tasks", type=parse_babi_tasks, default=[1],
         help="tasks trained together, e.g. 1, 1-20, 2,3 (default: 1)")
    _add(babi, "--model", default="memn2n", choices=["memn2n", "kv_memn2n"],
         help="the memory network")
    _add(babi, "--hops", type=_positive_int, default=3, help="memory hops")
    _add(babi, "--embedding-dim", type=_positive_int, default=20,
         help="embedding size")
    _add(babi, "--memory-size", type=_positive_int, default=50,
         help="most recent sentences kept in memory")
    _add(babi, "--weight-tying", default="adjacent",
         choices=["adjacent", "layerwise"], help="memn2n weight tying")
    _add(babi, "--encoding", default="position", choices=["position", "bow"],
         help="sentence encoding")
    _add(babi, "--no-temporal-encoding", action="store_true",
         help="no temporal encoding of the memory slots")
    _add(babi, "--random-noise", type=float, default=0.1,
         help="fraction of empty memories inserted while training")
    _add(babi, "--empty-slots", default="attend",
         choices=["attend", "masked"],
         help="attend: the slots a story leaves empty take part in the "
         "memory softmax, as the reference code; masked: softmax over the "
         "sentences only")
    _add(babi, "--no-linear-start", action="store_true",
         help="no linear start (the memory softmax from the first epoch)")
    _add(babi, "--linear-start-epochs", type=_positive_int, default=40,
         help="epochs without the memory softmax, at learning rate 0.01")
    _add(babi, "--learning-rate", type=float, default=0.01,
         help="SGD learning rate after linear start")
    _add(babi, "--epochs", type=_positive_int, default=100,
         help="epochs after linear start")
    _add(babi, "--decay-every", type=_positive_int, default=25,
         help="halve the learning rate every this many epochs")
    _add(babi, "--batch-size", type=_positive_int, default=32,
         help="batch size")
    _add(babi, "--restarts", type=_positive_int, default=1,
         help="keep the best of this many restarts (on validation)")
    _add(babi, "--seed", type=int, default=0,
         help="seed of the first restart (restarts: seed, seed+1, ...)")
    _add(babi, "--no-jit", action="store_true",
         help="do not compile with XLA")
    _add(babi, "--attention-plot", default=None, metavar="PNG",
         help="write the hop attention for the first test question to "
         "this PNG file (default: none; needs the plots extra)")
    _add(babi, "--save", default=None, metavar="PATH",
         help="write the trained model to this .keras file (default: not "
         "saved)")


def _ntm_parser(sub):
    ntm = sub.add_parser(
        "ntm", help="train an NTM (or an LSTM) on copy, repeat copy or "
        "associative recall",
        description="Train a Neural Turing Machine, or the LSTM baseline, "
        "on fresh sequences of an algorithmic task until the held-out "
        "error is below --target-bits bits per sequence, printing "
        "progress; resumable with --checkpoint-dir.",
    )
    _add(ntm, "--task", default="copy",
         choices=["copy", "repeat_copy", "associative_recall"],
         help="the NTM task")
    _add(ntm, "--model", default="ntm", choices=["ntm", "lstm"],
         help="the model")
    _add(ntm, "--units", type=_positive_int, default=100,
         help="controller (or LSTM) units")
    _add(ntm, "--memory-size", type=_positive_int, default=128,
         help="memory slots")
    _add(ntm, "--word-size", type=_positive_int, default=20,
         help="size of a memory slot")
    _add(ntm, "--shift-range", type=int, default=1,
         help="largest shift of the location addressing")
    _add(ntm, "--steps", type=_positive_int, default=40000,
         help="most training steps")
    _add(ntm, "--batch-size", type=_positive_int, default=8,
         help="batch size")
    _add(ntm, "--eval-every", type=_positive_int, default=500,
         help="evaluate every this many steps")
    _add(ntm, "--target-bits", type=float, default=0.1,
         help="held-out bits per sequence counted as learnt")
    _add(ntm, "--optimizer", default="adam", choices=["adam", "rmsprop"],
         help="the optimizer")
    _add(ntm, "--learning-rate", type=float, default=None,
         help="learning rate (default: 1e-3 for adam, 1e-4 for rmsprop)")
    _add(ntm, "--seed", type=int, default=0, help="seed")
    _add(ntm, "--param", type=_parse_param, action="append",
         metavar="KEY=VALUE",
         help="task parameter, repeatable, e.g. max_length=10 (default: "
         "the task's defaults)")
    _add(ntm, "--test-lengths", type=_positive_int, nargs="+", default=None,
         metavar="N",
         help="also score episodes of these lengths (copy: vectors, "
         "associative recall: items) (default: none)")
    _add(ntm, "--checkpoint-dir", default=None, metavar="DIR",
         help="keep the model and progress here; resume from it (default: "
         "no checkpoints)")
    _add(ntm, "--no-jit", action="store_true",
         help="do not compile with XLA")
    _add(ntm, "--weightings-plot", default=None, metavar="PNG",
         help="write the read and write weightings on one held-out episode "
         "to this PNG file (default: none; needs the plots extra)")
    _add(ntm, "--save", default=None, metavar="PATH",
         help="write the trained model to this .keras file (default: not "
         "saved)")


def _tune_parser(sub):
    tune = sub.add_parser(
        "tune", help="search hyperparameters with KerasTuner",
        description="Run a KerasTuner search (random, Bayesian or "
        "Hyperband) over a family's search space (keras_seqmem.tuning) on "
        "a task, print the results summary, score the best model on a "
        "held-out test set and export it. Resumes an existing project "
        "unless --overwrite. With KERASTUNER_TUNER_ID, KERASTUNER_ORACLE_IP "
        "and KERASTUNER_ORACLE_PORT set it runs as KerasTuner's chief or as "
        "a worker. Needs the tune extra.",
    )
    _add(tune, "--task", default="adding",
         help="a task of `keras-seqmem tasks` (`babi` for the memory "
         "family)")
    _add(tune, "--family", default="recurrent",
         choices=["recurrent", "attention", "memory", "ntm", "act"],
         help="the search space")
    _add(tune, "--tuner", default="random",
         choices=["random", "bayesian", "hyperband"], help="the search")
    _add(tune, "--max-trials", type=_positive_int, default=10,
         help="trials of random and Bayesian search (Hyperband sets its "
         "own from --epochs)")
    _add(tune, "--epochs", type=_positive_int, default=5,
         help="epochs a trial (Hyperband: the most a trial)")
    _add(tune, "--objective", default="val_loss", help="what is optimised")
    _add(tune, "--directory", default="runs/tuning", metavar="DIR",
         help="where the trials are recorded")
    _add(tune, "--project-name", default=None,
         help="the project's folder in --directory (default: "
         "TASK_FAMILY_TUNER)")
    _add(tune, "--overwrite", action="store_true",
         help="start afresh instead of resuming the project")
    _add(tune, "--fix", type=_parse_param, action="append",
         metavar="NAME=VALUE",
         help="pin a hyperparameter of the space, repeatable, e.g. "
         "units=64 or cell=leaky_rnn (default: search them all)")
    _add(tune, "--length", type=_positive_int, default=None,
         help="sequence length (default: the task's own)")
    _add(tune, "--param", type=_parse_param, action="append",
         metavar="KEY=VALUE",
         help="extra task parameter, repeatable, e.g. min_length=20 "
         "(default: the task's defaults)")
    _add(tune, "--train-size", type=_positive_int, default=None,
         help="training examples (default: 10000; bAbI: all)")
    _add(tune, "--test-size", type=_positive_int, default=None,
         help="held-out test examples (default: 2000; bAbI: all)")
    _add(tune, "--batch-size", type=_positive_int, default=64,
         help="batch size")
    _add(tune, "--embedding-dim", type=_positive_int, default=16,
         help="embedding size for token tasks")
    _add(tune, "--data-dir", default=None, metavar="DIR",
         help="memory family: the bAbI folder holding en/ (default: "
         "$KERAS_SEQMEM_BABI_DIR)")
    _add(tune, "--babi-tasks", type=parse_babi_tasks, default=[1],
         help="memory family: bAbI tasks, e.g. 1 or 1-20 (default: 1)")
    _add(tune, "--memory-size", type=_positive_int, default=50,
         help="memory family: sentences in memory")
    _add(tune, "--seed", type=int, default=0, help="seed")
    _add(tune, "--summary-trials", type=_positive_int, default=10,
         help="trials shown by the results summary")
    _add(tune, "--export", default=None, metavar="PATH",
         help="save the best model: a .keras file, or a SavedModel folder "
         "(model.export) for other paths (default: not saved)")


def build_parser():
    """The argument parser of `keras-seqmem` (standard library only); its
    `subcommands` attribute maps each command to its parser."""
    parser = _Parser(
        prog=PROG,
        description="Recurrent and memory layers for Keras 3: train, tune "
        "and export their models. Errors: one line on stderr, exit status "
        "2.",
    )
    sub = parser.add_subparsers(dest="command", required=True,
                                metavar="COMMAND", parser_class=_Parser)
    _train_parser(sub)
    _babi_parser(sub)
    _ntm_parser(sub)
    _tune_parser(sub)
    sub.add_parser("tasks", help="list the generated tasks and the command "
                   "that trains each")
    export = sub.add_parser(
        "export", help="export a .keras model as a SavedModel for serving",
        description="Load a model saved by `keras-seqmem train --save` (or "
        "any .keras file of keras_seqmem layers) and write a SavedModel "
        "(model.export) whose serving_default signature takes any batch "
        "size and sequence length; print the signature and check that the "
        "graph holds only standard TensorFlow ops. Needs TensorFlow.",
    )
    export.add_argument("model", metavar="MODEL.keras",
                        help="the saved model")
    export.add_argument("out_dir", metavar="OUT_DIR",
                        help="the SavedModel folder to write")
    parser.subcommands = dict(sub.choices)
    return parser


# --- TensorFlow's start-up log ----------------------------------------------

# What TensorFlow >= 2.18 writes to the process's stderr while it is
# imported, whatever TF_CPP_MIN_LOG_LEVEL says: it logs through absl before
# anything calls absl::InitializeLog(), and such messages go to stderr
# unfiltered (the oneDNN notice of tensorflow/core/util/port.cc, once per
# TensorFlow library that loads, each after absl's warning).
_START_UP_NOISE = re.compile(
    rb"^(WARNING: All log messages before absl::InitializeLog\(\) is called "
    rb"are written to STDERR"
    rb"|[IW]\d{4} [0-9:. ]+\d+ port\.cc:\d+\] oneDNN custom operations are "
    rb"on\..*)$")


def _min_log_level():
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        return 0


@contextlib.contextmanager
def quiet_tensorflow():
    """Imports made inside this block do not fill stderr with TensorFlow's
    start-up log.

    TensorFlow's C++ log reads TF_CPP_MIN_LOG_LEVEL when TensorFlow is
    imported, so the level must be set before that import (setting it later
    has no effect): it is set to 2 (errors only; the INFO lines of
    cpu_feature_guard.cc, XLA's service.cc and the WARNING lines such as
    "Ignoring Assert operator") unless the caller set it. The lines that
    TensorFlow writes during its import whatever the level (absl's
    pre-initialisation warning and the oneDNN notice, see
    `_START_UP_NOISE`) are filtered out of the process's stderr (file
    descriptor 2) for the duration of the block; every other line written
    there meanwhile is written out afterwards. With TF_CPP_MIN_LOG_LEVEL=0
    set by the caller nothing is filtered.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    heavy = ("tensorflow", "keras", "jax")
    if _min_log_level() < 1 or any(m in sys.modules for m in heavy):
        yield  # asked for the log, or TensorFlow has logged already
        return
    try:
        stderr_fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        yield  # no real stderr (e.g. a redirected io.StringIO)
        return
    sys.stderr.flush()
    saved = os.dup(stderr_fd)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), stderr_fd)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, stderr_fd)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().splitlines(True)
                    if not _START_UP_NOISE.match(line.rstrip(b"\r\n"))]
            if kept:
                sys.stderr.write(b"".join(kept).decode("utf-8", "replace"))
                sys.stderr.flush()


# --- the entry point ----------------------------------------------------------


def main(argv=None):
    """Runs `keras-seqmem ARGV`; returns its exit status.

    The arguments are parsed before Keras is imported. A user error prints
    one line on stderr and raises :class:`UsageError` (a `SystemExit` with
    status 2); a feature whose extra is not installed prints the line
    naming the `pip install` and returns 2.
    """
    try:
        args = build_parser().parse_args(argv)
        with quiet_tensorflow():
            from keras_seqmem import cli
        return cli.run(args)
    except UsageError as error:
        print(error, file=sys.stderr, flush=True)
        raise


if __name__ == "__main__":
    sys.exit(main())
